"""The Plan: every task's planned change, with counts, a safety check, and a saved form.

``make_plan`` is pure: it turns specs and what the refresh found into a Plan. ``Plan.to_json`` /
``Plan.from_json`` give the versioned saved plan that ``apply plan.json`` executes exactly. A saved
plan never holds a secret (``secrets.seal``, with a key derived from the API token): each value
that came from the environment is stored as its ``${VAR}`` template plus a keyed hash, and is
re-read from the environment when the plan is loaded (a task whose secret no longer matches is
marked stale); other sensitive values are stored encrypted. Each update keeps a keyed hash of
the managed fields it rests on (``basis``), which ``stale.check`` compares with the live task
before writing. A checksum guards against edits.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tasksync.diff import create_change, diff_task
from tasksync.errors import ApiError, NotFoundError, PlanFileError, UnsafePlanError
from tasksync.model import (
    JSON,
    Action,
    Prune,
    RemoteTask,
    RequestStats,
    Safety,
    TaskChange,
    TaskSpec,
)
from tasksync.prediction import Prediction, secrets_sent, skipped_creates, skipped_deletions
from tasksync.savedplan import checksum, entry_json, read_entries

FORMAT_VERSION = 1
SCHEDULES_FORMAT_VERSION = 2
DELETIONS_FORMAT_VERSION = 3
"""A plan with deletions is saved as version 3 (it only adds keys), for the same reason."""
"""A plan with schedules is saved as version 2, so that a tasksync that knows only tasks refuses
it instead of silently dropping its schedules. Version 2 only adds keys."""

_READS_TOKEN = re.compile(r"\$\{APIFY_TOKEN(?::-[^}]*)?\}")


@dataclass(frozen=True)
class Plan:
    """What ``apply`` would do. ``stale`` maps task keys to why they must not be applied."""

    changes: tuple[TaskChange, ...]
    source: str | None = None
    safety: Safety = field(default_factory=Safety)
    stale: Mapping[str, str] = field(default_factory=dict)
    saved: bool = False
    """Loaded from a saved plan: apply checks each task against what the plan saw."""
    requests: RequestStats = field(default_factory=RequestStats, compare=False)
    """What reading the live tasks took (not part of the saved form)."""
    schedules: tuple[TaskChange, ...] = ()
    """The schedules' planned changes (``tasksync.schedules``), applied after the tasks."""
    schedule_stale: Mapping[str, str] = field(default_factory=dict)
    api_url: str | None = None
    user_id: str | None = None
    username: str | None = None
    """Where the plan was made: a saved plan applies only there (``raise_if_elsewhere``)."""
    create_missing: bool = False
    """Planned with ``--create-missing``: applying it creates the missing tasks."""
    force: bool = False
    """Planned with ``--force``: applying it overrides the safety limit."""
    unmanaged: tuple[str, ...] | None = None
    """The account's tasks that the file does not mention (only with ``--show-unmanaged``)."""
    deletions: tuple[TaskChange, ...] = ()
    schedule_deletions: tuple[TaskChange, ...] = ()
    """The resources the file owns (``owns``) and no longer declares (``tasksync.prune``)."""
    owns: Prune | None = None
    prune: bool = False
    """Planned with ``--prune``: applying it deletes."""

    @property
    def counts(self) -> dict[str, int]:
        return _counts((*self.changes, *self.deletions), self.owns is not None)

    @property
    def schedule_counts(self) -> dict[str, int]:
        return _counts((*self.schedules, *self.schedule_deletions), self.owns is not None)

    @property
    def to_apply(self) -> list[TaskChange]:
        return [c for c in self.changes if c.action in (Action.UPDATE, Action.CREATE)]

    @property
    def has_changes(self) -> bool:
        return any(c.action in (Action.UPDATE, Action.CREATE, Action.DELETE) for c in self._all)

    @property
    def has_errors(self) -> bool:
        return any(c.action is Action.ERROR for c in self._all)

    @property
    def _all(self) -> tuple[TaskChange, ...]:
        return (*self.changes, *self.schedules, *self.deletions, *self.schedule_deletions)

    def safety_refusal(self) -> str | None:
        """Why ``apply`` refuses this plan on the safety limit (``--force`` aside), or None. The
        tasks and the schedules are each counted on their own."""
        gone, timed_gone = (self.deletions, self.schedule_deletions) if self.prune else ((), ())
        return self._share_refusal((*self.changes, *gone), "tasks") or self._share_refusal(
            (*self.schedules, *timed_gone), "schedules"
        )

    def _share_refusal(self, changes: Sequence[TaskChange], what: str) -> str | None:
        total = len(changes)
        changed = sum(c.action in (Action.UPDATE, Action.CREATE, Action.DELETE) for c in changes)
        limit = self.safety.max_changed_fraction
        if total < self.safety.min_tasks or total == 0 or changed / total <= limit:
            return None
        return (
            f"the plan changes {changed} of {total} {what} ({changed / total:.0%}), more than the "
            f"safety limit of {limit:.0%} (safety.maxChangedFraction, checked from "
            f"{self.safety.min_tasks} tasks on)"
        )

    def raise_if_unsafe(self, force: bool = False) -> None:
        """Refuse a plan that would change too large a share of the tasks, or of the schedules,
        at once."""
        reason = None if force else self.safety_refusal()
        if reason is not None:
            raise UnsafePlanError(
                f"{reason}. Review the plan; if it is intended, run again with --force or raise "
                "the limit in the file."
            )

    def prediction(self) -> Prediction:
        """What ``apply`` does with this plan, given the flags it was planned with."""
        return Prediction(
            changed=len(self.to_apply),
            total=len(self.changes),
            safety=self.safety,
            over_limit=self.safety_refusal(),
            force=self.force,
            skipped_creates=skipped_creates(self.changes, self.create_missing),
            secrets=secrets_sent(self.changes, self.create_missing),
            skipped_schedules=skipped_creates(self.schedules, self.create_missing),
            schedule_secrets=secrets_sent(self.schedules, self.create_missing),
            has_schedules=bool(self.schedules or self.schedule_deletions),
            skipped_deletions=skipped_deletions(self.deletions, self.prune),
            skipped_schedule_deletions=skipped_deletions(self.schedule_deletions, self.prune),
            owns=self.owns is not None,
        )

    def raise_if_elsewhere(self, api_url: str, user_id: str, username: str) -> None:
        """Refuse to apply a saved plan against another API or account than it was made for."""
        if self.api_url == api_url and self.user_id == user_id:
            return
        made = (
            f"{self.api_url} as {_who(self.username, self.user_id)}"
            if self.api_url and self.user_id
            else "an unknown API and account (the plan does not say)"
        )
        raise PlanFileError(
            f"this plan was made against {made}, but this run is against {api_url} as "
            f"{_who(username, user_id)}. A saved plan applies only where it was made: plan "
            "again against this API and account."
        )

    def stale_reasons(self, listing: Sequence[Mapping[str, JSON]]) -> dict[str, str]:
        """Tasks of a saved plan that moved since it was made, judged from the task list."""
        return _moved(self.to_apply, self.stale, listing, "task")

    def schedule_stale_reasons(self, listing: Sequence[Mapping[str, JSON]]) -> dict[str, str]:
        """Schedules of a saved plan that moved since it was made, from the schedule list."""
        to_apply = [c for c in self.schedules if c.action in (Action.UPDATE, Action.CREATE)]
        return _moved(to_apply, self.schedule_stale, listing, "schedule")

    # -- saved form -----------------------------------------------------------------------------

    def to_json(self, *, include_payloads: bool = True, key: bytes | None = None) -> dict[str, Any]:
        """The versioned JSON form. With payloads it is a saved plan that ``apply`` accepts;
        ``key`` (``secrets.plan_key(token)``) then seals its secrets."""
        if include_payloads and key is None:
            raise ValueError("a saved plan needs the key derived from the API token")
        salt = os.urandom(16)
        cache: dict[str, str] = {}
        tasks = [entry_json(c, include_payloads, salt, cache, key) for c in self.changes]
        doc: dict[str, Any] = {
            "formatVersion": _version(self),
            "kind": "tasksync-plan",
            "source": self.source,
            "safety": {
                "maxChangedFraction": self.safety.max_changed_fraction,
                "minTasks": self.safety.min_tasks,
            },
            "counts": self.counts,
            "createMissing": self.create_missing,
            "force": self.force,
            "apply": self.prediction().to_json(),
            "tasks": tasks,
        }
        if self.unmanaged is not None:
            doc["unmanaged"] = list(self.unmanaged)
        if self.owns is not None:
            doc["owns"], doc["prune"] = self.owns.to_json(), self.prune
        if self.schedules or self.schedule_deletions:
            doc["scheduleCounts"] = self.schedule_counts
            doc["schedules"] = [
                entry_json(c, include_payloads, salt, cache, key, id_key="scheduleId")
                for c in self.schedules
            ]
        for name, gone, id_key in _DELETIONS:
            if getattr(self, gone):
                doc[name] = [
                    entry_json(c, False, salt, cache, key, id_key) for c in getattr(self, gone)
                ]
        if include_payloads:
            doc["apiUrl"] = self.api_url
            doc["account"] = {"userId": self.user_id, "username": self.username}
            doc["salt"] = salt.hex()
            doc["checksum"] = checksum(doc)
        return doc

    @classmethod
    def from_json(cls, doc: Any, *, environ: Mapping[str, str], key: bytes) -> Plan:
        """Load a saved plan, re-reading its secrets from ``environ``; ``key`` is
        ``secrets.plan_key(token)``, with the token the plan was made with."""
        if not isinstance(doc, dict) or doc.get("kind") != "tasksync-plan":
            raise PlanFileError("this is not a tasksync plan file")
        version = doc.get("formatVersion")
        if version not in (FORMAT_VERSION, SCHEDULES_FORMAT_VERSION, DELETIONS_FORMAT_VERSION):
            raise PlanFileError(
                f"the plan has formatVersion {version!r}; this tasksync reads "
                f"{FORMAT_VERSION} to {DELETIONS_FORMAT_VERSION}"
            )
        if "checksum" not in doc or "salt" not in doc:
            raise PlanFileError("the plan has no payloads: save it with `tasksync plan --out`")
        if doc["checksum"] != checksum({k: v for k, v in doc.items() if k != "checksum"}):
            raise PlanFileError("the plan file was modified after it was saved (checksum mismatch)")
        try:
            salt = bytes.fromhex(doc["salt"])
            safety = Safety(
                max_changed_fraction=float(doc["safety"]["maxChangedFraction"]),
                min_tasks=int(doc["safety"]["minTasks"]),
            )
            cache: dict[tuple[str, str], str] = {}
            changes, stale = read_entries(doc["tasks"], salt, environ, cache, key)
            timed = doc.get("schedules", []) if version != FORMAT_VERSION else []
            schedules, schedule_stale = read_entries(timed, salt, environ, cache, key, "scheduleId")
            gone = {
                name: read_entries(doc.get(name, []), salt, environ, cache, key, id_key)[0]
                for name, _, id_key in _DELETIONS
            }
            owns = doc.get("owns")
            owned = Prune(tuple(owns["tasks"]), tuple(owns["schedules"])) if owns else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanFileError(
                f"the plan file is malformed ({type(exc).__name__}: {exc})"
            ) from exc
        found = doc.get("account")
        account: dict[str, Any] = found if isinstance(found, dict) else {}
        return cls(
            changes,
            source=doc.get("source"),
            safety=safety,
            stale=stale,
            saved=True,
            create_missing=doc.get("createMissing") is True,
            force=doc.get("force") is True,
            schedules=schedules,
            schedule_stale=schedule_stale,
            api_url=_text(doc.get("apiUrl")),
            user_id=_text(account.get("userId")),
            username=_text(account.get("username")),
            deletions=gone["deletions"],
            schedule_deletions=gone["scheduleDeletions"],
            owns=owned,
            prune=doc.get("prune") is True,
        )


