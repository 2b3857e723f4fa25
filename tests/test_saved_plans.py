"""Saved plans: what they rest on, what they hold, and how a file is told to be one."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli, seed, threaded_emulator, write_file

from tasksync.diff import diff_task
from tasksync.model import RemoteTask, TaskRef, TaskSpec
from tasksync.plan import Plan
from tasksync.secrets import plan_key


def test_an_ignored_path_never_makes_a_plan_stale(tmp_path: Path) -> None:
    text = """\
    version: 1
    tasks:
      - task: janedoe~crawl
        ignore: [/input/cursor, /options/timeoutSecs]
        input: {q: 2, cursor: 0}
        options: {memoryMbytes: 2048}
    """
    plan_path = str(tmp_path / "plan.json")
    with threaded_emulator() as emu:
        seed(
            emu,
            "crawl",
            input={"q": 1, "cursor": 5},
            options={"memoryMbytes": 1024, "timeoutSecs": 60},
        )
        path = write_file(tmp_path, text)
        assert run_cli("plan", path, "--out", plan_path, emu=emu).code == 0
        # The Actor moves its cursor, someone the timeout: both ignored.
        emu.state.update_task("janedoe~crawl", {"input": {"q": 1, "cursor": 6}})
        emu.state.update_task("janedoe~crawl", {"options": {"timeoutSecs": 90}})
        result = run_cli("apply", plan_path, "--yes", emu=emu)
        assert result.code == 0, result.output
        task = emu.state.get_task("janedoe~crawl")
        assert task is not None
        assert task["input"] == {"q": 2, "cursor": 6}  # today's ignored value, not the plan's
        assert task["options"] == {"memoryMbytes": 2048, "timeoutSecs": 90}


def test_a_sensitive_remote_value_is_never_in_clear(tmp_path: Path) -> None:
    text = """\
    version: 1
    tasks:
      - task: janedoe~merged
        inputMode: merge
        sensitive: [/input/auth]
        input: {q: 2}
    """
    plan_path = tmp_path / "plan.json"
    with threaded_emulator() as emu:
        seed(emu, "merged", input={"q": 1, "auth": {"password": "remote-pw-1234"}})
        path = write_file(tmp_path, text)
        assert run_cli("plan", path, "--out", str(plan_path), emu=emu).code == 0
        assert "remote-pw-1234" not in plan_path.read_text()
        result = run_cli("apply", str(plan_path), "--yes", emu=emu)
        assert result.code == 0, result.output
        task = emu.state.get_task("janedoe~merged")
        assert task is not None and task["input"] == {
            "q": 2,
            "auth": {"password": "remote-pw-1234"},
        }
        other = run_cli(
            "apply", str(plan_path), "--yes", emu=emu, environ={"APIFY_TOKEN": "another-token"}
        )
        assert other.code == 1 and "another API token" in other.err


def _secret_plan() -> dict[str, object]:
    spec = TaskSpec(
        ref=TaskRef.parse("janedoe~s"),
        desired={"input": {"apiKey": "abc", "q": 2}},
        sensitive=frozenset({"/input/apiKey"}),
        env_refs={"/input/apiKey": "${API_KEY}"},
    )
    remote = RemoteTask({"id": "a" * 17, "modifiedAt": "x", "input": {"apiKey": "x", "q": 1}})
    doc: dict[str, object] = Plan((diff_task(spec, remote),)).to_json(key=plan_key("token-1"))
    return doc


def test_secret_hashes_are_keyed_by_the_token() -> None:
    doc = _secret_plan()
    env = {"API_KEY": "abc"}
    assert Plan.from_json(doc, environ=env, key=plan_key("token-1")).stale == {}
    # Without the token, a guess that is right cannot be told from one that is wrong.
    wrong = Plan.from_json(doc, environ=env, key=plan_key("token-2"))
    assert "changed since the plan" in wrong.stale["janedoe~s"]
    assert json.dumps(doc).count("hmac-sha256:") >= 2  # the secret, and the basis


def test_a_file_is_told_by_its_content(tmp_path: Path) -> None:
    tasks = {"version": 1, "tasks": [{"task": "janedoe~jay", "title": "from JSON"}]}
    json_file = tmp_path / "tasks.json"
    json_file.write_text(json.dumps(tasks))
    plan_yaml = tmp_path / "reviewed.plan"  # a saved plan, whatever its name
    with threaded_emulator() as emu:
        seed(emu, "jay")
        assert run_cli("validate", str(json_file)).code == 0
        assert run_cli("plan", str(json_file), "--out", str(plan_yaml), emu=emu).code == 0
        refused = run_cli("validate", str(plan_yaml))
        assert refused.code == 1 and "saved plan" in refused.err
        assert run_cli("apply", str(plan_yaml), "--yes", emu=emu).code == 0
        task = emu.state.get_task("janedoe~jay")
        assert task is not None and task["title"] == "from JSON"
        task_file = run_cli("apply", str(json_file), "--yes", emu=emu)
        assert task_file.code == 0 and "Plan: 0 to create, 0 to update" in task_file.out
