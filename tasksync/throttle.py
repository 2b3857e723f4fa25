"""How fast and how often tasksync talks to the API: retry policy and a client-side rate limiter.

Both are pure apart from the clock and the random source they are given, so tests can drive them
with a fake clock. ``RetryPolicy`` follows Apify's documented algorithm (and the official clients):
after failed attempt n, wait uniformly in [d, 2d) with d = 0.5 s * 2^(n-1), at least
``Retry-After``.
``RateLimiter`` is a token bucket with AIMD: it halves its rate on a 429 and creeps back up on
successes, so a run settles near the fastest rate the API allows without configuration.
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
    """A token bucket whose rate adapts: halve on 429, add a little back on each success.

    ``max_rate=None`` means no configured ceiling: the limiter does not delay anything until the
    API first answers 429, then starts from half the rate observed at that moment.
    """

    def __init__(
        self,
        max_rate: float | None = None,
        *,
        burst: float = 1.0,
        min_rate: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_rate is not None and max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.max_rate = max_rate if max_rate is not None else math.inf
        self.rate = self.max_rate
        self.min_rate = min_rate
        self.burst = burst
        self._clock = clock
        self._next = 0.0  # earliest time the next request may start (GCRA "theoretical arrival")
        self._window_start = clock()
        self._window_count = 0
        self._observed = 0.0
        self.throttled = 0

    def reserve(self) -> float:
        """Book the next slot; return how many seconds the caller must wait for it."""
        now = self._clock()
        self._count(now)
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
        """The API said 429: halve the rate (multiplicative decrease)."""
        self.throttled += 1
        current = self.rate if self.rate != math.inf else max(self._observed, self._window_rate())
        self.rate = max(self.min_rate, current / 2)

    def on_success(self) -> None:
        """Gradual increase: per second of successes, the rate grows by 5% (at least 1 req/s)."""
        if self.rate < self.max_rate:
            step = max(1.0, 0.05 * self.rate) / max(self.rate, 1.0)
            self.rate = min(self.max_rate, self.rate + step)

    def _count(self, now: float) -> None:
        self._window_count += 1
        elapsed = now - self._window_start
        if elapsed >= 1.0:
            self._observed = self._window_count / elapsed
            self._window_start = now
            self._window_count = 0

    def _window_rate(self) -> float:
        elapsed = self._clock() - self._window_start
        return self._window_count / elapsed if elapsed > 0.05 else self.min_rate * 16
