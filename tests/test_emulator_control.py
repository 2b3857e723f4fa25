"""The control plane, the Python API of ``Emulator``/``EmulatorState``, and the
``tasksync emulator`` command run as a real subprocess."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tasksync.emulator import ENCRYPTED_PREFIX, Emulator, EmulatorSettings, EmulatorState
from tasksync.emulator.core import iso
from tasksync.emulator.errors import ApiError


@pytest.fixture
async def session(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(emulator.url) as s:
        yield s


async def call(
    session: aiohttp.ClientSession, method: str, path: str, body: Any = None, token: str = ""
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, path, json=body, headers=headers) as resp:
        raw = await resp.read()
        return resp.status, json.loads(raw) if raw else None


SEED = {
    "users": [{"username": "acme", "token": "acme-token"}],
    "actors": [{"username": "acme", "name": "crawler", "secretInputKeys": ["apiKey"]}],
    "tasks": [
        {
            "username": "acme",
            "actor": "acme~crawler",
            "name": "nightly",
            "options": {"memoryMbytes": 2048},
            "input": {"apiKey": "k", "q": 1},
            "title": "Nightly",
            "description": "Runs at night",
        },
        {"name": "for-janedoe"},
    ],
}


async def test_seed_reset_and_state(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    token = emulator.token
    status, body = await call(session, "POST", "/_emulator/seed", SEED)
    assert (status, body) == (201, {"users": 1, "actors": 1, "tasks": 2})
    status, body = await call(session, "GET", "/v2/actor-tasks/~nightly", token="acme-token")
    task = body["data"]
    assert status == 200 and task["options"] == {"memoryMbytes": 2048}
    assert task["description"] == "Runs at night"
    assert emulator.state.secret_plaintext(task["input"]["apiKey"]) == "k"
    status, body = await call(session, "GET", "/v2/actor-tasks/~for-janedoe", token=token)
    assert (
        status == 200
        and body["data"]["actId"] == emulator.state.get_actor("apify~web-scraper")["id"]
    )  # type: ignore[index]

    _, dump = await call(session, "GET", "/_emulator/state")
    names = sorted(t["name"] for t in dump["tasks"])
    assert names == ["for-janedoe", "nightly"]
    assert {u["username"] for u in dump["users"]} >= {"janedoe", "otheruser", "acme"}
    assert "acme-token" not in json.dumps(dump) and token not in json.dumps(dump)
    crawler = next(a for a in dump["actors"] if a["name"] == "crawler")
    assert crawler["secretInputKeys"] == ["apiKey"]

    emulator.faults.schedule(count=5, status=500)
    status, _ = await call(session, "POST", "/_emulator/reset")
    assert status == 200
    assert emulator.state.tasks() == [] and emulator.requests == []
    assert emulator.faults.scheduled == []
    assert emulator.token == token  # the default tokens survive a reset
    status, _ = await call(session, "GET", "/v2/actor-tasks", token="acme-token")
    assert status == 401
    status, _ = await call(session, "GET", "/v2/actor-tasks", token=token)
    assert status == 200


@pytest.mark.parametrize(
    "seed",
    [
        [1],
        {"tasks": [{"name": "x-1", "actor": "apify~nope"}]},
        {"tasks": [{"name": "bad", "options": {"memoryMbytes": 1}}]},
        {"users": [{"username": "janedoe"}]},
        {"actors": [{"username": "nobody", "name": "abc"}]},
        {"tasks": [{"name": "dup"}, {"name": "dup"}]},
        {"tasks": [{"nmae": "typo"}]},
        {"things": []},
    ],
)
async def test_invalid_seeds_are_400(session: aiohttp.ClientSession, seed: Any) -> None:
    status, body = await call(session, "POST", "/_emulator/seed", seed)
    assert status == 400 and body["error"]["type"] == "invalid-input"
    assert "seed" in body["error"]["message"]


async def test_settings_and_faults_endpoints(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    status, body = await call(session, "GET", "/_emulator/settings")
    assert status == 200 and body["options_semantics"] == "merge"
    status, body = await call(
        session, "PUT", "/_emulator/settings", {"options_semantics": "replace", "latency_ms": 1}
    )
    assert status == 200 and body["latency_ms"] == 1
    assert emulator.settings.options_semantics == "replace"
    for bad in ({"options_semantics": "sometimes"}, {"nope": 1}, {"error_rate": 2}, [1]):
        status, body = await call(session, "PUT", "/_emulator/settings", bad)
        assert status == 400, bad
    assert emulator.settings.latency_ms == 1  # unchanged by the refusals

    fault = {"count": 2, "status": 503, "method": "PUT", "pathPrefix": "/v2/actor-tasks"}
    status, body = await call(session, "POST", "/_emulator/faults", [fault, {"kind": "stall"}])
    assert status == 201 and len(body["scheduled"]) == 2
    _, body = await call(session, "GET", "/_emulator/faults")
    assert body["scheduled"][0] == {
        "kind": "status",
        "remaining": 2,
        "status": 503,
        "method": "PUT",
        "pathPrefix": "/v2/actor-tasks",
        "seconds": None,
        "errorType": None,
    }
    for bad in ({"status": 99}, {"kind": "boom"}, {"color": "red"}, [3]):
        status, _ = await call(session, "POST", "/_emulator/faults", bad)
        assert status == 400, bad
    status, _ = await call(session, "DELETE", "/_emulator/faults")
    assert status == 204 and emulator.faults.scheduled == []


async def test_index_lists_every_control_route(
    emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    status, body = await call(session, "GET", "/_emulator/")
    assert status == 200
    listed = {(r["method"], r["path"]) for r in body["routes"]}
    assert all(r["description"] for r in body["routes"])
    assert ("GET", "/_emulator/") in listed and ("POST", "/_emulator/reset") in listed
    for method, path in sorted(listed - {("POST", "/_emulator/reset")}):
        # Every listed route is served: none answers 404 or 405 (reset is tested above).
        answer, _ = await call(session, method, path, [] if method == "POST" else None)
        assert answer not in (404, 405), (method, path)
    assert emulator.requests == []  # the control plane is never logged


async def test_request_log_endpoints(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    await call(session, "GET", "/v2/actor-tasks?limit=3", token=emulator.token)
    await call(session, "POST", "/v2/actor-tasks", {"actId": "x"}, token=emulator.token)
    _, body = await call(session, "GET", "/_emulator/requests")
    log = body["requests"]
    assert [(r["method"], r["path"], r["query"], r["body"], r["status"]) for r in log] == [
        ("GET", "/v2/actor-tasks", {"limit": "3"}, None, 200),
        ("POST", "/v2/actor-tasks", {}, {"actId": "x"}, 404),
    ]
    assert all(r["time"] > 0 and r["duration"] >= 0 and r["fault"] is None for r in log)
    status, _ = await call(session, "DELETE", "/_emulator/requests")
    assert status == 204 and emulator.requests == []
    status, _ = await call(session, "PATCH", "/_emulator/requests")
    assert status == 405


# -- the Python API --------------------------------------------------------------------------


def test_state_python_api() -> None:
    state = EmulatorState()
    task = state.add_task(name="a", options={"build": "latest", "timeoutSecs": None})
    assert task["options"] == {"build": "latest"}  # None means "not set"
    assert task["name"] == "a"  # seeded tasks may predate the naming rules
    assert state.get_task(task["id"]) == task
    assert state.get_task("janedoe~a") == task == state.get_task("~a")
    assert state.get_task("~missing") is None and state.get_task("otheruser~a") is None
    task["options"]["build"] = "mutated"
    assert state.get_task("~a")["options"] == {"build": "latest"}  # type: ignore[index]

    other = state.add_task(username="otheruser", name="a", input={"x": 1})
    assert [t["id"] for t in state.tasks()] == [task["id"], other["id"]]
    assert [t["id"] for t in state.tasks("otheruser")] == [other["id"]]

    edited = state.update_task("otheruser~a", {"title": "edited in the Console"})
    assert edited["title"] == "edited in the Console"
    assert edited["modifiedAt"] > other["modifiedAt"]
    with pytest.raises(ApiError) as clash:
        state.add_task(name="a")
    assert clash.value.status == 409

    viewer = state.add_user("viewer", read_only=True)
    assert viewer.token.startswith("apify_api_") and viewer.read_only
    with pytest.raises(ValueError):
        state.add_user("viewer")
    actor = state.add_actor("viewer", "own-actor", secret_input_keys=["token"])
    assert actor["username"] == "viewer" and actor["isPublic"] is False
    secret = state.add_task(username="viewer", actor="viewer~own-actor", input={"token": "t"})
    assert secret["name"] == "own-actor-task"
    assert secret["input"]["token"].startswith(ENCRYPTED_PREFIX)
    assert state.secret_plaintext(secret["input"]["token"]) == "t"

    state.reset()
    assert state.tasks() == [] and state.get_actor("viewer~own-actor") is None


def test_timestamps_never_repeat_nor_go_back() -> None:
    now = [1_700_000_000.0]
    state = EmulatorState(clock=lambda: now[0])
    task = state.add_task(name="clock")
    stamps = [task["modifiedAt"]]
    for _ in range(3):
        stamps.append(state.update_task("~clock", {})["modifiedAt"])
    now[0] -= 60  # the wall clock jumps back
    stamps.append(state.update_task("~clock", {})["modifiedAt"])
    assert stamps == sorted(set(stamps))
    assert stamps[0] == iso(1_700_000_000_000) == "2023-11-14T22:13:20.000Z"
    assert stamps[-1] == "2023-11-14T22:13:20.004Z"


def test_settings_are_checked() -> None:
    for bad in (
        {"options_semantics": "both"},
        {"error_rate": -0.1},
        {"error_rate": 0.6, "drop_before_rate": 0.6},
        {"per_resource_rps": -1},
        {"latency_ms": "fast"},
    ):
        with pytest.raises(ValueError):
            EmulatorSettings(**bad)
    settings = EmulatorSettings()
    with pytest.raises(ValueError):
        settings.update({"error_rate": 0.5, "stall_rate": 0.6})
    assert settings.error_rate == 0.0


async def test_emulator_binds_a_given_port_and_a_given_token() -> None:
    async with Emulator(token="fixed-token") as first:
        assert first.token == "fixed-token" and first.url == f"http://127.0.0.1:{first.port}"
        with pytest.raises(OSError):
            await Emulator(port=first.port).start()  # taken
        with pytest.raises(RuntimeError):
            await first.start()  # already running
    async with Emulator(port=first.port) as second:  # free again
        assert second.url == first.url and second.token != "fixed-token"


# -- the command -----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_command_serves_until_signalled(tmp_path: Path, signum: int) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "users: [{username: acme, token: acme-token}]\n"
        "tasks:\n"
        "  - {username: acme, actor: apify~web-scraper, name: from-file}\n"
    )
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tasksync", "emulator", "--port", "0", "--seed", str(seed)),
            *("--token", "cli-token", "--latency-ms", "1", "--rate-limit", "0"),
        ],
        cwd=tmp_path,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("export APIFY_API_BASE_URL=http://127.0.0.1:"), first
        url = first.strip().split("=", 1)[1]
        assert proc.stdout.readline().strip() == "export APIFY_TOKEN=cli-token"

        async def fetch() -> tuple[int, Any]:
            async with aiohttp.ClientSession(url) as session:
                return await call(session, "GET", "/v2/actor-tasks", token="acme-token")

        status, body = asyncio.run(fetch())
        assert status == 200 and [t["name"] for t in body["data"]["items"]] == ["from-file"]
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_command_reports_a_bad_seed_file(tmp_path: Path) -> None:
    from tasksync.cli import Env, main

    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: [{name: x, actor: nobody~nothing}]\n")
    for args in (["--seed", str(tmp_path / "missing.yaml")], ["--seed", str(bad)]):
        env = Env(stdout=io.StringIO(), stderr=io.StringIO())
        assert main(["emulator", "--port", "0", *args], env) == 1
        err = env.stderr.getvalue()  # type: ignore[attr-defined]
        assert "seed" in err and "Traceback" not in err
