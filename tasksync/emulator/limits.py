"""Rate limits: token buckets per (user, resource) and, optionally, per user over everything.

Apify allows 60 requests per second per resource (one task, one Actor, the task collection...)
and a global budget per user; over the limit it answers 429 ``rate-limit-exceeded``, and every
answer carries the limit in ``X-RateLimit-Limit``. A bucket holds up to one second's worth of
requests (at least one) and refills continuously. Changing a rate in the settings takes effect on
the next request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tasksync.emulator.errors import RateLimitExceeded
from tasksync.emulator.settings import EmulatorSettings


class TokenBucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def format_rate(rate: float) -> str:
    return str(int(rate)) if float(rate).is_integer() else f"{rate:g}"


class RateLimits:
    """Decides whether a request is within the limits."""

    def __init__(
        self, settings: EmulatorSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._resource: dict[tuple[str, str], TokenBucket] = {}
        self._global: dict[str, TokenBucket] = {}

    def reset(self) -> None:
        self._resource.clear()
        self._global.clear()

    def header(self) -> str | None:
        """The ``X-RateLimit-Limit`` value of API answers (None when the limit is off)."""
        rate = self.settings.per_resource_rps
        return format_rate(rate) if rate else None

    def check(self, who: str, resource: Callable[[], str]) -> None:
        """Count one request of ``who`` on ``resource()``; raise ``RateLimitExceeded`` if over.

        ``resource`` is called only when the per-resource limit is on: naming the resource can
        take a lookup (a task addressed by name is counted by its ID)."""
        global_rate = self.settings.global_rps
        resource_rate = self.settings.per_resource_rps
        if not global_rate and not resource_rate:
            return
        now = self._clock()
        if global_rate:
            bucket = self._global.get(who)
            if bucket is None or bucket.rate != global_rate:
                bucket = self._global[who] = TokenBucket(global_rate, now)
            if not bucket.take(now):
                raise self._exceeded(global_rate)
        if resource_rate:
            key = (who, resource())
            bucket = self._resource.get(key)
            if bucket is None or bucket.rate != resource_rate:
                bucket = self._resource[key] = TokenBucket(resource_rate, now)
            if not bucket.take(now):
                raise self._exceeded(resource_rate)

    def _exceeded(self, rate: float) -> RateLimitExceeded:
        headers = {"X-RateLimit-Limit": format_rate(rate)}
        retry_after = self.settings.retry_after_seconds
        if retry_after is not None:
            headers["Retry-After"] = format_rate(retry_after)
        return RateLimitExceeded(format_rate(rate), headers)
