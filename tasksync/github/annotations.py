"""Workflow commands: ``::error file=,line=,col=::message`` lines, escaped as the runner reads them.

The runner unescapes ``%25``, ``%0D`` and ``%0A`` in a message, and also ``%3A`` and ``%2C`` in a
property value (where ``:`` and ``,`` would end it). An unset ``${VAR}`` is a notice, not an
error: validation runs without secrets, so a variable set only where ``plan`` runs is fine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO

from tasksync.errors import Problem


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: ``:`` and ``,`` would end it, so they are escaped."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str, **properties: str | int | None) -> str:
    """``::name key=value,...::message``; properties that are None are left out."""
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def problem_annotation(problem: Problem, *, level: str = "error") -> str:
    """One problem of a task file as an annotation on its line (when it has one)."""
    message = f"{problem.path}: {problem.message}" if problem.path else problem.message
    file = problem.file if not problem.file.startswith("<") else None
    line = problem.line if file else None
    col = problem.column if line is not None else None
    return workflow_command(level, message, file=file, line=line, col=col)


def github_format(environ: Mapping[str, str], stream: IO[str]) -> bool:
    """``--format github`` by default under GitHub Actions when not writing to a terminal."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return environ.get("GITHUB_ACTIONS") == "true" and not tty
