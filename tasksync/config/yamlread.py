"""YAML text -> plain JSON values, built safely from the parser's events.

The task file is untrusted input, so PyYAML's object construction is never used. libyaml (or
PyYAML's pure-Python parser when libyaml is missing) turns the text into a stream of events and
this module builds the values itself, which lets it enforce every rule while the events arrive:

- Only JSON types come out (``yamlscalars``): tags other than the JSON ones
  (``!!python/object/apply:...``, ``!!binary``, ``!!timestamp``, ``!!set``, local tags) are
  problems, and nothing is ever constructed from a tag.
- Keys are strings and unique within a mapping (PyYAML itself silently keeps the last one).
- Merge keys (``<<: *base`` or ``<<: [*a, *b]``) merge like PyYAML: explicit keys win, then the
  earlier merged mappings.
- Aliases are copied, so no two places of the result share a mutable value.
- Limits: ``MAX_DEPTH`` nested mappings and lists, and ``MAX_VALUES`` values after alias expansion
  (an alias bomb, "billion laughs", is refused before it is expanded). The parser itself is not
  recursive, and libyaml caps nesting at 1000 levels, so deep input cannot exhaust the stack.

Positions are not recorded here (a 10,000-task file holds about 300,000 values), except where each
task entry starts. When a later check needs one, ``yamllocate`` walks the events again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from tasksync.config.issues import Issue, Path, Pos, quote
from tasksync.config.yamlerrors import EMPTY, pos, reader_issue, syntax_issue, too_deep
from tasksync.config.yamlscalars import (
    MISSING,
    NUMBER_START,
    PLAIN,
    TAG,
    bad_tag,
    not_a_string_key,
    number,
    tagged,
)
from tasksync.model import JSON
from tasksync.text import shorten

MAX_DEPTH = 64
"""Mappings and lists nested deeper than this are refused."""

MAX_VALUES = 2_000_000
"""The most values (scalars, mappings, lists) a file may expand to, aliases included. A realistic
file under the size cap holds about a million; an alias bomb holds billions."""

_Parser: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
"""Only the parser part is used (``get_event``): never the composer nor the constructor."""


class Unreadable(Exception):
    """The document cannot be used at all: ``issues`` say why (syntax error, limits, shape)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(issues[-1].message if issues else "unreadable")
        self.issues = issues


@dataclass
class Document:
    """The root value, the problems that did not stop reading, and each task entry's position."""

    value: JSON
    issues: list[Issue] = field(default_factory=list)
    task_positions: list[Pos] = field(default_factory=list)


def read(data: bytes, text: str) -> Document:
    """Build the single document of ``data`` (``text`` is the same file decoded, for messages).

    Raises ``Unreadable`` for syntax errors, limits, and a missing or second document.
    """
    return _Builder(data, text).run()


@contextlib.contextmanager
def events(data: bytes, text: str) -> Iterator[Callable[[], Any]]:
    """The parser's ``get_event`` for the file; it raises ``yaml.YAMLError`` on bad syntax."""
    # libyaml reads the bytes; the pure-Python reader, the text.
    parser = _Parser(data if _Parser is not yaml.SafeLoader else text)
    try:
        yield parser.get_event
    finally:
        parser.dispose()


class _NoKey:
    """Sentinels for a mapping frame's pending key."""

    def __init__(self, name: str) -> None:
        self.name = name


_EXPECT_KEY: Any = _NoKey("expect key")
_MERGE: Any = _NoKey("merge")
_DROP: Any = _NoKey("drop")


class _Frame:
    """A mapping or list being built."""

    __slots__ = (
        "anchor",
        "is_map",
        "key",
        "keys",
        "mark",
        "merge_mark",
        "merges",
        "tasks",
        "value",
    )

    def __init__(self, is_map: bool, mark: Any, anchor: str | None) -> None:
        self.is_map = is_map
        self.mark = mark
        self.anchor = anchor
        self.key: Any = _EXPECT_KEY if is_map else None  # a mapping's pending key
        self.keys: dict[str, Any] = {}  # explicit key -> the mark where it was written
        self.merges: list[dict[str, JSON]] | None = None
        self.merge_mark: Any = None
        self.tasks = False  # the top-level task list: record where each entry starts
        self.value: Any = {} if is_map else []


