"""``tasksync apply`` against the emulator: convergence, minimal writes, faults, saved plans,
safety, confirmation, creation and reports (interruption: test_interrupt.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from support import run_cli, seed, threaded_emulator, write_file

from tasksync import sync
from tasksync.emulator import Emulator
from tasksync.jsonutil import json_equal
from tasksync.model import Status
from tasksync.throttle import RetryPolicy

FAST = RetryPolicy(base_delay=0.01, attempt_timeout=2.0)


def many_tasks(emu: Emulator, tmp_path: Path, count: int, changed_every: int) -> str:
    """Seed ``count`` tasks, every ``changed_every``-th drifted; write the file that fixes them."""
    lines = ["version: 1", "safety: {maxChangedFraction: 1.0}", "tasks:"]
    for i in range(count):
        drift = i % changed_every == 0
        seed(
            emu,
            f"task-{i:04d}",
            options={"build": "latest", "memoryMbytes": 512 if drift else 1024},
            input={"n": i, "extra": "x"} if drift else {"n": i},
        )
        lines += [
            f"  - task: janedoe~task-{i:04d}",
            "    options: {memoryMbytes: 1024}",
            f"    input: {{n: {i}}}",
        ]
    return write_file(tmp_path, "\n".join(lines) + "\n")


def assert_converged(emu: Emulator, count: int) -> None:
    for i in range(count):
        task = emu.state.get_task(f"janedoe~task-{i:04d}")
        assert task is not None
        assert task["options"]["memoryMbytes"] == 1024, i
        assert task["options"]["build"] == "latest", i
        assert json_equal(task["input"], {"n": i}), i


def puts(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "PUT"]


def test_apply_converges_and_writes_only_changed_tasks(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    summary = tmp_path / "summary.md"
    step_summary = tmp_path / "step.md"
    with threaded_emulator() as emu:
        path = many_tasks(emu, tmp_path, 40, changed_every=4)
        emu.clear_requests()
        result = run_cli(
            "apply",
            path,
            "--yes",
            "--report",
            str(report_path),
            "--summary",
            str(summary),
            emu=emu,
            environ={"GITHUB_STEP_SUMMARY": str(step_summary)},
        )
        assert result.code == 0, result.output
        assert_converged(emu, 40)
        written = sorted(r.path for r in puts(emu))
        assert written == sorted(
            f"/v2/actor-tasks/{emu.state.get_task(f'janedoe~task-{i:04d}')['id']}"
            for i in range(0, 40, 4)
        )
        # one GET per task, two for the input schema (the Actor, then its build), and the check
        assert sum(r.method == "GET" for r in emu.requests) == 40 + 2 + 1
        assert sum(r.path == "/v2/users/me" for r in emu.requests) == 1
        assert not [r for r in emu.requests if r.method == "POST"]
        again = run_cli("plan", path, "--detailed-exitcode", emu=emu)
    assert again.code == 0, again.output
    report = json.loads(report_path.read_text())
    assert report["formatVersion"] == 1 and report["command"] == "apply"
    assert report["totals"] == {
        "unchanged": 30,
        "updated": 10,
        "created": 0,
        "failed": 0,
        "stale": 0,
        "skipped": 0,
    }
    assert report["requests"]["total"] == 53  # the check, 40 + 2 GETs and 10 PUTs
    entry = next(t for t in report["tasks"] if t["key"] == "janedoe~task-0000")
    assert entry["status"] == "updated" and entry["attempts"] == 1
    assert {c["path"] for c in entry["changes"]} == {"/options/memoryMbytes", "/input/extra"}
    assert "| unchanged | updated |" in summary.read_text()
    assert summary.read_text() in step_summary.read_text()


@pytest.mark.faults
@pytest.mark.parametrize("semantics", ["merge", "replace"])
async def test_apply_converges_under_faults(
    emulator: Emulator, tmp_path: Path, semantics: str
) -> None:
    emulator.settings.options_semantics = semantics
    path = many_tasks(emulator, tmp_path, 60, changed_every=2)
    emulator.settings.error_rate = 0.05
    emulator.settings.drop_before_rate = 0.02
    emulator.settings.drop_after_rate = 0.02
    emulator.faults.schedule(count=10, status=429, method="PUT", path_prefix="/v2/actor-tasks")
    settings = sync.Settings(token=emulator.token, api_url=emulator.url, retry=FAST)
    plan = await sync.plan(path, settings=settings, environ={})
    report = await sync.apply(plan, settings=settings, force=True)
    assert report.ok, [r for r in report.results if r.status is not Status.UPDATED]
    assert report.totals["updated"] == 30
    emulator.settings.error_rate = emulator.settings.drop_before_rate = 0.0
    emulator.settings.drop_after_rate = 0.0
    assert_converged(emulator, 60)
    # Every PUT of one task carried the same body: retries never changed what was written.
    bodies: dict[str, set[str]] = {}
    for r in puts(emulator):
        bodies.setdefault(r.path, set()).add(json.dumps(r.body, sort_keys=True))
    assert all(len(b) == 1 for b in bodies.values())
    again = await sync.plan(path, settings=settings, environ={})
    assert not again.has_changes


def test_saved_plan_skips_stale_tasks_by_their_managed_fields(tmp_path: Path) -> None:
    plan_path = str(tmp_path / "plan.json")
    with threaded_emulator() as emu:
        path = many_tasks(emu, tmp_path, 6, changed_every=1)
        assert run_cli("plan", path, "--out", plan_path, emu=emu).code == 0
        moved = emu.state.get_task("janedoe~task-0002")
        emu.state.update_task(moved["id"], {"options": {"timeoutSecs": 60}})  # sent whole
        titled = emu.state.get_task("janedoe~task-0003")
        emu.state.update_task(titled["id"], {"title": "edited in the Console"})  # not managed
        emu.clear_requests()
        result = run_cli("apply", plan_path, "--yes", emu=emu)
        gets = [r for r in emu.requests if r.method == "GET" and r.path != "/v2/users/me"]
        assert len(gets) == 6 and all(r.path.startswith("/v2/actor-tasks/") for r in gets)
        assert len(puts(emu)) == 5
        assert emu.state.get_task("janedoe~task-0003")["title"] == "edited in the Console"
    assert result.code == 1
    assert "stale: janedoe~task-0002" in result.out and "stale: janedoe~task-0003" not in result.out


def test_saved_plan_sees_a_change_that_left_modified_at_alone(tmp_path: Path) -> None:
    plan_path = str(tmp_path / "plan.json")
    with threaded_emulator() as emu:
        path = many_tasks(emu, tmp_path, 1, changed_every=1)
        assert run_cli("plan", path, "--out", plan_path, emu=emu).code == 0
        with emu.state.core.lock:  # an update that does not move modifiedAt
            emu.state.actor_tasks.resolve("janedoe~task-0000", None)["input"]["n"] = 99
        emu.clear_requests()
        result = run_cli("apply", plan_path, "--yes", emu=emu)
        assert puts(emu) == []
    assert result.code == 1 and "stale: janedoe~task-0000" in result.out


def test_saved_plan_rejects_edits(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    with threaded_emulator() as emu:
        path = many_tasks(emu, tmp_path, 2, changed_every=1)
        run_cli("plan", path, "--out", str(plan_path), emu=emu)
        doc = json.loads(plan_path.read_text())
        doc["tasks"][0]["payload"]["options"]["memoryMbytes"] = 32768
        plan_path.write_text(json.dumps(doc))
        result = run_cli("apply", str(plan_path), "--yes", emu=emu)
        assert puts(emu) == []
    assert result.code == 1 and "checksum" in result.err


def test_saved_plan_rereads_secrets_and_marks_changed_ones_stale(tmp_path: Path) -> None:
    plan_path = str(tmp_path / "plan.json")
    text = "version: 1\ntasks:\n  - task: janedoe~sss\n    input: {apiKey: '${KEY}', q: 2}\n"
    with threaded_emulator() as emu:
        seed(emu, "sss", actor="janedoe~my-actor", input={"apiKey": "first", "q": 1})
        path = write_file(tmp_path, text)
        rotate = ("--rotate-secrets",)  # else the stored secret is kept: the value is not sent
        run_cli("plan", path, "--out", plan_path, *rotate, emu=emu, environ={"KEY": "second"})
        changed = run_cli("apply", plan_path, "--yes", emu=emu, environ={"KEY": "other"})
        assert changed.code == 1 and "changed since the plan" in changed.out
        assert puts(emu) == []
        ok = run_cli("apply", plan_path, "--yes", emu=emu, environ={"KEY": "second"})
        assert ok.code == 0, ok.output
        stored = emu.state.get_task("janedoe~sss")["input"]["apiKey"]
        assert emu.state.secret_plaintext(stored) == "second"


def test_safety_limit_refuses_unless_forced(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        path = many_tasks(emu, tmp_path, 10, changed_every=2)
        text = Path(path).read_text().replace("maxChangedFraction: 1.0", "maxChangedFraction: 0.3")
        Path(path).write_text(text)
        refused = run_cli("apply", path, "--yes", emu=emu)
        assert puts(emu) == []
        forced = run_cli("apply", path, "--yes", "--force", emu=emu)
        assert_converged(emu, 10)
    assert refused.code == 1
    assert "5 of 10 tasks (50%)" in refused.err and "--force" in refused.err
    assert forced.code == 0


def test_confirmation(tmp_path: Path) -> None:
    with threaded_emulator() as emu:
        path = many_tasks(emu, tmp_path, 2, changed_every=1)
        no_tty = run_cli("apply", path, emu=emu)
        declined = run_cli("apply", path, emu=emu, tty=True, stdin="no\n")
        assert puts(emu) == []
        accepted = run_cli("apply", path, emu=emu, tty=True, stdin="yes\n")
        assert len(puts(emu)) == 2
    assert no_tty.code == 1 and "--yes" in no_tty.err
    assert declined.code == 1 and "nothing was changed" in declined.err
    assert accepted.code == 0


def test_create_missing(tmp_path: Path) -> None:
    text = """\
    version: 1
    tasks:
      - task: janedoe~brand-new
        actor: apify~web-scraper
        title: New one
        options: {memoryMbytes: 2048}
        input: {q: 1}
    """
    with threaded_emulator() as emu:
        path = write_file(tmp_path, text)
        skipped = run_cli("apply", path, "--yes", emu=emu)
        assert skipped.code == 1 and "--create-missing" in skipped.out
        assert emu.state.get_task("janedoe~brand-new") is None
        # The first POST is applied but its answer is lost: the client must find the task by
        # name instead of creating a second one.
        emu.faults.schedule(
            count=1, kind="drop_after", method="POST", path_prefix="/v2/actor-tasks"
        )
        created = run_cli("apply", path, "--yes", "--create-missing", emu=emu)
        assert created.code == 0, created.output
        task = emu.state.get_task("janedoe~brand-new")
        assert task["title"] == "New one" and task["options"]["memoryMbytes"] == 2048
        names = [t["name"] for t in emu.state.tasks()]
        assert names.count("brand-new") == 1
        assert run_cli("plan", path, "--detailed-exitcode", emu=emu).code == 0


async def test_answer_that_differs_from_the_payload_is_a_failure(tmp_path: Path) -> None:
    """A server that accepts a PUT but keeps the old values must not count as converged."""
    stored = {
        "id": "A" * 17,
        "name": "aaa",
        "username": "janedoe",
        "userId": "u",
        "actId": "x",
        "modifiedAt": "2026-01-01T00:00:00.000Z",
        "options": {"memoryMbytes": 1024},
        "input": {},
    }

    async def get(request: web.Request) -> web.Response:
        return web.json_response({"data": stored})

    async def me(request: web.Request) -> web.Response:
        return web.json_response({"data": {"id": "u", "username": "janedoe"}})

    app = web.Application()
    app.router.add_get("/v2/users/me", me)
    app.router.add_get("/v2/actor-tasks/{id}", get)
    app.router.add_put("/v2/actor-tasks/{id}", get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        path = write_file(
            tmp_path,
            "version: 1\ntasks:\n  - task: janedoe~aaa\n    options: {memoryMbytes: 2048}\n",
        )
        settings = sync.Settings(token="tok-jane", api_url=f"http://127.0.0.1:{port}", retry=FAST)
        plan = await sync.plan(path, settings=settings, environ={}, check_inputs=False)
        report = await sync.apply(plan, settings=settings, force=True)
    finally:
        await runner.cleanup()
    (result,) = report.results
    assert result.status is Status.FAILED
    assert result.error_type == "did-not-converge" and "/options/memoryMbytes" in str(result.error)


async def test_an_unexpected_error_costs_one_task_not_the_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A library caller's plan with a value JSON cannot encode: that task fails with the cause,
    the others are applied and the report is complete."""
    for name in ("good1", "bad", "good2"):
        seed(emulator, name, options={"build": "latest"}, input={"q": 1})
    path = write_file(
        tmp_path,
        "version: 1\ntasks:\n"
        + "".join(
            f"  - task: janedoe~{n}\n    input: {{q: 2}}\n" for n in ("good1", "bad", "good2")
        ),
    )
    settings = sync.Settings(token=emulator.token, api_url=emulator.url, retry=FAST)
    plan = await sync.plan(path, settings=settings, environ={})
    changes = list(plan.changes)
    changes[1] = replace(changes[1], payload={"input": {"q": {1, 2}}})  # a set: not JSON
    report = await sync.apply(replace(plan, changes=tuple(changes)), settings=settings, force=True)
    status = {r.key: r for r in report.results}
    assert status["janedoe~good1"].status is Status.UPDATED
    assert status["janedoe~good2"].status is Status.UPDATED
    bad = status["janedoe~bad"]
    assert bad.status is Status.FAILED and bad.error_type == "internal-error"
    assert "TypeError" in str(bad.error)
    assert emulator.state.get_task("janedoe~good2")["input"] == {"q": 2}  # type: ignore[index]
    assert emulator.state.get_task("janedoe~bad")["input"] == {"q": 1}  # type: ignore[index]


