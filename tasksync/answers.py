"""Reading the API's answers: bodies read within a cap, error answers mapped to the error tree,
and the shapes tasksync relies on checked.

Answers are untrusted: a proxy may send an HTML page, a body may break off, a server may send
the wrong shape or far too much. Bodies are read up to ``MAX_RESPONSE_BYTES``. Every message
names the URL that was really requested (``GET https://api.apify.com/v2/actor-tasks/...``) and
has the token scrubbed out (``Redact``), so that a wrong ``--api-url`` is plain to see.

A 404 means "the record does not exist" only when the API says so with ``record-not-found``:
a 404 of another type, or one that is not Apify's JSON at all (a doubled ``/v2``, a web server
that is not Apify) means the URL is wrong, and is an ``ApiUrlError`` that stops the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import aiohttp

from tasksync.errors import (
    ApiError,
    ApiUrlError,
    AuthError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnreachableError,
)
from tasksync.model import JSON, RequestStats
from tasksync.text import one_line, shorten
from tasksync.throttle import CircuitBreaker

MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""The largest answer tasksync reads (after decompression); a bigger one is refused unread.

The largest legitimate answer is one task with the largest input Apify accepts (a request body is
limited to 9 MiB) plus a few hundred bytes of metadata; a page of 1,000 list items is far smaller.
16 MiB leaves room for that with margin, while a broken proxy or a hostile server cannot make
tasksync buffer an unbounded body. Refusing is final (not retried): a server that sends tens of
megabytes for one task will do it again.
"""

Redact = Callable[[str], str]
"""Scrubs the token out of a text."""

_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthError,
    403: AuthError,
    409: ConflictError,
    429: RateLimitedError,
}


class TooLarge(Exception):
    def __init__(self, size: int | None) -> None:
        self.size = size  # as announced by Content-Length; None when the body just kept coming


async def read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The body, or ``TooLarge`` as soon as it is known to exceed ``MAX_RESPONSE_BYTES``."""
    length = response.content_length
    if length is not None and length > MAX_RESPONSE_BYTES:
        response.close()  # the connection cannot be reused with the body unread
        raise TooLarge(length)
    if length is not None:  # the usual case: the size is announced and within the cap
        return await response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            raise TooLarge(None)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(what: str, size: int | None, attempt: int) -> TransportError:
    cap = MAX_RESPONSE_BYTES // (1024 * 1024)
    if size is not None:
        text = (
            f"{what}: the answer is {size / (1024 * 1024):.1f} MiB, more than the "
            f"{cap} MiB tasksync reads; refused unread"
        )
    else:
        text = (
            f"{what}: the answer grew past {cap} MiB, the most tasksync reads; refused, "
            "the rest unread"
        )
    return TransportError(text, attempts=attempt)


def retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare enough to fall back to our own backoff


def error_answer(
    what: str, status: int, raw: bytes, content_type: str, attempt: int, redact: Redact
) -> ApiError:
    """The error an answer of ``status`` >= 300 stands for; ``what`` is ``METHOD URL``."""
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
    text = f"{what}: HTTP {status}"
    if type_:
        text += f" {shorten(one_line(redact(type_)), 60)}"
    if message:
        # Scrubbed before it is cut: a token cut short would no longer be recognised.
        text += f": {shorten(one_line(redact(message)), 300)}"
    elif raw:
        text += f" with {describe_body(raw, content_type, redact)}"
    if status == 404:
        if type_ == "record-not-found":
            return NotFoundError(text, status=status, type=type_, attempts=attempt)
        return ApiUrlError(
            f"{text}. This is not the Apify API's answer for a missing record: the API URL looks "
            "wrong (check --api-url or APIFY_API_BASE_URL: the base URL, without /v2)",
            status=status,
            type=type_,
            attempts=attempt,
        )
    cls = _ERRORS_BY_STATUS.get(status) or (ServerError if status >= 500 else InvalidRequestError)
    return cls(text, status=status, type=type_, attempts=attempt)


def unreadable(
    what: str,
    status: int,
    raw: bytes,
    content_type: str,
    exc: Exception,
    attempt: int,
    redact: Redact,
) -> TransportError:
    """A 2xx answer that is not JSON, or breaks off."""
    found = describe_body(raw, content_type, redact, exc)
    return TransportError(
        f"{what}: the API answered {status} with {found}", status=status, attempts=attempt
    )


def describe_body(
    raw: bytes, content_type: str, redact: Redact, exc: Exception | None = None
) -> str:
    """What an answer holds instead of JSON, in a few words, with a short sample of it."""
    # A body can repeat the header (a debugging proxy does), perhaps cut before the token ends.
    text = redact(raw[:4096].decode("utf-8", "replace"))
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


def describe(exc: BaseException) -> str:
    """A connection failure or timeout, in a few words."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientPayloadError) and "not completed" in str(exc):
        received = _RECEIVED.search(str(exc))
        detail = f" ({received.group(0)})" if received else ""
        return f"the connection closed before the whole answer arrived{detail}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def connect_failed(exc: BaseException) -> bool:
    """No connection could be made at all (refused, DNS, TLS): the API is not there."""
    return isinstance(exc, aiohttp.ClientConnectorError)


