"""Plans and reports as Markdown, for a pull-request comment and a job summary, within budget.

A comment holds at most 65,536 characters and a job summary 1 MiB. The Markdown is built block by
block (errors, shared changes, then each task; then the same for the schedules) and stops before
the budget: what does not fit is counted in a closing note that says where to see all of it.
Blocks past the budget are never rendered, so a plan of any size costs little more than what is
shown.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

from tasksync.model import Action, FieldChange, Status, TaskChange
from tasksync.report.grouping import Group, group_updates
from tasksync.report.outcome import Report, totals_of
from tasksync.report.outcome import not_started as stopped_before
from tasksync.report.predict import name_list, predictions
from tasksync.report.valuediff import field_lines, secret_lines
from tasksync.text import plural, visible

if TYPE_CHECKING:
    from tasksync.plan import Plan

COMMENT_BUDGET = 60_000
"""Characters of a plan's Markdown: under a pull-request comment's 65,536."""
SUMMARY_BUDGET = 1_000_000
"""UTF-8 bytes of a report's Markdown: under a job summary's 1 MiB."""
GROUP_NAMES = 20
"""Task names listed with a shared change; the rest are counted."""
_RESERVE = 1_000
"""Kept free for the closing note."""
_MD_SIGN = {"~": "!", "+": "+", "-": "-", " ": " "}

Block = tuple[str, Callable[[], str]]
"""(what it shows: ``error``, ``shared`` or ``task``; how to render it)."""


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def fit(
    head: str,
    blocks: Iterator[Block],
    tail: Callable[[Counter[str]], str],
    budget: int,
    size: Callable[[str], int] = len,
) -> str:
    """``head`` and as many ``blocks`` as fit in ``budget``; ``tail(left)`` names the rest."""
    out = [head]
    used = size(head) + _RESERVE
    left: Counter[str] = Counter()
    for kind, render in blocks:
        if left:
            left[kind] += 1
            continue
        text = render()
        n = size(text)
        if used + n > budget:
            left[kind] += 1
            continue
        out.append(text)
        used += n
    if left:
        out.append(tail(left))
    return "".join(out).rstrip() + "\n"


def diff_block(changes: tuple[FieldChange, ...], secrets: Mapping[str, str] | None = None) -> str:
    body = "\n".join(
        [
            _MD_SIGN[line.sign] + " " + "  " * line.depth + line.text
            for change in changes
            for line in field_lines(change)
        ]
        + secret_lines(secrets or {})
    )
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}diff\n{body}\n{fence}\n"


def details(
    summary: str, changes: tuple[FieldChange, ...], secrets: Mapping[str, str] | None = None
) -> str:
    block = diff_block(changes, secrets)
    return f"<details><summary>{summary}</summary>\n\n{block}\n</details>\n\n"


def _with_details(
    text: str, summary: str, changes: tuple[FieldChange, ...], secrets: Mapping[str, str]
) -> str:
    return text + details(summary, changes, secrets)


def _code(key: str) -> str:
    return f"<code>{html.escape(visible(key))}</code>"


def _escape(text: str) -> str:
    return visible(text.replace("|", "\\|").replace("\n", " "))


# -- plans ---------------------------------------------------------------------------------------


def plan_markdown(plan: Plan, *, budget: int = COMMENT_BUDGET) -> str:
    """The plan for a pull-request comment: under ``budget`` characters whatever its size."""
    head = ["### tasksync plan", "", *_counts_table(plan.counts)]
    for level, sentence in predictions(plan, quote="`"):
        head += [f"> [!{level.upper()}]", f"> {_escape(sentence)}", ""]
    if plan.unmanaged:
        head += [
            f"**Unmanaged:** {plural(len(plan.unmanaged), 'task')} of the account that the file "
            f"does not mention: {name_list(plan.unmanaged, 50, quote='`')}",
            "",
        ]
    source = plan.source or "FILE"

    def tail(left: Counter[str]) -> str:
        what = ", ".join(_KINDS[k](n) for k, n in left.items())
        return (
            f"> [!NOTE]\n> Not shown: {what}; this plan is too long for a comment. See all of it "
            f"with `tasksync plan {source} --format json`, or in the plan saved with "
            "`--out plan.json`.\n"
        )

    return fit("\n".join(head) + "\n", _plan_blocks(plan), tail, budget)


def _counts_table(c: dict[str, int]) -> list[str]:
    if "delete" in c:  # the file owns resources (prune:)
        return [
            "| create | update | delete | unchanged | errors |",
            "|---:|---:|---:|---:|---:|",
            f"| {c['create']} | {c['update']} | {c['delete']} | {c['noop']} | {c['error']} |",
            "",
        ]
    return [
        "| create | update | unchanged | errors |",
        "|---:|---:|---:|---:|",
        f"| {c['create']} | {c['update']} | {c['noop']} | {c['error']} |",
        "",
    ]


_KINDS: dict[str, Callable[[int], str]] = {
    "error": lambda n: plural(n, "error"),
    "shared": lambda n: plural(n, "shared change"),
    "task": lambda n: plural(n, "task's changes", "tasks' changes"),
    "schedules": lambda n: "the schedules' counts",
    "schedule-error": lambda n: plural(n, "schedule error"),
    "schedule-shared": lambda n: plural(
        n, "change shared by schedules", "changes shared by schedules"
    ),
    "schedule": lambda n: plural(n, "schedule's changes", "schedules' changes"),
    "deletion": lambda n: plural(n, "deletion"),
    "schedule-deletion": lambda n: plural(n, "schedule deletion"),
}


def _plan_blocks(plan: Plan) -> Iterator[Block]:
    yield from _change_blocks(plan.changes, plan.stale, "task")
    yield from _deletion_blocks(plan.deletions, "deletion")
    if plan.schedules or plan.schedule_deletions:
        section = "#### Schedules\n\n" + "\n".join(_counts_table(plan.schedule_counts)) + "\n"
        yield "schedules", partial(str, section)
        yield from _change_blocks(plan.schedules, plan.schedule_stale, "schedule")
        yield from _deletion_blocks(plan.schedule_deletions, "schedule-deletion")


def _deletion_blocks(changes: Sequence[TaskChange], kind: str) -> Iterator[Block]:
    """A line per deletion (a refused one is a plan error)."""
    for change in changes:
        if change.action is Action.DELETE:
            text = f"- :wastebasket: delete `{_escape(change.key)}`\n"
        else:
            text = f"- :x: `{_escape(change.key)}`: {_escape(change.error or '')}\n"
        yield kind, partial(str, text)


def _change_blocks(
    changes: Sequence[TaskChange], stale: Mapping[str, str], noun: str
) -> Iterator[Block]:
    """One resource's blocks (``noun``: task or schedule): errors, shared changes, then each
    changed one with what is its own."""
    prefix = "" if noun == "task" else f"{noun}-"
    grouped = group_updates(changes, stale)
    for change in changes:
        if change.action is Action.ERROR:
            text = f"- :x: `{change.key}`: {_escape(change.error or '')}\n"
            yield prefix + "error", partial(str, text)
    for group in grouped.groups:
        yield prefix + "shared", partial(_group, group, noun)
    for change in changes:
        if change.action not in (Action.UPDATE, Action.CREATE):
            continue
        own = grouped.own.get(change.key, change.changes)
        shared = grouped.shared.get(change.key, 0)
        if shared and not own:
            continue
        verb = "create" if change.action is Action.CREATE else "update"
        summary = f"{verb} {_code(change.key)} ({plural(len(own), 'change')}"
        summary += f", and {shared:,} shared above)" if shared else ")"
        if change.key in stale:
            summary += " (stale)"
        yield noun, partial(details, summary, own, change.secret_fields)


def _group(group: Group, noun: str) -> str:
    names = name_list(group.keys, GROUP_NAMES, quote="`")
    return (
        f"\n**The same {plural(len(group.changes), 'change')} on "
        f"{plural(len(group.keys), noun)}:** {names}\n\n{diff_block(group.changes)}\n"
    )


# -- reports -------------------------------------------------------------------------------------


def report_markdown(report: Report, *, budget: int = SUMMARY_BUDGET) -> str:
    """The report for a job summary: under ``budget`` bytes (UTF-8) whatever its size."""
    t = report.totals
    icon = ":white_check_mark:" if report.ok else ":x:"
    head = [
        f"### {icon} tasksync {report.command}",
        "",
        "| " + " | ".join(t) + " |",
        "|" + "---:|" * len(t),
        "| " + " | ".join(str(n) for n in t.values()) + " |",
        "",
    ]
    if report.error:
        head += [f"**Error:** {_escape(report.error)}", ""]
    if report.schedules:
        s = totals_of(report.schedules)
        head += [
            "Schedules:",
            "",
            "| " + " | ".join(s) + " |",
            "|" + "---:|" * len(s),
            "| " + " | ".join(str(n) for n in s.values()) + " |",
            "",
        ]

    def tail(left: Counter[str]) -> str:
        parts = [f"{left['task']:,} more tasks"] if left["task"] else []
        if left["schedule"]:
            parts.append(plural(left["schedule"], "more schedule", "more schedules"))
        what = " and ".join(parts)
        return (
            f"\n- {what} not shown: the summary is too long; the JSON report (`--report`) has "
            "every task\n"
        )

    return fit("\n".join(head) + "\n", _report_blocks(report), tail, budget, _utf8)


def _report_blocks(report: Report) -> Iterator[Block]:
    not_started = 0
    results = [("task", r) for r in report.results]
    for kind, r in [*results, *(("schedule", r) for r in report.schedules)]:
        if r.status is Status.UNCHANGED:
            continue
        if r.status is Status.SKIPPED and stopped_before(report, r):
            not_started += 1  # one line for all of them: a stopped run of 10,000 tasks
            continue
        summary = f"{r.status.value} {_code(r.key)}"
        text = f"- {summary}: {_escape(r.error)}\n" if r.error else ""
        if r.changes or r.secret_fields:
            what = f"{summary} ({plural(len(r.changes), 'change')})"
            yield kind, partial(_with_details, text, what, r.changes, r.secret_fields)
        elif text:
            yield kind, partial(str, text)
        elif r.status is Status.DELETED:
            yield kind, partial(str, f"- {summary}\n")
    if not_started:
        why = "the run was interrupted" if report.interrupted else "the run stopped"
        line = f"- {not_started} more not started: {why}\n"
        yield "task", partial(str, line)
