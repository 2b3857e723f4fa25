"""Plans and reports as terminal text: one block per changed task (then per changed schedule),
changes shared by several shown once, readable value diffs, what ``apply`` would do, and a summary
line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tasksync.model import Action, FieldChange, Status, TaskChange
from tasksync.report.grouping import Group, group_updates
from tasksync.report.outcome import Report, not_started, totals_of
from tasksync.report.predict import name_list, predictions
from tasksync.report.valuediff import Line, field_lines, secret_lines
from tasksync.text import plural, visible

if TYPE_CHECKING:  # renderers only read a Plan; the report does not depend on planning
    from tasksync.plan import Plan

_COLORS = {"+": "\x1b[32m", "-": "\x1b[31m", "~": "\x1b[33m", "!": "\x1b[31;1m"}
_RESET = "\x1b[0m"
GROUP_NAMES = 5
"""Task names listed with a shared change in text; the rest are counted."""


def paint(sign: str, text: str, color: bool) -> str:
    return f"{_COLORS[sign]}{text}{_RESET}" if color and sign in _COLORS else text


def plan_summary(plan: Plan) -> str:
    parts = _counts(plan.counts)
    if plan.unmanaged:
        parts.append(f"{len(plan.unmanaged)} unmanaged")
    summary = "Plan: " + ", ".join(parts) + "."
    if plan.schedules or plan.schedule_deletions:
        summary += " Schedules: " + ", ".join(_counts(plan.schedule_counts)) + "."
    return summary


def _counts(c: dict[str, int]) -> list[str]:
    parts = [f"{c['create']} to create", f"{c['update']} to update", f"{c['noop']} unchanged"]
    if "delete" in c:
        parts.append(f"{c['delete']} to delete")
    if c["error"]:
        parts.append(f"{c['error']} with errors")
    return parts


def lines_of(change: FieldChange, indent: str, color: bool) -> list[str]:
    return [_line(line, indent, color) for line in field_lines(change)]


def _line(line: Line, indent: str, color: bool) -> str:
    return indent + "    " * line.depth + paint(line.sign, f"{line.sign} {line.text}", color)


def plan_text(plan: Plan, *, color: bool = False, show_unchanged: bool = False) -> str:
    """The human diff: shared changes, one block per changed task, then the same for the
    schedules, what apply would do, and a summary line."""
    lines = _changes(plan.changes, plan.stale, "task", color, show_unchanged)
    lines += _deletions(plan.deletions, color)
    if plan.unmanaged:
        lines.append(
            f"  unmanaged: {plural(len(plan.unmanaged), 'task')} of the account that the file "
            f"does not mention: {name_list(plan.unmanaged, 20)}"
        )
    timed = _changes(plan.schedules, plan.schedule_stale, "schedule", color, show_unchanged)
    timed += _deletions(plan.schedule_deletions, color)
    if timed:
        lines += ["", "Schedules:", *timed] if lines else ["Schedules:", *timed]
    for level, sentence in predictions(plan):
        lines.append(
            paint("!" if level == "warning" else " ", f"{level.upper()}: {sentence}", color)
        )
    if lines:
        lines.append("")
    lines.append(plan_summary(plan))
    return "\n".join(lines)


def _changes(
    changes: Sequence[TaskChange],
    stale_keys: Mapping[str, str],
    noun: str,
    color: bool,
    show_unchanged: bool,
) -> list[str]:
    """The lines of one resource's changes (``noun``: task or schedule): the changes shared by
    several first, then each changed one with what is its own."""
    grouped = group_updates(changes, stale_keys)
    lines: list[str] = []
    for group in grouped.groups:
        lines += _group(group, noun, color)
    for change in changes:
        if change.action is Action.NOOP:
            if show_unchanged:
                lines.append(f"  {change.key}: unchanged")
            continue
        if change.action is Action.ERROR:
            lines.append(paint("!", f"! {change.key}: {visible(change.error or '')}", color))
            continue
        own = grouped.own.get(change.key, change.changes)
        shared = grouped.shared.get(change.key, 0)
        if shared and not own:
            continue  # all of it is shown above, with the others it applies to
        sign = "+" if change.action is Action.CREATE else "~"
        what = "create" if change.action is Action.CREATE else f"update {change.task_id}"
        stale = stale_keys.get(change.key)
        head = f"{sign} {change.key} ({what})" + (f"  [stale: {stale}]" if stale else "")
        if shared:
            head += f", and {plural(shared, 'shared change')} above"
        lines.append(paint(sign, head, color))
        for field_change in own:
            lines += lines_of(field_change, "    ", color)
        lines += ["    " + line for line in secret_lines(change.secret_fields)]
    return lines


def _deletions(changes: Sequence[TaskChange], color: bool) -> list[str]:
    """``- janedoe~news-old (delete)`` for each deletion (a refused one is a plan error)."""
    return [
        paint("-", f"- {visible(c.key)} (delete)", color)
        if c.action is Action.DELETE
        else paint("!", f"! {visible(c.key)}: {visible(c.error or '')}", color)
        for c in changes
    ]


def _group(group: Group, noun: str, color: bool) -> list[str]:
    where = f"on {plural(len(group.keys), noun)}: {name_list(group.keys, GROUP_NAMES)}"
    shown = [field_lines(change) for change in group.changes]
    if len(shown) == 1 and len(shown[0]) == 1:
        line = shown[0][0]
        return [paint(line.sign, f"{line.sign} {line.text} {where}", color)]
    out = [paint("~", f"~ {plural(len(shown), 'change')} {where}", color)]
    for rows in shown:
        out += [_line(line, "    ", color) for line in rows]
    return out


def report_text(report: Report) -> str:
    t = report.totals
    parts = [f"{n} {status}" for status, n in t.items() if n]
    duration = (report.ended_at - report.started_at).total_seconds()
    lines = []
    unstarted = 0
    for r in (*report.results, *report.schedules):
        if r.status is Status.SKIPPED and not_started(report, r):
            unstarted += 1  # one line for all of them: a stopped run of 10,000 tasks
        elif r.status in (Status.FAILED, Status.STALE, Status.SKIPPED):
            lines.append(f"  {r.status.value}: {r.key}: {visible(r.error or '')}")
        elif r.status is Status.DELETED:
            lines.append(f"  deleted: {visible(r.key)}")
    if unstarted and not report.interrupted:
        lines.append(f"  {unstarted} not started: the run stopped")
    if report.error:
        lines.append(f"  error: {visible(report.error)}")
    req = report.requests
    head = (
        f"{report.command.capitalize()}: {', '.join(parts) or 'no tasks'} in {duration:.1f}s "
        f"({plural(req.get('total', 0), 'request')}, {req.get('retried', 0)} retried, "
        f"{req.get('rateLimited', 0)} rate-limited)."
    )
    if report.schedules:
        done = [f"{n} {status}" for status, n in totals_of(report.schedules).items() if n]
        head += f" Schedules: {', '.join(done)}."
    if report.interrupted:
        head += " Interrupted: run again to converge the rest."
    return "\n".join([head, *lines])
