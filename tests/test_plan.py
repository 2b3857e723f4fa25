"""``tasksync plan`` against the emulator: exact plans, read-only, exit codes, formats, retries."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from support import Result, run_cli, seed, threaded_emulator, write_file

from tasksync import sync
from tasksync.emulator import Emulator, EmulatorSettings
from tasksync.errors import UnreachableError
from tasksync.throttle import RetryPolicy

SECRET = "s3cret-value-never-shown"

FILE = """\
version: 1
defaults:
  options: {build: latest}
tasks:
  - task: janedoe~same
    options: {memoryMbytes: 1024}
    input: {q: 1}
  - task: janedoe~opt
    options: {memoryMbytes: 2048, maxItems: null}
    input: {q: 1}
  - task: janedoe~inp
    input: {q: 2, flag: true}
  - task: janedoe~rmv
    input: {q: 1}
  - task: janedoe~mrg
    inputMode: merge
    input: {proxy: {groups: [B]}}
  - task: janedoe~ign
    input: {q: 1}
    ignore: [/input/cursor]
  - task: janedoe~sec
    input: {apiKey: "${SECRET_KEY}", q: 3}
  - task: janedoe~missing
    input: {q: 1}
  - task: janedoe~dup
    title: one
  - task: DUP_ID
    title: two
