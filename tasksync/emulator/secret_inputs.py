"""Secret inputs: values under an Actor's secret input keys are stored "encrypted".

As on Apify, a string is stored as ``ENCRYPTED_VALUE:<parts>`` and an object or array as
``ENCRYPTED_JSON:<parts>`` (base64 parts: a schema hash, then the sealed value); a value already
in either form is stored unchanged. Like Apify's, the ciphertext differs on every save; the
emulator remembers each plaintext, so a test can read it back (``plaintext``) and prove that no
plaintext reached the API.
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

ENCRYPTED_PREFIX = "ENCRYPTED_VALUE:"
ENCRYPTED_JSON_PREFIX = "ENCRYPTED_JSON:"
_PREFIXES = (ENCRYPTED_PREFIX, ENCRYPTED_JSON_PREFIX)


class SecretInputs:
    def __init__(self, core: Core) -> None:
        self._core = core
        self._key = secrets.token_bytes(16)
        self.clear()

    def clear(self) -> None:
        self._plaintexts: dict[str, JSON] = {}

    def protect(self, keys: Iterable[str], value: JSON) -> JSON:
        """``value`` with plaintext values under ``keys`` encrypted (a new dict if any)."""
        if not isinstance(value, dict):
            return value
        result: dict[str, JSON] | None = None
        for key in keys:
            plain = value.get(key)
            if isinstance(plain, str) and plain.startswith(_PREFIXES):
                continue  # already encrypted: kept as it is
            if isinstance(plain, str | dict | list):
                if result is None:
                    result = dict(value)
                result[key] = self._encrypt(plain)
        return value if result is None else result

    def plaintext(self, encrypted: str) -> JSON:
        """The plaintext that was stored as ``encrypted`` (``KeyError`` if it never was)."""
        try:
            return copy.deepcopy(self._plaintexts[encrypted])
        except KeyError:
            raise KeyError("this value was never encrypted by this emulator") from None

    def _encrypt(self, plaintext: JSON) -> str:
        is_text = isinstance(plaintext, str)
        raw = plaintext if is_text else json.dumps(plaintext, sort_keys=True)
        nonce = self._core.rng.randbytes(8)
        digest = hmac.new(self._key, nonce + raw.encode(), hashlib.sha256).digest()
        schema_hash = base64.b64encode(digest[24:30]).decode()
        sealed = base64.b64encode(nonce + digest[:24]).decode()
        if is_text:
            encrypted = ENCRYPTED_PREFIX + sealed
        else:
            encrypted = f"{ENCRYPTED_JSON_PREFIX}{schema_hash}:{sealed}"
        self._plaintexts[encrypted] = copy.deepcopy(plaintext)
        return encrypted
