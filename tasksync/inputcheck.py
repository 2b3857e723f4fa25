"""Each task's resulting input checked against its Actor's input schema, before anything is sent.

Online (``check_plan``, called by ``Session.plan``): the input checked is the one the task would
have after the write, exactly as the payload carries it (after ``defaults``, ``${VAR}``, merge mode
and ignored paths; a kept secret is its stored encrypted value, checked for its kind only), or the
live input when the write does not touch it. Only tasks that would be written are checked (created
or updated), and, with ``check_all``, unchanged ones too (a nightly job then reports live inputs
that a new Actor version no longer accepts). The schema is the one of the build the task will run:
the file's ``options.build``, else the task's current build, else the Actor's default build. A task
whose input is refused becomes a plan error naming each field by its pointer and the place in the
file that sets it (the task's line when the field is missing), and nothing is sent for it.

Offline (``check_config``, for ``validate``): the file's declared inputs against local schema
files, for tasks whose entry names its ``actor:``; in merge mode the live input is unknown, so
missing required fields are not reported.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from tasksync import config
from tasksync.actorschemas import BuildKey, LocalSchemas, Unavailable
from tasksync.config import yamllocate
from tasksync.config.issues import Path as YamlPath
from tasksync.config.issues import Pos
from tasksync.errors import ApiError, Problem
from tasksync.inputschema import UNSET, InputSchema, Violation
from tasksync.jsonutil import escape_token, pointer_tokens
from tasksync.model import JSON, Action, FieldChange, Location, RemoteTask, TaskChange, TaskSpec
from tasksync.plan import Plan
from tasksync.secrets import mask

_MAX_SHOWN = 5
"""Violations listed in one plan error; the rest are counted."""


@dataclass(frozen=True, slots=True)
class Target:
    """One task's input to check: its place in the plan, which schema, the input."""

    index: int
    key: BuildKey
    value: JSON


def build_key(spec: TaskSpec, remote: RemoteTask | None) -> BuildKey | None:
    """The (Actor, build) whose schema ``spec``'s input must satisfy; None if not known."""
    live = remote.data if remote is not None else {}
    actor = live.get("actId") or spec.actor
    if not isinstance(actor, str) or not actor:
        return None
    desired = spec.desired.get("options")
    build = desired.get("build") if isinstance(desired, dict) else None
    if build is None:
        options = live.get("options")
        build = options.get("build") if isinstance(options, dict) else None
    return actor, build if isinstance(build, str) and build else None


def targets(
    plan: Plan,
    specs: Sequence[TaskSpec],
    remotes: Sequence[RemoteTask | ApiError],
    *,
    check_all: bool = False,
) -> list[Target]:
    """The inputs to check: of every task the plan writes (and, with ``check_all``, of the
    unchanged ones), in plan order. ``plan.changes`` are in the order of ``specs``."""
    found = []
    for index, (change, spec, remote) in enumerate(zip(plan.changes, specs, remotes, strict=True)):
        live = remote if isinstance(remote, RemoteTask) else None
        if change.action is Action.CREATE:
            value = change.payload.get("input", {})
        elif change.action is Action.UPDATE and "input" in change.payload:
            value = change.payload["input"]
        elif live is not None and (
            change.action is Action.UPDATE or (check_all and change.action is Action.NOOP)
        ):
            value = live.data.get("input")
            value = {} if value is None else value
        else:
            continue
        key = build_key(spec, live)
        if key is not None:
            found.append(Target(index, key, value))
    return found


def check_plan(
    plan: Plan,
    specs: Sequence[TaskSpec],
    found: Sequence[Target],
    schemas: Callable[[BuildKey], InputSchema | Unavailable],
) -> Plan:
    """``plan`` with each target whose input is refused turned into a plan error."""
    changes = list(plan.changes)
    locator = Locator(plan.source)
    verdicts: dict[tuple[int, int], list[Violation]] = {}
    for target in found:
        schema = schemas(target.key)
        spec = specs[target.index]
        if isinstance(schema, Unavailable):
            changes[target.index] = _error(changes[target.index], schema.message, schema.kind)
            continue
        changes[target.index] = _mask_secrets(changes[target.index], schema)
        violations = _verdict(schema, target.value, verdicts)
        if violations:
            actor, build = target.key
            message = (
                f"the input does not match the input schema of the Actor {actor} (build "
                f"{build or 'default'}): " + _listed(violations, spec, locator)
            )
            changes[target.index] = _error(changes[target.index], message, "invalid-input")
    return dataclasses.replace(plan, changes=tuple(changes))


def _verdict(
    schema: InputSchema, value: JSON, cache: dict[tuple[int, int], list[Violation]]
) -> list[Violation]:
    """Violations, remembered per (schema, input) object: inputs shared by reference (one
    ``defaults`` value under many tasks) are checked once."""
    key = (id(schema), id(value))
    found = cache.get(key)
    if found is None:
        found = cache[key] = schema.check(value)
    return found


