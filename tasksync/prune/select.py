"""Which resources a plan deletes, and which deletions it must refuse. Pure: no I/O.

A resource is planned for deletion when it belongs to the token owner (the list's ``userId``),
its name matches a glob of ``prune:`` and no entry of the file names it (by ID, ``username~name``
or ``~name``). ``--target`` and ``--match`` narrow deletions as they narrow the tasks.

A task that a schedule still runs after the apply (one the file declares, or one it does not
delete) cannot be deleted: that deletion becomes a plan error naming the schedule. A schedule
the file declares runs what its ``actions`` say once applied; any other runs what it runs now.

In a saved plan a deletion carries the ``modifiedAt`` it was planned against: a resource modified
since is not deleted (``moved``). One that is already gone is not stale: its DELETE answers 404,
which is a success.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence

from tasksync import targeting
from tasksync.model import JSON, Action, TaskChange, TaskRef
from tasksync.schedules.model import RUN_TASK, ScheduleSpec
from tasksync.settings import Account

Item = Mapping[str, JSON]


def owned_by(item: Item, account: Account) -> bool:
    """Whether a listed resource belongs to the token owner (``userId``; the username when an
    answer has no ``userId``)."""
    user_id = item.get("userId")
    if user_id is not None:
        return bool(user_id == account.user_id)
    return bool(account.username) and item.get("username") == account.username


def key_of(item: Item, account: Account) -> str:
    return f"{item.get('username') or account.username}~{item.get('name')}"


def candidates(
    listing: Sequence[Item], globs: Sequence[str], declared: Sequence[TaskRef], account: Account
) -> list[TaskChange]:
    """The deletions of one resource: the owner's listed items that match a glob and that the
    file does not declare, in the order listed."""
    mine = [
        item
        for item in listing
        if owned_by(item, account)
        and any(fnmatch.fnmatchcase(str(item.get("name")), glob) for glob in globs)
    ]
    return [
        TaskChange(
            key=key_of(item, account),
            action=Action.DELETE,
            task_id=str(item.get("id")),
            modified_at=_text(item.get("modifiedAt")),
        )
        for item in targeting.undeclared(mine, declared)
    ]


def narrow(
    deletions: Sequence[TaskChange], targets: Sequence[str], match: str | None
) -> list[TaskChange]:
    """The deletions that ``--target``/``--match`` select (all of them without either)."""
    chosen = {
        r.text
        for r in targeting.selected([TaskRef.parse(d.key) for d in deletions], targets, match)
    }
    return [d for d in deletions if TaskRef.parse(d.key).text in chosen]


def guard(
    tasks: Sequence[TaskChange],
    schedules: Sequence[TaskChange],
    listing: Sequence[Item],
    specs: Sequence[ScheduleSpec],
    account: Account,
) -> list[TaskChange]:
    """The task deletions, each one that a kept schedule still runs turned into a plan error
    that names the schedule(s)."""
    deleted = {d.task_id for d in schedules}
    kept: list[tuple[str, list[TaskRef]]] = []
    declared: set[str] = set()
    for spec in specs:
        live = _find(spec.ref, listing)
        if live is not None:
            declared.add(str(live.get("id")))
        if spec.actions is not None:
            kept.append((spec.key, [a.task for a in spec.actions if a.task is not None]))
        elif live is not None:
            kept.append((spec.key, runs(live)))
    for item in listing:
        if not owned_by(item, account) or item.get("id") in deleted | declared:
            continue
        kept.append((key_of(item, account), runs(item)))
    out = []
    for change in tasks:
        task = TaskRef.parse(change.key)
        runners = [key for key, refs in kept if any(_same(r, task, change.task_id) for r in refs)]
        if runners:
            change = TaskChange(
                key=change.key,
                action=Action.ERROR,
                task_id=change.task_id,
                modified_at=change.modified_at,
                error=(
                    f"cannot be deleted: the schedule {', '.join(runners)} still runs it and is "
                    "kept; take the task out of its actions, or let prune delete that schedule"
                ),
                error_type="task-run-by-schedule",
            )
        out.append(change)
    return out


def moved(deletions: Iterable[TaskChange], listing: Sequence[Item], what: str) -> dict[str, str]:
    """Why each deletion of a saved plan must not be sent: its resource was modified since."""
    by_id = {str(item.get("id")): item for item in listing}
    reasons = {}
    for change in deletions:
        item = by_id.get(str(change.task_id))
        if item is None or change.action is not Action.DELETE:
            continue
        if item.get("modifiedAt") != change.modified_at:
            reasons[change.key] = (
                f"the {what} was modified at {item.get('modifiedAt')}, after the plan was made "
                f"(it was {change.modified_at}): not deleted"
            )
    return reasons


def _find(ref: TaskRef, listing: Sequence[Item]) -> Item | None:
    for item in listing:
        if ref.id is not None:
            if item.get("id") == ref.id:
                return item
        elif item.get("name") == ref.name and ref.username in (None, item.get("username")):
            return item
    return None


def runs(item: Item) -> list[TaskRef]:
    actions = item.get("actions")
    return [
        TaskRef(text=str(a["actorTaskId"]), id=str(a["actorTaskId"]))
        for a in (actions if isinstance(actions, list) else [])
        if isinstance(a, dict) and a.get("type") == RUN_TASK and a.get("actorTaskId")
    ]


def _same(ref: TaskRef, task: TaskRef, task_id: str | None) -> bool:
    if ref.id is not None:
        return ref.id == task_id
    return ref.name == task.name and ref.username in (None, task.username)


def _text(value: JSON) -> str | None:
    return value if isinstance(value, str) else None