_DELETIONS = (
    ("deletions", "deletions", "taskId"),
    ("scheduleDeletions", "schedule_deletions", "scheduleId"),
)
"""The saved form's deletions: (JSON key, Plan field, the key of their IDs)."""


def _version(plan: Plan) -> int:
    if plan.deletions or plan.schedule_deletions:
        return DELETIONS_FORMAT_VERSION
    return SCHEDULES_FORMAT_VERSION if plan.schedules else FORMAT_VERSION


def _counts(changes: Sequence[TaskChange], deletes: bool) -> dict[str, int]:
    """How many changes of each action; ``delete`` only when the file owns resources."""
    found = Counter(c.action.value for c in changes)
    return {a.value: found.get(a.value, 0) for a in Action if deletes or a is not Action.DELETE}


def _moved(
    to_apply: Sequence[TaskChange],
    known: Mapping[str, str],
    listing: Sequence[Mapping[str, JSON]],
    what: str,
) -> dict[str, str]:
    """Why each change of a saved plan must not be applied: its resource moved since."""
    by_id = {str(item.get("id")): item for item in listing}
    names = {str(item.get("name")) for item in listing}
    reasons = dict(known)
    for change in to_apply:
        if change.key in reasons:
            continue
        if change.action is Action.UPDATE:
            item = by_id.get(str(change.task_id))
            if item is None:
                reasons[change.key] = f"the {what} no longer exists"
            elif item.get("modifiedAt") != change.modified_at:
                reasons[change.key] = (
                    f"the {what} was modified at {item.get('modifiedAt')}, after the plan was "
                    f"made (it was {change.modified_at})"
                )
        elif change.action is Action.CREATE and change.payload.get("name") in names:
            reasons[change.key] = f"a {what} of that name was created since the plan was made"
    return reasons


