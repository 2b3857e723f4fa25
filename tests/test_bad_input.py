"""Bad input, end to end through the command line: every broken or hostile task file and every
broken API answer ends in exit 1 and one clear message (no traceback, no token), and one bad
task never costs the others their plan or their update.

Task files: each file under ``tests/fixtures/bad`` is one case; its first line says what the
message must contain (``# expect: FRAGMENT``), or ``SIDECAR`` below does when the file cannot hold a
comment. Both ``validate`` and ``plan`` must refuse it, ``plan`` without a single API request.

API answers: three tasks need the same change; the emulator spoils the answer of one of them
(``faults.py``, kind ``body``, or an error status) on its GET (``plan``) or its PUT (``apply``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support import Result, run_cli, seed, threaded_emulator, write_file

from tasksync import api, cli
from tasksync.emulator import Emulator, faults
from tasksync.emulator.faults import BODY_VARIANTS, Faults
from tasksync.emulator.settings import EmulatorSettings
from tasksync.throttle import RetryPolicy

BAD = Path(__file__).parent / "fixtures" / "bad"
SIDECAR = {
    "empty.yaml": "the file is empty",
    "binary-garbage.yaml": "the file is not valid UTF-8 (byte 0x89)",
    "utf16.yaml": "the file is not valid UTF-8 (byte 0xff)",
}
_EXPECT = re.compile(rb"# expect: (.+)\n")
CASES = sorted(p.name for p in BAD.iterdir())

FAST = RetryPolicy(base_delay=0.01, attempt_timeout=5.0)


FAST_FLAGS = ("--retry-delay", "0.01", "--request-timeout", "5")
"""The same policy through the command line's own options."""


def run_fast(command: str, *argv: str, emu: Emulator | None = None) -> Result:
    """``run_cli`` with quick retries (the default backoff waits up to 15 s per request)."""
    flags = FAST_FLAGS if command in ("plan", "apply") else ()
    return run_cli(command, *flags, *argv, emu=emu)


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    with threaded_emulator() as emu:
        yield emu


@pytest.fixture
def emu(shared_emulator: Emulator) -> Emulator:
    shared_emulator.reset()
    return shared_emulator


def assert_clean(result: Result, emu: Emulator | None = None) -> None:
    """No traceback, nothing that drives the terminal, no line that runs on, no token."""
    assert "Traceback" not in result.output
    assert all(c == "\n" or c.isprintable() for c in result.output), ascii(result.output)
    assert all(len(line) < 500 for line in result.output.splitlines())
    if emu is not None:  # nor any 6 characters in a row of the token's secret part
        secret = emu.token.removeprefix("apify_api_")
        assert not any(secret[i : i + 6] in result.output for i in range(len(secret) - 5))


# -- task files ----------------------------------------------------------------------------------


def expected_fragment(path: Path) -> str:
    if path.name in SIDECAR:
        return SIDECAR[path.name]
    found = _EXPECT.match(path.read_bytes())
    assert found, f"{path.name} starts with no '# expect:' line"
    return found.group(1).decode()


def test_the_corpus_is_large_and_every_file_says_what_it_expects() -> None:
    assert len(CASES) >= 30
    for name in CASES:
        assert expected_fragment(BAD / name)
    assert set(SIDECAR) <= set(CASES)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_bad_task_file(
    name: str,
    command: str,
    shared_emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a tag that ran anything would leave a file here
    path = BAD / name
    shared_emulator.clear_requests()
    # --require-env: validate without it takes an unset ${VAR} for a note (no secrets in CI).
    flags = ["--require-env"] if command == "validate" else []
    result = run_fast(
        command, *flags, str(path), emu=shared_emulator if command == "plan" else None
    )
    assert result.code == cli.ExitStatus.ERROR, result.output
    assert result.out == ""
    assert result.err.startswith("tasksync: error: ")
    assert expected_fragment(path) in result.err
    assert f"{path}:" in result.err
    assert_clean(result, shared_emulator)
    assert shared_emulator.requests == []
    assert list(tmp_path.iterdir()) == []


# -- the emulator's malformed answers --------------------------------------------------------------


async def test_each_body_variant_is_what_it_says(emulator: Emulator) -> None:
    task = seed(emulator, "spoilt", options={"memoryMbytes": 1024})
    path = f"/v2/actor-tasks/{task['id']}"
    headers = {"Authorization": f"Bearer {emulator.token}"}
    async with aiohttp.ClientSession(emulator.url, headers=headers) as session:

        async def get(**fault: Any) -> tuple[int, str, bytes]:
            emulator.faults.schedule(method="GET", **fault)
            async with session.get(path) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), await resp.read()

        status, kind, body = await get(variant="html")
        assert (status, kind) == (502, "text/html; charset=utf-8")
        assert b"<title>502 Bad Gateway</title>" in body
        status, kind, body = await get(variant="not-json", status=503)
        assert status == 503 and kind.startswith("application/json")
        assert f"Bearer {emulator.token}".encode() in body
        status, _, body = await get(variant="json", body={"data": []}, status=201)
        assert (status, json.loads(body)) == (201, {"data": []})
        status, kind, body = await get(variant="wrong-content-type")
        assert kind.startswith("text/plain") and json.loads(body)["data"]["id"] == task["id"]
        full = json.dumps({"data": emulator.state.get_task(task["id"])}, separators=(",", ":"))
        _, _, body = await get(variant="truncated")
        assert body == full.encode()[: len(body)] and len(body) == len(full) // 2
        emulator.faults.schedule(method="GET", variant="huge", size=3_000_000)
        async with session.get(path) as resp:
            assert resp.content_length is None and resp.headers["Transfer-Encoding"] == "chunked"
            huge = await resp.json()
        assert len(huge.pop("padding")) == 3_000_000 and huge["data"]["id"] == task["id"]
        emulator.faults.schedule(method="GET", variant="cut-off")
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(path) as resp:
                await resp.read()
    assert [r.fault for r in emulator.requests] == ["body"] * 7


