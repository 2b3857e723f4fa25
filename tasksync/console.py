"""The console: what a command may touch of the outside world, and how it writes there.

``Env`` holds the streams, the environment variables and whether they are terminals, so tests run
the command line in-process and read what it printed; it decides on color (``--color``, then
``NO_COLOR``, then ``FORCE_COLOR``, then whether stdout is a terminal). ``check_output_path``
refuses an output path that cannot be written before any request is sent, and ``write_atomic``
writes files so that a reader never sees half of one. ``ProgressPrinter`` draws progress on
stderr, so stdout stays machine-readable: on a terminal one line per phase is redrawn in place at
most ten times a second (a bar, then done/total, rate, errors and ETA); elsewhere (CI logs) the
same figures are printed as a plain line every few seconds and at the end, without the bar.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO

from tasksync.errors import TasksyncError

COLOR_MODES = ("auto", "always", "never")

STDOUT = "-"
"""An output path that means standard output (``--out -``, ``-o -``)."""


def isatty(stream: IO[str]) -> bool:
    """Whether a stream is a terminal (False for closed or file-like streams without a fd)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Env:
    """What a command may touch of the outside world."""

    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stdout_isatty: bool | None = None
    stdin_isatty: bool | None = None
    color_mode: str = "auto"

    def __post_init__(self) -> None:
        if self.stdout_isatty is None:
            self.stdout_isatty = isatty(self.stdout)
        if self.stdin_isatty is None:
            self.stdin_isatty = isatty(self.stdin)

    @property
    def color(self) -> bool:
        """``--color always|never`` decides; ``auto`` colors a terminal unless ``NO_COLOR`` is set
        (https://no-color.org), and colors anything when ``FORCE_COLOR`` is (CI logs show it)."""
        if self.color_mode != "auto":
            return self.color_mode == "always"
        if self.environ.get("NO_COLOR"):
            return False
        if self.environ.get("FORCE_COLOR", "0") not in ("", "0", "false"):
            return True
        return bool(self.stdout_isatty)

    def print(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        self.stderr.write(f"tasksync: error: {text}\n")

    def warning(self, text: str) -> None:
        self.stderr.write(f"tasksync: warning: {text}\n")

    def progress(self) -> ProgressPrinter:
        # The bar is redrawn with control characters: only when stderr, where it goes, is a
        # terminal too (stdout alone could be one while stderr goes to a log file).
        return ProgressPrinter(self.stderr, tty=bool(self.stdout_isatty) and isatty(self.stderr))


class OutputError(TasksyncError):
    """An output file cannot be written (a missing folder, a directory, no permission)."""


def check_output_path(path: str | None, option: str) -> None:
    """Refuse, before any request is sent, an output path that ``write_atomic`` could not write:
    its folder is missing or not a folder, the path is a directory, or either is not writable."""
    if path is None or path == STDOUT:
        return
    where = f"{option} {path}"
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise OutputError(f"cannot write {where}: it is a directory; name a file in it")
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise OutputError(f"cannot write {where}: the folder {folder} {what}")
    if not os.access(folder, os.W_OK | os.X_OK) or (
        os.path.exists(path) and not os.access(path, os.W_OK)
    ):
        raise OutputError(f"cannot write {where}: permission denied")


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so that a reader never
    sees half of it. Commands write their outputs inside the event loop, whose signal handling
    turns SIGINT and SIGTERM into events: a signal cannot cut a write short. A failure is an
    ``OutputError`` that names ``path``, never the temporary file."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tasksync-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_output(path: str, text: str, env: Env) -> None:
    """``write_atomic``, or standard output when ``path`` is ``-``."""
    if path == STDOUT:
        env.stdout.write(text)
        env.stdout.flush()
    else:
        write_atomic(path, text)


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