async def test_tasks_that_could_not_be_planned_say_why_in_the_report(
    emulator: Emulator, tmp_path: Path
) -> None:
    for name in ("fine", "flaky", "dropped"):
        seed(emulator, name, options={"build": "latest"}, input={"q": 1})
    names = ("fine", "flaky", "dropped", "absent")
    path = write_file(
        tmp_path,
        "version: 1\ntasks:\n"
        + "".join(f"  - task: janedoe~{n}\n    input: {{q: 2}}\n" for n in names),
    )
    retry = RetryPolicy(max_attempts=2, base_delay=0.01, attempt_timeout=2.0)
    settings = sync.Settings(token=emulator.token, api_url=emulator.url, retry=retry)
    emulator.faults.schedule(count=2, status=500, path_prefix="/v2/actor-tasks/janedoe~flaky")
    emulator.faults.schedule(  # aiohttp resends a GET once by itself after a drop
        count=4, kind="drop_before", path_prefix="/v2/actor-tasks/janedoe~dropped"
    )
    plan = await sync.plan(path, settings=settings, environ={})
    report = await sync.apply(plan, settings=settings, force=True)
    kinds = {r.key: (r.status.value, r.error_type) for r in report.results}
    assert kinds == {
        "janedoe~fine": ("updated", None),
        "janedoe~flaky": ("failed", "internal-server-error"),
        "janedoe~dropped": ("failed", "transport-error"),
        "janedoe~absent": ("failed", "record-not-found"),
    }


