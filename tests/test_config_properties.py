"""The loader's law: any valid document, written out by ``yaml.safe_dump``, loads back to the
TaskSpecs it describes (defaults merged, ``${VAR}`` read from the environment and marked secret).

Documents are generated as Python data whose strings are either literal text (written with ``${``
escaped as ``$${``) or a reference to an environment variable (``Ref``). The expected specs are
computed from the same data by the rules of DESIGN.md, independently of the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tasksync import config
from tasksync.config import validation, yamlread
from tasksync.config.validation import MEMORY_SIZES
from tasksync.errors import ConfigError
from tasksync.model import MANAGED_FIELDS, OPTION_KEYS, TaskRef


@dataclass(frozen=True)
class Ref:
    """A string that is ``${name}`` in the file."""

    name: str


VARIABLES = ("API_KEY", "TOKEN", "HOST")
ENVIRON = {"API_KEY": "k-123", "TOKEN": "${not expanded twice}", "HOST": ""}

texts = st.text(max_size=12)
strings = st.one_of(texts, st.sampled_from([Ref(v) for v in VARIABLES]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    strings,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)
inputs = st.dictionaries(texts, values, max_size=4)
options = st.fixed_dictionaries(
    {},
    optional={
        "build": st.none() | strings.filter(lambda s: s != ""),
        "timeoutSecs": st.none() | st.integers(min_value=0, max_value=10**6),
        "memoryMbytes": st.none() | st.sampled_from(MEMORY_SIZES),
        "maxItems": st.none() | st.integers(min_value=1, max_value=10**6),
        "maxTotalChargeUsd": st.none()
        | st.floats(min_value=0.01, max_value=1e6)
        | st.integers(min_value=1, max_value=1000),
        "restartOnError": st.none() | st.booleans(),
    },
)


def _token(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


pointers = st.one_of(
    st.lists(texts, max_size=3).map(lambda ts: "/input" + "".join("/" + _token(t) for t in ts)),
    st.sampled_from(["/options", *(f"/options/{key}" for key in OPTION_KEYS)]),
)
names = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9-]{1,12}[a-zA-Z0-9]", fullmatch=True)
users = st.from_regex(r"[a-z][a-z0-9._-]{0,8}", fullmatch=True)
fields = {
    "actor": st.sampled_from(
        ["apify~web-scraper", "apify/website-content-crawler", "moJRLRc85AitArpNN"]
    ),
    "title": strings,
    "description": strings,
    "options": options,
    "input": inputs,
    "inputMode": st.sampled_from(["replace", "merge"]),
    "ignore": st.lists(pointers, max_size=3),
    "sensitive": st.lists(pointers, max_size=3),
}
task_refs = st.one_of(
    st.tuples(users, st.sampled_from("~/"), names).map("".join),
    names.map(lambda n: "~" + n),
    st.from_regex(r"[A-Za-z0-9]{17}", fullmatch=True),
)
entries = st.builds(
    lambda ref, rest: {"task": ref, **rest}, task_refs, st.fixed_dictionaries({}, optional=fields)
)
tasks = st.lists(
    entries,
    max_size=6,
    unique_by=lambda t: TaskRef.parse(t["task"]).text,
)
documents = st.fixed_dictionaries(
    {"version": st.just(1), "tasks": tasks},
    optional={
        "defaults": st.fixed_dictionaries({}, optional=fields),
        "safety": st.fixed_dictionaries(
            {},
            optional={
                "maxChangedFraction": st.floats(min_value=0, max_value=1),
                "minTasks": st.integers(min_value=0, max_value=10**4),
            },
        ),
        "x-anything": values,
    },
)


def written_document(document: dict[str, Any]) -> dict[str, Any]:
    """The document as it is written in the file: ``$${`` escapes only where ``${`` expands."""
    out = dict(document)
    entries = [("defaults", document["defaults"])] if "defaults" in document else []
    for name, entry in entries:
        out[name] = written_entry(entry)
    out["tasks"] = [written_entry(task) for task in document["tasks"]]
    if "x-anything" in document:
        out["x-anything"] = written(document["x-anything"])
    return out


def written_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: written(v) if k in MANAGED_FIELDS else v for k, v in entry.items()}


def written(value: Any) -> Any:
    """A managed value as it is written in the file."""
    if isinstance(value, Ref):
        return "${" + value.name + "}"
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [written(v) for v in value]
    return value


def resolved(value: Any) -> Any:
    """``value`` as the loader should give it."""
    if isinstance(value, Ref):
        return ENVIRON[value.name]
    if isinstance(value, dict):
        return {k: resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(v) for v in value]
    return value


def refs(value: Any, pointer: str = "") -> dict[str, str]:
    """{JSON Pointer: template} of every ``Ref`` in ``value``."""
    if isinstance(value, Ref):
        return {pointer: "${" + value.name + "}"}
    found: dict[str, str] = {}
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        items = []
    for key, item in items:
        found.update(refs(item, f"{pointer}/{_token(str(key))}"))
    return found


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """DESIGN.md: mappings merge recursively, lists and scalars replace (but see ``added``)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = merged(base[key], value)
        else:
            out[key] = value
    return out


def added(document: dict[str, Any], task: dict[str, Any], name: str) -> tuple[str, ...]:
    """DESIGN.md: a task's ignore and sensitive lists add to the defaults' lists."""
    defaults = document.get("defaults", {}).get(name, [])
    return (*defaults, *(p for p in task.get(name, ()) if p not in defaults))


# Bounded CPU work, not a possible deadlock: with several busy processes on two cores it
# takes close to the suite's 60 s per-test timeout (55 s measured), so it gets its own.
@pytest.mark.timeout(240)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents, flow=st.sampled_from([False, True, None]))
def test_valid_documents_load_to_what_they_describe(
    document: dict[str, Any], flow: bool | None
) -> None:
    text = yaml.safe_dump(written_document(document), sort_keys=False, default_flow_style=flow)
    cfg = config.load_text(text, environ=ENVIRON)
    # Valid, and the schema's fast path knows it (see _agree below).
    assert _agree(validation._validator().schema, written_document(document))

    safety = document.get("safety", {})
    assert cfg.safety == config.Safety(
        max_changed_fraction=safety.get("maxChangedFraction", 0.3),
        min_tasks=safety.get("minTasks", 10),
    )
    assert len(cfg.tasks) == len(document["tasks"])
    for spec, task in zip(cfg.tasks, document["tasks"], strict=True):
        entry = merged(document.get("defaults", {}), task)
        managed = {name: entry[name] for name in MANAGED_FIELDS if name in entry}
        env_refs = refs(managed)
        assert spec.ref == TaskRef.parse(task["task"])
        assert spec.desired == resolved(managed)
        assert spec.input_mode == entry.get("inputMode", "replace")
        assert spec.actor == entry.get("actor")
        assert spec.ignore == added(document, task, "ignore")
        assert spec.env_refs == env_refs
        assert spec.sensitive == frozenset(added(document, task, "sensitive")) | set(env_refs)


yaml_text = st.text(alphabet=st.sampled_from(list(" \n\t-:[]{},&*!|>'\"#%@?~<$abc019")))


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(yaml_text, st.binary(max_size=80)))
def test_any_input_gives_a_config_or_problems(text: str | bytes) -> None:
    """Garbage never escapes as another exception (a traceback for the user)."""
    try:
        config.load_text(text, environ=ENVIRON)
    except ConfigError as exc:
        assert exc.problems


