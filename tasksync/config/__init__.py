"""The task file: YAML -> ``Config`` (every task's ``TaskSpec``, the safety limits) or all problems.

One pass per job, so a 10,000-task file loads in about a second of CPU:

1. read the bytes (size cap checked before reading, UTF-8 checked) and build plain JSON values
   from the YAML events (``yamlread``: safe tags only, duplicate keys, merge keys, alias and depth
   limits);
2. validate the document as written against the JSON Schema, once (``validation``);
3. per task: expand ``${VAR}`` in title, description, options and input (``interpolate``), merge
   ``defaults`` under it, and check what the schema cannot: duplicate tasks, unset variables.

Every problem becomes an ``errors.Problem`` with the file, line, column and path
(``tasks[3].options.memoryMbytes``), and all of them are raised together in one ``ConfigError``.
Positions cost nothing when the file is valid: they are looked up by parsing the file again only
when there is a problem to place. A value that came from ``defaults`` is reported at ``defaults``.

``${VAR}`` expands in the values of title, description, options and input (of ``defaults`` and of
each task), never in keys nor in ``task``, ``actor``, ``ignore`` or ``sensitive``. A value that
read a variable from the environment is sensitive and listed in ``TaskSpec.env_refs`` with its
template; a value that only used a fallback (``${KEY:-demo}`` with ``KEY`` unset) is not.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tasksync.config import interpolate, prune, schedules, validation, yamlread
from tasksync.config.validation import schema
from tasksync.config.yamlread import Issue, Path
from tasksync.errors import ConfigError, Problem
from tasksync.model import JSON, MANAGED_FIELDS, Location, Prune, Safety, TaskRef, TaskSpec
from tasksync.schedules.model import ScheduleSpec
from tasksync.text import shorten, visible

__all__ = [
    "MAX_FILE_BYTES",
    "Config",
    "Safety",
    "expand",
    "load",
    "load_text",
    "schema",
]

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Task files larger than this (20 MiB) are refused before they are read."""

_EXPANDED_FIELDS = ("title", "description", "options", "input")
_INTEGER_OPTIONS = ("timeoutSecs", "memoryMbytes", "maxItems")


@dataclass(frozen=True, slots=True)
class Config:
    """A valid task file: where it was read from, its tasks in file order, its safety limits."""

    path: str
    tasks: tuple[TaskSpec, ...] = ()
    safety: Safety = field(default_factory=Safety)
    actors: Mapping[str, str] = field(default_factory=dict)
    """``actors:``: Actor -> local input schema file (as written, relative to the file)."""
    schedules: tuple[ScheduleSpec, ...] = ()
    prune: Prune | None = None
    """``prune:``: what the file owns (None: nothing is ever deleted)."""


