"""Running a command under signals: the event loop, and the two-stage interrupt as two events.

``run(work, outputs)`` starts the event loop with a signal watcher beside the work. The first
SIGINT or SIGTERM sets ``Interrupt.stop`` (no new requests start; in-flight ones may finish for
``grace`` seconds), a second one (or the end of the grace period) sets ``Interrupt.cancel``
(in-flight requests are cancelled). The engine watches both events.

``outputs`` (the report, the summaries) are written inside the loop after the work has returned,
while the watcher still owns the signals: a signal that comes then cannot cut them short; it is
reported and otherwise ignored, since the run it would stop is over.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Awaitable, Callable
from typing import IO, TypeVar

import anyio

T = TypeVar("T")


class Interrupted(Exception):
    """A phase was stopped by an ``Interrupt`` before it finished."""


class Interrupt:
    """Stop gracefully (``stop``), then forcefully (``cancel``): two events, set once each."""

    def __init__(self) -> None:
        self.stop = anyio.Event()
        self.cancel = anyio.Event()

    @property
    def stopping(self) -> bool:
        return self.stop.is_set()

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def request_stop(self) -> None:
        self.stop.set()

    def cancel_now(self) -> None:
        self.stop.set()
        self.cancel.set()


def run(
    work: Callable[[Interrupt], Awaitable[T]],
    outputs: Callable[[T], None] | None = None,
    *,
    stderr: IO[str],
    grace: float = 10.0,
) -> T:
    """Run ``work`` in an event loop that turns SIGINT and SIGTERM into an ``Interrupt``, then
    ``outputs(result)`` in the same loop."""
    return anyio.run(_main, work, outputs, stderr, grace)


async def _main(
    work: Callable[[Interrupt], Awaitable[T]],
    outputs: Callable[[T], None] | None,
    stderr: IO[str],
    grace: float,
) -> T:
    interrupt = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        result = await work(interrupt)  # signals can only be received on the main thread
        if outputs is not None:
            outputs(result)
        return result
    watcher = _Watcher(interrupt, stderr, grace)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(watcher.watch)  # the signals are ours from here on
            result = await work(interrupt)
            watcher.ended = True
            if outputs is not None:
                outputs(result)
                # A signal that came while the outputs were written is waiting in the loop's
                # queue: let the watcher report it before it goes.
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # Only the work can fail (the watcher does not): surface its own error.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    return result


class _Watcher:
    def __init__(self, interrupt: Interrupt, stderr: IO[str], grace: float) -> None:
        self.interrupt = interrupt
        self.stderr = stderr
        self.grace = grace
        self.ended = False

    async def watch(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async with anyio.create_task_group() as tg:
                async for signum in signals:
                    self._on(signal.Signals(signum).name, tg)

    def _on(self, name: str, tg: anyio.abc.TaskGroup) -> None:
        if self.ended:
            self.stderr.write(
                f"tasksync: {name} arrived after the run had ended; its outputs are complete\n"
            )
        elif not self.interrupt.stopping:
            self.stderr.write(
                f"\n{name}: stopping; no new requests start, in-flight ones get "
                f"{self.grace:.0f}s to finish (send it again to cancel them now)\n"
            )
            self.interrupt.request_stop()
            tg.start_soon(self._cancel_later)
        else:
            self.stderr.write(f"\n{name}: cancelling in-flight requests\n")
            self.interrupt.cancel_now()

    async def _cancel_later(self) -> None:
        await anyio.sleep(self.grace)
        self.interrupt.cancel_now()
