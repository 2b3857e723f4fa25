"""Running a command's async work from the synchronous command line: event loop, signals, files.

``Runner.run`` starts the event loop, turns the first SIGINT/SIGTERM into a graceful stop (no new
requests; in-flight ones may finish for ``grace`` seconds) and a second one into cancellation of
what is in flight. ``write_atomic`` writes report and plan files so that a reader never sees half
of one, even when the process is killed while writing; SIGINT and SIGTERM wait until it is done.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import IO, TYPE_CHECKING, TypeVar

import anyio

from tasksync.engine import Interrupt
from tasksync.progress import ProgressPrinter

if TYPE_CHECKING:
    from tasksync.cli import Env

T = TypeVar("T")

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def isatty(stream: IO[str]) -> bool:
    """Whether a stream is a terminal (False for closed or file-like streams without a fd)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Runner:
    def __init__(self, env: Env, *, grace: float = 10.0) -> None:
        self.env = env
        self.grace = grace
        self._held_mask: set[int | signal.Signals] | None = None
        # The bar is redrawn with control characters: only when stderr, where it goes, is a
        # terminal too (stdout alone could be one while stderr goes to a log file).
        self.progress = ProgressPrinter(
            env.stderr, tty=bool(env.stdout_isatty) and isatty(env.stderr)
        )

    def run(self, work: Callable[[Interrupt], Awaitable[T]], *, then_hold: bool = False) -> T:
        """Run the work in an event loop that turns SIGINT and SIGTERM into an ``Interrupt``.

        With ``then_hold``, the two signals are blocked from the moment the work has returned
        (still inside the loop, before its handlers go) until ``release()``: what the caller
        writes then (the report, the summaries) cannot be cut short by a signal.
        """
        return anyio.run(self._main, work, then_hold)

    def release(self) -> list[str]:
        """Unblock the signals held since the work ended; return the names of those that came
        meanwhile. They are consumed, not delivered: the run they would stop was over."""
        previous, self._held_mask = self._held_mask, None
        if previous is None:
            return []
        arrived = sorted(signal.sigpending() & _STOP_SIGNALS)
        for signum in arrived:
            signal.sigwait({signum})
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return [signal.Signals(signum).name for signum in arrived]

    async def _main(self, work: Callable[[Interrupt], Awaitable[T]], then_hold: bool) -> T:
        interrupt = Interrupt()
        if threading.current_thread() is not threading.main_thread():
            return await work(interrupt)  # signals can only be received on the main thread
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch_signals, interrupt)
                result = await work(interrupt)
                if then_hold and hasattr(signal, "pthread_sigmask"):
                    self._held_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # Only the work can fail (the signal watcher does not): surface its own error.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        return result

    async def _watch_signals(self, interrupt: Interrupt) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with anyio.create_task_group() as tg:
                async for signum in signals:
                    name = signal.Signals(signum).name
                    if not interrupt.stopping:
                        self.env.stderr.write(
                            f"\n{name}: stopping; no new requests start, in-flight ones get "
                            f"{self.grace:.0f}s to finish (send it again to cancel them now)\n"
                        )
                        interrupt.request_stop()
                        tg.start_soon(self._cancel_later, interrupt)
                    else:
                        self.env.stderr.write(f"\n{name}: cancelling in-flight requests\n")
                        interrupt.cancel_now()

    async def _cancel_later(self, interrupt: Interrupt) -> None:
        await anyio.sleep(self.grace)
        interrupt.cancel_now()


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    SIGINT and SIGTERM are held back meanwhile (they take effect once the file is in place):
    the report is written after the event loop, and so its signal handling, has ended, and a
    signal in the middle would otherwise lose the file and, for SIGTERM, leave the temporary
    one behind.
    """
    directory = os.path.dirname(os.path.abspath(path))
    with _signals_held():
        fd, tmp = tempfile.mkstemp(prefix=".tasksync-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Block SIGINT and SIGTERM for the calling thread; pending ones arrive at the end."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
