"""The worker pool: refresh (GET every task) and apply (PUT/POST the changed ones).

Each phase runs a fixed number of workers in one anyio task group, pulling work from a shared
iterator, so memory and scheduling cost do not grow with the number of tasks. A failure of one
task is recorded and never stops the others, except a refused token (401), which stops the phase
at once: every further request would fail the same way.

Interruption is cooperative: ``Interrupt.request_stop()`` stops workers from starting new requests
while in-flight ones finish; ``Interrupt.cancel_now()`` cancels the in-flight ones too. Every task
still gets a result (``skipped`` if it never started), so the report is always complete.

A result never holds a secret: an error message can repeat what was sent (an API that names the
value it rejects, a proxy that echoes the request), so the values from the environment in the
plan's payloads are masked in every message (``redact``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field

import anyio

from tasksync.api import ApifyClient, attempts_made
from tasksync.diff import pointer_tokens, resolve, verify
from tasksync.errors import ApiError, AuthError
from tasksync.model import Action, RemoteTask, Status, TaskChange, TaskResult, TaskSpec
from tasksync.planning import Plan
from tasksync.text import one_line

ProgressCallback = Callable[[str, int, int, int], None]
"""Called as ``(phase, done, total, errors)`` after each finished item."""


class Interrupted(Exception):
    """A phase was stopped by an ``Interrupt`` before it finished."""


class Interrupt:
    """Lets a signal handler stop an engine phase gracefully, then forcefully."""

    def __init__(self) -> None:
        self.stopping = False
        self.cancelled = False
        self._scopes: list[anyio.CancelScope] = []

    def request_stop(self) -> None:
        self.stopping = True

    def cancel_now(self) -> None:
        self.stopping = True
        self.cancelled = True
        for scope in self._scopes:
            scope.cancel()

    def _register(self, scope: anyio.CancelScope) -> None:
        self._scopes.append(scope)
        if self.cancelled:
            scope.cancel()


@dataclass
class _Counter:
    phase: str
    total: int
    progress: ProgressCallback | None
    done: int = 0
    errors: int = 0

    def tick(self, ok: bool) -> None:
        self.done += 1
        if not ok:
            self.errors += 1
        if self.progress is not None:
            self.progress(self.phase, self.done, self.total, self.errors)


async def _pool(
    count: int,
    concurrency: int,
    handle: Callable[[int], object],
    interrupt: Interrupt,
) -> AuthError | None:
    """Run ``await handle(i)`` for i in range(count) on ``concurrency`` workers.

    Returns the 401 that stopped the pool early, if any.
    """
    indices = iter(range(count))
    fatal: list[AuthError] = []

    async def worker() -> None:
        for i in indices:
            if interrupt.stopping or fatal:
                return
            try:
                await handle(i)  # type: ignore[misc]
            except AuthError as exc:
                fatal.append(exc)
                return

    with anyio.CancelScope() as scope:
        interrupt._register(scope)
        async with anyio.create_task_group() as tg:
            for _ in range(max(1, min(concurrency, count))):
                tg.start_soon(worker)
    return fatal[0] if fatal else None


async def refresh(
    client: ApifyClient,
    specs: Sequence[TaskSpec],
    *,
    concurrency: int = 16,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
    on_result: Callable[[int, RemoteTask | ApiError], None] | None = None,
) -> list[RemoteTask | ApiError]:
    """GET every task the file names. A 401 is raised; any other error is that task's result.

    ``on_result(i, result)`` is called as each task arrives, so that work on it (the diff) runs
    while the other requests are still in flight instead of after the last one.
    """
    results: list[RemoteTask | ApiError | None] = [None] * len(specs)
    counter = _Counter("refresh", len(specs), progress)

    async def handle(i: int) -> None:
        result: RemoteTask | ApiError
        try:
            result = RemoteTask(await client.get_task(specs[i].ref.path_id))
        except ApiError as exc:
            if isinstance(exc, AuthError) and exc.status == 401:
                raise
            result = exc
        if on_result is not None:
            on_result(i, result)
        results[i] = result
        counter.tick(not isinstance(result, ApiError) or result.status == 404)

    interrupt = interrupt or Interrupt()
    fatal = await _pool(len(specs), concurrency, handle, interrupt)
    if fatal is not None:
        raise fatal
    done = [r for r in results if r is not None]
    if len(done) < len(specs):
        raise Interrupted(f"interrupted after reading {len(done)} of {len(specs)} tasks")
    return done


@dataclass
class ApplyOutcome:
    results: list[TaskResult]
    interrupted: bool = False
    fatal: ApiError | None = None
    stale_checked: bool = False
    extra: dict[str, object] = field(default_factory=dict)


def stale_reasons(plan: Plan, listing: Sequence[dict[str, object]]) -> dict[str, str]:
    """Tasks of a saved plan that moved since it was made, judged from the task list."""
    by_id = {str(item.get("id")): item for item in listing}
    names = {str(item.get("name")) for item in listing}
    reasons = dict(plan.stale)
    for change in plan.to_apply:
        if change.key in reasons:
            continue
        if change.action is Action.UPDATE:
            item = by_id.get(str(change.task_id))
            if item is None:
                reasons[change.key] = "the task no longer exists"
            elif item.get("modifiedAt") != change.modified_at:
                reasons[change.key] = (
                    f"the task was modified at {item.get('modifiedAt')}, after the plan was made "
                    f"(it was {change.modified_at})"
                )
        elif change.action is Action.CREATE and change.payload.get("name") in names:
            reasons[change.key] = "a task of that name was created since the plan was made"
    return reasons


MIN_REDACTED_LENGTH = 4
"""Shorter secret values are not masked in messages: they would garble them beyond use."""


def secret_values(plan: Plan) -> frozenset[str]:
    """The values from the environment in the payloads of the plan's changes."""
    found: set[str] = set()
    for change in plan.to_apply:
        for pointer in change.secret_refs:
            value = resolve(change.payload, pointer_tokens(pointer))
            if isinstance(value, str) and len(value) >= MIN_REDACTED_LENGTH:
                found.add(value)
    return frozenset(found)


