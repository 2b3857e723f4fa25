"""When the whole API is wrong, a run fails fast, with one clear message and a report.

An API that cannot be reached (a closed port), an API that stops answering in the middle of a
run, a URL that is not the Apify API's (a doubled ``/v2``, a web server that is not Apify), a
saved plan applied against another API or account: each is one error naming the URL, with a
bounded number of connection attempts whatever the number of tasks (counted on the wire with
aiohttp's trace hooks, never with a clock).
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web
from support import run_cli, threaded_emulator, write_file

from tasksync import cli, sync
from tasksync.api import ApifyClient
from tasksync.emulator import Emulator, EmulatorSettings
from tasksync.errors import ApiUrlError, UnreachableError
from tasksync.model import Status
from tasksync.throttle import CircuitBreaker, RateLimiter, RetryPolicy

MANY = 2000
FAST = RetryPolicy(base_delay=0.01, attempt_timeout=5.0)


@dataclass(frozen=True, kw_only=True)
class Counted(sync.Settings):
    """Settings whose client counts every connection it tries to open, on the wire."""

    connects: list[float] = field(default_factory=list, compare=False)

    def client(self) -> ApifyClient:
        trace = aiohttp.TraceConfig()

        async def started(*_: Any) -> None:
            self.connects.append(anyio.current_time())

        trace.on_connection_create_start.append(started)
        return ApifyClient(
            self.token,
            base_url=self.api_url,
            retry=self.retry,
            limiter=RateLimiter(self.max_rate),
            gate=self.gate(),
            trace_configs=[trace],
        )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def many_file(folder: Path, count: int = MANY) -> str:
    lines = ["version: 1", "safety: {maxChangedFraction: 1.0}", "tasks:"]
    for i in range(count):
        lines += [f"  - task: janedoe~t{i:04d}", "    options: {memoryMbytes: 2048}"]
    return write_file(folder, "\n".join(lines) + "\n")


def seed_many(emu: Emulator, count: int = MANY) -> None:
    for i in range(count):
        emu.state.add_task(
            username="janedoe",
            name=f"t{i:04d}",
            actor="apify~web-scraper",
            options={"build": "latest", "memoryMbytes": 1024},
        )


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text


# -- an API that is not there --------------------------------------------------------------------


def test_closed_port_fails_in_two_attempts_with_one_message(tmp_path: Path) -> None:
    path = many_file(tmp_path)
    url = f"http://127.0.0.1:{closed_port()}"
    report_path = tmp_path / "report.json"
    environ = {"APIFY_TOKEN": "tok-jane-secret", "APIFY_API_BASE_URL": url}
    result = run_cli("apply", path, "--yes", "--report", str(report_path), environ=environ)
    assert result.code == cli.ExitStatus.ERROR
    no_traceback(result.output)
    assert "tok-jane-secret" not in result.output
    (error,) = [line for line in result.err.splitlines() if line.startswith("tasksync: error:")]
    assert f"the API at {url} cannot be reached: GET {url}/v2/users/me: " in error
    assert "gave up after 2 attempts" in error and "--api-url" in error
    report = json.loads(report_path.read_text())
    assert report["ok"] is False and f"the API at {url} cannot be reached" in report["error"]
    assert report["totals"]["skipped"] == MANY
    assert report["requests"]["total"] == 2
    assert "tok-jane-secret" not in report_path.read_text()


async def test_closed_port_costs_two_connection_attempts_for_any_number_of_tasks(
    tmp_path: Path,
) -> None:
    path = many_file(tmp_path)
    settings = Counted(token="tok", api_url=f"http://127.0.0.1:{closed_port()}", retry=FAST)
    async with sync.Session(settings, environ={}) as session:
        with pytest.raises(UnreachableError, match="cannot be reached"):
            await session.plan(path)
    assert len(settings.connects) == 2


async def test_api_that_stops_answering_mid_run_stops_it_with_the_report(tmp_path: Path) -> None:
    """The emulator crashes after 500 of 2,000 writes: the breaker stops the run after a short
    run of refused connections, and the report says why and what became of each task."""
    path = many_file(tmp_path)
    async with Emulator(EmulatorSettings()) as emu:
        seed_many(emu)
        # Apify's backoff (0.5 s doubling), as a user runs it.
        settings = Counted(token=emu.token, api_url=emu.url, concurrency=16)
        crash = anyio.Event()

        def progress(phase: str, done: int, total: int, errors: int) -> None:
            if phase == "apply" and done == 500:
                crash.set()

        stopped_at: list[int] = []

        async def crash_when_told() -> None:
            await crash.wait()
            stopped_at.append(len(settings.connects))
            await emu.close(abort=True)

        async with anyio.create_task_group() as tg:
            tg.start_soon(crash_when_told)
            async with sync.Session(settings, environ={}, progress=progress) as session:
                report = await session.plan_and_apply(path, force=True)
    assert report is not None and not report.ok and not report.interrupted
    assert report.error is not None
    assert report.error.startswith("the run stopped mid-way: the API at ")
    assert "cannot be reached" in report.error
    totals = report.totals
    assert 500 <= totals["updated"] < MANY
    assert totals["updated"] + totals["failed"] + totals["skipped"] == MANY
    skipped = [r for r in report.results if r.status is Status.SKIPPED]
    assert skipped and {r.error for r in skipped} == {"not started: the API could not be reached"}
    # Without the breaker: ~1,500 tasks x 5 attempts. With it: the 16 requests in flight,
    # each tried two or three times over the breaker's two seconds.
    (before,) = stopped_at
    assert len(settings.connects) - before <= 4 * 16


def test_breaker_trips_after_a_run_of_refused_connections_that_lasts() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, span=2.0, clock=lambda: now[0])
    assert not breaker.on_connect_failure("refused")
    assert not breaker.on_connect_failure("refused")
    breaker.on_answer()  # any answer, even an error, means the API is there
    for _ in range(100):  # a restart: every request in flight fails at once, then it is back
        assert not breaker.on_connect_failure("refused")
    breaker.on_answer()
    assert not breaker.on_connect_failure("refused")
    now[0] = 1.0
    assert not breaker.on_connect_failure("refused")
    now[0] = 2.0
    assert breaker.on_connect_failure("refused at last")
    assert breaker.tripped == "refused at last"
    breaker.on_answer()  # it stays tripped
    assert breaker.tripped is not None and breaker.on_connect_failure("again")


# -- a URL that is not the Apify API's -----------------------------------------------------------


def test_doubled_v2_is_a_wrong_api_url_not_tasks_to_create(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        path = many_file(tmp_path, 20)
        url = emu.url + "/v2"
        environ = {"APIFY_TOKEN": emu.token, "APIFY_API_BASE_URL": url}
        result = run_cli("plan", path, environ=environ)
        requests = [r.path for r in emu.requests]
    assert result.code == cli.ExitStatus.ERROR
    no_traceback(result.output)
    assert "to create" not in result.output
    assert result.err.startswith(f"tasksync: error: GET {url}/v2/users/me: HTTP 404 page-not-found")
    assert "the API URL looks wrong" in result.err and result.err.count("\n") == 1
    assert requests == ["/v2/v2/users/me"]  # one request, at most two attempts


@pytest.fixture
async def not_apify() -> AsyncIterator[str]:
    """A web server that knows the token's user but is not Apify: plain-text 404s elsewhere."""

    async def me(request: web.Request) -> web.Response:
        return web.json_response({"data": {"id": "u1", "username": "janedoe"}})

    app = web.Application()
    app.router.add_get("/v2/users/me", me)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_non_json_404_stops_the_run_as_a_wrong_url(not_apify: str, tmp_path: Path) -> None:
    path = many_file(tmp_path, 200)
    settings = Counted(token="tok", api_url=not_apify, retry=FAST, concurrency=4)
    async with sync.Session(settings, environ={}) as session:
        with pytest.raises(ApiUrlError) as caught:
            await session.plan(path)
        assert session.account == sync.Account("u1", "janedoe")
    message = str(caught.value)
    assert message.startswith(f"GET {not_apify}/v2/actor-tasks/janedoe~t0")
    assert "HTTP 404 with a body that is not JSON" in message
    assert "the API URL looks wrong" in message


