"""Deletion (``prune:`` and ``--prune``) against the emulator: only the token owner's resources
inside the globs that the file does not declare; applied only with ``--prune``, schedules first;
the safety limit; the schedule-task rule; saved plans' stale checks; faults; an interrupt that
loses nothing; targeting; and the convergence law with deletion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run_cli, threaded_emulator, write_file

from tasksync import report, sync
from tasksync.emulator import Emulator
from tasksync.errors import TasksyncError, UnsafePlanError
from tasksync.model import Action, Status
from tasksync.plan import DELETIONS_FORMAT_VERSION, Plan
from tasksync.run import Interrupt
from tasksync.secrets import plan_key

FILE = """\
version: 1
tasks:
  - task: janedoe~news-daily
    title: Daily
schedules:
  - schedule: ~nightly-news
    cronExpression: "0 3 * * *"
    actions:
      - task: janedoe~news-daily
prune:
  tasks: ["news-*"]
  schedules: ["nightly-*"]
"""


def settings(emu: Emulator, **more: int) -> sync.Settings:
    return sync.Settings(token=emu.token, api_url=emu.url, **more)  # type: ignore[arg-type]


async def plan(emu: Emulator, source: str, **flags: bool) -> Plan:
    async with sync.Session(settings(emu)) as session:
        return await session.plan(source, **flags)  # type: ignore[arg-type]


async def apply(emu: Emulator, source: str | Plan, **flags: bool) -> sync.Report:
    async with sync.Session(settings(emu)) as session:
        done = await session.plan_and_apply(source, force=True, **flags)  # type: ignore[arg-type]
        assert done is not None
        return done


def seed_account(emu: Emulator) -> dict[str, str]:
    """The file's task and schedule, plus what surrounds them; name -> ID."""
    ids = {}
    for name in ("news-daily", "news-old", "news-older", "weather-old"):
        ids[name] = str(emu.state.add_task(name=name)["id"])
    emu.state.add_user("bob")
    ids["bob-news"] = str(emu.state.add_task(username="bob", name="news-bob")["id"])
    for name in ("nightly-news", "nightly-old", "weekly-old"):
        ids[name] = str(
            emu.state.add_schedule(name=name, cronExpression="0 3 * * *", actions=[])["id"]
        )
    return ids


async def test_only_undeclared_resources_inside_the_globs_are_deleted_and_only_with_prune(
    emulator: Emulator, tmp_path: Path
) -> None:
    seed_account(emulator)
    path = write_file(tmp_path, FILE)
    the_plan = await plan(emulator, path)
    assert [c.key for c in the_plan.deletions] == ["janedoe~news-old", "janedoe~news-older"]
    assert [c.key for c in the_plan.schedule_deletions] == ["janedoe~nightly-old"]
    assert all(c.action is Action.DELETE for c in the_plan.deletions)
    assert the_plan.counts["delete"] == 2 and the_plan.schedule_counts["delete"] == 1
    assert the_plan.has_changes
    text = report.plan_text(the_plan)
    assert "- janedoe~news-old (delete)" in text and "- janedoe~nightly-old (delete)" in text
    assert "2 to delete" in text and "deletions are applied only with --prune" in text
    # without --prune: nothing is deleted, and the report says why
    skipped = await apply(emulator, path)
    gone = [r for r in skipped.results if r.deletion]
    assert [r.status for r in gone] == [Status.SKIPPED, Status.SKIPPED]
    assert "--prune" in (gone[0].error or "") and not skipped.ok
    assert emulator.state.get_task("~news-old") is not None
    assert not any(r.method == "DELETE" for r in emulator.log)
    # with --prune
    done = await apply(emulator, path, prune=True)
    assert done.ok, report.report_text(done)
    assert sorted(r.key for r in done.results if r.status is Status.DELETED) == [
        "janedoe~news-old",
        "janedoe~news-older",
    ]
    assert [r.status for r in done.schedules if r.deletion] == [Status.DELETED]
    assert done.to_json()["totals"]["deleted"] == 2
    assert "deleted: janedoe~news-old" in report.report_text(done)
    assert "deleted <code>janedoe~news-old</code>" in report.report_markdown(done)
    for gone_ref in ("~news-old", "~news-older"):
        assert emulator.state.get_task(gone_ref) is None
    assert emulator.state.get_schedule("~nightly-old") is None
    # declared, outside the globs, another user's: all still there
    for kept in ("~news-daily", "~weather-old", "bob~news-bob"):
        assert emulator.state.get_task(kept) is not None
    for kept in ("~nightly-news", "~weekly-old"):
        assert emulator.state.get_schedule(kept) is not None
    deletes = [r.path for r in emulator.log if r.method == "DELETE"]
    assert deletes[0].startswith("/v2/schedules/")  # the schedules first
    # the law: after apply with --prune, a plan shows no changes and no deletions
    again = await plan(emulator, path)
    assert not again.has_changes and not again.deletions and not again.schedule_deletions


