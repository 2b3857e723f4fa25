"""Where a problem is in the document, and how its path is written in messages.

The readers and checks of this package report an ``Issue``: a path from the root (keys and list
indexes), a position when the reader knew it, and a sentence. The loader turns issues into
``errors.Problem``s, looking positions up (``yamllocate``) only for the issues that lack one.
This module imports neither PyYAML nor jsonschema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Path = tuple[str | int, ...]
"""Where a value is in the document: keys and list indexes from the root."""

Pos = tuple[int, int]
"""A 1-based line and column."""


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem found while reading or checking: where it is and what is wrong."""

    path: Path
    pos: Pos | None
    message: str


_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


def dotted(path: Path) -> str:
    """``("tasks", 3, "options", "memoryMbytes")`` -> ``tasks[3].options.memoryMbytes``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += "[" + quote(part) + "]"
    if len(out) > 120:  # only absurdly deep paths; keep where they start and end
        out = out[:70] + "..." + out[-40:]
    return out


def quote(text: str) -> str:
    """``text`` in double quotes, with backslashes and quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pointer(path: Path) -> str:
    """The JSON Pointer (RFC 6901) of ``path``: ``("input", "a/b")`` -> ``/input/a~1b``."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in path)
