"""``--target``, ``--match``, ``--show-unmanaged`` and the flags a plan records, on the command
line against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli, seed, threaded_emulator, write_file

from tasksync.emulator import Emulator

FILE = """\
version: 1
safety: {maxChangedFraction: 0.3, minTasks: 4}
tasks:
  - task: janedoe~alpha
    options: {memoryMbytes: 2048}
  - task: janedoe~beta
    options: {memoryMbytes: 2048}
  - task: janedoe~gamma
    options: {memoryMbytes: 2048}
  - task: janedoe~delta
    options: {memoryMbytes: 1024}
  - task: janedoe~new-one
    actor: apify~web-scraper
    options: {memoryMbytes: 1024}
"""


def setup(emu: Emulator, tmp_path: Path) -> str:
    for name in ("alpha", "beta", "gamma", "delta"):
        seed(emu, name, options={"memoryMbytes": 1024})
    seed(emu, "by-hand", options={"memoryMbytes": 1024})
    return write_file(tmp_path, FILE)


def memory(emu: Emulator, name: str) -> int | None:
    task = emu.state.get_task(f"janedoe~{name}")
    return None if task is None else int(task["options"]["memoryMbytes"])


def test_target_and_match_select_tasks_and_the_safety_limit_counts_them(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        path = setup(emu, tmp_path)
        full = run_cli("plan", path, "--format", "json", emu=emu)
        assert json.loads(full.out)["apply"]["refuses"] is True  # 4 of 5 change

        one = run_cli("plan", path, "--target", "janedoe~alpha", "--format", "json", emu=emu)
        doc = json.loads(one.out)
        assert [t["key"] for t in doc["tasks"]] == ["janedoe~alpha"]

        some = run_cli("plan", path, "--match", "*a", "--target", "~delta", emu=emu)
        assert some.code == 0, some.output
        assert "alpha" in some.out and "beta" in some.out and "gamma" in some.out
        assert "new-one" not in some.out and "refuse" in some.out  # 3 of 4 selected change
        emu.clear_requests()
        applied = run_cli("apply", path, "--yes", "--target", "alpha", "--target", "beta", emu=emu)
        assert applied.code == 0, applied.output  # 2 of 2, below minTasks: no refusal
        assert [memory(emu, n) for n in ("alpha", "beta", "gamma")] == [2048, 2048, 1024]
        assert len(emu.requests) == 7  # check, 2 GETs, the input schema (Actor, build), 2 PUTs


def test_a_target_or_glob_that_selects_nothing_is_an_error(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        path = setup(emu, tmp_path)
        emu.clear_requests()
        bad = run_cli("plan", path, "--target", "janedoe~nope", emu=emu)
        assert bad.code == 1 and "--target names no task of the file: janedoe~nope" in bad.err
        glob = run_cli("apply", path, "--yes", "--match", "zz*", emu=emu)
        assert glob.code == 1 and "matches no task" in glob.err
        assert emu.requests == []


def test_show_unmanaged_lists_the_tasks_the_file_does_not_mention(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        path = write_file(tmp_path, "version: 1\ntasks:\n  - task: janedoe~alpha\n")
        seed(emu, "alpha")
        seed(emu, "by-hand")
        plain = run_cli("plan", path, "--detailed-exitcode", emu=emu)
        assert plain.code == 0 and "by-hand" not in plain.out
        emu.clear_requests()
        shown = run_cli("plan", path, "--show-unmanaged", "--detailed-exitcode", emu=emu)
        assert shown.code == 2, shown.output  # a nightly drift check notices it
        assert "unmanaged: 1 task of the account that the file does not mention: " in shown.out
        assert "janedoe~by-hand" in shown.out and "1 unmanaged" in shown.out
        lists = [r for r in emu.requests if r.path == "/v2/actor-tasks" and r.method == "GET"]
        assert len(lists) == 1
        doc = json.loads(run_cli("plan", path, "--show-unmanaged", "--format", "json", emu=emu).out)
        assert doc["unmanaged"] == ["janedoe~by-hand"]
        md = run_cli("plan", path, "--show-unmanaged", "--format", "markdown", emu=emu).out
        assert "**Unmanaged:** 1 task" in md and "`janedoe~by-hand`" in md


def test_a_plan_saved_with_the_flags_predicts_and_does_what_apply_does(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        path = setup(emu, tmp_path)
        out = str(tmp_path / "plan.json")
        plain = run_cli("plan", path, "--detailed-exitcode", emu=emu)
        assert plain.code == 2
        assert "apply would refuse this plan" in plain.out
        assert "apply would skip 1 task that does not exist (janedoe~new-one)" in plain.out

        planned = run_cli(
            "plan",
            path,
            "--create-missing",
            "--force",
            "--out",
            out,
            "--detailed-exitcode",
            emu=emu,
        )
        assert planned.code == 2, planned.output
        assert "refuse" not in planned.out and "skip" not in planned.out
        saved = json.loads(Path(out).read_text())
        assert saved["createMissing"] is True and saved["force"] is True
        assert saved["apply"]["refuses"] is False and saved["apply"]["needCreateMissing"] == []

        applied = run_cli("apply", out, "--yes", emu=emu)  # no flags: the plan's own count
        assert applied.code == 0, applied.output
        assert [memory(emu, n) for n in ("alpha", "beta", "gamma", "new-one")] == [2048] * 3 + [
            1024
        ]
        assert run_cli("plan", path, "--detailed-exitcode", emu=emu).code == 0


def test_a_targeted_run_leaves_the_schedules_out(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        seed(emu, "alpha", options={"memoryMbytes": 1024})
        text = FILE.split("  - task: janedoe~beta")[0] + (
            "schedules:\n  - schedule: ~nightly\n    cronExpression: '@daily'\n"
            "    actions:\n      - task: janedoe~alpha\n"
        )
        path = write_file(tmp_path, text)
        whole = json.loads(run_cli("plan", path, "--format", "json", emu=emu).out)
        assert [s["key"] for s in whole["schedules"]] == ["~nightly"]
        emu.clear_requests()
        one = run_cli("plan", path, "--target", "~alpha", "--format", "json", emu=emu)
        assert one.code == 0, one.output
        assert "schedules" not in json.loads(one.out)
        assert not [r for r in emu.requests if r.path.startswith("/v2/schedules")]
        applied = run_cli("apply", path, "--yes", "--create-missing", "--match", "alph*", emu=emu)
        assert applied.code == 0, applied.output
        assert memory(emu, "alpha") == 2048 and emu.state.schedule_list() == []