class _Builder:
    def __init__(self, data: bytes, text: str) -> None:
        self.data = data
        self.text = text
        self.issues: list[Issue] = []
        self.task_positions: list[Pos] = []
        self.anchors: dict[str, JSON] = {}
        self.sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth), when aliased
        self.open_anchors: set[str] = set()
        self.count = 0
        self.json_numbers = False

    def run(self) -> Document:
        try:
            with events(self.data, self.text) as get:
                return self._document(get)
        except yaml.MarkedYAMLError as exc:
            raise Unreadable([*self.issues, syntax_issue(exc, self.text, MAX_DEPTH)]) from None
        except yaml.reader.ReaderError as exc:
            raise Unreadable([*self.issues, reader_issue(exc, self.text)]) from None
        except yaml.YAMLError as exc:  # pragma: no cover - every parser error is one of the above
            raise Unreadable([*self.issues, Issue((), None, f"YAML error: {exc}")]) from None
        except RecursionError:  # pragma: no cover - the parsers are not recursive
            raise Unreadable([*self.issues, too_deep((), None, MAX_DEPTH)]) from None

    def _document(self, get: Callable[[], Any]) -> Document:
        get()  # StreamStartEvent
        event = get()
        if isinstance(event, StreamEndEvent):
            raise Unreadable([Issue((), None, EMPTY)])
        assert isinstance(event, DocumentStartEvent)
        value = self._values(get)
        end = get()
        assert isinstance(end, DocumentEndEvent)
        event = get()
        if isinstance(event, DocumentStartEvent):
            message = (
                "a second YAML document starts here; a task file holds exactly one (remove the "
                "extra '---')"
            )
            raise Unreadable([*self.issues, Issue((), pos(event.start_mark), message)])
        return Document(value, self.issues, self.task_positions)

    def _values(self, get: Callable[[], Any]) -> JSON:
        """Build one node (the document's root) from the events.

        This loop runs once per value of the file, so it is one function with the common cases
        inline (plain scalars, opening and closing frames, placing a value): a method call per
        event would cost a fifth of the load time. The rare cases are methods below.
        """
        stack: list[_Frame] = []
        limit = MAX_VALUES
        while True:
            event = get()
            cls = event.__class__
            if cls is ScalarEvent:
                self.count += 1
                if self.count > limit:
                    raise self._too_many(stack, event)
                raw = event.value
                if event.tag is not None:
                    value = self._tagged(event, stack)
                elif event.implicit[0]:  # plain: resolve
                    value = PLAIN.get(raw, MISSING)
                    if value is MISSING:
                        value = raw
                        if raw[0] in NUMBER_START:
                            value, message = number(raw, self.json_numbers)
                            if message is not None:
                                self._issue(stack, event.start_mark, message)
                        elif raw == "<<" and stack and stack[-1].key is _EXPECT_KEY:
                            value = _MERGE
                else:  # quoted or block scalar
                    value = raw
                if event.anchor is not None:
                    self._define(event.anchor, "<<" if value is _MERGE else value)
                mark = event.start_mark
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                self.count += 1
                if self.count > limit:
                    raise self._too_many(stack, event)
                if len(stack) >= MAX_DEPTH:
                    raise Unreadable(
                        [*self.issues, too_deep(_path(stack), event.start_mark, MAX_DEPTH)]
                    )
                is_map = cls is MappingStartEvent
                if not stack and is_map and event.flow_style:
                    self.json_numbers = True  # written as JSON: its numbers are JSON's
                tag = event.tag
                if tag is not None and tag != "!" and tag != TAG + ("map" if is_map else "seq"):
                    self._issue(stack, event.start_mark, bad_tag(tag))
                anchor = event.anchor
                if anchor is not None:
                    self.open_anchors.add(anchor)
                frame = _Frame(is_map, event.start_mark, anchor)
                if not is_map and len(stack) == 1 and stack[0].key == "tasks":
                    frame.tasks = True
                stack.append(frame)
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                frame = stack.pop()
                value = frame.value
                if frame.merges is not None:
                    value = _merged(frame, value)
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self._define(frame.anchor, value)
                mark = frame.mark
            elif cls is AliasEvent:
                value = self._alias(event, stack)
                mark = event.start_mark
            else:  # pragma: no cover - a parser sends nothing else inside a document
                raise Unreadable([*self.issues, Issue((), pos(event.start_mark), "bad YAML")])

            if not stack:
                return value
            top = stack[-1]
            if top.is_map:
                key = top.key
                if key is _EXPECT_KEY:
                    self._key(top, value, mark, stack)
                    continue
                top.key = _EXPECT_KEY
                if key is _MERGE:
                    self._merge_source(top, value, mark, stack)
                elif key is not _DROP:
                    top.value[key] = value
            else:
                if top.tasks:
                    self.task_positions.append(pos(mark))
                top.value.append(value)

    # -- pieces of the loop ----------------------------------------------------------------------

    def _tagged(self, event: Any, stack: list[_Frame]) -> JSON:
        value, message = tagged(event.tag, event.value)
        if message is not None:
            self._issue(stack, event.start_mark, message)
        return value

    def _key(self, frame: _Frame, key: JSON, mark: Any, stack: list[_Frame]) -> None:
        if key is _MERGE:
            if frame.merges is not None:
                self._issue(stack, mark, "a second merge key '<<' in the same mapping")
                frame.key = _DROP
                return
            frame.merges = []
            frame.merge_mark = mark
            frame.key = _MERGE
            return
        if type(key) is not str:
            self._issue(stack, mark, not_a_string_key(key))
            frame.key = _DROP
            return
        first = frame.keys.get(key)
        if first is not None:
            message = (
                f"duplicate key {quote(shorten(key))} (first written at line {first.line + 1}); "
                "YAML would silently keep only the last one"
            )
            self._issue(stack, mark, message, key=key)
            frame.key = _DROP
            return
        frame.keys[key] = mark
        frame.key = key

    def _merge_source(self, frame: _Frame, value: JSON, mark: Any, stack: list[_Frame]) -> None:
        assert frame.merges is not None
        sources = value if type(value) is list else [value]
        for source in sources:
            if type(source) is dict:
                frame.merges.append(source)
            else:
                message = (
                    "the merge key '<<' takes a mapping (such as *anchor) or a list of mappings"
                )
                self._issue(stack, mark, message)
                return

    def _define(self, anchor: str, value: JSON) -> None:
        self.anchors[anchor] = value
        self.sizes.pop(anchor, None)

    def _alias(self, event: Any, stack: list[_Frame]) -> JSON:
        name = event.anchor
        if name in self.open_anchors:
            message = f"the alias *{name} is inside its own anchor &{name}"
            self._issue(stack, event.start_mark, message)
            return None
        value = self.anchors.get(name, MISSING)
        if value is MISSING:
            message = f"the alias *{name} has no anchor &{name} before it"
            self._issue(stack, event.start_mark, message)
            return None
        size = self.sizes.get(name)
        if size is None:
            size = self.sizes[name] = measure(value)
        count, depth = size
        self.count += count
        if self.count > MAX_VALUES:
            raise self._too_many(stack, event)
        if len(stack) + depth > MAX_DEPTH:
            raise Unreadable([*self.issues, too_deep(_path(stack), event.start_mark, MAX_DEPTH)])
        return copy_json(value)

    # -- problems --------------------------------------------------------------------------------

    def _issue(
        self, stack: list[_Frame], mark: Any, message: str, *, key: str | None = None
    ) -> None:
        where = _path(stack)
        if key is not None:
            where = (*where, key)
        self.issues.append(Issue(where, pos(mark), message))

    def _too_many(self, stack: list[_Frame], event: Any) -> Unreadable:
        message = (
            f"the file expands to more than {MAX_VALUES:,} values; refusing to read further "
            "(aliases that repeat big anchors many times, an alias bomb?)"
        )
        return Unreadable([*self.issues, Issue(_path(stack), pos(event.start_mark), message)])


