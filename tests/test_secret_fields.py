"""Secret input fields: kept (the stored encrypted value sent back) or rotated (the file's value
sent), per field, in the plan and the report; and what to do when Apify refuses a kept value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support import run_cli, seed, threaded_emulator, write_file

from tasksync.emulator import Emulator

ENV = {"API_KEY": "k-from-env", "USER": "u-from-env"}

FILE = """\
version: 1
tasks:
  - task: janedoe~vault
    input:
      apiKey: ${API_KEY}          # from the environment: kept
      password: pw-literal         # a literal: cannot be compared, so it is rotated
      q: 2
"""


def _seed(emu: Emulator) -> dict[str, Any]:
    task = seed(
        emu, "vault", actor="janedoe~my-actor", input={"apiKey": "k-old", "password": "p", "q": 1}
    )
    return dict(task["input"])


def _input(emu: Emulator) -> dict[str, Any]:
    return dict(emu.state.get_task("janedoe~vault")["input"])  # type: ignore[index]


def test_kept_and_rotated(tmp_path: Path) -> None:
    path = write_file(tmp_path, FILE)
    with threaded_emulator() as emu:
        stored = _seed(emu)
        plan = run_cli("plan", path, "--format", "json", emu=emu, environ=ENV)
        entry = json.loads(plan.out)["tasks"][0]
        assert entry["secretFields"] == [
            {"path": "/input/apiKey", "action": "kept"},
            {"path": "/input/password", "action": "rotated"},
        ]
        text = run_cli("plan", path, emu=emu, environ=ENV).out
        assert "/input/apiKey: <sensitive> (secret kept)" in text
        assert "/input/password: <sensitive> (secret rotated)" in text
        report = tmp_path / "report.json"
        done = run_cli("apply", path, "--yes", "--report", str(report), emu=emu, environ=ENV)
        assert done.code == 0, done.output
        now = _input(emu)
        assert now["apiKey"] == stored["apiKey"]  # the very same ciphertext: the secret kept
        assert emu.state.secret_plaintext(now["password"]) == "pw-literal"
        assert now["q"] == 2
        task = json.loads(report.read_text())["tasks"][0]
        assert {f["path"]: f["action"] for f in task["secretFields"]} == {
            "/input/apiKey": "kept",
            "/input/password": "rotated",
        }
        assert "k-from-env" not in report.read_text() + done.output
        again = run_cli("plan", path, "--detailed-exitcode", emu=emu, environ=ENV)
        assert again.code == 0, again.output

        # --rotate-secrets sends the environment's value.
        rotated = run_cli("apply", path, "--yes", "--rotate-secrets", emu=emu, environ=ENV)
        assert rotated.code == 0, rotated.output
        assert emu.state.secret_plaintext(_input(emu)["apiKey"]) == "k-from-env"


def test_nothing_listed_when_the_input_is_not_sent(tmp_path: Path) -> None:
    path = write_file(tmp_path, FILE.replace("q: 2", "q: 1"))
    with threaded_emulator() as emu:
        _seed(emu)
        plan = json.loads(run_cli("plan", path, "--format", "json", emu=emu, environ=ENV).out)
        assert plan["tasks"][0]["action"] == "noop" and "secretFields" not in plan["tasks"][0]


def test_encrypted_json_is_kept(tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        """\
        version: 1
        tasks:
          - task: janedoe~vault
            input: {apiKey: "${API_KEY}", password: {user: "${USER}", roles: [a]}, q: 3}
        """,
    )
    with threaded_emulator() as emu:
        seed(
            emu,
            "vault",
            actor="janedoe~my-actor",
            input={"apiKey": "k", "password": {"user": "u", "roles": []}, "q": 1},
        )
        stored = _input(emu)
        assert stored["password"].startswith("ENCRYPTED_JSON:")
        done = run_cli("apply", path, "--yes", emu=emu, environ=ENV)
        assert done.code == 0, done.output
        assert _input(emu)["password"] == stored["password"] and _input(emu)["q"] == 3


def test_a_changed_secret_schema_says_to_rotate(tmp_path: Path) -> None:
    path = write_file(tmp_path, FILE)
    with threaded_emulator() as emu:
        _seed(emu)
        emu.state.change_secret_schema("janedoe~my-actor", "apiKey")
        report = tmp_path / "report.json"
        failed = run_cli("apply", path, "--yes", "--report", str(report), emu=emu, environ=ENV)
        assert failed.code == 1
        error = json.loads(report.read_text())["tasks"][0]["error"]
        assert error["type"] == "invalid-input"
        assert "/input/apiKey" in error["message"] and "--rotate-secrets" in error["message"]
        fixed = run_cli("apply", path, "--yes", "--rotate-secrets", emu=emu, environ=ENV)
        assert fixed.code == 0, fixed.output
        assert emu.state.secret_plaintext(_input(emu)["apiKey"]) == "k-from-env"
