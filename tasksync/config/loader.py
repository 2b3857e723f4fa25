"""Loading a task file: bytes -> ``Config``, or a ``ConfigError`` with every problem placed.

One pass per job, so a 10,000-task file loads in about a second of CPU:

1. read the bytes (size cap checked before reading, UTF-8 checked) and build plain JSON values
   from the YAML events (``yamlread``: safe tags only, duplicate keys, merge keys, alias and depth
   limits);
2. validate the document as written against the JSON Schema, once (``validation``);
3. per task: expand ``${VAR}``, merge ``defaults``, check what the schema cannot (``tasks``).

Every problem becomes an ``errors.Problem`` with the file, line, column and path
(``tasks[3].options.memoryMbytes``), and all of them are raised together in one ``ConfigError``.
Positions cost nothing when the file is valid: they are looked up by walking the file again
(``yamllocate``) only when there is a problem to place. A value that came from ``defaults`` is
reported at ``defaults``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from tasksync.config import interpolate, prune, schedules, tasks, validation, yamllocate, yamlread
from tasksync.config.issues import Issue, Path, Pos, dotted
from tasksync.errors import ConfigError, Problem
from tasksync.model import Prune, Safety, TaskSpec
from tasksync.schedules.model import ScheduleSpec
from tasksync.text import visible

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Task files larger than this (20 MiB) are refused before they are read."""


@dataclass(frozen=True, slots=True)
class Config:
    """A valid task file: where it was read from, its tasks in file order, its safety limits, and
    the notes that are not problems (unset variables when ``load`` did not require them), with
    file and line like problems."""

    path: str
    tasks: tuple[TaskSpec, ...] = ()
    safety: Safety = field(default_factory=Safety)
    notes: tuple[Problem, ...] = ()
    actors: Mapping[str, str] = field(default_factory=dict)
    """``actors:``: Actor -> local input schema file (as written, relative to the file)."""
    schedules: tuple[ScheduleSpec, ...] = ()
    prune: Prune | None = None
    """``prune:``: what the file owns (None: nothing is ever deleted)."""


def load(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> Config:
    """Read and validate the task file at ``path``; ``${VAR}`` reads ``environ`` (``os.environ``).

    With ``require_env`` (plan, apply), an unset variable without fallback is a problem; without
    it (validate, which must run without secrets), it is one of ``Config.notes`` and its
    reference stays in the value as a placeholder. Raises ``ConfigError`` with every problem found.
    """
    file = os.fspath(path)
    environ = os.environ if environ is None else environ
    return _load(_read_file(file), file, environ, require_env)


def load_text(
    text: str | bytes,
    filename: str = "tasks.yaml",
    *,
    environ: Mapping[str, str] | None = None,
    require_env: bool = True,
) -> Config:
    """Like ``load``, for a task file already in memory; ``filename`` is used in messages."""
    if isinstance(text, str):
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            message = f"the text is not valid Unicode ({exc.reason})"
            raise ConfigError([Problem(filename, None, None, "", message)]) from None
    else:
        data = bytes(text)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([Problem(filename, None, None, "", _too_big(len(data)))])
    return _load(data, filename, os.environ if environ is None else environ, require_env)


def expand(template: str, environ: Mapping[str, str]) -> str:
    """Expand the ``${VAR}`` references of one string, as the loader does.

    Raises ``ConfigError`` when a variable is unset or a reference is malformed.
    """
    result = interpolate.expand_string(template, environ)
    messages = [tasks.unset_message(name, []) for name in result.missing]
    if result.error:
        messages.append(result.error)
    if messages:
        raise ConfigError([Problem("<environment>", None, None, "", m) for m in messages])
    return result.value


# -- reading -----------------------------------------------------------------------------------


def _read_file(file: str) -> bytes:
    def fail(message: str) -> ConfigError:
        return ConfigError([Problem(file, None, None, "", message)])

    try:
        info = os.stat(file)
        if stat.S_ISDIR(info.st_mode):
            raise fail("this is a directory; give the path of a task file (YAML)")
        if info.st_size > MAX_FILE_BYTES:
            raise fail(_too_big(info.st_size))
        with open(file, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # a pipe or a growing file has no reliable size
    except FileNotFoundError:
        raise fail("no such file") from None
    except IsADirectoryError:
        raise fail("this is a directory; give the path of a task file (YAML)") from None
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise fail(_too_big(len(data)))
    return data


def _too_big(size: int) -> str:
    mib = 1024 * 1024
    return (
        f"the file is {size / mib:.1f} MiB; task files are limited to {MAX_FILE_BYTES // mib} MiB"
    )


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        line = head.count(b"\n") + 1
        column = len(head[head.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        message = f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        raise ConfigError([Problem(file, line, column, "", message)]) from None


# -- the pipeline ------------------------------------------------------------------------------


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. Loading allocates hundreds of thousands of mappings and
    lists and no cycle, so its collections are pure overhead (about a fifth of the CPU time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(data: bytes, file: str, environ: Mapping[str, str], require_env: bool) -> Config:
    with gc_paused():
        return _load_data(data, file, environ, require_env)


def _load_data(data: bytes, file: str, environ: Mapping[str, str], require_env: bool) -> Config:
    text = _decode(data, file)
    try:
        document = yamlread.read(data, text)
    except yamlread.Unreadable as exc:
        raise ConfigError(_problems(file, exc.issues, data, text)) from None
    root = document.value
    if type(root) is not dict:
        shown = "empty (null)" if root is None else "a list" if type(root) is list else "a scalar"
        message = f"the document is {shown}; a task file is a mapping with 'version: 1' and 'tasks'"
        raise ConfigError([Problem(file, 1, 1, "", message)])
    issues = [*document.issues, *validation.check(root)]
    built = tasks.build(root, document.task_positions, environ, file, require_env=require_env)
    issues += built.issues
    timed = schedules.build(root, environ, file)
    issues += timed.issues
    unset = [
        Issue(uses[0], None, tasks.unset_message(n, uses[1:])) for n, uses in timed.unset.items()
    ]
    if require_env:
        issues += unset
    owned, more = prune.build(root)
    issues += more
    if issues:
        raise ConfigError(_problems(file, issues, data, text))
    safety = root.get("safety") or {}
    return Config(
        path=file,
        tasks=tuple(built.specs),
        safety=Safety(
            max_changed_fraction=float(safety.get("maxChangedFraction", 0.3)),
            min_tasks=int(safety.get("minTasks", 10)),
        ),
        notes=tuple(_problems(file, [*built.notes, *([] if require_env else unset)], data, text)),
        actors=dict(root.get("actors") or {}),
        schedules=tuple(timed.specs),
        prune=owned,
    )


def _problems(file: str, issues: list[Issue], data: bytes, text: str) -> list[Problem]:
    positions: dict[Path, Pos] | None = None
    problems = []
    for issue in issues:
        pos = issue.pos
        if pos is None:
            if positions is None:
                positions = yamllocate.locate(data, text)
            pos = yamllocate.position(positions, issue.path)
        line, column = pos if pos is not None else (None, None)
        path = visible(dotted(issue.path))
        problems.append(Problem(file, line, column, path, visible(issue.message)))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems
