"""The Apify API client: one aiohttp session, one request function, errors mapped to exceptions.

Every call goes through ``ApifyClient.request``, a retry loop around one attempt
(``_attempt``). Each attempt waits for the rate limiter (``throttle.RateLimiter``), then for a
slot of the concurrency gate (``concurrency.ConcurrencyGate``), so that neither the pacing nor a
backoff counts as latency or holds a slot; the slot is released whatever happens. Retries follow
Apify's backoff (429, 5xx, connection errors, timeouts, unreadable bodies); answers are read and
mapped to the error tree of ``tasksync.errors`` by ``tasksync.answers``. The token travels only
in the ``Authorization`` header; it is never put in a URL and is scrubbed from every message.

aiohttp's own silent resend of an idempotent request after a dropped keep-alive connection is
turned off: that attempt goes through our loop instead, so that every request the server
receives is paced, counted in the ``RequestStats`` and gated.

A circuit breaker (``throttle.CircuitBreaker``) is shared by every worker: after attempts in a
row that could not connect at all (refused, DNS, TLS) over two seconds, every request fails at
once with an ``UnreachableError`` that stops the run, rather than each task retrying five times.

Creating a task (POST) is not idempotent, so it is never retried blindly: after an ambiguous
failure the client looks the task up by name, and retries only when it is not there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import anyio

from tasksync._version import __version__
from tasksync.answers import (
    TooLarge,
    connect_failed,
    data_of,
    describe,
    error_answer,
    final_error,
    page_of,
    read_capped,
    resource_of,
    retry_after,
    schedule_of,
    task_of,
    too_large,
    unreachable,
    unreadable,
)
from tasksync.concurrency import ConcurrencyGate
from tasksync.errors import (
    ApiError,
    AuthError,
    ConflictError,
    NotFoundError,
    ServerError,
    TransportError,
    UnreachableError,
)
from tasksync.jsonutil import request_body
from tasksync.model import JSON, RequestStats
from tasksync.secrets import scrub_token
from tasksync.throttle import CircuitBreaker, RateLimiter, RetryPolicy

DEFAULT_API_URL = "https://api.apify.com"
LIST_PAGE_LIMIT = 1000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """An answer's value, and the requests it took (attempts, retries, 429s)."""

    value: T
    stats: RequestStats = field(default_factory=RequestStats)


@dataclass(frozen=True, slots=True)
class _Failure:
    """One attempt that failed: the error, whether another attempt may help, how long the
    server asked us to wait, and whether no connection could be made at all."""

    error: ApiError
    retryable: bool
    retry_after: float | None = None
    unreachable: bool = False

    @property
    def normal(self) -> bool:
        """An answer the API did the work of giving (a 404, a 400): a latency sample."""
        status = self.error.status
        return status is not None and status < 500 and status != 429


Check = Callable[[JSON, str], dict[str, JSON]]
"""Checks an answer's shape and returns its object; the string says where it came from."""


def schedule_path(ref: str) -> str:
    """``/v2/schedules/{ref}`` for an ID, ``username~name`` or ``~name``."""
    return "/v2/schedules/" + quote(ref, safe="~")


def task_path(ref: str) -> str:
    """``/v2/actor-tasks/{ref}`` for an ID, ``username~name`` or ``~name``."""
    return "/v2/actor-tasks/" + quote(ref, safe="~")


