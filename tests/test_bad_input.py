"""Bad input, end to end through the command line: every broken or hostile task file ends in
exit 1 and one clear message (no traceback, nothing that drives the terminal).

The emulator's malformed answers (``faults.py``, kind ``body``) are checked here too, as raw HTTP.

Task files: each file under ``tests/fixtures/bad`` is one case; its first line says what the
message must contain (``# expect: FRAGMENT``), or ``SIDECAR`` below does when the file cannot hold a
comment. Both ``validate`` and ``plan`` must refuse it, ``plan`` without a single API request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support import Result, run_cli, seed, threaded_emulator

from tasksync import cli
from tasksync.emulator import Emulator, faults
from tasksync.emulator.faults import BODY_VARIANTS, Faults
from tasksync.emulator.settings import EmulatorSettings

BAD = Path(__file__).parent / "fixtures" / "bad"
SIDECAR = {
    "empty.yaml": "the file is empty",
    "binary-garbage.yaml": "the file is not valid UTF-8 (byte 0x89)",
    "utf16.yaml": "the file is not valid UTF-8 (byte 0xff)",
}
_EXPECT = re.compile(rb"# expect: (.+)\n")
CASES = sorted(p.name for p in BAD.iterdir())


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    with threaded_emulator() as emu:
        yield emu


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
    result = run_cli(command, str(path), emu=shared_emulator if command == "plan" else None)
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
