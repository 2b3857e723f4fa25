"""The worker pool: refresh (GET every task) and apply (PUT/POST the changed ones).

Each phase runs a fixed number of workers in one anyio task group, pulling work from a shared
iterator, so memory and scheduling cost do not grow with the number of tasks. A failure of one
task is recorded and never stops the others, except an error of the whole API (``stops_run``: a
refused token, a wrong API URL, an API that cannot be reached), which stops the phase at once:
every further request would fail the same way. The pool has as many workers as the client's
concurrency gate can ever admit (``gate.limit.maximum``); the gate decides how many are in
flight at a time.

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
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from tasksync.api import ApifyClient, Reply
from tasksync.diff import verify
from tasksync.errors import ApiError, ApiUrlError, UnreachableError
from tasksync.model import JSON, Action, RemoteTask, RequestStats, Status, TaskChange, TaskResult
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


def _workers(client: ApifyClient, concurrency: int | None) -> int:
    return concurrency if concurrency is not None else client.gate.limit.maximum


async def _pool(
    count: int,
    concurrency: int,
    handle: Callable[[int], Awaitable[None]],
    interrupt: Interrupt,
) -> ApiError | None:
    """Run ``await handle(i)`` for i in range(count) on ``concurrency`` workers, until done,
    stopped or cancelled by ``interrupt``. Returns the error that stopped the pool early (one
    whose ``stops_run`` is set), if any."""
    indices = iter(range(count))
    fatal: list[ApiError] = []

    async def worker() -> None:
        for i in indices:
            if interrupt.stopping or fatal:
                return
            try:
                await handle(i)
            except ApiError as exc:
                if not exc.stops_run:
                    raise
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
    if not fatal:
        return None
    # Workers in flight when the run stopped may have failed the same way: what they spent is
    # the stop's cost too (a refresh has no other place to count it).
    fatal[0].stats = sum((exc.stats for exc in fatal), RequestStats())
    return fatal[0]


@dataclass(frozen=True, slots=True)
class Fetched:
    """One task read by ``refresh``: the task or the error it got, and what that took."""

    index: int
    task: RemoteTask | ApiError
    requests: RequestStats


async def _ready(receive: MemoryObjectReceiveStream[Fetched]) -> AsyncIterator[Fetched]:
    """Every item of ``receive``, waiting only when none is ready."""
    while True:
        try:
            item = receive.receive_nowait()
        except anyio.WouldBlock:
            try:
                item = await receive.receive()
            except anyio.EndOfStream:
                return
        except anyio.EndOfStream:
            return
        yield item


@asynccontextmanager
async def refresh(
    client: ApifyClient,
    refs: Sequence[str],
    *,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
    get: Callable[[str], Awaitable[Reply[dict[str, JSON]]]] | None = None,
) -> AsyncIterator[AsyncIterator[Fetched]]:
    """GET every task that ``refs`` name (IDs or ``username~name``), yielding each as it arrives,
    in any order (``get`` reads one: ``client.get_task`` unless another resource is read)::

        async with refresh(client, refs) as fetched:
            async for item in fetched:
                ...

    Any error but one that stops the run is that task's result. One that stops the run is
    raised once the iteration is over, and so is ``Interrupted`` when the phase stopped before
    every task was read. ``concurrency`` is the number of workers (default: as many as the
    client's gate can admit).
    """
    concurrency = _workers(client, concurrency)
    interrupt = interrupt or Interrupt()
    counter = _Counter("refresh", len(refs), progress)
    # Unbounded: the caller keeps every result anyway, so a worker hands its result over without
    # waiting (``send_nowait``) and the caller takes every result that is ready without a task
    # switch (``_ready``): the stream's awaiting calls yield to the event loop once per item.
    send, receive = anyio.create_memory_object_stream[Fetched](math.inf)
    fatal: ApiError | None = None

    async def handle(i: int) -> None:
        result: RemoteTask | ApiError
        try:
            reply = await (get or client.get_task)(refs[i])
            result, requests = RemoteTask(reply.value), reply.stats
        except ApiError as exc:
            if exc.stops_run:
                raise
            result, requests = exc, exc.stats
        send.send_nowait(Fetched(i, result, requests))
        counter.tick(not isinstance(result, ApiError) or result.status == 404)

    async def produce() -> None:
        nonlocal fatal
        async with send:
            fatal = await _pool(len(refs), concurrency, handle, interrupt)

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        async with receive:
            yield _ready(receive)
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


def settled(
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
        return unsent(change, Status.SKIPPED, "skipped", why)
    if change.key in stale:
        return unsent(change, Status.STALE, "stale", stale[change.key])
    return None


def not_started(changes: Sequence[TaskChange], why: str) -> list[TaskResult]:
    """Every change's result when the run stopped before sending any: the ones that were to be
    sent are ``skipped`` with ``why``."""
    return [
        settled(change, {}, create_missing=True) or unsent(change, Status.SKIPPED, "skipped", why)
        for change in changes
    ]


def unsent(change: TaskChange, status: Status, error_type: str, why: str) -> TaskResult:
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
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> ApplyOutcome:
    """Send every change that is to be applied; verify each answer; give every change a result.

    ``stale`` maps the keys of changes that must not be sent to why.
    """
    return await send_all(
        client,
        changes,
        [settled(change, stale, create_missing) for change in changes],
        partial(_apply_one, client),
        phase="apply",
        concurrency=concurrency,
        progress=progress,
        interrupt=interrupt,
    )


async def send_all(
    client: ApifyClient,
    changes: Sequence[TaskChange],
    results: Sequence[TaskResult | None],
    send: Callable[[TaskChange], Awaitable[TaskResult]],
    *,
    phase: str,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> ApplyOutcome:
    """``send`` every change whose result is not settled yet (None in ``results``) on the pool;
    every change gets a result. ``send`` returns a change's result; it raises only an error
    that stops the run (the change is then ``failed`` with it) or cancellation (``failed`` as
    interrupted in flight). Changes never started are ``skipped``, saying why. The values from
    the environment in the payloads are redacted from every message."""
    interrupt = interrupt or Interrupt()
    final = list(results)
    work = [i for i, result in enumerate(final) if result is None]
    counter = _Counter(phase, len(work), progress)
    secrets = secret_values([changes[i] for i in work])

    async def handle(n: int) -> None:
        i = work[n]
        started = time.monotonic()
        try:
            final[i] = await send(changes[i])
        except BaseException as exc:  # the run stops, or cancelled: recorded, then passed on
            requests = exc.stats if isinstance(exc, ApiError) else _IN_FLIGHT
            final[i] = failed(changes[i], *_why_failed(exc), started, requests)
            raise
        finally:
            result = final[i]
            if result is not None and result.error and secrets:
                final[i] = dataclasses.replace(result, error=redact(result.error, secrets))
            counter.tick(result is not None and result.status is not Status.FAILED)

    fatal = await _pool(len(work), _workers(client, concurrency), handle, interrupt)
    why = f"not started: {_stopped_by(fatal)}" if fatal else "not started: the run was interrupted"
    done = [
        result or unsent(changes[i], Status.SKIPPED, "skipped", why)
        for i, result in enumerate(final)
    ]
    requests = sum((r.requests for r in done), RequestStats())
    return ApplyOutcome(done, requests, interrupted=interrupt.stopping, fatal=fatal)


async def _apply_one(client: ApifyClient, change: TaskChange) -> TaskResult:
    """Send one change and verify the answer. Only errors that stop the run and cancellation
    are raised."""
    started = time.monotonic()
    try:
        if change.action is Action.CREATE:
            reply = await client.create_task(change.payload, lookup_ref=change.key)
            status = Status.CREATED
        else:
            reply = await client.update_task(str(change.task_id), change.payload)
            status = Status.UPDATED
    except ApiError as exc:
        if exc.stops_run:
            raise
        why = explain_refused_secret(str(exc), change.secret_fields)
        return failed(change, exc.kind, why, started, exc.stats)
    except Exception as exc:  # a bug must cost one task, not the run and its report
        return failed(change, *_why_failed(exc), started)
    return written(change, status, reply, verify(change.payload, reply.value), started)


def written(
    change: TaskChange,
    status: Status,
    reply: Reply[dict[str, JSON]],
    mismatches: Sequence[str],
    started: float,
) -> TaskResult:
    """The result of a write the API answered (``status``: updated or created); ``failed`` as
    ``did-not-converge`` where the answer differs from what was sent (``mismatches``)."""
    live_id = str(reply.value.get("id"))
    if mismatches:
        why = "did not converge: the API's answer differs from what was sent at " + ", ".join(
            mismatches
        )
        return failed(change, "did-not-converge", why, started, reply.stats, live_id)
    return TaskResult(
        change.key,
        status,
        task_id=live_id,
        changes=change.changes,
        requests=reply.stats,
        duration=time.monotonic() - started,
        secret_fields=change.secret_fields,
    )


def _stopped_by(error: ApiError) -> str:
    """Why a run stopped, for the tasks it did not start."""
    if isinstance(error, ApiUrlError):
        return "the API URL is wrong"
    if isinstance(error, UnreachableError):
        return "the API could not be reached"
    return "the token was refused"


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


def failed(
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
