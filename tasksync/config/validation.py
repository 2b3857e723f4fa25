"""The JSON Schema check of a task file, with jsonschema's errors turned into short sentences.

The schema (``tasksync/schema/tasks.schema.json``, draft 2020-12) is the one editors use through
``# yaml-language-server: $schema=...``, so everything it can express lives there: keys, types,
task names, option ranges, JSON Pointer syntax. The document is validated once, as read. For speed
the validator gets a compiled copy of the schema with the local ``$ref``s inlined (jsonschema
resolves a ``$ref`` on every visit) and the documentation keywords dropped.

jsonschema's own messages dump the schema (``1000 is not one of [128, 256, ...]``); here each error
becomes one sentence that says what to write instead.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from tasksync.config.issues import Issue, Path
from tasksync.model import JSON, OPTION_KEYS
from tasksync.text import shorten

if TYPE_CHECKING:
    from jsonschema import (  # type: ignore[import-untyped]  # no stubs among the dependencies
        Draft202012Validator,
        ValidationError,
    )

MEMORY_SIZES = tuple(2**n for n in range(7, 16))
"""The values ``options.memoryMbytes`` accepts: powers of two from 128 to 32768."""


def schema() -> dict[str, Any]:
    """The JSON Schema of the task file (a fresh copy)."""
    text = resources.files("tasksync").joinpath("schema", "tasks.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def _compiled() -> dict[str, Any]:
    source = schema()
    compiled: dict[str, Any] = _compile(source, source.get("$defs", {}))
    return compiled


@functools.cache
def _validator() -> Draft202012Validator:
    # Imported here: a valid file never needs jsonschema (the fast path below), and importing it
    # takes longer than loading a small file.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_compiled())


def check(document: JSON) -> list[Issue]:
    """Every schema problem of ``document``, as issues without positions."""
    if _surely_valid(_compiled(), document):
        return []
    issues: list[Issue] = []
    for error in _validator().iter_errors(document):
        issues.extend(_describe(error))
    return issues


# -- the fast path -----------------------------------------------------------------------------
#
# jsonschema spends about 4 µs on every schema node it visits (a new validator object per step),
# some 40 µs per task entry. Almost every file is valid, so a file is first checked by
# ``_surely_valid``: a plain walk over the few keywords this schema uses, each implemented at
# least as strictly as jsonschema (``integer`` is an int and never 1.0, ``enum`` compares types
# too, an unknown keyword is "not sure"). It can say "valid" only when jsonschema would; when it
# is not sure, jsonschema checks the file and explains what is wrong. A property test holds the
# two together (tests/test_config_properties.py).


def _surely_valid(node: Any, value: Any) -> bool:
    if node is True or node == {}:
        return True
    if not isinstance(node, dict):
        return False
    for key, want in node.items():
        if key == "type":
            if not (
                any(_is(value, name) for name in want)
                if isinstance(want, list)
                else _is(value, want)
            ):
                return False
        elif key == "enum":
            if not any(_equal(value, option) for option in want):
                return False
        elif key == "const":
            if not _equal(value, want):
                return False
        elif key == "pattern":
            if type(value) is str and _regex(want).search(value) is None:
                return False
        elif key == "minLength":
            if type(value) is str and len(value) < want:
                return False
        elif key in _BOUNDS:
            if type(value) in (int, float) and not _BOUNDS[key](value, want):
                return False
        elif key == "required":
            if type(value) is dict and any(name not in value for name in want):
                return False
        elif key == "items":
            if type(value) is list and not all(_surely_valid(want, item) for item in value):
                return False
        elif key == "properties":
            if type(value) is dict and not all(
                _surely_valid(sub, value[name]) for name, sub in want.items() if name in value
            ):
                return False
        elif key in ("patternProperties", "additionalProperties"):
            if type(value) is dict and not _other_keys_valid(node, value):
                return False
        elif key != "$schema":
            return False  # a keyword this walk does not know: not sure
    return True


def _other_keys_valid(node: dict[str, Any], value: dict[str, Any]) -> bool:
    """``patternProperties`` and ``additionalProperties``, which are judged together."""
    named = node.get("properties", {})
    patterns = node.get("patternProperties", {})
    rest = node.get("additionalProperties", True)
    for name, item in value.items():
        matched = False
        for pattern, sub in patterns.items():
            if _regex(pattern).search(name) is not None:
                matched = True
                if not _surely_valid(sub, item):
                    return False
        if not matched and name not in named and not _surely_valid(rest, item):
            return False
    return True


def _is(value: Any, name: str) -> bool:
    kind = type(value)
    if name == "number":
        return kind is int or kind is float
    return kind is _TYPES.get(name, _Never)


def _equal(value: Any, option: Any) -> bool:
    return type(value) is type(option) and value == option


class _Never:
    pass


_TYPES: dict[str, type] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "boolean": bool,
    "null": type(None),
}
_BOUNDS = {
    "minimum": lambda value, bound: value >= bound,
    "maximum": lambda value, bound: value <= bound,
    "exclusiveMinimum": lambda value, bound: value > bound,
}


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- compiling the schema ----------------------------------------------------------------------

_SCHEMA_MAPS = frozenset({"properties", "patternProperties"})
_SCHEMA_VALUES = frozenset({"items", "additionalProperties", "not", "contains"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_DOCS = frozenset({"$id", "title", "description", "$comment", "examples", "$defs"})


def _compile(node: Any, defs: dict[str, Any]) -> Any:
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _compile(defs[ref.removeprefix("#/$defs/")], defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DOCS:
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: _compile(sub, defs) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = _compile(value, defs)
        elif key in _SCHEMA_LISTS:
            out[key] = [_compile(sub, defs) for sub in value]
        elif key == "pattern" and value.endswith("$"):
            # ECMA's "$" is the end of the text; Python's also matches before a final newline.
            out[key] = value[:-1] + r"\Z"
        else:
            out[key] = value
    return out


# -- messages ----------------------------------------------------------------------------------

_TOP_LEVEL = ("version", "safety", "defaults", "tasks")


def _describe(error: ValidationError) -> Iterator[Issue]:
    path: Path = tuple(error.absolute_path)
    keyword = error.validator
    expected = error.validator_value
    value = error.instance
    last = path[-1] if path else None
    if keyword == "required":
        for key in expected:
            if isinstance(value, dict) and key not in value:
                yield Issue(path, None, _missing(path, key))
    elif keyword == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        for key in value:
            if key not in known and not any(re.search(p, key) for p in patterns):
                yield Issue((*path, key), None, _unknown_key(path, key, known))
    elif keyword == "type":
        yield Issue(path, None, f"must be {_kinds(expected)}, not {_what(value)}")
    elif keyword == "enum" and last == "memoryMbytes":
        yield Issue(path, None, memory_message(value))
    elif keyword == "enum":
        choices = " or ".join(json.dumps(c) for c in expected if c is not None)
        yield Issue(path, None, f"must be {choices}, not {_what(value)}")
    elif keyword == "const" and path == ("version",):
        yield Issue(path, None, f"unsupported version {_what(value)}: this tasksync reads 1")
    elif keyword == "pattern":
        yield Issue(path, None, _pattern_message(path, value))
    elif keyword == "minimum":
        yield Issue(path, None, f"must be at least {expected}, not {_what(value)}")
    elif keyword == "exclusiveMinimum":
        yield Issue(path, None, f"must be greater than {expected}, not {_what(value)}")
    elif keyword == "maximum":
        yield Issue(path, None, f"must be at most {expected}, not {_what(value)}")
    elif keyword == "minLength":
        yield Issue(path, None, "must not be empty")
    else:  # pragma: no cover - the schema uses no other keyword
        message = error.message
        yield Issue(path, None, message if len(message) <= 200 else message[:197] + "...")


def memory_message(value: JSON) -> str:
    if type(value) is int:
        return f"{value} is not a power of two between 128 and 32768 (such as 1024 or 4096)"
    return f"must be a power of two between 128 and 32768 (such as 1024), not {_what(value)}"


def _missing(path: Path, key: str) -> str:
    if key == "version":
        return "missing 'version: 1' (the format version of the file)"
    if key == "tasks":
        return "missing 'tasks', the list of tasks"
    if key == "task":
        return "missing 'task', which names the task (an ID, username~name or ~name)"
    return f"missing {key!r}"  # pragma: no cover - no other key is required


def _unknown_key(path: Path, key: str, known: list[str]) -> str:
    if path == ("defaults",) and key == "task":
        return "'task' cannot have a default: every task names its own"
    known = [k for k in known if k != "task" or path != ("defaults",)]
    if not path:
        known = [*_TOP_LEVEL]
    message = f"unknown key {_quoted(key)}"
    close = (
        difflib.get_close_matches(key, known, n=1, cutoff=0.7)
        or [k for k in known if len(key) >= 4 and k.lower().startswith(key.lower())][:1]
    )
    if close:
        return f"{message}; did you mean {_quoted(close[0])}?"
    hint = ", ".join(known)
    if not path:
        hint += ", and x-... keys for anchors"
    return f"{message} (known keys: {hint})"


def _pattern_message(path: Path, value: str) -> str:
    if path[-1] == "task":
        return task_ref_message(value)
    if path[-1] == "actor":
        return (
            f"{_quoted(value)} is not an Actor: write its ID or username~name "
            "(such as apify~web-scraper)"
        )
    return pointer_message(value)


_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]{1,61}[a-zA-Z0-9]\Z")


def task_ref_message(ref: str) -> str:
    """Why ``ref`` is not a task ID, ``username~name``, ``username/name`` or ``~name``."""
    shown = _quoted(ref)
    separator = "~" if "~" in ref else "/" if "/" in ref else None
    if separator is None:
        return (
            f"{shown} is not a task ID (17 letters and digits): write ~{ref} for a task of your "
            f"own, or username~{ref}"
        )
    user, _, name = ref.partition(separator)
    if re.search(r"[~/\s]", user):
        return f"{shown}: the username cannot hold '~', '/' or spaces"
    if not 3 <= len(name) <= 63:
        return f"{shown}: a task name has 3 to 63 characters, not {len(name)}"
    if not _NAME.match(name):
        return (
            f"{shown}: a task name holds only letters, digits and hyphens, and neither starts "
            "nor ends with a hyphen"
        )
    return f"{shown} is not a task ID, username~name or ~name"  # pragma: no cover


def pointer_message(pointer: str) -> str:
    """Why ``pointer`` is not a JSON Pointer under /options or /input."""
    shown = _quoted(pointer)
    if not pointer.startswith("/"):
        message = f"{shown} is not a JSON Pointer: it starts with '/'"
        if _is_pointer("/" + pointer):
            return f"{message}; did you mean {_quoted('/' + pointer)}?"
        return f"{message} (such as /input/cursor)"
    if re.search(r"~(?![01])", pointer):
        return f"{shown}: in a JSON Pointer '~' is written '~0' (and a '/' inside a key '~1')"
    tokens = pointer[1:].split("/")
    if tokens[0] not in ("options", "input"):
        return f"{shown} must point under /options or /input"
    if tokens[0] == "options" and len(tokens) > 1:
        if tokens[1] not in OPTION_KEYS:
            return (
                f"{shown}: unknown option {_quoted(tokens[1])} (options: {', '.join(OPTION_KEYS)})"
            )
        return f"{shown}: options hold single values; point at /options/{tokens[1]}"
    return f"{shown} is not a valid JSON Pointer"  # pragma: no cover


def _is_pointer(text: str) -> bool:
    """Whether the schema takes ``text`` as a pointer in ``ignore`` and ``sensitive``."""
    return _regex(_pointer_pattern()).search(text) is not None


@functools.cache
def _pointer_pattern() -> str:
    pattern: str = _compile(schema()["$defs"]["pointer"], {})["pattern"]
    return pattern


_KINDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
    "array": "a list",
    "object": "a mapping",
}


def _kinds(expected: str | list[str]) -> str:
    names: list[str] = []
    for name in [expected] if isinstance(expected, str) else expected:
        names += ["true", "false"] if name == "boolean" else [_KINDS.get(name, name)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _what(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "the string " + _quoted(value)
    return "a list" if isinstance(value, list) else "a mapping"


def _quoted(text: str) -> str:
    return json.dumps(shorten(text), ensure_ascii=False)
