"""The schedule diff: (ScheduleSpec, live schedule, resolved references) -> TaskChange. Pure.

Rules, beside the task ones (``tasksync.diff``), with the same JSON equality (``5 == 5.0``,
``true != 1``) and masking:

- Only the fields the entry mentions are compared: ``title``, ``description``,
  ``cronExpression``, ``timezone``, ``isEnabled``, ``isExclusive`` whole; ``notifications`` key by
  key (sent complete: the live object with the changes, as a task's ``options``).
- ``actions``, when mentioned, is the whole list in order. An action compares by what it runs,
  not by its ``id``: a task action by the task's ID and its ``input`` (absent is null), an Actor
  action by the Actor's ID, its input (the API's JSON text, parsed) and ``runOptions``. A task
  reference that does not resolve yet (a task this apply creates) differs from anything.
- The payload carries only changed fields, ``actions`` whole and written with the file's
  references (``apply`` resolves them to IDs once the tasks exist).
- A missing schedule is created with the entry's fields over ``CREATE_DEFAULTS``; it needs a
  ``cronExpression`` and a name (not an ID).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from tasksync.jsonutil import MISSING, json_equal, pointer_tokens, resolve
from tasksync.model import JSON, Action, ChangeKind, FieldChange, RemoteTask, TaskChange
from tasksync.schedules.model import (
    CREATE_DEFAULTS,
    RUN_TASK,
    SCHEDULE_FIELDS,
    ActionSpec,
    ScheduleSpec,
)
from tasksync.secrets import mask


@dataclass(frozen=True)
class Refs:
    """What the actions' references resolve to: task and Actor references -> IDs (a task this
    apply creates has none yet), and IDs -> the references to show."""

    tasks: Mapping[str, str] = field(default_factory=dict)
    actors: Mapping[str, str] = field(default_factory=dict)
    shown: Mapping[str, str] = field(default_factory=dict)


def payload_actions(actions: tuple[ActionSpec, ...]) -> list[dict[str, JSON]]:
    """The actions as the payload holds them: with the file's references."""
    out: list[dict[str, JSON]] = []
    for action in actions:
        if action.task is not None:
            item: dict[str, JSON] = {"type": RUN_TASK, "actorTaskId": action.task.text}
            if action.input is not None:
                item["input"] = copy.deepcopy(action.input)
        else:
            item = {"type": "RUN_ACTOR", "actorId": action.actor}
            if action.input is not None:
                item["runInput"] = copy.deepcopy(action.input)
            if action.options is not None:
                item["runOptions"] = copy.deepcopy(dict(action.options))
        out.append(item)
    return out


def _comparable(
    action: Mapping[str, JSON], refs: Refs | None, live: bool = False
) -> dict[str, JSON]:
    """An action reduced to what it runs; references resolved when ``refs`` is given; a
    ``live`` action's input read from its JSON text."""
    out: dict[str, JSON] = {"type": action.get("type")}
    if action.get("type") == RUN_TASK:
        ref = action.get("actorTaskId")
        out["task"] = refs.tasks.get(str(ref), None) if refs is not None else ref
        out["input"] = action.get("input")
    else:
        ref = action.get("actorId")
        out["actor"] = refs.actors.get(str(ref), None) if refs is not None else ref
        run_input = action.get("runInput")
        if live and type(run_input) is dict:
            # an input that is not JSON stays as it is: it differs from any file's input
            with contextlib.suppress(ValueError, TypeError):
                run_input = json.loads(run_input.get("body") or "null")
        out["input"] = run_input
        out["options"] = action.get("runOptions")
    return out


def _shown(remote: list[JSON], refs: Refs) -> list[JSON]:
    """The live actions as the file would write them (IDs shown as references when known)."""
    shown = []
    for action in remote:
        if type(action) is not dict:
            continue
        item = _comparable(action, None, live=True)
        key = "task" if item["type"] == RUN_TASK else "actor"
        item[key] = refs.shown.get(str(item[key]), item[key])
        shown.append({k: v for k, v in item.items() if v is not None and k != "type"})
    return shown


def _file_form(actions: list[dict[str, JSON]]) -> list[JSON]:
    return [
        {k: v for k, v in _comparable(a, None).items() if v is not None and k != "type"}
        for a in actions
    ]