# -- the schema's fast path ------------------------------------------------------------------------
#
# validation._surely_valid may say "valid" only when jsonschema does. Documents here are built
# near the schema's edges: right and wrong types, bools where numbers go, 1.0 where integers go,
# names of every length, unknown keys, pointers of both kinds.

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 40_000),
    st.sampled_from([0.0, 1.0, 0.5, 1.5, 128.0, -1.0]),
    st.sampled_from(["", "a", "latest", "x" * 70, "janedoe~news", "${VAR}"]),
    st.lists(st.sampled_from(["/input/a", "/options/build", "x", ""]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 2), max_size=2),
)
_NAMES = st.sampled_from(
    ["janedoe~news-daily", "~ab", "~abc", "a~b-", "janedoe/x" + "y" * 62, "A" * 17, "A" * 16,
     "bad name", "janedoe~news\n", "~" + "n" * 63, "~" + "n" * 64]
)  # fmt: skip
_OPTION_VALUES = st.one_of(_ANY, st.sampled_from([*MEMORY_SIZES, 100, 0.0, 3.5, 1e9]))
_OPTIONS = st.dictionaries(
    st.sampled_from([*OPTION_KEYS, "memory", "bogus"]), _OPTION_VALUES, max_size=4
)
_POINTERS = st.lists(
    st.sampled_from(
        ["/input/a", "/input/a~1b", "/input/a~2", "/options/build", "/options/bogus", "input/a", ""]
    ),
    max_size=3,
)


