"""Serializing answers: compact JSON and Apify's error envelope."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tasksync.emulator.errors import ApiError

JSON = Any
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

_dumps = json.JSONEncoder(separators=(",", ":")).encode


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
