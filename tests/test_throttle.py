"""Retry policy and rate limiter, driven with a fake clock and a fixed random source."""

from __future__ import annotations

import heapq

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
    assert limiter.ceiling == pytest.approx(400, rel=0.05)
    limiter.on_throttled()  # the same storm: one congestion event, one halving
    assert limiter.rate == pytest.approx(200, rel=0.05)
    clock.now += 1.5
    limiter.on_throttled()  # a new event, after the hold
    assert limiter.rate == pytest.approx(100, rel=0.05)
    rate = limiter.rate
    for _ in range(100):  # one second of successes: half the gap to the ceiling, plus 2%
        limiter.on_success()
    ceiling = limiter.ceiling
    assert rate + 0.3 * (ceiling - rate) < limiter.rate < rate + 0.6 * (ceiling - rate)


def test_decrease_starts_from_what_the_api_accepted() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock)
    for _ in range(300):  # 300 successes in one second although 1000/s are allowed
        limiter.on_success()
        clock.now += 1 / 300
    limiter.on_throttled()
    assert limiter.ceiling == pytest.approx(300, rel=0.05)
    assert limiter.rate == pytest.approx(150, rel=0.05)


def _simulate(
    limiter: RateLimiter, clock: FakeClock, limit: float, seconds: float
) -> tuple[int, int]:
    """32 workers, 20 ms of latency, against a server token bucket of ``limit`` per second that
    starts with one second's worth. A worker waits for the limiter, sends, and learns the answer
    20 ms later; after a 429 it backs off 0.75 s, as the retry policy does on average. Returns
    (accepted, refused)."""
    latency, backoff = 0.02, 0.75
    tokens, stamp = limit, clock.now
    accepted = refused = 0
    end = clock.now + seconds
    events = [(clock.now, worker, "ready") for worker in range(32)]
    heapq.heapify(events)
    while events:
        when, worker, what = heapq.heappop(events)
        if when >= end:
            break
        clock.now = when
        if what == "ready":
            heapq.heappush(events, (when + limiter.reserve(), worker, "send"))
        elif what == "send":
            tokens = min(limit, tokens + (when - stamp) * limit)
            stamp = when
            ok = tokens >= 1
            tokens -= ok
            heapq.heappush(events, (when + latency, worker, "ok" if ok else "429"))
        elif what == "ok":
            accepted += 1
            limiter.on_success()
            heapq.heappush(events, (when, worker, "ready"))
        else:
            refused += 1
            limiter.on_throttled()
            heapq.heappush(events, (when + backoff, worker, "ready"))
    return accepted, refused


def test_aimd_keeps_close_to_the_apis_limit_without_configuration() -> None:
    # 32 workers could send 1,600/s; the API allows 500/s. Halving once per 429 answer (rather
    # than once per storm of them) took a benchmark run to a quarter of the allowed rate.
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    _simulate(limiter, clock, 500, 10)  # the first storm, and settling
    accepted, refused = _simulate(limiter, clock, 500, 60)
    assert accepted / 60 > 0.85 * 500, f"{accepted / 60:.0f}/s accepted of 500/s allowed"
    assert refused < 0.05 * accepted, f"{refused} refused, {accepted} accepted"


def test_rate_never_exceeds_the_configured_ceiling_or_drops_below_the_floor() -> None:
    clock = FakeClock()
    limiter = RateLimiter(50, min_rate=2, clock=clock)
    for _ in range(20):
        limiter.on_throttled()
        clock.now += 2
    assert limiter.rate == 2
    for _ in range(100_000):
        limiter.on_success()
    assert limiter.rate == 50


def test_a_ceiling_that_was_too_low_is_left_behind_within_seconds() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(20):  # 20 requests in a second, then a 429: the ceiling reads 20/s
        limiter.reserve()
        clock.now += 0.05
    limiter.on_throttled()
    assert limiter.ceiling == pytest.approx(20, rel=0.1)
    while clock.now < 112.0:  # then eleven seconds in which everything is accepted
        clock.now += max(limiter.reserve(), 0.0005)
        limiter.on_success()
    assert limiter.rate > 10 * limiter.ceiling
