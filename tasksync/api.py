"""The Apify API client: one aiohttp session, one request function, errors mapped to exceptions.

Every call goes through ``ApifyClient.request``, which owns the rate limiter, the per-attempt
timeout, retries with Apify's backoff (429, 5xx, connection errors, timeouts, unreadable bodies)
and the translation of error answers into the tree in ``tasksync.errors``. The token travels only
in the ``Authorization`` header; it is never put in a URL and is scrubbed from every message.

Answers are untrusted too: a proxy may send an HTML page, a body may break off, a server may send
the wrong shape or far too much. Bodies are read up to ``MAX_RESPONSE_BYTES``; an answer that
cannot be read (not JSON, cut short) is retried like a 5xx, because a second try often gets a good
one; an answer that is readable but of the wrong shape is not, because it would be the same again.
Every such answer ends as a ``TransportError`` that says what came instead of the expected JSON.

Creating a task (POST) is not idempotent, so it is never retried blindly: after an ambiguous
failure the client looks the task up by name, and retries only when it is not there.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
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
from tasksync.model import JSON, RequestStats
from tasksync.secrets import scrub_token
from tasksync.text import one_line, shorten
from tasksync.throttle import RateLimiter, RetryPolicy

DEFAULT_API_URL = "https://api.apify.com"
LIST_PAGE_LIMIT = 1000

MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""The largest answer tasksync reads (after decompression); a bigger one is refused unread.

The largest legitimate answer is one task with the largest input Apify accepts (a request body is
limited to 9 MiB) plus a few hundred bytes of metadata; a page of 1,000 list items is far smaller.
16 MiB leaves room for that with margin, while a broken proxy or a hostile server cannot make
tasksync buffer an unbounded body: with 16 workers, answers hold at most 256 MiB. Refusing is
final (not retried): a server that sends tens of megabytes for one task will do it again.
"""

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_dumps_ascii = json.JSONEncoder(separators=(",", ":")).encode


def _body(value: Any) -> bytes:
    """UTF-8 JSON; escaped (``\\ud800``) when a string holds a lone surrogate, which a
    JavaScript string may hold but UTF-8 cannot encode."""
    try:
        return _dumps(value).encode()
    except UnicodeEncodeError:
        return _dumps_ascii(value).encode()


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """An answer's value, and the requests it took (attempts, retries, 429s)."""

    value: T
    stats: RequestStats = field(default_factory=RequestStats)


