"""Applying the schedules' changes, after the tasks': references resolved, sent, verified.

A payload's ``task:`` references become task IDs here, once the tasks exist: a task of the file
takes the ID its apply (or plan) found; another reference is read once. A schedule whose task
failed, was skipped or is stale is skipped with that reason, and nothing is sent for it. The
engine's pool, interrupt and rules for unsent changes serve schedules as they serve tasks.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Mapping, Sequence
from functools import partial

from tasksync import writes
from tasksync.api import ApifyClient
from tasksync.errors import ApiError
from tasksync.jsonutil import json_equal
from tasksync.model import JSON, Action, RequestStats, Status, TaskChange, TaskRef, TaskResult
from tasksync.plan import Plan
from tasksync.run import Interrupt
from tasksync.schedules.diff import Refs, same_action
from tasksync.schedules.model import RUN_TASK, api_action

_DONE = (Status.UNCHANGED, Status.UPDATED, Status.CREATED)


class _Skip(Exception):
    """A schedule that cannot be sent: one of its tasks does not exist."""


class _Resolver:
    """Task references -> IDs, from the tasks' results, else read once each."""

    def __init__(self, client: ApifyClient, tasks: Sequence[TaskResult]) -> None:
        self.client = client
        self.tasks = tasks
        self.known: dict[str, str] = {}
        self.spent = RequestStats()

    def _result(self, ref: TaskRef) -> TaskResult | None:
        for result in self.tasks:
            mine = TaskRef.parse(result.key)
            if mine.text == ref.text or (
                mine.name is not None
                and mine.name == ref.name
                and None in (mine.username, ref.username)
            ):
                return result
        return None

    async def task_id(self, text: str) -> str:
        ref = TaskRef.parse(text)
        if ref.id is not None:
            return ref.id
        if text in self.known:
            return self.known[text]
        result = self._result(ref)
        if result is not None:
            if result.status not in _DONE or result.task_id is None:
                raise _Skip(f"its task {text} is {result.status.value}: {result.error or ''}")
            self.known[text] = result.task_id
            return result.task_id
        reply = await self.client.get_task(text)
        self.spent += reply.stats
        self.known[text] = str(reply.value["id"])
        return self.known[text]

    async def actor_id(self, text: str) -> str:
        key = "actor:" + text
        if key not in self.known:
            reply = await self.client.get_actor(text)
            self.spent += reply.stats
            self.known[key] = str(reply.value["id"])
        return self.known[key]


async def schedules_step(
    client: ApifyClient,
    plan: Plan,
    tasks: writes.ApplyOutcome,
    create_missing: bool,
    concurrency: int | None = None,
    interrupt: Interrupt | None = None,
) -> tuple[writes.ApplyOutcome, list[TaskResult]]:
    """The schedules' step of an apply, after the tasks' (``tasks``: how those went): the
    outcome with the schedules' requests, and their results. A saved plan's schedules are
    listed once first: one modified since the plan was made is stale."""
    stale = dict(plan.schedule_stale)
    spent = RequestStats()
    if plan.saved and any(c.action is not Action.NOOP for c in plan.schedules):
        listed = await client.all_schedules()
        stale = plan.schedule_stale_reasons(listed.value)
        spent = listed.stats
    done = await apply_schedules(
        client,
        plan.schedules,
        tasks.results,
        stale=stale,
        create_missing=create_missing,
        concurrency=concurrency,
        interrupt=interrupt,
    )
    outcome = dataclasses.replace(
        tasks,
        requests=tasks.requests + spent + done.requests,
        interrupted=tasks.interrupted or done.interrupted,
        fatal=done.fatal,
    )
    return outcome, done.results


async def apply_schedules(
    client: ApifyClient,
    changes: Sequence[TaskChange],
    tasks: Sequence[TaskResult],
    *,
    stale: Mapping[str, str],
    create_missing: bool,
    concurrency: int | None = None,
    interrupt: Interrupt | None = None,
) -> writes.ApplyOutcome:
    """Send every schedule change that is to be applied; give every change a result."""
    resolver = _Resolver(client, tasks)
    done = await writes.send_all(
        client,
        changes,
        [writes.settled(c, stale, create_missing) for c in changes],
        partial(_apply_one, client, resolver),
        phase="schedules",
        concurrency=concurrency,
        interrupt=interrupt,
    )
    return dataclasses.replace(done, requests=done.requests + resolver.spent)


async def _apply_one(client: ApifyClient, resolver: _Resolver, change: TaskChange) -> TaskResult:
    started = time.monotonic()
    try:
        payload = await _resolved(change.payload, resolver)
    except _Skip as skip:
        return writes.unsent(change, Status.SKIPPED, "skipped", str(skip))
    except ApiError as exc:
        if exc.stops_run:
            raise
        why = f"a task or Actor of its actions cannot be read: {exc}"
        return writes.failed(change, exc.kind, why, started, exc.stats)
    sent = {k: ([api_action(a) for a in v] if k == "actions" else v) for k, v in payload.items()}
    try:
        if change.action is Action.CREATE:
            reply = await client.create_schedule(sent, lookup_ref=change.key)
            status = Status.CREATED
        else:
            reply = await client.update_schedule(str(change.task_id), sent)
            status = Status.UPDATED
    except ApiError as exc:
        if exc.stops_run:
            raise
        return writes.failed(change, exc.kind, str(exc), started, exc.stats)
    return writes.written(change, status, reply, verify(payload, reply.value), started)


async def _resolved(payload: Mapping[str, JSON], resolver: _Resolver) -> dict[str, JSON]:
    out = copy.deepcopy(dict(payload))
    for action in out.get("actions") or ():
        if action.get("type") == RUN_TASK:
            action["actorTaskId"] = await resolver.task_id(str(action["actorTaskId"]))
        else:
            action["actorId"] = await resolver.actor_id(str(action["actorId"]))
    return out


def verify(payload: Mapping[str, JSON], live: Mapping[str, JSON]) -> list[str]:
    """Where the schedule the API returned differs from the (resolved) payload it was sent."""
    problems: list[str] = []
    for name, want in payload.items():
        have = live.get(name)
        if name == "notifications":
            problems += [
                f"/notifications/{k}"
                for k, v in want.items()
                if not json_equal((have or {}).get(k), v)
            ]
        elif name == "actions":
            have = have if isinstance(have, list) else []
            refs = _identity(want)
            if len(have) != len(want) or not all(
                same_action(w, h, refs) for w, h in zip(want, have, strict=True)
            ):
                problems.append("/actions")
        elif not json_equal(have, want):
            problems.append(f"/{name}")
    return problems


def _identity(actions: list[JSON]) -> Refs:
    """References that are already IDs (after ``_resolved``), and Actors as the API keeps them."""
    tasks = {str(a["actorTaskId"]): str(a["actorTaskId"]) for a in actions if "actorTaskId" in a}
    actors = {str(a["actorId"]): str(a["actorId"]) for a in actions if "actorId" in a}
    return Refs(tasks=tasks, actors=actors)