async def test_body_faults_through_the_control_plane(emulator: Emulator) -> None:
    async with aiohttp.ClientSession(emulator.url) as session:
        fault = {"variant": "json", "body": {"data": []}, "method": "GET", "count": 2}
        async with session.post("/_emulator/faults", json=fault) as resp:
            assert resp.status == 201
        async with session.get("/_emulator/faults") as resp:
            (scheduled,) = (await resp.json())["scheduled"]
        assert scheduled == {
            "kind": "body",
            "remaining": 2,
            "status": 200,
            "method": "GET",
            "pathPrefix": "/v2/",
            "seconds": None,
            "errorType": None,
            "variant": "json",
            "body": {"data": []},
            "size": None,
        }
        for bad in (
            {"kind": "body"},
            {"variant": "gibberish"},
            {"variant": "json"},
            {"variant": "html", "body": "x"},
            {"variant": "truncated", "status": 500},
            {"variant": "html", "status": 99},
            {"variant": "huge", "size": -1},
            {"variant": "not-json", "body": 5},
            {"status": 500, "variant": "html", "kind": "status"},
        ):
            async with session.post("/_emulator/faults", json=bad) as resp:
                assert resp.status == 400, bad


def test_every_variant_is_documented() -> None:
    assert all(f"``{variant}``" in (faults.__doc__ or "") for variant in BODY_VARIANTS)
    # A variant that spoils the real answer keeps its status, whatever it turns out to be.
    assert Faults(EmulatorSettings()).schedule(variant="huge").to_json()["status"] is None


# -- API answers ---------------------------------------------------------------------------------

FILE = """\
version: 1
tasks:
  - task: janedoe~alpha
    options: {memoryMbytes: 2048}
  - task: janedoe~bravo
    options: {memoryMbytes: 2048}
  - task: janedoe~charlie
    options: {memoryMbytes: 2048}
"""
NAMES = ("alpha", "bravo", "charlie")