async def test_nothing_is_deleted_without_a_prune_section(
    emulator: Emulator, tmp_path: Path
) -> None:
    seed_account(emulator)
    path = write_file(tmp_path, FILE.split("prune:")[0])
    the_plan = await plan(emulator, path, prune=True)
    assert not the_plan.deletions and not the_plan.schedule_deletions
    assert "delete" not in the_plan.counts and "owns" not in the_plan.to_json(
        include_payloads=False
    )
    done = await apply(emulator, path, prune=True)
    assert done.ok and "deleted" not in done.to_json()["totals"]
    assert not any(r.method == "DELETE" for r in emulator.log)


def test_the_command_line_without_then_with_prune(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        seed_account(emu)
        path = write_file(tmp_path, FILE)
        shown = run_cli("plan", path, "--format", "json", emu=emu)
        doc = json.loads(shown.out)
        assert doc["formatVersion"] == DELETIONS_FORMAT_VERSION
        assert doc["counts"]["delete"] == 2 and doc["scheduleCounts"]["delete"] == 1
        assert [d["key"] for d in doc["deletions"]] == ["janedoe~news-old", "janedoe~news-older"]
        assert doc["apply"]["needPrune"] == ["janedoe~news-old", "janedoe~news-older"]
        assert doc["owns"] == {"tasks": ["news-*"], "schedules": ["nightly-*"]}
        markdown = run_cli("plan", path, "--format", "markdown", emu=emu).out
        assert "| create | update | delete | unchanged | errors |" in markdown
        assert ":wastebasket: delete `janedoe~news-old`" in markdown
        assert "--prune" in markdown
        predicted = json.loads(run_cli("plan", path, "--prune", "--format", "json", emu=emu).out)
        assert predicted["apply"]["needPrune"] == [] and predicted["prune"] is True
        without = run_cli("apply", path, "--yes", emu=emu)
        assert without.code == 1 and "deletions are applied only with --prune" in without.output
        assert emu.state.get_task("~news-old") is not None
        out = tmp_path / "report.json"
        with_prune = run_cli("apply", path, "--yes", "--prune", "--report", str(out), emu=emu)
        assert with_prune.code == 0, with_prune.output
        assert emu.state.get_task("~news-old") is None
        saved = json.loads(out.read_text())
        deleted = [t for t in saved["tasks"] if t.get("deletion")]
        assert {t["status"] for t in deleted} == {"deleted"} and len(deleted) == 2
        assert emu.token not in with_prune.output + out.read_text()
        assert run_cli("plan", path, "--detailed-exitcode", emu=emu).code == 0


async def test_deletions_count_toward_the_safety_limit(emulator: Emulator, tmp_path: Path) -> None:
    for i in range(12):
        emulator.state.add_task(name=f"news-{i:02d}")
    entries = "".join(f"  - task: ~news-{i:02d}\n" for i in range(8))
    path = write_file(tmp_path, f"version: 1\ntasks:\n{entries}prune:\n  tasks: ['news-*']\n")
    the_plan = await plan(emulator, path)
    assert len(the_plan.deletions) == 4
    assert the_plan.safety_refusal() is None  # without --prune the deletions are not applied
    pruning = await plan(emulator, path, prune=True)
    assert "4 of 12 tasks" in (pruning.safety_refusal() or "")
    assert "apply would refuse this plan" in report.plan_text(pruning)
    async with sync.Session(settings(emulator)) as session:
        with pytest.raises(UnsafePlanError):
            await session.apply(the_plan, prune=True)
    assert emulator.state.get_task("~news-11") is not None
    forced = await apply(emulator, path, prune=True)
    assert forced.ok and emulator.state.get_task("~news-11") is None


async def test_a_task_that_a_kept_schedule_runs_is_not_deleted(
    emulator: Emulator, tmp_path: Path
) -> None:
    old = emulator.state.add_task(name="news-old")
    runs_old = [{"type": "RUN_ACTOR_TASK", "actorTaskId": old["id"]}]
    emulator.state.add_task(name="news-daily")
    emulator.state.add_schedule(name="weekly-keep", cronExpression="@weekly", actions=runs_old)
    path = write_file(tmp_path, FILE)
    the_plan = await plan(emulator, path, prune=True)
    [refused] = the_plan.deletions
    assert refused.action is Action.ERROR and the_plan.has_errors
    assert refused.key == "janedoe~news-old" and "janedoe~weekly-keep" in (refused.error or "")
    assert "! janedoe~news-old: cannot be deleted" in report.plan_text(the_plan)
    done = await apply(emulator, path, prune=True)
    assert [r.status for r in done.results if r.deletion] == [Status.FAILED]
    assert emulator.state.get_task("~news-old") is not None
    # a schedule the file declares runs what its actions say
    declared = FILE.replace("      - task: janedoe~news-daily\n", "      - task: ~news-old\n")
    the_plan = await plan(emulator, write_file(tmp_path, declared, "declared.yaml"))
    assert "~nightly-news" in (the_plan.deletions[0].error or "")


async def test_a_schedule_and_the_task_it_runs_are_deleted_schedule_first(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.state.add_task(name="news-daily")
    old = emulator.state.add_task(name="news-old")
    emulator.state.add_schedule(
        name="nightly-old",
        cronExpression="0 1 * * *",
        actions=[{"type": "RUN_ACTOR_TASK", "actorTaskId": old["id"]}],
    )
    path = write_file(tmp_path, FILE)
    done = await apply(emulator, path, prune=True, create_missing=True)
    assert done.ok, report.report_text(done)
    deletes = [r.path for r in emulator.log if r.method == "DELETE"]
    schedule_id = done.schedules[-1].task_id
    assert deletes == [f"/v2/schedules/{schedule_id}", f"/v2/actor-tasks/{old['id']}"]


async def test_a_saved_plan_carries_deletions_and_skips_a_stale_one(
    emulator: Emulator, tmp_path: Path
) -> None:
    seed_account(emulator)
    path = write_file(tmp_path, FILE)
    made = await plan(emulator, path, prune=True)
    doc = json.loads(json.dumps(made.to_json(key=plan_key(emulator.token))))
    assert doc["formatVersion"] == DELETIONS_FORMAT_VERSION and doc["prune"] is True
    saved = Plan.from_json(doc, environ={}, key=plan_key(emulator.token))
    assert saved.deletions == made.deletions and saved.prune
    assert saved.schedule_deletions == made.schedule_deletions
    emulator.state.update_task("~news-old", {"title": "touched in the Console"})
    emulator.state.delete_task("~news-older")  # already gone: a success
    done = await apply(emulator, saved)
    statuses = {r.key: r.status for r in done.results if r.deletion}
    assert statuses == {"janedoe~news-old": Status.STALE, "janedoe~news-older": Status.DELETED}
    stale = next(r for r in done.results if r.status is Status.STALE)
    assert "modified" in (stale.error or "")
    assert emulator.state.get_task("~news-old") is not None
    assert emulator.state.get_schedule("~nightly-old") is None


@pytest.mark.parametrize("kind", [{"kind": "drop_after"}, {"status": 503}])
async def test_a_lost_delete_is_retried_and_a_404_on_retry_is_success(
    emulator: Emulator, tmp_path: Path, kind: dict[str, object]
) -> None:
    seed_account(emulator)
    path = write_file(tmp_path, FILE)
    emulator.faults.schedule(count=1, method="DELETE", path_prefix="/v2/actor-tasks", **kind)
    done = await apply(emulator, path, prune=True)
    assert done.ok, report.report_text(done)
    assert all(r.status is Status.DELETED for r in done.results if r.deletion)
    assert done.requests["retried"] >= 1
    assert emulator.state.get_task("~news-old") is None
    assert emulator.state.get_task("~news-older") is None


async def test_an_interrupt_mid_deletion_loses_nothing_and_a_rerun_converges(
    emulator: Emulator, tmp_path: Path
) -> None:
    seed_account(emulator)
    path = write_file(tmp_path, FILE)
    the_plan = await plan(emulator, path, prune=True)
    interrupt = Interrupt()

    def progress(phase: str, done: int, total: int, errors: int) -> None:
        if phase == "delete" and done == 1:
            interrupt.stop.set()  # as Ctrl-C after the first deletion

    async with sync.Session(
        settings(emulator, concurrency=1), interrupt=interrupt, progress=progress
    ) as session:
        first = await session.apply(the_plan, force=True)
    assert first.interrupted and first.exit_code == 130
    gone = [r for r in (*first.results, *first.schedules) if r.deletion]
    assert len(gone) == 3  # every deletion has a result
    assert sorted(r.status.value for r in gone) == ["deleted", "skipped", "skipped"]
    done = await apply(emulator, path, prune=True)
    assert done.ok, report.report_text(done)
    again = await plan(emulator, path)
    assert not again.has_changes and not again.deletions and not again.schedule_deletions


async def test_target_and_match_narrow_deletions(emulator: Emulator, tmp_path: Path) -> None:
    seed_account(emulator)
    path = write_file(tmp_path, FILE)
    targeted = await plan(emulator, path, targets=["~news-older"])  # type: ignore[arg-type]
    assert [c.key for c in targeted.deletions] == ["janedoe~news-older"]
    assert not targeted.changes and not targeted.schedule_deletions
    matched = await plan(emulator, path, match="*-old")  # type: ignore[arg-type]
    assert [c.key for c in matched.deletions] == ["janedoe~news-old"]
    emulator.clear_requests()
    with pytest.raises(TasksyncError, match="nor one that its prune: section owns: ~weather-old"):
        await plan(emulator, path, targets=["~weather-old"])  # type: ignore[arg-type]
    assert emulator.requests == [], "a target no glob can own is refused before any request"
    with pytest.raises(TasksyncError, match="names no task of the file: ~news-gone"):
        await plan(emulator, path, targets=["~news-gone"])  # type: ignore[arg-type]
    assert emulator.requests, "one a glob may own is known only after the listing"


async def test_a_task_that_a_schedule_made_since_the_plan_runs_is_skipped(
    emulator: Emulator, tmp_path: Path
) -> None:
    seed_account(emulator)
    path = write_file(tmp_path, FILE)
    made = await plan(emulator, path, prune=True)
    key = plan_key(emulator.token)
    saved = Plan.from_json(made.to_json(key=key), environ={}, key=key)
    old = emulator.state.get_task("~news-old")
    assert old is not None
    emulator.state.add_schedule(
        name="weekly-new",
        cronExpression="@weekly",
        actions=[{"type": "RUN_ACTOR_TASK", "actorTaskId": old["id"]}],
    )
    emulator.state.update_schedule("~nightly-old", {"title": "touched"})
    done = await apply(emulator, saved)
    results = {r.key: r for r in (*done.results, *done.schedules) if r.deletion}
    assert results["janedoe~news-old"].status is Status.SKIPPED
    assert "janedoe~weekly-new still runs it" in (results["janedoe~news-old"].error or "")
    assert results["janedoe~news-older"].status is Status.DELETED
    assert results["janedoe~nightly-old"].status is Status.STALE
    assert emulator.state.get_task("~news-old") is not None
    assert emulator.state.get_schedule("~nightly-old") is not None
