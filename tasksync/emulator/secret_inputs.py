"""Secret inputs: strings under an Actor's secret input keys are stored "encrypted".

Like Apify's, the ciphertext differs on every save; the emulator remembers each plaintext, so a
test can read it back (``plaintext``) and prove that no plaintext reached the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from tasksync.emulator.core import JSON, Core

ENCRYPTED_PREFIX = "ENCRYPTED_VALUE:"


class SecretInputs:
    def __init__(self, core: Core) -> None:
        self._core = core
        self._key = secrets.token_bytes(16)
        self.clear()

    def clear(self) -> None:
        self._plaintexts: dict[str, str] = {}

    def protect(self, keys: Iterable[str], value: JSON) -> JSON:
        """``value`` with plaintext strings under ``keys`` encrypted (a new dict if any)."""
        if not isinstance(value, dict):
            return value
        result: dict[str, JSON] | None = None
        for key in keys:
            plain = value.get(key)
            if isinstance(plain, str) and not plain.startswith(ENCRYPTED_PREFIX):
                if result is None:
                    result = dict(value)
                result[key] = self._encrypt(plain)
        return value if result is None else result

    def plaintext(self, encrypted: str) -> str:
        """The plaintext that was stored as ``encrypted`` (``KeyError`` if it never was)."""
        try:
            return self._plaintexts[encrypted]
        except KeyError:
            raise KeyError("this value was never encrypted by this emulator") from None

    def _encrypt(self, plaintext: str) -> str:
        nonce = self._core.rng.randbytes(8)
        digest = hmac.new(self._key, nonce + plaintext.encode(), hashlib.sha256).digest()
        encrypted = ENCRYPTED_PREFIX + base64.b64encode(nonce + digest[:24]).decode()
        self._plaintexts[encrypted] = plaintext
        return encrypted
