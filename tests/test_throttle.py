"""Retry policy and rate limiter, driven with a fake clock and a fixed random source."""

from __future__ import annotations

import math

import pytest

from tasksync.throttle import RateLimiter, RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_is_apifys_algorithm() -> None:
    low = RetryPolicy(random=lambda: 0.0)
    high = RetryPolicy(random=lambda: 0.999)
    assert [low.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert [round(high.delay(n), 2) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]


def test_backoff_honours_retry_after_but_caps_it() -> None:
    policy = RetryPolicy(random=lambda: 0.0, max_delay=10)
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=0.1) == 0.5
    assert policy.delay(1, retry_after=10_000) == 20.0


def test_attempt_timeout_doubles_to_a_cap() -> None:
    policy = RetryPolicy(attempt_timeout=5, max_attempt_timeout=30)
    assert [policy.timeout(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]


def test_policy_validates_when_built() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_bucket_spaces_requests_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    clock.now += 10  # idle time does not build an unbounded burst
    assert [limiter.reserve() for _ in range(2)] == pytest.approx([0.0, 0.1])


def test_unlimited_until_the_first_429_then_aimd() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(400):  # 400 requests in one second
        assert limiter.reserve() == 0.0
        clock.now += 1 / 400
    limiter.reserve()
    limiter.on_throttled()
    assert limiter.rate == pytest.approx(200, rel=0.05)
    limiter.on_throttled()
    assert limiter.rate == pytest.approx(100, rel=0.05)
    for _ in range(100):  # one second of successes at 100/s: +5%
        limiter.on_success()
    assert limiter.rate == pytest.approx(105, rel=0.01)
    assert limiter.rate < math.inf


def test_rate_never_exceeds_the_configured_ceiling_or_drops_below_the_floor() -> None:
    limiter = RateLimiter(50, min_rate=2, clock=FakeClock())
    for _ in range(20):
        limiter.on_throttled()
    assert limiter.rate == 2
    for _ in range(100_000):
        limiter.on_success()
    assert limiter.rate == 50