@dataclass(frozen=True, slots=True)
class _Failure:
    """One attempt that failed: the error, whether another attempt may help, and how long the
    server asked us to wait."""

    error: ApiError
    retryable: bool
    retry_after: float | None = None


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
    ) -> Reply[JSON]:
        """Send one API request with retries; the parsed JSON body (``None`` if empty) and what
        it took. Every attempt waits for the rate limiter.

        Non-idempotent requests are retried only on 429 (the API refused them before acting).
        An ``ApiError`` raised here carries the same counts.
        """
        data = _body(body) if body is not None else None
        policy = self.retry
        give_up_at = time.monotonic() + policy.deadline
        throttled = 0
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire()
            outcome = await self._attempt(method, path, data, params, attempt)
            if isinstance(outcome, Reply):
                self.limiter.on_success()
                return Reply(outcome.value, RequestStats(attempt, attempt - 1, throttled))
            error = outcome.error
            if error.status == 429:
                throttled += 1
                self.limiter.on_throttled()
            error.stats = RequestStats(attempt, attempt - 1, throttled)
            retryable = error.status == 429 or (idempotent and outcome.retryable)
            if not retryable or attempt >= policy.max_attempts:
                raise self._final(error)
            wait = policy.delay(attempt, outcome.retry_after)
            if time.monotonic() + wait > give_up_at:
                raise self._final(error)
            await anyio.sleep(wait)

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
                raw = await _read_capped(response)
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except _TooLarge as exc:  # final: a server that sends that much will do it again
            return _Failure(_too_large(method, path, exc.size, attempt), retryable=False)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            lost = TransportError(f"{method} {path}: {_describe(exc)}", attempts=attempt)
            return _Failure(lost, retryable=True)
        if status >= 300:
            refused = self._error(method, path, status, raw, content_type, attempt)
            return _Failure(refused, retryable=status >= 500, retry_after=retry_after)
        if not raw:
            return Reply(None)
        try:
            return Reply(json.loads(raw))
        except (ValueError, RecursionError) as exc:
            what = self._describe_body(raw, content_type, exc)
            error = TransportError(
                f"{method} {path}: the API answered {status} with {what}",
                status=status,
                attempts=attempt,
            )
            return _Failure(error, retryable=True)  # a second try often reads a good answer

    def _error(
        self, method: str, path: str, status: int, raw: bytes, content_type: str, attempt: int
    ) -> ApiError:
        type_: str | None = None
        message: str | None = None
        try:
            payload = json.loads(raw)
            detail = payload.get("error") if isinstance(payload, dict) else None
            if isinstance(detail, dict):
                type_ = detail.get("type") if isinstance(detail.get("type"), str) else None
                message = detail.get("message") if isinstance(detail.get("message"), str) else None
        except (ValueError, RecursionError):
            pass
        text = f"{method} {path}: HTTP {status}"
        if type_:
            text += f" {shorten(one_line(self._redact(type_)), 60)}"
        if message:
            # Scrubbed before it is cut: a token cut short would no longer be recognised.
            text += f": {shorten(one_line(self._redact(message)), 300)}"
        elif raw:
            text += f" with {self._describe_body(raw, content_type)}"
        cls = _ERRORS_BY_STATUS.get(status) or (
            ServerError if status >= 500 else InvalidRequestError
        )
        return cls(text, status=status, type=type_, attempts=attempt)

    def _describe_body(self, raw: bytes, content_type: str, exc: Exception | None = None) -> str:
        """What an answer holds instead of JSON, in a few words, with a short sample of it."""
        # A body can repeat the header (a debugging proxy does), perhaps cut before the token ends.
        text = self._redact(raw[:4096].decode("utf-8", "replace"))
        if "html" in content_type.lower() or text.lstrip()[:1] == "<":
            title = _HTML_TITLE.search(text)
            if title and one_line(title.group(1)):
                return f"an HTML page titled {_quoted(one_line(title.group(1)), 80)}, not JSON"
            return "an HTML page, not JSON"
        if isinstance(exc, json.JSONDecodeError) and (
            exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string")
        ):
            return f"JSON that breaks off after {len(raw)} bytes"
        if isinstance(exc, RecursionError):
            return "JSON nested too deeply to read"
        return f"a body that is not JSON ({_quoted(one_line(text), 120)})"

    def _final(self, error: ApiError) -> ApiError:
        """The error to raise: the token scrubbed out, and the attempts said when retried."""
        text = error.message
        if error.attempts > 1:
            text += f"; gave up after {error.attempts} attempts"
        scrubbed = self._redact(text)
        if scrubbed == error.message:
            return error
        final = type(error)(scrubbed, status=error.status, type=error.type, attempts=error.attempts)
        final.stats = error.stats
        return final

    def _redact(self, text: str) -> str:
        return scrub_token(text, self._token)

    # -- endpoints ------------------------------------------------------------------------------

    async def get_task(self, ref: str) -> Reply[dict[str, JSON]]:
        path = task_path(ref)
        reply = await self.request("GET", path)
        return Reply(_task(reply.value, "GET " + path), reply.stats)

    async def update_task(
        self, task_id: str, payload: Mapping[str, JSON]
    ) -> Reply[dict[str, JSON]]:
        path = task_path(task_id)
        reply = await self.request("PUT", path, body=payload)
        return Reply(_task(reply.value, "PUT " + path), reply.stats)

    async def create_task(
        self, payload: Mapping[str, JSON], lookup_ref: str
    ) -> Reply[dict[str, JSON]]:
        """Create a task; after an ambiguous failure, find it by ``lookup_ref`` before retrying,
        so that no duplicate is ever created."""
        spent = RequestStats()
        tries = 0
        while True:
            tries += 1
            try:
                reply = await self.request(
                    "POST", "/v2/actor-tasks", body=payload, idempotent=False
                )
                return Reply(_task(reply.value, "POST /v2/actor-tasks"), spent + reply.stats)
            except (TransportError, ServerError, ConflictError) as exc:
                spent += exc.stats
                try:
                    found = await self.get_task(lookup_ref)
                    return Reply(found.value, spent + found.stats)
                except NotFoundError as missing:
                    spent += missing.stats
                    if isinstance(exc, ConflictError) or tries >= self.retry.max_attempts:
                        exc.stats = spent
                        raise exc from None
                await anyio.sleep(self.retry.delay(tries))

    async def list_tasks(
        self, offset: int = 0, limit: int = LIST_PAGE_LIMIT
    ) -> Reply[dict[str, JSON]]:
        params = {"offset": str(offset), "limit": str(limit)}
        reply = await self.request("GET", "/v2/actor-tasks", params=params)
        return Reply(_data(reply.value, "list tasks"), reply.stats)

    async def all_tasks(self) -> Reply[list[dict[str, JSON]]]:
        """Every task of the account (``TaskShort`` items), one request per 1,000."""
        items: list[dict[str, JSON]] = []
        spent = RequestStats()
        while True:
            page = await self.list_tasks(offset=len(items))
            spent += page.stats
            batch = page.value.get("items")
            if not isinstance(batch, list) or not all(isinstance(i, dict) for i in batch):
                raise TransportError("list tasks: the answer has no `items` list of tasks")
            items.extend(batch)
            total = page.value.get("total")
            if not batch or (isinstance(total, int) and len(items) >= total):
                return Reply(items, spent)

    async def me(self) -> Reply[dict[str, JSON]]:
        reply = await self.request("GET", "/v2/users/me")
        return Reply(_data(reply.value, "GET /v2/users/me"), reply.stats)


