"""Renderers and the Report value: pure functions over plans and results."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from tasksync.console import ProgressPrinter
from tasksync.model import (
    Action,
    ChangeKind,
    FieldChange,
    RequestStats,
    Status,
    TaskChange,
    TaskResult,
)
from tasksync.plan import Plan
from tasksync.report import Report, plan_markdown, plan_text, report_markdown, report_text

CHANGES = (
    FieldChange("/options/memoryMbytes", ChangeKind.CHANGE, 1024, 2048),
    FieldChange("/input/new", ChangeKind.ADD, None, {"a": 1}),
    FieldChange("/input/old", ChangeKind.REMOVE, "x", None),
)
PLAN = Plan(
    (
        TaskChange("janedoe~a", Action.UPDATE, task_id="A" * 17, changes=CHANGES),
        TaskChange("janedoe~b", Action.NOOP, task_id="B" * 17),
        TaskChange("janedoe~c", Action.ERROR, error="task not found"),
    )
)


def test_plan_text_plain_and_colored() -> None:
    text = plan_text(PLAN)
    assert text.splitlines() == [
        f"~ janedoe~a (update {'A' * 17})",
        "    ~ /options/memoryMbytes: 1024 -> 2048",
        '    + /input/new: {"a": 1}',
        '    - /input/old: "x"',
        "! janedoe~c: task not found",
        "",
        "Plan: 0 to create, 1 to update, 1 unchanged, 1 with errors.",
    ]
    assert "\x1b[" not in text
    assert "\x1b[33m" in plan_text(PLAN, color=True)


def test_long_values_are_shortened() -> None:
    change = FieldChange("/input/x", ChangeKind.ADD, None, "y" * 1000)
    text = plan_text(Plan((TaskChange("k", Action.UPDATE, changes=(change,)),)))
    assert "..." in text and len(text) < 400


def test_plan_markdown() -> None:
    md = plan_markdown(PLAN)
    assert "| 0 | 1 | 1 | 1 |" in md
    assert "```diff" in md and "! /options/memoryMbytes: 1024 -> 2048" in md
    assert ":x: `janedoe~c`: task not found" in md


def test_report_totals_exit_status_and_renderings() -> None:
    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    results = [
        TaskResult("janedoe~a", Status.UPDATED, changes=CHANGES, requests=RequestStats(2, 1)),
        TaskResult("janedoe~b", Status.UNCHANGED),
        TaskResult("janedoe~c", Status.FAILED, error_type="record-not-found", error="gone"),
    ]
    report = Report("apply", start, start + timedelta(seconds=2), results, {"total": 4})
    assert report.totals["updated"] == 1 and report.totals["failed"] == 1
    assert not report.ok
    doc = report.to_json()
    assert doc["durationSecs"] == 2.0 and doc["startedAt"] == "2026-11-28T12:00:00.000Z"
    assert doc["tasks"][2]["error"] == {"type": "record-not-found", "message": "gone"}
    assert "failed: janedoe~c: gone" in report_text(report)
    assert "<details><summary>updated <code>janedoe~a</code>" in report_markdown(report)
    assert Report("apply", start, start, results[:2]).ok


def test_progress_lines_are_throttled_off_a_terminal() -> None:
    now = [0.0]
    out = io.StringIO()
    printer = ProgressPrinter(out, tty=False, interval=5.0, clock=lambda: now[0])
    for i in range(1, 101):
        now[0] = i * 0.1
        printer("apply", i, 100, 0)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # once past 5 s, then the last item; nothing in between
    assert lines[-1].startswith("apply: 100/100 tasks")


def test_progress_on_a_terminal_redraws_one_line_with_a_bar() -> None:
    now = [0.0]
    out = io.StringIO()
    printer = ProgressPrinter(out, tty=True, clock=lambda: now[0])
    for i in range(1, 5):
        now[0] = i * 0.5
        printer("refresh", i, 4, 1 if i >= 3 else 0)
    frames = out.getvalue().split("\r\x1b[2K")[1:]
    assert len(frames) == 3  # the first call only starts the clock of the phase
    assert frames[0] == "[" + "#" * 12 + "-" * 12 + "] refresh: 2/4 tasks, 4/s, 0 errors, ETA 0s"
    assert frames[-1] == "[" + "#" * 24 + "] refresh: 4/4 tasks, 3/s, 1 errors\n"


def test_progress_of_a_phase_that_ends_at_once_shows_no_rate() -> None:
    now = [0.0]
    out = io.StringIO()
    printer = ProgressPrinter(out, tty=False, clock=lambda: now[0])
    printer("apply", 1, 3, 0)
    now[0] = 0.0004
    printer("apply", 3, 3, 0)
    assert out.getvalue().splitlines()[-1] == "apply: 3/3 tasks, 0 errors"


def test_progress_shows_the_current_concurrency_while_running() -> None:
    now = [0.0]
    out = io.StringIO()
    printer = ProgressPrinter(out, tty=False, interval=1.0, clock=lambda: now[0])
    window = [8]
    printer.concurrency = lambda: window[0]
    printer("refresh", 1, 100, 0)
    now[0], window[0] = 2.0, 64
    printer("refresh", 50, 100, 0)
    now[0] = 4.0
    printer("refresh", 100, 100, 0)
    lines = out.getvalue().splitlines()
    assert lines[-2] == "refresh: 50/100 tasks, 25/s, 0 errors, concurrency 64, ETA 2s"
    assert lines[-1] == "refresh: 100/100 tasks, 25/s, 0 errors"


def test_packaged_example_is_the_repository_example() -> None:
    """``tasksync demo`` outside a checkout uses the copy in the package; keep them identical."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    assert (root / "tasksync" / "tasks.example.yaml").read_text() == (
        root / "tasks.example.yaml"
    ).read_text()


