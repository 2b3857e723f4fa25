"""The report of a run that stopped before it applied anything: a refusal (safety, a plan made
elsewhere), a refused token, an API that cannot be reached, or an interrupt. Every task of the
file (or of the plan) is listed, not started, and the report says why the run stopped."""

from __future__ import annotations

from datetime import datetime

from tasksync import config, writes
from tasksync.errors import ApiError, ApiUrlError, AuthError, TasksyncError, UnreachableError
from tasksync.model import RequestStats, Status, TaskResult
from tasksync.plan import Plan
from tasksync.prune.apply import not_deleted
from tasksync.report import Report, now
from tasksync.secrets import redact, secret_values


def stopped_report(
    cfg: config.Config | None,
    plan: Plan | None,
    began: datetime,
    error: TasksyncError | None,
    billed: RequestStats,
) -> Report:
    """The report of a run that stopped before it applied anything (``error`` None: it was
    interrupted)."""
    if error is None:
        why = "interrupted before anything was applied; nothing was changed"
    elif isinstance(error, AuthError | UnreachableError | ApiUrlError):
        why = f"the run stopped before anything was applied: {error}"
    else:
        why = f"refused; nothing was changed: {error}"
    if plan is not None:
        results = writes.not_started(plan.changes, "not started: the run stopped")
        results += not_deleted(plan.deletions, "not started: the run stopped")
        requests = plan.requests
    else:
        assert cfg is not None, "either the file was read or a plan was given"
        results = [
            TaskResult(spec.key, Status.SKIPPED, error_type="skipped", error="not started")
            for spec in cfg.tasks
        ]
        requests = RequestStats()
    requests += billed
    if isinstance(error, ApiError):
        requests += error.stats
    return Report(
        command="apply",
        started_at=began,
        ended_at=now(),
        results=results,
        requests=requests.as_dict(),
        interrupted=error is None,
        error=why,
        source=plan.source if plan is not None else str(cfg.path if cfg else None),
    )


def stopped_midway(fatal: ApiError | None, plan: Plan) -> str | None:
    """The report's error when an error of the whole API stopped an apply mid-way (None when
    nothing did)."""
    if fatal is None:
        return None
    why = "the API refused the token mid-run, so the run stopped: "
    if not isinstance(fatal, AuthError):
        why = "the run stopped mid-way: "
    return why + redact(str(fatal), secret_values(plan.to_apply))
