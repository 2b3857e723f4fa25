"""Secrets, in one place: what is masked, what is redacted, what a saved plan seals, and the token.

Four kinds of protection, each a function here:

- **Masking** (``mask``): values at ``sensitive`` pointers (and every value that came from the
  environment) are shown as ``MASK`` in plans and reports. The diff masks as it builds field
  changes, so no renderer ever sees a secret.
- **Redaction** (``redact``): an API error message can repeat what was sent (a server naming the
  value it rejects, a proxy echoing the request). Before a message is kept, every secret value
  of the payloads is replaced by ``***``, also in the escaped and shortened forms a message uses.
- **Sealing** (``seal``/``unseal``): a saved plan never holds a secret. A value from the
  environment is stored as its ``${VAR}`` template plus a salted HMAC keyed with a key derived
  from the API token (``plan_key``), and re-read from the environment when the plan is loaded; a
  value that no longer matches makes its task stale. Any other value at a ``sensitive`` pointer
  (a literal, or a remote value carried in merge mode) is stored encrypted (AES-GCM) with a key
  derived from the same token. Without the token, a published plan gives nothing away.
- **Scrubbing** (``scrub_token``): the API token is removed from every message the client builds,
  including a token cut short after ``Bearer``.

Apify stores secret input fields encrypted and answers them as ``ENCRYPTED_VALUE:...`` (strings)
or ``ENCRYPTED_JSON:...`` (objects and arrays); ``ENCRYPTED_PREFIXES`` names both. (defined in
``jsonutil``, where equality learns that a secret matches any value of its kind).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tasksync.jsonutil import (
    ENCRYPTED_JSON,
    ENCRYPTED_VALUE,
    MISSING,
    canonical,
    covered,
    escape_token,
    pointer_tokens,
    resolve,
    set_at,
)
from tasksync.model import JSON, TaskChange
from tasksync.text import one_line

MASK = "<sensitive>"
ENCRYPTED_PREFIXES = (ENCRYPTED_VALUE, ENCRYPTED_JSON)

MIN_REDACTED_LENGTH = 4
"""Shorter secret values are not redacted in messages: they would garble them beyond use."""


def is_encrypted(value: JSON) -> bool:
    return type(value) is str and value.startswith(ENCRYPTED_PREFIXES)


def encrypted_at(
    value: JSON, at: tuple[str, ...] = (), found: list[tuple[str, ...]] | None = None
) -> list[tuple[str, ...]]:
    """Where (as pointer tokens, in document order) the encrypted secrets of a remote value
    are. The walk builds no path until it finds one: it runs on every task's input and almost
    never finds any."""
    found = [] if found is None else found
    if type(value) is dict:
        items: Iterable[tuple[str, JSON]] = value.items()
    elif type(value) is list:
        items = ((str(i), item) for i, item in enumerate(value))
    else:
        if is_encrypted(value):
            found.append(at)
        return found
    for key, item in items:
        if type(item) is dict or type(item) is list:
            encrypted_at(item, (*at, key), found)
        elif type(item) is str and item.startswith(ENCRYPTED_PREFIXES):
            found.append((*at, key))
    return found


def keep_secrets(
    env_refs: Mapping[str, str], remote_input: JSON, target: JSON, rotate_secrets: bool
) -> tuple[JSON, dict[str, str]]:
    """``target`` (a task's input to send) with the stored encrypted value of each kept secret
    field, and what happens to each secret field the file declares: ``kept`` (its value comes
    from the environment, ``env_refs``, and is not rotated) or ``rotated``."""
    fields: dict[str, str] = {}
    for tokens in encrypted_at(remote_input):
        pointer = "/input" + "".join("/" + escape_token(t) for t in tokens)
        stored = resolve(remote_input, tokens)
        wanted = resolve(target, tokens)
        if wanted is MISSING or (type(wanted) is str and wanted == stored):
            continue  # removed, or the remote value carried (merge mode, ignored)
        from_env = any(covered(ref, (pointer,)) for ref in env_refs)
        if from_env and not rotate_secrets:
            if "kept" not in fields.values():  # shares structure with the spec: copy once
                target = copy.deepcopy(target)
            set_at(target, tokens, stored)
            fields[pointer] = "kept"
        else:
            fields[pointer] = "rotated"
    return target, fields


# -- masking -------------------------------------------------------------------------------------


def mask(value: JSON, path: str, sensitive: frozenset[str]) -> JSON:
    """``value`` (found at ``path``) with every sensitive part replaced by ``MASK``."""
    if not sensitive:
        return value
    if covered(path, sensitive):
        return MASK
    if not any(p.startswith(path + "/") for p in sensitive):
        return value
    if type(value) is dict:
        return {k: mask(v, f"{path}/{escape_token(k)}", sensitive) for k, v in value.items()}
    if type(value) is list:
        return [mask(v, f"{path}/{i}", sensitive) for i, v in enumerate(value)]
    return value


# -- redaction -----------------------------------------------------------------------------------


def secret_values(changes: Collection[TaskChange]) -> frozenset[str]:
    """The values from the environment in the payloads of these changes."""
    found: set[str] = set()
    for change in changes:
        for pointer in change.secret_refs:
            value = resolve(change.payload, pointer_tokens(pointer))
            if isinstance(value, str) and len(value) >= MIN_REDACTED_LENGTH:
                found.add(value)
    return frozenset(found)


def redact(text: str, secrets: Collection[str]) -> str:
    """``text`` with every secret masked as ``***``: as it is, JSON-escaped (a body that repeats
    the request), on one line (as the client quotes messages), and cut short before ``...``
    (where the client shortens a long message)."""
    for secret in sorted(secrets, key=len, reverse=True):
        for form in _forms(secret):
            if form in text:
                text = text.replace(form, "***")
            if "..." in text:
                for end in range(len(form) - 1, MIN_REDACTED_LENGTH - 1, -1):
                    text = text.replace(form[:end] + "...", "***...")
    return text


def _forms(secret: str) -> Iterator[str]:
    yield secret
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    for form in (escaped, json.dumps(secret)[1:-1], one_line(secret)):
        if form != secret and len(form) >= MIN_REDACTED_LENGTH:
            yield form


# -- kept secrets --------------------------------------------------------------------------------


def secret_fields_json(fields: Mapping[str, str]) -> list[dict[str, str]]:
    """Each secret field sent, and whether its stored value was kept or rotated (no value)."""
    return [{"path": path, "action": action} for path, action in sorted(fields.items())]


_SCHEMA_CHANGED = ("secretFieldSchemaChanged", "is a secret field, but its schema has changed")


def explain_refused_secret(message: str, secret_fields: Mapping[str, str]) -> str:
    """``message``, with what to do when Apify refused a kept secret because the field's schema
    changed since it was encrypted (``secretFieldSchemaChanged``)."""
    kept = sorted(p for p, what in secret_fields.items() if what == "kept")
    if not kept or not any(marker in message for marker in _SCHEMA_CHANGED):
        return message
    return (
        f"{message} -- the stored encrypted value of {', '.join(kept)} was sent back (kept), but "
        "the Actor changed that secret field's schema since it was encrypted, so Apify needs the "
        "value again in clear: apply with --rotate-secrets"
    )


# -- the token -----------------------------------------------------------------------------------

_BEARER = re.compile(r"(?i)bearer\s+[^\s\"'<>]+")


def scrub_token(text: str, token: str) -> str:
    """``text`` without the token, nor whatever follows "Bearer" (a token cut short)."""
    if token and token in text:
        text = text.replace(token, "***")
    return _BEARER.sub("Bearer ***", text)


# -- sealing for saved plans ---------------------------------------------------------------------


def plan_key(token: str) -> bytes:
    """The key that seals a saved plan, derived from the API token: whoever reads a published
    plan cannot test guesses of a weak secret offline without the token too."""
    return hmac.new(token.encode(), b"tasksync saved plan v1", hashlib.sha256).digest()


def _hash(value: str, salt: bytes, key: bytes) -> str:
    data = salt + value.encode("utf-8", "surrogatepass")
    return "hmac-sha256:" + hmac.new(key, data, hashlib.sha256).hexdigest()


def fingerprint(view: JSON, key: bytes) -> str:
    """A keyed hash of what a planned update rests on (``diff.managed_view``)."""
    return "hmac-sha256:" + hmac.new(key, b"basis\0" + canonical(view), hashlib.sha256).hexdigest()


def _cipher(key: bytes) -> AESGCM:
    return AESGCM(hmac.new(key, b"sealed values", hashlib.sha256).digest())


def seal(
    change: TaskChange, salt: bytes, cache: dict[str, str], key: bytes
) -> tuple[dict[str, JSON], list[dict[str, str]]]:
    """The change's payload with each value from the environment replaced by its template, and
    every other value at a sensitive pointer by ``MASK``; the list of what was replaced: a
    template and a keyed hash, or the value encrypted with a key derived from the token."""
    payload = copy.deepcopy(dict(change.payload))
    sealed = []
    for pointer, template in change.secret_refs.items():
        tokens = pointer_tokens(pointer)
        value = resolve(payload, tokens)
        if not isinstance(value, str):
            continue
        if value not in cache:
            cache[value] = _hash(value, salt, key)
        set_at(payload, tokens, template)
        sealed.append({"path": pointer, "template": template, "hash": cache[value]})
    for pointer in sorted(change.sensitive):
        tokens = pointer_tokens(pointer)
        value = resolve(payload, tokens)
        if value is MISSING or pointer in change.secret_refs or (tokens and tokens[0] == "name"):
            continue
        nonce = os.urandom(12)
        box = _cipher(key).encrypt(nonce, canonical(value), pointer.encode())
        set_at(payload, tokens, MASK)
        sealed.append({"path": pointer, "sealed": base64.b64encode(nonce + box).decode()})
    return payload, sealed


class Unsealed:
    """A saved payload with its secrets read back from the environment."""

    def __init__(self, payload: dict[str, Any], refs: dict[str, str], stale: str | None) -> None:
        self.payload = payload
        self.refs = refs
        self.stale = stale


def unseal(
    payload: Mapping[str, Any],
    sealed: list[dict[str, str]],
    salt: bytes,
    environ: Mapping[str, str],
    cache: dict[tuple[str, str], str],
    key: bytes,
) -> Unsealed:
    """``seal`` undone with today's environment; ``stale`` says why it no longer matches.
    Raises ``ValueError`` when a sealed value cannot be opened with this key."""
    from tasksync.config.interpolate import expand_string

    result = copy.deepcopy(dict(payload))
    refs: dict[str, str] = {}
    stale = None
    for secret in reversed(sealed):  # sensitive values first: they may hold templates
        pointer = secret["path"]
        if "sealed" in secret:
            raw = base64.b64decode(secret["sealed"])
            try:
                opened = _cipher(key).decrypt(raw[:12], raw[12:], pointer.encode())
            except InvalidTag:
                raise ValueError(
                    "a sensitive value cannot be opened: the plan was saved with another API token"
                ) from None
            set_at(result, pointer_tokens(pointer), json.loads(opened))
            continue
        template = secret["template"]
        refs[pointer] = template
        expansion = expand_string(template, environ)
        if expansion.missing or expansion.error:
            why = expansion.error or f"{', '.join(expansion.missing)} is not set"
            stale = f"{template} cannot be read from the environment ({why})"
            continue
        value = expansion.value
        cache_key = (template, value)
        if cache_key not in cache:
            cache[cache_key] = _hash(value, salt, key)
        if not hmac.compare_digest(cache[cache_key], secret["hash"]):
            stale = f"the value of {template} changed since the plan was made"
        set_at(result, pointer_tokens(pointer), value)
    return Unsealed(result, refs, stale)
