"""The emulated API over raw HTTP: what the official client cannot reach or does not send.

Auth forms, PUT semantics (merge vs replace, null clears, input replaced vs merged), read-only
fields, validation, request bodies (compression, size, content type), routing errors,
pagination edge cases, timestamps and secret inputs.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tasksync.emulator import ENCRYPTED_PREFIX, Emulator


class Http:
    """A tiny client for one emulator: answers as (status, parsed JSON or None, headers)."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession) -> None:
        self.emu = emu
        self.session = session

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "default",
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any, Any]:
        all_headers = dict(headers or {})
        if token == "default":
            token = self.emu.token
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        payload = io.BytesIO(data) if data is not None and len(data) > 1 << 20 else data
        async with self.session.request(
            method, self.emu.url + path, data=payload, headers=all_headers
        ) as resp:
            raw = await resp.read()
            return resp.status, json.loads(raw) if raw else None, resp.headers


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(emulator, session)


def error_type(body: Any) -> str:
    return str(body["error"]["type"])


# -- authentication ----------------------------------------------------------------------------


async def test_token_in_header_or_query_and_never_in_the_log(
    emulator: Emulator, http: Http
) -> None:
    token = emulator.token
    status, body, _ = await http("GET", "/v2/actor-tasks", token=None)
    assert (status, error_type(body)) == (401, "token-not-provided")
    status, body, _ = await http("GET", "/v2/actor-tasks", token="apify_api_unknown")
    assert (status, error_type(body)) == (401, "user-or-token-not-found")
    status, body, _ = await http("GET", f"/v2/actor-tasks?token={token}&limit=5", token=None)
    assert status == 200 and body["data"]["limit"] == 5
    status, body, _ = await http("GET", f"/v2/users/me?token={token}", token=None)
    assert body["data"]["username"] == "janedoe"
    status, _, _ = await http("GET", "/v2/actor-tasks?token=wrong")  # the header wins
    assert status == 200
    records = emulator.requests
    assert records[2].query == {"limit": "5"}
    assert token not in repr(records)
    status, dump, _ = await http("GET", "/_emulator/requests")
    assert token not in json.dumps(dump)


async def test_tasks_of_other_users_are_not_found(emulator: Emulator, http: Http) -> None:
    theirs = emulator.state.add_task(username="otheruser", name="theirs")
    for method, path in [
        ("GET", f"/v2/actor-tasks/{theirs['id']}"),
        ("GET", "/v2/actor-tasks/otheruser~theirs"),
        ("GET", f"/v2/actor-tasks/{theirs['id']}/input"),
        ("PUT", f"/v2/actor-tasks/{theirs['id']}"),
        ("DELETE", f"/v2/actor-tasks/{theirs['id']}"),
    ]:
        status, body, _ = await http(method, path, {"title": "x"} if method == "PUT" else None)
        assert (status, error_type(body)) == (404, "record-not-found"), path
    status, body, _ = await http("GET", "/v2/actor-tasks/~theirs")
    assert status == 404
    other = emulator.state.user("otheruser").token
    status, body, _ = await http("GET", "/v2/actor-tasks/~theirs", token=other)
    assert status == 200 and body["data"]["id"] == theirs["id"]
    status, body, _ = await http("GET", "/v2/actor-tasks", token=other)
    assert body["data"]["total"] == 1
    status, body, _ = await http("GET", "/v2/actor-tasks")
    assert body["data"]["total"] == 0


async def test_read_only_users_cannot_write(emulator: Emulator, http: Http) -> None:
    viewer = emulator.state.add_user("viewer", "viewer-token", read_only=True)
    emulator.state.add_task(username="viewer", name="seen")
    status, _, _ = await http("GET", "/v2/actor-tasks/~seen", token=viewer.token)
    assert status == 200
    for method, path, body in [
        ("POST", "/v2/actor-tasks", {"actId": "apify~web-scraper", "name": "nope"}),
        ("PUT", "/v2/actor-tasks/~seen", {"title": "x"}),
        ("PUT", "/v2/actor-tasks/~seen/input", {"a": 1}),
        ("DELETE", "/v2/actor-tasks/~seen", None),
    ]:
        status, answer, _ = await http(method, path, body, token=viewer.token)
        assert (status, error_type(answer)) == (403, "insufficient-permissions"), path
    assert emulator.state.get_task("viewer~seen")["title"] is None  # type: ignore[index]


