"""The plan as a review document: readable value diffs, shared changes shown once, Markdown within
its budget, and what apply would do (pure: plans built by hand)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tasksync.jsonutil import json_equal
from tasksync.model import (
    Action,
    ChangeKind,
    FieldChange,
    Safety,
    Status,
    TaskChange,
    TaskResult,
)
from tasksync.plan import Plan
from tasksync.report import Report, plan_markdown, plan_text, report_markdown
from tasksync.report.valuediff import field_lines, sides
from tasksync.secrets import plan_key

KEY = plan_key("tok-render")

PAGE_FUNCTION = "\n".join(
    [
        "async function pageFunction(context) {",
        "    const { request, jQuery: $ } = context;",
        "    const title = $('h1').first().text().trim();",
        "    const price = $('.product-price').first().text().trim();",
        "    const sku = $('.product-sku').first().text().trim();",
    ]
    + [f"    // step {i}: nothing to see here, only a long enough line of code" for i in range(34)]
    + ["}"]
)


def change(path: str, old: object, new: object) -> FieldChange:
    return FieldChange(path, ChangeKind.CHANGE, old, new)


def text_of(*changes: FieldChange) -> list[str]:
    plan = Plan((TaskChange("janedoe~a", Action.UPDATE, task_id="A" * 17, changes=changes),))
    return plan_text(plan).splitlines()[1:-2]


# -- each diff shape -----------------------------------------------------------------------------


def test_a_multi_line_string_is_a_unified_diff_of_its_lines() -> None:
    new = PAGE_FUNCTION.replace(".product-sku", ".product-code")
    assert text_of(change("/input/pageFunction", PAGE_FUNCTION, new)) == [
        "    ~ /input/pageFunction: (text, 40 lines)",
        "          @@ -2,7 +2,7 @@",
        "              const { request, jQuery: $ } = context;",
        "              const title = $('h1').first().text().trim();",
        "              const price = $('.product-price').first().text().trim();",
        "        -     const sku = $('.product-sku').first().text().trim();",
        "        +     const sku = $('.product-code').first().text().trim();",
        "              // step 0: nothing to see here, only a long enough line of code",
        "              // step 1: nothing to see here, only a long enough line of code",
        "              // step 2: nothing to see here, only a long enough line of code",
    ]


def test_a_long_single_line_string_shows_the_window_where_it_differs() -> None:
    old = "https://example.com/?" + "&".join(f"p{i}=v{i}" for i in range(60))
    new = old.replace("p41=v41", "p41=CHANGED")
    lines = text_of(change("/input/url", old, new))
    assert lines[0] == f"    ~ /input/url: (differs from character {old.index('p41=v41') + 5})"
    assert lines[1].startswith("        - ...") and lines[2].startswith("        + ...")
    assert "p41=v41" in lines[1] and "p41=CHANGED" in lines[2]
    assert len(lines) == 3 and all(len(line) < 230 for line in lines)


def test_a_list_shows_item_changes_by_index_aligned_on_insertions() -> None:
    urls = [{"url": f"https://example.com/page/{i}"} for i in range(30)]
    changed = [*urls[:17], {"url": "https://example.com/other"}, *urls[18:]]
    assert text_of(change("/input/startUrls", urls, changed)) == [
        "    ~ /input/startUrls: (list, 30 items)",
        '        ~ /input/startUrls/17: {"url": "https://example.com/page/17"} -> '
        '{"url": "https://example.com/other"}',
    ]
    inserted = [*urls[:3], {"url": "https://example.com/new"}, *urls[3:]]
    assert text_of(change("/input/startUrls", urls, inserted)) == [
        "    ~ /input/startUrls: (list, 30 -> 31 items)",
        '        + /input/startUrls/3: {"url": "https://example.com/new"}',
    ]
    assert text_of(change("/input/startUrls", urls, urls[1:])) == [
        "    ~ /input/startUrls: (list, 30 -> 29 items)",
        '        - /input/startUrls/0: {"url": "https://example.com/page/0"}',
    ]


def test_a_long_mapping_shows_its_changed_keys_with_pointers() -> None:
    old = {"a": "x" * 100, "b": {"deep": 1, "keep": "y" * 100}, "gone": 1}
    new = {"a": "x" * 100, "b": {"deep": 2, "keep": "y" * 100}, "added": True}
    assert text_of(change("/input/cfg", old, new)) == [
        "    ~ /input/cfg: (object)",
        "        ~ /input/cfg/b: (object)",
        "            ~ /input/cfg/b/deep: 1 -> 2",
        "        + /input/cfg/added: true",
        "        - /input/cfg/gone: 1",
    ]


def test_short_values_stay_on_one_line_and_masked_ones_say_they_changed() -> None:
    assert text_of(change("/options/memoryMbytes", 1024, 2048)) == [
        "    ~ /options/memoryMbytes: 1024 -> 2048"
    ]
    assert text_of(change("/input/key", "<sensitive>", "<sensitive>")) == [
        '    ~ /input/key: "<sensitive>" (changed, masked)'
    ]


def test_a_huge_change_is_cut_to_a_bounded_number_of_lines() -> None:
    old = [f"item {i}" for i in range(5000)]
    new = [f"item {i}!" for i in range(5000)]
    lines = field_lines(change("/input/list", old, new))
    assert len(lines) == 60 and lines[-1].text == "... 4,942 more lines"


# -- the property: two different values never look the same --------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
    st.text(alphabet="ab\n ", max_size=400),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)


def _edited(draw: st.DrawFn) -> tuple[str, str]:
    base = draw(st.text(alphabet="xy\n", min_size=150, max_size=600))
    at = draw(st.integers(0, len(base)))
    insert = draw(st.text(alphabet="xyz\n", max_size=3))
    cut = draw(st.integers(0, 3))
    return base, base[:at] + insert + base[at + cut :]


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[object, object]:
    if draw(st.booleans()):
        return _edited(draw)
    return draw(_json), draw(_json)


@settings(max_examples=200, deadline=None)
@given(_pairs())
def test_the_diff_of_two_different_values_never_shows_two_identical_sides(
    pair: tuple[object, object],
) -> None:
    old, new = pair
    if json_equal(old, new):
        return
    lines = field_lines(change("/input/x", old, new))
    seen_old, seen_new = sides(lines)
    assert seen_old != seen_new, lines
    for line in lines:
        if line.sign == "~" and line.old is not None:
            assert line.old != line.new


# -- shared changes ------------------------------------------------------------------------------


def many(n: int, changes: tuple[FieldChange, ...] | None = None) -> Plan:
    mem = (change("/options/memoryMbytes", 1024, 2048),)
    return Plan(
        tuple(
            TaskChange(
                f"janedoe~task-{i:04d}", Action.UPDATE, task_id=f"{i:017d}", changes=changes or mem
            )
            for i in range(n)
        ),
        safety=Safety(max_changed_fraction=1.0),
    )


def test_a_change_on_many_tasks_is_shown_once_with_the_tasks() -> None:
    plan = many(3000)
    assert plan_text(plan).splitlines() == [
        "~ /options/memoryMbytes: 1024 -> 2048 on 3,000 tasks: janedoe~task-0000, "
        "janedoe~task-0001, janedoe~task-0002, janedoe~task-0003, janedoe~task-0004 "
        "and 2,995 more",
        "",
        "Plan: 0 to create, 3000 to update, 0 unchanged.",
    ]
    md = plan_markdown(plan)
    assert "<details>" not in md and len(md) < 3000
    assert "**The same 1 change on 3,000 tasks:**" in md
    assert "! /options/memoryMbytes: 1024 -> 2048" in md and "and 2,980 more" in md


def test_a_task_with_its_own_changes_besides_shared_ones_shows_them() -> None:
    mem = change("/options/memoryMbytes", 1024, 2048)
    own = change("/title", "a", "b")
    plan = Plan(
        (
            TaskChange("janedoe~a", Action.UPDATE, task_id="A" * 17, changes=(mem, own)),
            TaskChange("janedoe~b", Action.UPDATE, task_id="B" * 17, changes=(mem,)),
        )
    )
    assert plan_text(plan).splitlines()[:3] == [
        "~ /options/memoryMbytes: 1024 -> 2048 on 2 tasks: janedoe~a, janedoe~b",
        f"~ janedoe~a (update {'A' * 17}), and 1 shared change above",
        '    ~ /title: "a" -> "b"',
    ]


# -- budgets -------------------------------------------------------------------------------------


def test_markdown_fits_a_comment_whatever_the_plan() -> None:
    changes = []
    for i in range(3000):
        new = PAGE_FUNCTION.replace("step 3:", f"step {i}:")
        changes.append(
            TaskChange(
                f"janedoe~t{i}",
                Action.UPDATE,
                task_id=f"{i:017d}",
                changes=(change("/input/pageFunction", PAGE_FUNCTION, new),),
            )
        )
    errors = [TaskChange(f"janedoe~e{i}", Action.ERROR, error="x" * 500) for i in range(300)]
    plan = Plan((*changes, *errors), source="tasks.yaml")
    md = plan_markdown(plan)
    assert len(md) < 60_000
    assert "| 0 | 3000 | 0 | 300 |" in md
    assert "`tasksync plan tasks.yaml --format json`" in md and "--out plan.json" in md
    assert "Not shown: " in md and "tasks' changes" in md
    assert md.count("```") % 2 == 0  # no fence left open


def test_a_fence_in_a_value_does_not_break_the_markdown() -> None:
    plan = Plan(
        (TaskChange("janedoe~a", Action.UPDATE, changes=(change("/input/x", "a", "```\nb"),)),)
    )
    assert "````diff" in plan_markdown(plan)


def test_the_report_summary_stays_under_a_megabyte() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    big = (change("/input/x", "é" * 10_000, "è" * 10_000),)
    results = [TaskResult(f"janedoe~t{i}", Status.UPDATED, changes=big) for i in range(2000)]
    md = report_markdown(Report("apply", start, start, results))
    assert len(md.encode()) < 1_000_000 and "more tasks not shown" in md
    assert "JSON report" in md


# -- what apply would do -------------------------------------------------------------------------


def _over_limit(**flags: bool) -> Plan:
    changes = [
        TaskChange(f"janedoe~u{i}", Action.UPDATE, task_id=f"{i:017d}", changes=())
        for i in range(12)
    ]
    changes += [TaskChange(f"janedoe~n{i}", Action.NOOP) for i in range(8)]
    changes.append(
        TaskChange(
            "janedoe~new",
            Action.CREATE,
            secret_refs={"/input/apiKey": "${KEY}"},
            payload={"input": {"apiKey": "s3cret"}},
        )
    )
    return Plan(tuple(changes), source="tasks.yaml", **flags)


def test_the_plan_says_apply_would_refuse_it_and_skip_creates() -> None:
    plan = _over_limit()
    text = plan_text(plan)
    assert "WARNING: apply would refuse this plan: the plan changes 13 of 21 tasks (62%)" in text
    assert "safety limit of 30%" in text and "--force" in text
    assert "apply would skip 1 task that does not exist (janedoe~new)" in text
    assert "--create-missing" in text and "sends" not in text
    md = plan_markdown(plan)
    assert "> [!WARNING]\n> apply would refuse this plan" in md
    assert "(`janedoe~new`)" in md
    doc = plan.to_json(include_payloads=False)
    assert doc["apply"] == {
        "refuses": True,
        "overSafetyLimit": True,
        "changed": 13,
        "total": 21,
        "force": False,
        "needCreateMissing": ["janedoe~new"],
        "secretsSent": [],
    }


def test_a_plan_made_with_the_flags_predicts_that_apply_goes_ahead() -> None:
    plan = _over_limit(force=True, create_missing=True)
    text = plan_text(plan)
    assert "refuse" not in text and "skip" not in text
    assert "planned with --force: apply goes ahead" in text
    assert "apply sends 1 value from the environment: janedoe~new /input/apiKey (${KEY})" in text
    assert "s3cret" not in text and "s3cret" not in json.dumps(plan.to_json(key=KEY))
    doc = plan.to_json(include_payloads=False)
    assert doc["apply"]["refuses"] is False
    assert doc["apply"]["secretsSent"] == [
        {"key": "janedoe~new", "path": "/input/apiKey", "from": "${KEY}"}
    ]


def test_a_saved_plan_keeps_the_flags_it_was_made_with() -> None:
    plan = _over_limit(force=True, create_missing=True)
    loaded = Plan.from_json(plan.to_json(key=KEY), environ={"KEY": "s3cret"}, key=KEY)
    assert loaded.force and loaded.create_missing
    assert not loaded.prediction().refuses and loaded.prediction().skipped_creates == ()
    old = plan.to_json(key=KEY)
    del old["force"], old["createMissing"], old["apply"]
    old.pop("checksum")
    from tasksync.savedplan import checksum

    old["checksum"] = checksum(old)
    earlier = Plan.from_json(
        old, environ={"KEY": "s3cret"}, key=KEY
    )  # a plan saved before the flags
    assert not earlier.force and not earlier.create_missing


def test_a_key_utf8_cannot_encode_is_shown_escaped_in_every_format() -> None:
    """A JavaScript string may hold a lone surrogate (the property test of convergence found
    one in an input key): the plan and the report show it escaped instead of failing."""
    change = TaskChange(
        key="janedoe~odd",
        action=Action.UPDATE,
        task_id="x" * 17,
        changes=(FieldChange("/input/a/\ud800", ChangeKind.REMOVE, None, None),),
        payload={"input": {"a": {}}},
    )
    plan = Plan((change,))
    for text in (plan_text(plan), plan_markdown(plan)):
        assert "/input/a/\\ud800" in text
        text.encode("utf-8")  # nothing that UTF-8 cannot write
    now = datetime.now(UTC)
    result = TaskResult("janedoe~odd", Status.UPDATED, changes=change.changes)
    report_markdown(Report("apply", now, now, [result])).encode("utf-8")
