"""Retry policy and rate limiter, driven with a fake clock and a fixed random source."""

from __future__ import annotations

import heapq

import anyio
import pytest

from tasksync.throttle import CircuitBreaker, RateLimiter, RetryPolicy


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


# -- boundaries (written for the mutation run: see tests/README.md) -------------------------------


def test_policy_refuses_each_bad_value_alone_and_accepts_the_boundaries() -> None:
    RetryPolicy(max_attempts=1, base_delay=0, attempt_timeout=0.5, deadline=0.5)
    with pytest.raises(ValueError, match=r"^max_attempts must be at least 1$"):
        RetryPolicy(max_attempts=0)
    for bad in ({"base_delay": -0.1}, {"attempt_timeout": 0}, {"deadline": 0}):
        with pytest.raises(ValueError, match=r"^delays and timeouts must be positive$"):
            RetryPolicy(**bad)  # type: ignore[arg-type]


async def test_acquire_waits_for_its_slot() -> None:
    limiter = RateLimiter(2, clock=lambda: 0.0)  # a stopped clock: slots at 0, 0.5 and 1 s
    await limiter.acquire()  # the first slot is now
    for _ in range(2):
        # Cancelled long before its slot comes (anyio fires the earlier deadline first), so
        # this says only that it did wait: no duration is measured.
        with anyio.move_on_after(0.001) as scope:
            await limiter.acquire()
        assert scope.cancelled_caught


def test_every_429_is_counted_and_one_at_the_end_of_the_hold_halves_again() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock)
    limiter.on_throttled()
    limiter.on_throttled()  # the same burst: once
    assert limiter.rate == 50
    clock.now += 1.0  # exactly the hold
    limiter.on_throttled()
    assert (limiter.rate, limiter.throttled) == (25, 3)


def test_an_accepted_rate_under_one_per_second_still_counts() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock)
    limiter.on_success()
    clock.now += 2.0  # one success in two seconds: 0.5 per second accepted
    limiter.on_throttled()
    assert (limiter.ceiling, limiter.rate) == (1.0, 1.0)  # the floor, not 100 / 2


@pytest.mark.parametrize(("sent", "measured"), [(9, False), (10, True)])
def test_a_429_before_ten_requests_leaves_the_rate_alone(sent: int, measured: bool) -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(sent):
        limiter.reserve()
    clock.now += 0.25  # in the first half second of all: counted over what passed
    limiter.on_throttled()
    assert limiter.rate == (sent / 0.25 / 2 if measured else float("inf"))


def test_a_complete_window_of_less_than_one_per_second_is_a_measure() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.reserve()
    clock.now += 2.5
    limiter.reserve()  # closes a window of 1 request in 2.5 s
    limiter.on_throttled()
    assert limiter.rate == 1.0  # measured (0.4 per second), so set, at the floor


@pytest.mark.parametrize(("after", "rate"), [(0.2, 5.0), (0.5, 20.0)])
def test_the_sent_rate_is_the_current_window_once_half_a_second_old(
    after: float, rate: float
) -> None:
    """Ten requests in the first second (a complete window: 10 per second), then twenty at
    once: a 429 ``after`` seconds later halves the rate of the window it can trust."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(10):
        limiter.reserve()
    clock.now += 1.0
    limiter.reserve()  # opens the second window
    for _ in range(19):
        limiter.reserve()
    clock.now += after
    limiter.on_throttled()
    assert limiter.rate == pytest.approx(rate)


def test_breaker_defaults_trip_after_eight_failures_over_two_seconds() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    assert [breaker.on_connect_failure("refused") for _ in range(7)] == [False] * 7
    clock.now += 1.9
    assert not breaker.on_connect_failure("refused")  # eight, but within 1.9 s
    clock.now += 0.1
    assert breaker.on_connect_failure("refused") and breaker.tripped == "refused"
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(7):
        breaker.on_connect_failure("refused")
    clock.now += 2.0
    assert breaker.on_connect_failure("refused")  # the eighth, two seconds after the first


def test_breaker_trips_at_the_threshold_over_the_span_from_the_first_failure() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=2, span=1.0, clock=clock)
    assert not breaker.on_connect_failure("a")
    clock.now += 1.0
    assert breaker.on_connect_failure("b")
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, span=0, clock=clock)
    assert not breaker.on_connect_failure("a")
    assert not breaker.on_connect_failure("b")
    assert breaker.on_connect_failure("c")


def test_breaker_counts_failures_in_a_row_only() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, span=0, clock=clock)
    breaker.on_connect_failure("a")
    breaker.on_connect_failure("b")
    breaker.on_answer()  # the server answered: the count starts again
    assert not breaker.on_connect_failure("c")
    assert not breaker.on_connect_failure("d")
    assert breaker.on_connect_failure("e")
    breaker.on_answer()  # once tripped, it stays tripped
    assert breaker.on_connect_failure("f") and breaker.tripped == "e"


def test_breaker_validates_each_value_and_accepts_the_boundaries() -> None:
    CircuitBreaker(threshold=1, span=0)
    for bad in ({"threshold": 0}, {"span": -0.1}):
        with pytest.raises(
            ValueError, match=r"^threshold must be at least 1 and span not negative$"
        ):
            CircuitBreaker(**bad)  # type: ignore[arg-type]


def test_limiter_validates_its_ceiling() -> None:
    RateLimiter(0.5)  # under one per second is a rate too
    for bad in (0, -1):
        with pytest.raises(ValueError, match=r"^max_rate must be positive$"):
            RateLimiter(bad)


def test_a_burst_lets_that_many_requests_go_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, burst=3, clock=clock)
    assert [limiter.reserve() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.1])


def test_growth_after_a_429_per_second_of_successes() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock)
    limiter.on_throttled()  # ceiling 100, rate 50
    limiter.on_success()  # half the gap (25) plus 2% of the rate (1), over the rate
    assert limiter.rate == pytest.approx(50 + 26 / 50)
    limiter.rate = limiter.ceiling = 20.0
    limiter.on_success()  # at the ceiling, 2% of 20 is under one: a gain of one request
    assert limiter.rate == pytest.approx(20 + 1 / 20)
    limiter.rate = limiter.ceiling = 0.5
    limiter.on_success()  # under one per second, the gain is spread as over one
    assert limiter.rate == pytest.approx(0.5 + 1.0)


def test_above_the_ceiling_the_probe_doubles_every_half_second_up_to_all() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock)
    limiter.on_throttled()
    limiter.rate = limiter.ceiling = 200.0
    limiter.on_success()  # at the ceiling: the probe starts at 2%
    rate = 200 + 0.02 * 200 / 200
    assert limiter.rate == pytest.approx(rate)
    clock.now += 0.5
    limiter.on_success()  # half a second above it: 4%
    rate += 0.04 * rate / rate
    assert limiter.rate == pytest.approx(rate)
    clock.now += 10
    limiter.on_success()  # capped at 100% per second
    assert limiter.rate == pytest.approx(rate + 1.0)


def test_at_the_configured_ceiling_successes_change_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    limiter.on_success()
    assert limiter.rate == 10


def test_the_first_request_goes_at_once_whatever_the_clock_reads() -> None:
    assert RateLimiter(2, clock=lambda: 0.0).reserve() == 0.0
