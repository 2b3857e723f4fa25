"""The emulated ``/v2/schedules`` over raw HTTP: errors and their types, the action limits,
``nextRunAt`` in the schedule's time zone, ``modifiedAt`` on effective changes only, PUT's
``actions`` (replaced, or merged with the switch), pagination, owners, auth, limits and faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tasksync.emulator import Emulator, EmulatorSettings

Answer = tuple[int, Any]


class Http:
    def __init__(self, emu: Emulator, session: aiohttp.ClientSession) -> None:
        self.emu, self.session = emu, session

    async def __call__(
        self, method: str, path: str, body: Any = None, token: str | None = "default"
    ) -> Answer:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.emu.token if token == 'default' else token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        async with self.session.request(
            method, self.emu.url + path, data=data, headers=headers
        ) as resp:
            raw = await resp.read()
            return resp.status, json.loads(raw) if raw else None


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(emulator, session)


def kind(answer: Answer) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["type"]


def task_action(ref: str = "~news") -> dict[str, Any]:
    return {"type": "RUN_ACTOR_TASK", "actorTaskId": ref}


async def test_defaults_of_a_created_schedule(emulator: Emulator, http: Http) -> None:
    status, body = await http(
        "POST", "/v2/schedules", {"name": "sch-1", "cronExpression": "@daily"}
    )
    assert status == 201
    data = body["data"]
    assert (data["timezone"], data["isEnabled"], data["isExclusive"]) == ("UTC", True, False)
    assert data["actions"] == [] and data["nextRunAt"].endswith("T00:00:00.000Z")


async def test_next_run_follows_the_time_zone(emulator: Emulator, http: Http) -> None:
    body = {"name": "prague", "cronExpression": "0 3 * * *", "timezone": "Europe/Prague"}
    _, created = await http("POST", "/v2/schedules", body)
    hour = created["data"]["nextRunAt"][11:13]
    assert hour in ("01", "02")  # 03:00 in Prague is 01:00 or 02:00 UTC
    _, moved = await http("PUT", "/v2/schedules/~prague", {"timezone": "America/New_York"})
    assert moved["data"]["nextRunAt"][11:13] in ("07", "08")


async def test_errors_have_the_apis_types(emulator: Emulator, http: Http) -> None:
    emulator.state.add_task(name="news")
    post = {"name": "sch-1", "cronExpression": "0 3 * * *"}
    assert (await http("POST", "/v2/schedules", post))[0] == 201
    assert kind(await http("POST", "/v2/schedules", post)) == (409, "schedule-name-not-unique")
    bad_cron = {"name": "sch-2", "cronExpression": "0 25 * * *"}
    assert kind(await http("POST", "/v2/schedules", bad_cron)) == (400, "cron-expression-invalid")
    bad_zone = {"name": "sch-2", "cronExpression": "@daily", "timezone": "Mars/Olympus"}
    assert kind(await http("POST", "/v2/schedules", bad_zone)) == (400, "invalid-input")
    missing = {"actions": [task_action("~gone")]}
    assert kind(await http("PUT", "/v2/schedules/~sch-1", missing)) == (
        404,
        "schedule-actor-task-not-found",
    )
    actor = {"actions": [{"type": "RUN_ACTOR", "actorId": "nobody~nothing"}]}
    assert kind(await http("PUT", "/v2/schedules/~sch-1", actor)) == (
        404,
        "schedule-actor-not-found",
    )
    assert kind(await http("GET", "/v2/schedules/~nope")) == (404, "record-not-found")
    assert kind(await http("GET", "/v2/schedules", token=None)) == (401, "token-not-provided")


async def test_at_most_ten_task_and_ten_actor_actions(emulator: Emulator, http: Http) -> None:
    emulator.state.add_task(name="news")
    actor = {"type": "RUN_ACTOR", "actorId": "apify~web-scraper"}
    ok = {
        "name": "full",
        "cronExpression": "@daily",
        "actions": [task_action()] * 10 + [actor] * 10,
    }
    status, body = await http("POST", "/v2/schedules", ok)
    assert status == 201 and len({a["id"] for a in body["data"]["actions"]}) == 20
    for extra in (task_action(), actor):
        too_many = {"actions": [*ok["actions"], extra]}
        assert kind(await http("PUT", "/v2/schedules/~full", too_many)) == (400, "invalid-input")


async def test_modified_at_moves_only_on_effective_changes(emulator: Emulator, http: Http) -> None:
    _, first = await http("POST", "/v2/schedules", {"name": "sch-1", "cronExpression": "@daily"})
    _, same = await http("PUT", "/v2/schedules/~sch-1", {"cronExpression": "@daily", "title": None})
    assert same["data"]["modifiedAt"] == first["data"]["modifiedAt"]
    _, moved = await http("PUT", "/v2/schedules/~sch-1", {"isEnabled": False})
    assert moved["data"]["modifiedAt"] > first["data"]["modifiedAt"]
    assert moved["data"]["nextRunAt"] is None


@pytest.mark.parametrize("semantics", ["replace", "merge"])
async def test_put_replaces_actions_or_merges_them(semantics: str) -> None:
    async with Emulator(EmulatorSettings(actions_semantics=semantics)) as emu:  # type: ignore[arg-type]
        emu.state.add_task(name="news")
        emu.state.add_task(name="weekly")
        created = emu.state.add_schedule(
            name="sch-1", cronExpression="@daily", actions=[task_action("~news")]
        )
        updated = emu.state.update_schedule("~sch-1", {"actions": [task_action("~weekly")]})
        ids = [a["actorTaskId"] for a in updated["actions"]]
        news, weekly = emu.state.get_task("~news"), emu.state.get_task("~weekly")
        assert news is not None and weekly is not None
        if semantics == "replace":
            assert ids == [weekly["id"]]
        else:
            assert ids == [news["id"], weekly["id"]]
            assert updated["actions"][0]["id"] == created["actions"][0]["id"]


async def test_list_pages_and_owners(emulator: Emulator, http: Http) -> None:
    for n in range(3):
        emulator.state.add_schedule(name=f"sch-{n}", cronExpression="@hourly")
    other = emulator.state.add_user("acme")
    emulator.state.add_schedule(username="acme", name="theirs", cronExpression="@hourly")
    _, page = await http("GET", "/v2/schedules?offset=1&limit=1&desc=1")
    data = page["data"]
    assert (data["total"], data["count"], data["limit"], data["desc"]) == (3, 1, 1, True)
    assert data["items"][0]["name"] == "sch-1"
    assert (await http("GET", "/v2/schedules/acme~theirs"))[0] == 404
    assert (await http("GET", "/v2/schedules/acme~theirs", token=other.token))[0] == 200
    assert (await http("DELETE", "/v2/schedules/~sch-0"))[0] == 204
    assert (await http("GET", "/v2/schedules/~sch-0"))[0] == 404


async def test_faults_and_rate_limits_reach_schedules(emulator: Emulator, http: Http) -> None:
    emulator.faults.schedule(count=1, status=503, method="GET", path_prefix="/v2/schedules")
    assert (await http("GET", "/v2/schedules"))[0] == 503
    assert (await http("GET", "/v2/schedules"))[0] == 200
    emulator.settings.per_resource_rps = 2
    emulator.state.add_schedule(name="sch-1", cronExpression="@hourly")
    statuses = [(await http("GET", "/v2/schedules/~sch-1"))[0] for _ in range(6)]
    assert 429 in statuses
