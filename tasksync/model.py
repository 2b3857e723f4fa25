"""The values that flow through tasksync, from the YAML file to the report.

Everything here is a small frozen dataclass with no behaviour beyond derived properties, so that
every stage (config -> diff -> plan -> engine -> report) can be read and tested on its own. JSON
values are plain Python ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

JSON = Any
"""A JSON value as produced by ``json.loads`` (or a YAML scalar of the same types)."""

MANAGED_FIELDS = ("title", "description", "options", "input")
"""Top-level task fields that a file can manage, in the order they are shown."""

OPTION_KEYS = (
    "build",
    "timeoutSecs",
    "memoryMbytes",
    "maxItems",
    "maxTotalChargeUsd",
    "restartOnError",
)
"""The keys of a task's ``options`` object (Apify's ``TaskOptions``)."""

InputMode = Literal["replace", "merge"]

_TASK_ID = re.compile(r"^[A-Za-z0-9]{17}$")


@dataclass(frozen=True, slots=True)
class TaskRef:
    """How a file entry names a task: by ID, ``username~name`` or ``~name``.

    ``username`` is ``None`` for ``~name`` (the token owner's task) and for a bare ID.
    """

    text: str
    id: str | None = None
    username: str | None = None
    name: str | None = None

    @classmethod
    def parse(cls, text: str) -> TaskRef:
        """Parse a task reference; ``username/name`` is accepted and normalised to ``~``."""
        norm = text.replace("/", "~", 1) if "~" not in text else text
        if "~" in norm:
            user, _, name = norm.partition("~")
            return cls(text=norm, username=user or None, name=name)
        if _TASK_ID.match(norm):
            return cls(text=norm, id=norm)
        # A bare name means the token owner's task of that name.
        return cls(text="~" + norm, name=norm)

    @property
    def path_id(self) -> str:
        """The form used in ``/v2/actor-tasks/{id}`` URLs."""
        return self.text


@dataclass(frozen=True, slots=True)
class Location:
    """Where something was written: file, 1-based line and column."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class Safety:
    """apply refuses a plan that changes more than ``max_changed_fraction`` of the tasks, when
    there are at least ``min_tasks`` of them (``safety`` in the file)."""

    max_changed_fraction: float = 0.3
    min_tasks: int = 10


@dataclass(frozen=True, slots=True)
class Prune:
    """What a file owns (``prune:``): name globs of the token owner's tasks and schedules. One
    that matches and that the file does not declare is planned for deletion."""

    tasks: tuple[str, ...] = ()
    schedules: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        return {"tasks": list(self.tasks), "schedules": list(self.schedules)}


@dataclass(frozen=True, slots=True)
class RequestStats:
    """What was sent: attempts (every one is a request), retries, and answers of 429."""

    total: int = 0
    retried: int = 0
    rate_limited: int = 0

    def __add__(self, other: RequestStats) -> RequestStats:
        return RequestStats(
            self.total + other.total,
            self.retried + other.retried,
            self.rate_limited + other.rate_limited,
        )

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "retried": self.retried, "rateLimited": self.rate_limited}


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """The desired state of one task, after defaults, anchors and ``${VAR}`` expansion.

    ``desired`` holds only the managed top-level fields the file mentions (a subset of
    ``MANAGED_FIELDS``). ``desired["options"]`` holds only the option keys the file mentions; a key
    set to ``None`` means "unset". ``env_refs`` maps a JSON Pointer (relative to the task, e.g.
    ``/input/apiKey``) to the template it was expanded from (``${NEWS_API_KEY}``); those values are
    secrets and are always listed in ``sensitive`` too.
    """

    ref: TaskRef
    desired: Mapping[str, JSON]
    input_mode: InputMode = "replace"
    actor: str | None = None
    ignore: tuple[str, ...] = ()
    sensitive: frozenset[str] = frozenset()
    env_refs: Mapping[str, str] = field(default_factory=dict)
    location: Location | None = None

    @property
    def key(self) -> str:
        return self.ref.text