def _mask_secrets(change: TaskChange, schema: InputSchema) -> TaskChange:
    """``change`` with the values of the schema's ``isSecret`` fields masked, as Apify would
    never show them either."""
    if not schema.secret_keys or not change.changes:
        return change
    secret = frozenset("/input/" + escape_token(k) for k in schema.secret_keys)
    masked = tuple(
        FieldChange(c.path, c.kind, mask(c.old, c.path, secret), mask(c.new, c.path, secret))
        for c in change.changes
    )
    return dataclasses.replace(change, changes=masked)


def _error(change: TaskChange, message: str, kind: str) -> TaskChange:
    return dataclasses.replace(
        change, action=Action.ERROR, error=message, error_type=kind, payload={}, secret_refs={}
    )


def _listed(violations: Sequence[Violation], spec: TaskSpec, locator: Locator) -> str:
    parts = []
    for v in violations[:_MAX_SHOWN]:
        where = locator.where(spec, v.pointer, missing=v.message == "is required")
        parts.append(f"{v.pointer or '/'} {v.message}" + (f" ({where})" if where else ""))
    if len(violations) > _MAX_SHOWN:
        parts.append(f"and {len(violations) - _MAX_SHOWN} more")
    return "; ".join(parts)


class Locator:
    """Where the task file sets an input field: read again, and only when a field is refused."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self._positions: dict[YamlPath, Pos] | None = None
        self._tasks: dict[Pos, int] = {}

    def where(self, spec: TaskSpec, pointer: str, *, missing: bool = False) -> Location | None:
        """The field's place (its own, the ``defaults`` one it inherits, or the nearest parent
        written in the task); the task's place when ``missing`` or not found."""
        positions = self._load()
        index = self._index(spec)
        if positions and index is not None and not missing:
            tokens = tuple(_token(t) for t in pointer_tokens(pointer))
            task_path = ("tasks", index, "input", *tokens)
            for path in (task_path, ("defaults", "input", *tokens)):
                if path in positions:
                    return Location(str(self.file), *positions[path])
            for end in range(len(task_path) - 1, 2, -1):
                if task_path[:end] in positions:
                    return Location(str(self.file), *positions[task_path[:end]])
        return spec.location

    def _index(self, spec: TaskSpec) -> int | None:
        if spec.location is None or spec.location.line is None:
            return None
        return self._tasks.get((spec.location.line, spec.location.column or 0))

    def _load(self) -> dict[YamlPath, Pos]:
        if self._positions is None:
            self._positions = {}
            if self.file and os.path.isfile(self.file):
                try:
                    with open(self.file, "rb") as f:
                        data = f.read()
                    self._positions = yamllocate.locate(data, data.decode("utf-8"))
                except (OSError, UnicodeDecodeError):
                    pass
            self._tasks = {
                pos: path[1]
                for path, pos in self._positions.items()
                if len(path) == 2 and path[0] == "tasks" and isinstance(path[1], int)
            }
        return self._positions


def _token(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def check_config(file: str, specs: Sequence[TaskSpec], schemas: LocalSchemas) -> list[Problem]:
    """Offline: each task's declared input against the local schema of its ``actor:``."""
    locator = Locator(file)
    problems = []
    for spec in specs:
        schema = schemas.get(spec.actor)
        if schema is None:
            continue
        declared = spec.desired.get("input")
        violations = schema.check({} if declared is None else declared)
        for v in violations:
            missing = v.message == "is required"
            if missing and spec.input_mode == "merge":
                continue  # the live input may have it
            where = locator.where(spec, v.pointer, missing=missing)
            line, column = (where.line, where.column) if where else (None, None)
            path = f"{spec.key}: input{v.pointer.replace('/', '.')}"
            problems.append(Problem(file, line, column, path, v.message))
    return problems


class _UnsetAsPresent(Mapping[str, str]):
    """The environment, where an unset variable reads as ``UNSET`` (a string of unknown
    content): offline, a secret that cannot be seen still counts as present."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        return self._environ.get(name, UNSET)

    def get(self, name: str, default: object = None) -> str:
        return self._environ.get(name, UNSET)

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


def check_offline(
    file: str, environ: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> list[Problem]:
    """Offline: the file's inputs against the schemas its ``actors:`` section names (paths
    relative to the file) and ``extra`` ones (``--input-schema ACTOR=PATH``, relative to the
    current folder, winning over the file's). Unset ``${VAR}``s count as present strings."""
    cfg = config.load(file, environ=_UnsetAsPresent(environ))
    folder = os.path.dirname(file)
    files = {ref: os.path.join(folder, path) for ref, path in cfg.actors.items()}
    files.update(extra or {})
    if not files:
        return []
    return check_config(cfg.path, cfg.tasks, LocalSchemas.read(files))
