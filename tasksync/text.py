"""Text for people: messages stay on one line, at a readable length, and cannot steer a terminal.

The task file, the API's answers and the values they carry all end up quoted in messages, plans and
reports. A key can be thousands of characters long, a proxy's error page spans many lines, and a
value can hold an escape sequence or a bidi override that would recolour the terminal, move the
cursor or reorder the rest of the line.
"""

from __future__ import annotations


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with ``...``."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text: str) -> str:
    """``text`` on one line: runs of whitespace and unprintable characters become one space."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def visible(text: str) -> str:
    """``text`` with every unprintable character written as an escape (``\\u001b``), so that
    what a message quotes is shown, not obeyed."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 change``, ``2 changes``; ``many`` for a plural that is not ``word + "s"``."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
