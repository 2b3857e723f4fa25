"""Readable value diffs: how one field change is shown to a person, in lines.

A value that fits is shown on one line (``/options/memoryMbytes: 1024 -> 2048``). A larger one is
shown by what changed in it, never as two cut-off copies that look the same:

- a multi-line string: a unified diff of its lines, with ``CONTEXT`` lines around each change;
- a long single-line string (or any other long value): the window around where the two sides
  start to differ, both sides cut at the same place;
- a list: the items added, removed and changed, by index, aligned with
  ``difflib.SequenceMatcher`` so that one inserted item is one line, not a change of every item
  after it;
- a mapping: the changed keys, each with its JSON Pointer.

Every function returns ``Line`` values; the text and Markdown renderers lay them out. Values are
display values (masked already), and every text goes through ``visible`` so it cannot steer a
terminal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from tasksync.jsonutil import escape_token
from tasksync.model import JSON, ChangeKind, FieldChange
from tasksync.secrets import MASK
from tasksync.text import plural, shorten, visible

WIDTH = 160
"""The most characters of a value shown on one line."""
CONTEXT = 3
"""Unchanged lines shown around a change in a multi-line string."""
AROUND = 40
"""Unchanged characters shown before the first difference of a long single-line value."""
MAX_LINES = 60
"""The most lines one field change takes; the rest is counted (the JSON format has it all)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a field change. ``sign`` is ``+`` (new side only), ``-`` (old side only),
    ``~`` (both sides on one line, as ``old`` and ``new``; or a heading when they are None) or
    `` `` (context, on both sides). ``depth`` is the nesting under the field's first line."""

    sign: str
    text: str
    depth: int = 0
    old: str | None = None
    new: str | None = None


def dumps(value: JSON) -> str:
    """A JSON value on one line, exactly (not shortened), safe to print."""
    return visible(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))


def show(value: JSON) -> str:
    """A JSON value on one line, shortened when long."""
    return shorten(dumps(value), WIDTH)


def secret_lines(fields: Mapping[str, str]) -> list[str]:
    """One line per secret input field that a write sends: ``kept`` (the stored encrypted value
    sent back) or ``rotated`` (the file's value sent), always masked."""
    return [
        f"* {visible(path)}: {MASK} (secret {action})" for path, action in sorted(fields.items())
    ]


def field_lines(change: FieldChange) -> list[Line]:
    """The lines that show one field change; the first names its path."""
    if change.kind is ChangeKind.ADD:
        lines = _one_side("+", change.path, change.new)
    elif change.kind is ChangeKind.REMOVE:
        lines = _one_side("-", change.path, change.old)
    else:
        lines = changed_lines(change.path, change.old, change.new)
    if len(lines) > MAX_LINES:
        more = len(lines) - MAX_LINES + 1
        lines = [*lines[: MAX_LINES - 1], Line(" ", f"... {more:,} more lines", 1)]
    # A key can hold what a terminal would obey or UTF-8 cannot encode (a lone surrogate that a
    # JavaScript string may hold): shown escaped, as values are.
    lines = [
        line if line.text.isprintable() else replace(line, text=visible(line.text))
        for line in lines
    ]
    return lines


def _one_side(sign: str, path: str, value: JSON) -> list[Line]:
    if type(value) is str and "\n" in value:
        rows = value.splitlines()
        head = Line(sign, f"{path}: (text, {plural(len(rows), 'line')})")
        return [head, *(Line(sign, shorten(visible(row), WIDTH), 1) for row in rows)]
    return [Line(sign, f"{path}: {show(value)}")]


