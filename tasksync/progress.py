"""Progress lines for long phases, written to stderr so stdout stays machine-readable.

On a terminal one line per phase is redrawn in place at most ten times a second: a bar, then
done/total, rate, errors and ETA. Elsewhere (CI logs) the same figures are printed as a plain line
every few seconds and at the end, without the bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO


class ProgressPrinter:
    def __init__(
        self,
        stream: IO[str],
        *,
        tty: bool,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._tty = tty
        self._interval = interval if interval is not None else (0.1 if tty else 5.0)
        self._clock = clock
        self._phase: str | None = None
        self._started = 0.0
        self._last = 0.0

    def __call__(self, phase: str, done: int, total: int, errors: int) -> None:
        now = self._clock()
        if phase != self._phase:
            self._phase, self._started, self._last = phase, now, now
        finished = done >= total
        if not finished and now - self._last < self._interval:
            return
        self._last = now
        elapsed = max(now - self._started, 1e-9)
        rate = done / elapsed
        line = f"{phase}: {done}/{total} tasks, {rate:.0f}/s, {errors} errors"
        if not finished and rate > 0:
            line += f", ETA {(total - done) / rate:.0f}s"
        if self._tty:
            bar = _bar(done, total)
            self._stream.write("\r\x1b[2K" + bar + line + ("\n" if finished else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width * done // total if total else width
    return "[" + "#" * filled + "-" * (width - filled) + "] "