"""


def seed_scenario(emu: Emulator) -> dict[str, Any]:
    seed(emu, "same", options={"build": "latest", "memoryMbytes": 1024}, input={"q": 1})
    seed(
        emu, "opt", options={"build": "latest", "memoryMbytes": 1024, "maxItems": 5}, input={"q": 1}
    )
    seed(emu, "inp", options={"build": "latest"}, input={"q": 1, "flag": 1})
    seed(emu, "rmv", options={"build": "latest"}, input={"q": 1, "old": "x"})
    seed(
        emu,
        "mrg",
        options={"build": "latest"},
        input={"keep": 1, "proxy": {"useApifyProxy": True, "groups": ["A"]}},
    )
    seed(emu, "ign", options={"build": "latest"}, input={"q": 1, "cursor": 77})
    seed(
        emu,
        "sec",
        actor="janedoe~my-actor",
        options={"build": "latest"},
        input={"apiKey": SECRET, "q": 1},
    )
    return seed(emu, "dup", options={"build": "latest"})


EXPECTED = {
    "janedoe~same": ("noop", []),
    "janedoe~opt": (
        "update",
        [
            {"path": "/options/memoryMbytes", "kind": "change", "old": 1024, "new": 2048},
            {"path": "/options/maxItems", "kind": "remove", "old": 5},
        ],
    ),
    "janedoe~inp": (
        "update",
        [
            {"path": "/input/q", "kind": "change", "old": 1, "new": 2},
            {"path": "/input/flag", "kind": "change", "old": 1, "new": True},
        ],
    ),
    "janedoe~rmv": ("update", [{"path": "/input/old", "kind": "remove", "old": "x"}]),
    "janedoe~mrg": (
        "update",
        [{"path": "/input/proxy/groups", "kind": "change", "old": ["A"], "new": ["B"]}],
    ),
    "janedoe~ign": ("noop", []),
    "janedoe~sec": ("update", [{"path": "/input/q", "kind": "change", "old": 1, "new": 3}]),
    "janedoe~missing": ("error", []),
}


def _check_plan(doc: dict[str, Any], dup_id: str) -> None:
    tasks = {t["key"]: t for t in doc["tasks"]}
    assert set(tasks) == {*EXPECTED, "janedoe~dup", dup_id}
    for key, (action, changes) in EXPECTED.items():
        assert tasks[key]["action"] == action, key
        assert tasks[key]["changes"] == changes, key
    assert "not found" in tasks["janedoe~missing"]["error"]
    for key in ("janedoe~dup", dup_id):
        assert tasks[key]["action"] == "error"
        assert "same task" in tasks[key]["error"]
    assert doc["counts"] == {"noop": 2, "update": 5, "create": 0, "error": 3}


def _plan(tmp_path: Path, emu: Emulator, *args: str) -> tuple[Result, str]:
    dup = seed_scenario(emu)
    path = write_file(tmp_path, FILE.replace("DUP_ID", dup["id"]))
    emu.clear_requests()
    return run_cli("plan", path, *args, emu=emu, environ={"SECRET_KEY": SECRET}), dup["id"]


def test_plan_is_exact_and_reads_only(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        result, dup_id = _plan(tmp_path, emu, "--format", "json")
        methods = {r.method for r in emu.requests}
    assert result.code == 1, result.err  # the missing task and the duplicates are errors
    _check_plan(json.loads(result.out), dup_id)
    assert methods == {"GET"}
    assert SECRET not in result.output


def test_text_and_markdown_renderings(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        text, _ = _plan(tmp_path, emu)
    assert "~ janedoe~opt" in text.out
    assert "/options/memoryMbytes: 1024 -> 2048" in text.out
    assert "- /input/old" in text.out
    assert "Plan: 0 to create, 5 to update, 2 unchanged, 3 with errors." in text.out
    assert SECRET not in text.output
    with threaded_emulator() as emu:
        md, _ = _plan(tmp_path, emu, "--format", "markdown")
    assert "| create | update | unchanged | errors |" in md.out
    assert "<details><summary>update <code>janedoe~opt</code>" in md.out


def test_saved_plan_holds_no_secret(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    with threaded_emulator() as emu:
        result, _ = _plan(tmp_path, emu, "--out", str(out), "--rotate-secrets")
    saved = out.read_text()
    assert SECRET not in saved
    doc = json.loads(saved)
    sec = next(t for t in doc["tasks"] if t["key"] == "janedoe~sec")
    assert sec["payload"]["input"]["apiKey"] == "${SECRET_KEY}"
    assert sec["secrets"][0]["path"] == "/input/apiKey"
    assert doc["formatVersion"] == 1 and doc["checksum"].startswith("sha256:")
    assert result.code == 1


def test_exit_codes(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        seed(emu, "aaa", options={"memoryMbytes": 1024})
        same = write_file(
            tmp_path,
            "version: 1\ntasks:\n  - task: janedoe~aaa\n    options: {memoryMbytes: 1024}\n",
        )
        changed = write_file(
            tmp_path,
            "version: 1\ntasks:\n  - task: janedoe~aaa\n    options: {memoryMbytes: 2048}\n",
            "c.yaml",
        )
        assert run_cli("plan", same, emu=emu).code == 0
        assert run_cli("plan", same, "--detailed-exitcode", emu=emu).code == 0
        assert run_cli("plan", changed, emu=emu).code == 0
        assert run_cli("plan", changed, "--detailed-exitcode", emu=emu).code == 2
        revoked = run_cli("plan", same, emu=emu, environ={"APIFY_TOKEN": "revoked-token"})
        no_token = run_cli("plan", same, environ={"APIFY_API_BASE_URL": emu.url})
    assert revoked.code == 1
    assert "401" in revoked.err and "Traceback" not in revoked.err
    assert "revoked-token" not in revoked.output
    assert no_token.code == 1 and "APIFY_TOKEN" in no_token.err


def test_invalid_file_makes_no_request(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        bad = write_file(
            tmp_path,
            "version: 1\ntasks:\n  - task: janedoe~aaa\n    options: {memoryMbytes: 1000}\n",
        )
        result = run_cli("plan", bad, emu=emu)
        assert emu.requests == []
    assert result.code == 1
    assert "memoryMbytes" in result.err and "Traceback" not in result.err


async def test_unreachable_api_is_a_clear_error(tmp_path: Path) -> None:
    """Nothing listens on the port: every attempt is refused, with a fast retry policy (the
    command line's own policy spends some 12 s of backoff on the same five attempts)."""
    with socket.socket() as probe:  # a port that was free a moment ago, and is closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = write_file(tmp_path, "version: 1\ntasks:\n  - task: janedoe~aaa\n    title: x\n")
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, attempt_timeout=5.0)
    settings = sync.Settings(token="t0ken", api_url=f"http://127.0.0.1:{port}", retry=policy)
    with pytest.raises(UnreachableError) as raised:
        await sync.plan(path, settings=settings, environ={})
    message = str(raised.value)
    assert f"the API at http://127.0.0.1:{port} cannot be reached" in message
    assert f"Cannot connect to host 127.0.0.1:{port}" in message
    assert "--api-url" in message and "t0ken" not in message
    # The check before the run makes at most two attempts, whatever the retry policy allows.
    assert raised.value.stats.as_dict() == {"total": 2, "retried": 1, "rateLimited": 0}