def test_404_of_another_type_mid_run_is_one_error(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        seed_many(emu, 30)
        path = many_file(tmp_path, 30)
        emu.faults.schedule(
            count=1000,
            status=404,
            error_type="page-not-found",
            path_prefix="/v2/actor-tasks/janedoe~t0007",
        )
        result = run_cli("plan", path, "--concurrency", "1", emu=emu)
    assert result.code == cli.ExitStatus.ERROR
    no_traceback(result.output)
    assert "to create" not in result.output and "Plan:" not in result.out
    assert "HTTP 404 page-not-found" in result.err and "API URL looks wrong" in result.err


# -- saved plans are bound to where they were made -----------------------------------------------


@pytest.fixture
def two_emulators() -> Iterator[tuple[Emulator, Emulator]]:
    with threaded_emulator() as a, threaded_emulator() as b:
        yield a, b


def test_saved_plan_refused_against_another_api(
    two_emulators: tuple[Emulator, Emulator], tmp_path: Path
) -> None:
    here, there = two_emulators
    for emu in (here, there):
        seed_many(emu, 3)
    path = many_file(tmp_path, 3)
    saved = str(tmp_path / "plan.json")
    assert run_cli("plan", path, "--out", saved, emu=here).code == 0
    report_path = tmp_path / "report.json"
    result = run_cli("apply", saved, "--yes", "--report", str(report_path), emu=there)
    assert result.code == cli.ExitStatus.ERROR
    no_traceback(result.output)
    assert f"this plan was made against {here.url} as janedoe" in result.err
    assert f"this run is against {there.url} as janedoe" in result.err
    assert {r.method for r in there.requests} == {"GET"}  # nothing written
    report = json.loads(report_path.read_text())
    assert "this plan was made against" in report["error"] and report["totals"]["skipped"] == 3


def test_saved_plan_refused_for_another_account(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        seed_many(emu, 3)
        other = emu.state.add_user("bobsmith")
        path = many_file(tmp_path, 3)
        saved = str(tmp_path / "plan.json")
        assert run_cli("plan", path, "--out", saved, emu=emu).code == 0
        result = run_cli("apply", saved, "--yes", emu=emu, environ={"APIFY_TOKEN": other.token})
        assert result.code == cli.ExitStatus.ERROR
        assert "as janedoe (user ID " in result.err and "as bobsmith (user ID " in result.err
        assert other.token not in result.output and emu.token not in result.output
        assert {r.method for r in emu.requests} == {"GET"}


# -- reports on every exit -----------------------------------------------------------------------


def test_safety_refusal_writes_the_report(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        seed_many(emu, 10)
        path = write_file(
            tmp_path,
            "version: 1\ntasks:\n"
            + "".join(f"  - task: janedoe~t{i:04d}\n    title: New\n" for i in range(10)),
        )
        report_path = tmp_path / "report.json"
        result = run_cli("apply", path, "--yes", "--report", str(report_path), emu=emu)
        assert {r.method for r in emu.requests} == {"GET"}
    assert result.code == cli.ExitStatus.ERROR
    no_traceback(result.output)
    assert "safety limit" in result.err
    report = json.loads(report_path.read_text())
    assert report["error"].startswith("refused; nothing was changed: the plan changes 10 of 10")
    # the check, ten GETs and the input schema (the Actor, then its build): nothing written
    assert report["totals"]["skipped"] == 10 and report["requests"]["total"] == 13


def test_refused_token_writes_the_report(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        seed_many(emu, 3)
        path = many_file(tmp_path, 3)
        report_path = tmp_path / "report.json"
        result = run_cli(
            "apply",
            path,
            "--yes",
            "--report",
            str(report_path),
            emu=emu,
            environ={"APIFY_TOKEN": "tok-not-known-here"},
        )
    assert result.code == cli.ExitStatus.ERROR
    no_traceback(result.output)
    report = json.loads(report_path.read_text())
    assert "HTTP 401" in report["error"] and report["totals"]["skipped"] == 3
    assert "tok-not-known-here" not in report_path.read_text() + result.output


# -- request counts are what the server received -------------------------------------------------


async def test_a_dropped_keep_alive_connection_is_retried_through_our_loop(tmp_path: Path) -> None:
    """aiohttp would resend the request by itself, unpaced and uncounted; ours counts it."""
    path = many_file(tmp_path, 5)
    async with Emulator(EmulatorSettings()) as emu:
        seed_many(emu, 5)
        emu.faults.schedule(
            kind="drop_before", method="GET", path_prefix="/v2/actor-tasks/janedoe~t0002"
        )
        settings = sync.Settings(token=emu.token, api_url=emu.url, retry=FAST, concurrency=1)
        async with sync.Session(settings, environ={}) as session:
            plan = await session.plan(path, check_inputs=False)
        received = len(emu.requests)
    assert received == 1 + 5 + 1  # the check, five tasks, and the dropped one again
    assert plan.requests.total == received and plan.requests.retried == 1


# -- how many requests are in flight -------------------------------------------------------------


def test_settings_choose_a_fixed_or_an_adaptive_window() -> None:
    fixed = sync.Settings(token="t", concurrency=3).gate().limit
    assert (fixed.limit, fixed.maximum) == (3, 3)
    adaptive = sync.Settings(token="t", max_concurrency=64).gate().limit
    assert adaptive.maximum == 64 and adaptive.limit == 8  # starts small, grows
    small = sync.Settings(token="t", max_concurrency=1).gate().limit
    assert (small.limit, small.maximum) == (1, 1)


async def test_fixed_concurrency_is_never_exceeded_on_the_wire(tmp_path: Path) -> None:
    path = many_file(tmp_path, 60)
    async with Emulator(EmulatorSettings(latency_ms=20)) as emu:
        seed_many(emu, 60)
        settings = Counted(token=emu.token, api_url=emu.url, retry=FAST, concurrency=3)
        async with sync.Session(settings, environ={}) as session:
            plan = await session.plan(path)
            assert session.concurrency == 3
    assert plan.counts["update"] == 60
    assert len(settings.connects) <= 3  # one connection per slot, reused
