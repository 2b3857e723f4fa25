"""What every API request goes through before and after its handler: faults, auth, rate limits,
and the request log.

One aiohttp middleware wraps every route. Control-plane requests (``/_emulator/``) only get
their errors rendered: they are never faulted, limited or logged. An API request, in order: pick
a fault and wait the latency, read the JSON body (decompressed, size-checked; its error is kept
for the handler), then carry out the fault (an error status, a dropped connection, a stall, a
made-up answer) or do the request proper: route errors (404, 405), authentication, rate limits,
the handler. Then add ``X-RateLimit-Limit``, record the request, and spoil the answer when the
fault says so (``faults.py`` describes every kind).

This is the benchmark's hot path: no schema validation, no deep copies, compact JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from tasksync.emulator.bodies import read_json_body
from tasksync.emulator.control import CONTROL_PREFIX
from tasksync.emulator.errors import (
    ApiError,
    MethodNotAllowed,
    PageNotFound,
    UnknownToken,
    injected_error,
)
from tasksync.emulator.faults import REPLACING_VARIANTS, Fault, Faults
from tasksync.emulator.limits import RateLimits
from tasksync.emulator.log import RequestRecord
from tasksync.emulator.responses import JSON_CONTENT_TYPE, error_response, json_response
from tasksync.emulator.settings import EmulatorSettings
from tasksync.emulator.state import EmulatorState
from tasksync.emulator.users import User

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BODY = web.RequestKey("tasksync_emulator_body", object)
"""The parsed JSON body of a POST or PUT, for the handler."""
BODY_ERROR = web.RequestKey("tasksync_emulator_body_error", ApiError)
"""Why the body could not be read; the handler raises it if it needs the body."""
USER = web.RequestKey("tasksync_emulator_user", User)
"""The token's user, when a token was sent."""


def route_error(exc: web.HTTPException) -> ApiError:
    """Apify's envelope for aiohttp's routing failures."""
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(",".join(sorted(exc.allowed_methods)))
    return PageNotFound()


class ApiMiddleware:
    """Faults, authentication, rate limits and the request log of one emulator."""

    def __init__(
        self, state: EmulatorState, faults: Faults, limits: RateLimits, log: list[RequestRecord]
    ) -> None:
        self.state = state
        self.faults = faults
        self.limits = limits
        self.log = log
        self.closing = asyncio.Event()
        """Set on shutdown: stalled requests stop waiting."""

    @property
    def settings(self) -> EmulatorSettings:
        return self.state.settings

    @web.middleware
    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            try:
                exc = request.match_info.http_exception
                if exc is not None:
                    raise route_error(exc)
                return await handler(request)
            except ApiError as error:
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
            except ApiError as error:
                request[BODY_ERROR] = error
            except ConnectionResetError:
                # The client hung up before its body arrived (a timeout, a dropped connection):
                # nothing was done, and the log says so instead of aiohttp printing a traceback.
                self._record(request, started, None, fault)
                return web.Response(status=400)
        response: web.StreamResponse | None = None
        if fault is not None:
            if fault.kind == "drop_before":
                return self._drop(request, started, fault)
            if fault.kind == "stall":
                await self._stall(fault.seconds)
                if self._gone(request):
                    return self._drop(request, started, fault)
            response = self._instead(request, fault)
        if response is None:
            response = await self._handle(request, handler)
            if fault is not None and fault.kind == "drop_after":
                return self._drop(request, started, fault)
        limit = self.limits.header()
        if limit is not None and "X-RateLimit-Limit" not in response.headers:
            response.headers["X-RateLimit-Limit"] = limit
        self._record(request, started, response.status, fault)  # before a spoilt answer streams
        if fault is not None and fault.kind == "body" and fault.variant not in REPLACING_VARIANTS:
            response = await _spoil(request, response, fault)
        return response

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The request proper: routing errors, authentication, rate limits, the handler."""
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
        except ApiError as error:
            return error_response(error)

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
            raise UnknownToken()
        return user

    def _resource(self, request: web.Request, user: User | None) -> str:
        """What a per-resource rate limit counts against: one task is one resource, whether
        it is addressed by ID or by name, with or without ``/input``."""
        path = request.path
        ref = request.match_info.get("ref")
        if ref is not None and path.startswith("/v2/actor-tasks/"):
            task_id = self.state.task_id(ref, user)
            if task_id is not None:
                return "/v2/actor-tasks/" + task_id
        if ref is not None and path.startswith("/v2/schedules/"):
            schedule_id = self.state.schedule_id(ref, user)
            if schedule_id is not None:
                return "/v2/schedules/" + schedule_id
        return path[:-6] if path.endswith("/input") else path

    def _record(
        self, request: web.Request, started: float, status: int | None, fault: Fault | None
    ) -> None:
        if not self.settings.log_requests:
            return
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

    # -- carrying out faults -------------------------------------------------------------------

    def _instead(self, request: web.Request, fault: Fault) -> web.Response | None:
        """The answer a fault sends instead of doing the request, if it does."""
        if fault.kind == "status":
            headers = {}
            retry_after = self.settings.retry_after_seconds
            if fault.status == 429 and retry_after is not None:
                headers["Retry-After"] = f"{retry_after:g}"
            return error_response(injected_error(fault.status, fault.error_type, headers))
        if fault.kind == "body" and fault.variant in REPLACING_VARIANTS:
            return _made_up_answer(request, fault)
        return None

    async def _stall(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    def _gone(self, request: web.Request) -> bool:
        """The client hung up (e.g. timed out during a stall) or the server is stopping."""
        transport = request.transport
        return self.closing.is_set() or transport is None or transport.is_closing()

    def _drop(self, request: web.Request, started: float, fault: Fault) -> web.StreamResponse:
        """Close the connection without an answer (aiohttp then has nothing to write to)."""
        self._record(request, started, None, fault)
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=503)


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
    await _stream_huge(request, stream, raw, fault.size)
    return stream


async def _stream_huge(
    request: web.Request, stream: web.StreamResponse, raw: bytes, size: int
) -> None:
    """``raw`` with a padding field of ``size`` bytes in front of its own fields, streamed in
    bounded chunks."""
    if raw.startswith(b"{") and raw[1:].lstrip()[:1] not in (b"}", b""):
        head, tail = b'{"padding":"', b'",' + raw[1:]
    else:
        head, tail = b'"', b'"'
    stream.enable_chunked_encoding()
    await stream.prepare(request)
    chunk = b"x" * 65536
    try:  # the client may well hang up before the end: that is what a size cap does
        await stream.write(head)
        left = size
        while left > 0:
            await stream.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
        await stream.write(tail)
        await stream.write_eof()
    except ConnectionError:
        pass
