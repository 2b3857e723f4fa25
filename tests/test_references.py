"""References and creation: a task is created only where its reference says, two entries never
name one task, and ``actor:`` takes the spellings the API and the console use."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli, threaded_emulator, write_file


def test_another_users_task_is_never_created_in_the_token_owners_account(tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        """\
        version: 1
        tasks:
          - task: other-user~news
            actor: apify~web-scraper
        """,
    )
    with threaded_emulator() as emu:
        emu.state.add_user("other-user")
        result = run_cli("apply", path, "--yes", "--create-missing", emu=emu)
        assert result.code == 1
        assert "cannot be created" in result.output and "janedoe" in result.output
        assert emu.state.get_task("janedoe~news") is None
        assert not [r for r in emu.requests if r.method == "POST"]


def test_two_entries_for_one_task_are_an_error_even_when_it_is_missing(tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        """\
        version: 1
        tasks:
          - task: ~news
            actor: apify~web-scraper
          - task: janedoe~news
            actor: apify~web-scraper
            title: other
        """,
    )
    with threaded_emulator() as emu:
        plan = run_cli("plan", path, "--format", "json", emu=emu)
        result = run_cli("apply", path, "--yes", "--create-missing", emu=emu)
        assert not [r for r in emu.requests if r.method == "POST"]
    tasks = json.loads(plan.out)["tasks"]
    assert [t["action"] for t in tasks] == ["error", "error"]
    assert "same task" in tasks[0]["error"] and "janedoe~news" in tasks[0]["error"]
    assert result.code == 1


def test_actor_spellings(tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        """\
        version: 1
        tasks:
          - task: janedoe~by-slash
            actor: apify/web-scraper
          - task: janedoe~by-tilde
            actor: apify~web-scraper
        """,
    )
    with threaded_emulator() as emu:
        actor_id = emu.state.actors.find("apify~web-scraper").id  # type: ignore[union-attr]
        by_id = write_file(
            tmp_path,
            f"version: 1\ntasks:\n  - task: janedoe~by-id\n    actor: {actor_id}\n",
            "by-id.yaml",
        )
        for file in (path, by_id):
            result = run_cli("apply", file, "--yes", "--create-missing", emu=emu)
            assert result.code == 0, result.output
        for name in ("by-slash", "by-tilde", "by-id"):
            task = emu.state.get_task(f"janedoe~{name}")
            assert task is not None and task["actId"] == actor_id
        bodies = [r.body["actId"] for r in emu.requests if r.method == "POST"]  # type: ignore[index]
        assert "apify/web-scraper" not in bodies
