"""The worker pool, and the refresh that reads every task on it.

``pool`` runs a fixed number of workers in one anyio task group, pulling work from a shared
iterator, so memory and scheduling cost do not grow with the number of tasks. A failure of one
item is recorded by its handler and never stops the others, except an error of the whole API
(``stops_run``: a refused token, a wrong API URL, an API that cannot be reached), which stops
the pool at once: every further request would fail the same way. The pool has as many workers
as the client's concurrency gate can ever admit (``gate.limit.maximum``); the gate decides how
many are in flight at a time. ``writes`` sends changes on the same pool.

``refresh`` yields each task as it arrives, so the caller diffs it while the other requests are
in flight; each carries the requests it took.

Interruption is cooperative (``tasksync.run.Interrupt``): once ``stop`` is set, workers start no
new request while in-flight ones finish; once ``cancel`` is set, the in-flight ones are cancelled
too.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from tasksync.api import ApifyClient, Reply
from tasksync.errors import ApiError
from tasksync.model import JSON, RemoteTask, RequestStats
from tasksync.run import Interrupt, Interrupted

ProgressCallback = Callable[[str, int, int, int], None]
"""Called as ``(phase, done, total, errors)`` after each finished item."""


@dataclass
class Counter:
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


def workers(client: ApifyClient, concurrency: int | None) -> int:
    return concurrency if concurrency is not None else client.gate.limit.maximum


async def pool(
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
    concurrency = workers(client, concurrency)
    interrupt = interrupt or Interrupt()
    counter = Counter("refresh", len(refs), progress)
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
            fatal = await pool(len(refs), concurrency, handle, interrupt)

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        async with receive:
            yield _ready(receive)
    if fatal is not None:
        raise fatal
    if counter.done < len(refs):
        raise Interrupted(f"interrupted after reading {counter.done} of {len(refs)} tasks")


async def read_listed(
    client: ApifyClient,
    refs: Sequence[str],
    *,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
    get: Callable[[str], Awaitable[Reply[dict[str, JSON]]]] | None = None,
) -> list[RemoteTask | None]:
    """Read everything a listing named (``refresh``), in its order: None for what was deleted
    between the listing and the read (a 404); any other error is raised."""
    found: list[RemoteTask | None] = [None] * len(refs)
    async with refresh(
        client, refs, concurrency=concurrency, progress=progress, interrupt=interrupt, get=get
    ) as fetched:
        async for item in fetched:
            if isinstance(item.task, ApiError):
                if item.task.status == 404:
                    continue  # deleted between the listing and the read
                raise item.task
            found[item.index] = item.task
    return found
