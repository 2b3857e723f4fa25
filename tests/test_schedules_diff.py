"""The schedule diff's laws (hypothesis), as for tasks: applying a change's payload to the live
schedule yields a schedule that diffs to no change; a schedule equal to its spec is unchanged."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tasksync.model import Action, RemoteTask, TaskRef
from tasksync.schedules.diff import Refs, diff_schedule
from tasksync.schedules.model import ActionSpec, ScheduleSpec, api_action

TASKS = {"~task-one": "T" * 17, "~task-two": "U" * 17}
ACTORS = {"apify~hello": "A" * 17}
REFS = Refs(tasks=TASKS, actors=ACTORS)

values = st.one_of(
    st.integers(-3, 3), st.floats(0, 2).map(float), st.booleans(), st.text(max_size=3)
)
inputs = st.none() | st.dictionaries(st.sampled_from(["a", "b"]), values, max_size=2)
task_actions = st.builds(
    ActionSpec, task=st.sampled_from(sorted(TASKS)).map(TaskRef.parse), input=inputs
)
actor_actions = st.builds(
    ActionSpec,
    actor=st.just("apify~hello"),
    input=inputs,
    options=st.none() | st.just({"memoryMbytes": 256}),
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "cronExpression": st.sampled_from(["@daily", "0 3 * * *"]),
        "timezone": st.sampled_from(["UTC", "Europe/Prague"]),
        "isEnabled": st.booleans(),
        "isExclusive": st.booleans(),
        "title": st.none() | st.text(max_size=3),
        "notifications": st.fixed_dictionaries({}, optional={"email": st.booleans()}),
    },
)
specs = st.builds(
    ScheduleSpec,
    ref=st.just(TaskRef.parse("~nightly")),
    desired=fields,
    actions=st.none() | st.lists(task_actions | actor_actions, max_size=3).map(tuple),
)
live_actions = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text("xyz", min_size=1, max_size=2),
            "type": st.just("RUN_ACTOR_TASK"),
            "actorTaskId": st.sampled_from(sorted(TASKS.values())),
        },
        optional={"input": st.dictionaries(st.just("a"), values, max_size=1)},
    ),
    max_size=2,
)
remotes = st.fixed_dictionaries(
    {
        "id": st.just("S" * 17),
        "modifiedAt": st.just("2026-01-01T00:00:00.000Z"),
        "cronExpression": st.just("@hourly"),
        "timezone": st.just("UTC"),
        "isEnabled": st.booleans(),
        "isExclusive": st.booleans(),
        "title": st.none() | st.text(max_size=3),
        "notifications": st.fixed_dictionaries({}, optional={"email": st.booleans()}),
        "actions": live_actions,
    }
)


def applied(remote: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """What the API stores after a PUT of ``payload`` (references resolved, as apply does)."""
    out = {**remote, **payload}
    if "actions" in payload:
        actions = []
        for n, action in enumerate(payload["actions"]):
            action = api_action(action)
            if "actorTaskId" in action:
                action["actorTaskId"] = TASKS[action["actorTaskId"]]
            if "actorId" in action:
                action["actorId"] = ACTORS[action["actorId"]]
            actions.append({"id": f"new{n}", **action})
        out["actions"] = actions
    return out


@given(specs, remotes)
def test_applying_the_payload_converges(spec: ScheduleSpec, remote: dict[str, Any]) -> None:
    change = diff_schedule(spec, RemoteTask(remote), REFS)
    after = applied(remote, dict(change.payload))
    again = diff_schedule(spec, RemoteTask(after), REFS)
    assert again.action is Action.NOOP, again.changes


@given(specs, remotes)
def test_only_changed_fields_are_sent(spec: ScheduleSpec, remote: dict[str, Any]) -> None:
    change = diff_schedule(spec, RemoteTask(remote), REFS)
    managed = set(spec.desired) | ({"actions"} if spec.actions is not None else set())
    assert set(change.payload) <= managed
    assert (change.action is Action.NOOP) == (not change.payload)