# -- creating ----------------------------------------------------------------------------------


async def test_create_answers_201_with_location_and_the_full_task(
    emulator: Emulator, http: Http
) -> None:
    actor_id = emulator.state.get_actor("apify~cheerio-scraper")["id"]  # type: ignore[index]
    status, body, headers = await http(
        "POST", "/v2/actor-tasks", {"actId": actor_id, "name": "by-id", "options": {"build": None}}
    )
    assert status == 201
    task = body["data"]
    assert headers["Location"] == f"{emulator.url}/v2/actor-tasks/{task['id']}"
    assert task["actId"] == actor_id and task["options"] == {}
    assert task["input"] == {} and task["stats"] == {"totalRuns": 0}
    assert task["createdAt"] == task["modifiedAt"]
    status, body, _ = await http("POST", "/v2/actor-tasks", {"actId": "apify~web-scraper"})
    assert body["data"]["name"] == "web-scraper-task"
    status, body, _ = await http("POST", "/v2/actor-tasks", {"actId": "apify~web-scraper"})
    assert body["data"]["name"] == "web-scraper-task-2"


async def test_create_needs_a_visible_actor(emulator: Emulator, http: Http) -> None:
    status, body, _ = await http("POST", "/v2/actor-tasks", {"name": "no-actor"})
    assert (status, error_type(body)) == (400, "invalid-input")
    status, body, _ = await http("POST", "/v2/actor-tasks", {"actId": "apify~ghost"})
    assert (status, error_type(body)) == (404, "record-not-found")
    other = emulator.state.user("otheruser").token
    body_private = {"actId": "janedoe~my-actor", "name": "stolen"}
    status, body, _ = await http("POST", "/v2/actor-tasks", body_private, token=other)
    assert (status, error_type(body)) == (404, "record-not-found")
    status, _, _ = await http("POST", "/v2/actor-tasks", body_private)
    assert status == 201


async def test_task_limit_per_user(emulator: Emulator, http: Http) -> None:
    emulator.settings.max_tasks_per_user = 1
    status, _, _ = await http("POST", "/v2/actor-tasks", {"actId": "apify~web-scraper"})
    assert status == 201
    status, body, _ = await http("POST", "/v2/actor-tasks", {"actId": "apify~web-scraper"})
    assert (status, error_type(body)) == (403, "too-many-actor-tasks")


INVALID_FIELDS = [
    {"name": "ab"},
    {"name": "a" * 64},
    {"name": "-abc"},
    {"name": "abc-"},
    {"name": "bad_name"},
    {"name": 123},
    {"name": None},
    {"options": {"memoryMbytes": 1000}},
    {"options": {"memoryMbytes": 64}},
    {"options": {"memoryMbytes": 65536}},
    {"options": {"memoryMbytes": "1024"}},
    {"options": {"memoryMbytes": True}},
    {"options": {"timeoutSecs": -1}},
    {"options": {"timeoutSecs": 1.5}},
    {"options": {"maxItems": 0}},
    {"options": {"build": 5}},
    {"options": {"restartOnError": "yes"}},
    {"options": {"maxTotalChargeUsd": 0}},
    {"options": {"maxTotalChargeUsd": "5"}},
    {"options": {"memoryMB": 1024}},
    {"options": [1]},
    {"input": 5},
    {"input": "text"},
    {"title": 5},
    {"description": ["x"]},
    {"actorStandby": {"isEnabled": "yes"}},
    {"actorStandby": {"unknown": 1}},
]


