"""Sending changes: every change of a phase gets a result, sent or not.

``send_all`` sends on the engine's pool every change that is not settled beforehand
(``settled``: unchanged, failed in planning, a creation not asked for, stale) and gives every
other change its result too: failed when the request ended the run or was cancelled in flight,
skipped when it never started. Tasks (``apply``), schedules and deletions all go through it.

A result never holds a secret: an error message can repeat what was sent, so the values from
the environment in the payloads are redacted from every message (``secrets.redact``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import anyio

from tasksync.api import ApifyClient, Reply
from tasksync.diff import verify
from tasksync.engine import Counter, ProgressCallback, pool, workers
from tasksync.errors import ApiError, ApiUrlError, UnreachableError
from tasksync.model import JSON, Action, RequestStats, Status, TaskChange, TaskResult
from tasksync.run import Interrupt
from tasksync.secrets import explain_refused_secret, redact, secret_values


@dataclass(frozen=True)
class ApplyOutcome:
    results: list[TaskResult]
    requests: RequestStats
    interrupted: bool = False
    fatal: ApiError | None = None


def settled(
    change: TaskChange, stale: Mapping[str, str], create_missing: bool
) -> TaskResult | None:
    """The result of a change that is not sent (unchanged, failed in planning, skipped, stale),
    or None when it is to be sent."""
    if change.action is Action.NOOP:
        return TaskResult(change.key, Status.UNCHANGED, task_id=change.task_id)
    if change.action is Action.ERROR:
        return TaskResult(
            change.key,
            Status.FAILED,
            task_id=change.task_id,
            error_type=change.error_type or "plan-error",
            error=change.error,
        )
    if change.action is Action.CREATE and not create_missing:
        why = "the task does not exist; run with --create-missing to create it"
        return unsent(change, Status.SKIPPED, "skipped", why)
    if change.key in stale:
        return unsent(change, Status.STALE, "stale", stale[change.key])
    return None


def not_started(changes: Sequence[TaskChange], why: str) -> list[TaskResult]:
    """Every change's result when the run stopped before sending any: the ones that were to be
    sent are ``skipped`` with ``why``."""
    return [
        settled(change, {}, create_missing=True) or unsent(change, Status.SKIPPED, "skipped", why)
        for change in changes
    ]


def unsent(change: TaskChange, status: Status, error_type: str, why: str) -> TaskResult:
    return TaskResult(
        change.key,
        status,
        task_id=change.task_id,
        changes=change.changes,
        error_type=error_type,
        error=why,
    )


async def apply(
    client: ApifyClient,
    changes: Sequence[TaskChange],
    *,
    stale: Mapping[str, str],
    create_missing: bool,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> ApplyOutcome:
    """Send every change that is to be applied; verify each answer; give every change a result.

    ``stale`` maps the keys of changes that must not be sent to why.
    """
    return await send_all(
        client,
        changes,
        [settled(change, stale, create_missing) for change in changes],
        partial(_apply_one, client),
        phase="apply",
        concurrency=concurrency,
        progress=progress,
        interrupt=interrupt,
    )


async def send_all(
    client: ApifyClient,
    changes: Sequence[TaskChange],
    results: Sequence[TaskResult | None],
    send: Callable[[TaskChange], Awaitable[TaskResult]],
    *,
    phase: str,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
) -> ApplyOutcome:
    """``send`` every change whose result is not settled yet (None in ``results``) on the pool;
    every change gets a result. ``send`` returns a change's result; it raises only an error
    that stops the run (the change is then ``failed`` with it) or cancellation (``failed`` as
    interrupted in flight). Changes never started are ``skipped``, saying why. The values from
    the environment in the payloads are redacted from every message."""
    interrupt = interrupt or Interrupt()
    final = list(results)
    work = [i for i, result in enumerate(final) if result is None]
    counter = Counter(phase, len(work), progress)
    secrets = secret_values([changes[i] for i in work])

    async def handle(n: int) -> None:
        i = work[n]
        started = time.monotonic()
        try:
            final[i] = await send(changes[i])
        except BaseException as exc:  # the run stops, or cancelled: recorded, then passed on
            requests = exc.stats if isinstance(exc, ApiError) else _IN_FLIGHT
            final[i] = failed(changes[i], *_why_failed(exc), started, requests)
            raise
        finally:
            result = final[i]
            if result is not None and result.error and secrets:
                final[i] = dataclasses.replace(result, error=redact(result.error, secrets))
            counter.tick(result is not None and result.status is not Status.FAILED)

    fatal = await pool(len(work), workers(client, concurrency), handle, interrupt)
    why = f"not started: {_stopped_by(fatal)}" if fatal else "not started: the run was interrupted"
    done = [
        result or unsent(changes[i], Status.SKIPPED, "skipped", why)
        for i, result in enumerate(final)
    ]
    requests = sum((r.requests for r in done), RequestStats())
    return ApplyOutcome(done, requests, interrupted=interrupt.stopping, fatal=fatal)


async def _apply_one(client: ApifyClient, change: TaskChange) -> TaskResult:
    """Send one change and verify the answer. Only errors that stop the run and cancellation
    are raised."""
    started = time.monotonic()
    try:
        if change.action is Action.CREATE:
            reply = await client.create_task(change.payload, lookup_ref=change.key)
            status = Status.CREATED
        else:
            reply = await client.update_task(str(change.task_id), change.payload)
            status = Status.UPDATED
    except ApiError as exc:
        if exc.stops_run:
            raise
        why = explain_refused_secret(str(exc), change.secret_fields)
        return failed(change, exc.kind, why, started, exc.stats)
    except Exception as exc:  # a bug must cost one task, not the run and its report
        return failed(change, *_why_failed(exc), started)
    return written(change, status, reply, verify(change.payload, reply.value), started)


def written(
    change: TaskChange,
    status: Status,
    reply: Reply[dict[str, JSON]],
    mismatches: Sequence[str],
    started: float,
) -> TaskResult:
    """The result of a write the API answered (``status``: updated or created); ``failed`` as
    ``did-not-converge`` where the answer differs from what was sent (``mismatches``)."""
    live_id = str(reply.value.get("id"))
    if mismatches:
        why = "did not converge: the API's answer differs from what was sent at " + ", ".join(
            mismatches
        )
        return failed(change, "did-not-converge", why, started, reply.stats, live_id)
    return TaskResult(
        change.key,
        status,
        task_id=live_id,
        changes=change.changes,
        requests=reply.stats,
        duration=time.monotonic() - started,
        secret_fields=change.secret_fields,
    )


def _stopped_by(error: ApiError) -> str:
    """Why a run stopped, for the tasks it did not start."""
    if isinstance(error, ApiUrlError):
        return "the API URL is wrong"
    if isinstance(error, UnreachableError):
        return "the API could not be reached"
    return "the token was refused"


def _why_failed(exc: BaseException) -> tuple[str, str]:
    """(error type, message) for a task whose write ended in ``exc``."""
    if isinstance(exc, ApiError):
        return exc.kind, str(exc)
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return (
            "interrupted",
            "cancelled while the request was in flight: the change may or may not have been "
            "applied; run again to converge",
        )
    return (
        "internal-error",
        f"unexpected {type(exc).__name__}: {exc} (a bug in tasksync: please report it)",
    )


_IN_FLIGHT = RequestStats(1)
"""What a write cut short is known to have taken: at least one attempt (how many more, the
cancellation does not tell)."""


def failed(
    change: TaskChange,
    error_type: str,
    message: str,
    started: float,
    requests: RequestStats = _IN_FLIGHT,
    task_id: str | None = None,
) -> TaskResult:
    return TaskResult(
        change.key,
        Status.FAILED,
        task_id=task_id or change.task_id,
        changes=change.changes,
        error_type=error_type,
        error=message,
        requests=requests,
        duration=time.monotonic() - started,
    )
