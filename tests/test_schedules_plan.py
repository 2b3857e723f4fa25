"""Planning schedules against the emulator: exact changes, references resolved, creation,
errors, masking, counts in every format, the safety limit per resource, and saved plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import write_file

from tasksync import config, report, sync
from tasksync.emulator import Emulator
from tasksync.errors import PlanFileError, UnsafePlanError
from tasksync.model import Action
from tasksync.plan import Plan
from tasksync.secrets import plan_key

KEY = plan_key("tok-schedules")

FILE = """\
version: 1
tasks:
  - task: janedoe~news-daily
  - task: janedoe~news-weekly
    actor: apify~web-scraper
schedules:
  - schedule: ~nightly-news
    cronExpression: "0 3 * * *"
    timezone: Europe/Prague
    notifications: {email: false}
    actions:
      - task: janedoe~news-daily
      - task: ~news-weekly
        input: {maxItems: 10, apiKey: "${API_KEY}"}
      - actor: apify~web-scraper
        input: {greeting: hi}
        options: {memoryMbytes: 256}
  - schedule: ~same-schedule
    isEnabled: false
    actions:
      - task: janedoe~news-daily
  - schedule: ~broken-schedule
    cronExpression: "@daily"
    actions:
      - task: ~not-a-task
"""

ENV = {"API_KEY": "k-secret-123456"}


def settings(emu: Emulator) -> sync.Settings:
    return sync.Settings(token=emu.token, api_url=emu.url)


async def plan(emu: Emulator, path: str, environ: dict[str, str] = ENV) -> Plan:
    async with sync.Session(settings(emu), environ=environ) as session:
        return await session.plan(path)


def seed(emu: Emulator) -> dict[str, Any]:
    daily = emu.state.add_task(name="news-daily")
    emu.state.add_schedule(
        name="same-schedule",
        cronExpression="@hourly",
        isEnabled=False,
        actions=[{"type": "RUN_ACTOR_TASK", "actorTaskId": daily["id"]}],
    )
    return daily


async def test_plan_shows_schedules_beside_tasks(emulator: Emulator, tmp_path: Path) -> None:
    seed(emulator)
    the_plan = await plan(emulator, write_file(tmp_path, FILE))
    by_key = {c.key: c for c in the_plan.schedules}
    nightly = by_key["~nightly-news"]
    assert nightly.action is Action.CREATE
    assert nightly.payload["timezone"] == "Europe/Prague" and nightly.payload["isEnabled"] is True
    actions = nightly.payload["actions"]
    assert actions[1] == {
        "type": "RUN_ACTOR_TASK",
        "actorTaskId": "~news-weekly",
        "input": {"maxItems": 10, "apiKey": ENV["API_KEY"]},
    }
    assert by_key["~same-schedule"].action is Action.NOOP
    broken = by_key["~broken-schedule"]
    assert broken.action is Action.ERROR and "actions[0]" in (broken.error or "")
    assert the_plan.schedule_counts == {"noop": 1, "update": 0, "create": 1, "error": 1}

    text = report.plan_text(the_plan)
    assert "Schedules:" in text and "+ ~nightly-news (create)" in text
    assert "Schedules: 1 to create, 0 to update, 1 unchanged, 1 with errors." in text
    assert ENV["API_KEY"] not in text
    markdown = report.plan_markdown(the_plan)
    assert "#### Schedules" in markdown and ENV["API_KEY"] not in markdown
    doc = the_plan.to_json(include_payloads=False)
    assert doc["formatVersion"] == 2 and doc["scheduleCounts"]["create"] == 1
    assert ENV["API_KEY"] not in json.dumps(doc)


async def test_only_what_the_file_mentions_is_compared(emulator: Emulator, tmp_path: Path) -> None:
    daily = seed(emulator)
    emulator.state.update_schedule(
        "~same-schedule", {"title": "set in the Console", "cronExpression": "@daily"}
    )
    text = FILE.replace("    isEnabled: false\n", "    isEnabled: true\n")
    the_plan = await plan(emulator, write_file(tmp_path, text))
    change = next(c for c in the_plan.schedules if c.key == "~same-schedule")
    assert change.action is Action.UPDATE
    assert dict(change.payload) == {"isEnabled": True}
    live = emulator.state.get_schedule("~same-schedule")
    assert live is not None and live["actions"][0]["actorTaskId"] == daily["id"]


async def test_actions_differ_by_what_they_run(emulator: Emulator, tmp_path: Path) -> None:
    seed(emulator)
    other = emulator.state.add_task(name="other-task")
    emulator.state.update_schedule(
        "~same-schedule", {"actions": [{"type": "RUN_ACTOR_TASK", "actorTaskId": "~other-task"}]}
    )
    the_plan = await plan(emulator, write_file(tmp_path, FILE))
    change = next(c for c in the_plan.schedules if c.key == "~same-schedule")
    assert change.action is Action.UPDATE
    (field_change,) = change.changes
    assert field_change.path == "/actions"
    assert field_change.old == [{"task": other["id"]}]  # not in the file: shown by ID
    assert field_change.new == [{"task": "janedoe~news-daily"}]


async def test_safety_counts_schedules_on_their_own(emulator: Emulator, tmp_path: Path) -> None:
    entries = "".join(
        f"  - schedule: ~sched-{n:02}\n    cronExpression: '@daily'\n" for n in range(10)
    )
    text = "version: 1\ntasks: []\nschedules:\n" + entries
    the_plan = await plan(emulator, write_file(tmp_path, text))
    with pytest.raises(UnsafePlanError, match="10 of 10 schedules"):
        the_plan.raise_if_unsafe()


async def test_saved_plans_keep_schedules_sealed(emulator: Emulator, tmp_path: Path) -> None:
    seed(emulator)
    the_plan = await plan(emulator, write_file(tmp_path, FILE))
    saved = the_plan.to_json(key=KEY)
    assert saved["formatVersion"] == 2 and "scheduleId" in saved["schedules"][0]
    assert ENV["API_KEY"] not in json.dumps(saved)
    loaded = Plan.from_json(saved, environ=ENV, key=KEY)
    assert [(c.key, c.action, c.payload) for c in loaded.schedules] == [
        (c.key, c.action, c.payload) for c in the_plan.schedules
    ]
    assert not loaded.schedule_stale
    moved = Plan.from_json(saved, environ={"API_KEY": "another-value"}, key=KEY)
    assert "changed since the plan was made" in moved.schedule_stale["~nightly-news"]
    too_new = {**saved, "formatVersion": 99}  # a version this tasksync does not know
    with pytest.raises(PlanFileError, match="formatVersion 99"):
        Plan.from_json(too_new, environ=ENV, key=KEY)


def test_a_plan_without_schedules_stays_version_1() -> None:
    cfg = config.load_text("version: 1\ntasks: []\n")
    assert cfg.schedules == ()
    assert Plan(()).to_json(key=KEY)["formatVersion"] == 1