def changed_lines(path: str, old: JSON, new: JSON, depth: int = 0) -> list[Line]:
    """The lines of a change from ``old`` to ``new`` at ``path`` (values known to differ)."""
    if type(old) is str and type(new) is str and (_breaks(old) or _breaks(new)):
        rows_a, rows_b = old.splitlines(), new.splitlines()
        if rows_a != rows_b:  # else only line endings differ: the window below shows them
            head = Line("~", f"{path}: (text, {_lines_count(rows_a, rows_b)})", depth)
            return [head, *_text_diff(rows_a, rows_b, depth + 1)]
    a, b = dumps(old), dumps(new)
    if a == b:  # both masked, say: the values cannot be shown, only that they differ
        what = "masked" if MASK in a else "not shown"
        return [Line("~", f"{path}: {shorten(a, WIDTH)} (changed, {what})", depth)]
    containers = type(old) in (list, dict) and type(old) is type(new)
    if len(a) + len(b) <= WIDTH or (len(a) <= WIDTH and len(b) <= WIDTH and not containers):
        return [Line("~", f"{path}: {a} -> {b}", depth, a, b)]
    if type(old) is list and type(new) is list:
        head = Line("~", f"{path}: (list, {_items_count(old, new)})", depth)
        return [head, *_list_diff(path, old, new, depth + 1)]
    if type(old) is dict and type(new) is dict:
        return [Line("~", f"{path}: (object)", depth), *_dict_diff(path, old, new, depth + 1)]
    if type(old) is str and type(new) is str and not _breaks(old) and not _breaks(new):
        a, b = visible(old), visible(new)  # characters counted in the string, not its JSON
    at, shown_a, shown_b = window(a, b)
    return [
        Line("~", f"{path}: (differs from character {at + 1:,})", depth),
        Line("-", shown_a, depth + 1),
        Line("+", shown_b, depth + 1),
    ]


def window(a: str, b: str) -> tuple[int, str, str]:
    """Where ``a`` and ``b`` first differ, and both cut to the same window around that place:
    the same unchanged characters before it, then each side's own. The two never look alike."""
    p, s = _common_ends(a, b)
    start = max(0, p - AROUND)

    def cut(text: str) -> str:
        end = min(len(text), len(text) - s + AROUND, start + WIDTH)
        return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")

    return p, cut(a), cut(b)


