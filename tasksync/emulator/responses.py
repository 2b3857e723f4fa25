"""Serializing answers: compact JSON, Apify's error envelope, and JavaScript numbers.

Apify's API is a Node.js service: a number has no int/float distinction there, so ``5.0`` sent is
``5`` when it comes back. With ``EmulatorSettings.js_numbers`` on, ``js_numbers`` renders every
integral float of an answer as an integer, at any depth, as ``JSON.stringify`` would. Off, a
float stays a float (``5.0``), which is what a Python server would answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tasksync.emulator.errors import ApiError

JSON = Any
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

_dumps = json.JSONEncoder(separators=(",", ":")).encode

_JS_EXPONENT_FROM = 1e21
"""From here on ``JSON.stringify`` writes ``1e+21``, as Python's ``repr`` does for a float."""


def json_response(
    data: JSON, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    all_headers = {"Content-Type": JSON_CONTENT_TYPE}
    if headers:
        all_headers.update(headers)
    return web.Response(body=_dumps(data).encode(), status=status, headers=all_headers)


def error_response(error: ApiError) -> web.Response:
    """The one place an ``ApiError`` becomes an HTTP answer."""
    return json_response(error.to_json(), error.status, error.headers)


def js_numbers(value: JSON) -> JSON:
    """``value`` with every integral float (``5.0``, ``-0.0``) turned into an int, at any depth.

    New lists and dicts are built where something changes; ``value`` itself is left alone (it
    may be the stored task).
    """
    kind = type(value)
    if kind is float:
        if value.is_integer() and -_JS_EXPONENT_FROM < value < _JS_EXPONENT_FROM:
            return int(value)
        return value
    if kind is dict:
        return {key: js_numbers(item) for key, item in value.items()}
    if kind is list:
        return [js_numbers(item) for item in value]
    return value
