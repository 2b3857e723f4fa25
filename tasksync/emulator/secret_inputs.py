"""Secret inputs: values under an Actor's secret input keys are stored "encrypted".

As Apify does (apify-shared-js ``input_secrets``): a string is stored as
``ENCRYPTED_VALUE:<schemaHash>:<ciphertext>``, an object or array as
``ENCRYPTED_JSON:<schemaHash>:<ciphertext>``; the ciphertext differs on every save. A value that
is already in that form is stored unchanged, so a client can send back what it read; but when
the field's schema changed since it was encrypted (``change_schema``), the old value is refused
with Apify's ``secretFieldSchemaChanged`` message. The emulator remembers each plaintext, so a
test can read it back (``plaintext``) and prove that no plaintext reached the API.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable

from tasksync.emulator.core import JSON, Core
from tasksync.emulator.errors import InvalidInput

ENCRYPTED_PREFIX = "ENCRYPTED_VALUE:"
ENCRYPTED_JSON_PREFIX = "ENCRYPTED_JSON:"
_PREFIXES = (ENCRYPTED_PREFIX, ENCRYPTED_JSON_PREFIX)

SCHEMA_CHANGED = (
    "The field schema.properties.{key} is a secret field, but its schema has changed. Please "
    "update the value in the input editor."
)
"""Apify's message ``inputSchema.validation.secretFieldSchemaChanged``."""


class SecretInputs:
    def __init__(self, core: Core) -> None:
        self._core = core
        self._key = secrets.token_bytes(16)
        self.clear()

    def clear(self) -> None:
        self._plaintexts: dict[str, JSON] = {}
        self._versions: dict[tuple[str, str], int] = {}

    def change_schema(self, actor_id: str, key: str) -> None:
        """The schema of a secret field changed: values encrypted before no longer validate."""
        with self._core.lock:
            self._versions[(actor_id, key)] = self._versions.get((actor_id, key), 0) + 1

    def protect(self, actor_id: str, keys: Iterable[str], value: JSON) -> JSON:
        """``value`` with plaintext values under ``keys`` encrypted (a new dict if any).
        Raises ``InvalidInput`` for an encrypted value made under an older field schema."""
        if not isinstance(value, dict):
            return value
        result: dict[str, JSON] | None = None
        for key in keys:
            plain = value.get(key)
            if not isinstance(plain, str | dict | list):
                continue  # Apify's secret fields are strings, objects or arrays
            schema = self._schema_hash(actor_id, key)
            if isinstance(plain, str) and plain.startswith(_PREFIXES):
                if plain.split(":", 2)[1] != schema:
                    raise InvalidInput(SCHEMA_CHANGED.format(key=key))
                continue  # already encrypted: stored unchanged
            if result is None:
                result = dict(value)
            result[key] = self._encrypt(plain, schema)
        return value if result is None else result

    def plaintext(self, encrypted: str) -> JSON:
        """The plaintext that was stored as ``encrypted`` (``KeyError`` if it never was)."""
        try:
            return copy.deepcopy(self._plaintexts[encrypted])
        except KeyError:
            raise KeyError("this value was never encrypted by this emulator") from None

    def _schema_hash(self, actor_id: str, key: str) -> str:
        version = self._versions.get((actor_id, key), 0)
        return hashlib.sha256(f"{actor_id}/{key}/{version}".encode()).hexdigest()[:10]

    def _encrypt(self, plaintext: JSON, schema: str) -> str:
        prefix = ENCRYPTED_PREFIX if isinstance(plaintext, str) else ENCRYPTED_JSON_PREFIX
        text = plaintext if isinstance(plaintext, str) else json.dumps(plaintext)
        nonce = self._core.rng.randbytes(8)
        digest = hmac.new(self._key, nonce + text.encode(errors="surrogatepass"), hashlib.sha256)
        encrypted = f"{prefix}{schema}:{base64.b64encode(nonce + digest.digest()[:24]).decode()}"
        self._plaintexts[encrypted] = plaintext
        return encrypted