def plan_task(
    spec: TaskSpec,
    remote: RemoteTask | ApiError,
    *,
    rotate_secrets: bool = False,
    owner: str | None = None,
) -> TaskChange:
    """One task's change, from what the refresh found for it (a task, or the error it got);
    ``owner`` is the token owner's username, where a missing task would be created."""
    refs = spec.env_refs
    leak = next((p for p, t in refs.items() if _READS_TOKEN.search(t)), None) if refs else None
    if leak is not None:
        return TaskChange(
            key=spec.key,
            action=Action.ERROR,
            task_id=remote.id if isinstance(remote, RemoteTask) else None,
            error=(
                f"{leak} reads APIFY_TOKEN, tasksync's own API token: it is never sent into a "
                "task (give the Actor a token of its own through another variable)"
            ),
            error_type="token-in-input",
        )
    if isinstance(remote, NotFoundError):
        return create_change(spec, owner)
    if isinstance(remote, ApiError):
        return TaskChange(
            key=spec.key, action=Action.ERROR, error=str(remote), error_type=remote.kind
        )
    return diff_task(spec, remote, rotate_secrets=rotate_secrets)


def make_plan(
    specs: Sequence[TaskSpec],
    remotes: Sequence[RemoteTask | ApiError],
    *,
    source: str | None = None,
    safety: Safety | None = None,
    rotate_secrets: bool = False,
    changes: Sequence[TaskChange] | None = None,
    owner: str | None = None,
) -> Plan:
    """Diff every spec against what the refresh found for it.

    ``changes`` are the ``plan_task`` results when the caller already has them (the refresh
    diffs each task as soon as it arrives, while the other requests are in flight); what is left
    here is what needs every task at once: entries that resolve to the same task are errors,
    whether the task exists (the same ID) or not (the same owner and name; ``~name`` is the
    token ``owner``'s).
    """
    if changes is None:
        changes = [
            plan_task(spec, remote, rotate_secrets=rotate_secrets, owner=owner)
            for spec, remote in zip(specs, remotes, strict=True)
        ]
    keys_by_id: dict[str, list[str]] = {}
    for spec, remote in zip(specs, remotes, strict=True):
        if isinstance(remote, RemoteTask):
            same = remote.id
        elif spec.ref.name is not None and (spec.ref.username or owner):
            same = f"{spec.ref.username or owner}~{spec.ref.name}"
        else:
            continue
        keys_by_id.setdefault(same, []).append(spec.key)
    duplicates = {key: id_ for id_, keys in keys_by_id.items() if len(keys) > 1 for key in keys}
    if duplicates:
        changes = [
            _duplicate(c, duplicates, keys_by_id) if c.key in duplicates else c for c in changes
        ]
    return Plan(tuple(changes), source=source, safety=safety or Safety())


def _duplicate(
    change: TaskChange, duplicates: dict[str, str], keys_by_id: dict[str, list[str]]
) -> TaskChange:
    task_id = duplicates[change.key]
    others = ", ".join(k for k in keys_by_id[task_id] if k != change.key)
    return TaskChange(
        key=change.key,
        action=Action.ERROR,
        task_id=task_id if "~" not in task_id else None,
        error=f"resolves to the same task ({task_id}) as {others}",
        error_type="duplicate-entry",
    )


def _who(username: str | None, user_id: str | None) -> str:
    return f"{username or '(no username)'} (user ID {user_id})"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
