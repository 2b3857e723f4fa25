"""Injected faults, latency and rate limits, as an aiohttp client sees them.

No assertion here rests on how fast this machine is: durations are read from the request log
(the emulator's own measure of a request), the rate limits run on a clock the test moves, and
waits are polls with a generous deadline, not fixed sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
from conftest import SchemaCheck
from support import arrived, limits_clock

from tasksync.emulator import Emulator, EmulatorSettings, RequestRecord

pytestmark = pytest.mark.faults


@pytest.fixture
async def session(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {emulator.token}"}
    async with aiohttp.ClientSession(emulator.url, headers=headers) as s:
        yield s


async def logged(emu: Emulator, count: int = 1) -> list[RequestRecord]:
    """The request log once it holds ``count`` records (a request is logged when it ends)."""
    deadline = time.monotonic() + 10
    while len(emu.requests) < count:
        assert time.monotonic() < deadline, f"{len(emu.requests)} of {count} requests logged"
        await asyncio.sleep(0.01)
    return emu.requests


def stopped_clock(emu: Emulator) -> list[float]:
    """Run the rate limits on a clock that moves only when the test adds to ``now[0]``."""
    now = [0.0]
    limits_clock(emu, lambda: now[0])
    return now


async def status_of(session: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> int:
    async with session.request(method, path, **kw) as resp:
        await resp.read()
        return resp.status


async def test_scheduled_status_faults_hit_only_matching_requests(
    emulator: Emulator, session: aiohttp.ClientSession, api_schema: SchemaCheck
) -> None:
    task = emulator.state.add_task(name="target", title="before")
    path = f"/v2/actor-tasks/{task['id']}"
    emulator.faults.schedule(count=2, status=503, method="PUT", path_prefix="/v2/actor-tasks")
    assert await status_of(session, "GET", path) == 200
    for _ in range(2):
        async with session.put(path, json={"title": "after"}) as resp:
            assert resp.status == 503
            body = await resp.json()
            api_schema(body, "ErrorResponse")
            assert body["error"]["type"] == "query-timeout"
    assert emulator.state.get_task(task["id"])["title"] == "before"  # type: ignore[index]
    assert await status_of(session, "PUT", path, json={"title": "after"}) == 200
    assert emulator.faults.scheduled == []
    records = [(r.method, r.status, r.fault, r.body) for r in emulator.requests]
    assert records == [
        ("GET", 200, None, None),
        ("PUT", 503, "status", {"title": "after"}),
        ("PUT", 503, "status", {"title": "after"}),
        ("PUT", 200, None, {"title": "after"}),
    ]
    emulator.faults.schedule(status=429, error_type="too-many-requests")
    async with session.get("/v2/users/me") as resp:
        assert resp.status == 429 and (await resp.json())["error"]["type"] == "too-many-requests"


async def test_drop_before_does_not_apply_the_write(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    task = emulator.state.add_task(name="drop-before", title="before")
    # aiohttp silently resends an idempotent request once after a disconnect: drop both.
    emulator.faults.schedule(count=2, kind="drop_before", method="PUT")
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await status_of(session, "PUT", f"/v2/actor-tasks/{task['id']}", json={"title": "x"})
    assert emulator.state.get_task(task["id"])["title"] == "before"  # type: ignore[index]
    records = [(r.status, r.fault, r.body) for r in emulator.requests]
    assert records == [(None, "drop_before", {"title": "x"})] * 2
    assert await status_of(session, "GET", f"/v2/actor-tasks/{task['id']}") == 200


async def test_drop_after_applies_the_write(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    emulator.faults.schedule(kind="drop_after", method="POST")
    create = {"actId": "apify~web-scraper", "name": "ghost-created"}
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await status_of(session, "POST", "/v2/actor-tasks", json=create)
    assert emulator.state.get_task("~ghost-created") is not None
    assert await status_of(session, "POST", "/v2/actor-tasks", json=create) == 409
    assert [r.fault for r in emulator.requests] == ["drop_after", None]


async def test_stall_outlasts_a_client_timeout_and_is_not_applied(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    task = emulator.state.add_task(name="stalled", title="before")
    path = f"/v2/actor-tasks/{task['id']}"
    emulator.faults.schedule(kind="stall", method="PUT", seconds=0.4)
    with pytest.raises(asyncio.TimeoutError):
        await status_of(
            session, "PUT", path, json={"title": "late"}, timeout=aiohttp.ClientTimeout(total=0.1)
        )
    (stalled,) = await logged(emulator)  # the stall ends; the client is gone
    assert (stalled.status, stalled.fault) == (None, "stall")
    assert stalled.duration >= 0.4
    assert emulator.state.get_task(task["id"])["title"] == "before"  # type: ignore[index]

    emulator.faults.schedule(kind="stall", method="GET", seconds=0.1)
    assert await status_of(session, "GET", path) == 200  # a patient client gets its answer
    answered = (await logged(emulator, 2))[1]
    assert (answered.status, answered.fault) == (200, "stall")
    assert answered.duration >= 0.1


async def test_a_long_stall_does_not_hold_up_shutdown() -> None:
    async with Emulator() as emu:
        headers = {"Authorization": f"Bearer {emu.token}"}
        emu.faults.schedule(kind="stall", seconds=60)
        async with aiohttp.ClientSession(emu.url, headers=headers) as session:
            request = asyncio.ensure_future(status_of(session, "GET", "/v2/users/me"))
            await arrived(emu)  # and is stalling
            with anyio.fail_after(30):  # not the 60 s of the stall
                await emu.close()
            with pytest.raises(aiohttp.ClientError):
                await request


async def test_random_faults_follow_the_rates_and_the_seed() -> None:
    async def statuses(settings: EmulatorSettings) -> list[int | None]:
        """What the emulator answered to 30 POSTs (POST: aiohttp does not resend them)."""
        async with Emulator(settings) as emu:
            headers = {"Authorization": f"Bearer {emu.token}"}
            seen: list[int | None] = []
            for _ in range(30):
                async with aiohttp.ClientSession(emu.url, headers=headers) as session:
                    try:
                        seen.append(
                            await status_of(session, "POST", "/v2/actor-tasks", json=CREATE)
                        )
                    except aiohttp.ClientError:
                        seen.append(None)
            assert [r.status for r in emu.requests] == seen
            return seen

    assert set(await statuses(EmulatorSettings(error_rate=1.0))) <= {500, 502, 503}
    assert set(await statuses(EmulatorSettings(drop_before_rate=1.0))) == {None}
    assert set(await statuses(EmulatorSettings(drop_after_rate=1.0))) == {None}
    mixed = EmulatorSettings(seed=7, error_rate=0.3, drop_before_rate=0.2, drop_after_rate=0.1)
    first = await statuses(mixed)
    assert first == await statuses(mixed)  # same seed, same faults
    assert {201, None} <= set(first) and set(first) & {500, 502, 503}


CREATE = {"actId": "apify~web-scraper"}


async def test_faults_and_latency_spare_the_control_plane(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    emulator.settings.error_rate = 1.0
    emulator.settings.latency_ms = 600_000  # ten minutes: the control plane must not wait
    with anyio.fail_after(30):
        assert await status_of(session, "GET", "/_emulator/state") == 200
    assert emulator.requests == []  # and it is not logged
    emulator.settings.latency_ms = 150
    assert await status_of(session, "GET", "/v2/users/me") in (500, 502, 503)
    (record,) = emulator.requests
    assert record.duration >= 0.15


async def test_schedule_rejects_nonsense(emulator: Emulator) -> None:
    with pytest.raises(ValueError):
        emulator.faults.schedule(count=1)
    with pytest.raises(ValueError):
        emulator.faults.schedule(count=0, status=500)
    with pytest.raises(ValueError):
        emulator.faults.schedule(kind="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        emulator.faults.schedule(status=200)


# -- rate limits -------------------------------------------------------------------------------


async def test_per_resource_limit(
    emulator: Emulator, session: aiohttp.ClientSession, api_schema: SchemaCheck
) -> None:
    now = stopped_clock(emulator)
    a = emulator.state.add_task(name="a")
    b = emulator.state.add_task(name="b")
    async with session.get(f"/v2/actor-tasks/{a['id']}") as resp:
        assert resp.headers["X-RateLimit-Limit"] == "60"
    emulator.settings.per_resource_rps = 2
    path = f"/v2/actor-tasks/{a['id']}"
    assert [await status_of(session, "GET", path) for _ in range(2)] == [200, 200]
    async with session.put(path + "/input", json={"x": 1}) as resp:  # same resource
        assert resp.status == 429
        assert resp.headers["X-RateLimit-Limit"] == "2"
        body = await resp.json()
        api_schema(body, "ErrorResponse")
        assert body["error"]["type"] == "rate-limit-exceeded"
        assert "2 requests per second" in body["error"]["message"]
        assert "Retry-After" not in resp.headers
    assert await status_of(session, "GET", f"/v2/actor-tasks/{b['id']}") == 200
    other = {"Authorization": f"Bearer {emulator.state.user('otheruser').token}"}
    assert await status_of(session, "GET", path, headers=other) == 404  # its own budget
    now[0] += 0.49  # refills at 2 per second: not yet one
    assert await status_of(session, "GET", path) == 429
    now[0] += 0.02
    assert await status_of(session, "GET", path) == 200
    emulator.settings.retry_after_seconds = 1
    async with session.get(path) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "1"


async def test_global_limit_per_user(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    stopped_clock(emulator)
    emulator.settings.per_resource_rps = None
    emulator.settings.global_rps = 3
    paths = ["/v2/users/me", "/v2/actor-tasks", "/v2/actors/apify~web-scraper", "/v2/users/me"]
    async with session.get(paths[0]) as resp:
        assert "X-RateLimit-Limit" not in resp.headers  # per-resource limit is off
    assert [await status_of(session, "GET", p) for p in paths[1:]] == [200, 200, 429]
    async with session.get("/v2/actor-tasks") as resp:
        assert resp.status == 429 and resp.headers["X-RateLimit-Limit"] == "3"
    other = {"Authorization": f"Bearer {emulator.state.user('otheruser').token}"}
    assert await status_of(session, "GET", "/v2/users/me", headers=other) == 200


async def test_limits_off(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    emulator.settings.per_resource_rps = 0
    emulator.settings.global_rps = 0
    statuses = {await status_of(session, "GET", "/v2/users/me") for _ in range(100)}
    assert statuses == {200}


async def test_settings_can_change_between_requests(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    emulator.settings = EmulatorSettings(per_resource_rps=1)
    stopped_clock(emulator)
    assert [await status_of(session, "GET", "/v2/users/me") for _ in range(2)] == [200, 429]
    emulator.settings = EmulatorSettings(log_requests=False)
    assert await status_of(session, "GET", "/v2/users/me") == 200
    assert len(emulator.requests) == 2


async def test_a_client_that_hangs_up_mid_body_is_logged_as_dropped(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    task = emulator.state.add_task(name="half")
    port = int(emulator.url.rsplit(":", 1)[1])
    # A stall of no time changes nothing but tells when the headers have been read.
    emulator.faults.schedule(kind="stall", seconds=0, method="PUT")
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"PUT /v2/actor-tasks/{task['id']} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {emulator.token}\r\nContent-Type: application/json\r\n"
        'Content-Length: 1000\r\n\r\n{"title": '.encode()
    )
    await writer.drain()
    await arrived(emulator)  # now waiting for the rest of the body
    writer.transport.abort()  # a reset, not a polite close
    (record,) = await logged(emulator)
    assert (record.method, record.status) == ("PUT", None)
    assert emulator.state.get_task(task["id"])["title"] != ""  # type: ignore[index]
    assert "Error handling request" not in caplog.text
