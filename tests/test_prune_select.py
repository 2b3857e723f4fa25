"""The pure rules of deletion (``tasksync.prune.select``) and the ``prune:`` section's checks:
only the token owner's resources inside the globs that the file does not declare; the law that
deleting what was planned leaves nothing more to delete; the schedule-task rule; stale checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasksync import config
from tasksync.errors import ConfigError
from tasksync.model import Action, Prune, TaskRef
from tasksync.prune.select import candidates, guard, moved
from tasksync.schedules.model import ActionSpec, ScheduleSpec
from tasksync.settings import Account

ME = Account("uid-jane", "janedoe")


def item(name: str, user: str = "janedoe", user_id: str = "uid-jane", **more: object) -> dict:
    return {"id": f"id-{user}-{name}", "name": name, "username": user, "userId": user_id, **more}


def test_only_the_owners_undeclared_resources_inside_the_globs() -> None:
    listing = [
        item("news-old"),
        item("news-daily"),
        item("weather-old"),
        item("news-bob", user="bob", user_id="uid-bob"),  # another user's, in a shared list
        item("news-by-id"),
    ]
    declared = [TaskRef.parse("~news-daily"), TaskRef.parse("id-janedoe-news-by-id")]
    declared[1] = TaskRef(text="x", id="id-janedoe-news-by-id")
    found = candidates(listing, ["news-*"], declared, ME)
    assert [(c.key, c.action) for c in found] == [("janedoe~news-old", Action.DELETE)]
    assert candidates(listing, [], declared, ME) == []


names = st.lists(st.from_regex(r"[a-c]{1,2}-[a-c]{1,2}", fullmatch=True), unique=True, max_size=8)


@given(names, names, st.sampled_from(["*", "a*", "*-b", "?-?", "[ab]-*"]))
def test_deleting_the_plan_leaves_nothing_to_delete_and_never_a_declared_one(
    live: list[str], declared: list[str], glob: str
) -> None:
    listing = [item(n) for n in live]
    refs = [TaskRef.parse("~" + n) for n in declared]
    planned = candidates(listing, [glob], refs, ME)
    assert not {c.key.partition("~")[2] for c in planned} & set(declared)
    left = [i for i in listing if f"janedoe~{i['name']}" not in {c.key for c in planned}]
    assert candidates(left, [glob], refs, ME) == []


def test_a_task_run_by_a_kept_schedule_is_a_plan_error_naming_both() -> None:
    tasks = candidates([item("news-old"), item("news-free")], ["news-*"], [], ME)
    runs = [{"type": "RUN_ACTOR_TASK", "actorTaskId": "id-janedoe-news-old"}]
    listing = [item("keep", actions=runs), item("going", actions=runs)]
    going = candidates(listing, ["going"], [], ME)
    checked = guard(tasks, going, listing, [], ME)
    assert [c.action for c in checked] == [Action.ERROR, Action.DELETE]
    assert "janedoe~keep" in (checked[0].error or "")
    # the schedule that runs it is deleted too: the task may go
    both = candidates(listing, ["*"], [], ME)
    assert [c.action for c in guard(tasks, both, listing, [], ME)] == [Action.DELETE] * 2
    # a declared schedule runs what the file says, not what it runs now
    spec = ScheduleSpec(TaskRef.parse("~keep"), {}, actions=(ActionSpec(task=None, actor="a~b"),))
    assert guard(tasks, going, listing, [spec], ME)[0].action is Action.DELETE
    spec = ScheduleSpec(
        TaskRef.parse("~new"), {}, actions=(ActionSpec(TaskRef.parse("~news-free")),)
    )
    assert [c.action for c in guard(tasks, both, listing, [spec], ME)] == [
        Action.DELETE,
        Action.ERROR,
    ]


def test_a_deletion_of_a_resource_modified_since_is_stale() -> None:
    planned = candidates([item("news-a", modifiedAt="t1"), item("news-b")], ["*"], [], ME)
    now = [item("news-a", modifiedAt="t2")]  # news-b is gone: its DELETE finds a 404, a success
    assert list(moved(planned, now, "task")) == ["janedoe~news-a"]


def test_the_prune_section_is_read_and_its_globs_checked() -> None:
    text = "version: 1\ntasks: []\nprune:\n  tasks: ['news-*', 'x-[ab]?']\n  schedules: ['*']\n"
    assert config.load_text(text).prune == Prune(("news-*", "x-[ab]?"), ("*",))
    assert config.load_text("version: 1\ntasks: []\n").prune is None
    bad = "version: 1\ntasks: []\nprune:\n  tasks: ['janedoe~news-*', 'a[b', '']\n  other: []\n"
    with pytest.raises(ConfigError) as caught:
        config.load_text(bad)
    messages = [(p.line, p.path, p.message) for p in caught.value.problems]
    assert any(line == 4 and "leave out the username" in m for line, _, m in messages)
    assert any("a [ must be closed" in m for _, _, m in messages)
    assert any(
        path == "prune.other" and "known keys: tasks, schedules" in m for _, path, m in messages
    )
    assert len(messages) == 4, messages
