"""apply under faults: with each fault alone and with all of them at once, nothing is lost."""

from __future__ import annotations

import aiohttp
import anyio
import pytest
from support import seed

from tasksync.emulator import Emulator

pytestmark = pytest.mark.faults


async def test_restart_cuts_requests_in_flight_and_keeps_everything_else(
    emulator: Emulator,
) -> None:
    """What the restart cases rely on: a request in flight gets no answer, and the API comes
    back on the same port with the same tasks, scheduled faults and request log."""
    task = seed(emulator, "kept")
    url, path = emulator.url, f"/v2/actor-tasks/{task['id']}"
    headers = {"Authorization": f"Bearer {emulator.token}"}
    async with aiohttp.ClientSession(url, headers=headers) as session:

        async def get() -> int:
            async with session.get(path) as response:
                return response.status

        async def cut_off() -> None:
            with pytest.raises(aiohttp.ClientError):
                async with session.put(path, json={"title": "in flight"}):
                    pass

        assert await get() == 200
        emulator.faults.schedule(count=1, status=503, method="GET")
        emulator.settings.latency_ms = 100
        async with anyio.create_task_group() as tg:
            tg.start_soon(cut_off)
            await anyio.sleep(0.05)
            await emulator.restart(downtime=0.05)
        assert emulator.url == url
        assert [await get(), await get()] == [503, 200]
    assert [(r.method, r.status) for r in emulator.requests if r.method == "GET"] == [
        ("GET", 200),
        ("GET", 503),
        ("GET", 200),
    ]
