"""The file's ``schedules:`` list -> ``ScheduleSpec``s, with what the JSON Schema cannot check.

The schema (``$defs/schedule``) checks keys and types. Here: the cron expression (syntax and
ranges, ``tasksync.cron``), the time zone (``zoneinfo``), each action being either ``task:`` or
``actor:`` (``options`` only for an Actor), at most 10 task and 10 Actor actions, duplicate
entries for one schedule, and ``${VAR}`` in ``title``, ``description`` and the actions' ``input``
and ``options`` (a value read from the environment is sensitive, as for tasks). A ``task:``
reference resolves within the file or must look like a reference, which the schema checks.

``build`` returns the specs, the issues (paths such as ``schedules[2].cronExpression``, placed
on their line by the loader) and the unset variables with where they are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tasksync import cron
from tasksync.config import interpolate
from tasksync.config.issues import Issue, Path
from tasksync.jsonutil import escape_token
from tasksync.model import JSON, Location, TaskRef
from tasksync.schedules.model import (
    RUN_ACTOR,
    RUN_TASK,
    SCHEDULE_FIELDS,
    ActionSpec,
    ScheduleSpec,
)
from tasksync.text import shorten

MAX_TASK_ACTIONS = 10
MAX_ACTOR_ACTIONS = 10


@dataclass
class Built:
    specs: list[ScheduleSpec] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    unset: dict[str, list[Path]] = field(default_factory=dict)


def build(root: Mapping[str, JSON], environ: Mapping[str, str], file: str) -> Built:
    """Every valid entry of ``root["schedules"]`` as a spec, and every problem found."""
    out = Built()
    entries = root.get("schedules")
    if type(entries) is not list:
        return out
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if type(entry) is not dict or type(entry.get("schedule")) is not str:
            continue
        ref = TaskRef.parse(entry["schedule"])
        if ref.text in first:
            shown = shorten(ref.text, 80)
            message = f"duplicate schedule {shown} (first at schedules[{first[ref.text]}])"
            out.issues.append(Issue(("schedules", index, "schedule"), None, message))
            continue
        first[ref.text] = index
        spec = _Entry(entry, ("schedules", index), environ, out).spec(ref, file)
        if spec is not None:
            out.specs.append(spec)
    return out


class _Entry:
    """One entry: checks, ``${VAR}`` expansion (in place), and its spec."""

    def __init__(
        self, entry: dict[str, JSON], base: Path, environ: Mapping[str, str], out: Built
    ) -> None:
        self.entry, self.base, self.environ, self.out = entry, base, environ, out
        self.refs: dict[str, str] = {}  # payload pointer -> ${VAR} template
        self.issues_before = len(out.issues)

    def problem(self, path: Path, message: str) -> None:
        self.out.issues.append(Issue((*self.base, *path), None, message))

    def spec(self, ref: TaskRef, file: str) -> ScheduleSpec | None:
        entry = self.entry
        self._check_timing()
        desired: dict[str, JSON] = {}
        for name in SCHEDULE_FIELDS:
            if name in entry:
                value = entry[name]
                if name in ("title", "description") and type(value) is str:
                    value = self._expand(value, (name,), f"/{name}")
                desired[name] = value
        actions = None
        if type(entry.get("actions")) is list:
            actions = self._actions(entry["actions"])
        if len(self.out.issues) > self.issues_before:
            return None
        return ScheduleSpec(
            ref=ref,
            desired=desired,
            actions=actions,
            sensitive=frozenset(self.refs),
            env_refs=dict(self.refs),
            location=Location(file),
        )

    def _check_timing(self) -> None:
        expression = self.entry.get("cronExpression")
        if type(expression) is str:
            try:
                cron.parse(expression)
            except cron.CronError as exc:
                self.problem(("cronExpression",), f"invalid cron expression: {exc}")
        zone = self.entry.get("timezone")
        if type(zone) is str:
            try:
                cron.zone(zone)
            except cron.CronError as exc:
                self.problem(("timezone",), str(exc))

    def _actions(self, items: list[JSON]) -> tuple[ActionSpec, ...]:
        specs: list[ActionSpec] = []
        counts = {RUN_TASK: 0, RUN_ACTOR: 0}
        for i, item in enumerate(items):
            if type(item) is not dict:
                continue
            where: Path = ("actions", i)
            has_task, has_actor = "task" in item, "actor" in item
            if has_task == has_actor:
                self.problem(where, "an action has either `task:` or `actor:`, not both nor none")
                continue
            if has_task and "options" in item:
                self.problem((*where, "options"), "`options` is only for an `actor:` action")
                continue
            counts[RUN_TASK if has_task else RUN_ACTOR] += 1
            payload_key = "input" if has_task else "runInput"
            value = item.get("input")
            if value is not None:
                value = self._walk(value, (*where, "input"), f"/actions/{i}/{payload_key}")
            options = item.get("options")
            if options is not None:
                options = self._walk(options, (*where, "options"), f"/actions/{i}/runOptions")
            task = item.get("task")
            actor = item.get("actor")
            specs.append(
                ActionSpec(
                    task=TaskRef.parse(task) if type(task) is str else None,
                    actor=actor if type(actor) is str else None,
                    input=value,
                    options=options,
                )
            )
        for kind, limit, what in (
            (RUN_TASK, MAX_TASK_ACTIONS, "tasks"),
            (RUN_ACTOR, MAX_ACTOR_ACTIONS, "Actors"),
        ):
            if counts[kind] > limit:
                self.problem(
                    ("actions",), f"a schedule runs at most {limit} {what} ({counts[kind]} here)"
                )
        return tuple(specs)

    def _walk(self, value: JSON, path: Path, pointer: str) -> JSON:
        """``value`` with ``${VAR}`` expanded in every string."""
        if type(value) is str:
            return self._expand(value, path, pointer) if "${" in value else value
        if type(value) is dict:
            return {
                k: self._walk(v, (*path, k), f"{pointer}/{escape_token(k)}")
                for k, v in value.items()
            }
        if type(value) is list:
            return [self._walk(v, (*path, i), f"{pointer}/{i}") for i, v in enumerate(value)]
        return value

    def _expand(self, text: str, path: Path, pointer: str) -> str:
        result = interpolate.expand_string(text, self.environ)
        if result.error:
            self.problem(path, result.error)
        for name in result.missing:
            self.out.unset.setdefault(name, []).append((*self.base, *path))
        if result.from_environment:
            self.refs[pointer] = text
        return result.value
