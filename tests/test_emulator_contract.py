"""The emulator speaks the real API: the official ``apify-client`` drives it, and raw answers
match the schemas of Apify's OpenAPI document (``openapi-tasks.json``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from apify_client import ApifyClientAsync
from apify_client.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UnauthorizedError,
)
from conftest import SchemaCheck

from tasksync.emulator import Emulator

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def client(emu: Emulator, token: str | None = None, retries: int = 2) -> ApifyClientAsync:
    return ApifyClientAsync(
        token or emu.token,
        api_url=emu.url,
        max_retries=retries,
        min_delay_between_retries=timedelta(milliseconds=1),
    )


async def raw(emu: Emulator, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {kwargs.pop('token', emu.token)}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emu.url + path, headers=headers, **kwargs) as resp,
    ):
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        return resp.status, await resp.json()


async def test_task_lifecycle_with_the_official_client(emulator: Emulator) -> None:
    tasks = client(emulator).tasks()
    created = await tasks.create(
        actor_id="apify~web-scraper",
        name="news-daily",
        build="latest",
        memory_mbytes=1024,
        run_timeout=timedelta(seconds=600),
        task_input={"startUrls": [{"url": "https://example.com"}]},
        title="News daily",
    )
    assert created.name == "news-daily" and created.username == "janedoe"
    assert len(created.id) == 17 and created.id.isalnum()
    task = client(emulator).task(created.id)

    fetched = await task.get()
    assert fetched is not None and fetched.id == created.id
    by_name = await client(emulator).task("janedoe/news-daily").get()
    assert by_name is not None and by_name.id == created.id

    updated = await task.update(memory_mbytes=2048)
    assert updated.options is not None
    assert updated.options.memory_mbytes == 2048
    assert updated.options.build == "latest" and updated.options.timeout_secs == 600
    assert updated.title == "News daily"
    assert updated.modified_at > created.modified_at

    await task.update(task_input={"startUrls": [], "maxPages": 3})
    assert await task.get_input() == {"startUrls": [], "maxPages": 3}
    merged = await task.update_input(task_input={"maxPages": 5})
    assert merged == {"startUrls": [], "maxPages": 5}

    await task.delete()
    assert await task.get() is None
    await task.delete()  # a 404 on delete counts as done for the client


async def test_list_paginates_over_several_pages(emulator: Emulator) -> None:
    ids = [emulator.state.add_task(name=f"t-{i:02d}")["id"] for i in range(25)]
    tasks = client(emulator).tasks()
    page = await tasks.list(limit=10, offset=20)
    assert (page.total, page.offset, page.limit, page.count) == (25, 20, 10, 5)
    assert [t.id for t in page.items] == ids[20:]
    assert [t.id async for t in tasks.iterate(chunk_size=10)] == ids
    newest = await tasks.list(limit=3, desc=True)
    assert [t.id for t in newest.items] == ids[::-1][:3] and newest.desc is True
    item = page.items[0]
    assert item.act_name == "web-scraper" and item.act_username == "apify"
    pages = [r.query for r in emulator.requests if r.path == "/v2/actor-tasks"]
    assert {"limit": "10", "offset": "10"} in pages


async def test_user_and_actor_endpoints(emulator: Emulator) -> None:
    me = await client(emulator).user().get()
    assert me is not None and me.username == "janedoe"
    actor = await client(emulator).actor("apify/web-scraper").get()
    assert actor is not None and actor.name == "web-scraper" and actor.username == "apify"
    assert await client(emulator).actor("apify/no-such-actor").get() is None


async def test_large_bodies_arrive_gzipped_and_are_read(emulator: Emulator) -> None:
    task = emulator.state.add_task(name="big")
    big = {"text": "x" * 5000, "list": list(range(500))}
    await client(emulator).task(task["id"]).update(task_input=big)
    (put,) = [r for r in emulator.requests if r.method == "PUT"]
    assert put.body == {"input": big}
    assert emulator.state.get_task(task["id"])["input"] == big  # type: ignore[index]


async def test_error_classes(emulator: Emulator) -> None:
    with pytest.raises(UnauthorizedError) as unauthorized:
        await client(emulator, token="apify_api_revoked").tasks().list()
    assert unauthorized.value.type == "user-or-token-not-found"

    mine = emulator.state.add_task(name="mine")
    theirs = emulator.state.add_task(username="otheruser", name="theirs")
    assert await client(emulator).task(theirs["id"]).get() is None
    assert await client(emulator).task("otheruser/theirs").get() is None
    with pytest.raises(NotFoundError) as missing:
        await client(emulator).task("A" * 17).update(title="x")
    assert missing.value.type == "record-not-found"

    with pytest.raises(ConflictError) as clash:
        await client(emulator).tasks().create(actor_id="apify~web-scraper", name="mine")
    assert clash.value.type == "actor-task-name-not-unique"
    await client(emulator).tasks().create(actor_id="apify~web-scraper", name="second")
    with pytest.raises(ConflictError):
        await client(emulator).task(mine["id"]).update(name="second")

    with pytest.raises(InvalidRequestError) as invalid:
        await client(emulator).task(mine["id"]).update(memory_mbytes=1000)
    assert invalid.value.type == "invalid-input" and invalid.value.status_code == 400
    with pytest.raises(NotFoundError):
        await client(emulator).tasks().create(actor_id="apify~no-such-actor", name="orphan")


async def test_rate_limit_errors_are_retried_then_given_up(emulator: Emulator) -> None:
    task = emulator.state.add_task(name="busy")
    emulator.faults.schedule(count=2, status=429, method="GET", path_prefix="/v2/actor-tasks")
    fetched = await client(emulator, retries=2).task(task["id"]).get()
    assert fetched is not None
    assert [r.status for r in emulator.requests] == [429, 429, 200]

    emulator.clear_requests()
    emulator.faults.schedule(count=10, status=429, method="GET", path_prefix="/v2/actor-tasks")
    with pytest.raises(RateLimitError) as limited:
        await client(emulator, retries=2).task(task["id"]).get()
    assert limited.value.type == "rate-limit-exceeded"
    assert [r.status for r in emulator.requests] == [429, 429, 429]


async def test_real_rate_limit_stops_the_client(emulator: Emulator) -> None:
    task = emulator.state.add_task(name="hot")
    emulator.settings.per_resource_rps = 0.5
    api = client(emulator, retries=1).task(task["id"])
    assert await api.get() is not None
    with pytest.raises(RateLimitError):
        await api.get()
    other = emulator.state.add_task(name="cold")  # another resource has its own budget
    assert await client(emulator, retries=0).task(other["id"]).get() is not None
    # The same task by name, or its input, is the same resource: no fresh budget.
    with pytest.raises(RateLimitError):
        await client(emulator, retries=0).task(f"{emulator.username}~hot").get()
    with pytest.raises(RateLimitError):
        await client(emulator, retries=0).task(task["id"]).get_input()


async def test_server_errors_and_dropped_connections_are_retried(emulator: Emulator) -> None:
    task = emulator.state.add_task(name="flaky")
    emulator.faults.schedule(count=1, status=503, method="PUT")
    emulator.faults.schedule(count=1, kind="drop_before", method="PUT")
    updated = await client(emulator, retries=3).task(task["id"]).update(title="ok")
    assert updated.title == "ok"
    assert [(r.status, r.fault) for r in emulator.requests] == [
        (503, "status"),
        (None, "drop_before"),
        (200, None),
    ]
    emulator.faults.schedule(count=5, status=500, method="GET")
    with pytest.raises(ServerError):
        await client(emulator, retries=1).task(task["id"]).get()


# -- raw answers against the OpenAPI schemas ----------------------------------------------------


async def test_task_answers_match_the_schema(emulator: Emulator, api_schema: SchemaCheck) -> None:
    status, body = await raw(
        emulator,
        "POST",
        "/v2/actor-tasks",
        json={
            "actId": "apify~web-scraper",
            "name": "schema-check",
            "options": {"build": "latest", "memoryMbytes": 256, "restartOnError": False},
            "input": {"q": 1},
            "title": "Schema",
            "actorStandby": {"isEnabled": False},
        },
    )
    assert status == 201
    api_schema(body, "TaskResponse")
    task = body["data"]
    required = {"id", "userId", "actId", "name", "username", "createdAt", "modifiedAt"}
    optional = {"removedAt", "stats", "options", "input", "title", "description"}
    assert required | optional | {"actorStandby", "standbyUrl"} <= set(task)
    assert TIMESTAMP.match(task["createdAt"]) and TIMESTAMP.match(task["modifiedAt"])

    for path in (f"/v2/actor-tasks/{task['id']}", "/v2/actor-tasks/~schema-check"):
        status, body = await raw(emulator, "GET", path)
        assert status == 200
        api_schema(body, "TaskResponse")
    status, body = await raw(emulator, "PUT", path, json={"options": {"maxItems": 10}})
    assert status == 200
    api_schema(body, "TaskResponse")
    status, body = await raw(emulator, "GET", path + "/input")
    api_schema(body, "TaskInput")


async def test_list_user_actor_and_errors_match_the_schema(
    emulator: Emulator, api_schema: SchemaCheck
) -> None:
    for i in range(3):
        emulator.state.add_task(name=f"s-{i}", actor="apify~cheerio-scraper")
    status, body = await raw(emulator, "GET", "/v2/actor-tasks?limit=2&offset=1")
    assert status == 200
    api_schema(body, "ListOfTasksResponse")
    assert set(body["data"]["items"][0]) == {
        "id",
        "userId",
        "actId",
        "actName",
        "name",
        "username",
        "actUsername",
        "createdAt",
        "modifiedAt",
        "stats",
    }
    status, body = await raw(emulator, "GET", "/v2/users/me")
    api_schema(body, "PrivateUserDataResponse")
    for prefix in ("/v2/actors/", "/v2/acts/"):
        status, body = await raw(emulator, "GET", prefix + "apify~web-scraper")
        assert status == 200
        api_schema(body, "ActorResponse")
    status, body = await raw(emulator, "GET", "/v2/actors/apify~web-scraper/builds/default")
    api_schema(body, "BuildResponse")

    errors = [
        await raw(emulator, "GET", "/v2/actor-tasks", token="wrong"),
        await raw(emulator, "GET", "/v2/actor-tasks/~missing"),
        await raw(emulator, "POST", "/v2/actor-tasks", json=[1]),
        await raw(emulator, "PATCH", "/v2/actor-tasks"),
        await raw(emulator, "GET", "/v2/nothing-here"),
        await raw(emulator, "PUT", "/v2/actor-tasks/~s-1", json={"name": "s-2"}),
    ]
    assert [status for status, _ in errors] == [401, 404, 400, 405, 404, 409]
    for _, body in errors:
        api_schema(body, "ErrorResponse")
        assert set(body["error"]) == {"type", "message"}
    emulator.settings.per_resource_rps = 1
    await raw(emulator, "GET", "/v2/users/me")
    status, body = await raw(emulator, "GET", "/v2/users/me")
    assert status == 429
    api_schema(body, "ErrorResponse")


async def test_schedule_lifecycle_with_the_official_client(emulator: Emulator) -> None:
    task = emulator.state.add_task(name="news-daily")
    schedules = client(emulator).schedules()
    created = await schedules.create(
        cron_expression="0 3 * * *",
        is_enabled=True,
        is_exclusive=False,
        name="nightly-news",
        timezone="Europe/Prague",
        title="Nightly news",
        notifications_email=False,
        actions=[
            {"type": "RUN_ACTOR_TASK", "actorTaskId": "janedoe~news-daily", "input": {"a": 1}},
            {
                "type": "RUN_ACTOR",
                "actorId": "apify~web-scraper",
                "runInput": {"body": '{"greeting":"hi"}', "contentType": "application/json"},
                "runOptions": {"memoryMbytes": 256},
            },
        ],
    )
    assert created.name == "nightly-news" and created.timezone == "Europe/Prague"
    assert created.next_run_at is not None and created.next_run_at.minute == 0
    assert created.notifications is not None and created.notifications.email is False
    run_task, run_actor = created.actions
    assert run_task.type == "RUN_ACTOR_TASK" and run_task.actor_task_id == task["id"]
    assert run_actor.type == "RUN_ACTOR" and run_actor.run_options is not None
    assert run_actor.run_options.memory_mbytes == 256

    one = client(emulator).schedule(created.id)
    by_name = await client(emulator).schedule("janedoe/nightly-news").get()
    assert by_name is not None and by_name.id == created.id
    updated = await one.update(is_enabled=False, cron_expression="@hourly")
    assert updated.is_enabled is False and updated.next_run_at is None
    assert updated.cron_expression == "@hourly" and updated.title == "Nightly news"
    assert updated.modified_at > created.modified_at
    assert await one.get_log() == []

    page = await schedules.list()
    assert page.total == 1 and page.items[0].id == created.id
    assert [a.type for a in page.items[0].actions] == ["RUN_ACTOR_TASK", "RUN_ACTOR"]
    with pytest.raises(ConflictError):
        await schedules.create(
            cron_expression="* * * * *", is_enabled=True, is_exclusive=False, name="nightly-news"
        )
    with pytest.raises(InvalidRequestError):
        await schedules.create(cron_expression="61 * * * *", is_enabled=True, is_exclusive=False)
    with pytest.raises(NotFoundError):
        await one.update(actions=[{"type": "RUN_ACTOR_TASK", "actorTaskId": "~nope"}])
    await one.delete()
    assert await one.get() is None