def _common_ends(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """How many items (characters, or lines) ``a`` and ``b`` share at the start, and then at
    the end of what is left."""
    n = min(len(a), len(b))
    p = 0
    while p < n and a[p] == b[p]:
        p += 1
    s = 0
    while s < n - p and a[-1 - s] == b[-1 - s]:
        s += 1
    return p, s


def _text_diff(a: list[str], b: list[str], depth: int) -> list[Line]:
    out: list[Line] = []
    for group in _hunks(_opcodes(a, b)):
        i1, j1, i2, j2 = group[0][1], group[0][3], group[-1][2], group[-1][4]
        out.append(Line(" ", f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@", depth))
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [Line(" ", _row(row), depth) for row in a[a1:a2]]
                continue
            olds = [_row(row) for row in a[a1:a2]]
            news = [_row(row) for row in b[b1:b2]]
            for k in range(min(len(olds), len(news))):
                if olds[k] == news[k]:  # the same once cut: show where they differ
                    _, olds[k], news[k] = window(visible(a[a1 + k]), visible(b[b1 + k]))
            out += [Line("-", row, depth) for row in olds]
            out += [Line("+", row, depth) for row in news]
    return out


Opcode = tuple[str, int, int, int, int]


def _opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """``SequenceMatcher.get_opcodes``, with the common first and last lines set aside first:
    a change to one line of a long text then costs one comparison of the lines around it."""
    p, s = _common_ends(a, b)
    middle = SequenceMatcher(None, a[p : len(a) - s], b[p : len(b) - s], autojunk=False)
    codes: list[Opcode] = [("equal", 0, p, 0, p)] if p else []
    codes += [(t, a1 + p, a2 + p, b1 + p, b2 + p) for t, a1, a2, b1, b2 in middle.get_opcodes()]
    if s:
        codes.append(("equal", len(a) - s, len(a), len(b) - s, len(b)))
    return codes


def _hunks(codes: list[Opcode]) -> list[list[Opcode]]:
    """The opcodes in hunks with ``CONTEXT`` equal lines around each change (as
    ``SequenceMatcher.get_grouped_opcodes`` does)."""
    if codes and codes[0][0] == "equal":
        t, a1, a2, b1, b2 = codes[0]
        codes[0] = (t, max(a1, a2 - CONTEXT), a2, max(b1, b2 - CONTEXT), b2)
    if codes and codes[-1][0] == "equal":
        t, a1, a2, b1, b2 = codes[-1]
        codes[-1] = (t, a1, min(a2, a1 + CONTEXT), b1, min(b2, b1 + CONTEXT))
    hunks: list[list[Opcode]] = []
    group: list[Opcode] = []
    for t, a1, a2, b1, b2 in codes:
        if t == "equal" and a2 - a1 > 2 * CONTEXT:
            group.append((t, a1, a1 + CONTEXT, b1, b1 + CONTEXT))
            hunks.append(group)
            group = []
            a1, b1 = max(a1, a2 - CONTEXT), max(b1, b2 - CONTEXT)
        group.append((t, a1, a2, b1, b2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        hunks.append(group)
    return hunks


def _breaks(text: str) -> bool:
    return "\n" in text or "\r" in text


def _row(row: str) -> str:
    return shorten(visible(row), WIDTH)


def _list_diff(path: str, old: list[JSON], new: list[JSON], depth: int) -> list[Line]:
    keys_a = [canonical(item) for item in old]
    keys_b = [canonical(item) for item in new]
    out: list[Line] = []
    matcher = SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(a2 - a1, b2 - b1) if tag == "replace" else 0
        for k in range(paired):
            out += changed_lines(_index(path, b1 + k, a1 + k), old[a1 + k], new[b1 + k], depth)
        for i in range(a1 + paired, a2):
            out.append(Line("-", f"{path}/{i}: {show(old[i])}", depth))
        for j in range(b1 + paired, b2):
            out.append(Line("+", f"{path}/{j}: {show(new[j])}", depth))
    return out


def _index(path: str, new_index: int, old_index: int) -> str:
    if new_index == old_index:
        return f"{path}/{new_index}"
    return f"{path}/{new_index} (was {old_index})"


def _dict_diff(path: str, old: dict[str, JSON], new: dict[str, JSON], depth: int) -> list[Line]:
    out: list[Line] = []
    for key, value in new.items():
        sub = f"{path}/{escape_token(key)}"
        if key not in old:
            out.append(Line("+", f"{sub}: {show(value)}", depth))
        elif canonical(old[key]) != canonical(value):
            out += changed_lines(sub, old[key], value, depth)
    for key, value in old.items():
        if key not in new:
            out.append(Line("-", f"{path}/{escape_token(key)}: {show(value)}", depth))
    return out


def canonical(value: JSON) -> str:
    """A value's identity for alignment: its canonical JSON (mapping keys sorted)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _lines_count(a: list[str], b: list[str]) -> str:
    if len(a) == len(b):
        return plural(len(a), "line")
    return f"{len(a):,} -> {plural(len(b), 'line')}"


def _items_count(a: list[JSON], b: list[JSON]) -> str:
    if len(a) == len(b):
        return plural(len(a), "item")
    return f"{len(a):,} -> {plural(len(b), 'item')}"


def sides(lines: list[Line]) -> tuple[list[str], list[str]]:
    """What the lines show of the old side and of the new side (headings left out): two
    different values always give two different sides."""
    old: list[str] = []
    new: list[str] = []
    for line in lines:
        if line.sign == "~":
            if line.old is not None and line.new is not None:
                old.append(line.old)
                new.append(line.new)
            continue
        if line.sign in " -":
            old.append(line.text)
        if line.sign in " +":
            new.append(line.text)
    return old, new