def seed_three(emu: Emulator, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    for name in NAMES:
        seed(emu, name, options={"memoryMbytes": 1024})
    bravo = emu.state.get_task("janedoe~bravo")
    assert bravo is not None
    return write_file(tmp_path, FILE), bravo


def memory(emu: Emulator) -> dict[str, int]:
    return {n: emu.state.get_task(f"janedoe~{n}")["options"]["memoryMbytes"] for n in NAMES}  # type: ignore[index]


def without(task: dict[str, Any], key: str) -> dict[str, Any]:
    return {"data": {k: v for k, v in task.items() if k != key}}


@dataclasses.dataclass(frozen=True)
class BadAnswer:
    fault: Callable[[dict[str, Any]], dict[str, Any]]
    """The fault's fields, given bravo's task."""
    plan: str
    """What the plan says of bravo."""
    apply: str | None = None
    """What the report says of bravo (default: the same)."""
    retried: bool = False
    """Whether the client tries again (idempotent requests only)."""
    applied: bool = False
    """Whether the emulator does the PUT before spoiling the answer."""


BAD_ANSWERS = {
    "not-json": BadAnswer(
        lambda t: {"variant": "not-json"},
        'the API answered 200 with a body that is not JSON ("authorization: Bearer *** request:',
        retried=True,
    ),
    "html-502-from-a-proxy": BadAnswer(
        lambda t: {"variant": "html"},
        'HTTP 502 with an HTML page titled "502 Bad Gateway", not JSON; gave up after 5 attempts',
        retried=True,
    ),
    "html-200-login-page": BadAnswer(
        lambda t: {"variant": "html", "status": 200},
        'the API answered 200 with an HTML page titled "200 OK", not JSON',
        retried=True,
    ),
    "truncated-json": BadAnswer(
        lambda t: {"variant": "truncated"},
        "the API answered 200 with JSON that breaks off after",
        retried=True,
        applied=True,
    ),
    "connection-cut-mid-body": BadAnswer(
        lambda t: {"variant": "cut-off"},
        "the connection closed before the whole answer arrived (received",
        retried=True,
        applied=True,
    ),
    "json-nested-too-deeply": BadAnswer(
        lambda t: {"variant": "not-json", "body": "[" * 100_000 + "]" * 100_000},
        "the API answered 200 with JSON nested too deeply to read",
        retried=True,
    ),
    "data-is-a-list": BadAnswer(
        lambda t: {"variant": "json", "body": {"data": []}},
        'the answer is not of the expected shape {"data": {...}}: `data` is a list',
    ),
    "no-data": BadAnswer(
        lambda t: {"variant": "json", "body": {"items": [t]}},
        "the answer is not of the expected shape",
    ),
    "task-without-id": BadAnswer(
        lambda t: {"variant": "json", "body": without(t, "id")},
        "the task in the answer is malformed: no `id`",
    ),
    "task-without-modified-at": BadAnswer(
        lambda t: {"variant": "json", "body": without(t, "modifiedAt")},
        "the task in the answer is malformed: no `modifiedAt`",
    ),
    "options-is-a-list": BadAnswer(
        lambda t: {"variant": "json", "body": {"data": {**t, "options": [2048]}}},
        "the task in the answer is malformed: `options` is a list, not a mapping",
    ),
    "huge-streamed": BadAnswer(
        lambda t: {"variant": "huge", "size": 40 * 1024 * 1024},
        "the answer grew past 16 MiB, the most tasksync reads; refused, the rest unread",
        applied=True,
    ),
    "huge-announced": BadAnswer(
        lambda t: {"variant": "json", "body": {"data": {**t, "padding": "x" * 40_000_000}}},
        "the answer is 38.1 MiB, more than the 16 MiB tasksync reads; refused unread",
    ),
    "403": BadAnswer(
        lambda t: {"status": 403},
        "HTTP 403 insufficient-permissions: You do not have permission to perform this action.",
    ),
    "404": BadAnswer(
        lambda t: {"status": 404},
        "task not found (add `actor:` to the entry to create it)",
        apply="HTTP 404 record-not-found: Actor task was not found",
    ),
}


def bravo_fault(emu: Emulator, bravo: dict[str, Any], method: str, case: BadAnswer) -> None:
    ref = "janedoe~bravo" if method == "GET" else bravo["id"]
    emu.faults.schedule(
        count=100, method=method, path_prefix=f"/v2/actor-tasks/{ref}", **case.fault(bravo)
    )


@pytest.mark.faults
@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_bounds_the_retries_of_a_request(
    attempts: int, emu: Emulator, tmp_path: Path
) -> None:
    path, bravo = seed_three(emu, tmp_path)
    bravo_fault(emu, bravo, "GET", BAD_ANSWERS["html-502-from-a-proxy"])
    result = run_fast("plan", path, "--max-attempts", str(attempts), emu=emu)
    assert result.code == cli.ExitStatus.ERROR, result.output
    spoilt = [r for r in emu.requests if r.fault is not None]
    assert len(spoilt) == attempts
    gave_up = f"gave up after {attempts} attempts"
    assert (gave_up in result.out) == (attempts > 1), result.out


@pytest.mark.parametrize(
    "flags",
    [("--max-attempts", "0"), ("--retry-delay", "-1"), ("--request-timeout", "0")],
)
def test_retry_options_are_checked_before_any_request(
    flags: tuple[str, str], emu: Emulator, tmp_path: Path
) -> None:
    path, _ = seed_three(emu, tmp_path)
    emu.clear_requests()
    result = run_cli("plan", path, *flags, emu=emu)
    assert result.code == cli.ExitStatus.ERROR, result.output
    assert result.err.startswith(f"tasksync: error: {flags[0]} must"), result.err
    assert flags[1] not in result.err.replace(flags[0], "")
    assert emu.requests == []


@pytest.mark.faults
@pytest.mark.parametrize("name", BAD_ANSWERS)
def test_plan_with_one_bad_answer(name: str, emu: Emulator, tmp_path: Path) -> None:
    case = BAD_ANSWERS[name]
    path, bravo = seed_three(emu, tmp_path)
    bravo_fault(emu, bravo, "GET", case)
    result = run_fast("plan", path, emu=emu)
    assert result.code == cli.ExitStatus.ERROR, result.output
    assert_clean(result, emu)
    lines = result.out.splitlines()
    error = [line for line in lines if line.startswith("! janedoe~bravo: ")]
    assert len(error) == 1, result.out
    if name != "404":  # a missing task is not an API failure but a plan error of its own
        assert error[0].startswith(f"! janedoe~bravo: GET {emu.url}/v2/actor-tasks/janedoe~bravo: ")
    assert case.plan in error[0]
    # the others' change is the same: shown once, for both
    shared = "~ /options/memoryMbytes: 1024 -> 2048 on 2 tasks: janedoe~alpha, janedoe~charlie"
    assert shared in lines
    assert lines[-1] == "Plan: 0 to create, 2 to update, 0 unchanged, 1 with errors."
    spoilt = [r for r in emu.requests if r.fault is not None]
    assert len(spoilt) == (FAST.max_attempts if case.retried else 1)
    assert {r.method for r in emu.requests} == {"GET"}
    assert memory(emu) == dict.fromkeys(NAMES, 1024)


@pytest.mark.faults
@pytest.mark.parametrize("name", BAD_ANSWERS)
def test_apply_with_one_bad_answer(name: str, emu: Emulator, tmp_path: Path) -> None:
    case = BAD_ANSWERS[name]
    path, bravo = seed_three(emu, tmp_path)
    bravo_fault(emu, bravo, "PUT", case)
    report_path = tmp_path / "report.json"
    result = run_fast("apply", path, "--yes", "--report", str(report_path), emu=emu)
    assert result.code == cli.ExitStatus.ERROR, result.output
    assert_clean(result, emu)
    failed = [line for line in result.out.splitlines() if "janedoe~bravo: " in line]
    assert len(failed) == 1, result.out
    assert failed[0].startswith(
        f"  failed: janedoe~bravo: PUT {emu.url}/v2/actor-tasks/{bravo['id']}: "
    )
    assert (case.apply or case.plan) in failed[0]
    assert memory(emu) == {"alpha": 2048, "bravo": 2048 if case.applied else 1024, "charlie": 2048}
    spoilt = [r for r in emu.requests if r.fault is not None]
    assert len(spoilt) == (FAST.max_attempts if case.retried else 1)
    report = json.loads(report_path.read_text())
    assert emu.token not in report_path.read_text()
    statuses = {t["key"]: t["status"] for t in report["tasks"]}
    assert statuses == {
        "janedoe~alpha": "updated",
        "janedoe~bravo": "failed",
        "janedoe~charlie": "updated",
    }
    (entry,) = (t for t in report["tasks"] if t["key"] == "janedoe~bravo")
    assert (case.apply or case.plan) in entry["error"]["message"]
    assert report["error"] is None


@pytest.mark.faults
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_json_labelled_text_plain_is_read(method: str, emu: Emulator, tmp_path: Path) -> None:
    """A proxy that relabels the answer does not matter: the body is what is checked."""
    path, bravo = seed_three(emu, tmp_path)
    bravo_fault(emu, bravo, method, BadAnswer(lambda t: {"variant": "wrong-content-type"}, ""))
    result = run_fast("apply", path, "--yes", emu=emu)
    assert result.code == cli.ExitStatus.OK, result.output
    assert_clean(result, emu)
    assert memory(emu) == dict.fromkeys(NAMES, 2048)
    assert [r.fault for r in emu.requests if r.fault] == ["body"]


@pytest.mark.faults
@pytest.mark.parametrize("variant", ["html", "truncated", "cut-off", "not-json"])
def test_one_unreadable_answer_is_retried_and_the_run_converges(
    variant: str, emu: Emulator, tmp_path: Path
) -> None:
    path, bravo = seed_three(emu, tmp_path)
    for method in ("GET", "PUT"):
        ref = "janedoe~bravo" if method == "GET" else bravo["id"]
        emu.faults.schedule(method=method, path_prefix=f"/v2/actor-tasks/{ref}", variant=variant)
    report_path = tmp_path / "report.json"
    result = run_fast("apply", path, "--yes", "--report", str(report_path), emu=emu)
    assert result.code == cli.ExitStatus.OK, result.output
    assert_clean(result, emu)
    assert memory(emu) == dict.fromkeys(NAMES, 2048)
    report = json.loads(report_path.read_text())
    assert report["requests"]["retried"] == 2
    (entry,) = (t for t in report["tasks"] if t["key"] == "janedoe~bravo")
    assert entry["status"] == "updated" and entry["attempts"] == 2


@pytest.mark.faults
def test_token_revoked_during_plan(emu: Emulator, tmp_path: Path) -> None:
    path, _ = seed_three(emu, tmp_path)
    emu.faults.schedule(status=401, method="GET", path_prefix="/v2/actor-tasks/janedoe~bravo")
    result = run_fast("plan", path, emu=emu)
    assert result.code == cli.ExitStatus.ERROR
    assert_clean(result, emu)
    assert result.err == (
        f"tasksync: error: GET {emu.url}/v2/actor-tasks/janedoe~bravo: HTTP 401 "
        "user-or-token-not-found: "
        "User was not found or authentication token is not valid\n"
    )
    assert {r.method for r in emu.requests} == {"GET"}


@pytest.mark.faults
def test_token_revoked_during_apply(emu: Emulator, tmp_path: Path) -> None:
    """A 401 stops the run (every further request would get one too); what was in flight
    finishes, and the report says what happened to each task."""
    path, bravo = seed_three(emu, tmp_path)
    emu.faults.schedule(status=401, method="PUT", path_prefix=f"/v2/actor-tasks/{bravo['id']}")
    report_path = tmp_path / "report.json"
    result = run_fast("apply", path, "--yes", "--report", str(report_path), emu=emu)
    assert result.code == cli.ExitStatus.ERROR
    assert_clean(result, emu)
    assert (
        f"  failed: janedoe~bravo: PUT {emu.url}/v2/actor-tasks/{bravo['id']}: HTTP 401 "
        "user-or-token-not-found" in result.out
    )
    assert "  error: the API refused the token mid-run, so the run stopped: " in result.out
    # Three workers took the three tasks at once: the other two were in flight, and finished.
    assert memory(emu) == {"alpha": 2048, "bravo": 1024, "charlie": 2048}
    report = json.loads(report_path.read_text())
    assert [t["status"] for t in report["tasks"]] == ["updated", "failed", "updated"]
    assert report["ok"] is False and "refused the token" in report["error"]


# -- the client on its own -----------------------------------------------------------------------


async def test_a_body_that_repeats_the_token_is_scrubbed_even_when_cut(emulator: Emulator) -> None:
    """The sample of an unreadable body is cut to 120 characters; cutting inside the token must
    not leave its first half behind."""
    token = emulator.token
    filler = "x" * (100 - len("Bearer "))
    body = f"{filler} Bearer {token} and more"
    emulator.faults.schedule(variant="not-json", body=body, status=200)
    async with api.ApifyClient(token, base_url=emulator.url, retry=FAST) as client:
        with pytest.raises(api.TransportError) as caught:
            await client.request("GET", "/v2/users/me", idempotent=False)
    message = str(caught.value)
    assert "Bearer ***" in message
    assert token[len("apify_api_") :][:6] not in message


async def test_the_size_cap_leaves_the_session_usable(emulator: Emulator) -> None:
    task = seed(emulator, "big-answer", options={"memoryMbytes": 1024})
    emulator.faults.schedule(variant="huge", method="GET")
    async with api.ApifyClient(emulator.token, base_url=emulator.url, retry=FAST) as client:
        with pytest.raises(api.TransportError, match="grew past 16 MiB") as refused:
            await client.get_task(task["id"])
        assert refused.value.stats.total == 1  # refused unread: never retried
        reply = await client.get_task(task["id"])
        assert reply.value["id"] == task["id"] and reply.stats.total == 1


@pytest.mark.faults
def test_saved_plan_with_a_malformed_task_list(emu: Emulator, tmp_path: Path) -> None:
    """Applying a saved plan reads each task again to check it did not move; an answer that is
    not a task makes that task stale (it cannot be checked), and nothing is written for it."""
    path, _ = seed_three(emu, tmp_path)
    plan_path = str(tmp_path / "plan.json")
    assert run_fast("plan", path, "--out", plan_path, emu=emu).code == cli.ExitStatus.OK
    body = {"data": {"items": [1, 2, 3], "total": 3, "offset": 0, "limit": 1000, "count": 3}}
    emu.faults.schedule(
        method="GET", path_prefix="/v2/actor-tasks", variant="json", body=body, count=3
    )
    result = run_fast("apply", plan_path, "--yes", emu=emu)
    assert result.code == cli.ExitStatus.ERROR
    assert_clean(result, emu)
    assert "could not check whether the task changed since the plan" in result.out
    assert memory(emu) == dict.fromkeys(NAMES, 1024)
