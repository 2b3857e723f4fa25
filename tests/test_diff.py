"""The diff engine: examples for each rule, and the two laws as hypothesis properties.

Laws: applying a change's payload to the remote task (under either options semantics the API may
have) yields the desired state, and planning again afterwards shows no changes.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasksync.diff import diff_task, verify
from tasksync.jsonutil import MISSING, json_equal, pointer_tokens, resolve
from tasksync.model import (
    OPTION_KEYS,
    Action,
    ChangeKind,
    RemoteTask,
    TaskChange,
    TaskRef,
    TaskSpec,
)
from tasksync.secrets import ENCRYPTED_VALUE as ENCRYPTED_PREFIX
from tasksync.secrets import MASK

_MISSING = MISSING


def remote(**fields: Any) -> RemoteTask:
    data = {
        "id": "a" * 17,
        "name": "t",
        "username": "janedoe",
        "modifiedAt": "2026-01-01T00:00:00.000Z",
    }
    data.update(fields)
    return RemoteTask(data)


def spec(**kwargs: Any) -> TaskSpec:
    desired = {
        k: kwargs.pop(k) for k in ("options", "input", "title", "description") if k in kwargs
    }
    return TaskSpec(ref=TaskRef.parse("janedoe~t"), desired=desired, **kwargs)


def server_put(
    task: dict[str, Any], payload: dict[str, Any], options_semantics: str
) -> dict[str, Any]:
    """What the API does with a PUT body (CONTRACT.md section 6), in either reading."""
    after = copy.deepcopy(task)
    for key, value in payload.items():
        if key == "options" and options_semantics == "merge" and value is not None:
            merged = dict(after.get("options") or {})
            for k, v in value.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            after["options"] = merged
        else:
            after[key] = copy.deepcopy(value)
    return after


# -- examples --------------------------------------------------------------------------------------


def test_json_equal_is_type_strict() -> None:
    assert not json_equal(True, 1)
    assert json_equal(1, 1.0) and json_equal({"a": [5]}, {"a": [5.0]})  # JSON has one number
    assert not json_equal(1, "1") and not json_equal(0, False)
    assert not json_equal({"a": [1, True]}, {"a": [1, 1]})
    assert json_equal({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal(None, {})


def test_unchanged_task_is_noop_and_unmanaged_fields_are_ignored() -> None:
    r = remote(options={"build": "latest", "memoryMbytes": 1024}, input={"a": 1}, title="x")
    change = diff_task(spec(options={"build": "latest"}, input={"a": 1}), r)
    assert change.action is Action.NOOP
    assert change.payload == {}


def test_changed_option_sends_complete_options() -> None:
    r = remote(options={"build": "latest", "memoryMbytes": 1024, "timeoutSecs": 60})
    change = diff_task(spec(options={"memoryMbytes": 2048}), r)
    assert change.action is Action.UPDATE
    assert change.payload == {
        "options": {"build": "latest", "memoryMbytes": 2048, "timeoutSecs": 60}
    }
    assert [(c.path, c.kind, c.old, c.new) for c in change.changes] == [
        ("/options/memoryMbytes", ChangeKind.CHANGE, 1024, 2048)
    ]


def test_null_option_means_unset() -> None:
    change = diff_task(spec(options={"maxItems": None}), remote(options={"maxItems": 10}))
    assert change.payload == {"options": {"maxItems": None}}
    assert change.changes[0].kind is ChangeKind.REMOVE
    assert diff_task(spec(options={"maxItems": None}), remote(options={})).action is Action.NOOP
    assert diff_task(spec(options={"maxItems": None}), remote(options=None)).action is Action.NOOP


def test_option_type_strictness() -> None:
    change = diff_task(
        spec(options={"restartOnError": True}), remote(options={"restartOnError": 1})
    )
    assert change.action is Action.UPDATE


def test_replace_mode_removes_undeclared_keys() -> None:
    r = remote(input={"a": 1, "old": "x"})
    change = diff_task(spec(input={"a": 1}), r)
    assert change.payload == {"input": {"a": 1}}
    assert [(c.path, c.kind) for c in change.changes] == [("/input/old", ChangeKind.REMOVE)]


def test_merge_mode_keeps_undeclared_keys_and_deep_merges() -> None:
    r = remote(input={"a": 1, "keep": True, "proxy": {"useApifyProxy": True, "groups": ["X"]}})
    change = diff_task(spec(input={"proxy": {"groups": ["Y"]}}, input_mode="merge"), r)
    assert change.payload == {
        "input": {"a": 1, "keep": True, "proxy": {"useApifyProxy": True, "groups": ["Y"]}}
    }
    assert [c.path for c in change.changes] == ["/input/proxy/groups"]


def test_ignored_pointer_keeps_remote_value() -> None:
    r = remote(input={"a": 1, "cursor": 55}, options={"build": "beta"})
    s = spec(
        input={"a": 2}, options={"build": "latest"}, ignore=("/input/cursor", "/options/build")
    )
    change = diff_task(s, r)
    assert change.payload == {"input": {"a": 2, "cursor": 55}}
    assert diff_task(spec(input={"a": 1}, ignore=("/input/cursor",)), r).action is Action.NOOP
    # An ignored path that the remote lacks is not added either.
    change = diff_task(
        spec(input={"a": 2, "cursor": 1}, ignore=("/input/cursor",)), remote(input={})
    )
    assert change.payload == {"input": {"a": 2}}


def test_ignored_path_survives_a_parent_the_file_sets_to_a_scalar() -> None:
    # Found by the convergence law below: the file sets /input/a to null, the remote holds
    # /input/a/cursor, which is ignored. The ignored value must not be overwritten.
    r = remote(input={"a": {"cursor": 7, "other": 1}, "b": 1})
    s = spec(input={"a": None, "b": 2}, ignore=("/input/a/cursor",))
    change = diff_task(s, r)
    assert change.payload == {"input": {"a": {"cursor": 7}, "b": 2}}
    assert diff_task(s, remote(input=change.payload["input"])).action is Action.NOOP
    # Through a list the remote has and the file does not.
    r = remote(input={"urls": [{"cursor": 3}]})
    change = diff_task(spec(input={}, ignore=("/input/urls/0/cursor",)), r)
    assert change.action is Action.NOOP


@pytest.mark.parametrize(
    ("mine", "live", "ignore", "sent"),
    [
        # Into an element of a list that the file has: the element's other keys are the file's.
        (
            {"urls": [{"u": "a", "cursor": 1}]},
            {"urls": [{"u": "b", "cursor": 9}]},
            ("/input/urls/0/cursor",),
            {"urls": [{"u": "a", "cursor": 9}]},
        ),
        # An element the file's list does not have cannot hold the remote value.
        (
            {"urls": [{"u": "a"}]},
            {"urls": [{"u": "a"}, {"u": "b", "cursor": 3}], "x": 1},
            ("/input/urls/1/cursor",),
            {"urls": [{"u": "a"}]},
        ),
        # List elements themselves: kept where both lists have them; a list loses no element.
        (
            {"list": [1, 2, 3]},
            {"list": [1, 9], "x": 1},
            ("/input/list/1", "/input/list/2", "/input/list/3"),
            {"list": [1, 9, 3]},
        ),
        (
            {"list": [1, 2, 3]},
            {"list": [1, 2, 3, 4]},
            ("/input/list/3",),
            {"list": [1, 2, 3]},
        ),
        # The file has a list where the remote has a mapping around the ignored value.
        ({"a": [1]}, {"a": {"cursor": 5, "b": 1}}, ("/input/a/cursor",), {"a": {"cursor": 5}}),
        # Neither side has the ignored key.
        ({"a": 1}, {"a": 2}, ("/input/cursor",), {"a": 1}),
    ],
)
def test_ignored_pointers_through_lists_and_mismatched_parents(
    mine: dict[str, Any], live: dict[str, Any], ignore: tuple[str, ...], sent: dict[str, Any]
) -> None:
    s = spec(input=copy.deepcopy(mine), ignore=ignore)
    change = diff_task(s, remote(input=copy.deepcopy(live)))
    assert change.payload == {"input": sent}
    assert s.desired["input"] == mine, "placing the remote values changed the spec"


def test_ignoring_the_whole_input_leaves_it_alone() -> None:
    s = spec(input={"a": 1}, ignore=("/input",))
    assert diff_task(s, remote(input={"a": 2})).action is Action.NOOP


def test_ignored_values_are_placed_into_a_copy_not_into_the_spec() -> None:
    s = spec(input={"a": {"cursor": 1, "b": 2}}, ignore=("/input/a/cursor",))
    diff_task(s, remote(input={"a": {"cursor": 5, "b": 3}}))
    assert s.desired["input"] == {"a": {"cursor": 1, "b": 2}}


def test_verify_names_what_the_api_did_not_take_but_not_the_actor_it_renames() -> None:
    payload = {"actId": "apify~web-scraper", "title": "T", "options": {"build": "latest"}}
    task = {"actId": "moJRLRc85AitArpNN", "title": "other", "options": {"build": "beta"}}
    assert verify(payload, task) == ["/title", "/options/build"]
    assert verify(payload, {**task, "title": "T", "options": {"build": "latest"}}) == []


def test_encrypted_secret_is_not_drift_but_is_sent_with_other_changes() -> None:
    r = remote(input={"apiKey": ENCRYPTED_PREFIX + "abc", "q": "x"})
    assert diff_task(spec(input={"apiKey": "s3cret", "q": "x"}), r).action is Action.NOOP
    change = diff_task(spec(input={"apiKey": "s3cret", "q": "y"}), r)
    assert change.payload == {"input": {"apiKey": "s3cret", "q": "y"}}
    assert [c.path for c in change.changes] == ["/input/q"]
    rotated = diff_task(spec(input={"apiKey": "s3cret", "q": "x"}), r, rotate_secrets=True)
    assert rotated.payload == {"input": {"apiKey": "s3cret", "q": "x"}}


def test_sensitive_values_are_masked_in_changes_but_not_in_payload() -> None:
    s = spec(
        input={"auth": {"password": "hunter2"}, "n": 1},
        sensitive=frozenset({"/input/auth/password"}),
    )
    change = diff_task(s, remote(input={"auth": {"password": "old"}, "n": 1}))
    assert [(c.path, c.old, c.new) for c in change.changes] == [
        ("/input/auth/password", MASK, MASK)
    ]
    added = diff_task(s, remote(input=None))
    assert "hunter2" not in repr(added.changes)
    assert added.payload["input"]["auth"]["password"] == "hunter2"


def test_keys_are_escaped_in_pointers() -> None:
    change = diff_task(spec(input={"a/b": 1, "c~d": 2}), remote(input={}))
    assert sorted(c.path for c in change.changes) == ["/input/a~1b", "/input/c~0d"]
    assert resolve({"a/b": 1}, pointer_tokens("/a~1b")) == 1


def test_title_and_description() -> None:
    change = diff_task(spec(title="New", description="d"), remote(title="Old"))
    assert change.payload == {"title": "New", "description": "d"}


def test_verify_reports_what_did_not_converge() -> None:
    payload = {"options": {"memoryMbytes": 2048, "maxItems": None}, "input": {"k": "s"}}
    assert (
        verify(payload, {"options": {"memoryMbytes": 2048}, "input": {"k": ENCRYPTED_PREFIX}}) == []
    )
    assert verify(payload, {"options": {"memoryMbytes": 1024}, "input": {"k": "t"}}) == [
        "/options/memoryMbytes",
        "/input",
    ]


# -- laws ------------------------------------------------------------------------------------
#
# The expectations are built with a reference model written here, not with the diff module's
# own helpers (json_equal, deep_merge, pointer_tokens, resolve): a bug in one of those would
# otherwise be in the expectation too, and the law would hold.

_ABSENT = object()


def ref_equal(a: Any, b: Any) -> bool:
    """JSON equality that tells types apart: True is not 1, 1 is not 1.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(ref_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(ref_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def ref_merge(base: Any, overlay: Any) -> Any:
    """DESIGN.md's merge: mappings merge key by key (the overlay wins), anything else replaces."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return overlay
    return {**base, **{k: ref_merge(base.get(k, _ABSENT), v) for k, v in overlay.items()}}


def ref_at(doc: Any, pointer: str) -> Any:
    """The value at an RFC 6901 pointer (``~1`` is ``/``, then ``~0`` is ``~``), or _ABSENT."""
    for raw in pointer.split("/")[1:] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return _ABSENT
    return doc


def test_the_reference_model() -> None:
    assert not ref_equal(True, 1) and not ref_equal(1, 1.0) and ref_equal({"a": [1]}, {"a": [1]})
    assert ref_merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"b": 3}, "l": [2]}) == {
        "a": {"b": 3, "c": 2},
        "l": [2],
    }
    assert ref_at({"a/b": {"~c": [5, 6]}}, "/a~1b/~0c/1") == 6
    assert ref_at({"a": 1}, "/b") is _ABSENT and ref_at({"a": 1}, "") == {"a": 1}


# A few keys come up often, so that the remote and the file share nested keys (what a merge is
# about); "~1" and "x/y" need escaping in pointers, in both orders of unescaping.
keys = st.sampled_from(["a", "b", "~1", "x/y"]) | st.text(alphabet="ab/~01", min_size=1, max_size=3)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2, width=16)
    | st.text("xy", max_size=2)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
inputs = st.dictionaries(keys, values, max_size=4)
option_values = st.none() | st.integers(0, 4) | st.booleans() | st.text("ab", max_size=1)
options = st.dictionaries(st.sampled_from(OPTION_KEYS), option_values, max_size=4)


def _paths(doc: Any, prefix: str) -> list[str]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + "/" + k.replace("~", "~0").replace("/", "~1"))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[TaskSpec, RemoteTask, str]:
    remote_input = draw(st.none() | inputs)
    remote_options = draw(st.none() | options)
    if draw(st.booleans()) and isinstance(remote_input, dict):
        for key in draw(st.lists(st.sampled_from(sorted(remote_input) or ["a"]), max_size=2)):
            if key in remote_input:
                remote_input[key] = ENCRYPTED_PREFIX + "x"
    desired: dict[str, Any] = {}
    if draw(st.booleans()):
        desired["options"] = draw(options)
    if draw(st.booleans()):
        desired["input"] = draw(inputs)
        if isinstance(remote_input, dict) and draw(st.booleans()):
            # A mapping under the same key on both sides: what a merge merges, a replace replaces.
            shared = draw(keys)
            remote_input[shared], desired["input"][shared] = draw(inputs), draw(inputs)
    if draw(st.booleans()):
        desired["title"] = draw(st.none() | st.text("ab", max_size=2))
    candidates = (
        _paths(remote_input or {}, "/input")[1:] + _paths(desired.get("input", {}), "/input")[1:]
    )
    candidates += ["/options/" + k for k in OPTION_KEYS]
    ignore = tuple(draw(st.lists(st.sampled_from(candidates), max_size=2, unique=True)))
    s = TaskSpec(
        ref=TaskRef.parse("janedoe~t"),
        desired=desired,
        input_mode=draw(st.sampled_from(["replace", "merge"])),
        ignore=ignore,
    )
    r = remote(
        input=remote_input,
        options=remote_options,
        title=draw(st.none() | st.text("ab", max_size=2)),
    )
    return s, r, draw(st.sampled_from(["merge", "replace"]))


# Bounded CPU work, not a possible deadlock: with several busy processes on two cores it
# takes close to the suite's 60 s per-test timeout (55 s measured), so it gets its own.
@pytest.mark.timeout(240)
@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_applying_the_payload_converges_and_replanning_is_a_noop(
    case: tuple[TaskSpec, RemoteTask, str],
) -> None:
    s, r, semantics = case
    before = copy.deepcopy(dict(r.data))
    change = diff_task(s, r)
    after = server_put(before, dict(change.payload), semantics)

    assert diff_task(s, RemoteTask(after)).action is Action.NOOP
    assert verify(change.payload, after) == []
    assert dict(r.data) == before, "the diff must not modify the remote task it was given"

    # The desired state holds: every managed, non-ignored option and the input.
    ignored = set(s.ignore)
    for key, want in s.desired.get("options", {}).items():
        if "/options/" + key not in ignored:
            assert ref_equal((after.get("options") or {}).get(key), want)
    if "input" in s.desired:
        expected = (
            ref_merge(before["input"], s.desired["input"])
            if s.input_mode == "merge" and isinstance(before["input"], dict)
            else s.desired["input"]
        )
        for path in _paths(expected, "/input")[1:]:
            if any(path == p or path.startswith(p + "/") for p in ignored):
                continue
            if any(p.startswith(path + "/") for p in ignored):
                continue  # a parent of an ignored path: compared below its children
            have = ref_at(after, path)
            want = ref_at({"input": expected}, path)
            if isinstance(have, str) and have.startswith(ENCRYPTED_PREFIX):
                continue
            assert have is not _ABSENT and ref_equal(have, want), path
    # Ignored paths keep their remote value.
    for pointer in s.ignore:
        field = pointer.split("/")[1]
        old = ref_at({field: before.get(field) or {}}, pointer)
        new = ref_at({field: after.get(field) or {}}, pointer)
        if field == "options" and "options" not in change.payload:
            continue
        if field == "options":  # an absent option and a null one both mean "unset"
            old = None if old is _ABSENT else old
            new = None if new is _ABSENT else new
        if old is _ABSENT:
            assert new is _ABSENT
        else:
            assert ref_equal(old, new)


def test_every_field_change_carries_its_masked_old_and_new_values() -> None:
    s = TaskSpec(
        ref=TaskRef.parse("janedoe~t"),
        desired={
            "title": "secret title",
            "description": "new",
            "options": {"build": "latest", "timeoutSecs": None, "memoryMbytes": 2048},
            "input": {
                "keys": ["plain", "hunter22"],
                "creds": {"user": "u", "pw": "pw-new"},
                "q": "new",
            },
        },
        sensitive=frozenset({"/title", "/input/keys/1", "/input/creds/pw", "/input/gone"}),
    )
    r = remote(
        title="old title",
        description="old",
        options={"timeoutSecs": 60, "memoryMbytes": 1024},
        input={"creds": {"user": "u", "pw": "pw-old", "x": 1}, "q": "old", "gone": "s3cret"},
    )
    change = diff_task(s, r)
    assert (change.key, change.task_id, change.modified_at) == (
        "janedoe~t",
        "a" * 17,
        "2026-01-01T00:00:00.000Z",
    )
    assert [(c.path, c.kind, c.old, c.new) for c in change.changes] == [
        ("/title", ChangeKind.CHANGE, MASK, MASK),
        ("/description", ChangeKind.CHANGE, "old", "new"),
        ("/options/build", ChangeKind.ADD, None, "latest"),
        ("/options/timeoutSecs", ChangeKind.REMOVE, 60, None),
        ("/options/memoryMbytes", ChangeKind.CHANGE, 1024, 2048),
        ("/input/keys", ChangeKind.ADD, None, ["plain", MASK]),
        ("/input/creds/pw", ChangeKind.CHANGE, MASK, MASK),
        ("/input/creds/x", ChangeKind.REMOVE, 1, None),
        ("/input/q", ChangeKind.CHANGE, "old", "new"),
        ("/input/gone", ChangeKind.REMOVE, MASK, None),
    ]
    change.payload["input"]["creds"]["pw"] = "changed"  # type: ignore[index]
    assert s.desired["input"]["creds"]["pw"] == "pw-new", "the payload shares the spec's values"


def test_an_input_the_task_lacks_is_listed_key_by_key() -> None:
    change = diff_task(spec(input={"a": 1, "b": {"c": 2}}), remote())
    assert [(c.path, c.kind, c.new) for c in change.changes] == [
        ("/input/a", ChangeKind.ADD, 1),
        ("/input/b", ChangeKind.ADD, {"c": 2}),
    ]
    assert diff_task(spec(input=[1]), remote()).changes[0].path == "/input"


def test_a_noop_names_its_task_and_ignoring_all_options_leaves_them_alone() -> None:
    noop = diff_task(spec(options={"build": "x"}, ignore=("/options",)), remote())
    assert noop == TaskChange(
        key="janedoe~t",
        action=Action.NOOP,
        task_id="a" * 17,
        modified_at="2026-01-01T00:00:00.000Z",
    )


def test_rotating_secrets_lists_encrypted_values_at_any_depth() -> None:
    r = remote(input={"n": {"apiKey": ENCRYPTED_PREFIX + "x"}, "top": ENCRYPTED_PREFIX + "y"})
    s = spec(input={"n": {"apiKey": "s3cret"}, "top": "t0p"})
    assert diff_task(s, r).action is Action.NOOP
    rotated = diff_task(s, r, rotate_secrets=True)
    assert [c.path for c in rotated.changes] == ["/input/n/apiKey", "/input/top"]


def test_json_equal_edges() -> None:
    assert not json_equal("ENCRYPTED_VALUE:x", "s")  # only when asked
    assert json_equal("ENCRYPTED_VALUE:x", "s", True)
    assert json_equal("ENCRYPTED_JSON:x", {"a": 1}, True) and json_equal(
        "ENCRYPTED_JSON:x", [], True
    )
    assert not json_equal("ENCRYPTED_JSON:x", 5, True)
    assert json_equal(["ENCRYPTED_VALUE:x"], ["s"], True)  # inside lists too
    assert not json_equal({"x": 1}, {"y": None})  # a missing key is not a null


def test_an_ignored_input_key_does_not_hide_the_option_of_the_same_name() -> None:
    s = spec(options={"build": "latest"}, input={"build": 1}, ignore=("/input/build",))
    change = diff_task(s, remote(options={"build": "beta"}, input={"build": 2}))
    assert [c.path for c in change.changes] == ["/options/build"]


def test_options_from_the_environment_are_masked_both_ways() -> None:
    s = spec(options={"build": "secret-build"}, sensitive=frozenset({"/options/build"}))
    change = diff_task(s, remote(options={"build": "old-secret"}))
    assert [(c.old, c.new) for c in change.changes] == [(MASK, MASK)]
