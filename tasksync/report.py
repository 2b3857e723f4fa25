"""What a run did, and how it is shown: the Report value and the text / JSON / Markdown renderers
for plans and reports.

Renderers are pure functions returning strings; they only ever see masked field changes, never a
payload, so no secret can reach an output through them. The JSON forms carry ``formatVersion``
and change only compatibly within a version (pipelines parse them; the README documents them).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tasksync.model import JSON, Action, ChangeKind, FieldChange, Status, TaskResult
from tasksync.secrets import MASK, secret_fields_json
from tasksync.text import shorten, visible

if TYPE_CHECKING:  # renderers only read a Plan; the report does not depend on planning
    from tasksync.plan import Plan

REPORT_FORMAT_VERSION = 1
_VALUE_WIDTH = 160

_COLORS = {"+": "\x1b[32m", "-": "\x1b[31m", "~": "\x1b[33m", "!": "\x1b[31;1m"}
_RESET = "\x1b[0m"
_SIGN = {ChangeKind.ADD: "+", ChangeKind.REMOVE: "-", ChangeKind.CHANGE: "~"}


def now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Report:
    """The outcome of ``plan`` or ``apply``; computes its own exit code."""

    command: str
    started_at: datetime
    ended_at: datetime
    results: list[TaskResult]
    requests: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    error: str | None = None
    source: str | None = None

    @property
    def totals(self) -> dict[str, int]:
        found = Counter(r.status.value for r in self.results)
        return {status.value: found.get(status.value, 0) for status in Status}

    @property
    def ok(self) -> bool:
        return (
            not self.interrupted
            and self.error is None
            and all(
                r.status in (Status.UNCHANGED, Status.UPDATED, Status.CREATED) for r in self.results
            )
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": REPORT_FORMAT_VERSION,
            "kind": "tasksync-report",
            "command": self.command,
            "source": self.source,
            "startedAt": _iso(self.started_at),
            "endedAt": _iso(self.ended_at),
            "durationSecs": round((self.ended_at - self.started_at).total_seconds(), 3),
            "ok": self.ok,
            "interrupted": self.interrupted,
            "error": self.error,
            "requests": self.requests,
            "totals": self.totals,
            "tasks": [_result_json(r) for r in self.results],
        }


def _result_json(result: TaskResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": result.key,
        "id": result.task_id,
        "status": result.status.value,
        "changes": [c.to_json() for c in result.changes],
        "secretFields": secret_fields_json(result.secret_fields),
        "attempts": result.attempts,
        "durationSecs": round(result.duration, 4),
    }
    if result.error is not None:
        out["error"] = {"type": result.error_type, "message": result.error}
    return out


def secret_lines(fields: Mapping[str, str]) -> list[str]:
    return [f"* {path}: {MASK} (secret {action})" for path, action in sorted(fields.items())]


# -- values --------------------------------------------------------------------------------------


def show(value: JSON) -> str:
    """A JSON value on one line, shortened when long."""
    text = visible(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))
    return shorten(text, _VALUE_WIDTH)


def change_line(change: FieldChange) -> tuple[str, str]:
    """(sign, text) for one field change."""
    sign = _SIGN[change.kind]
    if change.kind is ChangeKind.ADD:
        return sign, f"{change.path}: {show(change.new)}"
    if change.kind is ChangeKind.REMOVE:
        return sign, f"{change.path}: {show(change.old)}"
    return sign, f"{change.path}: {show(change.old)} -> {show(change.new)}"


def _paint(sign: str, text: str, color: bool) -> str:
    return f"{_COLORS[sign]}{text}{_RESET}" if color else text


# -- plans ---------------------------------------------------------------------------------------


def plan_summary(plan: Plan) -> str:
    c = plan.counts
    parts = [f"{c['create']} to create", f"{c['update']} to update", f"{c['noop']} unchanged"]
    if c["error"]:
        parts.append(f"{c['error']} with errors")
    return "Plan: " + ", ".join(parts) + "."


def plan_text(plan: Plan, *, color: bool = False, show_unchanged: bool = False) -> str:
    """The human diff: one block per changed task, then a summary line."""
    lines: list[str] = []
    for change in plan.changes:
        if change.action is Action.NOOP:
            if show_unchanged:
                lines.append(f"  {change.key}: unchanged")
            continue
        if change.action is Action.ERROR:
            lines.append(_paint("!", f"! {change.key}: {visible(change.error or '')}", color))
            continue
        sign = "+" if change.action is Action.CREATE else "~"
        what = "create" if change.action is Action.CREATE else f"update {change.task_id}"
        stale = plan.stale.get(change.key)
        head = f"{sign} {change.key} ({what})" + (f"  [stale: {stale}]" if stale else "")
        lines.append(_paint(sign, head, color))
        for field_change in change.changes:
            s, text = change_line(field_change)
            lines.append("    " + _paint(s, f"{s} {text}", color))
        lines += ["    " + line for line in secret_lines(change.secret_fields)]
    if lines:
        lines.append("")
    lines.append(plan_summary(plan))
    return "\n".join(lines)


def plan_markdown(plan: Plan) -> str:
    c = plan.counts
    out = [
        "### tasksync plan",
        "",
        "| create | update | unchanged | errors |",
        "|---:|---:|---:|---:|",
        f"| {c['create']} | {c['update']} | {c['noop']} | {c['error']} |",
        "",
    ]
    for change in plan.changes:
        if change.action is Action.NOOP:
            continue
        if change.action is Action.ERROR:
            out.append(f"- :x: `{change.key}`: {_md_escape(change.error or '')}")
            continue
        verb = "create" if change.action is Action.CREATE else "update"
        out += _details(f"{verb} <code>{change.key}</code>", change.changes, change.secret_fields)
    return "\n".join(out).rstrip() + "\n"


def _details(
    summary: str, changes: tuple[FieldChange, ...], secrets: Mapping[str, str] | None = None
) -> list[str]:
    body = ["<details><summary>" + summary + f" ({len(changes)} changes)</summary>", ""]
    body.append("```diff")
    for change in changes:
        sign, text = change_line(change)
        body.append(f"{'!' if sign == '~' else sign} {text}")
    body += secret_lines(secrets or {})
    body += ["```", "", "</details>", ""]
    return body


def _md_escape(text: str) -> str:
    return visible(text.replace("|", "\\|").replace("\n", " "))


# -- reports -------------------------------------------------------------------------------------


def report_text(report: Report) -> str:
    t = report.totals
    parts = [f"{n} {status}" for status, n in t.items() if n]
    duration = (report.ended_at - report.started_at).total_seconds()
    lines = []
    for r in report.results:
        if r.status in (Status.FAILED, Status.STALE) or (
            r.status is Status.SKIPPED and not report.interrupted
        ):
            lines.append(f"  {r.status.value}: {r.key}: {visible(r.error or '')}")
    if report.error:
        lines.append(f"  error: {visible(report.error)}")
    req = report.requests
    head = (
        f"{report.command.capitalize()}: {', '.join(parts) or 'no tasks'} in {duration:.1f}s "
        f"({req.get('total', 0)} requests, {req.get('retried', 0)} retried, "
        f"{req.get('rateLimited', 0)} rate-limited)."
    )
    if report.interrupted:
        head += " Interrupted: run again to converge the rest."
    return "\n".join([head, *lines])


def report_markdown(report: Report) -> str:
    t = report.totals
    icon = ":white_check_mark:" if report.ok else ":x:"
    out = [
        f"### {icon} tasksync {report.command}",
        "",
        "| " + " | ".join(t) + " |",
        "|" + "---:|" * len(t),
        "| " + " | ".join(str(n) for n in t.values()) + " |",
        "",
    ]
    if report.error:
        out += [f"**Error:** {_md_escape(report.error)}", ""]
    not_started = 0
    for r in report.results:
        if r.status is Status.UNCHANGED:
            continue
        if r.status is Status.SKIPPED and report.interrupted:
            not_started += 1  # one line for all of them: an interrupted run of 10,000 tasks
            continue
        summary = f"{r.status.value} <code>{r.key}</code>"
        if r.error:
            out.append(f"- {summary}: {_md_escape(r.error)}")
        if r.changes or r.secret_fields:
            out += _details(summary, r.changes, r.secret_fields)
    if not_started:
        out.append(f"- {not_started} more not started: the run was interrupted")
    return "\n".join(out).rstrip() + "\n"
