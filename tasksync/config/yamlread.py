"""YAML text -> plain JSON values, built safely from the parser's events, with positions on demand.

The task file is untrusted input, so PyYAML's object construction is never used. libyaml (or
PyYAML's pure-Python parser when libyaml is missing) turns the text into a stream of events and
this module builds the values itself, which lets it enforce every rule while the events arrive:

- Only JSON types come out. Plain scalars resolve to ``null``, booleans, integers and floats only
  in the spellings that YAML 1.1 (what ``yaml.safe_dump`` and ``tasksync export`` write) and YAML
  1.2 (what editors check against the schema) read the same way; anything else (``yes``, ``on``,
  ``0o17``, ``1_000``, ``1e5``, dates) stays a string. So a string that ``safe_dump`` wrote
  unquoted always reads back as that string.
- Tags other than the JSON ones (``!!python/object/apply:...``, ``!!binary``, ``!!timestamp``,
  ``!!set``, local tags) are problems: nothing is ever constructed from a tag.
- Keys are strings and unique within a mapping (PyYAML itself silently keeps the last one).
- Merge keys (``<<: *base`` or ``<<: [*a, *b]``) merge like PyYAML: explicit keys win, then the
  earlier merged mappings.
- Aliases are copied, so no two places of the result share a mutable value.
- Limits: ``MAX_DEPTH`` nested mappings and lists, and ``MAX_VALUES`` values after alias expansion
  (an alias bomb, "billion laughs", is refused before it is expanded). The parser itself is not
  recursive, and libyaml caps nesting at 1000 levels, so deep input cannot exhaust the stack.

Positions are not recorded on the fast path (a 10,000-task file holds about 300,000 values). When
a later check needs one, ``locate`` parses the text again and records the position of every path.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
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

from tasksync.model import JSON
from tasksync.text import shorten

MAX_DEPTH = 64
"""Mappings and lists nested deeper than this are refused."""

MAX_VALUES = 2_000_000
"""The most values (scalars, mappings, lists) a file may expand to, aliases included. A realistic
file under the size cap holds about a million; an alias bomb holds billions."""

Path = tuple[str | int, ...]
"""Where a value is in the document: keys and list indexes from the root."""

Pos = tuple[int, int]
"""A 1-based line and column."""

_Parser: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
"""Only the parser part is used (``get_event``): never the composer nor the constructor."""

_TAG = "tag:yaml.org,2002:"
_PLAIN: dict[str, JSON] = {
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}
# Integers and floats in the spellings YAML 1.1 and 1.2 agree on (see the module docstring).
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"(?:[-+]?[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?\Z")
_SPECIAL_FLOAT = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z")
_NUMBER_START = frozenset("-+.0123456789")
_MAX_DIGITS = 4000  # int() refuses longer strings (sys.int_info.default_max_str_digits)
_MISSING: Any = object()


class _NoKey:
    """Sentinels for a mapping frame's pending key."""

    def __init__(self, name: str) -> None:
        self.name = name


_EXPECT_KEY: Any = _NoKey("expect key")
_MERGE: Any = _NoKey("merge")
_DROP: Any = _NoKey("drop")


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem found while reading: where it is and what is wrong."""

    path: Path
    pos: Pos | None
    message: str


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


def dotted(path: Path) -> str:
    """``("tasks", 3, "options", "memoryMbytes")`` -> ``tasks[3].options.memoryMbytes``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += "[" + _quote(part) + "]"
    if len(out) > 120:  # only absurdly deep paths; keep where they start and end
        out = out[:70] + "..." + out[-40:]
    return out


_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tag_name(tag: str) -> str:
    return shorten("!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag)


def read(data: bytes, text: str) -> Document:
    """Build the single document of ``data`` (``text`` is the same file decoded, for messages).

    Raises ``Unreadable`` for syntax errors, limits, and a missing or second document.
    """
    return _Builder(data, text, locate=False).run()


def locate(data: bytes, text: str) -> dict[Path, Pos]:
    """The position of every key and list item (and of the root), by path.

    A value copied from an alias or merged by ``<<`` has no entry of its own: look up the longest
    prefix of its path (``position``), which is where the alias or the merge key was written.
    """
    builder = _Builder(data, text, locate=True)
    with contextlib.suppress(Unreadable):
        builder.run()
    return builder.positions


def position(positions: dict[Path, Pos], path: Path) -> Pos | None:
    for end in range(len(path), -1, -1):
        found = positions.get(path[:end])
        if found is not None:
            return found
    return None


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
        "path",
        "tasks",
        "value",
    )

    def __init__(self, is_map: bool, mark: Any, anchor: str | None, path: Path) -> None:
        self.is_map = is_map
        self.mark = mark
        self.anchor = anchor
        self.path = path
        self.key: Any = _EXPECT_KEY if is_map else None  # a mapping's pending key
        self.keys: dict[str, Any] = {}  # explicit key -> the mark where it was written
        self.merges: list[dict[str, JSON]] | None = None
        self.merge_mark: Any = None
        self.tasks = False  # the top-level task list: record where each entry starts
        self.value: Any = {} if is_map else []


