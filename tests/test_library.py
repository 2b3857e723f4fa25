"""The library API (``tasksync.Session``): the command line's defaults, and values that flow
forward (a result carries its own request counts)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from support import seed, write_file

import tasksync
import tasksync.sync
from tasksync.emulator import Emulator
from tasksync.errors import UnsafePlanError
from tasksync.model import Status
from tasksync.run import Interrupt
from tasksync.throttle import RetryPolicy

FAST = RetryPolicy(base_delay=0.01, attempt_timeout=5.0)


def _settings(emulator: Emulator, **overrides: object) -> tasksync.Settings:
    return tasksync.Settings(
        token=emulator.token,
        api_url=emulator.url,
        retry=FAST,
        **overrides,  # type: ignore[arg-type]
    )


def _file(tmp_path: Path, names: list[str], *, actor: bool = False) -> str:
    entries = "".join(
        f"  - task: janedoe~{n}\n    input: {{q: 2}}\n"
        + ("    actor: apify~web-scraper\n" if actor else "")
        for n in names
    )
    return write_file(tmp_path, "version: 1\ntasks:\n" + entries)


async def test_apply_refuses_an_unsafe_plan_unless_forced(
    emulator: Emulator, tmp_path: Path
) -> None:
    names = [f"task-{i}" for i in range(10)]
    for name in names:
        seed(emulator, name, input={"q": 1})
    settings = _settings(emulator)
    plan = await tasksync.sync.plan(_file(tmp_path, names), settings=settings, environ={})
    assert plan.counts["update"] == 10
    with pytest.raises(UnsafePlanError, match="10 of 10 tasks"):
        await tasksync.sync.apply(plan, settings=settings)
    assert all(r.method == "GET" for r in emulator.requests), "nothing may be written"
    report = await tasksync.sync.apply(plan, settings=settings, force=True)
    assert report.ok and report.totals["updated"] == 10


async def test_apply_creates_nothing_unless_asked(emulator: Emulator, tmp_path: Path) -> None:
    settings = _settings(emulator)
    async with tasksync.Session(settings, environ={}) as session:
        plan = await session.plan(_file(tmp_path, ["fresh"], actor=True))
        assert plan.counts["create"] == 1
        skipped = await session.apply(plan)
        assert [r.status for r in skipped.results] == [Status.SKIPPED]
        assert "--create-missing" in str(skipped.results[0].error)
        assert emulator.state.get_task("janedoe~fresh") is None
        created = await session.apply(plan, create_missing=True)
    assert [r.status for r in created.results] == [Status.CREATED]


async def test_the_one_shot_helpers_delete_only_with_prune(
    emulator: Emulator, tmp_path: Path
) -> None:
    for name in ("kept", "old-1", "old-2", "old-3"):
        seed(emulator, name, input={"q": 2})
    text = "version: 1\ntasks:\n  - task: janedoe~kept\n    input: {q: 2}\nprune:\n  tasks: ['*']\n"
    path = write_file(tmp_path, text)
    settings = _settings(emulator)
    plan = await tasksync.sync.plan(path, settings=settings, environ={})
    assert len(plan.deletions) == 3 and not plan.prune
    kept = await tasksync.sync.apply(plan, settings=settings, force=True)
    assert all(r.status is Status.SKIPPED for r in kept.results if r.deletion)
    assert emulator.state.get_task("janedoe~old-1") is not None
    pruned = await tasksync.sync.plan(path, settings=settings, environ={}, prune=True)
    report = await tasksync.sync.apply(pruned, settings=settings, force=True)
    assert sorted(r.key for r in report.results if r.status is Status.DELETED) == [
        "janedoe~old-1",
        "janedoe~old-2",
        "janedoe~old-3",
    ]
    assert [t["name"] for t in emulator.state.tasks()] == ["kept"]


async def test_the_report_counts_the_requests_of_the_plan_and_the_writes(
    emulator: Emulator, tmp_path: Path
) -> None:
    seed(emulator, "one", input={"q": 1})
    emulator.faults.schedule(count=2, status=500, method="PUT", path_prefix="/v2/actor-tasks")
    async with tasksync.Session(_settings(emulator), environ={}) as session:
        plan = await session.plan(_file(tmp_path, ["one"]))
        report = await session.apply(plan)
    # the check (GET /v2/users/me), the task, and the input schema (the Actor, then its build)
    assert plan.requests.total == 4
    assert report.results[0].attempts == 3
    assert report.requests == {"total": 7, "retried": 2, "rateLimited": 0}
    assert len(emulator.requests) == 7


async def test_a_write_cancelled_in_flight_does_not_report_the_previous_ones_attempts(
    emulator: Emulator, tmp_path: Path
) -> None:
    """On one worker, a task that took three attempts, then one cancelled in flight: the second
    reports the one attempt it is known to have made (the count used to leak from the first)."""
    for name in ("first", "second"):
        seed(emulator, name, input={"q": 1})
    path = _file(tmp_path, ["first", "second"])
    emulator.faults.schedule(count=2, status=500, method="PUT", path_prefix="/v2/actor-tasks")
    interrupt = Interrupt()

    async def cancel_once_the_second_write_stalls() -> None:
        while emulator.faults.scheduled:  # noqa: ASYNC110 (the emulator has no event for it)
            await anyio.sleep(0.01)
        interrupt.cancel_now()

    def progress(phase: str, done: int, total: int, errors: int) -> None:
        if phase == "apply" and done == 1:  # the first write is done: stall the next one
            emulator.faults.schedule(kind="stall", seconds=30, method="PUT")
            tg.start_soon(cancel_once_the_second_write_stalls)

    settings = _settings(emulator, concurrency=1)
    async with (
        anyio.create_task_group() as tg,
        tasksync.Session(settings, environ={}, progress=progress, interrupt=interrupt) as session,
    ):
        plan = await session.plan(path)
        report = await session.apply(plan)
    first, second = report.results
    assert (first.status, first.attempts) == (Status.UPDATED, 3)
    assert (second.status, second.error_type) == (Status.FAILED, "interrupted")
    assert second.attempts == 1
    assert report.interrupted
