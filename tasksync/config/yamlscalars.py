"""YAML scalars -> JSON values: the few spellings that YAML 1.1 and YAML 1.2 read the same way.

Plain scalars resolve to ``null``, booleans, integers and floats only in the spellings that YAML
1.1 (what ``yaml.safe_dump`` and ``tasksync export`` write) and YAML 1.2 (what editors check
against the schema) agree on; anything else (``yes``, ``on``, ``0o17``, ``1_000``, ``1e5``, dates)
stays a string. So a string that ``safe_dump`` wrote unquoted always reads back as that string.
A document written as JSON (its root a flow mapping, ``{...}``) reads every JSON number as one,
as JSON does (``1e5``, ``2.5E-3``): ``safe_dump`` never writes such a document.
Tags other than the JSON ones are refused: nothing is ever constructed from a tag.

The reader's hot loop looks ``PLAIN`` up itself and calls ``number`` only for a scalar that
starts like one; the functions here return a value and, when it is not usable, a message.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tasksync.config.issues import quote
from tasksync.model import JSON
from tasksync.text import shorten

TAG = "tag:yaml.org,2002:"
"""The prefix of the standard tags (``!!str`` is ``tag:yaml.org,2002:str``)."""

PLAIN: dict[str, JSON] = {
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
"""Plain scalars that are not strings, besides numbers."""

NUMBER_START = frozenset("-+.0123456789")
"""The first characters of the plain scalars that ``number`` may turn into a number."""

MISSING: Any = object()
"""What ``PLAIN.get`` returns for a string (a sentinel: ``None`` is a value)."""

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"(?:[-+]?[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?\Z")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOAT = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z")
_MAX_DIGITS = 4000  # int() refuses longer strings (sys.int_info.default_max_str_digits)


def number(raw: str, json_numbers: bool = False) -> tuple[JSON, str | None]:
    """The number a plain scalar spells, or the scalar itself when it spells none. With
    ``json_numbers`` (a document written as JSON), every JSON number is one: ``1e5``, ``1.5E3``."""
    if _INT.match(raw):
        if len(raw) > _MAX_DIGITS:
            return None, "the number has too many digits"
        return int(raw), None
    if _FLOAT.match(raw) or (json_numbers and _JSON_NUMBER.match(raw)):
        value = float(raw)
        if math.isfinite(value):
            return value, None
        return None, f"{shorten(raw)} is too large for a JSON number"
    if _SPECIAL_FLOAT.match(raw):
        return None, f"{raw} is not a JSON number (JSON has no infinity nor NaN)"
    return raw, None


def plain(raw: str) -> tuple[JSON, str | None]:
    """The value of an untagged plain scalar (the hot loop inlines this)."""
    value = PLAIN.get(raw, MISSING)
    if value is not MISSING:
        return value, None
    if raw[0] in NUMBER_START:
        return number(raw)
    return raw, None


def tagged(tag: str, raw: str) -> tuple[JSON, str | None]:
    """The value of a scalar written with a tag (``!!int 3``, ``!!str 3``, ``! 3``)."""
    if tag == "!" or tag == TAG + "str":
        return raw, None
    kind = tag[len(TAG) :] if tag.startswith(TAG) else None
    if kind not in ("int", "float", "bool", "null"):
        return raw, bad_tag(tag)
    value, message = plain(raw)
    if message is not None:
        return raw, message
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), None
    elif {"int": type(value) is int, "bool": type(value) is bool, "null": value is None}[kind]:
        return value, None
    return raw, f"{quote(shorten(raw))} is not a valid {tag_name(tag)} value"


def tag_name(tag: str) -> str:
    """``tag:yaml.org,2002:binary`` -> ``!!binary``."""
    return shorten("!!" + tag[len(TAG) :] if tag.startswith(TAG) else tag)


def bad_tag(tag: str) -> str:
    return (
        f"the tag {tag_name(tag)} is not allowed: a task file holds only JSON values (strings, "
        "numbers, booleans, null, mappings, lists) and tags are never executed"
    )


def not_a_string_key(key: JSON) -> str:
    if isinstance(key, dict | list):
        return "a key must be a string, not a " + ("mapping" if isinstance(key, dict) else "list")
    shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
    return f'the key {shown} is not a string; quote it ("{shown}"): JSON keys are strings'