def _pos(mark: Any) -> Pos:
    return (mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, data: bytes, text: str, *, locate: bool) -> None:
        self.data = data
        self.text = text
        self.locate = locate
        self.positions: dict[Path, Pos] = {}
        self.issues: list[Issue] = []
        self.task_positions: list[Pos] = []
        self.anchors: dict[str, JSON] = {}
        self.sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth), when aliased
        self.open_anchors: set[str] = set()
        self.count = 0

    # -- the event loop ------------------------------------------------------------------------

    def run(self) -> Document:
        parser = None
        try:
            # libyaml reads the bytes; the pure-Python reader, the text.
            parser = _Parser(self.data if _Parser is not yaml.SafeLoader else self.text)
            return self._document(parser.get_event)
        except yaml.MarkedYAMLError as exc:
            raise Unreadable([*self.issues, self._syntax_issue(exc)]) from None
        except yaml.reader.ReaderError as exc:
            raise Unreadable([*self.issues, self._reader_issue(exc)]) from None
        except yaml.YAMLError as exc:  # pragma: no cover - every parser error is one of the above
            raise Unreadable([*self.issues, Issue((), None, f"YAML error: {exc}")]) from None
        except RecursionError:  # pragma: no cover - the parsers are not recursive
            raise Unreadable([*self.issues, self._too_deep(())]) from None
        finally:
            if parser is not None:
                parser.dispose()

    def _document(self, get: Callable[[], Any]) -> Document:
        get()  # StreamStartEvent
        event = get()
        if isinstance(event, StreamEndEvent):
            raise Unreadable([Issue((), None, _EMPTY)])
        assert isinstance(event, DocumentStartEvent)
        if self.locate:
            self.positions[()] = _pos(event.start_mark)
        value = self._values(get)
        end = get()
        assert isinstance(end, DocumentEndEvent)
        event = get()
        if isinstance(event, DocumentStartEvent):
            raise Unreadable(
                [
                    *self.issues,
                    Issue(
                        (),
                        _pos(event.start_mark),
                        "a second YAML document starts here; a task file holds exactly one "
                        "(remove the extra '---')",
                    ),
                ]
            )
        return Document(value, self.issues, self.task_positions)

    def _values(self, get: Callable[[], Any]) -> JSON:
        """Build one node (the document's root) from the events."""
        stack: list[_Frame] = []
        locate = self.locate
        limit = MAX_VALUES
        while True:
            event = get()
            cls = event.__class__
            if cls is ScalarEvent:
                self.count += 1
                if self.count > limit:
                    raise self._too_many(stack, event)
                tag = event.tag
                raw = event.value
                if tag is None:
                    if event.implicit[0]:  # plain: resolve
                        value = _PLAIN.get(raw, _MISSING)
                        if value is _MISSING:
                            value = raw
                            if raw[0] in _NUMBER_START:
                                value = self._number(raw, stack, event)
                            elif raw == "<<" and stack and stack[-1].key is _EXPECT_KEY:
                                value = _MERGE
                    else:  # quoted or block scalar
                        value = raw
                else:
                    value = self._tagged(tag, raw, stack, event)
                if event.anchor is not None:
                    self._define(event.anchor, "<<" if value is _MERGE else value)
                mark = event.start_mark
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                self.count += 1
                if self.count > limit:
                    raise self._too_many(stack, event)
                if len(stack) >= MAX_DEPTH:
                    raise Unreadable([*self.issues, self._too_deep(self._path(stack), event)])
                is_map = cls is MappingStartEvent
                tag = event.tag
                if tag is not None and tag != "!" and tag != _TAG + ("map" if is_map else "seq"):
                    self._issue(stack, event, _bad_tag(tag))
                anchor = event.anchor
                if anchor is not None:
                    self.open_anchors.add(anchor)
                frame = _Frame(
                    is_map, event.start_mark, anchor, self._path(stack) if locate else ()
                )
                if not is_map and len(stack) == 1 and stack[0].key == "tasks":
                    frame.tasks = True
                stack.append(frame)
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                frame = stack.pop()
                value = frame.value
                if frame.merges is not None:
                    value = self._merged(frame, value)
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                    self._define(frame.anchor, value)
                mark = frame.mark
            elif cls is AliasEvent:
                value = self._alias(event, stack)
                mark = event.start_mark
            else:  # pragma: no cover - a parser sends nothing else inside a document
                raise Unreadable([*self.issues, Issue((), _pos(event.start_mark), "bad YAML")])

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
                items = top.value
                if locate:
                    self.positions[(*top.path, len(items))] = _pos(mark)
                if top.tasks:
                    self.task_positions.append(_pos(mark))
                items.append(value)

    # -- pieces of the loop ----------------------------------------------------------------------

    def _key(self, frame: _Frame, key: JSON, mark: Any, stack: list[_Frame]) -> None:
        if key is _MERGE:
            if frame.merges is not None:
                self._issue_at(stack, mark, "a second merge key '<<' in the same mapping")
                frame.key = _DROP
                return
            frame.merges = []
            frame.merge_mark = mark
            frame.key = _MERGE
            return
        if type(key) is not str:
            self._issue_at(stack, mark, _not_a_string_key(key))
            frame.key = _DROP
            return
        first = frame.keys.get(key)
        if first is not None:
            line = first.line + 1
            self._issue_at(
                stack,
                mark,
                f"duplicate key {_quote(shorten(key))} (first written at line {line}); YAML would "
                "silently keep only the last one",
                key=key,
            )
            frame.key = _DROP
            return
        frame.keys[key] = mark
        frame.key = key
        if self.locate:
            self.positions[(*frame.path, key)] = _pos(mark)

    def _merge_source(self, frame: _Frame, value: JSON, mark: Any, stack: list[_Frame]) -> None:
        assert frame.merges is not None
        sources = value if type(value) is list else [value]
        for source in sources:
            if type(source) is dict:
                frame.merges.append(source)
            else:
                self._issue_at(
                    stack,
                    mark,
                    "the merge key '<<' takes a mapping (such as *anchor) or a list of mappings",
                )
                return

    def _merged(self, frame: _Frame, explicit: dict[str, JSON]) -> dict[str, JSON]:
        merged: dict[str, JSON] = {}
        for source in frame.merges or ():
            for key, value in source.items():
                if key not in merged and key not in explicit:
                    merged[key] = value
                    if self.locate:
                        self.positions.setdefault((*frame.path, key), _pos(frame.merge_mark))
        merged.update(explicit)
        return merged

    def _define(self, anchor: str, value: JSON) -> None:
        self.anchors[anchor] = value
        self.sizes.pop(anchor, None)

    def _alias(self, event: Any, stack: list[_Frame]) -> JSON:
        name = event.anchor
        if name in self.open_anchors:
            self._issue(stack, event, f"the alias *{name} is inside its own anchor &{name}")
            return None
        value = self.anchors.get(name, _MISSING)
        if value is _MISSING:
            self._issue(stack, event, f"the alias *{name} has no anchor &{name} before it")
            return None
        size = self.sizes.get(name)
        if size is None:
            size = self.sizes[name] = _measure(value)
        count, depth = size
        self.count += count
        if self.count > MAX_VALUES:
            raise self._too_many(stack, event)
        if len(stack) + depth > MAX_DEPTH:
            raise Unreadable([*self.issues, self._too_deep(self._path(stack), event)])
        return copy_json(value)

    def _number(self, raw: str, stack: list[_Frame], event: Any) -> JSON:
        if _INT.match(raw):
            if len(raw) > _MAX_DIGITS:
                self._issue(stack, event, "the number has too many digits")
                return None
            return int(raw)
        if _FLOAT.match(raw):
            number = float(raw)
            if math.isfinite(number):
                return number
            self._issue(stack, event, f"{shorten(raw)} is too large for a JSON number")
            return None
        if _SPECIAL_FLOAT.match(raw):
            self._issue(stack, event, f"{raw} is not a JSON number (JSON has no infinity nor NaN)")
            return None
        return raw

    def _tagged(self, tag: str, raw: str, stack: list[_Frame], event: Any) -> JSON:
        if tag == "!" or tag == _TAG + "str":
            return raw
        kind = tag[len(_TAG) :] if tag.startswith(_TAG) else None
        if kind in ("int", "float", "bool", "null"):
            value = _PLAIN.get(raw, _MISSING)
            if value is _MISSING:
                value = self._number(raw, stack, event) if raw and raw[0] in _NUMBER_START else raw
            ok = {
                "int": type(value) is int,
                "float": type(value) in (int, float),
                "bool": type(value) is bool,
                "null": value is None,
            }[kind]
            if ok:
                return float(value) if kind == "float" else value
            shown = _quote(shorten(raw))
            self._issue(stack, event, f"{shown} is not a valid {tag_name(tag)} value")
            return raw
        self._issue(stack, event, _bad_tag(tag))
        return raw

    # -- problems --------------------------------------------------------------------------------

    def _path(self, stack: list[_Frame]) -> Path:
        """The path of the value being read: the open mappings' keys and the lists' next index
        (a mapping waiting for a key adds nothing)."""
        if not stack:
            return ()
        top = stack[-1]
        waiting = top.is_map and top.key is _EXPECT_KEY
        if self.locate:
            return top.path if waiting else (*top.path, _step(top))
        path = [_step(frame) for frame in stack]
        if waiting:
            path.pop()
        return tuple(path)

    def _issue(self, stack: list[_Frame], event: Any, message: str) -> None:
        self._issue_at(stack, event.start_mark, message)

    def _issue_at(
        self, stack: list[_Frame], mark: Any, message: str, *, key: str | None = None
    ) -> None:
        if self.locate:
            return
        where = self._path(stack) if stack else ()
        if key is not None:
            where = (*where, key)
        self.issues.append(Issue(where, _pos(mark), message))

    def _too_many(self, stack: list[_Frame], event: Any) -> Unreadable:
        return Unreadable(
            [
                *self.issues,
                Issue(
                    self._path(stack) if stack else (),
                    _pos(event.start_mark),
                    f"the file expands to more than {MAX_VALUES:,} values; refusing to read "
                    "further (aliases that repeat big anchors many times, an alias bomb?)",
                ),
            ]
        )

    def _too_deep(self, path: Path, event: Any = None, pos: Pos | None = None) -> Issue:
        return Issue(
            path,
            _pos(event.start_mark) if event is not None else pos,
            f"mappings and lists are nested more than {MAX_DEPTH} levels deep",
        )

    def _syntax_issue(self, exc: yaml.MarkedYAMLError) -> Issue:
        mark = exc.problem_mark or exc.context_mark
        pos = _pos(mark) if mark is not None else None
        problem = exc.problem or "invalid YAML"
        if pos is not None and self._char_at(pos) == "\t":
            return Issue((), pos, "a tab character here; YAML indents with spaces only")
        if "exceeded maximum nesting depth" in problem:
            return Issue(
                (), pos, f"mappings and lists are nested more than {MAX_DEPTH} levels deep"
            )
        message = f"YAML syntax error: {problem}"
        if exc.context:
            context = exc.context
            if exc.context_mark is not None and exc.context_mark is not mark:
                context += f" at line {exc.context_mark.line + 1}"
            message += f" ({context})"
            if "flow" in context and pos is not None and "${" in self._line(pos[0]):
                message += "; inside [...] or {...}, quote a string that holds ${...}"
        return Issue((), pos, message)

    def _reader_issue(self, exc: yaml.reader.ReaderError) -> Issue:
        # Find the character again: libyaml and PyYAML count offsets differently.
        found = _NON_PRINTABLE.search(self.text)
        if found is None:  # pragma: no cover - the readers refuse nothing else once UTF-8 is valid
            return Issue((), None, f"the file cannot be read as YAML: {exc.reason}")
        head = self.text[: found.start()]
        lines = _BREAKS.split(head)
        code = f"{ord(found.group()):04X}"
        return Issue(
            (),
            (len(lines), len(lines[-1]) + 1),
            f"the control character U+{code} is not allowed in YAML; remove it, or write it "
            f'escaped in a double-quoted string ("\\u{code}")',
        )

    def _line(self, line: int) -> str:
        lines = _BREAKS.split(self.text)
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def _char_at(self, pos: Pos) -> str:
        text = self._line(pos[0])
        return text[pos[1] - 1] if pos[1] <= len(text) else ""


