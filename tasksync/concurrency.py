"""How many requests tasksync keeps in flight: a fixed number, or a window that adapts to latency.

``AdaptiveLimit`` is a latency-based congestion window, in the family of TCP Vegas and Netflix's
concurrency-limits gradient algorithm. It is pure apart from the clock it is given. It learns the
latency of an unloaded API and keeps as many requests in flight as the API serves without that
latency rising: at ~100 ms per request a fixed 16 in flight caps a run at ~160 requests per
second, while the API serves far more in parallel.

The algorithm works in rounds of about one round trip: the next ``limit`` normal answers (at
least ``min_round`` once out of slow start, so that small windows are not judged on a handful of
samples). At the end of a round:

- its latency is the mean of its samples with the slowest tenth counted at the 90th percentile
  (winsorized): a queue moves a mean as soon as it forms (with C served in parallel and N > C in
  flight, the mean grows as N / C while the median moves only once half the requests wait), and
  one stray 30 s answer moves it no more than any other slow tenth;
- the *baseline* is the lowest round latency of the last ``baseline_window`` to
  2 x ``baseline_window`` seconds (default 10): the latency of the API without a queue. A minimum
  over rounds, not single samples: one lucky fast answer would make every round look congested.
  It is forgotten after a while so that an API that became slower is relearnt;
- the round is *congested* when its latency exceeds the baseline by more than ``tolerance``
  (default 30%) plus three standard errors of the round's latency (noise: with a spread of real
  latencies, a round's mean wanders, and the baseline, a minimum of such means, reads low):
  requests wait in a queue, on our side or the server's, and more of them in flight would add
  latency, not throughput.

Growth. The window starts at ``initial`` (default 8) in slow start: every normal answer that comes
back while the window is full adds one slot, so the window doubles per round trip (8, 16, 32, ...
in ~100 ms steps against the real API, 256 after ~0.5 s). It grows, never jumps: each answer opens
at most two new requests, so there is no connection storm at start. Slow start ends at the first
congested round. From then on growth is additive: per uncongested round in which the window was
full, ``sqrt(limit)`` slots but at most ``tolerance / 2`` of the window (+2.4 a round at 16, +8 at
64, +16 at 256), so one step cannot jump over the congestion threshold. A window that was not full
in a round (too little work left, or the rate limiter pacing the requests) does not grow: nothing
measured that it should.

Decrease. Out of slow start, one congested round is a suspicion (the window holds): a pause of the
event loop or a burst of slow answers is not a queue. A second in a row sets the window to the
number of requests that carry the same throughput without a queue, by Little's law: the round's mean
in-flight count (at most the window the round started with) times baseline / latency. Against a
server that serves C in parallel this is C whatever the overshoot: the window falls back to the
capacity, not below it (as halving would), so the API stays busy. Never below ``minimum``. The round
after a cut is not judged (and answers to requests sent before the cut are not counted): they waited
behind the queue the cut is draining, and judging them would cut twice for one queue. Two more
congested rounds after a cut mean the latency did not come from a queue (the cut would have drained
it) but from an API that became slower: that latency becomes the baseline instead of the window
shrinking to its floor.

In steady state against a fixed capacity the window is a sawtooth from the capacity up to about
``1 + tolerance`` times it plus the noise allowance and a growth step or two (a round judges the
window of the round before, and a suspicion waits for a second round), 0.9-1.8 x C in the
simulation tests, and the API serves at its capacity throughout: the
cost of probing is latency (up to ~1.5 x the baseline at the peaks), not throughput. Below the
ceiling the window keeps probing like this; at the ceiling it stays there while latency is flat.
If the API serves fewer than ``initial`` in parallel, the first rounds already queue, the baseline
includes that queue, and the window settles above the capacity (still at full throughput).

Errors. The ``RateLimiter`` owns 429s (it halves its rate) and the retry policy owns errors, so the
window does not also react to them: an answer that is not a normal one (``ok=False``: a 429, a 5xx,
a transport error or timeout, a cancelled request) frees its slot and is otherwise ignored. It
neither shrinks the window (a 429 is never punished twice) nor grows it, nor counts toward a
round: a fast 429 would read as an idle API, a 30 s timeout as a queue. A 4xx such as 404 is a
normal answer: the API did the work of answering it.

The ceiling, ``maximum``, is 256 by default, because:

- Apify allows ~4,167 requests per second per account (250,000 per minute). At ~100 ms per request
  256 in flight send ~2,500 per second, ~60% of that budget: one run of tasksync cannot take the
  whole budget from the account's Actors and integrations, and the ``RateLimiter`` rarely has to
  step in. Beyond ~400 in flight the account limit, not latency, would be the bound, and every
  extra slot a 429 in waiting.
- Returns diminish: measured on 10,000 tasks, 16 in flight take 65.4 s, 64 take 17.3 s, 256 take
  5.2 s, and 512 still take 3.9 s (the rest is fixed costs, not waiting).
- Each slot is a connection: a socket, a file descriptor and a TLS handshake, and one Python
  event loop answers a few thousand responses per second before its own CPU becomes the queue.

``FixedLimit`` is ``--concurrency N``: a constant window, and ``ConcurrencyGate`` is what workers
use around each request (see its docstring). Per request the gate and the window cost two clock
reads and a few attribute updates; once per round, a sort of the round's latencies (~``limit``
floats).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import anyio


class Limit(Protocol):
    """What a ``ConcurrencyGate`` asks of its limit."""

    @property
    def limit(self) -> int: ...

    @property
    def maximum(self) -> int: ...

    def on_sample(self, latency: float, in_flight: int, ok: bool = True) -> None: ...


class FixedLimit:
    """A window that never moves: ``--concurrency N``."""

    __slots__ = ("limit", "maximum")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the concurrency must be at least 1")
        self.limit = limit
        self.maximum = limit

    def on_sample(self, latency: float, in_flight: int, ok: bool = True) -> None:
        pass

    def __repr__(self) -> str:
        return f"FixedLimit({self.limit})"


class AdaptiveLimit:
    """A concurrency window that grows while latency stays near its baseline and falls back to
    the capacity Little's law gives when it rises; see the module docstring for the algorithm.

    ``limit`` is the current window (an int, read by the gate on every request);
    ``on_sample(latency, in_flight, ok)`` takes each answer: its latency in seconds, the requests
    in flight when it came back (itself included) and whether it was a normal answer.
    """

    def __init__(
        self,
        *,
        initial: int = 8,
        minimum: int = 2,
        maximum: int = 256,
        tolerance: float = 0.3,
        min_round: int = 32,
        baseline_window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError("the limits must satisfy 1 <= minimum <= initial <= maximum")
        if tolerance <= 0 or min_round < 1 or baseline_window <= 0:
            raise ValueError("tolerance, min_round and baseline_window must be positive")
        self.minimum = minimum
        self.maximum = maximum
        self.tolerance = tolerance
        self.min_round = min_round
        self.baseline_window = baseline_window
        self.limit = initial
        self.slow_start = True
        self.baseline = math.inf
        """The lowest round latency of the last one to two ``baseline_window``: the latency
        without a queue (``inf`` until the first round ends)."""
        self.rounds = 0
        self.cuts = 0
        self._clock = clock
        self._window = float(initial)
        now = clock()
        # The round being collected.
        self._since = -math.inf  # samples sent before this (the last cut) are not counted
        self._round_limit = initial
        self._round_size = initial  # one round trip: slow start is judged every round trip
        self._latencies: list[float] = []
        self._in_flight_sum = 0
        self._full = False
        # Judging.
        self._draining = False
        self._congested = 0
        # The baseline: minima of the current and the previous period of ``baseline_window``.
        self._period_start = now
        self._period_min = math.inf
        self._previous_min = math.inf

    def on_sample(self, latency: float, in_flight: int, ok: bool = True) -> None:
        if not ok:
            return
        now = self._clock()
        full = in_flight >= self.limit
        if full and self.slow_start and self._window < self.maximum:
            self._window += 1.0
            self.limit = int(self._window)
        if now - latency < self._since:
            return  # sent before the last cut: it measures the window before it
        self._latencies.append(latency)
        self._in_flight_sum += in_flight
        if full:
            self._full = True
        if len(self._latencies) >= self._round_size:
            self._end_round(now)

    def _end_round(self, now: float) -> None:
        samples = self._latencies
        n = len(samples)
        samples.sort()
        # The mean, with the slowest tenth counted at the 90th percentile (winsorized): a queue
        # moves a mean as soon as it forms, one stray slow answer does not.
        k = n - n // 10
        top = samples[k - 1]
        latency = (sum(samples[:k]) + (n - k) * top) / n
        # Its standard error: noise, which the threshold allows for three times over (the
        # round's own, and the baseline's, a minimum of such noisy means, reads low by ~2).
        squares = (sum(x * x for x in samples[:k]) + (n - k) * top * top) / n
        noise = 3.0 * math.sqrt(max(0.0, squares - latency * latency) / n)
        load = min(self._in_flight_sum / n, self._round_limit)
        full = self._full
        self._latencies = []
        self._in_flight_sum = 0
        self._full = False
        self.rounds += 1

        if now - self._period_start >= self.baseline_window:
            self._previous_min, self._period_min = self._period_min, math.inf
            self._period_start = now
        if latency < self._period_min:
            self._period_min = latency
        baseline = min(self._period_min, self._previous_min)

        if self._draining:
            self._draining = False
        elif latency > baseline * (1.0 + self.tolerance) + noise:
            self._congested += 1
            if self._congested >= 4:
                # A cut drains a queue: still congested two rounds after one, the API itself
                # became slower, and this latency is its new baseline.
                self._period_min = self._previous_min = baseline = latency
                self._congested = 0
            elif self.slow_start or self._congested == 2:
                # Little's law: the in-flight count that carries this throughput without a queue.
                target = load * baseline / latency
                self._window = max(float(self.minimum), min(self._window, target))
                self.slow_start = False
                self._draining = True
                self._since = now
                self.cuts += 1
            # else: one congested round out of slow start is a suspicion, confirmed or not by
            # the next (a pause of the event loop or a burst of slow answers is not a queue).
        else:
            self._congested = 0
            if full and not self.slow_start:
                window = self._window
                step = max(1.0, min(math.sqrt(window), window * self.tolerance / 2))
                self._window = min(float(self.maximum), window + step)
        self.baseline = baseline
        self.limit = int(self._window)
        self._round_limit = self.limit
        self._round_size = self.limit if self.slow_start else max(self.limit, self.min_round)

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimit(limit={self.limit}, baseline={self.baseline:.4f}, "
            f"slow_start={self.slow_start})"
        )


class ConcurrencyGate:
    """Admits a request while fewer than ``limit.limit`` are in flight; the rest wait, first come
    first served. A worker wraps each attempt of each request::

        started = await gate.acquire()
        ok = False
        try:
            response = await send()
            ok = response.status != 429 and response.status < 500
        finally:
            gate.release(started, ok)

    ``acquire`` returns the clock reading at admission (the start of the latency); ``release``
    measures the latency, hands it to the limit, and admits as many waiters as the limit allows
    now. Pace requests (``RateLimiter.acquire``) and sleep between retries *outside* the gate, so
    that neither counts as latency nor holds a slot.

    ``ConcurrencyGate(16)`` is a fixed gate, ``ConcurrencyGate(AdaptiveLimit())`` an adaptive one;
    a pool needs ``limit.maximum`` workers to fill the window.
    """

    __slots__ = ("_clock", "_waiters", "in_flight", "limit")

    def __init__(self, limit: Limit | int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit: Limit = FixedLimit(limit) if isinstance(limit, int) else limit
        self.in_flight = 0
        self._clock = clock
        self._waiters: deque[anyio.Event] = deque()

    async def acquire(self) -> float:
        if self.in_flight < self.limit.limit and not self._waiters:
            self.in_flight += 1
            return self._clock()
        event = anyio.Event()
        self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():  # handed a slot as it was cancelled: pass the slot on
                self.in_flight -= 1
                self._admit()
            else:
                self._waiters.remove(event)
            raise
        return self._clock()

    def release(self, started: float, ok: bool = True) -> None:
        self.limit.on_sample(self._clock() - started, self.in_flight, ok)
        self.in_flight -= 1
        if self._waiters:
            self._admit()

    def _admit(self) -> None:
        waiters = self._waiters
        limit = self.limit.limit
        while waiters and self.in_flight < limit:
            self.in_flight += 1
            waiters.popleft().set()