@pytest.mark.parametrize("fields", INVALID_FIELDS, ids=lambda f: json.dumps(f)[:40])
async def test_invalid_fields_are_400_invalid_input(
    emulator: Emulator, http: Http, fields: dict[str, Any]
) -> None:
    task = emulator.state.add_task(name="valid", options={"memoryMbytes": 1024})
    create = {"actId": "apify~web-scraper", "name": "fresh", **fields}
    status, body, _ = await http("POST", "/v2/actor-tasks", create)
    assert (status, error_type(body)) == (400, "invalid-input")
    status, body, _ = await http("PUT", f"/v2/actor-tasks/{task['id']}", fields)
    assert (status, error_type(body)) == (400, "invalid-input")
    assert emulator.state.get_task(task["id"]) == task  # nothing changed, not even modifiedAt
    assert len(emulator.state.tasks()) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"options": {"memoryMbytes": 128, "timeoutSecs": 0, "maxItems": 1}},
        {"options": {"memoryMbytes": 32768, "maxTotalChargeUsd": 0.5, "restartOnError": True}},
        {"options": {k: None for k in ("build", "memoryMbytes", "maxTotalChargeUsd")}},
        {"options": None, "input": None, "title": None, "description": None},
        {"name": "a-1", "title": "x"},
        {"name": "A" + "b" * 61 + "9"},
        {"input": [{"url": "https://example.com"}]},
    ],
)
async def test_valid_edge_values_are_accepted(
    emulator: Emulator, http: Http, fields: dict[str, Any]
) -> None:
    status, body, _ = await http(
        "POST", "/v2/actor-tasks", {"actId": "apify~web-scraper", "name": "fresh", **fields}
    )
    assert status == 201, body
    status, body, _ = await http("PUT", f"/v2/actor-tasks/{body['data']['id']}", fields)
    assert status == 200, body


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b"null", b"{not json", b"NaN"])
async def test_bodies_that_are_not_json_objects_are_invalid_requests(
    emulator: Emulator, http: Http, method: str, payload: bytes
) -> None:
    emulator.state.add_task(name="target")
    path = "/v2/actor-tasks" if method == "POST" else "/v2/actor-tasks/~target"
    headers = {"Content-Type": "application/json"}
    status, body, _ = await http(method, path, data=payload, headers=headers)
    assert (status, error_type(body)) == (400, "invalid-request")


# -- updating ----------------------------------------------------------------------------------

FULL_OPTIONS = {"build": "latest", "memoryMbytes": 1024, "timeoutSecs": 300, "maxItems": 10}


async def test_options_merge_key_by_key_and_null_clears(emulator: Emulator, http: Http) -> None:
    task = emulator.state.add_task(name="merge", options=FULL_OPTIONS)
    path = f"/v2/actor-tasks/{task['id']}"
    _, body, _ = await http("PUT", path, {"options": {"memoryMbytes": 2048, "maxItems": None}})
    assert body["data"]["options"] == {"build": "latest", "memoryMbytes": 2048, "timeoutSecs": 300}
    _, body, _ = await http("PUT", path, {"title": "only the title"})
    assert body["data"]["options"]["memoryMbytes"] == 2048
    _, body, _ = await http("PUT", path, {"options": None})
    assert body["data"]["options"] is None
    _, body, _ = await http("PUT", path, {"options": {"build": "beta"}})
    assert body["data"]["options"] == {"build": "beta"}


async def test_options_replace_semantics(emulator: Emulator, http: Http) -> None:
    emulator.settings.options_semantics = "replace"
    task = emulator.state.add_task(name="replace", options=FULL_OPTIONS)
    path = f"/v2/actor-tasks/{task['id']}"
    _, body, _ = await http("PUT", path, {"options": {"memoryMbytes": 2048, "build": None}})
    assert body["data"]["options"] == {"memoryMbytes": 2048}
    _, body, _ = await http("PUT", path, {"title": "options untouched"})
    assert body["data"]["options"] == {"memoryMbytes": 2048}


async def test_actor_standby_merges_like_options(emulator: Emulator, http: Http) -> None:
    emulator.state.add_task(name="standby", actor_standby={"isEnabled": True, "build": "latest"})
    _, body, _ = await http(
        "PUT", "/v2/actor-tasks/~standby", {"actorStandby": {"build": None, "memoryMbytes": 512}}
    )
    assert body["data"]["actorStandby"] == {"isEnabled": True, "memoryMbytes": 512}


