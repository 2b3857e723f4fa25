"""JSON values as the Apify API sees them: equality, deep merge, and JSON Pointers (RFC 6901).

One of each, used by the diff, the plan, the secrets and export alike. Values are plain Python
``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` as ``json.loads`` gives them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any, Final

from tasksync.model import JSON

MISSING: Final[Any] = object()
"""What ``resolve`` returns where a pointer leads nowhere (distinct from a JSON ``null``)."""

deep_copy = copy.deepcopy


ENCRYPTED_VALUE = "ENCRYPTED_VALUE:"
"""How Apify answers a secret string input field: encrypted, never in clear."""
ENCRYPTED_JSON = "ENCRYPTED_JSON:"
"""How Apify answers a secret object or array input field."""


def json_equal(a: JSON, b: JSON, encrypted_matches: bool = False) -> bool:
    """JSON equality as a JavaScript server sees it: ``5 == 5.0``, but ``True != 1`` and
    ``"1" != 1``; mapping key order is ignored, list order is not.

    With ``encrypted_matches``, an encrypted secret on the ``a`` side stands for a value that
    cannot be seen: ``ENCRYPTED_VALUE:...`` equals any string, ``ENCRYPTED_JSON:...`` any
    mapping or list.
    """
    ta, tb = type(a), type(b)
    if ta is not tb:
        if ta in _NUMBERS and tb in _NUMBERS:
            return bool(a == b)
        return (
            ta is str and tb in _CONTAINERS and encrypted_matches and a.startswith(ENCRYPTED_JSON)
        )
    if ta is dict:
        if len(a) != len(b):
            return False
        for key, value in b.items():
            other = a.get(key, MISSING)
            kind = type(value)
            if type(other) is kind and kind is not dict and kind is not list:
                # Two scalars of one type (most values): compared here, without a call.
                if other != value and not (
                    kind is str and encrypted_matches and other.startswith(ENCRYPTED_VALUE)
                ):
                    return False
            elif other is MISSING or not json_equal(other, value, encrypted_matches):
                return False
        return True
    if ta is list:
        return len(a) == len(b) and all(
            json_equal(x, y, encrypted_matches) for x, y in zip(a, b, strict=True)
        )
    return bool(a == b) or (ta is str and encrypted_matches and a.startswith(ENCRYPTED_VALUE))


_NUMBERS = (int, float)  # not bool: type(True) is bool
_CONTAINERS = (dict, list)


def js_value(value: JSON) -> JSON:
    """``value`` as a JavaScript server would give it back: integral floats become ints."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if kind is dict:
        return {key: js_value(item) for key, item in value.items()}
    if kind is list:
        return [js_value(item) for item in value]
    return value


def canonical(value: JSON) -> bytes:
    """One byte string per JSON value in the sense of ``json_equal`` (keys sorted, ``5.0`` as
    ``5``, ASCII only so that any string, lone surrogates included, can be written)."""
    text = json.dumps(js_value(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode()


def deep_merge(base: JSON, overlay: JSON) -> JSON:
    """Mappings merge recursively (overlay wins); lists and scalars are replaced. Copies nothing
    that it does not change: callers treat the result as read-only or copy it."""
    if type(base) is not dict or type(overlay) is not dict:
        return overlay
    merged = dict(base)
    for key, value in overlay.items():
        merged[key] = deep_merge(base[key], value) if key in base else value
    return merged


# -- JSON Pointers ---------------------------------------------------------------------------------


def pointer_tokens(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def child(node: JSON, token: str) -> JSON:
    """The child ``token`` names in ``node``, or ``MISSING``."""
    if type(node) is dict:
        return node.get(token, MISSING)
    if type(node) is list and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    return MISSING


def resolve(doc: JSON, tokens: Sequence[str]) -> JSON:
    """The value at ``tokens`` inside ``doc``, or ``MISSING``."""
    node = doc
    for token in tokens:
        node = child(node, token)
        if node is MISSING:
            return MISSING
    return node


def set_at(doc: JSON, tokens: Sequence[str], value: JSON) -> None:
    """Replace the value at ``tokens`` (which must exist) in place."""
    parent = resolve(doc, tokens[:-1])
    if type(parent) is dict:
        parent[tokens[-1]] = value
    elif type(parent) is list:
        parent[int(tokens[-1])] = value


def covered(path: str, pointers: frozenset[str] | tuple[str, ...]) -> bool:
    """True when ``path`` is one of ``pointers`` or lies below one of them."""
    return any(path == p or path.startswith(p + "/") for p in pointers)


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_dumps_ascii = json.JSONEncoder(separators=(",", ":")).encode


def request_body(value: JSON) -> bytes:
    """UTF-8 JSON; escaped (``\\ud800``) when a string holds a lone surrogate, which a
    JavaScript string may hold but UTF-8 cannot encode."""
    try:
        return _dumps(value).encode()
    except UnicodeEncodeError:
        return _dumps_ascii(value).encode()