_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_EMPTY = "the file is empty; a task file is a mapping with 'version: 1' and 'tasks'"


def _bad_tag(tag: str) -> str:
    return (
        f"the tag {tag_name(tag)} is not allowed: a task file holds only JSON values (strings, "
        "numbers, booleans, null, mappings, lists) and tags are never executed"
    )


def _not_a_string_key(key: JSON) -> str:
    if isinstance(key, dict | list):
        return "a key must be a string, not a " + ("mapping" if isinstance(key, dict) else "list")
    shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
    return f'the key {shown} is not a string; quote it ("{shown}"): JSON keys are strings'


def _step(frame: _Frame) -> str | int:
    if not frame.is_map:
        return len(frame.value)
    key = frame.key
    if isinstance(key, str):
        return key
    return "<<" if key is _MERGE else "?"


def _measure(value: JSON) -> tuple[int, int]:
    """(number of values, nesting depth of mappings and lists) of ``value``."""
    if type(value) is dict:
        count, depth = 1, 0
        for item in value.values():
            c, d = _measure(item)
            count += c
            depth = max(depth, d)
        return count, depth + 1
    if type(value) is list:
        count, depth = 1, 0
        for item in value:
            c, d = _measure(item)
            count += c
            depth = max(depth, d)
        return count, depth + 1
    return 1, 0


def copy_json(value: JSON) -> JSON:
    """A deep copy of a JSON value, faster than copy.deepcopy for plain dicts and lists."""
    if type(value) is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if type(value) is list:
        return [copy_json(v) for v in value]
    return value
