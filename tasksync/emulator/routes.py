"""The HTTP face of the emulator: parse a request, call the state, serialize the answer.

One middleware wraps every API route (``/v2/...``) and owns what is common to them, in order:
pick a fault and wait the latency, read the JSON body (decompressed, size-checked), then the
fault (an error status, a dropped connection, a stall, a made-up answer) or the request proper:
route errors (404, 405), authentication, rate limits, the handler. It adds ``X-RateLimit-Limit``,
spoils the answer when the fault says so (``faults.py``, kind ``body``), and records the request
in the log. The control plane (``/_emulator/``, see ``control.py``) bypasses faults,
limits and the log.

This is the benchmark's hot path: no schema validation, no deep copies, compact JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import importlib
import json
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from aiohttp import web

from tasksync.emulator.faults import (
    REPLACING_VARIANTS,
    Fault,
    Faults,
    error_message_for,
    error_type_for,
)
from tasksync.emulator.limits import RateLimits
from tasksync.emulator.settings import EmulatorSettings
from tasksync.emulator.state import (
    EmulatorState,
    HttpError,
    User,
    invalid_input,
    invalid_request,
    read_only,
    token_not_provided,
    unknown_token,
)

JSON = Any
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_PAYLOAD_BYTES = 9_437_184
"""Apify's limit on a request body, after decompression."""
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
CONTROL_PREFIX = "/_emulator/"

BODY = web.RequestKey("tasksync_emulator_body", object)
BODY_ERROR = web.RequestKey("tasksync_emulator_body_error", HttpError)
USER = web.RequestKey("tasksync_emulator_user", User)

_dumps = json.JSONEncoder(separators=(",", ":")).encode

try:  # Apify accepts br; so do we, when the optional module happens to be installed.
    _brotli: ModuleType | None = importlib.import_module("brotli")
except ImportError:
    _brotli = None

SUPPORTED_ENCODINGS = ("gzip", "x-gzip", "deflate", *(("br",) if _brotli else ()))


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One API request as the emulator saw it. The token is never part of it."""

    method: str
    path: str
    query: dict[str, str]
    body: JSON
    """The parsed JSON body, or None (no body, or one that could not be parsed)."""
    status: int | None
    """The answer's status; None when the connection was dropped instead."""
    time: float
    """When the request arrived (seconds since the epoch)."""
    duration: float = 0.0
    """Seconds from arrival to the answer (or the drop), latency and stalls included."""
    fault: str | None = None
    """The injected fault kind, if any."""

    def to_json(self) -> dict[str, JSON]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "status": self.status,
            "time": self.time,
            "duration": self.duration,
            "fault": self.fault,
        }


