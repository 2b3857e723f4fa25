"""The saved plan, pure: what it holds, that it loads back as it was (schedules included), and
every refusal, word for word: another account, a moved task or schedule, an edited or foreign
file. (Written for the mutation run over ``tasksync.plan``: see tests/README.md.)"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from tasksync.errors import PlanFileError
from tasksync.model import (
    Action,
    Basis,
    ChangeKind,
    FieldChange,
    Prune,
    RemoteTask,
    Safety,
    TaskChange,
    TaskRef,
    TaskSpec,
)
from tasksync.plan import Plan, make_plan
from tasksync.prediction import Prediction
from tasksync.secrets import MASK, plan_key

URL = "https://api.example.test"
KEY = plan_key("apify_api_token")


def update(key: str, task_id: str, title: str = "new") -> TaskChange:
    return TaskChange(
        key=key,
        action=Action.UPDATE,
        task_id=task_id,
        modified_at="2026-01-01T00:00:00.000Z",
        changes=(FieldChange("/title", ChangeKind.CHANGE, "old", title),),
        payload={"title": title},
    )


def create(key: str, name: str) -> TaskChange:
    return TaskChange(
        key=key,
        action=Action.CREATE,
        changes=(FieldChange("/title", ChangeKind.ADD, None, "t"),),
        payload={"actId": "a~b", "name": name, "title": "t"},
    )


def full_plan(**overrides: Any) -> Plan:
    fields: dict[str, Any] = {
        "changes": (
            update("janedoe~a", "AAA"),
            create("janedoe~b", "b"),
            TaskChange(key="janedoe~c", action=Action.NOOP, task_id="CCC"),
        ),
        "source": "tâches.yaml",
        "safety": Safety(max_changed_fraction=0.5, min_tasks=3),
        "schedules": (update("janedoe~nightly", "SSS"), create("janedoe~weekly", "weekly")),
        "api_url": URL,
        "user_id": "U1",
        "username": "janedoe",
        "create_missing": True,
        "force": True,
        "unmanaged": ("janedoe~other",),
    }
    return Plan(**(fields | overrides))


def checksum(doc: dict[str, Any]) -> str:
    """The saved form's checksum, as plans saved by any version compute it: SHA-256 of the
    document without its checksum, as JSON with sorted keys, no spaces, UTF-8 unescaped."""
    body = {k: v for k, v in doc.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def saved(plan: Plan) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(plan.to_json(key=KEY)))
    return doc


def resealed(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with a checksum that fits it again (an edit the checksum cannot see)."""
    return doc | {"checksum": checksum(doc)}


def refusal(doc: Any) -> str:
    with pytest.raises(PlanFileError) as caught:
        Plan.from_json(doc, environ={}, key=KEY)
    return str(caught.value)


def test_the_saved_form_holds_everything_apply_needs() -> None:
    plan = full_plan()
    doc = saved(plan)
    assert doc["formatVersion"] == 2 and doc["kind"] == "tasksync-plan"
    assert doc["source"] == "tâches.yaml"
    assert doc["safety"] == {"maxChangedFraction": 0.5, "minTasks": 3}
    assert doc["counts"] == {"noop": 1, "update": 1, "create": 1, "error": 0}
    assert doc["scheduleCounts"] == {"noop": 0, "update": 1, "create": 1, "error": 0}
    assert doc["createMissing"] is True and doc["force"] is True
    assert doc["unmanaged"] == ["janedoe~other"]
    assert doc["apiUrl"] == URL and doc["account"] == {"userId": "U1", "username": "janedoe"}
    assert [t["taskId"] for t in doc["tasks"]] == ["AAA", None, "CCC"]
    assert [s["scheduleId"] for s in doc["schedules"]] == ["SSS", None]
    assert doc["schedules"][1]["payload"] == {"actId": "a~b", "name": "weekly", "title": "t"}
    assert doc["checksum"] == checksum(doc)
    assert len(bytes.fromhex(doc["salt"])) >= 16


def test_a_plan_without_schedules_or_unmanaged_list_keeps_the_first_format() -> None:
    doc = saved(full_plan(schedules=(), unmanaged=None))
    assert doc["formatVersion"] == 1
    assert not {"schedules", "scheduleCounts", "unmanaged"} & set(doc)


