"""Changes that are the same on many tasks, shown once.

One change in ``defaults`` changes every task in the same way; a plan of 3,000 tasks then says it
once, with the tasks it applies to, instead of 3,000 times. A field change is the same on two
tasks when its path, kind and (display) values are; masked values are never grouped, since two
masked values that look alike need not be. Tasks that share the same set of changes make one
group; what is left of each task (its own changes) is shown task by task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tasksync.model import Action, FieldChange, TaskChange
from tasksync.report.valuediff import canonical
from tasksync.secrets import MASK

MIN_TASKS = 2
"""A change on at least this many tasks is shown once for all of them."""


@dataclass(frozen=True, slots=True)
class Group:
    """The same changes, on these tasks (in the plan's order)."""

    keys: tuple[str, ...]
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class Grouped:
    groups: tuple[Group, ...] = ()
    own: dict[str, tuple[FieldChange, ...]] = field(default_factory=dict)
    """Each task's changes that are in no group."""
    shared: dict[str, int] = field(default_factory=dict)
    """How many of each task's changes are shown in a group."""


def group_changes(
    tasks: Sequence[tuple[str, Sequence[FieldChange]]], min_tasks: int = MIN_TASKS
) -> Grouped:
    """Group the changes of ``tasks`` (key, field changes) that recur on ``min_tasks`` or more."""
    signatures: list[list[tuple[str, str, str, str] | None]] = []
    where: dict[tuple[str, str, str, str], list[int]] = {}
    for index, (_, changes) in enumerate(tasks):
        row = [_signature(change) for change in changes]
        signatures.append(row)
        for sig in row:
            if sig is not None:
                where.setdefault(sig, []).append(index)
    by_tasks: dict[tuple[int, ...], list[FieldChange]] = {}
    grouped: set[tuple[str, str, str, str]] = set()
    for index, (_, changes) in enumerate(tasks):
        for sig, change in zip(signatures[index], changes, strict=True):
            if sig is None or sig in grouped:
                continue
            found = where[sig]
            if len(found) >= min_tasks and found[0] == index:
                grouped.add(sig)
                by_tasks.setdefault(tuple(found), []).append(change)
    own: dict[str, tuple[FieldChange, ...]] = {}
    shared: dict[str, int] = {}
    for index, (key, changes) in enumerate(tasks):
        mine = tuple(
            c for sig, c in zip(signatures[index], changes, strict=True) if sig not in grouped
        )
        own[key] = mine
        shared[key] = len(changes) - len(mine)
    groups = tuple(
        Group(tuple(tasks[i][0] for i in indices), tuple(changes))
        for indices, changes in by_tasks.items()
    )
    return Grouped(groups, own, shared)


def group_updates(changes: Sequence[TaskChange], stale: Mapping[str, str]) -> Grouped:
    """Group the changes of a plan's updates (tasks or schedules), the stale ones left out: they
    are shown apart, with why they will not be applied."""
    return group_changes(
        [(c.key, c.changes) for c in changes if c.action is Action.UPDATE and c.key not in stale]
    )


def _signature(change: FieldChange) -> tuple[str, str, str, str] | None:
    old, new = _identity(change.old), _identity(change.new)
    if MASK in old or MASK in new:
        return None
    return change.path, change.kind.value, old, new


def _identity(value: object) -> str:
    """A string that tells values apart: a string's own text (marked), else canonical JSON."""
    return "s" + value if type(value) is str else canonical(value)
