"""How fast and how often tasksync talks to the API: retry policy and a client-side rate limiter.

Both are pure apart from the clock and the random source they are given, so tests can drive them
with a fake clock. ``RetryPolicy`` follows Apify's documented algorithm (and the official clients):
after failed attempt n, wait uniformly in [d, 2d) with d = 0.5 s * 2^(n-1), at least
``Retry-After``.
``RateLimiter`` is a token bucket with AIMD: it halves its rate on a 429 and grows back on
successes, so a run settles near the fastest rate the API allows without configuration.
``CircuitBreaker`` stops a run whose API is not there at all: a short run of attempts in a row,
across all workers, that could not even connect.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """When and how long to retry. Validated when built."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0
    attempt_timeout: float = 30.0
    """Seconds allowed for the first attempt; doubles per attempt up to ``max_attempt_timeout``."""
    max_attempt_timeout: float = 360.0
    deadline: float = 600.0
    """Seconds allowed for one request, all attempts and waits included."""
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.attempt_timeout <= 0 or self.deadline <= 0:
            raise ValueError("delays and timeouts must be positive")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        d = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
        wait = d * (1.0 + self.random())
        if retry_after is not None and retry_after > wait:
            wait = min(retry_after, self.max_delay * 2)
        return wait

    def timeout(self, attempt: int) -> float:
        return min(self.attempt_timeout * 2.0 ** (attempt - 1), self.max_attempt_timeout)


class RateLimiter:
    """A token bucket whose rate adapts to the API: AIMD with a memory of where the API pushed back.

    ``max_rate=None`` means no configured ceiling: the limiter does not delay anything until the
    API first answers 429.

    On a 429 the rate halves, from the lower of the current rate and the rate the API actually
    accepted over the last second (multiplicative decrease). The other 429s of the same burst
    (those sent before the client could react, within ``hold`` seconds) are one congestion event,
    not several: halving once per answer would take the rate to the floor in a single storm.
    On success the rate grows back (additive increase): per second, by half the gap to the rate
    where the API pushed back, plus a probe beyond it, so a run returns to just under the API's
    limit in a few seconds. The probe starts small (2% per second) and doubles for every half
    second spent above that rate without a 429 (up to 100% per second), so an estimate that was
    too low costs seconds, not the run. A 429 that comes before ten requests were sent leaves the
    rate alone: there is nothing to measure yet, and the retry's own backoff paces that request.
    """

    def __init__(
        self,
        max_rate: float | None = None,
        *,
        burst: float = 1.0,
        min_rate: float = 1.0,
        hold: float = 1.0,
        probe: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_rate is not None and max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.max_rate = max_rate if max_rate is not None else math.inf
        self.rate = self.max_rate
        self.ceiling = self.max_rate
        """The rate at which the API last answered 429 (the configured maximum until then)."""
        self.min_rate = min_rate
        self.burst = burst
        self.hold = hold
        self.probe = probe
        self.throttled = 0
        self._clock = clock
        self._next = 0.0  # earliest time the next request may start (GCRA "theoretical arrival")
        self._hold_until = -math.inf
        self._above_since: float | None = None  # when the rate last rose past the ceiling
        now = clock()
        self._sent = _Window(now)
        self._accepted = _Window(now)

    def reserve(self) -> float:
        """Book the next slot; return how many seconds the caller must wait for it."""
        now = self._clock()
        self._sent.count(now)
        if self.rate == math.inf:
            return 0.0
        interval = 1.0 / self.rate
        start = max(self._next, now - (self.burst - 1) * interval)
        self._next = start + interval
        return max(0.0, start - now)

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await anyio.sleep(wait)

    def on_throttled(self) -> None:
        """The API said 429: halve the rate, once per congestion event."""
        self.throttled += 1
        now = self._clock()
        if now < self._hold_until:
            return
        if self.rate == math.inf and not self._sent.measured():
            # Too few requests yet to tell a rate: the retry's backoff paces this one, and the
            # rate is set by the first 429 that comes with something to measure.
            return
        self._hold_until = now + self.hold
        current = self.rate if self.rate != math.inf else self._sent.rate(now)
        accepted = self._accepted.rate(now)
        base = min(current, accepted) if accepted > 0 else current
        self.ceiling = min(self.max_rate, max(self.min_rate, base))
        self.rate = max(self.min_rate, base / 2)
        self._above_since = None

    def on_success(self) -> None:
        """Grow back: per second of successes, half the gap to the ceiling plus a probe."""
        now = self._clock()
        self._accepted.count(now)
        if self.rate >= self.max_rate:
            return
        probe = self.probe
        if self.rate >= self.ceiling:
            if self._above_since is None:
                self._above_since = now
            probe = min(1.0, probe * 4.0 ** (now - self._above_since))
        gain = max(1.0, 0.5 * max(0.0, self.ceiling - self.rate) + probe * self.rate)
        self.rate = min(self.max_rate, self.rate + gain / max(self.rate, 1.0))


class CircuitBreaker:
    """Trips when attempts that could not connect at all (refused, DNS, TLS), counted across
    every worker, have come ``threshold`` times in a row over at least ``span`` seconds; any
    answer from the server, even an error, resets the run. Once tripped it stays tripped: the
    client then fails every request at once.

    Both conditions matter. A count alone cannot tell an outage from a blip: when a server
    restarts, every request in flight fails to reconnect at the same instant, hundreds in a row
    with a wide window, and the run should ride that out (its retries do). A span alone would
    trip on one slow failure. ``span`` (2 s) outlasts a restart, and the backoff between
    attempts (0.5 s, 1 s, ...) means each request in flight tries two or three times before the
    breaker trips: an unreachable API costs that, not five attempts for each of thousands of
    tasks.
    """

    __slots__ = ("_clock", "_first", "failures", "span", "threshold", "tripped")

    def __init__(
        self,
        threshold: int = 8,
        span: float = 2.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or span < 0:
            raise ValueError("threshold must be at least 1 and span not negative")
        self.threshold = threshold
        self.span = span
        self.failures = 0
        self.tripped: str | None = None
        """Why it tripped (the last failure), or None while closed."""
        self._clock = clock
        self._first = 0.0

    def on_answer(self) -> None:
        if self.tripped is None:
            self.failures = 0

    def on_connect_failure(self, why: str) -> bool:
        """Count one failed connection; whether the breaker is (now) tripped."""
        if self.tripped is None:
            now = self._clock()
            if self.failures == 0:
                self._first = now
            self.failures += 1
            if self.failures >= self.threshold and now - self._first >= self.span:
                self.tripped = why
        return self.tripped is not None


class _Window:
    """Events per second, over the current one-second window or else the last complete one."""

    __slots__ = ("_count", "_last", "_start")

    def __init__(self, now: float) -> None:
        self._start = now
        self._count = 0
        self._last = 0.0

    def count(self, now: float) -> None:
        elapsed = now - self._start
        if elapsed >= 1.0:
            self._last = self._count / elapsed
            self._start, self._count = now, 0
        self._count += 1

    def measured(self) -> bool:
        """Whether there is enough to tell a rate: a complete window, or ten events in this one."""
        return self._last > 0 or self._count >= 10

    def rate(self, now: float) -> float:
        """Over the current window once it is half a second old, else the last complete one;
        in the first half second of all, what was counted so far (over at least 50 ms, so that
        a handful of events in the first instant do not read as thousands per second)."""
        elapsed = now - self._start
        if elapsed >= 0.5 and self._count:
            return self._count / elapsed
        return self._last or self._count / max(elapsed, 0.05)
