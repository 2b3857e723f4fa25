"""Applying schedules against the emulator: tasks first, then schedules with task references
resolved (also to tasks this apply creates), convergence, a schedule whose task failed skipped
with the reason, saved plans' stale checks, faults survived, and an interrupt that loses
nothing (a re-run converges)."""

from __future__ import annotations

from pathlib import Path

from support import write_file

from tasksync import report, sync
from tasksync.emulator import Emulator
from tasksync.model import Action, Status
from tasksync.plan import Plan
from tasksync.run import Interrupt
from tasksync.secrets import plan_key

FILE = """\
version: 1
tasks:
  - task: janedoe~news-daily
    title: Daily
  - task: janedoe~news-weekly
    actor: apify~web-scraper
    title: Weekly
schedules:
  - schedule: ~nightly-news
    cronExpression: "0 3 * * *"
    timezone: Europe/Prague
    title: Nightly ${WHO:-news}
    actions:
      - task: janedoe~news-daily
      - task: ~news-weekly
        input: {maxItems: 10, apiKey: "${API_KEY}"}
      - actor: apify~web-scraper
        input: {greeting: hi}
        options: {memoryMbytes: 256}
"""
ENV = {"API_KEY": "k-secret-123456"}


def settings(emu: Emulator) -> sync.Settings:
    return sync.Settings(token=emu.token, api_url=emu.url)


async def run(emu: Emulator, source: str | Plan, interrupt: Interrupt | None = None) -> sync.Report:
    async with sync.Session(settings(emu), environ=ENV, interrupt=interrupt) as session:
        result = await session.plan_and_apply(source, create_missing=True, force=True)
        assert result is not None
        return result


async def plan(emu: Emulator, path: str) -> Plan:
    async with sync.Session(settings(emu), environ=ENV) as session:
        return await session.plan(path)


async def test_tasks_then_schedules_with_references_resolved(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.state.add_task(name="news-daily")
    path = write_file(tmp_path, FILE)
    done = await run(emulator, path)
    assert done.ok, report.report_text(done)
    assert [r.status for r in done.schedules] == [Status.CREATED]
    weekly = emulator.state.get_task("~news-weekly")
    daily = emulator.state.get_task("~news-daily")
    live = emulator.state.get_schedule("~nightly-news")
    assert weekly is not None and daily is not None and live is not None
    assert [a.get("actorTaskId") for a in live["actions"][:2]] == [daily["id"], weekly["id"]]
    assert live["actions"][1]["input"] == {"maxItems": 10, "apiKey": ENV["API_KEY"]}
    assert live["actions"][2]["runInput"]["contentType"] == "application/json"
    assert (live["timezone"], live["isEnabled"], live["isExclusive"]) == (
        "Europe/Prague",
        True,
        False,
    )
    posts = [r.path for r in emulator.log if r.method == "POST"]
    assert posts == ["/v2/actor-tasks", "/v2/schedules"]  # the task first
    doc = done.to_json()
    assert doc["scheduleTotals"]["created"] == 1 and ENV["API_KEY"] not in str(doc)
    assert "Schedules: 1 created." in report.report_text(done)
    markdown = report.report_markdown(done)
    assert "Schedules:" in markdown and "created <code>~nightly-news</code>" in markdown
    assert ENV["API_KEY"] not in markdown
    again = await plan(emulator, path)
    assert not again.has_changes, report.plan_text(again)


async def test_a_schedule_whose_task_failed_is_skipped(emulator: Emulator, tmp_path: Path) -> None:
    emulator.state.add_task(name="news-daily")
    emulator.faults.schedule(count=10, status=400, method="POST", path_prefix="/v2/actor-tasks")
    done = await run(emulator, write_file(tmp_path, FILE))
    (result,) = done.schedules
    assert result.status is Status.SKIPPED and "news-weekly" in (result.error or "")
    assert emulator.state.get_schedule("~nightly-news") is None
    assert not done.ok


async def test_saved_plan_skips_a_schedule_edited_since(emulator: Emulator, tmp_path: Path) -> None:
    emulator.state.add_task(name="news-daily")
    emulator.state.add_task(name="news-weekly")
    emulator.state.add_schedule(name="nightly-news", cronExpression="@daily")
    saved = (await plan(emulator, write_file(tmp_path, FILE))).to_json(key=plan_key(emulator.token))
    emulator.state.update_schedule("~nightly-news", {"isExclusive": True})
    done = await run(emulator, Plan.from_json(saved, environ=ENV, key=plan_key(emulator.token)))
    (result,) = done.schedules
    assert result.status is Status.STALE and "modified" in (result.error or "")


async def test_faults_are_survived(emulator: Emulator, tmp_path: Path) -> None:
    emulator.state.add_task(name="news-daily")
    emulator.faults.schedule(count=2, status=503, method="POST", path_prefix="/v2/schedules")
    emulator.faults.schedule(count=1, kind="drop_after", method="POST", path_prefix="/v2/sched")
    done = await run(emulator, write_file(tmp_path, FILE))
    assert done.ok, report.report_text(done)
    assert len(emulator.state.schedule_list()) == 1  # created once, despite the lost answer


async def test_an_interrupt_loses_nothing_and_a_rerun_converges(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.state.add_task(name="news-daily")
    path = write_file(tmp_path, FILE)
    the_plan = await plan(emulator, path)
    interrupt = Interrupt()

    def progress(phase: str, done: int, total: int, errors: int) -> None:
        if phase == "apply" and done == 1:
            interrupt.stop.set()  # as Ctrl-C after the first task was written

    one_at_a_time = sync.Settings(token=emulator.token, api_url=emulator.url, concurrency=1)
    async with sync.Session(
        one_at_a_time, environ=ENV, interrupt=interrupt, progress=progress
    ) as session:
        first = await session.apply(the_plan, create_missing=True, force=True)
    assert first.interrupted and not first.ok
    statuses = sorted(r.status.value for r in first.results)
    assert statuses in (["created", "skipped"], ["skipped", "updated"])
    assert [r.status for r in first.schedules] == [Status.SKIPPED]
    assert emulator.state.get_schedule("~nightly-news") is None
    done = await run(emulator, path)
    assert done.ok, report.report_text(done)
    again = await plan(emulator, path)
    assert not again.has_changes
    assert all(c.action is Action.NOOP for c in again.schedules)
