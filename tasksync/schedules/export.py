"""The account's schedules as ``schedules:`` entries of a task file (for ``tasksync export``).

Actions are written with references, not IDs: a task as ``username~name`` (from the task
listing the export already has), an Actor as ``username~name`` (read once each), an Actor's
input as the object its JSON text holds. Planning the exported file right away shows no changes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tasksync import engine
from tasksync.api import ApifyClient
from tasksync.model import JSON, RemoteTask
from tasksync.run import Interrupt
from tasksync.schedules.model import RUN_TASK, SCHEDULE_FIELDS


async def read(
    client: ApifyClient, *, concurrency: int | None = None, interrupt: Interrupt | None = None
) -> tuple[list[dict[str, JSON]], dict[str, str]]:
    """Every schedule of the account (full objects, by name), and the Actors' references."""
    listing = (await client.all_schedules()).value
    refs = [str(item["id"]) for item in listing]
    found = await engine.read_listed(
        client, refs, concurrency=concurrency, interrupt=interrupt, get=client.get_schedule
    )
    live = [dict(item.data) for item in found if item is not None]
    schedules = sorted(live, key=lambda s: str(s.get("name")))
    actor_ids = sorted(
        {
            str(a.get("actorId"))
            for s in schedules
            for a in s.get("actions") or ()
            if a.get("type") != RUN_TASK
        }
    )
    actors: dict[str, str] = {}
    async with engine.refresh(
        client, actor_ids, concurrency=concurrency, interrupt=interrupt, get=client.get_actor
    ) as fetched:
        async for item in fetched:
            if isinstance(item.task, RemoteTask):
                data = item.task.data
                actors[actor_ids[item.index]] = f"{data.get('username')}~{data.get('name')}"
    return schedules, actors


def entries(
    schedules: Sequence[Mapping[str, JSON]], tasks: Mapping[str, str], actors: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The entries for these schedules; ``tasks`` and ``actors`` map IDs to references."""
    out = []
    for schedule in schedules:
        entry: dict[str, Any] = {"schedule": f"~{schedule.get('name')}"}
        for name in SCHEDULE_FIELDS:
            value = schedule.get(name)
            if value is not None:
                entry[name] = value
        entry["actions"] = [_action(a, tasks, actors) for a in schedule.get("actions") or ()]
        out.append(entry)
    return out


def _action(
    action: Mapping[str, JSON], tasks: Mapping[str, str], actors: Mapping[str, str]
) -> dict[str, Any]:
    if action.get("type") == RUN_TASK:
        task_id = str(action.get("actorTaskId"))
        item: dict[str, Any] = {"task": tasks.get(task_id, task_id)}
        if action.get("input") is not None:
            item["input"] = action["input"]
        return item
    actor_id = str(action.get("actorId"))
    item = {"actor": actors.get(actor_id, actor_id)}
    run_input = action.get("runInput")
    if isinstance(run_input, dict) and run_input.get("body"):
        with contextlib.suppress(ValueError):  # not JSON: left out, the plan will show it
            item["input"] = json.loads(run_input["body"])
    if action.get("runOptions") is not None:
        item["options"] = action["runOptions"]
    return item
