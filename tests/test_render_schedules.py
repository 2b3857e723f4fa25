"""Schedules in the review documents: grouped and readable like the tasks, in their own section
within the Markdown budgets, and in what apply would do (pure: plans built by hand)."""

from __future__ import annotations

from datetime import UTC, datetime

from tasksync.model import Action, ChangeKind, FieldChange, Status, TaskChange, TaskResult
from tasksync.plan import Plan
from tasksync.report import Report, plan_markdown, plan_summary, plan_text, report_markdown

ZONE = FieldChange("/timezone", ChangeKind.CHANGE, "UTC", "Europe/Prague")
TASK = TaskChange(
    "janedoe~a",
    Action.UPDATE,
    task_id="A" * 17,
    changes=(FieldChange("/options/memoryMbytes", ChangeKind.CHANGE, 1024, 2048),),
)


def schedule(name: str, *changes: FieldChange, action: Action = Action.UPDATE) -> TaskChange:
    return TaskChange(
        f"~{name}", action, task_id=None if action is Action.CREATE else name * 3, changes=changes
    )


def test_a_change_on_many_schedules_is_shown_once_in_their_section() -> None:
    cron = FieldChange("/cronExpression", ChangeKind.CHANGE, "@daily", "0 3 * * *")
    plan = Plan((TASK,), schedules=(schedule("s1", ZONE), schedule("s2", ZONE, cron)))
    lines = plan_text(plan).splitlines()
    at = lines.index("Schedules:")
    assert lines[at - 1] == "" and "~ janedoe~a (update AAAAAAAAAAAAAAAAA)" in lines[:at]
    assert lines[at + 1 : at + 4] == [
        '~ /timezone: "UTC" -> "Europe/Prague" on 2 schedules: ~s1, ~s2',
        "~ ~s2 (update s2s2s2), and 1 shared change above",
        '    ~ /cronExpression: "@daily" -> "0 3 * * *"',
    ]
    assert plan_summary(plan) == (
        "Plan: 0 to create, 1 to update, 0 unchanged. "
        "Schedules: 0 to create, 2 to update, 0 unchanged."
    )
    md = plan_markdown(plan)
    assert md.index("#### Schedules") > md.index("update <code>janedoe~a</code>")
    assert "**The same 1 change on 2 schedules:** `~s1`, `~s2`" in md


def test_a_long_schedule_value_is_a_readable_diff() -> None:
    old = [{"type": "RUN_ACTOR_TASK", "actorTaskId": f"{i:017d}"} for i in range(8)]
    new = [*old[:3], {"type": "RUN_ACTOR", "actorId": "apify~web-scraper"}, *old[3:]]
    actions = FieldChange("/actions", ChangeKind.CHANGE, old, new)
    text = plan_text(Plan((), schedules=(schedule("s1", actions),)))
    assert "    ~ /actions: (list, 8 -> 9 items)" in text
    assert '        + /actions/3: {"type": "RUN_ACTOR", "actorId": "apify~web-scraper"}' in text


def test_a_huge_plan_counts_the_schedules_it_cannot_show() -> None:
    tasks = tuple(
        TaskChange(
            f"janedoe~t{i}",
            Action.UPDATE,
            task_id=f"{i:017d}",
            changes=tuple(
                FieldChange(f"/input/field{k}", ChangeKind.CHANGE, f"{i}-{k}", f"{k}-{i}")
                for k in range(30)
            ),
        )
        for i in range(40)
    )
    plan = Plan(tasks, schedules=(schedule("s1", ZONE), schedule("s2", ZONE)))
    md = plan_markdown(plan, budget=20_000)
    assert len(md) < 20_000 and "#### Schedules" not in md
    note = md[md.index("Not shown: ") :]
    assert "tasks' changes" in note and "the schedules' counts" in note
    assert "24 tasks' changes, the schedules' counts, 1 change shared by schedules;" in note


def test_apply_would_skip_schedules_to_create_without_create_missing() -> None:
    created = TaskChange(
        "~nightly",
        Action.CREATE,
        changes=(FieldChange("/name", ChangeKind.ADD, None, "nightly"),),
        secret_refs={"/actions/0/input/apiKey": "${KEY}"},
    )
    plan = Plan((), schedules=(created,))
    text = plan_text(plan)
    assert (
        "WARNING: apply would skip 1 schedule that does not exist (~nightly): schedules are "
        "created only with --create-missing" in text
    )
    doc = plan.to_json(include_payloads=False)
    assert doc["apply"]["schedulesNeedCreateMissing"] == ["~nightly"]
    assert doc["apply"]["scheduleSecretsSent"] == []

    planned = Plan((), schedules=(created,), create_missing=True)
    assert "skip" not in plan_text(planned)
    assert "apply sends 1 value from the environment: schedule ~nightly " in plan_text(planned)
    assert planned.to_json(include_payloads=False)["apply"]["scheduleSecretsSent"] == [
        {"key": "~nightly", "path": "/actions/0/input/apiKey", "from": "${KEY}"}
    ]
    assert (
        "schedulesNeedCreateMissing" not in Plan((TASK,)).to_json(include_payloads=False)["apply"]
    )


def test_a_report_counts_the_schedules_it_cannot_show() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    change = FieldChange("/description", ChangeKind.CHANGE, "a" * 3_000, "b" * 3_000)
    tasks = [TaskResult(f"janedoe~t{i}", Status.UPDATED, changes=(change,)) for i in range(30)]
    timed = [TaskResult(f"~s{i}", Status.UPDATED, changes=(change,)) for i in range(5)]
    done = Report("apply", moment, moment, tasks, {"total": 35}, schedules=timed)
    md = report_markdown(done, budget=5_000)
    assert len(md.encode()) < 5_000 and "Schedules:" in md
    assert "more tasks and 5 more schedules not shown" in md
    failed = [TaskResult("~s9", Status.FAILED, error="boom", error_type="x")]
    assert Report("apply", moment, moment, tasks, schedules=failed).exit_code == 1
