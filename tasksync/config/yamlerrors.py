"""Parser exceptions -> ``Issue``s with a position and a sentence that says what to change.

libyaml and PyYAML's pure-Python parser word their errors differently and count offsets
differently; these functions give the same message for both (a test holds them together).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tasksync.config.issues import Issue, Path, Pos


def pos(mark: Any) -> Pos:
    """The 1-based position of a parser mark."""
    return (mark.line + 1, mark.column + 1)


_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
EMPTY = "the file is empty; a task file is a mapping with 'version: 1' and 'tasks'"


def too_deep(path: Path, mark: Any, depth: int) -> Issue:
    message = f"mappings and lists are nested more than {depth} levels deep"
    return Issue(path, pos(mark) if mark is not None else None, message)


def syntax_issue(exc: yaml.MarkedYAMLError, text: str, depth: int) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    where = pos(mark) if mark is not None else None
    problem = exc.problem or "invalid YAML"
    line = _line(text, where[0]) if where is not None else ""
    if where is not None and line[where[1] - 1 : where[1]] == "\t":
        return Issue((), where, "a tab character here; YAML indents with spaces only")
    if "exceeded maximum nesting depth" in problem:
        return too_deep((), mark, depth)
    message = f"YAML syntax error: {problem}"
    if exc.context:
        context = exc.context
        if exc.context_mark is not None and exc.context_mark is not mark:
            context += f" at line {exc.context_mark.line + 1}"
        message += f" ({context})"
        if "flow" in context and "${" in line:
            message += "; inside [...] or {...}, quote a string that holds ${...}"
    return Issue((), where, message)


def reader_issue(exc: yaml.reader.ReaderError, text: str) -> Issue:
    # Find the character again: libyaml and PyYAML count offsets differently.
    found = _NON_PRINTABLE.search(text)
    if found is None:  # pragma: no cover - the readers refuse nothing else once UTF-8 is valid
        return Issue((), None, f"the file cannot be read as YAML: {exc.reason}")
    lines = _BREAKS.split(text[: found.start()])
    code = f"{ord(found.group()):04X}"
    return Issue(
        (),
        (len(lines), len(lines[-1]) + 1),
        f"the control character U+{code} is not allowed in YAML; remove it, or write it escaped "
        f'in a double-quoted string ("\\u{code}")',
    )


def _line(text: str, line: int) -> str:
    lines = _BREAKS.split(text)
    return lines[line - 1] if 0 < line <= len(lines) else ""
