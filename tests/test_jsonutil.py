"""JSON Pointers as tasksync reads and writes them (``tasksync.jsonutil``): what resolves, what
is covered by an ignore pointer, and writing in place. (Equality is tested in test_diff.py.)"""

from __future__ import annotations

from tasksync.jsonutil import MISSING, covered, pointer_tokens, resolve, set_at


def test_resolve_follows_mappings_and_list_indexes_and_nothing_else() -> None:
    doc = {"a": [10, {"b": "text"}], "a/b": 1, "m~n": 2}
    assert resolve(doc, ["a", "1", "b"]) == "text"
    assert resolve(doc, pointer_tokens("/a~1b")) == 1
    assert resolve(doc, pointer_tokens("/m~0n")) == 2
    assert resolve(doc, []) is doc
    assert resolve(doc, ["a", "2"]) is MISSING  # one past the end
    assert resolve(doc, ["a", "x"]) is MISSING
    assert resolve(doc, ["a", "1", "b", "0"]) is MISSING  # a string has no elements
    assert resolve(doc, ["nope", "0"]) is MISSING


def test_covered_means_the_pointer_itself_or_below_it() -> None:
    assert covered("/input/a", ("/input/a",))
    assert covered("/input/a/b", ("/x", "/input/a"))
    assert not covered("/input/ab", ("/input/a",))
    assert not covered("/input", ("/input/a",))


def test_set_at_replaces_in_mappings_and_lists_at_any_depth() -> None:
    doc = {"a": {"b": {"c": 1}}, "l": [0, [1, 2]]}
    set_at(doc, ["a", "b", "c"], "x")
    set_at(doc, ["l", "1", "0"], "y")
    assert doc == {"a": {"b": {"c": "x"}}, "l": [0, ["y", 2]]}