def _masked_actions(value: list[JSON], sensitive: frozenset[str]) -> JSON:
    """``value`` masked at every action's copy of the sensitive pointers (old and new lists need
    not line up, and a live schedule holds the secrets in clear)."""
    tails = {
        "/".join(p.split("/")[3:]) for p in sensitive if p.startswith("/actions/")
    }  # "/actions/1/input/key" -> "input/key"
    tails = {t.replace("runInput", "input", 1) for t in tails}
    every = frozenset(f"/actions/{i}/{t}" for i in range(len(value)) for t in tails)
    return mask(value, "/actions", every)


def diff_schedule(spec: ScheduleSpec, remote: RemoteTask, refs: Refs) -> TaskChange:
    """Compare one schedule's desired state with its live state."""
    data = remote.data
    changes: list[FieldChange] = []
    payload: dict[str, JSON] = {}
    for name in SCHEDULE_FIELDS:
        if name not in spec.desired or name == "notifications":
            continue
        have, want = data.get(name), spec.desired[name]
        if not json_equal(have, want):
            changes.append(FieldChange(f"/{name}", ChangeKind.CHANGE, have, want))
            payload[name] = want
    if "notifications" in spec.desired:
        live = data.get("notifications") or {}
        changed = {
            k: v for k, v in spec.desired["notifications"].items() if not json_equal(live.get(k), v)
        }
        for k, v in changed.items():
            kind = ChangeKind.ADD if live.get(k) is None else ChangeKind.CHANGE
            changes.append(FieldChange(f"/notifications/{k}", kind, live.get(k), v))
        if changed:
            payload["notifications"] = {**live, **changed}
    if spec.actions is not None:
        wanted = payload_actions(spec.actions)
        live_actions = data.get("actions") or []
        same = len(wanted) == len(live_actions) and all(
            same_action(want, have, refs) for want, have in zip(wanted, live_actions, strict=True)
        )
        if not same:
            old = _masked_actions(_shown(live_actions, refs), spec.sensitive)
            new = _masked_actions(_file_form(wanted), spec.sensitive)
            changes.append(FieldChange("/actions", ChangeKind.CHANGE, old, new))
            payload["actions"] = wanted
    if not payload:
        return TaskChange(spec.key, Action.NOOP, remote.id, remote.modified_at)
    return TaskChange(
        key=spec.key,
        action=Action.UPDATE,
        task_id=remote.id,
        modified_at=remote.modified_at,
        changes=tuple(changes),
        payload=payload,
        secret_refs=_secret_refs(spec, payload),
    )


def same_action(want: dict[str, JSON], have: JSON, refs: Refs) -> bool:
    """Whether a live action runs what the file's action says (a reference that does not
    resolve yet differs from anything)."""
    if type(have) is not dict:
        return False
    mine = _comparable(want, refs)
    if mine.get("task", "") is None or mine.get("actor", "") is None:
        return False
    theirs = _comparable(have, None, live=True)
    return json_equal(_drop_none(theirs), _drop_none(mine))


def _drop_none(action: dict[str, JSON]) -> dict[str, JSON]:
    return {k: v for k, v in action.items() if v is not None}


def create_schedule(spec: ScheduleSpec) -> TaskChange:
    """The change that creates a missing schedule from its entry."""
    why = None
    if "cronExpression" not in spec.desired:
        why = "schedule not found (add `cronExpression:` to the entry to create it)"
    elif spec.ref.name is None:
        why = "schedule not found, and a schedule given by ID cannot be created: name it instead"
    if why is not None:
        return TaskChange(spec.key, Action.ERROR, error=why, error_type="record-not-found")
    payload: dict[str, JSON] = {"name": spec.ref.name, **CREATE_DEFAULTS}
    payload.update(copy.deepcopy(dict(spec.desired)))
    if spec.actions is not None:
        payload["actions"] = payload_actions(spec.actions)
    changes = [FieldChange("/name", ChangeKind.ADD, None, spec.ref.name)]
    for name, value in payload.items():
        if name == "actions":
            shown = _masked_actions(_file_form(value), spec.sensitive)
            changes.append(FieldChange("/actions", ChangeKind.ADD, None, shown))
        elif name != "name":
            changes.append(FieldChange(f"/{name}", ChangeKind.ADD, None, value))
    return TaskChange(
        key=spec.key,
        action=Action.CREATE,
        changes=tuple(changes),
        payload=payload,
        secret_refs=_secret_refs(spec, payload),
    )


def _secret_refs(spec: ScheduleSpec, payload: Mapping[str, JSON]) -> dict[str, str]:
    return {
        pointer: template
        for pointer, template in spec.env_refs.items()
        if resolve(payload, pointer_tokens(pointer)) is not MISSING
    }