def test_revoked_token_mid_run_stops_and_reports(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    with threaded_emulator() as emu:
        path = many_tasks(emu, tmp_path, 8, changed_every=1)
        emu.faults.schedule(count=100, status=401, method="PUT", path_prefix="/v2/actor-tasks")
        result = run_cli("apply", path, "--yes", "--report", str(report_path), emu=emu)
    assert result.code == 1 and "Traceback" not in result.output
    report = json.loads(report_path.read_text())
    assert "token" in report["error"]
    assert report["totals"]["updated"] == 0
    assert report["totals"]["failed"] + report["totals"]["skipped"] == 8


# -- the safety limit, on its boundaries -----------------------------------------------------------


def safety_file(
    emu: Emulator, tmp_path: Path, *, total: int, updates: int, creates: int, min_tasks: int
) -> str:
    """``total`` tasks under a limit of 30% from ``min_tasks`` tasks on: the first ``creates``
    do not exist yet, the next ``updates`` drifted, the others are as the file says."""
    lines = [
        "version: 1",
        f"safety: {{maxChangedFraction: 0.3, minTasks: {min_tasks}}}",
        "tasks:",
    ]
    for i in range(total):
        name = f"task-{i:04d}"
        lines += [f"  - task: janedoe~{name}", f"    input: {{n: {i}}}"]
        if i < creates:
            lines.append("    actor: apify~web-scraper")
        else:
            seed(emu, name, input={"n": i + 1000 if i < creates + updates else i})
    return write_file(tmp_path, "\n".join(lines) + "\n")


SAFETY_CASES = {
    # "more than 30%": exactly 30% is allowed, one more task is not
    "3-of-10-updated": (10, 3, 0, 10, False),
    "4-of-10-updated": (10, 4, 0, 10, True),
    # creations are changes too
    "3-of-10-created": (10, 0, 3, 10, False),
    "4-of-10-created": (10, 0, 4, 10, True),
    "2-updated-2-created-of-10": (10, 2, 2, 10, True),
    # the limit is checked from minTasks tasks on: not below, but at exactly minTasks
    "4-of-4-below-min-tasks": (4, 4, 0, 5, False),
    "2-of-5-at-min-tasks": (5, 2, 0, 5, True),
    "1-of-5-at-min-tasks": (5, 1, 0, 5, False),
}


@pytest.mark.parametrize(
    ("total", "updates", "creates", "min_tasks", "refused"),
    list(SAFETY_CASES.values()),
    ids=list(SAFETY_CASES),
)
def test_safety_limit_boundaries(
    tmp_path: Path, total: int, updates: int, creates: int, min_tasks: int, refused: bool
) -> None:
    changed = updates + creates
    with threaded_emulator() as emu:
        path = safety_file(
            emu, tmp_path, total=total, updates=updates, creates=creates, min_tasks=min_tasks
        )
        result = run_cli("apply", path, "--yes", "--create-missing", emu=emu)
        writes = [r for r in emu.requests if r.method in ("PUT", "POST")]
    if refused:
        assert result.code == 1, result.output
        share = f"{changed} of {total} tasks ({changed / total:.0%})"
        assert share in result.err and "safety limit of 30%" in result.err, result.err
        assert writes == []
    else:
        assert result.code == 0, result.output
        assert "safety limit" not in result.output
        assert sorted(r.method for r in writes) == ["POST"] * creates + ["PUT"] * updates


# -- saved plans whose world moved -----------------------------------------------------------------


def test_saved_plan_is_stale_when_its_task_was_deleted(tmp_path: Path) -> None:
    plan_path, report_path = str(tmp_path / "plan.json"), tmp_path / "report.json"
    with threaded_emulator() as emu:
        path = many_tasks(emu, tmp_path, 3, changed_every=1)
        assert run_cli("plan", path, "--out", plan_path, emu=emu).code == 0
        gone = emu.state.get_task("janedoe~task-0001")
        emu.state.delete_task(gone["id"])
        emu.clear_requests()
        result = run_cli("apply", plan_path, "--yes", "--report", str(report_path), emu=emu)
        written = sorted(r.path for r in puts(emu))
        assert gone["id"] not in " ".join(written)  # read again before writing, never written
        assert len(written) == 2
        assert emu.state.get_task("janedoe~task-0001") is None  # not brought back either
    assert result.code == 1, result.output
    assert "stale: janedoe~task-0001" in result.out
    statuses = {t["key"]: t["status"] for t in json.loads(report_path.read_text())["tasks"]}
    assert statuses == {
        "janedoe~task-0000": "updated",
        "janedoe~task-0001": "stale",
        "janedoe~task-0002": "updated",
    }
    entry = json.loads(report_path.read_text())["tasks"][1]
    assert entry["error"]["message"] == "the task no longer exists"


def test_saved_plan_is_stale_when_the_name_it_creates_was_taken(tmp_path: Path) -> None:
    plan_path, report_path = str(tmp_path / "plan.json"), tmp_path / "report.json"
    text = """\
    version: 1
    tasks:
      - task: janedoe~brand-new
        actor: apify~web-scraper
        input: {q: 1}
      - task: janedoe~other-new
        actor: apify~web-scraper
        input: {q: 2}
    """
    with threaded_emulator() as emu:
        path = write_file(tmp_path, text)
        assert run_cli("plan", path, "--out", plan_path, emu=emu).code == 0
        taken = seed(emu, "brand-new", input={"q": "someone else's"})  # created meanwhile
        emu.clear_requests()
        result = run_cli(
            "apply", plan_path, "--yes", "--create-missing", "--report", str(report_path), emu=emu
        )
        posts = [r.body["name"] for r in emu.requests if r.method == "POST"]
        assert posts == ["other-new"]
        assert emu.state.get_task("janedoe~brand-new") == taken  # left alone
        assert [t["name"] for t in emu.state.tasks("janedoe")].count("brand-new") == 1
    assert result.code == 1, result.output
    assert "stale: janedoe~brand-new" in result.out
    tasks = {t["key"]: t for t in json.loads(report_path.read_text())["tasks"]}
    assert tasks["janedoe~other-new"]["status"] == "created"
    assert tasks["janedoe~brand-new"]["status"] == "stale"
    assert "a task of that name was created" in tasks["janedoe~brand-new"]["error"]["message"]