@dataclass(frozen=True, slots=True)
class RemoteTask:
    """A task as the API returned it (``data`` is the full ``Task`` object)."""

    data: Mapping[str, JSON]

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def username(self) -> str | None:
        value = self.data.get("username")
        return str(value) if value is not None else None

    @property
    def modified_at(self) -> str | None:
        value = self.data.get("modifiedAt")
        return str(value) if value is not None else None


class ChangeKind(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    CHANGE = "change"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference, at a JSON Pointer relative to the task (``/options/memoryMbytes``).

    ``old`` and ``new`` are display values: sensitive ones are already masked. ``None`` stands for
    "absent" on the side that ``kind`` says is missing.
    """

    path: str
    kind: ChangeKind
    old: JSON = None
    new: JSON = None

    def to_json(self) -> dict[str, JSON]:
        """``old`` only when it existed, ``new`` only when it will."""
        out: dict[str, JSON] = {"path": self.path, "kind": self.kind.value}
        if self.kind is not ChangeKind.ADD:
            out["old"] = self.old
        if self.kind is not ChangeKind.REMOVE:
            out["new"] = self.new
        return out


@dataclass(frozen=True, slots=True)
class Basis:
    """What a planned update rests on: the managed fields it read (``fields``, minus the
    ``ignore`` pointers, which never make a plan stale). ``seen`` is that view as the plan read
    it; a saved plan keeps only ``digest``, a keyed hash of it (``secrets.fingerprint``)."""

    fields: tuple[str, ...]
    ignore: tuple[str, ...] = ()
    seen: Mapping[str, JSON] | None = None
    digest: str | None = None


class Action(StrEnum):
    """What a plan does with one task."""

    NOOP = "noop"
    UPDATE = "update"
    CREATE = "create"
    ERROR = "error"
    DELETE = "delete"
    """Only in a plan's deletions: a resource the file owns (``prune:``) but no longer declares."""


@dataclass(frozen=True, slots=True)
class TaskChange:
    """The planned change of one task: field changes for people, a payload for the API.

    ``payload`` is the exact body to send: for ``UPDATE`` the ``PUT /v2/actor-tasks/{id}`` body
    (only changed top-level fields, ``options`` complete, ``input`` whole); for ``CREATE`` the
    ``POST /v2/actor-tasks`` body. It holds real values, secrets included: never render it.
    """

    key: str
    action: Action
    task_id: str | None = None
    modified_at: str | None = None
    changes: tuple[FieldChange, ...] = ()
    payload: Mapping[str, JSON] = field(default_factory=dict)
    error: str | None = None
    secret_refs: Mapping[str, str] = field(default_factory=dict)
    """Pointers into ``payload`` of values from the environment -> their ``${VAR}`` template."""
    error_type: str | None = None
    """For ``ERROR``: a short machine name of the cause (the API error's type, when it was one)."""
    secret_fields: Mapping[str, str] = field(default_factory=dict)
    """Each encrypted secret field the payload sends -> ``kept`` (the stored encrypted value is
    sent back) or ``rotated`` (the file's value replaces it)."""
    basis: Basis | None = None
    """For ``UPDATE``: what the change rests on, checked again before a saved plan is applied."""
    sensitive: frozenset[str] = frozenset()
    """The entry's sensitive pointers: a saved plan never holds their values in clear."""


class Status(StrEnum):
    """How one task ended in an apply."""

    UNCHANGED = "unchanged"
    UPDATED = "updated"
    CREATED = "created"
    FAILED = "failed"
    STALE = "stale"
    SKIPPED = "skipped"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class TaskResult:
    """How one task ended, and the requests its write took (``attempts``)."""

    key: str
    status: Status
    task_id: str | None = None
    changes: tuple[FieldChange, ...] = ()
    error_type: str | None = None
    error: str | None = None
    requests: RequestStats = field(default_factory=RequestStats)
    duration: float = 0.0
    secret_fields: Mapping[str, str] = field(default_factory=dict)
    """As in ``TaskChange``: what was sent for each secret field."""
    deletion: bool = False
    """The result of a planned deletion (``prune:``), whatever its status."""

    @property
    def attempts(self) -> int:
        return self.requests.total
