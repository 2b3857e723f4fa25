"""The per-task pass of the loader: ``${VAR}``, ``defaults``, checks across tasks, ``TaskSpec``s.

It runs on the document as read, after the schema check, and even when the schema found problems
(so that every problem is reported at once), so it only assumes the shapes it checks itself.

``${VAR}`` expands in the values of title, description, options and input (of ``defaults`` and of
each task), never in keys nor in ``task``, ``actor``, ``ignore`` or ``sensitive``. A value that
read a variable from the environment is sensitive and listed in ``TaskSpec.env_refs`` with its
template; a value that only used a fallback (``${KEY:-demo}`` with ``KEY`` unset) is not.
A variable tasksync reads itself (``APIFY_TOKEN``...) is an error wherever it is used. An unset
variable without fallback is an error, or with ``require_env=False`` (``validate``, which must
run without secrets) a note, its reference kept as a placeholder that counts as a secret.

``defaults`` merge under each task: mappings merge key by key, anything else replaces, except
``ignore`` and ``sensitive``: a task's lists add to the defaults' lists, so a task can never
unmask what the defaults mask.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tasksync.config import interpolate
from tasksync.config.issues import Issue, Path, Pos, dotted, pointer
from tasksync.config.yamlread import copy_json
from tasksync.model import JSON, MANAGED_FIELDS, Location, TaskRef, TaskSpec
from tasksync.text import shorten

_EXPANDED_FIELDS = ("title", "description", "options", "input")
_INTEGER_OPTIONS = ("timeoutSecs", "memoryMbytes", "maxItems")
_ADDED_LISTS = ("ignore", "sensitive")  # a task's list adds to the defaults' list


@dataclass
class Built:
    """The specs of the tasks that could be built, the problems found, and the notes (unset
    variables, when they are not required)."""

    specs: list[TaskSpec] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)


def build(
    root: dict[str, JSON],
    task_positions: list[Pos],
    environ: Mapping[str, str],
    file: str,
    *,
    require_env: bool = True,
) -> Built:
    """Expand, merge defaults and check ``root``'s tasks (``task_positions``: where each starts)."""
    return _Build(root, task_positions, environ, file, require_env).built


def unset_message(name: str, others: list[Path], *, required: bool = True) -> str:
    """Why the variable ``name`` cannot expand, with the ``others`` places that use it."""
    message = f"the environment variable {name} is not set"
    if others:
        shown = ", ".join(dotted(p) for p in others[:3])
        more = len(others) - 3
        message += f" (also used at {shown}" + (f" and {more} more places)" if more > 0 else ")")
    if not required:
        return message + f"; plan and apply will need it (checked here as the text ${{{name}}})"
    return message + f"; set it, or write ${{{name}:-fallback}}"


class _Build:
    def __init__(
        self,
        root: dict[str, JSON],
        task_positions: list[Pos],
        environ: Mapping[str, str],
        file: str,
        require_env: bool,
    ) -> None:
        self.environ = environ
        self.keep_missing = not require_env
        self.built = Built()
        self.issues = self.built.issues
        self.unset: dict[str, list[Path]] = {}  # variable -> where it is used
        defaults = root.get("defaults")
        defaults = defaults if type(defaults) is dict else {}
        default_refs = self._expand(defaults, ("defaults",))
        # Only a non-empty list in defaults changes what a task's own list gives.
        added_lists = [n for n in _ADDED_LISTS if type(defaults.get(n)) is list and defaults[n]]
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
                self.issues.append(_duplicate(ref.text, index, first[ref.text], task_positions))
                continue
            first[ref.text] = index
            own_refs = self._expand(entry, ("tasks", index))
            env_refs = {
                pointer(tokens): template
                for tokens, template in default_refs.items()
                if _inherited(tokens, entry, defaults)
            }
            env_refs.update((pointer(t), template) for t, template in own_refs.items())
            merged = _merge(defaults, entry)
            for name in added_lists:
                merged[name] = _added(defaults[name], entry.get(name))
            pos = task_positions[index] if task_positions else None
            location = Location(file, *pos) if pos else None
            self.built.specs.append(_spec(ref, merged, env_refs, location))
        found = self.issues if require_env else self.built.notes
        for name, uses in self.unset.items():
            message = unset_message(name, uses[1:], required=require_env)
            found.append(Issue(uses[0], None, message))
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
                kind = "task" if name == "task" else "Actor"
                message = (
                    f"{shown} holds an unprintable character (U+{ord(bad):04X}); write the "
                    f"{kind} reference in plain text"
                )
                self.issues.append(Issue((*base, name), None, message))
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
        result = interpolate.expand_string(text, self.environ, keep_missing=self.keep_missing)
        if result.error:
            self.issues.append(Issue((*base, *tokens), None, result.error))
        for name in result.missing:
            self.unset.setdefault(name, []).append((*base, *tokens))
        if result.from_environment:
            refs[tokens] = text
        return result.value


def _duplicate(key: str, index: int, first: int, positions: list[Pos]) -> Issue:
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


def _added(defaults: list[JSON], own: JSON) -> list[JSON]:
    """The defaults' list, then the items of the task's own list that the defaults lack."""
    if type(own) is not list:
        return list(defaults)
    return [*defaults, *(p for p in own if p not in defaults)]


def _merge(base: dict[str, JSON], over: dict[str, JSON]) -> dict[str, JSON]:
    """``over`` deep-merged onto a copy of ``base``: mappings merge, anything else replaces."""
    out: dict[str, JSON] = {}
    for key, value in base.items():
        if key not in over:
            out[key] = copy_json(value)
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
