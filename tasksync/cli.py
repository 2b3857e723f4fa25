"""The command line: parse arguments, call the library, turn the outcome into an exit code.

``main(argv, env)`` takes an injectable environment (streams, variables, whether stdout is a
terminal) so tests run the command line in-process and read what it printed. Errors that are the
user's (a bad file, a revoked token) are printed as one paragraph, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import IO

from tasksync.errors import TasksyncError


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2
    INTERRUPTED = 130


@dataclass
class Env:
    """What a command may touch of the outside world."""

    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stdout_isatty: bool | None = None
    stdin_isatty: bool | None = None

    def __post_init__(self) -> None:
        if self.stdout_isatty is None:
            self.stdout_isatty = _isatty(self.stdout)
        if self.stdin_isatty is None:
            self.stdin_isatty = _isatty(self.stdin)

    def print(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        self.stderr.write(f"tasksync: error: {text}\n")


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


Command = Callable[[argparse.Namespace, Env], int]


def _cmd_validate(args: argparse.Namespace, env: Env) -> int:
    from tasksync import config

    cfg = config.load(args.file, environ=env.environ)
    env.print(f"{args.file}: valid, {len(cfg.tasks)} task{'s' if len(cfg.tasks) != 1 else ''}")
    return ExitStatus.OK


def _cmd_schema(args: argparse.Namespace, env: Env) -> int:
    import json

    from tasksync import config

    env.print(json.dumps(config.schema(), indent=2))
    return ExitStatus.OK


def _cmd_emulator(args: argparse.Namespace, env: Env) -> int:
    from tasksync.emulator import command

    return command.run(args, env.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tasksync",
        description="Configuration as code for Apify Actor tasks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a task file offline")
    p.add_argument("file", help="the task file (YAML)")
    p.set_defaults(run=_cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of the task file")
    p.set_defaults(run=_cmd_schema)

    p = sub.add_parser("emulator", help="run the local Apify-compatible API server")
    from tasksync.emulator import command as emulator_command

    emulator_command.add_arguments(p)
    p.set_defaults(run=_cmd_emulator)
    return parser


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    env = env or Env()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; keep 2 for "usage"
        return int(exc.code or 0)
    run_command: Command = args.run
    try:
        return run_command(args, env)
    except TasksyncError as exc:
        env.error(str(exc))
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        env.error("interrupted")
        return ExitStatus.INTERRUPTED


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