async def test_input_is_replaced_by_put_task_and_merged_by_put_input(
    emulator: Emulator, http: Http
) -> None:
    stored = {"keep": 1, "nested": {"a": 1, "b": 2}, "drop": True}
    task = emulator.state.add_task(name="inputs", input=stored)
    path = f"/v2/actor-tasks/{task['id']}"
    status, body, _ = await http("PUT", path + "/input", {"nested": {"a": 9}, "new": "x"})
    assert status == 200
    assert body == {"keep": 1, "nested": {"a": 9}, "drop": True, "new": "x"}  # bare, shallow
    _, body, _ = await http("GET", path + "/input")
    assert body == {"keep": 1, "nested": {"a": 9}, "drop": True, "new": "x"}
    _, body, _ = await http("PUT", path, {"input": {"only": "this"}})
    assert body["data"]["input"] == {"only": "this"}
    _, body, _ = await http("PUT", path, {"input": None})
    assert body["data"]["input"] == {}
    status, body, _ = await http("PUT", path + "/input", [1, 2])
    assert (status, error_type(body)) == (400, "invalid-input")
    _, body, _ = await http("PUT", path, {"input": [{"a": 1}]})
    assert body["data"]["input"] == [{"a": 1}]


async def test_read_only_and_unknown_fields_are_ignored(emulator: Emulator, http: Http) -> None:
    task = emulator.state.add_task(name="fixed", title="Old")
    other = emulator.state.add_task(username="otheruser", name="elsewhere")
    intruder = {
        "id": "B" * 17,
        "userId": other["userId"],
        "actId": other["actId"],
        "username": "otheruser",
        "createdAt": "2000-01-01T00:00:00.000Z",
        "modifiedAt": "2000-01-01T00:00:00.000Z",
        "removedAt": "2000-01-01T00:00:00.000Z",
        "stats": {"totalRuns": 99},
        "standbyUrl": "https://example.com",
        "isPublic": True,
        "somethingElse": [1],
        "title": "New",
    }
    status, body, _ = await http("PUT", f"/v2/actor-tasks/{task['id']}", intruder)
    assert status == 200
    after = body["data"]
    changed = {k for k in after if after[k] != task[k]}
    assert changed == {"title", "modifiedAt"}
    assert "somethingElse" not in after and "isPublic" not in after


async def test_rename_and_name_clash(emulator: Emulator, http: Http) -> None:
    emulator.state.add_task(name="first")
    second = emulator.state.add_task(name="second")
    status, body, _ = await http("PUT", "/v2/actor-tasks/~second", {"name": "first"})
    assert (status, error_type(body)) == (409, "actor-task-name-not-unique")
    status, body, _ = await http("PUT", "/v2/actor-tasks/~second", {"name": "second"})
    assert status == 200
    status, body, _ = await http("PUT", "/v2/actor-tasks/~second", {"name": "renamed"})
    assert status == 200 and body["data"]["id"] == second["id"]
    status, _, _ = await http("GET", "/v2/actor-tasks/~second")
    assert status == 404
    status, body, _ = await http("GET", "/v2/actor-tasks/janedoe~renamed")
    assert body["data"]["id"] == second["id"]
    status, _, _ = await http(
        "POST", "/v2/actor-tasks", {"actId": "apify~web-scraper", "name": "second"}
    )
    assert status == 201  # the old name is free again
    emulator.state.add_task(username="otheruser", name="shared-name")
    status, _, _ = await http("PUT", "/v2/actor-tasks/~renamed", {"name": "shared-name"})
    assert status == 200  # names are unique per owner only


async def test_delete(emulator: Emulator, http: Http) -> None:
    task = emulator.state.add_task(name="doomed")
    status, body, _ = await http("DELETE", f"/v2/actor-tasks/{task['id']}")
    assert (status, body) == (204, None)
    status, body, _ = await http("GET", f"/v2/actor-tasks/{task['id']}")
    assert (status, error_type(body)) == (404, "record-not-found")
    status, _, _ = await http("DELETE", f"/v2/actor-tasks/{task['id']}")
    assert status == 404
    assert emulator.state.tasks() == []


