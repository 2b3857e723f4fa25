"""The Apify API client: one aiohttp session, one request function, errors mapped to exceptions.

Every call goes through ``ApifyClient.request``, which owns the rate limiter, the per-attempt
timeout, retries with Apify's backoff (429, 5xx, connection errors, timeouts, unreadable bodies)
and the translation of error answers into the tree in ``tasksync.errors``. The token travels only
in the ``Authorization`` header; it is never put in a URL and is scrubbed from every message.

Creating a task (POST) is not idempotent, so it is never retried blindly: after an ambiguous
failure the client looks the task up by name, and retries only when it is not there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import anyio

from tasksync._version import __version__
from tasksync.errors import (
    ApiError,
    AuthError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from tasksync.model import JSON
from tasksync.throttle import RateLimiter, RetryPolicy

DEFAULT_API_URL = "https://api.apify.com"
LIST_PAGE_LIMIT = 1000

attempts_made: ContextVar[int] = ContextVar("attempts_made", default=0)
"""Attempts the last request of the current task took (for per-task figures in reports)."""

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class RequestStats:
    """Counts for the report: requests sent (attempts), retried, answered 429."""

    total: int = 0
    retried: int = 0
    rate_limited: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "retried": self.retried, "rateLimited": self.rate_limited}


def task_path(ref: str) -> str:
    """``/v2/actor-tasks/{ref}`` for an ID, ``username~name`` or ``~name``."""
    return "/v2/actor-tasks/" + quote(ref, safe="~")


class ApifyClient:
    """An async Apify API client for the endpoints tasksync uses. Use as ``async with``."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        concurrency: int = 16,
    ) -> None:
        if not token or any(c in token for c in "\r\n "):
            raise AuthError("the API token is empty or malformed")
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter()
        self.stats = RequestStats()
        self._concurrency = concurrency
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
        connector = aiohttp.TCPConnector(limit=max(self._concurrency, 1) + 4, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            with anyio.CancelScope(shield=True):
                await self._session.close()
            self._session = None

    # -- the one request function ---------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> JSON:
        """Send one API request with retries; return the parsed JSON body (``None`` if empty).

        Non-idempotent requests are retried only on 429 (the API refused them before acting).
        """
        session = self._session
        if session is None:
            raise RuntimeError("ApifyClient must be used as `async with`")
        url = self.base_url + path
        data = _dumps(body).encode() if body is not None else None
        headers = self._json_headers if data is not None else self._headers
        policy = self.retry
        give_up_at = time.monotonic() + policy.deadline
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire()
            self.stats.total += 1
            retry_after: float | None = None
            try:
                async with session.request(
                    method,
                    url,
                    data=data,
                    params=params,
                    headers=headers,
                    timeout=self._timeouts[attempt - 1],
                ) as response:
                    status = response.status
                    raw = await response.read()
                    if status == 429 or status >= 500:
                        retry_after = _retry_after(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error: ApiError = TransportError(
                    self._scrub(f"{method} {path}: {_describe(exc)}"), attempts=attempt
                )
                retryable = idempotent
            else:
                if status < 300:
                    self.limiter.on_success()
                    attempts_made.set(attempt)
                    if not raw:
                        return None
                    try:
                        return json.loads(raw)
                    except ValueError:
                        error = TransportError(
                            f"{method} {path}: the API answered {status} with a body that is not "
                            f"JSON ({_snippet(raw)})",
                            status=status,
                            attempts=attempt,
                        )
                        retryable = idempotent
                else:
                    error = self._error(method, path, status, raw, attempt)
                    if status == 429:
                        self.stats.rate_limited += 1
                        self.limiter.on_throttled()
                        retryable = True
                    else:
                        retryable = status >= 500 and idempotent
            if not retryable or attempt >= policy.max_attempts:
                raise error
            wait = policy.delay(attempt, retry_after)
            if time.monotonic() + wait > give_up_at:
                raise error
            self.stats.retried += 1
            await anyio.sleep(wait)

    def _error(self, method: str, path: str, status: int, raw: bytes, attempt: int) -> ApiError:
        type_: str | None = None
        message: str | None = None
        try:
            payload = json.loads(raw)
            detail = payload.get("error") if isinstance(payload, dict) else None
            if isinstance(detail, dict):
                type_ = detail.get("type") if isinstance(detail.get("type"), str) else None
                message = detail.get("message") if isinstance(detail.get("message"), str) else None
        except ValueError:
            pass
        text = f"{method} {path}: HTTP {status}"
        if type_:
            text += f" {type_}"
        text += f": {message}" if message else f" ({_snippet(raw)})" if raw else ""
        cls = _ERRORS_BY_STATUS.get(status) or (
            ServerError if status >= 500 else InvalidRequestError
        )
        return cls(self._scrub(text), status=status, type=type_, attempts=attempt)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token in text else text

    # -- endpoints ------------------------------------------------------------------------------

    async def get_task(self, ref: str) -> dict[str, JSON]:
        return _data(await self.request("GET", task_path(ref)), "GET " + task_path(ref))

    async def update_task(self, task_id: str, payload: Mapping[str, JSON]) -> dict[str, JSON]:
        path = task_path(task_id)
        return _data(await self.request("PUT", path, body=payload), "PUT " + path)

    async def create_task(self, payload: Mapping[str, JSON], lookup_ref: str) -> dict[str, JSON]:
        """Create a task; after an ambiguous failure, find it by ``lookup_ref`` before retrying,
        so that no duplicate is ever created."""
        attempts = 0
        while True:
            attempts += 1
            try:
                body = await self.request("POST", "/v2/actor-tasks", body=payload, idempotent=False)
                return _data(body, "POST /v2/actor-tasks")
            except (TransportError, ServerError, ConflictError) as exc:
                try:
                    return await self.get_task(lookup_ref)
                except NotFoundError:
                    if isinstance(exc, ConflictError) or attempts >= self.retry.max_attempts:
                        raise exc from None
                await anyio.sleep(self.retry.delay(attempts))

    async def list_tasks(self, offset: int = 0, limit: int = LIST_PAGE_LIMIT) -> dict[str, JSON]:
        params = {"offset": str(offset), "limit": str(limit)}
        return _data(await self.request("GET", "/v2/actor-tasks", params=params), "list tasks")

    async def all_tasks(self) -> list[dict[str, JSON]]:
        """Every task of the account (``TaskShort`` items), one request per 1,000."""
        items: list[dict[str, JSON]] = []
        while True:
            page = await self.list_tasks(offset=len(items))
            batch = page.get("items")
            if not isinstance(batch, list):
                raise TransportError("list tasks: the answer has no `items` list")
            items.extend(batch)
            total = page.get("total")
            if not batch or (isinstance(total, int) and len(items) >= total):
                return items

    async def me(self) -> dict[str, JSON]:
        return _data(await self.request("GET", "/v2/users/me"), "GET /v2/users/me")


_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


def _data(body: JSON, what: str) -> dict[str, JSON]:
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict):
            return data
    raise TransportError(f"{what}: the answer is not of the expected shape {{'data': {{...}}}}")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare enough to fall back to our own backoff


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def _snippet(raw: bytes, limit: int = 120) -> str:
    text = " ".join(raw[: limit * 2].decode("utf-8", "replace").split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))
