"""Planning the schedules: read them, resolve their actions' references, and diff each.

It runs after the tasks were read and diffed, so a ``task:`` reference to a task of the file
resolves to the ID its refresh found, or to "created by this apply" (it then resolves at apply
time). Other task references and every Actor reference are read once each (``engine.refresh``
with another getter, so the same pool, interrupt and progress serve them). A reference that
resolves to nothing makes its schedule a plan error that says which action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from tasksync import engine
from tasksync.api import ApifyClient, Reply
from tasksync.errors import ApiError, NotFoundError
from tasksync.model import JSON, Action, RemoteTask, RequestStats, TaskChange, TaskRef, TaskSpec
from tasksync.run import Interrupt
from tasksync.schedules.diff import Refs, create_schedule, diff_schedule
from tasksync.schedules.model import ScheduleSpec

Found = dict[str, RemoteTask | ApiError]


async def _read(
    client: ApifyClient,
    refs: list[str],
    get: Callable[[str], Awaitable[Reply[dict[str, JSON]]]],
    concurrency: int,
    interrupt: Interrupt,
) -> tuple[Found, RequestStats]:
    found: Found = {}
    spent = RequestStats()
    async with engine.refresh(
        client,
        refs,
        concurrency=concurrency,
        interrupt=interrupt,
        get=get,
    ) as fetched:
        async for item in fetched:
            found[refs[item.index]] = item.task
            spent += item.requests
    return found, spent


def _file_task(ref: TaskRef, tasks: Sequence[tuple[TaskSpec, TaskChange]]) -> TaskChange | None:
    """The planned change of the file's task that ``ref`` names, if any (``~name`` and
    ``user~name`` of one name are taken as the same task)."""
    for spec, change in tasks:
        mine = spec.ref
        if mine.text == ref.text or (
            mine.name is not None
            and mine.name == ref.name
            and None in (mine.username, ref.username)
        ):
            return change
    return None


async def plan_schedules(
    client: ApifyClient,
    specs: Sequence[ScheduleSpec],
    tasks: Sequence[tuple[TaskSpec, TaskChange]],
    *,
    concurrency: int = 16,
    interrupt: Interrupt | None = None,
) -> tuple[tuple[TaskChange, ...], RequestStats]:
    """Every schedule's planned change, and the requests reading them took."""
    interrupt = interrupt or Interrupt()
    ids: dict[str, str] = {}
    shown: dict[str, str] = {}
    missing: dict[str, str] = {}  # reference -> why it resolves to nothing
    outside: set[str] = set()
    for spec in specs:
        for action in spec.actions or ():
            if action.task is None:
                continue
            ref = action.task
            change = _file_task(ref, tasks)
            if ref.id is not None:
                ids[ref.text] = ref.id
            elif change is None:
                outside.add(ref.text)
            elif change.task_id is not None:
                ids[ref.text] = change.task_id
                shown[change.task_id] = ref.text
            elif change.action is not Action.CREATE:
                missing[ref.text] = f"its task {ref.text} failed in the plan: {change.error}"
    found, spent = await _read(client, sorted(outside), client.get_task, concurrency, interrupt)
    for ref_text, task in found.items():
        if isinstance(task, RemoteTask):
            ids[ref_text], shown[task.id] = task.id, ref_text
        else:
            missing[ref_text] = f"its task {ref_text} cannot be read: {task}"
    actor_refs = sorted({a.actor for s in specs for a in s.actions or () if a.actor is not None})
    actors, more = await _read(client, actor_refs, client.get_actor, concurrency, interrupt)
    spent += more
    actor_ids: dict[str, str] = {}
    for ref_text, actor in actors.items():
        if isinstance(actor, RemoteTask):
            actor_ids[ref_text], shown[actor.id] = actor.id, ref_text
        else:
            missing[ref_text] = f"its Actor {ref_text} cannot be read: {actor}"
    keys = [spec.ref.path_id for spec in specs]
    live, more = await _read(client, keys, client.get_schedule, concurrency, interrupt)
    spent += more
    refs = Refs(tasks=ids, actors=actor_ids, shown=shown)
    changes = [_one(spec, live[spec.ref.path_id], refs, missing) for spec in specs]
    return tuple(changes), spent


def _one(
    spec: ScheduleSpec, remote: RemoteTask | ApiError, refs: Refs, missing: dict[str, str]
) -> TaskChange:
    for i, action in enumerate(spec.actions or ()):
        ref = action.task.text if action.task is not None else action.actor
        if ref in missing:
            return TaskChange(
                spec.key,
                Action.ERROR,
                error=f"actions[{i}]: {missing[ref]}",
                error_type="record-not-found",
            )
    if isinstance(remote, NotFoundError):
        return create_schedule(spec)
    if isinstance(remote, ApiError):
        return TaskChange(spec.key, Action.ERROR, error=str(remote), error_type=remote.kind)
    return diff_schedule(spec, remote, refs)
