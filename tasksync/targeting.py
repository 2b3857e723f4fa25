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


def _matches(spec: TaskSpec, glob: str) -> bool:
    return fnmatch.fnmatchcase(spec.key, glob) or fnmatch.fnmatchcase(spec.ref.name or "", glob)


def select(
    specs: Sequence[TaskSpec], targets: Iterable[str] = (), match: str | None = None
) -> list[TaskSpec]:
    """The specs named by ``targets`` or matching ``match``; all of them when neither is given.
    A target that names no task of the file, or a glob that matches none, is an error."""
    refs = [TaskRef.parse(t.strip()) for t in targets]
    if not refs and match is None:
        return list(specs)
    unknown = [r.text for r in refs if not any(_names(r, s.ref) for s in specs)]
    if unknown:
        raise TasksyncError(f"--target names no task of the file: {', '.join(unknown)}")
    chosen = [
        spec
        for spec in specs
        if any(_names(r, spec.ref) for r in refs) or (match is not None and _matches(spec, match))
    ]
    if match is not None and not any(_matches(s, match) for s in specs):
        raise TasksyncError(f"--match {match!r} matches no task of the file")
    return chosen


def unmanaged(listing: Sequence[Mapping[str, JSON]], specs: Sequence[TaskSpec]) -> list[str]:
    """``username~name`` of the listed tasks (the account's own) that no spec names, sorted."""
    ids = {s.ref.id for s in specs if s.ref.id is not None}
    named = {(s.ref.username, s.ref.name) for s in specs if s.ref.name is not None}
    keys = []
    for item in listing:
        user, name = item.get("username"), item.get("name")
        if item.get("id") in ids or (user, name) in named or (None, name) in named:
            continue
        keys.append(f"{user}~{name}")
    return sorted(keys)
