"""Applying a plan's deletions, after every other change: the schedules' first, then the tasks'.

Deleting the schedules first means a schedule and the tasks it runs go in one apply without a
schedule ever pointing at a deleted task. Right before the tasks' deletions the schedules are
listed once more: a task that a live schedule still runs (a schedule whose deletion failed, or
one made since the plan) is skipped, naming it. Without ``--prune`` every deletion is skipped,
saying so. In a saved plan, a resource modified since the plan was made is ``stale`` and kept.

A DELETE is idempotent, so the client retries it like a PUT; a 404 (already gone, as when a
retry follows a DELETE whose answer was lost) is a success. The engine's pool, interrupt and
rules for unsent changes serve deletions as they serve writes; every deletion gets a result.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from tasksync import writes
from tasksync.api import ApifyClient, Reply
from tasksync.engine import ProgressCallback
from tasksync.errors import ApiError
from tasksync.model import Action, RequestStats, Status, TaskChange, TaskResult
from tasksync.plan import Plan
from tasksync.prune.select import key_of, moved, runs
from tasksync.run import Interrupt
from tasksync.settings import Account

NEED_PRUNE = "deletions are applied only with --prune"


@dataclass(frozen=True)
class Deletions:
    """How the deletions ended: the tasks' and the schedules' results, and what they took."""

    tasks: list[TaskResult]
    schedules: list[TaskResult]
    requests: RequestStats
    interrupted: bool = False
    fatal: ApiError | None = None


def not_deleted(changes: Sequence[TaskChange], why: str) -> list[TaskResult]:
    """The results of deletions never started (the run stopped before them)."""
    return [_mark(r) for r in writes.not_started(changes, why)]


async def delete_step(
    client: ApifyClient,
    plan: Plan,
    before: writes.ApplyOutcome,
    schedules: list[TaskResult],
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> tuple[writes.ApplyOutcome, list[TaskResult], list[TaskResult]]:
    """The deletions' step of an apply, after the rest (``before``: how the rest went;
    ``schedules``: the schedules' results): the outcome, the tasks' and schedules' results."""
    if before.fatal is not None:
        why = "not started: the run stopped"
        gone = not_deleted(plan.deletions, why)
        timed = not_deleted(plan.schedule_deletions, why)
        return before, [*before.results, *gone], [*schedules, *timed]
    done = await apply_deletions(
        client,
        plan.deletions,
        plan.schedule_deletions,
        account=Account(plan.user_id or "", plan.username or ""),
        prune=plan.prune,
        saved=plan.saved,
        progress=progress,
        interrupt=interrupt,
    )
    outcome = dataclasses.replace(
        before,
        requests=before.requests + done.requests,
        interrupted=before.interrupted or done.interrupted,
        fatal=done.fatal,
    )
    return outcome, [*before.results, *done.tasks], [*schedules, *done.schedules]


async def apply_deletions(
    client: ApifyClient,
    tasks: Sequence[TaskChange],
    schedules: Sequence[TaskChange],
    *,
    account: Account,
    prune: bool,
    saved: bool,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> Deletions:
    """Delete the schedules, then the tasks (only with ``prune``); a result for every one."""
    run = _Run(client, prune, concurrency, progress, interrupt or Interrupt())
    sending = prune and not run.interrupt.stopping
    spent = RequestStats()
    stale: dict[str, str] = {}
    if sending and saved and _any(schedules):
        listed = await client.all_schedules()
        spent += listed.stats
        stale.update(moved(schedules, listed.value, "schedule"))
    timed = await _delete_all(run, schedules, stale, {}, client.delete_schedule)
    if timed.fatal is not None:
        stopped = not_deleted(tasks, "not started: the run stopped")
        done = writes.ApplyOutcome(stopped, RequestStats())
    else:
        blocked: dict[str, str] = {}
        if sending and _any(tasks):
            if saved:
                listed = await client.all_tasks()
                spent += listed.stats
                stale.update(moved(tasks, listed.value, "task"))
            live = await client.all_schedules()  # after the schedules' deletions
            spent += live.stats
            blocked = _still_run(tasks, live.value, account)
        done = await _delete_all(run, tasks, stale, blocked, client.delete_task)
    return Deletions(
        tasks=done.results,
        schedules=timed.results,
        requests=spent + timed.requests + done.requests,
        interrupted=run.interrupt.stopping,
        fatal=timed.fatal or done.fatal,
    )


@dataclass(frozen=True)
class _Run:
    """What every deletion of one apply shares."""

    client: ApifyClient
    prune: bool
    concurrency: int | None
    progress: ProgressCallback | None
    interrupt: Interrupt


def _any(changes: Sequence[TaskChange]) -> bool:
    return any(c.action is Action.DELETE for c in changes)


def _still_run(
    tasks: Sequence[TaskChange], schedules: Sequence[Mapping[str, object]], account: Account
) -> dict[str, str]:
    """The task deletions that a live schedule still runs -> why they are skipped."""
    runners: dict[str, list[str]] = {}
    for item in schedules:
        for ref in runs(item):
            runners.setdefault(str(ref.id), []).append(key_of(item, account))
    return {
        c.key: f"not deleted: the schedule {', '.join(runners[str(c.task_id)])} still runs it"
        for c in tasks
        if str(c.task_id) in runners
    }


async def _delete_all(
    run: _Run,
    changes: Sequence[TaskChange],
    stale: Mapping[str, str],
    blocked: Mapping[str, str],
    delete: Callable[[str], Awaitable[Reply[bool]]],
) -> writes.ApplyOutcome:
    """Send every deletion of one resource that is to be sent (``delete``: by ID)."""

    async def send(change: TaskChange) -> TaskResult:
        started = time.monotonic()
        try:
            reply = await delete(str(change.task_id))
        except ApiError as exc:
            if exc.stops_run:
                raise
            return writes.failed(change, exc.kind, str(exc), started, exc.stats)
        return TaskResult(
            change.key,
            Status.DELETED,
            task_id=change.task_id,
            requests=reply.stats,
            duration=time.monotonic() - started,
        )

    done = await writes.send_all(
        run.client,
        changes,
        [_settled(c, stale, blocked, run.prune) for c in changes],
        send,
        phase="delete",
        concurrency=run.concurrency,
        progress=run.progress,
        interrupt=run.interrupt,
    )
    return dataclasses.replace(done, results=[_mark(r) for r in done.results])


def _settled(
    change: TaskChange, stale: Mapping[str, str], blocked: Mapping[str, str], prune: bool
) -> TaskResult | None:
    """The result of a deletion that is not sent, or None when it is to be sent."""
    if change.action is Action.DELETE and not prune:
        return writes.unsent(change, Status.SKIPPED, "skipped", NEED_PRUNE)
    if change.key in blocked:
        return writes.unsent(change, Status.SKIPPED, "skipped", blocked[change.key])
    return writes.settled(change, stale, create_missing=True)


def _mark(result: TaskResult) -> TaskResult:
    return dataclasses.replace(result, deletion=True)
