"""The Plan value: counts, safety, and the saved form (round trip, secrets, checksum)."""

from __future__ import annotations

import json

import pytest

from tasksync.diff import actor_id, create_change, diff_task
from tasksync.errors import ApiError, NotFoundError, PlanFileError, UnsafePlanError
from tasksync.model import (
    Action,
    ChangeKind,
    FieldChange,
    RemoteTask,
    Safety,
    TaskChange,
    TaskRef,
    TaskSpec,
)
from tasksync.plan import Plan, make_plan, plan_task
from tasksync.secrets import MASK, plan_key

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


# -- creating, errors and the plan's own settings (written for the mutation run) -----------------


def test_a_create_sends_every_field_of_the_spec_and_lists_each_value_added() -> None:
    nested = {"q": 1, "deep": {"x": 1}}
    s = TaskSpec(
        ref=TaskRef.parse("janedoe~new"),
        desired={
            "title": "T",
            "description": "D",
            "options": {"build": "latest", "maxItems": None},
            "input": {"apiKey": "hunter2", "nested": nested},
        },
        actor="a~b",
        sensitive=frozenset({"/input/apiKey"}),
        env_refs={"/input/apiKey": "${API_KEY}", "/input/gone": "${GONE}"},
    )
    change = create_change(s)
    assert change == TaskChange(
        key="janedoe~new",
        action=Action.CREATE,
        changes=(
            FieldChange("/name", ChangeKind.ADD, None, "new"),
            FieldChange("/title", ChangeKind.ADD, None, "T"),
            FieldChange("/description", ChangeKind.ADD, None, "D"),
            FieldChange("/options/build", ChangeKind.ADD, None, "latest"),
            FieldChange("/input/apiKey", ChangeKind.ADD, None, MASK),
            FieldChange("/input/nested", ChangeKind.ADD, None, nested),
        ),
        payload={
            "actId": "a~b",
            "name": "new",
            "title": "T",
            "description": "D",
            "options": {"build": "latest"},  # an unset option is not sent
            "input": {"apiKey": "hunter2", "nested": nested},
        },
        secret_refs={"/input/apiKey": "${API_KEY}"},
        sensitive=frozenset({"/input/apiKey"}),
    )
    change.payload["input"]["nested"]["deep"]["x"] = 2  # type: ignore[index]
    assert nested["deep"] == {"x": 1}, "the payload shares values with the spec"


def test_a_create_of_a_title_alone_and_the_two_creates_that_cannot_be() -> None:
    only = TaskSpec(ref=TaskRef.parse("janedoe~t"), desired={"title": "T"}, actor="a~b")
    assert create_change(only).payload == {"actId": "a~b", "name": "t", "title": "T"}
    assert create_change(spec("orphan", title="T")) == TaskChange(
        key="janedoe~orphan",
        action=Action.ERROR,
        error="task not found (add `actor:` to the entry to create it)",
        error_type="record-not-found",
    )
    by_id = TaskSpec(ref=TaskRef.parse("ABCDEFGHIJKLMNOPQ"), desired={}, actor="a~b")
    assert create_change(by_id) == TaskChange(
        key=by_id.key,
        action=Action.ERROR,
        error="task not found, and a task given by ID cannot be created: name it instead",
        error_type="record-not-found",
    )


def test_a_task_the_refresh_could_not_read_is_an_error_of_its_kind() -> None:
    error = ApiError("HTTP 500 internal-error: boom", status=500, type="internal-error")
    assert plan_task(spec("a", title="x"), error) == TaskChange(
        key="janedoe~a",
        action=Action.ERROR,
        error="HTTP 500 internal-error: boom",
        error_type=error.kind,
    )


def test_encrypted_secrets_count_as_equal_unless_rotated() -> None:
    s = secret_spec()
    live = remote("s", input={"apiKey": "ENCRYPTED_VALUE:abc", "q": 1})
    assert plan_task(s, live).action is Action.NOOP
    assert plan_task(s, live, rotate_secrets=True).action is Action.UPDATE
    assert make_plan([s], [live]).changes[0].action is Action.NOOP
    assert make_plan([s], [live], rotate_secrets=True).changes[0].action is Action.UPDATE