def _entry(with_task: bool) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "actor": st.one_of(st.sampled_from(["apify~web-scraper", "A" * 17, "nope", ""]), _ANY),
        "title": st.one_of(st.text(max_size=3), _ANY),
        "description": _ANY,
        "options": st.one_of(_OPTIONS, _ANY),
        "input": st.one_of(st.dictionaries(st.text(max_size=2), _ANY, max_size=2), _ANY),
        "inputMode": st.one_of(st.sampled_from(["replace", "merge", "Merge"]), _ANY),
        "ignore": st.one_of(_POINTERS, _ANY),
        "sensitive": st.one_of(_POINTERS, _ANY),
        "bogus": _ANY,
    }
    if with_task:
        fields["task"] = st.one_of(_NAMES, _ANY)
    return st.fixed_dictionaries({}, optional=fields)


_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from([1, 1.0, True, "1", 2]),
        "tasks": st.one_of(st.lists(_entry(with_task=True), max_size=4), _ANY),
        "defaults": st.one_of(_entry(with_task=False), _ANY),
        "safety": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "maxChangedFraction": st.one_of(st.sampled_from([0, 0.3, 1, 1.5, -0.1]), _ANY),
                    "minTasks": st.one_of(st.sampled_from([0, 10, -1, 2.0]), _ANY),
                    "bogus": _ANY,
                },
            ),
            _ANY,
        ),
        "x-anchors": _ANY,
        "y-other": _ANY,
    },
)


def _agree(node: Any, value: Any, *, complete: bool = True) -> bool:
    """Assert that the fast path and jsonschema give ``value`` the same verdict; return it.

    Soundness ("valid" only when jsonschema agrees) is the law. This schema uses only keywords
    the walk knows, so it is also complete (a valid file takes the fast path; else the fast path
    would be dead code, and the law would hold vacuously), except where the walk is stricter by
    design: ``complete=False`` for an integral float where an integer or a constant goes."""
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    valid = Draft202012Validator(node).is_valid(value)
    sure = validation._surely_valid(node, value)
    if sure:
        assert valid, ("the fast path says valid, jsonschema does not", value)
    elif complete:
        assert not valid, ("the fast path is not sure of a valid document", value)
    event("valid" if valid else "invalid")
    return valid


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENTS)
def test_the_schema_fast_path_agrees_with_jsonschema_on_anything(document: Any) -> None:
    """Documents made of parts that are right or wrong at random: almost all invalid."""
    _agree(validation._validator().schema, document, complete=not _integral_floats(document))


# Valid documents (the loader law's), then one field at the edge of its schema, either side.
_EDGE_FIELDS: dict[str, list[Any]] = {
    "options": [
        {"timeoutSecs": 0}, {"timeoutSecs": 0.5}, {"timeoutSecs": True}, {"timeoutSecs": -1},
        {"memoryMbytes": 1024}, {"memoryMbytes": 1000}, {"memoryMbytes": 1024.0},
        {"memoryMbytes": True}, {"memoryMbytes": None}, {"build": ""}, {"build": None},
        {"maxTotalChargeUsd": 0}, {"maxTotalChargeUsd": 0.01}, {"maxItems": 0},
        {"maxItems": 1}, {"restartOnError": 1}, {"restartOnError": False}, {"memory": 1024},
    ],
    "task": ["bad name", "~ab", "~abc", "janedoe~news\n", "A" * 17, "A" * 16, 17, None],
    "actor": ["apify~web-scraper", "apify/x", "nope", "", "A" * 17, "a~b~c"],
    "inputMode": ["merge", "replace", "Merge", None],
    "input": [{}, [], "x", None],
    "ignore": [["/input/a"], ["/input/a~1b"], ["input/a"], "/input/a", ["/input/a~2"],
               ["/options/bogus"], ["/options"], []],
    "title": ["", 1, None, True],
    "bogus": [1],
}  # fmt: skip
_EDGE_TOPS: list[tuple[str, Any]] = [
    ("version", 1.0), ("version", True), ("version", "1"), ("version", 2),
    ("safety", {"maxChangedFraction": 1}), ("safety", {"maxChangedFraction": 1.5}),
    ("safety", {"maxChangedFraction": -0.1}), ("safety", {"minTasks": 2.0}),
    ("safety", {"minTasks": -1}), ("safety", {"minTasks": 0}), ("safety", {"bogus": 1}),
    ("x-anything", None), ("y-other", 1), ("tasks", {}), ("tasks", []), ("defaults", []),
]  # fmt: skip
_STRICTER = {repr(("top", "version", 1.0)), repr(("top", "safety", {"minTasks": 2.0}))}
_STRICTER.add(repr(("entry", "options", {"memoryMbytes": 1024.0})))
"""Edges that jsonschema takes (1.0 == 1) and the fast path leaves to it."""
_EDGES = st.one_of(
    st.none(),
    st.sampled_from(_EDGE_TOPS).map(lambda top: ("top", *top)),
    st.sampled_from(sorted(_EDGE_FIELDS)).flatmap(
        lambda name: st.tuples(st.just("entry"), st.just(name), st.sampled_from(_EDGE_FIELDS[name]))
    ),
)


