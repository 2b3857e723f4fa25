"""The Plan value: counts, safety, and the saved form (round trip, secrets, checksum)."""

from __future__ import annotations

import json

import pytest

from tasksync.diff import create_change, diff_task
from tasksync.errors import NotFoundError, PlanFileError, UnsafePlanError
from tasksync.model import Action, RemoteTask, Safety, TaskRef, TaskSpec
from tasksync.plan import Plan, make_plan
from tasksync.secrets import plan_key

KEY = plan_key("a-token")


def remote(name: str, **fields: object) -> RemoteTask:
    return RemoteTask(
        {"id": name.upper().ljust(17, "X"), "name": name, "modifiedAt": "2026-01-01T00:00:00.000Z"}
        | fields
    )


def spec(name: str, **desired: object) -> TaskSpec:
    return TaskSpec(ref=TaskRef.parse(f"janedoe~{name}"), desired=desired)


def secret_spec() -> TaskSpec:
    return TaskSpec(
        ref=TaskRef.parse("janedoe~s"),
        desired={"input": {"apiKey": "hunter2", "q": 1}},
        sensitive=frozenset({"/input/apiKey"}),
        env_refs={"/input/apiKey": "${API_KEY}"},
    )


def test_counts_and_safety() -> None:
    specs = [spec(f"t{i}", title="new" if i < 4 else "same") for i in range(10)]
    remotes = [remote(f"t{i}", title="same") for i in range(10)]
    plan = make_plan(specs, remotes, safety=Safety(max_changed_fraction=0.3, min_tasks=10))
    assert plan.counts == {"noop": 6, "update": 4, "create": 0, "error": 0}
    with pytest.raises(UnsafePlanError, match="4 of 10 tasks"):
        plan.raise_if_unsafe()
    plan.raise_if_unsafe(force=True)
    small = make_plan(specs[:9], remotes[:9], safety=Safety(max_changed_fraction=0.3, min_tasks=10))
    small.raise_if_unsafe()


def test_missing_task_becomes_create_or_error() -> None:
    with_actor = TaskSpec(ref=TaskRef.parse("janedoe~new"), desired={"title": "x"}, actor="a~b")
    plan = make_plan(
        [with_actor, spec("gone", title="x")], [NotFoundError("404"), NotFoundError("404")]
    )
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.ERROR]
    assert plan.changes[0].payload == {"actId": "a~b", "name": "new", "title": "x"}


def test_saved_plan_round_trips_without_the_secret() -> None:
    s = secret_spec()
    plan = Plan((diff_task(s, remote("s", input={"apiKey": "old", "q": 1})),))
    doc = json.loads(json.dumps(plan.to_json(key=KEY)))
    assert "hunter2" not in json.dumps(doc)
    loaded = Plan.from_json(doc, environ={"API_KEY": "hunter2"}, key=KEY)
    assert loaded.stale == {}
    assert loaded.changes[0].payload == plan.changes[0].payload
    assert loaded.changes[0].changes == plan.changes[0].changes
    changed = Plan.from_json(doc, environ={"API_KEY": "other"}, key=KEY)
    assert "changed since the plan" in changed.stale["janedoe~s"]
    missing = Plan.from_json(doc, environ={}, key=KEY)
    assert "API_KEY" in missing.stale["janedoe~s"]


def test_saved_create_keeps_secret_out_too() -> None:
    s = TaskSpec(
        ref=TaskRef.parse("janedoe~n"),
        desired={"input": {"apiKey": "hunter2"}},
        actor="a~b",
        sensitive=frozenset({"/input/apiKey"}),
        env_refs={"/input/apiKey": "${API_KEY}"},
    )
    doc = Plan((create_change(s),)).to_json(key=KEY)
    assert "hunter2" not in json.dumps(doc)


def test_tampered_or_foreign_files_are_refused() -> None:
    doc = Plan((diff_task(spec("a", title="x"), remote("a")),)).to_json(key=KEY)
    doc["tasks"][0]["payload"]["title"] = "y"
    with pytest.raises(PlanFileError, match="checksum"):
        Plan.from_json(doc, environ={}, key=KEY)
    with pytest.raises(PlanFileError, match="not a tasksync plan"):
        Plan.from_json({"hello": 1}, environ={}, key=KEY)
    with pytest.raises(PlanFileError, match="formatVersion"):
        Plan.from_json({"kind": "tasksync-plan", "formatVersion": 99}, environ={}, key=KEY)