# -- timestamps --------------------------------------------------------------------------------


async def test_modified_at_moves_on_every_accepted_put_only(emulator: Emulator, http: Http) -> None:
    task = emulator.state.add_task(name="clock")
    path = f"/v2/actor-tasks/{task['id']}"
    seen = [task["modifiedAt"]]
    for i in range(10):  # faster than one per millisecond: still strictly increasing
        _, body, _ = await http("PUT", path, {"title": "same"} if i % 2 else {})
        seen.append(body["data"]["modifiedAt"])
        _, body, _ = await http("PUT", path + "/input", {"i": i})
        seen.append(emulator.state.get_task(task["id"])["modifiedAt"])  # type: ignore[index]
    assert seen == sorted(set(seen)) and len(seen) == 21
    _, body, _ = await http("GET", path)
    await http("GET", path + "/input")
    await http("PUT", path, {"options": {"memoryMbytes": 3}})
    await http("PUT", path, {"name": "x"})
    await http("PUT", path, [1])
    _, after, _ = await http("GET", path)
    assert after["data"]["modifiedAt"] == body["data"]["modifiedAt"] == seen[-1]
    assert after["data"]["createdAt"] == task["createdAt"]


# -- request bodies ----------------------------------------------------------------------------


async def test_compressed_bodies(emulator: Emulator, http: Http) -> None:
    emulator.state.add_task(name="zipped")
    payload = json.dumps({"input": {"text": "z" * 3000}}).encode()
    for encoding, data in [
        ("gzip", gzip.compress(payload)),
        ("deflate", zlib.compress(payload)),
        ("identity", payload),
        ("GZIP", gzip.compress(payload)),
    ]:
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        status, body, _ = await http("PUT", "/v2/actor-tasks/~zipped", data=data, headers=headers)
        assert status == 200, (encoding, body)
        assert body["data"]["input"] == {"text": "z" * 3000}
    puts = [r for r in emulator.requests if r.method == "PUT"]
    assert all(r.body == {"input": {"text": "z" * 3000}} for r in puts)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    status, body, _ = await http("PUT", "/v2/actor-tasks/~zipped", data=b"nope", headers=headers)
    assert (status, error_type(body)) == (400, "invalid-request")


async def test_unknown_content_encoding_is_415(emulator: Emulator, http: Http) -> None:
    emulator.state.add_task(name="t-415")
    headers = {"Content-Type": "application/json", "Content-Encoding": "compress"}
    status, body, _ = await http("PUT", "/v2/actor-tasks/~t-415", data=b"{}", headers=headers)
    assert (status, error_type(body)) == (415, "unsupported-content-encoding")
    assert body["error"]["message"] == 'Content-Encoding "compress" is not supported.'


