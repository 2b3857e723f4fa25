"""Before a saved plan is applied: which of its tasks moved since it was made.

Apify does not document that ``modifiedAt`` moves on every kind of update, so staleness does
not rest on it: every task the plan writes is read again (one GET each, concurrently) and
the managed fields its update rests on (``TaskChange.basis``: the fields the file manages,
``options`` and ``input`` whole, minus the ``ignore`` pointers) are compared with the keyed
hash the saved plan holds. An ignored path never makes a task stale: the value it holds now is
carried into the payload instead, as planning would have done. A task to create is stale when
a task of that name exists by now.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tasksync import engine
from tasksync.api import ApifyClient
from tasksync.diff import carry_ignored, managed_view
from tasksync.engine import ProgressCallback
from tasksync.errors import ApiError, NotFoundError
from tasksync.model import Action, RemoteTask, RequestStats, TaskChange
from tasksync.plan import Plan
from tasksync.run import Interrupt
from tasksync.secrets import fingerprint


@dataclass(frozen=True)
class Checked:
    """The plan's changes (payloads with today's ignored values), the stale ones, the cost."""

    changes: tuple[TaskChange, ...]
    stale: dict[str, str]
    requests: RequestStats


async def check(
    client: ApifyClient,
    plan: Plan,
    key: bytes,
    *,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> Checked:
    """Read every task the saved plan writes, and judge each against what the plan saw."""
    stale = dict(plan.stale)
    changes = list(plan.changes)
    todo = [
        i
        for i, c in enumerate(changes)
        if c.action in (Action.UPDATE, Action.CREATE) and c.key not in stale
    ]
    refs = [
        str(changes[i].task_id) if changes[i].action is Action.UPDATE else changes[i].key
        for i in todo
    ]
    requests = RequestStats()
    async with engine.refresh(
        client, refs, concurrency=concurrency, progress=progress, interrupt=interrupt
    ) as fetched:
        async for item in fetched:
            i = todo[item.index]
            requests += item.requests
            reason, changes[i] = judge(changes[i], item.task, key)
            if reason is not None:
                stale[changes[i].key] = reason
    return Checked(tuple(changes), stale, requests)


def judge(
    change: TaskChange, now: RemoteTask | ApiError, key: bytes
) -> tuple[str | None, TaskChange]:
    """Why ``change`` must not be applied to the task as it is ``now`` (None: it may), and the
    change to apply."""
    if change.action is Action.CREATE:
        if isinstance(now, NotFoundError):
            return None, change
        if isinstance(now, ApiError):
            return f"could not check that the task is still missing: {now}", change
        return "a task of that name was created since the plan was made", change
    if isinstance(now, NotFoundError):
        return "the task no longer exists", change
    if isinstance(now, ApiError):
        return f"could not check whether the task changed since the plan: {now}", change
    basis = change.basis
    if basis is None or basis.digest is None:
        if now.modified_at != change.modified_at:
            return _moved(change, now), change
        return None, change
    seen = fingerprint(managed_view(now.data, basis.fields, basis.ignore), key)
    if seen != basis.digest:
        return _moved(change, now), change
    if basis.ignore:
        payload = carry_ignored(change.payload, basis.ignore, now.data)
        change = dataclasses.replace(change, payload=payload)
    return None, change


def _moved(change: TaskChange, now: RemoteTask) -> str:
    return (
        f"its managed fields changed since the plan was made (the plan saw the task as modified "
        f"at {change.modified_at}; it was modified at {now.modified_at})"
    )
