"""The Report value: what a run did, and its versioned JSON form (``formatVersion``, documented in
the README; fields are only added within a version)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tasksync.model import Status, TaskResult
from tasksync.secrets import secret_fields_json

REPORT_FORMAT_VERSION = 1


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
    schedules: list[TaskResult] = field(default_factory=list)
    """How each schedule ended (applied after the tasks)."""

    @property
    def totals(self) -> dict[str, int]:
        return totals_of(self.results)

    @property
    def ok(self) -> bool:
        return (
            not self.interrupted
            and self.error is None
            and all(
                r.status in (Status.UNCHANGED, Status.UPDATED, Status.CREATED, Status.DELETED)
                for r in (*self.results, *self.schedules)
            )
        )

    @property
    def exit_code(self) -> int:
        """The command line's exit code for this run: 0 when every task converged, 130 when it
        was interrupted, else 1 (an error, or a task failed, stale or skipped)."""
        if self.interrupted:
            return 130
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        doc = {
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
        if self.schedules:
            doc["scheduleTotals"] = totals_of(self.schedules)
            doc["schedules"] = [_result_json(r) for r in self.schedules]
        return doc


def not_started(report: Report, result: TaskResult) -> bool:
    """Skipped because the run was interrupted or stopped before it (not by a rule such as
    --create-missing)."""
    return report.interrupted or (
        report.error is not None and (result.error or "").startswith("not started")
    )


def totals_of(results: list[TaskResult]) -> dict[str, int]:
    """How many of ``results`` ended in each status (every status named, in order; ``deleted``
    only when the run had deletions to make)."""
    found = Counter(r.status.value for r in results)
    deletes = any(r.deletion for r in results)
    return {
        status.value: found.get(status.value, 0)
        for status in Status
        if deletes or status is not Status.DELETED
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
    if result.deletion:
        out["deletion"] = True
    if result.error is not None:
        out["error"] = {"type": result.error_type, "message": result.error}
    return out