# -- shapes --------------------------------------------------------------------------------------


def data_of(body: JSON, what: str) -> dict[str, JSON]:
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


def task_of(body: JSON, what: str) -> dict[str, JSON]:
    """The task object of an answer, checked enough that planning and verifying can rely on it."""
    task = data_of(body, what)
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


def unreachable(
    base_url: str, breaker: CircuitBreaker, stats: RequestStats, redact: Callable[[str], str]
) -> UnreachableError:
    """The error of a request that the circuit breaker stopped: the API is not there."""
    error = UnreachableError(
        redact(
            f"the API at {base_url} cannot be reached: "
            f"{breaker.failures} attempts in a row over {breaker.span:g}s could not "
            f"connect (the last: {breaker.tripped}); check --api-url or "
            "APIFY_API_BASE_URL and the network"
        ),
        attempts=max(stats.total, 1),
    )
    error.stats = stats
    return error


def final_error(error: ApiError, redact: Callable[[str], str]) -> ApiError:
    """The error a request raises in the end: the token scrubbed out (``redact``), and the
    attempts said when it was retried."""
    text = error.message
    if error.attempts > 1:
        text += f"; gave up after {error.attempts} attempts"
    scrubbed = redact(text)
    if scrubbed == error.message:
        return error
    final = type(error)(scrubbed, status=error.status, type=error.type, attempts=error.attempts)
    final.stats = error.stats
    return final


def page_of(body: JSON, what: str) -> tuple[list[dict[str, JSON]], int | None]:
    """A list endpoint's page: its items, and the ``total`` it reports (None if it has none)."""
    page = data_of(body, what)
    items = page.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise TransportError(f"{what}: the answer has no `items` list")
    total = page.get("total")
    return items, total if isinstance(total, int) else None


def resource_of(body: JSON, what: str) -> dict[str, JSON]:
    """An answer's object, which must at least have an ``id``."""
    data = data_of(body, what)
    if not isinstance(data.get("id"), str) or not data["id"]:
        raise TransportError(f"{what}: the object in the answer has no `id`")
    return data


def schedule_of(body: JSON, what: str) -> dict[str, JSON]:
    """The schedule of an answer, checked enough that planning and verifying can rely on it."""
    data = resource_of(body, what)
    if not isinstance(data.get("modifiedAt"), str):
        raise TransportError(f"{what}: the schedule in the answer has no `modifiedAt`")
    if not isinstance(data.get("actions", []), list):
        raise TransportError(f"{what}: the schedule's `actions` is not a list")
    return data


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


_HTML_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title")
_RECEIVED = re.compile(r"received \d+ of \d+ bytes")


def _quoted(text: str, limit: int) -> str:
    return '"' + shorten(text, limit) + '"'
