"""Which of the file's tasks a run acts on (``--target``, ``--match``), and which tasks of the
account the file does not mention (``--show-unmanaged``). Pure: no I/O.

Like Terraform's ``-target``: a large file can be planned and applied a few tasks at a time, and
the safety limit then counts the tasks selected. A task is selected when a ``--target`` names it
(as the file does: ``username~name``, ``~name``, a bare name or an ID) or when its
``username~name`` or name matches the ``--match`` glob.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence

from tasksync.errors import TasksyncError
from tasksync.model import JSON, TaskRef, TaskSpec


def _names(target: TaskRef, spec: TaskRef) -> bool:
    if target.text == spec.text:
        return True
    if target.id is not None or spec.id is not None:
        return target.id == spec.id
    users = (target.username, spec.username)
    return target.name == spec.name and (None in users or users[0] == users[1])


def _matches(ref: TaskRef, glob: str) -> bool:
    return fnmatch.fnmatchcase(ref.text, glob) or fnmatch.fnmatchcase(ref.name or "", glob)


def select(
    specs: Sequence[TaskSpec],
    targets: Iterable[str] = (),
    match: str | None = None,
    *,
    deletable: Sequence[str] = (),
) -> list[TaskSpec]:
    """The specs named by ``targets`` or matching ``match``; all of them when neither is given.
    A target that names no task of the file, or a glob that matches none, is an error (``check``).
    With ``deletable`` (the name globs of the file's ``prune:`` section) a target may name a task
    to delete: only one whose name no such glob matches is refused here, and the rest are checked
    once the tasks to delete are known."""
    refs = [TaskRef.parse(t.strip()) for t in targets]
    if not refs and match is None:
        return list(specs)
    check([s.ref for s in specs], refs, match, deletable=deletable)
    return [
        spec
        for spec in specs
        if any(_names(r, spec.ref) for r in refs)
        or (match is not None and _matches(spec.ref, match))
    ]


def check(
    known: Sequence[TaskRef],
    refs: Sequence[TaskRef],
    match: str | None,
    *,
    deletable: Sequence[str] = (),
) -> None:
    """Refuse targets that name none of ``known``, and a glob that matches none of them. With
    ``deletable`` globs (the tasks to delete not known yet), a target whose name one of them
    matches (or an ID) and the glob are left for later."""
    unknown = [
        r.text
        for r in refs
        if not any(_names(r, k) for k in known)
        and not (
            deletable
            and (r.id is not None or any(fnmatch.fnmatchcase(r.name or "", g) for g in deletable))
        )
    ]
    if unknown and deletable:
        raise TasksyncError(
            "--target names no task of the file, nor one that its prune: section owns: "
            + ", ".join(unknown)
        )
    if unknown:
        raise TasksyncError(f"--target names no task of the file: {', '.join(unknown)}")
    if match is not None and not deletable and not any(_matches(k, match) for k in known):
        raise TasksyncError(f"--match {match!r} matches no task of the file")


def selected(
    refs: Sequence[TaskRef], targets: Iterable[str] = (), match: str | None = None
) -> list[TaskRef]:
    """The ``refs`` (tasks to delete, say) that ``targets`` name or ``match`` matches; all of
    them when neither is given."""
    wanted = [TaskRef.parse(t.strip()) for t in targets]
    if not wanted and match is None:
        return list(refs)
    return [
        ref
        for ref in refs
        if any(_names(w, ref) for w in wanted) or (match is not None and _matches(ref, match))
    ]


def undeclared(
    listing: Sequence[Mapping[str, JSON]], declared: Sequence[TaskRef]
) -> list[Mapping[str, JSON]]:
    """The listed items (tasks or schedules) that no reference of the file names."""
    ids = {r.id for r in declared if r.id is not None}
    named = {(r.username, r.name) for r in declared if r.name is not None}
    return [
        item
        for item in listing
        if item.get("id") not in ids
        and (item.get("username"), item.get("name")) not in named
        and (None, item.get("name")) not in named
    ]


def unmanaged(listing: Sequence[Mapping[str, JSON]], specs: Sequence[TaskSpec]) -> list[str]:
    """``username~name`` of the listed tasks (the account's own) that no spec names, sorted."""
    items = undeclared(listing, [s.ref for s in specs])
    return sorted(f"{item.get('username')}~{item.get('name')}" for item in items)