async def test_payload_limit_is_413_after_decompression(emulator: Emulator, http: Http) -> None:
    emulator.state.add_task(name="t-413")
    limit = 9_437_184
    filler = limit - len(b'{"input":{"x":""}}')
    exact = b'{"input":{"x":"' + b"a" * filler + b'"}}'
    assert len(exact) == limit
    json_type = {"Content-Type": "application/json"}
    status, _, _ = await http("PUT", "/v2/actor-tasks/~t-413", data=exact, headers=json_type)
    assert status == 200
    over = exact[:-3] + b'a"}}'
    status, body, _ = await http("PUT", "/v2/actor-tasks/~t-413", data=over, headers=json_type)
    assert (status, error_type(body)) == (413, "request-too-large")
    assert str(limit + 1) in body["error"]["message"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit still holds
        for start in range(0, len(over), 1 << 20):
            yield over[start : start + (1 << 20)]

    async with http.session.put(
        f"{emulator.url}/v2/actor-tasks/~t-413",
        data=chunks(),
        headers={**json_type, "Authorization": f"Bearer {emulator.token}"},
    ) as resp:
        assert resp.status == 413
    bomb = gzip.compress(over)
    assert len(bomb) < 100_000
    headers = {**json_type, "Content-Encoding": "gzip"}
    status, body, _ = await http("PUT", "/v2/actor-tasks/~t-413", data=bomb, headers=headers)
    assert (status, error_type(body)) == (413, "request-too-large")


async def test_content_type_must_be_json(emulator: Emulator, http: Http) -> None:
    emulator.state.add_task(name="typed")
    path = "/v2/actor-tasks/~typed"
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        status, body, _ = await http(
            "PUT", path, data=b'{"title": "x"}', headers={"Content-Type": content_type}
        )
        assert (status, error_type(body)) == (400, "invalid-content-type-header")
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        status, body, _ = await http(
            "PUT", path, data=b'{"title": "x"}', headers={"Content-Type": content_type}
        )
        assert status == 200, body
    status, body, _ = await http("PUT", path)  # no body at all
    assert (status, error_type(body)) == (400, "invalid-request")


# -- routing -----------------------------------------------------------------------------------


async def test_wrong_method_is_405_and_unknown_route_404(emulator: Emulator, http: Http) -> None:
    status, body, headers = await http("DELETE", "/v2/actor-tasks")
    assert (status, error_type(body)) == (405, "method-not-allowed")
    assert body["error"]["message"].endswith("methods: GET,POST")
    assert headers["Allow"] == "GET,POST"
    status, body, _ = await http("POST", "/v2/actor-tasks/abc/input", {})
    assert status == 405 and "GET,PUT" in body["error"]["message"]
    status, body, _ = await http("PUT", "/v2/users/me", {})
    assert status == 405
    for path in ("/v2/datasets", "/v2/actor-tasks/a/b/c", "/", "/_emulator/nothing"):
        status, body, _ = await http("GET", path)
        assert (status, error_type(body)) == (404, "page-not-found"), path
    status, body, _ = await http("GET", "/v2/nothing", token="bad-token")
    assert status == 404  # a route that does not exist is not about the token


async def test_actors_old_and_new_prefix(emulator: Emulator, http: Http) -> None:
    _, new, _ = await http("GET", "/v2/actors/apify~web-scraper")
    _, old, _ = await http("GET", "/v2/acts/apify~web-scraper")
    assert new == old and new["data"]["name"] == "web-scraper"
    actor_id = new["data"]["id"]
    status, anonymous, _ = await http("GET", f"/v2/actors/{actor_id}", token=None)
    assert status == 200 and anonymous == new  # public Actors need no token
    status, body, _ = await http("GET", "/v2/actors/~my-actor")
    assert status == 200 and body["data"]["username"] == "janedoe"
    other = emulator.state.user("otheruser").token
    status, body, _ = await http("GET", "/v2/actors/janedoe~my-actor", token=other)
    assert (status, error_type(body)) == (404, "record-not-found")
    status, body, _ = await http("GET", "/v2/actors/apify~web-scraper", token=None)
    assert (status, error_type(body)) == (401, "token-not-provided")
    status, body, _ = await http("POST", "/v2/acts/apify~web-scraper/validate-input", {"a": 1})
    assert (status, body) == (200, {"valid": True})
    status, body, _ = await http("POST", "/v2/actors/apify~web-scraper/validate-input", [1])
    assert (status, error_type(body)) == (400, "invalid-input")


# -- pagination --------------------------------------------------------------------------------


async def test_pagination_edge_cases(emulator: Emulator, http: Http) -> None:
    ids = [emulator.state.add_task(name=f"p-{i}")["id"] for i in range(5)]

    async def page(query: str) -> dict[str, Any]:
        status, body, _ = await http("GET", "/v2/actor-tasks" + query)
        assert status == 200, body
        data: dict[str, Any] = body["data"]
        data["ids"] = [item["id"] for item in data.pop("items")]
        return data

    assert await page("") == {
        "total": 5,
        "offset": 0,
        "limit": 1000,
        "count": 5,
        "desc": False,
        "ids": ids,
    }
    assert (await page("?limit=0"))["limit"] == 1000
    assert (await page("?limit=5000"))["limit"] == 1000
    assert (await page("?offset=5"))["ids"] == []
    past = await page("?offset=99&limit=10")
    assert (past["count"], past["total"], past["offset"], past["ids"]) == (0, 5, 99, [])
    assert (await page("?offset=1&limit=2"))["ids"] == ids[1:3]
    assert (await page("?offset=1.0&limit=2.0"))["ids"] == ids[1:3]
    for flag in ("true", "1"):
        data = await page(f"?desc={flag}&limit=2")
        assert data["ids"] == ids[::-1][:2] and data["desc"] is True
    for flag in ("false", "0"):
        assert (await page(f"?desc={flag}"))["ids"] == ids
    assert (await page("?desc=1&offset=4"))["ids"] == ids[:1]
    for bad in ("?offset=-1", "?limit=abc", "?limit=1.5", "?desc=maybe"):
        status, body, _ = await http("GET", "/v2/actor-tasks" + bad)
        assert (status, error_type(body)) == (400, "invalid-parameter"), bad


# -- secret inputs -----------------------------------------------------------------------------


async def test_secret_inputs_are_stored_encrypted(emulator: Emulator, http: Http) -> None:
    state = emulator.state
    status, body, _ = await http(
        "POST",
        "/v2/actor-tasks",
        {
            "actId": "janedoe~my-actor",
            "name": "secret",
            "input": {"apiKey": "k-1", "password": "pw", "query": "public", "other": 5},
        },
    )
    assert status == 201
    stored = body["data"]["input"]
    assert stored["query"] == "public" and stored["other"] == 5
    for key, plain in (("apiKey", "k-1"), ("password", "pw")):
        assert stored[key].startswith(ENCRYPTED_PREFIX) and plain not in stored[key]
        assert state.secret_plaintext(stored[key]) == plain
    _, fetched, _ = await http("GET", "/v2/actor-tasks/~secret/input")
    assert fetched == stored

    # Sending the encrypted form back keeps it; a new plaintext gets a new ciphertext.
    _, body, _ = await http("PUT", "/v2/actor-tasks/~secret", {"input": {**stored, "q": 1}})
    assert body["data"]["input"]["apiKey"] == stored["apiKey"]
    _, body, _ = await http("PUT", "/v2/actor-tasks/~secret/input", {"password": "pw"})
    assert body["password"] != stored["password"]
    assert state.secret_plaintext(body["password"]) == "pw"
    assert body["apiKey"] == stored["apiKey"]
    _, body, _ = await http("PUT", "/v2/actor-tasks/~secret/input", {"apiKey": 42})
    assert body["apiKey"] == 42  # only strings, objects and arrays are encrypted
    _, body, _ = await http("PUT", "/v2/actor-tasks/~secret/input", {"apiKey": {"k": [1]}})
    assert body["apiKey"].startswith("ENCRYPTED_JSON:")  # objects and arrays: ENCRYPTED_JSON
    assert state.secret_plaintext(body["apiKey"]) == {"k": [1]}
    kept = body["apiKey"]
    _, body, _ = await http("PUT", "/v2/actor-tasks/~secret/input", {"apiKey": kept})
    assert body["apiKey"] == kept  # an encrypted value sent back is stored unchanged

    # Once the field's schema changed, the old encrypted value is refused, as Apify does.
    state.change_secret_schema("janedoe~my-actor", "apiKey")
    status, body, _ = await http("PUT", "/v2/actor-tasks/~secret/input", {"apiKey": kept})
    assert status == 400 and body["error"]["type"] == "invalid-input"
    assert "is a secret field, but its schema has changed" in body["error"]["message"]
    _, body, _ = await http("PUT", "/v2/actor-tasks/~secret/input", {"apiKey": "new"})
    assert state.secret_plaintext(body["apiKey"]) == "new"

    crawler = state.add_task(actor="apify~website-content-crawler", input={"apiKey": "c"})
    assert state.secret_plaintext(crawler["input"]["apiKey"]) == "c"
    plain = state.add_task(actor="apify~web-scraper", name="plain", input={"apiKey": "c"})
    assert plain["input"]["apiKey"] == "c"
    with pytest.raises(KeyError):
        state.secret_plaintext(ENCRYPTED_PREFIX + "bm90LW91cnM=")