def json_response(
    data: JSON, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    all_headers = {"Content-Type": JSON_CONTENT_TYPE}
    if headers:
        all_headers.update(headers)
    return web.Response(body=_dumps(data).encode(), status=status, headers=all_headers)


def error_response(error: HttpError) -> web.Response:
    return json_response(error.to_json(), error.status, error.headers)


def route_error(exc: web.HTTPException) -> HttpError:
    """Apify's envelope for aiohttp's routing failures."""
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ",".join(sorted(exc.allowed_methods))
        return HttpError(
            405,
            "method-not-allowed",
            "This API end-point can only be accessed using the following HTTP methods: " + allowed,
            {"Allow": allowed},
        )
    return HttpError(404, "page-not-found", "We have bad news: there is no API endpoint here")


# -- request bodies ------------------------------------------------------------------------------


def _too_large(method: str, actual: str) -> HttpError:
    return HttpError(
        413,
        "request-too-large",
        f"The {method} payload is too large "
        f"(limit: {MAX_PAYLOAD_BYTES} bytes, actual length: {actual} bytes).",
    )


def _inflate(data: bytes, coding: str, method: str) -> bytes:
    """Undo one content coding, never producing more than the payload limit."""
    if coding == "br":
        assert _brotli is not None
        try:
            out: bytes = _brotli.decompress(data)
        except Exception as exc:  # brotli.error has no stable import path
            raise invalid_request("The request body is not valid br data") from exc
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
    raise invalid_request(f"The request body is not valid {coding} data")


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


async def read_json_body(request: web.Request) -> JSON:
    """The request's JSON body: decoded, decompressed, size-checked and parsed."""
    method = request.method
    codings = request.headers.get("Content-Encoding", "").lower().split(",")
    encodings = [c for c in map(str.strip, codings) if c not in ("", "identity")]
    for coding in encodings:
        if coding not in SUPPORTED_ENCODINGS:
            raise HttpError(
                415,
                "unsupported-content-encoding",
                f'Content-Encoding "{coding}" is not supported.',
            )
    if request.content_type != "application/json":
        if request.body_exists:
            raise HttpError(
                400,
                "invalid-content-type-header",
                f'Content-Type "{request.headers.get("Content-Type", "")}" is not supported; '
                "send application/json",
            )
        raise invalid_request(f"{method} data must be a JSON object")
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
        raise invalid_request(f"{method} data must be a JSON object")
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise invalid_request("The request body is not valid JSON") from None


# -- query parameters ----------------------------------------------------------------------------


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value.is_integer() or value < 0:
        raise HttpError(
            400, "invalid-parameter", f'Parameter "{name}" must be a non-negative integer'
        )
    return int(value)


def _bool_param(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name, "").lower()
    if raw in ("", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise HttpError(400, "invalid-parameter", f'Parameter "{name}" must be true, false, 1 or 0')


# -- the API -------------------------------------------------------------------------------------


class Api:
    """Handlers and the middleware of one emulator; shares its state, settings and faults."""

    def __init__(
        self,
        state: EmulatorState,
        settings: EmulatorSettings,
        faults: Faults,
        limits: RateLimits,
    ) -> None:
        self.state = state
        self.settings = settings
        self.faults = faults
        self.limits = limits
        self.log: list[RequestRecord] = []
        self.closing = asyncio.Event()
        """Set on shutdown: stalled requests stop waiting."""

    def reset(self) -> None:
        """Default users and Actors only; no scheduled fault, no log, fresh rate limits."""
        self.state.reset()
        self.faults.clear()
        self.faults.reseed()
        self.limits.reset()
        self.log.clear()

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/v2/actor-tasks", self.list_tasks, allow_head=False)
        r.add_post("/v2/actor-tasks", self.create_task)
        r.add_get("/v2/actor-tasks/{ref}", self.get_task, allow_head=False)
        r.add_put("/v2/actor-tasks/{ref}", self.update_task)
        r.add_delete("/v2/actor-tasks/{ref}", self.delete_task)
        r.add_get("/v2/actor-tasks/{ref}/input", self.get_input, allow_head=False)
        r.add_put("/v2/actor-tasks/{ref}/input", self.update_input)
        r.add_get("/v2/users/me", self.me, allow_head=False)
        for prefix in ("/v2/actors", "/v2/acts"):  # /acts is the deprecated twin
            r.add_get(prefix + "/{ref}", self.get_actor, allow_head=False)
            r.add_get(prefix + "/{ref}/builds/default", self.default_build, allow_head=False)
            r.add_post(prefix + "/{ref}/validate-input", self.validate_input)

    # -- the middleware ------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            exc = request.match_info.http_exception
            try:
                if exc is not None:
                    raise route_error(exc)
                return await handler(request)
            except HttpError as error:
                return error_response(error)
        return await self._api(request, handler)

    async def _api(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.time()
        fault = self.faults.pick(request.method, request.path)
        delay = self.faults.latency()
        if delay:
            await asyncio.sleep(delay)
        if request.method in ("POST", "PUT") and request.match_info.http_exception is None:
            try:
                request[BODY] = await read_json_body(request)
            except HttpError as error:
                request[BODY_ERROR] = error
            except ConnectionResetError:
                # The client hung up before its body arrived (a timeout, a dropped connection):
                # nothing was done, and the log says so instead of aiohttp printing a traceback.
                if self.settings.log_requests:
                    self._record(request, started, None, fault)
                return web.Response(status=400)
        response: web.StreamResponse | None = None
        if fault is not None:
            if fault.kind == "drop_before":
                return self._drop(request, started, fault)
            if fault.kind == "status":
                response = error_response(self._fault_error(fault))
            elif fault.kind == "stall":
                await self._stall(fault.seconds)
                if self._gone(request):
                    return self._drop(request, started, fault)
            elif fault.kind == "body" and fault.variant in REPLACING_VARIANTS:
                response = _made_up_answer(request, fault)
        if response is None:
            response = await self._handle(request, handler)
        if fault is not None and fault.kind == "drop_after":
            return self._drop(request, started, fault)
        limit = self.limits.header()
        if limit is not None and "X-RateLimit-Limit" not in response.headers:
            response.headers["X-RateLimit-Limit"] = limit
        if self.settings.log_requests:  # before a spoilt answer streams: the client may hang up
            self._record(request, started, response.status, fault)
        if fault is not None and fault.kind == "body" and fault.variant not in REPLACING_VARIANTS:
            response = await _spoil(request, response, fault)
        return response

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            exc = request.match_info.http_exception
            if exc is not None:
                raise route_error(exc)
            user = self._authenticate(request)
            if user is not None:
                request[USER] = user
                who = user.id
            else:
                who = "ip:" + (request.remote or "")
            self.limits.check(who, lambda: self._resource(request, user))
            return await handler(request)
        except HttpError as error:
            return error_response(error)

    def _resource(self, request: web.Request, user: User | None) -> str:
        """What a per-resource rate limit counts against: one task is one resource, whether
        it is addressed by ID or by name, with or without ``/input``."""
        path = request.path
        ref = request.match_info.get("ref")
        if ref is not None and path.startswith("/v2/actor-tasks/"):
            task_id = self.state.task_id(ref, user)
            if task_id is not None:
                return "/v2/actor-tasks/" + task_id
        return path[:-6] if path.endswith("/input") else path

    def _authenticate(self, request: web.Request) -> User | None:
        """The token's user; None without a token; 401 for an unknown token."""
        token = None
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer":
                token = value.strip()
        if not token and request.query_string:
            token = request.query.get("token")
        if not token:
            return None
        user = self.state.user_by_token(token)
        if user is None:
            raise unknown_token()
        return user

    def _fault_error(self, fault: Fault) -> HttpError:
        error_type = fault.error_type or error_type_for(fault.status)
        headers = {}
        if fault.status == 429 and self.settings.retry_after_seconds is not None:
            headers["Retry-After"] = f"{self.settings.retry_after_seconds:g}"
        return HttpError(fault.status, error_type, error_message_for(fault.status), headers)

    async def _stall(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    def _gone(self, request: web.Request) -> bool:
        """The client hung up (e.g. timed out during a stall) or the server is stopping."""
        transport = request.transport
        return self.closing.is_set() or transport is None or transport.is_closing()

    def _drop(self, request: web.Request, started: float, fault: Fault) -> web.StreamResponse:
        """Close the connection without an answer (aiohttp then has nothing to write to)."""
        if self.settings.log_requests:
            self._record(request, started, None, fault)
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=503)

    def _record(
        self, request: web.Request, started: float, status: int | None, fault: Fault | None
    ) -> None:
        query = request.query
        self.log.append(
            RequestRecord(
                method=request.method,
                path=request.path,
                query={k: v for k, v in query.items() if k != "token"} if query else {},
                body=request.get(BODY),
                status=status,
                time=started,
                duration=time.time() - started,
                fault=fault.kind if fault is not None else None,
            )
        )

    # -- helpers for handlers ------------------------------------------------------------------

    @staticmethod
    def _user(request: web.Request) -> User:
        user: User | None = request.get(USER)
        if user is None:
            raise token_not_provided()
        return user

    def _writer(self, request: web.Request) -> User:
        user = self._user(request)
        if user.read_only:
            raise read_only()
        return user

    @staticmethod
    def _body(request: web.Request) -> JSON:
        error = request.get(BODY_ERROR)
        if error is not None:
            raise error
        return request.get(BODY)

    # -- handlers ------------------------------------------------------------------------------

    async def list_tasks(self, request: web.Request) -> web.Response:
        user = self._user(request)
        query = request.query
        page = self.state.list_tasks(
            user,
            offset=_int_param(query, "offset", 0),
            limit=_int_param(query, "limit", 0),
            desc=_bool_param(query, "desc"),
        )
        return json_response({"data": page})

    async def create_task(self, request: web.Request) -> web.Response:
        user = self._writer(request)
        task = self.state.create_task(user, self._body(request))
        location = f"{request.scheme}://{request.host}/v2/actor-tasks/{task['id']}"
        return json_response({"data": task}, 201, {"Location": location})

    async def get_task(self, request: web.Request) -> web.Response:
        task = self.state.get(self._user(request), request.match_info["ref"])
        return json_response({"data": task})

    async def update_task(self, request: web.Request) -> web.Response:
        user = self._writer(request)
        task = self.state.update(user, request.match_info["ref"], self._body(request))
        return json_response({"data": task})

    async def delete_task(self, request: web.Request) -> web.Response:
        self.state.delete(self._writer(request), request.match_info["ref"])
        return web.Response(status=204)

    async def get_input(self, request: web.Request) -> web.Response:
        return json_response(self.state.get_input(self._user(request), request.match_info["ref"]))

    async def update_input(self, request: web.Request) -> web.Response:
        user = self._writer(request)
        value = self.state.update_input(user, request.match_info["ref"], self._body(request))
        return json_response(value)

    async def me(self, request: web.Request) -> web.Response:
        return json_response({"data": self._user(request).to_json()})

    async def get_actor(self, request: web.Request) -> web.Response:
        actor = self.state.resolve_actor(request.match_info["ref"], request.get(USER))
        return json_response({"data": actor.to_json()})

    async def default_build(self, request: web.Request) -> web.Response:
        actor = self.state.resolve_actor(request.match_info["ref"], request.get(USER))
        return json_response({"data": actor.build_json()})

    async def validate_input(self, request: web.Request) -> web.Response:
        self.state.resolve_actor(request.match_info["ref"], request.get(USER))
        if not isinstance(self._body(request), dict):
            raise invalid_input("The input must be a JSON object")
        return json_response({"valid": True})


# -- malformed answers (faults of kind "body") ---------------------------------------------------

_HTML_PAGE = """<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


def _made_up_answer(request: web.Request, fault: Fault) -> web.Response:
    """The answer of a ``not-json``, ``html`` or ``json`` fault, instead of doing the request."""
    status = fault.status
    if fault.variant == "json":
        return json_response(fault.body, status)
    if fault.variant == "html":
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        page = _HTML_PAGE.format(status=status, reason=reason)
        return web.Response(text=page, status=status, content_type="text/html")
    # By default, a debugging proxy's answer that repeats the request, token and all.
    text = (
        fault.body
        if isinstance(fault.body, str)
        else (
            f"authorization: {request.headers.get('Authorization', '-')}\n"
            f"request: {request.method} {request.path_qs}\n"
            "upstream answered something unreadable\n"
        )
    )
    return web.Response(
        body=text.encode(), status=status, headers={"Content-Type": JSON_CONTENT_TYPE}
    )


async def _spoil(
    request: web.Request, answer: web.StreamResponse, fault: Fault
) -> web.StreamResponse:
    """The real ``answer``, spoilt as a ``wrong-content-type``, ``truncated``, ``cut-off`` or
    ``huge`` fault says."""
    raw = answer.body if isinstance(answer, web.Response) else None
    raw = raw if isinstance(raw, bytes) else b""
    headers = {
        k: v
        for k, v in answer.headers.items()
        if k.lower() not in ("content-length", "content-type")
    }
    status = answer.status
    if fault.variant == "wrong-content-type":
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return web.Response(body=raw, status=status, headers=headers)
    headers["Content-Type"] = JSON_CONTENT_TYPE
    if fault.variant == "truncated":
        return web.Response(body=raw[: len(raw) // 2], status=status, headers=headers)
    stream = web.StreamResponse(status=status, headers=headers)
    if fault.variant == "cut-off":
        stream.content_length = len(raw)
        await stream.prepare(request)
        with contextlib.suppress(ConnectionError):
            await stream.write(raw[: len(raw) // 2])
        if request.transport is not None:
            request.transport.close()  # after the buffered half is flushed
        return stream
    # huge: a padding field in front of the answer's own fields, streamed in bounded chunks.
    if raw.startswith(b"{") and raw[1:].lstrip()[:1] not in (b"}", b""):
        head, tail = b'{"padding":"', b'",' + raw[1:]
    else:
        head, tail = b'"', b'"'
    stream.enable_chunked_encoding()
    await stream.prepare(request)
    chunk = b"x" * 65536
    try:  # the client may well hang up before the end: that is what a size cap does
        await stream.write(head)
        left = fault.size
        while left > 0:
            await stream.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
        await stream.write(tail)
        await stream.write_eof()
    except ConnectionError:
        pass
    return stream