def load(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the task file at ``path``; ``${VAR}`` reads ``environ`` (``os.environ``).

    Raises ``ConfigError`` with every problem found.
    """
    file = os.fspath(path)
    return _load(_read_file(file), file, os.environ if environ is None else environ)


def load_text(
    text: str | bytes,
    filename: str = "tasks.yaml",
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Like ``load``, for a task file already in memory; ``filename`` is used in messages."""
    if isinstance(text, str):
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigError(
                [Problem(filename, None, None, "", f"the text is not valid Unicode ({exc.reason})")]
            ) from None
    else:
        data = bytes(text)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([Problem(filename, None, None, "", _too_big(len(data)))])
    return _load(data, filename, os.environ if environ is None else environ)


def expand(template: str, environ: Mapping[str, str]) -> str:
    """Expand the ``${VAR}`` references of one string, as the loader does.

    Raises ``ConfigError`` when a variable is unset or a reference is malformed.
    """
    result = interpolate.expand_string(template, environ)
    messages = [_unset_message(name, []) for name in result.missing]
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
        raise ConfigError(
            [
                Problem(
                    file,
                    line,
                    column,
                    "",
                    f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
                )
            ]
        ) from None


# -- the pipeline ------------------------------------------------------------------------------


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. Loading allocates hundreds of thousands of mappings and
    lists and no cycle, so its collections are pure overhead (about a fifth of the CPU time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(data: bytes, file: str, environ: Mapping[str, str]) -> Config:
    with _gc_paused():
        return _load_data(data, file, environ)


def _load_data(data: bytes, file: str, environ: Mapping[str, str]) -> Config:
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
    build = _Build(root, document.task_positions, environ, file)
    issues += build.issues
    timed = schedules.build(root, environ, file)
    issues += timed.issues
    issues += [Issue(uses[0], None, _unset_message(n, uses[1:])) for n, uses in timed.unset.items()]
    owned, more = prune.build(root)
    issues += more
    if issues:
        raise ConfigError(_problems(file, issues, data, text))
    safety = root.get("safety") or {}
    return Config(
        path=file,
        tasks=tuple(build.specs),
        safety=Safety(
            max_changed_fraction=float(safety.get("maxChangedFraction", 0.3)),
            min_tasks=int(safety.get("minTasks", 10)),
        ),
        actors=dict(root.get("actors") or {}),
        schedules=tuple(timed.specs),
        prune=owned,
    )


def _problems(file: str, issues: list[Issue], data: bytes, text: str) -> list[Problem]:
    positions: dict[Path, yamlread.Pos] | None = None
    problems = []
    for issue in issues:
        pos = issue.pos
        if pos is None:
            if positions is None:
                positions = yamlread.locate(data, text)
            pos = yamlread.position(positions, issue.path)
        line, column = pos if pos is not None else (None, None)
        path = visible(yamlread.dotted(issue.path))
        problems.append(Problem(file, line, column, path, visible(issue.message)))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


class _Build:
    """Step 3: expand, merge defaults, check across tasks, and make the ``TaskSpec``s.

    It runs even when the schema found problems, to report everything at once, so it only
    assumes the shapes it checks itself.
    """

    def __init__(
        self,
        root: dict[str, JSON],
        task_positions: list[yamlread.Pos],
        environ: Mapping[str, str],
        file: str,
    ) -> None:
        self.environ = environ
        self.issues: list[Issue] = []
        self.specs: list[TaskSpec] = []
        self.unset: dict[str, list[Path]] = {}  # variable -> where it is used
        defaults = root.get("defaults")
        defaults = defaults if type(defaults) is dict else {}
        default_refs = self._expand(defaults, ("defaults",))
        tasks = root.get("tasks")
        tasks = tasks if type(tasks) is list else []
        if len(task_positions) != len(tasks):  # the list came from an alias: no positions
            task_positions = []
        first: dict[str, int] = {}
        for index, entry in enumerate(tasks):
            if type(entry) is not dict or type(entry.get("task")) is not str:
                continue
            if not self._plain(entry, ("tasks", index)):
                continue
            ref = TaskRef.parse(entry["task"])
            if ref.text in first:
                self.issues.append(
                    self._duplicate(ref.text, index, first[ref.text], task_positions)
                )
                continue
            first[ref.text] = index
            own_refs = self._expand(entry, ("tasks", index))
            env_refs = {
                _pointer(tokens): template
                for tokens, template in default_refs.items()
                if _inherited(tokens, entry, defaults)
            }
            env_refs.update((_pointer(t), template) for t, template in own_refs.items())
            merged = _merge(defaults, entry)
            pos = task_positions[index] if task_positions else None
            self.specs.append(_spec(ref, merged, env_refs, Location(file, *pos) if pos else None))
        for name, uses in self.unset.items():
            self.issues.append(Issue(uses[0], None, _unset_message(name, uses[1:])))
        self._plain(defaults, ("defaults",))

    def _plain(self, entry: dict[str, JSON], base: Path) -> bool:
        """Whether the entry's task and Actor references are free of unprintable characters.

        The schema leaves the username part of a reference open (any text without ``~``, ``/``
        or spaces), which would let an escape sequence reach plans and reports.
        """
        ok = True
        for name in ("task", "actor"):
            value = entry.get(name)
            if type(value) is not str:
                continue
            # A task's name part is checked by the schema; its username part and an Actor are not.
            checked = value.partition("~")[0].partition("/")[0] if name == "task" else value
            bad = next((c for c in checked if not c.isprintable() and not c.isspace()), None)
            if bad is not None:
                shown = json.dumps(shorten(value), ensure_ascii=False)
                self.issues.append(
                    Issue(
                        (*base, name),
                        None,
                        f"{shown} holds an unprintable character (U+{ord(bad):04X}); write the "
                        f"{'task' if name == 'task' else 'Actor'} reference in plain text",
                    )
                )
                ok = False
        return ok

    def _expand(self, entry: dict[str, JSON], base: Path) -> dict[Path, str]:
        """Expand ``${VAR}`` in ``entry``'s fields in place; returns {tokens: template} of the
        values that read the environment."""
        refs: dict[Path, str] = {}
        for name in _EXPANDED_FIELDS:
            if name in entry:
                self._walk(entry, name, [], base, refs)
        return refs

    def _walk(
        self,
        parent: dict[str, JSON] | list[JSON],
        key: str | int,
        trail: list[str | int],
        base: Path,
        refs: dict[Path, str],
    ) -> None:
        """Expand the strings in ``parent[key]``, in place (``trail`` leads to ``parent``)."""
        value = parent[key]  # type: ignore[index]
        kind = type(value)
        if kind is str:
            if "${" in value:
                parent[key] = self._string(value, (*trail, key), base, refs)  # type: ignore[index]
            return
        if kind is dict:
            items: Any = value.items()
        elif kind is list:
            items = enumerate(value)
        else:
            return
        trail.append(key)
        for child, item in items:
            if type(item) is str:
                if "${" in item:
                    value[child] = self._string(item, (*trail, child), base, refs)
            elif type(item) is dict or type(item) is list:
                self._walk(value, child, trail, base, refs)
        trail.pop()

    def _string(self, text: str, tokens: Path, base: Path, refs: dict[Path, str]) -> str:
        result = interpolate.expand_string(text, self.environ)
        if result.error:
            self.issues.append(Issue((*base, *tokens), None, result.error))
        for name in result.missing:
            self.unset.setdefault(name, []).append((*base, *tokens))
        if result.from_environment:
            refs[tokens] = text
        return result.value

    def _duplicate(self, key: str, index: int, first: int, positions: list[yamlread.Pos]) -> Issue:
        where = f"tasks[{first}]"
        if positions:
            where += f", line {positions[first][0]}"
        pos = positions[index] if positions else None
        message = f"duplicate task {shorten(key, 80)} (first at {where})"
        return Issue(("tasks", index, "task"), pos, message)


def _spec(
    ref: TaskRef, merged: dict[str, JSON], env_refs: dict[str, str], location: Location | None
) -> TaskSpec:
    desired = {name: merged[name] for name in MANAGED_FIELDS if name in merged}
    options = desired.get("options")
    if type(options) is dict:
        for key in _INTEGER_OPTIONS:  # 600.0 would differ from the API's 600 in every plan
            value = options.get(key)
            if type(value) is float and value.is_integer():
                options[key] = int(value)
    sensitive = merged.get("sensitive")
    declared = [p for p in (sensitive if type(sensitive) is list else ()) if type(p) is str]
    return TaskSpec(
        ref=ref,
        desired=desired,
        input_mode="merge" if merged.get("inputMode") == "merge" else "replace",
        actor=merged.get("actor") if type(merged.get("actor")) is str else None,
        ignore=tuple(p for p in merged.get("ignore") or () if type(p) is str),
        sensitive=frozenset([*declared, *env_refs]),
        env_refs=env_refs,
        location=location,
    )


def _merge(base: dict[str, JSON], over: dict[str, JSON]) -> dict[str, JSON]:
    """``over`` deep-merged onto a copy of ``base``: mappings merge, anything else replaces."""
    out: dict[str, JSON] = {}
    for key, value in base.items():
        if key not in over:
            out[key] = yamlread.copy_json(value)
    for key, value in over.items():
        below = base.get(key)
        if type(value) is dict and type(below) is dict:
            out[key] = _merge(below, value)
        else:
            out[key] = value
    return out


def _inherited(tokens: Path, entry: dict[str, JSON], defaults: JSON) -> bool:
    """Whether the default value at ``tokens`` survives the merge under ``entry``."""
    mine: JSON = entry
    theirs = defaults
    for token in tokens:
        if type(mine) is not dict or token not in mine:
            return True
        mine = mine[token]
        theirs = theirs[token]
        if type(mine) is not dict or type(theirs) is not dict:
            return False
    return False


def _pointer(tokens: Path) -> str:
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def _unset_message(name: str, others: list[Path]) -> str:
    message = f"the environment variable {name} is not set"
    if others:
        shown = ", ".join(yamlread.dotted(p) for p in others[:3])
        more = len(others) - 3
        message += f" (also used at {shown}" + (f" and {more} more places)" if more > 0 else ")")
    return message + f"; set it, or write ${{{name}:-fallback}}"