def test_a_saved_plan_loads_back_as_it_was() -> None:
    plan = full_plan()
    loaded = Plan.from_json(saved(plan), environ={}, key=KEY)
    # Only the list of unmanaged tasks is for the reader alone; it is not loaded back.
    assert loaded == dataclasses.replace(plan, saved=True, unmanaged=None)
    assert loaded.schedules[0].task_id == "SSS"
    assert loaded.stale == loaded.schedule_stale == {}


def test_deletions_bases_secret_fields_and_sealed_values_load_back_as_they_were() -> None:
    """What main's saved plan added: deletions and what the file owns, the basis of an update,
    secret fields kept or rotated, sensitive remote values sealed with the token's key."""
    update_ = dataclasses.replace(
        update("janedoe~a", "AAA"),
        payload={"title": "new", "input": {"pw": "remote-pw-1234", "apiKey": "ENC"}},
        basis=Basis(("title", "input"), ("/input/cursor",), digest="hmac-sha256:00ff"),
        secret_fields={"/input/apiKey": "keep"},
        sensitive=frozenset({"/input/pw"}),
    )
    deletion = TaskChange(key="janedoe~old", action=Action.DELETE, task_id="OLD")
    gone_schedule = TaskChange(key="janedoe~old-nightly", action=Action.DELETE, task_id="SOLD")
    plan = full_plan(
        changes=(update_,),
        deletions=(deletion,),
        schedule_deletions=(gone_schedule,),
        owns=Prune(("old*",), ("old-*",)),
        prune=True,
    )
    doc = saved(plan)
    assert "remote-pw-1234" not in json.dumps(doc)
    assert doc["tasks"][0]["secretFields"] == [{"path": "/input/apiKey", "action": "keep"}]
    loaded = Plan.from_json(doc, environ={}, key=KEY)
    assert loaded == dataclasses.replace(plan, saved=True, unmanaged=None)
    with pytest.raises(PlanFileError, match="another API token"):
        Plan.from_json(doc, environ={}, key=plan_key("another token"))


def test_an_error_keeps_its_message_in_the_saved_form() -> None:
    error = TaskChange(key="janedoe~e", action=Action.ERROR, error="HTTP 500: boom")
    loaded = Plan.from_json(saved(Plan((error,))), environ={}, key=KEY)
    assert loaded.changes == (error,)


def test_secrets_of_schedules_are_sealed_and_read_back_like_those_of_tasks() -> None:
    secret = dataclasses.replace(  # as the diff makes it: the field change is masked
        update("janedoe~nightly", "SSS", title="hunter22"),
        changes=(FieldChange("/title", ChangeKind.CHANGE, "old", MASK),),
        secret_refs={"/title": "${T}"},
        sensitive=frozenset({"/title"}),
    )
    plan = full_plan(schedules=(secret,))
    doc = saved(plan)
    assert "hunter22" not in json.dumps(doc)
    assert doc["schedules"][0]["payload"] == {"title": "${T}"}
    loaded = Plan.from_json(doc, environ={"T": "hunter22"}, key=KEY)
    assert loaded.schedules == (secret,) and loaded.schedule_stale == {}
    unset = Plan.from_json(doc, environ={}, key=KEY)
    assert unset.schedule_stale == {
        "janedoe~nightly": "${T} cannot be read from the environment (T is not set)"
    }
    assert unset.stale == {}


def test_a_plan_of_the_first_format_has_no_schedules_even_if_the_file_lists_some() -> None:
    doc = saved(full_plan())
    doc["formatVersion"] = 1
    assert Plan.from_json(resealed(doc), environ={}, key=KEY).schedules == ()


def test_unknown_flags_and_account_fields_load_as_unset() -> None:
    doc = saved(full_plan())
    doc |= {"createMissing": "yes", "force": 1, "account": "janedoe", "apiUrl": 5}
    loaded = Plan.from_json(resealed(doc), environ={}, key=KEY)
    assert (loaded.create_missing, loaded.force) == (False, False)
    assert (loaded.api_url, loaded.user_id, loaded.username) == (None, None, None)


def test_edited_foreign_and_unsaved_files_are_refused_word_for_word() -> None:
    doc = saved(full_plan())
    assert refusal({"kind": "other"}) == "this is not a tasksync plan file"
    assert refusal(["tasksync-plan"]) == "this is not a tasksync plan file"
    unsaved = full_plan().to_json(include_payloads=False)
    assert not any("payload" in t for t in [*unsaved["tasks"], *unsaved["schedules"]])
    no_payloads = "the plan has no payloads: save it with `tasksync plan --out`"
    assert refusal(unsaved) == no_payloads
    assert refusal(unsaved | {"checksum": "sha256:0"}) == no_payloads
    assert refusal({k: v for k, v in doc.items() if k != "checksum"}) == no_payloads
    edited = doc | {"source": "other.yaml"}
    assert refusal(edited) == "the plan file was modified after it was saved (checksum mismatch)"
    broken = resealed({k: v for k, v in doc.items() if k != "safety"})
    assert refusal(broken) == "the plan file is malformed (KeyError: 'safety')"


