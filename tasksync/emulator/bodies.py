"""Request bodies: content coding, size limit, content type and JSON parsing, as Apify checks them.

``read_json_body`` is the only reader of a request body; the middleware calls it for API
requests and the control plane for its own.
"""

from __future__ import annotations

import importlib
import json
import zlib
from types import ModuleType
from typing import Any

from aiohttp import web

from tasksync.emulator.errors import (
    InvalidContentType,
    InvalidRequest,
    RequestTooLarge,
    UnsupportedContentEncoding,
)

JSON = Any

MAX_PAYLOAD_BYTES = 9_437_184
"""Apify's limit on a request body, after decompression."""

try:  # Apify accepts br; so do we, when the optional module happens to be installed.
    _brotli: ModuleType | None = importlib.import_module("brotli")
except ImportError:
    _brotli = None

SUPPORTED_ENCODINGS = ("gzip", "x-gzip", "deflate", *(("br",) if _brotli else ()))


def _too_large(method: str, actual: str) -> RequestTooLarge:
    return RequestTooLarge(method, MAX_PAYLOAD_BYTES, actual)


def _inflate(data: bytes, coding: str, method: str) -> bytes:
    """Undo one content coding, never producing more than the payload limit."""
    if coding == "br":
        assert _brotli is not None
        try:
            out: bytes = _brotli.decompress(data)
        except Exception as exc:  # brotli.error has no stable import path
            raise InvalidRequest("The request body is not valid br data") from exc
        if len(out) > MAX_PAYLOAD_BYTES:
            raise _too_large(method, str(len(out)))
        return out
    # gzip; deflate is zlib-wrapped by the standard but raw in some clients.
    attempts = (16 + zlib.MAX_WBITS,) if "gzip" in coding else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    for wbits in attempts:
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(data, MAX_PAYLOAD_BYTES + 1)
        except zlib.error:
            continue
        if len(out) > MAX_PAYLOAD_BYTES or inflater.unconsumed_tail:
            raise _too_large(method, f"more than {MAX_PAYLOAD_BYTES}")
        if inflater.eof:
            return out
    raise InvalidRequest(f"The request body is not valid {coding} data")


async def _discard_rest(request: web.Request) -> None:
    """Read and drop the rest of an oversized body, so the client gets to read our 413.

    (Left unread, aiohttp keeps reading it after the answer, which also holds up shutdown.)
    A body far over the limit is not worth reading: the connection is closed after the answer.
    """
    budget = 4 * MAX_PAYLOAD_BYTES
    while budget > 0:
        chunk = await request.content.readany()
        if not chunk:
            return
        budget -= len(chunk)
    request.protocol.force_close()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _encodings(request: web.Request) -> list[str]:
    """The request's content codings, in the order they were applied; 415 for an unknown one."""
    codings = request.headers.get("Content-Encoding", "").lower().split(",")
    encodings = [c for c in map(str.strip, codings) if c not in ("", "identity")]
    for coding in encodings:
        if coding not in SUPPORTED_ENCODINGS:
            raise UnsupportedContentEncoding(coding)
    return encodings


async def read_json_body(request: web.Request) -> JSON:
    """The request's JSON body: decoded, decompressed, size-checked and parsed."""
    method = request.method
    encodings = _encodings(request)
    if request.content_type != "application/json":
        if request.body_exists:
            raise InvalidContentType(request.headers.get("Content-Type", ""))
        raise InvalidRequest(f"{method} data must be a JSON object")
    length = request.content_length
    if length is not None and length > MAX_PAYLOAD_BYTES:
        await _discard_rest(request)
        raise _too_large(method, str(length))
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        await _discard_rest(request)
        raise _too_large(method, f"more than {MAX_PAYLOAD_BYTES}") from None
    for coding in reversed(encodings):
        data = _inflate(data, coding, method)
    if not data.strip():
        raise InvalidRequest(f"{method} data must be a JSON object")
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise InvalidRequest("The request body is not valid JSON") from None
