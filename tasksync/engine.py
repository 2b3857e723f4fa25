"""The worker pool: refresh (GET every task) and apply (PUT/POST the changed ones).

Each phase runs a fixed number of workers in one anyio task group, pulling work from a shared
iterator, so memory and scheduling cost do not grow with the number of tasks. A failure of one
task is recorded and never stops the others, except a refused token (401), which stops the phase
at once: every further request would fail the same way.

Values flow forward: ``refresh`` yields each task as it arrives (so the caller diffs it while the
other requests are in flight) and ``apply`` returns every task's result; each carries the
requests it took, and the phase's request counts are their sum.

Interruption is cooperative (``tasksync.run.Interrupt``): once ``stop`` is set, workers start no
new request while in-flight ones finish; once ``cancel`` is set, the in-flight ones are cancelled
too. Every task still gets a result (``skipped`` if it never started), so the report is complete.

A result never holds a secret: an error message can repeat what was sent, so the values from the
environment in the plan's payloads are redacted from every message (``secrets.redact``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from tasksync.api import ApifyClient
from tasksync.diff import verify
from tasksync.errors import ApiError, AuthError
from tasksync.model import Action, RemoteTask, RequestStats, Status, TaskChange, TaskResult
from tasksync.run import Interrupt, Interrupted
from tasksync.secrets import explain_refused_secret, redact, secret_values

ProgressCallback = Callable[[str, int, int, int], None]
"""Called as ``(phase, done, total, errors)`` after each finished item."""


@dataclass
class _Counter:
    phase: str
    total: int
    progress: ProgressCallback | None
    done: int = 0
    errors: int = 0

    def tick(self, ok: bool) -> None:
        self.done += 1
        if not ok:
            self.errors += 1
        if self.progress is not None:
            self.progress(self.phase, self.done, self.total, self.errors)


def _refused(exc: ApiError) -> bool:
    """A 401: the token itself was refused, so every further request would fail too."""
    return isinstance(exc, AuthError) and exc.status == 401


async def _pool(
    count: int,
    concurrency: int,
    handle: Callable[[int], Awaitable[None]],
    interrupt: Interrupt,
) -> AuthError | None:
    """Run ``await handle(i)`` for i in range(count) on ``concurrency`` workers, until done,
    stopped or cancelled by ``interrupt``. Returns the 401 that stopped the pool early, if any."""
    indices = iter(range(count))
    fatal: list[AuthError] = []

    async def worker() -> None:
        for i in indices:
            if interrupt.stopping or fatal:
                return
            try:
                await handle(i)
            except AuthError as exc:
                fatal.append(exc)
                return

    async def cancel_on_request(scope: anyio.CancelScope) -> None:
        await interrupt.cancel.wait()
        scope.cancel()

    async with anyio.create_task_group() as outer:
        outer.start_soon(cancel_on_request, outer.cancel_scope)
        async with anyio.create_task_group() as workers:
            for _ in range(max(1, min(concurrency, count))):
                workers.start_soon(worker)
        outer.cancel_scope.cancel()
    return fatal[0] if fatal else None


@dataclass(frozen=True, slots=True)
class Fetched:
    """One task read by ``refresh``: the task or the error it got, and what that took."""

    index: int
    task: RemoteTask | ApiError
    requests: RequestStats


@asynccontextmanager
async def refresh(
    client: ApifyClient,
    refs: Sequence[str],
    *,
    concurrency: int = 16,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> AsyncIterator[AsyncIterator[Fetched]]:
    """GET every task that ``refs`` name (IDs or ``username~name``), yielding each as it arrives,
    in any order::

        async with refresh(client, refs) as fetched:
            async for item in fetched:
                ...

    Any error but a 401 is that task's result. A 401 is raised once the iteration is over, and
    so is ``Interrupted`` when the phase stopped before every task was read.
    """
    interrupt = interrupt or Interrupt()
    counter = _Counter("refresh", len(refs), progress)
    send, receive = anyio.create_memory_object_stream[Fetched](max(1, concurrency))
    fatal: AuthError | None = None

    async def handle(i: int) -> None:
        result: RemoteTask | ApiError
        try:
            reply = await client.get_task(refs[i])
            result, requests = RemoteTask(reply.value), reply.stats
        except ApiError as exc:
            if _refused(exc):
                raise
            result, requests = exc, exc.stats
        await send.send(Fetched(i, result, requests))
        counter.tick(not isinstance(result, ApiError) or result.status == 404)

    async def produce() -> None:
        nonlocal fatal
        async with send:
            fatal = await _pool(len(refs), concurrency, handle, interrupt)

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        async with receive:
            yield receive
    if fatal is not None:
        raise fatal
    if counter.done < len(refs):
        raise Interrupted(f"interrupted after reading {counter.done} of {len(refs)} tasks")


@dataclass(frozen=True)
class ApplyOutcome:
    results: list[TaskResult]
    requests: RequestStats
    interrupted: bool = False
    fatal: ApiError | None = None


def _settled(
    change: TaskChange, stale: Mapping[str, str], create_missing: bool
) -> TaskResult | None:
    """The result of a change that is not sent (unchanged, failed in planning, skipped, stale),
    or None when it is to be sent."""
    if change.action is Action.NOOP:
        return TaskResult(change.key, Status.UNCHANGED, task_id=change.task_id)
    if change.action is Action.ERROR:
        return TaskResult(
            change.key,
            Status.FAILED,
            task_id=change.task_id,
            error_type=change.error_type or "plan-error",
            error=change.error,
        )
    if change.action is Action.CREATE and not create_missing:
        why = "the task does not exist; run with --create-missing to create it"
        return _unsent(change, Status.SKIPPED, "skipped", why)
    if change.key in stale:
        return _unsent(change, Status.STALE, "stale", stale[change.key])
    return None


def _unsent(change: TaskChange, status: Status, error_type: str, why: str) -> TaskResult:
    return TaskResult(
        change.key,
        status,
        task_id=change.task_id,
        changes=change.changes,
        error_type=error_type,
        error=why,
    )


async def apply(
    client: ApifyClient,
    changes: Sequence[TaskChange],
    *,
    stale: Mapping[str, str],
    create_missing: bool,
    concurrency: int = 16,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> ApplyOutcome:
    """Send every change that is to be applied; verify each answer; give every change a result.

    ``stale`` maps the keys of changes that must not be sent to why.
    """
    interrupt = interrupt or Interrupt()
    results = [_settled(change, stale, create_missing) for change in changes]
    work = [i for i, result in enumerate(results) if result is None]
    counter = _Counter("apply", len(work), progress)
    secrets = secret_values([changes[i] for i in work])

    async def handle(n: int) -> None:
        i = work[n]
        try:
            results[i] = await _apply_one(client, changes[i])
        except BaseException as exc:  # a 401, or cancelled: recorded, then passed on
            requests = exc.stats if isinstance(exc, ApiError) else _IN_FLIGHT
            results[i] = _failed(changes[i], *_why_failed(exc), time.monotonic(), requests)
            raise
        finally:
            result = results[i]
            if result is not None and result.error and secrets:
                results[i] = dataclasses.replace(result, error=redact(result.error, secrets))
            counter.tick(result is not None and result.status is not Status.FAILED)

    fatal = await _pool(len(work), concurrency, handle, interrupt)
    why = "not started: the token was refused" if fatal else "not started: the run was interrupted"
    final = [
        result or _unsent(changes[i], Status.SKIPPED, "skipped", why)
        for i, result in enumerate(results)
    ]
    requests = sum((r.requests for r in final), RequestStats())
    return ApplyOutcome(final, requests, interrupted=interrupt.stopping, fatal=fatal)


async def _apply_one(client: ApifyClient, change: TaskChange) -> TaskResult:
    """Send one change and verify the answer. Only a 401 and cancellation are raised."""
    started = time.monotonic()
    try:
        if change.action is Action.CREATE:
            reply = await client.create_task(change.payload, lookup_ref=change.key)
            status = Status.CREATED
        else:
            reply = await client.update_task(str(change.task_id), change.payload)
            status = Status.UPDATED
    except ApiError as exc:
        if _refused(exc):
            raise
        why = explain_refused_secret(str(exc), change.secret_fields)
        return _failed(change, exc.kind, why, started, exc.stats)
    except Exception as exc:  # a bug must cost one task, not the run and its report
        return _failed(change, *_why_failed(exc), started)
    task = reply.value
    mismatches = verify(change.payload, task)
    if mismatches:
        why = "did not converge: the API's answer differs from what was sent at " + ", ".join(
            mismatches
        )
        return _failed(change, "did-not-converge", why, started, reply.stats, str(task.get("id")))
    return TaskResult(
        change.key,
        status,
        task_id=str(task.get("id")),
        changes=change.changes,
        requests=reply.stats,
        duration=time.monotonic() - started,
        secret_fields=change.secret_fields,
    )


def _why_failed(exc: BaseException) -> tuple[str, str]:
    """(error type, message) for a task whose write ended in ``exc``."""
    if isinstance(exc, ApiError):
        return exc.kind, str(exc)
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return (
            "interrupted",
            "cancelled while the request was in flight: the change may or may not have been "
            "applied; run again to converge",
        )
    return (
        "internal-error",
        f"unexpected {type(exc).__name__}: {exc} (a bug in tasksync: please report it)",
    )


_IN_FLIGHT = RequestStats(1)
"""What a write cut short is known to have taken: at least one attempt (how many more, the
cancellation does not tell)."""


def _failed(
    change: TaskChange,
    error_type: str,
    message: str,
    started: float,
    requests: RequestStats = _IN_FLIGHT,
    task_id: str | None = None,
) -> TaskResult:
    return TaskResult(
        change.key,
        Status.FAILED,
        task_id=task_id or change.task_id,
        changes=change.changes,
        error_type=error_type,
        error=message,
        requests=requests,
        duration=time.monotonic() - started,
    )