def redact(text: str, secrets: Collection[str]) -> str:
    """``text`` with every secret masked as ``***``: as it is, JSON-escaped (a body that repeats
    the request), on one line (as the client quotes messages), and cut short before ``...``
    (where the client shortens a long message)."""
    for secret in sorted(secrets, key=len, reverse=True):
        for form in _forms(secret):
            if form in text:
                text = text.replace(form, "***")
            if "..." in text:
                for end in range(len(form) - 1, MIN_REDACTED_LENGTH - 1, -1):
                    text = text.replace(form[:end] + "...", "***...")
    return text


def _forms(secret: str) -> Iterator[str]:
    yield secret
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    for form in (escaped, json.dumps(secret)[1:-1], one_line(secret)):
        if form != secret and len(form) >= MIN_REDACTED_LENGTH:
            yield form


async def apply(
    client: ApifyClient,
    plan: Plan,
    *,
    concurrency: int = 16,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
    check_stale: bool = False,
    create_missing: bool = True,
) -> ApplyOutcome:
    """Send every planned change; verify each answer; give every task of the plan a result."""
    interrupt = interrupt or Interrupt()
    stale: dict[str, str] = dict(plan.stale)
    if check_stale and plan.to_apply:
        stale = stale_reasons(plan, await client.all_tasks())

    results: list[TaskResult | None] = []
    work: list[int] = []
    for change in plan.changes:
        if change.action is Action.NOOP:
            results.append(TaskResult(change.key, Status.UNCHANGED, task_id=change.task_id))
        elif change.action is Action.ERROR:
            results.append(
                TaskResult(
                    change.key,
                    Status.FAILED,
                    task_id=change.task_id,
                    error_type=change.error_type or "plan-error",
                    error=change.error,
                )
            )
        elif change.action is Action.CREATE and not create_missing:
            results.append(
                TaskResult(
                    change.key,
                    Status.SKIPPED,
                    changes=change.changes,
                    error_type="skipped",
                    error="the task does not exist; run with --create-missing to create it",
                )
            )
        elif change.key in stale:
            results.append(
                TaskResult(
                    change.key,
                    Status.STALE,
                    task_id=change.task_id,
                    changes=change.changes,
                    error_type="stale",
                    error=stale[change.key],
                )
            )
        else:
            work.append(len(results))
            results.append(None)

    counter = _Counter("apply", len(work), progress)
    secrets = secret_values(plan)

    async def handle(n: int) -> None:
        i = work[n]
        change = plan.changes[i]
        started = time.monotonic()
        try:
            results[i] = await _apply_one(client, change, started)
        except ApiError as exc:
            results[i] = _failed(change, exc.kind, str(exc), exc.attempts, started)
            if isinstance(exc, AuthError) and exc.status == 401:
                raise
        except Exception as exc:  # a bug must cost one task, not the run and its report
            results[i] = _failed(
                change,
                "internal-error",
                f"unexpected {type(exc).__name__}: {exc} (a bug in tasksync: please report it)",
                attempts_made.get(),
                started,
            )
        except anyio.get_cancelled_exc_class():
            results[i] = _failed(
                change,
                "interrupted",
                "cancelled while the request was in flight: the change may or may not have "
                "been applied; run again to converge",
                attempts_made.get(),
                started,
            )
            raise
        finally:
            result = results[i]
            if result is not None and result.error and secrets:
                results[i] = dataclasses.replace(result, error=redact(result.error, secrets))
            counter.tick(result is not None and result.status is not Status.FAILED)

    fatal = await _pool(len(work), concurrency, handle, interrupt)
    final: list[TaskResult] = []
    for i, result in enumerate(results):
        if result is None:
            change = plan.changes[i]
            why = (
                "not started: the token was refused"
                if fatal
                else "not started: the run was interrupted"
            )
            result = TaskResult(
                change.key,
                Status.SKIPPED,
                task_id=change.task_id,
                changes=change.changes,
                error_type="skipped",
                error=why,
            )
        final.append(result)
    return ApplyOutcome(
        final, interrupted=interrupt.stopping, fatal=fatal, stale_checked=check_stale
    )


async def _apply_one(client: ApifyClient, change: TaskChange, started: float) -> TaskResult:
    if change.action is Action.CREATE:
        task = await client.create_task(change.payload, lookup_ref=change.key)
        status = Status.CREATED
    else:
        task = await client.update_task(str(change.task_id), change.payload)
        status = Status.UPDATED
    attempts = attempts_made.get()
    mismatches = verify(change.payload, task)
    if mismatches:
        return _failed(
            change,
            "did-not-converge",
            "did not converge: the API's answer differs from what was sent at "
            + ", ".join(mismatches),
            attempts,
            started,
            task_id=str(task.get("id")),
        )
    return TaskResult(
        change.key,
        status,
        task_id=str(task.get("id")),
        changes=change.changes,
        attempts=attempts,
        duration=time.monotonic() - started,
    )


def _failed(
    change: TaskChange,
    error_type: str,
    message: str,
    attempts: int,
    started: float,
    task_id: str | None = None,
) -> TaskResult:
    return TaskResult(
        change.key,
        Status.FAILED,
        task_id=task_id or change.task_id,
        changes=change.changes,
        error_type=error_type,
        error=message,
        attempts=attempts,
        duration=time.monotonic() - started,
    )
