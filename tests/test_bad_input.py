"""Bad input, end to end through the command line: every broken or hostile task file ends in
exit 1 and one clear message (no traceback, nothing that drives the terminal).

Task files: each file under ``tests/fixtures/bad`` is one case; its first line says what the
message must contain (``# expect: FRAGMENT``), or ``SIDECAR`` below does when the file cannot hold a
comment. Both ``validate`` and ``plan`` must refuse it, ``plan`` without a single API request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Result, run_cli, threaded_emulator

from tasksync import cli
from tasksync.emulator import Emulator

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
