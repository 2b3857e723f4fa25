"""Helpers for tests that run the command line in-process against a live emulator.

The command line runs its own event loop (``anyio.run``), so these tests keep the emulator on a
second event loop in a background thread (an anyio blocking portal) and talk to it over loopback.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal

from tasksync.cli import Env, main
from tasksync.emulator import Emulator, EmulatorSettings


@contextmanager
def threaded_emulator(settings: EmulatorSettings | None = None) -> Iterator[Emulator]:
    with start_blocking_portal(backend="asyncio") as portal:
        emulator = Emulator(settings or EmulatorSettings())
        with portal.wrap_async_context_manager(emulator) as emu:
            yield emu


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_cli(
    *argv: str,
    emu: Emulator | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: str = "",
    tty: bool = False,
) -> Result:
    """Run ``tasksync ARGV`` in-process, pointed at ``emu``; return exit code and output."""
    env_vars: dict[str, str] = {}
    if emu is not None:
        env_vars = {"APIFY_TOKEN": emu.token, "APIFY_API_BASE_URL": emu.url}
    env_vars.update(environ or {})
    out, err = io.StringIO(), io.StringIO()
    env = Env(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(stdin),
        environ=env_vars,
        stdout_isatty=tty,
        stdin_isatty=tty,
    )
    code = main(list(argv), env)
    return Result(int(code), out.getvalue(), err.getvalue())


def write_file(folder: Path, text: str, name: str = "tasks.yaml") -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def seed(emu: Emulator, name: str, **fields: Any) -> dict[str, Any]:
    """Create task ``janedoe~name`` in the emulator."""
    fields.setdefault("actor", "apify~web-scraper")
    task: dict[str, Any] = emu.state.add_task(username="janedoe", name=name, **fields)
    return task
