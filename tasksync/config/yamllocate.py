"""Where each key and list item of a task file is written, found by a second walk over the events.

The fast reader (``yamlread``) records no positions: most files are valid and need none. When a
problem must be placed, ``locate`` parses the text again and walks its events, building no
values: it keeps the path of each open mapping and list and records the position of the root, of
every key and of every list item. A key that ``<<`` merged in is recorded where the merge key is
written (a key written in the mapping itself keeps its own position). A value inside an alias has
no entry of its own: ``position`` looks up the longest prefix of its path, which is where the alias
was written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from tasksync.config import yamlread
from tasksync.config.issues import Path, Pos
from tasksync.config.yamlerrors import pos
from tasksync.config.yamlscalars import plain, tagged


def locate(data: bytes, text: str) -> dict[Path, Pos]:
    """The position of every key and list item (and of the root), by path."""
    walker = _Walker()
    # What was read before a syntax error still places the problems found before it.
    with contextlib.suppress(yaml.YAMLError), yamlread.events(data, text) as get:
        walker.walk(get)
    return walker.positions


def position(positions: dict[Path, Pos], path: Path) -> Pos | None:
    """The position of ``path``, or of its longest prefix that has one."""
    for end in range(len(path), -1, -1):
        found = positions.get(path[:end])
        if found is not None:
            return found
    return None


_KEY: Any = object()  # a mapping waits for a key
_MERGE: Any = object()  # a mapping's pending key is '<<'
_SKIP: Any = object()  # a mapping's pending key is not usable (not a string, or a duplicate)


class _Node:
    """An open mapping or list."""

    __slots__ = ("anchor", "collect", "is_map", "key", "keys", "merge_at", "merged", "next", "path")

    def __init__(self, path: Path, is_map: bool, anchor: str | None, collect: bool) -> None:
        self.path = path
        self.is_map = is_map
        self.anchor = anchor
        self.collect = collect  # a list whose mappings' keys a merge may need
        self.key: Any = _KEY if is_map else None  # pending key: a string, _KEY, _MERGE or _SKIP
        self.next = 0  # a list's next index
        self.keys: dict[str, None] = {}  # a mapping's keys; a collecting list's mappings' keys
        self.merge_at: Pos | None = None
        self.merged: tuple[str, ...] = ()


class _Walker:
    def __init__(self) -> None:
        self.positions: dict[Path, Pos] = {}
        self.anchors: dict[str, tuple[str, ...]] = {}  # anchor -> the keys it brings to a merge
        self.strings: dict[str, str | None] = {}  # anchor -> its string, for an alias as a key
        self.stack: list[_Node] = []

    def walk(self, get: Callable[[], Any]) -> None:
        get()  # StreamStartEvent
        event = get()
        if event.__class__ is not DocumentStartEvent:
            return
        self.positions[()] = pos(event.start_mark)
        stack = self.stack
        while True:
            event = get()
            cls = event.__class__
            keys: tuple[str, ...] = ()
            if cls is MappingStartEvent or cls is SequenceStartEvent:
                if len(stack) >= yamlread.MAX_DEPTH:
                    return
                merging = bool(stack) and stack[-1].key is _MERGE
                collect = cls is SequenceStartEvent and (merging or event.anchor is not None)
                path = self._place(event.start_mark)
                stack.append(_Node(path, cls is MappingStartEvent, event.anchor, collect))
                continue
            if cls is ScalarEvent:
                if event.anchor is not None:
                    self.anchors[event.anchor] = ()
                    self.strings[event.anchor] = _string(event)
                if stack and stack[-1].key is _KEY:
                    merge = event.tag is None and event.implicit[0] and event.value == "<<"
                    self._key(stack[-1], _MERGE if merge else _string(event), event.start_mark)
                    continue
                self._place(event.start_mark)
            elif cls is AliasEvent:
                if stack and stack[-1].key is _KEY:
                    self._key(stack[-1], self.strings.get(event.anchor), event.start_mark)
                    continue
                self._place(event.start_mark)
                keys = self.anchors.get(event.anchor, ())
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                keys = self._close(stack.pop())
            else:  # pragma: no cover - a parser sends nothing else inside a document
                return
            if not stack:
                return
            self._done(stack[-1], keys)

    def _place(self, mark: Any) -> Path:
        """The path of a value that starts at ``mark``; a list item's position is recorded."""
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if parent.is_map:
            key = parent.key
            return (*parent.path, key if type(key) is str else "<<" if key is _MERGE else "?")
        path = (*parent.path, parent.next)
        self.positions[path] = pos(mark)
        return path

    def _key(self, node: _Node, key: Any, mark: Any) -> None:
        """``node`` waited for a key: ``key`` is a string, ``_MERGE``, or None (not a string)."""
        if key is _MERGE:
            node.key = _MERGE if node.merge_at is None else _SKIP
            node.merge_at = node.merge_at or pos(mark)
        elif key is None or key in node.keys:  # the reader reports both
            node.key = _SKIP
        else:
            node.keys[key] = None
            node.key = key
            self.positions[(*node.path, key)] = pos(mark)

    def _done(self, parent: _Node, keys: tuple[str, ...]) -> None:
        """A value of ``parent`` is complete; ``keys`` are those it would bring to a merge."""
        if not parent.is_map:
            parent.next += 1
            if parent.collect:
                parent.keys.update(dict.fromkeys(keys))
        elif parent.key is _KEY:  # a key that is a mapping, a list or an alias
            parent.key = _SKIP
        else:
            if parent.key is _MERGE:
                parent.merged = keys
            parent.key = _KEY

    def _close(self, node: _Node) -> tuple[str, ...]:
        """Record where merged keys come from; the keys ``node`` brings to a merge."""
        if node.merge_at is not None:
            for key in node.merged:
                if key not in node.keys:
                    node.keys[key] = None
                    self.positions[(*node.path, key)] = node.merge_at
        keys = tuple(node.keys) if node.is_map or node.collect else ()
        if node.anchor is not None:
            self.anchors[node.anchor] = keys
            self.strings[node.anchor] = None
        return keys


def _string(event: Any) -> str | None:
    """The string a scalar event reads as, or None when it reads as another type."""
    if event.tag is not None:
        value, _ = tagged(event.tag, event.value)
    elif event.implicit[0]:
        value, _ = plain(event.value)
    else:
        value = event.value
    return value if type(value) is str else None