def test_a_saved_plan_applies_only_where_it_was_made() -> None:
    plan = full_plan()
    plan.raise_if_elsewhere(URL, "U1", "whatever")  # the username may change; the ID may not
    with pytest.raises(PlanFileError) as other_user:
        plan.raise_if_elsewhere(URL, "U2", "john")
    assert str(other_user.value) == (
        f"this plan was made against {URL} as janedoe (user ID U1), but this run is against "
        f"{URL} as john (user ID U2). A saved plan applies only where it was made: plan again "
        "against this API and account."
    )
    with pytest.raises(PlanFileError, match=r"as janedoe \(user ID U1\), but this run is against"):
        plan.raise_if_elsewhere("https://other.test", "U1", "janedoe")
    for unknown in (full_plan(api_url=None, username=None), full_plan(user_id=None)):
        with pytest.raises(PlanFileError) as caught:
            unknown.raise_if_elsewhere(URL, "U1", "")
        assert str(caught.value).startswith(
            "this plan was made against an unknown API and account (the plan does not say), "
            f"but this run is against {URL} as (no username) (user ID U1)."
        )


def test_tasks_and_schedules_that_moved_since_the_plan_are_stale() -> None:
    plan = full_plan(
        changes=(
            update("janedoe~gone", "G"),
            update("janedoe~edited", "E"),
            update("janedoe~same", "S"),
            update("janedoe~known", "K"),
            create("janedoe~taken", "taken"),
            create("janedoe~free", "free"),
        ),
        stale={"janedoe~known": "its secret changed"},
    )
    listing = [
        {"id": "E", "name": "edited", "modifiedAt": "2026-02-02T00:00:00.000Z"},
        {"id": "S", "name": "same", "modifiedAt": "2026-01-01T00:00:00.000Z"},
        {"id": "T", "name": "taken", "modifiedAt": "2026-01-01T00:00:00.000Z"},
    ]
    assert plan.stale_reasons(listing) == {
        "janedoe~gone": "the task no longer exists",
        "janedoe~edited": "the task was modified at 2026-02-02T00:00:00.000Z, after the plan "
        "was made (it was 2026-01-01T00:00:00.000Z)",
        "janedoe~known": "its secret changed",
        "janedoe~taken": "a task of that name was created since the plan was made",
    }
    assert plan.schedule_stale_reasons([{"id": "X", "name": "weekly"}]) == {
        "janedoe~nightly": "the schedule no longer exists",
        "janedoe~weekly": "a schedule of that name was created since the plan was made",
    }


def test_entries_that_resolve_to_the_same_task_are_errors_that_name_each_other() -> None:
    keys = ("janedoe~a", "janedoe~a2", "janedoe~a3", "janedoe~c")
    same = RemoteTask({"id": "SAME", "name": "a", "modifiedAt": "2026-01-01T00:00:00.000Z"})
    other = RemoteTask({"id": "OTHER", "name": "c", "modifiedAt": "2026-01-01T00:00:00.000Z"})
    changes = [update(k, "OTHER" if k.endswith("c") else "SAME") for k in keys]
    specs = [TaskSpec(ref=TaskRef.parse(k), desired={}) for k in keys]
    plan = make_plan(specs, [same, same, same, other], changes=changes)
    error = "resolves to the same task (SAME) as "
    assert [(c.key, c.action, c.task_id, c.error, c.error_type) for c in plan.changes[:3]] == [
        (key, Action.ERROR, "SAME", error + others, "duplicate-entry")
        for key, others in (
            ("janedoe~a", "janedoe~a2, janedoe~a3"),
            ("janedoe~a2", "janedoe~a, janedoe~a3"),
            ("janedoe~a3", "janedoe~a, janedoe~a2"),
        )
    ]
    assert plan.changes[3] == changes[3]


def test_the_prediction_is_saved_with_the_plan() -> None:
    plan = full_plan()
    assert saved(plan)["apply"] == json.loads(json.dumps(plan.prediction().to_json()))
    assert isinstance(plan.prediction(), Prediction)