@st.composite
def _near_valid(draw: st.DrawFn) -> tuple[Any, bool]:
    """A document, and whether the fast path must be complete on it."""
    document = written_document(draw(documents))
    edge = draw(_EDGES)
    if edge is None:
        return document, True
    complete = repr(edge) not in _STRICTER
    where, name, value = edge
    if where == "top":
        return {**document, name: value}, complete
    entries = [*document["tasks"], document.get("defaults")]
    targets = [i for i, entry in enumerate(entries) if entry is not None]
    if not targets:
        return {**document, "tasks": [{"task": "~abc", name: value}]}, complete
    index = draw(st.sampled_from(targets))
    entry = dict(entries[index])  # type: ignore[arg-type]
    if name == "options" and isinstance(entry.get("options"), dict):
        value = {**entry["options"], **value}
    entry[name] = value
    if index == len(document["tasks"]):
        return {**document, "defaults": entry}, complete
    tasks = list(document["tasks"])
    tasks[index] = entry
    return {**document, "tasks": tasks}, complete


# Bounded CPU work, not a possible deadlock: with several busy processes on two cores it
# takes close to the suite's 60 s per-test timeout (55 s measured), so it gets its own.
@pytest.mark.timeout(240)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_near_valid())
def test_the_schema_fast_path_agrees_with_jsonschema_near_valid_documents(
    case: tuple[Any, bool],
) -> None:
    """Some 60% of these are valid (see --hypothesis-show-statistics): both verdicts of the
    fast path are checked, where a wrong answer is most likely."""
    document, complete = case
    _agree(validation._validator().schema, document, complete=complete)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.tuples(st.just("options"), _OPTIONS),
        st.tuples(st.just("task"), _entry(with_task=True)),
        st.tuples(st.just("defaults"), _entry(with_task=False)),
    )
)
def test_the_schema_fast_path_agrees_with_jsonschema_part_by_part(case: tuple[str, Any]) -> None:
    """The same on one part of the file at a time, where a wrong answer is not hidden by another
    part being wrong too."""
    part, value = case
    top = validation._validator().schema["properties"]
    node = {
        "options": top["tasks"]["items"]["properties"]["options"],
        "task": top["tasks"]["items"],
        "defaults": top["defaults"],
    }[part]
    _agree(node, value, complete=not _integral_floats(value))


def _integral_floats(value: Any) -> bool:
    """Whether ``value`` holds a float such as 1.0 anywhere (where the fast path may defer)."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(_integral_floats(v) for v in value)
    return False


def test_the_schema_fast_path_is_not_sure_at_the_edges() -> None:
    validator = validation._validator()
    entry = {"task": "janedoe~news", "options": {"build": "latest"}, "input": {}}
    edges: list[dict[str, Any]] = [
        {"options": {"timeoutSecs": 0.5}},
        {"options": {"timeoutSecs": True}},
        {"options": {"timeoutSecs": -1}},
        {"options": {"memoryMbytes": 1000}},
        {"options": {"memoryMbytes": True}},
        {"options": {"build": ""}},
        {"options": {"maxTotalChargeUsd": 0}},
        {"options": {"maxItems": 0}},
        {"options": {"restartOnError": 1}},
        {"options": {"memory": 1024}},
        {"task": "bad name"},
        {"task": "~ab"},
        {"task": "janedoe~news\n"},
        {"inputMode": "Merge"},
        {"input": []},
        {"ignore": ["input/a"]},
        {"sensitive": "/input/a"},
        {"bogus": 1},
    ]
    for edge in edges:
        document = {"version": 1, "tasks": [{**entry, **edge}]}
        assert not validator.is_valid(document), edge
        assert not validation._surely_valid(validator.schema, document), edge
    assert validation._surely_valid(validator.schema, {"version": 1, "tasks": [entry]})
    for top in ({"version": 1.0}, {"version": True}, {"tasks": {}}, {"y-x": 1}):
        document = {"version": 1, "tasks": [entry], **top}
        assert not validation._surely_valid(validator.schema, document), top
    document = {"version": 1, "tasks": [{k: v for k, v in entry.items() if k != "task"}]}
    assert not validation._surely_valid(validator.schema, document)


def test_the_schema_fast_path_takes_the_valid_example_files() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [root / "tasks.example.yaml", *sorted((root / "tests/fixtures/config/valid").iterdir())]
    validator = validation._validator()
    for path in files:
        data = path.read_bytes()
        document = yamlread.read(data, data.decode()).value  # as the loader reads it
        assert validator.is_valid(document), path
        assert validation._surely_valid(validator.schema, document), path