def _too_large(method: str, path: str, size: int | None, attempt: int) -> TransportError:
    cap = MAX_RESPONSE_BYTES // (1024 * 1024)
    if size is not None:
        text = (
            f"{method} {path}: the answer is {size / (1024 * 1024):.1f} MiB, more than the "
            f"{cap} MiB tasksync reads; refused unread"
        )
    else:
        text = (
            f"{method} {path}: the answer grew past {cap} MiB, the most tasksync reads; refused, "
            "the rest unread"
        )
    return TransportError(text, attempts=attempt)


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
        found = f"`data` is {_kind(data)}" if "data" in body else "there is no `data`"
    else:
        found = f"it is {_kind(body)}"
    raise TransportError(
        f'{what}: the answer is not of the expected shape {{"data": {{...}}}}: {found}'
    )


def _task(body: JSON, what: str) -> dict[str, JSON]:
    """The task object of an answer, checked enough that planning and verifying can rely on it."""
    task = _data(body, what)
    wrong = []
    for name in ("id", "modifiedAt"):
        value = task.get(name)
        if not isinstance(value, str) or not value:
            wrong.append(f"`{name}` is {_kind(value)}" if name in task else f"no `{name}`")
    options = task.get("options")
    if options is not None and not isinstance(options, dict):
        wrong.append(f"`options` is {_kind(options)}, not a mapping")
    task_input = task.get("input")
    if task_input is not None and not isinstance(task_input, dict | list):
        wrong.append(f"`input` is {_kind(task_input)}, not a mapping")
    if wrong:
        raise TransportError(f"{what}: the task in the answer is malformed: {', '.join(wrong)}")
    return task


def _kind(value: JSON) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    return "a list" if isinstance(value, list) else "a mapping"


class _TooLarge(Exception):
    def __init__(self, size: int | None) -> None:
        self.size = size  # as announced by Content-Length; None when the body just kept coming


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The body, or ``_TooLarge`` as soon as it is known to exceed ``MAX_RESPONSE_BYTES``."""
    length = response.content_length
    if length is not None and length > MAX_RESPONSE_BYTES:
        response.close()  # the connection cannot be reused with the body unread
        raise _TooLarge(length)
    if length is not None:  # the usual case: the size is announced and within the cap
        return await response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            raise _TooLarge(None)
        chunks.append(chunk)
    return b"".join(chunks)


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
    if isinstance(exc, aiohttp.ClientPayloadError) and "not completed" in str(exc):
        received = _RECEIVED.search(str(exc))
        detail = f" ({received.group(0)})" if received else ""
        return f"the connection closed before the whole answer arrived{detail}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


_HTML_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title")
_RECEIVED = re.compile(r"received \d+ of \d+ bytes")


def _quoted(text: str, limit: int) -> str:
    return '"' + shorten(text, limit) + '"'