def _merged(frame: _Frame, explicit: dict[str, JSON]) -> dict[str, JSON]:
    merged: dict[str, JSON] = {}
    for source in frame.merges or ():
        for key, value in source.items():
            if key not in merged and key not in explicit:
                merged[key] = value
    merged.update(explicit)
    return merged


def _path(stack: list[_Frame]) -> Path:
    """The path of the value being read: the open mappings' keys and the lists' next index
    (a mapping waiting for a key adds nothing)."""
    path = [_step(frame) for frame in stack]
    if stack and stack[-1].is_map and stack[-1].key is _EXPECT_KEY:
        path.pop()
    return tuple(path)


def _step(frame: _Frame) -> str | int:
    if not frame.is_map:
        return len(frame.value)
    key = frame.key
    if isinstance(key, str):
        return key
    return "<<" if key is _MERGE else "?"


def measure(value: JSON) -> tuple[int, int]:
    """(number of values, nesting depth of mappings and lists) of ``value``."""
    if type(value) is dict:
        items: Any = value.values()
    elif type(value) is list:
        items = value
    else:
        return 1, 0
    count, depth = 1, 0
    for item in items:
        c, d = measure(item)
        count += c
        depth = max(depth, d)
    return count, depth + 1


def copy_json(value: JSON) -> JSON:
    """A deep copy of a JSON value, faster than copy.deepcopy for plain dicts and lists."""
    if type(value) is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if type(value) is list:
        return [copy_json(v) for v in value]
    return value
