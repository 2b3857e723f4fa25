"""Injected faults: what goes wrong with one API request, scheduled or at random.

A fault is one of

* ``status``: answer with an error status (429, 500, 503, ...) and do nothing else;
* ``drop_before``: close the connection without doing the request;
* ``drop_after``: do the request (a write is applied), then close the connection unanswered;
* ``stall``: wait ``seconds`` before doing the request, so a client timeout fires first;
* ``body``: a malformed answer, as a broken proxy or a buggy server would send. Its ``variant``:

  - ``not-json``: ``status`` (default 200) with an ``application/json`` type and a plain-text body
    that echoes the request, Authorization header included, as a debugging proxy might (so tests
    can prove that no message repeats the token); or ``body``, a string, sent as it is;
  - ``html``: ``status`` (default 502) with an HTML error page, as nginx in front of an API sends;
  - ``json``: ``status`` (default 200) with ``body``, any JSON value: a wrong shape such as
    ``{"data": []}``, or a task without ``id``;
  - ``wrong-content-type``: the real answer, labelled ``text/plain``;
  - ``truncated``: the first half of the real answer, with a matching ``Content-Length``;
  - ``cut-off``: the real answer's headers and half its body, then the connection closes;
  - ``huge``: the real answer with a ``padding`` field of ``size`` bytes (default 64 MiB) added,
    still valid JSON, streamed without a ``Content-Length``.

  The first three replace the answer (the request is not done); the others do the request (a
  write is applied) and then spoil its answer.

This module decides which fault a request gets (plain Python); ``middleware.py`` carries it out.
Scheduled faults (``Faults.schedule``) hit the next N requests that match a method and a path
prefix, which keeps tests deterministic. Random faults follow the rates in ``EmulatorSettings``,
drawn from an RNG seeded with ``settings.seed``. Scheduled faults win over random ones.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any, Literal

from tasksync.emulator.settings import EmulatorSettings

FaultKind = Literal["status", "drop_before", "drop_after", "stall", "body"]
FAULT_KINDS: tuple[FaultKind, ...] = ("status", "drop_before", "drop_after", "stall", "body")

BodyVariant = Literal[
    "not-json", "html", "json", "wrong-content-type", "truncated", "cut-off", "huge"
]
BODY_VARIANTS: tuple[BodyVariant, ...] = (
    "not-json",
    "html",
    "json",
    "wrong-content-type",
    "truncated",
    "cut-off",
    "huge",
)
REPLACING_VARIANTS: frozenset[str] = frozenset({"not-json", "html", "json"})
"""Body variants that answer instead of doing the request; the others spoil the real answer."""
_VARIANT_STATUS = {"not-json": 200, "html": 502, "json": 200}
HUGE_BODY_BYTES = 64 * 1024 * 1024

_RANDOM_STATUSES = (500, 502, 503)


@dataclass(frozen=True, slots=True)
class Fault:
    """What happens to one request."""

    kind: FaultKind
    status: int = 500
    seconds: float = 0.0
    error_type: str | None = None
    variant: BodyVariant | None = None
    body: Any = None
    size: int = HUGE_BODY_BYTES


@dataclass
class ScheduledFault:
    """The next ``remaining`` requests matching ``method`` and ``path_prefix`` get ``kind``."""

    kind: FaultKind
    remaining: int
    status: int = 500
    method: str | None = None
    path_prefix: str = "/v2/"
    seconds: float | None = None
    error_type: str | None = None
    variant: BodyVariant | None = None
    body: Any = None
    size: int | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and path.startswith(self.path_prefix)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "remaining": self.remaining,
            "status": self.status,
            "method": self.method,
            "pathPrefix": self.path_prefix,
            "seconds": self.seconds,
            "errorType": self.error_type,
        }
        if self.kind == "body":
            out.update(variant=self.variant, body=self.body, size=self.size)
            if self.variant not in REPLACING_VARIANTS:
                out["status"] = None  # the real answer's
        return out


class Faults:
    """Chooses the fault (if any) for each API request."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._lock = threading.Lock()
        self._scheduled: list[ScheduledFault] = []

    def schedule(
        self,
        count: int = 1,
        *,
        kind: FaultKind | None = None,
        status: int | None = None,
        method: str | None = None,
        path_prefix: str = "/v2/",
        seconds: float | None = None,
        error_type: str | None = None,
        variant: BodyVariant | None = None,
        body: Any = None,
        size: int | None = None,
    ) -> ScheduledFault:
        """Make the next ``count`` matching requests fail.

        ``kind`` defaults to ``"body"`` when ``variant`` is given, else to ``"status"`` when
        ``status`` is given. ``seconds`` is the stall length (default: ``settings.stall_seconds``
        at the time of the request). ``error_type`` overrides the Apify error type of a status
        fault. ``variant``, ``body`` and ``size`` describe a malformed answer (see the module
        docstring); ``status`` sets the status of the ``not-json``, ``html`` and ``json`` ones.
        """
        if kind is None:
            if variant is not None:
                kind = "body"
            elif status is None:
                raise ValueError("schedule needs a status, a variant or a kind")
            else:
                kind = "status"
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if kind == "status" and (status is None or not 400 <= status <= 599):
            raise ValueError("a status fault needs a status between 400 and 599")
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        if kind == "body":
            status = _check_body_fault(variant, status, body, size)
        elif variant is not None or body is not None or size is not None:
            raise ValueError("variant, body and size belong to a body fault")
        fault = ScheduledFault(
            kind=kind,
            remaining=count,
            status=status if status is not None else 500,
            method=method.upper() if method else None,
            path_prefix=path_prefix,
            seconds=seconds,
            error_type=error_type,
            variant=variant,
            body=body,
            size=size,
        )
        with self._lock:
            self._scheduled.append(fault)
        return fault

    @property
    def scheduled(self) -> list[ScheduledFault]:
        """The scheduled faults not used up yet."""
        with self._lock:
            return list(self._scheduled)

    def clear(self) -> None:
        with self._lock:
            self._scheduled.clear()

    def reseed(self) -> None:
        self._rng = random.Random(self.settings.seed)

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault for this request, using up a scheduled one first."""
        if self._scheduled:
            with self._lock:
                for index, planned in enumerate(self._scheduled):
                    if planned.matches(method, path):
                        planned.remaining -= 1
                        if planned.remaining <= 0:
                            del self._scheduled[index]
                        return Fault(
                            planned.kind,
                            planned.status,
                            planned.seconds
                            if planned.seconds is not None
                            else self.settings.stall_seconds,
                            planned.error_type,
                            planned.variant,
                            planned.body,
                            planned.size if planned.size is not None else HUGE_BODY_BYTES,
                        )
        s = self.settings
        if not (s.error_rate or s.drop_before_rate or s.drop_after_rate or s.stall_rate):
            return None
        roll = self._rng.random()
        if roll < s.error_rate:
            return Fault("status", self._rng.choice(_RANDOM_STATUSES))
        roll -= s.error_rate
        if roll < s.drop_before_rate:
            return Fault("drop_before")
        roll -= s.drop_before_rate
        if roll < s.drop_after_rate:
            return Fault("drop_after")
        roll -= s.drop_after_rate
        if roll < s.stall_rate:
            return Fault("stall", seconds=s.stall_seconds)
        return None

    def latency(self) -> float:
        """Seconds to wait before handling a request (0 when no latency is set)."""
        s = self.settings
        if not s.latency_ms and not s.latency_jitter_ms:
            return 0.0
        jitter = self._rng.uniform(0, s.latency_jitter_ms) if s.latency_jitter_ms else 0.0
        return (s.latency_ms + jitter) / 1000


def _check_body_fault(variant: object, status: object, body: Any, size: object) -> int:
    """Check a body fault's fields; return its status (the variant's default when not given)."""
    if variant not in BODY_VARIANTS:
        raise ValueError(f"a body fault needs a variant, one of {BODY_VARIANTS}; got {variant!r}")
    if status is not None:
        if variant not in REPLACING_VARIANTS:
            raise ValueError(f"the {variant} variant keeps the real answer's status")
        if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
            raise ValueError("the status of a body fault must be between 200 and 599")
    if variant == "json" and body is None:
        raise ValueError("the json variant needs a body (any JSON value but null)")
    if body is not None and variant not in ("json", "not-json"):
        raise ValueError("a body belongs to the json and not-json variants")
    if variant == "not-json" and body is not None and not isinstance(body, str):
        raise ValueError("the body of the not-json variant is a string")
    if size is not None and (
        variant != "huge" or not isinstance(size, int) or isinstance(size, bool) or size < 0
    ):
        raise ValueError("size (a number of bytes >= 0) belongs to the huge variant")
    if status is None:
        return _VARIANT_STATUS.get(str(variant), 200)
    return status