FAST = RetryPolicy(base_delay=0.01, attempt_timeout=2.0)


@pytest.mark.faults
@pytest.mark.parametrize(
    "kind",
    [{"status": 429}, {"status": 503}, {"status": 500}, {"kind": "drop_before"}],
    ids=["429", "503", "500", "dropped"],
)
async def test_plan_is_exact_despite_faults(
    emulator: Emulator, tmp_path: Path, kind: dict[str, Any]
) -> None:
    dup = seed_scenario(emulator)
    path = write_file(tmp_path, FILE.replace("DUP_ID", dup["id"]))
    settings = sync.Settings(token=emulator.token, api_url=emulator.url, retry=FAST)
    emulator.faults.schedule(count=6, method="GET", path_prefix="/v2/actor-tasks", **kind)
    plan = await sync.plan(path, settings=settings, environ={"SECRET_KEY": SECRET})
    _check_plan(plan.to_json(include_payloads=False), dup["id"])
    # aiohttp itself resends an idempotent request after a dropped connection, so drops need
    # not reach tasksync's retry loop at all; the plan must be exact either way.
    if "kind" not in kind:
        assert plan.requests.retried >= 6
    if kind.get("status") == 429:
        assert plan.requests.rate_limited == 6


@pytest.mark.faults
async def test_a_429_with_retry_after_is_retried_no_sooner(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The fast policy alone would retry within 0.02 s; Retry-After says 0.6 s. The request log
    shows when the 429 was answered and when the retry arrived (the emulator's clock)."""
    task = seed(emulator, "aaa", options={"memoryMbytes": 1024})
    path = write_file(
        tmp_path, "version: 1\ntasks:\n  - task: janedoe~aaa\n    options: {memoryMbytes: 1024}\n"
    )
    emulator.settings.retry_after_seconds = 0.6
    emulator.faults.schedule(count=1, status=429, method="GET", path_prefix="/v2/actor-tasks/")
    settings = sync.Settings(token=emulator.token, api_url=emulator.url, retry=FAST)
    plan = await sync.plan(path, settings=settings, environ={})
    assert plan.counts["noop"] == 1
    assert (plan.requests.retried, plan.requests.rate_limited) == (1, 1)
    refused, answered = sorted(
        (r for r in emulator.requests if r.path.startswith("/v2/actor-tasks/")),
        key=lambda r: r.time,
    )
    assert (refused.status, answered.status) == (429, 200)
    assert answered.path in (refused.path, f"/v2/actor-tasks/{task['id']}")
    waited = answered.time - (refused.time + refused.duration)
    assert waited >= 0.6, f"retried {waited:.3f} s after a 429 with Retry-After: 0.6"


@pytest.mark.faults
async def test_stalled_answers_time_out_and_are_retried(emulator: Emulator, tmp_path: Path) -> None:
    seed(emulator, "aaa", options={"memoryMbytes": 1024})
    path = write_file(
        tmp_path, "version: 1\ntasks:\n  - task: janedoe~aaa\n    options: {memoryMbytes: 1024}\n"
    )
    emulator.faults.schedule(count=1, kind="stall", method="GET", path_prefix="/v2/actor-tasks")
    policy = RetryPolicy(base_delay=0.01, attempt_timeout=0.3)
    settings = sync.Settings(token=emulator.token, api_url=emulator.url, retry=policy)
    plan = await sync.plan(path, settings=settings, environ={})
    assert plan.counts["noop"] == 1
    assert plan.requests.retried == 1


def test_emulator_settings_are_importable() -> None:
    assert EmulatorSettings().options_semantics == "merge"


def test_plan_is_colored_on_a_terminal_unless_no_color(tmp_path: Path) -> None:
    path = write_file(tmp_path, "version: 1\ntasks:\n  - task: janedoe~colors\n    input: {q: 2}\n")
    with threaded_emulator() as emu:
        seed(emu, "colors", options={"build": "beta"}, input={"q": 1})
        colored = run_cli("plan", path, emu=emu, tty=True)
        plain = run_cli("plan", path, emu=emu, tty=True, environ={"NO_COLOR": "1"})
        piped = run_cli("plan", path, emu=emu)
    assert colored.code == plain.code == piped.code == 0
    assert "\x1b[" in colored.out
    assert "\x1b[" not in plain.out and "\x1b[" not in piped.out
    assert "janedoe~colors" in plain.out