def test_a_plan_keeps_its_source_and_safety_and_two_entries_of_one_task_are_errors() -> None:
    safety = Safety(max_changed_fraction=0.5, min_tasks=2)
    specs = [spec("a", title="x"), spec("b", title="x")]
    same = remote("a", title="x")
    plan = make_plan(specs, [same, same], source="tasks.yaml", safety=safety)
    assert (plan.source, plan.safety) == ("tasks.yaml", safety)
    assert [(c.action, c.error) for c in plan.changes] == [
        (Action.ERROR, f"resolves to the same task ({same.id}) as janedoe~b"),
        (Action.ERROR, f"resolves to the same task ({same.id}) as janedoe~a"),
    ]


def test_the_refusal_says_how_to_go_on() -> None:
    plan = make_plan([spec("a", title="x")], [remote("a")], safety=Safety(0.3, 1))
    with pytest.raises(UnsafePlanError) as caught:
        plan.raise_if_unsafe()
    assert str(caught.value).endswith(
        ". Review the plan; if it is intended, run again with --force or raise the limit in "
        "the file."
    )


def test_schedules_are_counted_on_their_own_and_predicted_like_tasks() -> None:
    schedule_update = TaskChange(
        key="janedoe~nightly",
        action=Action.UPDATE,
        task_id="S1",
        payload={"title": "x"},
        secret_refs={"/title": "${T}"},
    )
    schedule_create = TaskChange(
        key="janedoe~weekly",
        action=Action.CREATE,
        payload={"name": "weekly", "title": "y"},
        secret_refs={"/title": "${W}"},
    )
    safety = Safety(max_changed_fraction=0.3, min_tasks=1)
    plan = Plan((), safety=safety, schedules=(schedule_update, schedule_create))
    assert plan.safety_refusal() == (
        "the plan changes 2 of 2 schedules (100%), more than the safety limit of 30% "
        "(safety.maxChangedFraction, checked from 1 tasks on)"
    )
    prediction = plan.prediction()
    assert prediction.safety == safety and prediction.has_schedules
    assert prediction.skipped_schedules == ("janedoe~weekly",)
    assert [(s.key, s.template) for s in prediction.schedule_secrets] == [
        ("janedoe~nightly", "${T}")
    ]
    creating = Plan((), safety=safety, schedules=plan.schedules, create_missing=True).prediction()
    assert creating.skipped_schedules == ()
    assert [s.key for s in creating.schedule_secrets] == ["janedoe~nightly", "janedoe~weekly"]
    assert not Plan(()).prediction().has_schedules


def test_a_create_without_a_title_masks_what_came_from_the_environment() -> None:
    s = TaskSpec(
        ref=TaskRef.parse("janedoe~n"),
        desired={"description": "secret text", "input": {"creds": {"user": "u", "pw": "p4ss"}}},
        actor="a~b",
        sensitive=frozenset({"/description", "/input/creds/pw"}),
    )
    change = create_change(s)
    assert change.payload == {"actId": "a~b", "name": "n", **s.desired}
    assert [(c.path, c.new) for c in change.changes] == [
        ("/name", "n"),
        ("/description", MASK),
        ("/input/creds", {"user": "u", "pw": MASK}),
    ]


def test_specs_and_what_the_refresh_found_must_pair_up() -> None:
    with pytest.raises(ValueError):
        make_plan([spec("a"), spec("b")], [remote("a")])
    with pytest.raises(ValueError):
        make_plan([spec("a")], [remote("a"), remote("b")], changes=[])


def test_a_task_is_created_only_in_the_token_owners_account() -> None:
    mine = TaskSpec(ref=TaskRef.parse("janedoe~n"), desired={}, actor="a~b")
    theirs = TaskSpec(ref=TaskRef.parse("other~n"), desired={}, actor="a~b")
    assert create_change(mine, owner="janedoe").action is Action.CREATE
    assert create_change(theirs).action is Action.CREATE  # the owner is not known
    assert create_change(theirs, owner="janedoe") == TaskChange(
        key="other~n",
        action=Action.ERROR,
        error="task not found, and it cannot be created: a task is always created in the "
        "account of the token's owner (janedoe), not in other's",
        error_type="record-not-found",
    )


def test_an_actor_is_named_as_the_api_needs_it() -> None:
    assert actor_id("apify/web-scraper") == "apify~web-scraper"
    assert actor_id("apify~web-scraper") == "apify~web-scraper"
    assert actor_id("a/b/c") == "a~b/c"
    assert actor_id("moJRLRc85AitArpNN") == "moJRLRc85AitArpNN"