class ApifyClient:
    """An async Apify API client for the endpoints tasksync uses. Use as ``async with``.

    ``gate`` bounds the requests in flight (default: a fixed 16); the connection pool is sized
    for its ceiling. ``trace_configs`` are aiohttp's, for whoever wants to watch the wire.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        gate: ConcurrencyGate | None = None,
        breaker: CircuitBreaker | None = None,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> None:
        if not token or any(c in token for c in "\r\n "):
            raise AuthError("the API token is empty or malformed")
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter()
        self.gate = gate or ConcurrencyGate(16)
        self.breaker = breaker or CircuitBreaker()
        self._trace_configs = trace_configs
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": f"tasksync/{__version__}",
        }
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._timeouts = [
            aiohttp.ClientTimeout(total=self.retry.timeout(n))
            for n in range(1, self.retry.max_attempts + 1)
        ]
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApifyClient:
        # One connection per slot of the window at its ceiling (the gate opens slots gradually,
        # so connections are made as the window grows, not all at once), plus a few spare.
        connector = aiohttp.TCPConnector(
            limit=self.gate.limit.maximum + 4, ttl_dns_cache=300, keepalive_timeout=30
        )
        session = aiohttp.ClientSession(connector=connector, trace_configs=self._trace_configs)
        # aiohttp resends an idempotent request by itself after a dropped keep-alive connection:
        # unpaced, uncounted and ungated. Our loop retries it instead (aiohttp >= 3.10).
        session._retry_connection = False
        self._session = session
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            with anyio.CancelScope(shield=True):
                await self._session.close()
            self._session = None

    def where(self, method: str, path: str, params: Mapping[str, str] | None = None) -> str:
        """``METHOD URL`` as really requested, for messages (the token is never in a URL)."""
        query = "?" + urlencode(params) if params else ""
        return f"{method} {self.base_url}{path}{query}"

    # -- the one request function ---------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
        max_attempts: int | None = None,
    ) -> Reply[JSON]:
        """Send one API request with retries; the parsed JSON body (``None`` if empty) and what
        it took. Non-idempotent requests are retried only on 429 (the API refused them before
        acting). An ``ApiError`` raised here carries the same counts.
        """
        data = request_body(body) if body is not None else None
        policy = self.retry
        limit = min(max_attempts or policy.max_attempts, policy.max_attempts)
        give_up_at = time.monotonic() + policy.deadline
        throttled = 0
        attempt = 0
        while True:
            if self.breaker.tripped is not None:
                raise self._unreachable(attempt, throttled)
            attempt += 1
            outcome = await self._gated(method, path, data, params, attempt)
            if isinstance(outcome, Reply):
                self.limiter.on_success()
                return Reply(outcome.value, RequestStats(attempt, attempt - 1, throttled))
            error = outcome.error
            if error.status == 429:
                throttled += 1
                self.limiter.on_throttled()
            error.stats = RequestStats(attempt, attempt - 1, throttled)
            if outcome.unreachable and self.breaker.on_connect_failure(error.message):
                raise self._unreachable(attempt, throttled)
            retryable = error.status == 429 or (idempotent and outcome.retryable)
            # ``max_attempts`` bounds the failures of a check; a 429 shows the API is there.
            if not retryable or attempt >= (policy.max_attempts if error.status == 429 else limit):
                raise self._final(error)
            wait = policy.delay(attempt, outcome.retry_after)
            if time.monotonic() + wait > give_up_at:
                raise self._final(error)
            await anyio.sleep(wait)

    async def _gated(
        self,
        method: str,
        path: str,
        data: bytes | None,
        params: Mapping[str, str] | None,
        attempt: int,
    ) -> Reply[JSON] | _Failure:
        """One attempt, paced by the rate limiter and holding a slot of the gate while it runs."""
        await self.limiter.acquire()
        gate = self.gate
        started = await gate.acquire()
        ok = False
        try:
            outcome = await self._attempt(method, path, data, params, attempt)
            ok = isinstance(outcome, Reply) or outcome.normal
            return outcome
        finally:
            gate.release(started, ok)

    async def _attempt(
        self,
        method: str,
        path: str,
        data: bytes | None,
        params: Mapping[str, str] | None,
        attempt: int,
    ) -> Reply[JSON] | _Failure:
        """Exactly one HTTP exchange: the parsed answer, or why it failed."""
        session = self._session
        if session is None:
            raise RuntimeError("ApifyClient must be used as `async with`")
        try:
            async with session.request(
                method,
                self.base_url + path,
                data=data,
                params=params,
                headers=self._json_headers if data is not None else self._headers,
                timeout=self._timeouts[attempt - 1],
            ) as response:
                status = response.status
                content_type = response.headers.get("Content-Type", "")
                raw = await read_capped(response)
                wait = retry_after(response.headers.get("Retry-After"))
        except TooLarge as exc:  # final: a server that sends that much will do it again
            error = too_large(self.where(method, path, params), exc.size, attempt)
            return _Failure(error, retryable=False)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            lost = TransportError(
                f"{self.where(method, path, params)}: {describe(exc)}", attempts=attempt
            )
            return _Failure(lost, retryable=True, unreachable=connect_failed(exc))
        self.breaker.on_answer()
        if status >= 300:
            what = self.where(method, path, params)
            refused = error_answer(what, status, raw, content_type, attempt, self._redact)
            return _Failure(refused, retryable=status >= 500, retry_after=wait)
        if not raw:
            return Reply(None)
        try:
            return Reply(json.loads(raw))
        except (ValueError, RecursionError) as exc:
            what = self.where(method, path, params)
            error = unreadable(what, status, raw, content_type, exc, attempt, self._redact)
            return _Failure(error, retryable=True)  # a second try often reads a good answer

    def _unreachable(self, attempt: int, throttled: int) -> UnreachableError:
        """The error of a request stopped by the breaker (``attempt`` attempts made)."""
        stats = RequestStats(attempt, max(attempt - 1, 0), throttled)
        return unreachable(self.base_url, self.breaker, stats, self._redact)

    def _final(self, error: ApiError) -> ApiError:
        return final_error(error, self._redact)

    def _redact(self, text: str) -> str:
        return scrub_token(text, self._token)

    # -- endpoints ------------------------------------------------------------------------------

    async def _get(self, path: str, check: Check) -> Reply[dict[str, JSON]]:
        reply = await self.request("GET", path)
        return Reply(check(reply.value, self.where("GET", path)), reply.stats)

    async def _put(
        self, path: str, payload: Mapping[str, JSON], check: Check
    ) -> Reply[dict[str, JSON]]:
        reply = await self.request("PUT", path, body=payload)
        return Reply(check(reply.value, self.where("PUT", path)), reply.stats)

    async def _delete(self, path: str) -> Reply[bool]:
        """DELETE a resource: True when this request deleted it, False when it was already gone
        (a 404 ``record-not-found``, as after a retry of a DELETE whose answer was lost)."""
        try:
            reply = await self.request("DELETE", path)
        except NotFoundError as gone:
            return Reply(False, gone.stats)
        return Reply(True, reply.stats)

    async def _create(
        self,
        path: str,
        payload: Mapping[str, JSON],
        lookup: Callable[[str], Awaitable[Reply[dict[str, JSON]]]],
        lookup_ref: str,
        check: Check,
    ) -> Reply[dict[str, JSON]]:
        """POST a resource; after an ambiguous failure, find it with ``lookup(lookup_ref)``
        before trying again, so that it is never created twice."""
        spent = RequestStats()
        tries = 0
        while True:
            tries += 1
            try:
                reply = await self.request("POST", path, body=payload, idempotent=False)
                return Reply(check(reply.value, self.where("POST", path)), spent + reply.stats)
            except (TransportError, ServerError, ConflictError) as exc:
                spent += exc.stats
                if exc.stops_run:
                    exc.stats = spent
                    raise
                try:
                    found = await lookup(lookup_ref)
                    return Reply(found.value, spent + found.stats)
                except NotFoundError as missing:
                    spent += missing.stats
                    if isinstance(exc, ConflictError) or tries >= self.retry.max_attempts:
                        exc.stats = spent
                        raise exc from None
                await anyio.sleep(self.retry.delay(tries))

    async def _all(self, path: str) -> Reply[list[dict[str, JSON]]]:
        """Every item of a list endpoint, one request per 1,000."""
        items: list[dict[str, JSON]] = []
        spent = RequestStats()
        while True:
            params = {"offset": str(len(items)), "limit": str(LIST_PAGE_LIMIT)}
            reply = await self.request("GET", path, params=params)
            spent += reply.stats
            batch, total = page_of(reply.value, self.where("GET", path, params))
            items.extend(batch)
            if not batch or (total is not None and len(items) >= total):
                return Reply(items, spent)

    async def get_task(self, ref: str) -> Reply[dict[str, JSON]]:
        return await self._get(task_path(ref), task_of)

    async def update_task(
        self, task_id: str, payload: Mapping[str, JSON]
    ) -> Reply[dict[str, JSON]]:
        return await self._put(task_path(task_id), payload, task_of)

    async def create_task(
        self, payload: Mapping[str, JSON], lookup_ref: str
    ) -> Reply[dict[str, JSON]]:
        """Create a task, never twice (see ``_create``)."""
        return await self._create("/v2/actor-tasks", payload, self.get_task, lookup_ref, task_of)

    async def delete_task(self, task_id: str) -> Reply[bool]:
        return await self._delete(task_path(task_id))

    async def all_tasks(self) -> Reply[list[dict[str, JSON]]]:
        """Every task of the account (``TaskShort`` items)."""
        return await self._all("/v2/actor-tasks")

    async def get_schedule(self, ref: str) -> Reply[dict[str, JSON]]:
        return await self._get(schedule_path(ref), schedule_of)

    async def update_schedule(
        self, schedule_id: str, payload: Mapping[str, JSON]
    ) -> Reply[dict[str, JSON]]:
        return await self._put(schedule_path(schedule_id), payload, schedule_of)

    async def create_schedule(
        self, payload: Mapping[str, JSON], lookup_ref: str
    ) -> Reply[dict[str, JSON]]:
        """Create a schedule, never twice (see ``_create``)."""
        return await self._create(
            "/v2/schedules", payload, self.get_schedule, lookup_ref, schedule_of
        )

    async def delete_schedule(self, schedule_id: str) -> Reply[bool]:
        return await self._delete(schedule_path(schedule_id))

    async def all_schedules(self) -> Reply[list[dict[str, JSON]]]:
        """Every schedule of the account (list items)."""
        return await self._all("/v2/schedules")

    async def get_actor(self, ref: str) -> Reply[dict[str, JSON]]:
        return await self._get(
            "/v2/actors/" + quote(ref.replace("/", "~", 1), safe="~"), resource_of
        )

    async def me(self, *, max_attempts: int | None = None) -> Reply[dict[str, JSON]]:
        """The token's account (``UserPrivateInfo``). With ``max_attempts=2`` it is the check
        before a run: it proves the URL and the token at the cost of at most two requests."""
        reply = await self.request("GET", "/v2/users/me", max_attempts=max_attempts)
        return Reply(data_of(reply.value, self.where("GET", "/v2/users/me")), reply.stats)
