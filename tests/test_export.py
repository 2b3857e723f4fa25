"""``tasksync export``: the exported file plans to zero changes, is stable, and holds no secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from support import run_cli, seed, threaded_emulator

from tasksync import config
from tasksync.export import select


# Bounded CPU work, not a possible deadlock: with several busy processes on two cores it
# takes close to the suite's 60 s per-test timeout (55 s measured), so it gets its own.
@pytest.mark.timeout(240)
def test_export_round_trips_over_several_pages(tmp_path: Path) -> None:
    out = tmp_path / "exported.yaml"
    with threaded_emulator() as emu:
        for i in range(1100):
            seed(
                emu,
                f"t-{i:04d}",
                actor="apify~web-scraper" if i % 2 else "apify~cheerio-scraper",
                options={"build": "latest", "memoryMbytes": 1024, "timeoutSecs": i},
                input={"startUrls": [{"url": f"https://example.com/{i}"}], "note": "${not-a-var}"},
                title=f"Task {i}" if i % 3 == 0 else None,
            )
        seed(emu, "with-secret", actor="janedoe~my-actor", input={"apiKey": "k-123", "q": 1})
        result = run_cli("export", "-o", str(out), emu=emu)
        assert result.code == 0, result.output
        again = run_cli("export", emu=emu)
        text = out.read_text()
        assert again.out == text, "exporting twice must give identical bytes"
        assert "k-123" not in text and "ENCRYPTED_VALUE" not in text
        assert "WITH_SECRET_APIKEY" in result.err
        assert "# secret: janedoe~with-secret /input/apiKey" in text
        env = {"WITH_SECRET_APIKEY": "k-123"}
        cfg = config.load(str(out), environ=env)
        assert len(cfg.tasks) == 1101
        assert [t.key for t in cfg.tasks] == sorted(t.key for t in cfg.tasks)
        assert "defaults" not in yaml.safe_load(text)  # one task has no options: nothing shared
        plan = run_cli("plan", str(out), "--detailed-exitcode", emu=emu, environ=env)
        assert plan.code == 0, plan.output[-2000:]
        gets = [r for r in emu.requests if r.method == "GET" and r.path == "/v2/actor-tasks"]
        assert len(gets) == 4  # two exports, two pages each


def test_export_filters(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        seed(emu, "news-a", actor="apify~web-scraper")
        seed(emu, "news-b", actor="apify~cheerio-scraper")
        seed(emu, "shop-a", actor="apify~web-scraper")
        by_name = run_cli("export", "--match", "news-*", emu=emu)
        by_actor = run_cli("export", "--actor", "apify~web-scraper", emu=emu)
        both = run_cli(
            "export", "--match", "janedoe~news-*", "--actor", "apify~web-scraper", emu=emu
        )
    keys = lambda r: [t["task"] for t in yaml.safe_load(r.out)["tasks"]]  # noqa: E731
    assert keys(by_name) == ["janedoe~news-a", "janedoe~news-b"]
    assert keys(by_actor) == ["janedoe~news-a", "janedoe~shop-a"]
    assert keys(both) == ["janedoe~news-a"]


def test_empty_account_gives_a_valid_empty_file(tmp_path: Path) -> None:
    out = tmp_path / "empty.yaml"
    with threaded_emulator() as emu:
        assert run_cli("export", "-o", str(out), emu=emu).code == 0
    assert config.load(str(out), environ={}).tasks == ()
    assert run_cli("validate", str(out)).code == 0


def test_export_has_no_diff_options() -> None:
    result = run_cli("export", "--rotate-secrets")
    assert result.code == 1
    assert "--rotate-secrets" in result.err and "Traceback" not in result.err


def test_schema_secrets_become_placeholders_and_credentials_are_warned_about(
    tmp_path: Path,
) -> None:
    out = tmp_path / "exported.yaml"
    with threaded_emulator() as emu:
        emu.state.add_actor("janedoe", "exp-actor")
        seed(emu, "lit-secret", actor="janedoe~exp-actor",
             input={"password": "pw-Literal-1", "authToken": "tok-9", "q": 1})  # fmt: skip
        # A new build marks `password` secret: the value stored before stays in clear.
        schema = {
            "type": "object",
            "properties": {"password": {"type": "string", "isSecret": True}},
        }
        emu.state.add_build("janedoe~exp-actor", "latest", schema)
        assert emu.state.get_task("janedoe~lit-secret")["input"]["password"] == "pw-Literal-1"  # type: ignore[index]
        result = run_cli("export", "-o", str(out), "--actor", "janedoe~exp-actor", emu=emu)
        assert result.code == 0, result.output
        text = out.read_text()
        assert "pw-Literal-1" not in text and "${LIT_SECRET_PASSWORD}" in text
        assert "janedoe~lit-secret /input/authToken looks like a credential" in result.err
        assert "/input/password looks like" not in result.err
        env = {"LIT_SECRET_PASSWORD": "pw-Literal-1"}
        plan = run_cli("plan", str(out), "--detailed-exitcode", emu=emu, environ=env)
        assert plan.code == 0, plan.output


def test_export_writes_schedules_with_task_references(tmp_path: Path) -> None:
    out = tmp_path / "exported.yaml"
    with threaded_emulator() as emu:
        task = seed(emu, "news-daily")
        emu.state.add_schedule(
            name="nightly-news",
            cronExpression="0 3 * * *",
            timezone="Europe/Prague",
            title="Costs ${HOME}",
            actions=[
                {"type": "RUN_ACTOR_TASK", "actorTaskId": task["id"], "input": {"q": 1}},
                {
                    "type": "RUN_ACTOR",
                    "actorId": "apify~web-scraper",
                    "runInput": {"body": '{"greeting": "hi"}', "contentType": "application/json"},
                    "runOptions": {"memoryMbytes": 256},
                },
            ],
        )
        result = run_cli("export", "-o", str(out), emu=emu)
        assert result.code == 0, result.output
        (entry,) = yaml.safe_load(out.read_text())["schedules"]
        assert entry["schedule"] == "~nightly-news" and entry["title"] == "Costs $${HOME}"
        assert entry["actions"] == [
            {"task": "janedoe~news-daily", "input": {"q": 1}},
            {
                "actor": "apify~web-scraper",
                "input": {"greeting": "hi"},
                "options": {"memoryMbytes": 256},
            },
        ]
        plan = run_cli("plan", str(out), "--detailed-exitcode", emu=emu)
        assert plan.code == 0, plan.output[-2000:]


def test_only_the_token_owners_tasks_unless_asked() -> None:
    # The list holds what the user "created or used"; the emulator lists only its own tasks,
    # so the filter is checked on a listing that has both.
    items = [
        {"userId": "me1", "username": "janedoe", "name": "mine"},
        {"userId": "other", "username": "colleague", "name": "theirs"},
    ]
    assert select(items, None, None, owner_id="me1") == ["janedoe~mine"]
    assert select(items, None, None) == ["colleague~theirs", "janedoe~mine"]


def test_placeholder_names_are_valid_and_never_tasksyncs_own(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        emu.state.add_actor("janedoe", "keyed", secret_input_keys=("token", "apiKey"))
        seed(emu, "apify", actor="janedoe~keyed", input={"token": "t-1"})
        seed(emu, "2024-report", actor="janedoe~keyed", input={"apiKey": "k-2"})
        seed(emu, "tasksync", actor="janedoe~keyed", input={"apiKey": "k-3"})
        result = run_cli("export", emu=emu)
    assert result.code == 0, result.output
    names = re.findall(r"\$\{([^}]*)\}", result.out)
    assert len(names) == 3
    for name in names:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name), name
        assert name not in ("APIFY_TOKEN", "APIFY_API_BASE_URL")
        assert not name.startswith("TASKSYNC_"), name


def test_unknown_option_keys_are_left_out_and_named(tmp_path: Path) -> None:
    out = tmp_path / "exported.yaml"
    with threaded_emulator() as emu:
        seed(emu, "future", options={"memoryMbytes": 1024})
        with emu.state.core.lock:  # an option the API has learnt since (the emulator has not)
            emu.state.actor_tasks.resolve("janedoe~future", None)["options"]["maxRunsPerDay"] = 3
        assert run_cli("export", "-o", str(out), emu=emu).code == 0
        assert run_cli("validate", str(out)).code == 0
        assert run_cli("plan", str(out), "--detailed-exitcode", emu=emu).code == 0
        assert run_cli("apply", str(out), "--yes", emu=emu).code == 0
        task = emu.state.get_task("janedoe~future")
    assert "maxRunsPerDay" in out.read_text().splitlines()[1]  # the header names it
    assert task is not None and task["options"]["maxRunsPerDay"] == 3


def test_a_plan_refuses_the_token_in_an_input(tmp_path: Path) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text(
        "version: 1\ntasks:\n  - task: janedoe~tok\n    input: {auth: 'Bearer ${APIFY_TOKEN}'}\n"
    )
    with threaded_emulator() as emu:
        seed(emu, "tok")
        result = run_cli("apply", str(path), "--yes", emu=emu)
        assert not [r for r in emu.requests if r.method == "PUT"]
    # refused by the loader, before any request (the plan refuses it too, for a library caller)
    assert result.code == 1 and "a task file cannot use it" in result.err
    assert emu.token not in result.output


def test_a_task_nested_deeper_than_a_file_holds_is_left_out_and_named(tmp_path: Path) -> None:
    out = tmp_path / "exported.yaml"
    deep: dict[str, object] = {"leaf": 1}
    for level in range(2, 72):  # the API keeps it; a task file holds 61 levels of input
        deep = {"a": deep}
        if level == 61:
            deepest_kept = deep
    with threaded_emulator() as emu:
        seed(emu, "shallow", input={"q": 1})
        seed(emu, "deep-one", input=deep)
        seed(emu, "just-fits", input=deepest_kept)
        result = run_cli("export", "-o", str(out), emu=emu)
        assert result.code == 0, result.output
        assert "janedoe~deep-one: left out: its input nests 71 levels" in result.err
        cfg = config.load(str(out), environ={})  # the file reads back
        assert [t.key for t in cfg.tasks] == ["janedoe~just-fits", "janedoe~shallow"]
        assert run_cli("plan", str(out), "--detailed-exitcode", emu=emu).code == 0