def test_values_and_errors_cannot_steer_the_terminal() -> None:
    # Values come from the file and from the API: an escape sequence or a bidi override in
    # them must be shown, not obeyed. (JSON escapes C0 controls itself; C1 and bidi it keeps.)
    hostile = "x\u202eevil\x9b2J\x1b[31m"
    plan = Plan(
        (
            TaskChange(
                key="janedoe~a",
                action=Action.UPDATE,
                task_id="A" * 17,
                changes=(FieldChange("/input/q", ChangeKind.CHANGE, "old", hostile),),
                payload={"input": {"q": hostile}},
            ),
            TaskChange(key="janedoe~b", action=Action.ERROR, error="HTTP 500: " + hostile),
        )
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    report = Report(
        "apply",
        start,
        start,
        [TaskResult("janedoe~b", Status.FAILED, error_type="server", error=hostile)],
        error=hostile,
    )
    for text in (
        plan_text(plan),
        plan_text(plan, color=True).replace("\x1b[0m", "").replace("\x1b[33m", ""),
        plan_markdown(plan),
        report_text(report),
        report_markdown(report),
    ):
        text = text.replace("\x1b[31m", "").replace("\x1b[31;1m", "").replace("\x1b[32m", "")
        assert "\u202e" not in text and "\x9b" not in text and "\x1b" not in text, text
        assert "\\u202e" in text


def test_an_interrupted_run_names_its_unstarted_tasks_in_one_markdown_line() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    results = [TaskResult("janedoe~done", Status.UPDATED)] + [
        TaskResult(f"janedoe~t{i}", Status.SKIPPED, error_type="skipped", error="not started")
        for i in range(3)
    ]
    text = report_markdown(Report("apply", start, start, results, interrupted=True))
    assert "- 3 more not started: the run was interrupted" in text
    assert "janedoe~t0" not in text
    assert "janedoe~t0" in report_markdown(Report("apply", start, start, results))
