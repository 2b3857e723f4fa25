"""The law of the whole tool, against the emulator: for any task file and any remote state,
plan, apply, then plan again shows no changes; with the emulator answering numbers as
JavaScript does (``js_numbers``) or as sent, and with either ``options`` semantics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import run_cli, threaded_emulator

from tasksync.emulator import Emulator

pytestmark = pytest.mark.filterwarnings("ignore")

_ODD = ["${x", "$${", "yes", "null", "1e3", " lead", "trail ", "a\nb", "~0/1", "\U0001f600"]
_file_text = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=8)
_any_text = st.text(max_size=8) | st.sampled_from(["\ud800", "a\udfffb"])  # any JSON string
_numbers = (
    st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.integers(-1000, 1000).map(float)
)

NO_SCHEMA = ("--no-input-schema",)  # random builds and inputs: the convergence law only


def _json_of(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | _numbers | text | st.sampled_from(_ODD)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=12,
    )


def _inputs_of(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.text("abcxyz", min_size=1, max_size=3), _json_of(text), max_size=4)


_options = st.fixed_dictionaries(
    {},
    optional={
        "memoryMbytes": st.sampled_from([128, 1024, 4096.0]),
        "timeoutSecs": st.integers(0, 10**6) | st.integers(0, 100).map(float),
        "maxTotalChargeUsd": st.sampled_from([5, 5.0, 0.5, 12.25]),
        "restartOnError": st.booleans(),
        "build": st.sampled_from(["latest", "0.1.2"]),
    },
)
_task = st.fixed_dictionaries(
    {"options": _options, "input": _inputs_of(_file_text)},
    optional={"inputMode": st.sampled_from(["replace", "merge"]), "title": _file_text},
)
_remote = st.none() | st.fixed_dictionaries({"options": _options, "input": _inputs_of(_any_text)})


def _escape(value: Any) -> Any:
    """A literal ``${`` is written ``$${`` in a task file."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


@pytest.fixture(scope="module")
def emu() -> Any:
    with threaded_emulator() as emu:
        yield emu


@pytest.mark.timeout(240)  # bounded: 15 examples of three CLI runs each, slow on a busy machine
@pytest.mark.parametrize("js_numbers", [True, False])
@pytest.mark.parametrize("semantics", ["merge", "replace"])
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tasks=st.lists(st.tuples(_task, _remote), min_size=1, max_size=3))
def test_plan_apply_plan_converges(
    emu: Emulator,
    tmp_path: Path,
    js_numbers: bool,
    semantics: str,
    tasks: list[tuple[dict[str, Any], dict[str, Any] | None]],
) -> None:
    emu.state.reset()
    emu.settings.js_numbers = js_numbers
    emu.settings.options_semantics = semantics  # type: ignore[assignment]
    entries = []
    for i, (task, remote) in enumerate(tasks):
        name = f"prop-{i}"
        if remote is not None:
            emu.state.add_task(name=name, options=remote["options"], input=remote["input"])
        entries.append({"task": f"janedoe~{name}", "actor": "apify~web-scraper", **_escape(task)})
    path = tmp_path / "tasks.json"  # JSON is a task file too, and writes any string exactly
    path.write_text(
        json.dumps(
            {"version": 1, "safety": {"maxChangedFraction": 1}, "tasks": entries},
            ensure_ascii=False,  # the YAML reader does not join escaped surrogate pairs
        ),
        encoding="utf-8",
    )
    applied = run_cli("apply", str(path), "--yes", "--create-missing", *NO_SCHEMA, emu=emu)
    assert applied.code == 0, applied.output
    again = run_cli("plan", str(path), "--detailed-exitcode", *NO_SCHEMA, emu=emu)
    assert again.code == 0, again.output


def test_deep_nesting_large_arrays_and_lone_surrogates_round_trip(tmp_path: Path) -> None:
    deep: Any = "bottom"
    for _ in range(200):
        deep = {"d": [deep]}
    remote = {"deep": deep, "big": list(range(100_000)), "odd": "x\ud800y", "q": 1}
    path = tmp_path / "tasks.yaml"
    path.write_text(
        "version: 1\ntasks:\n  - task: janedoe~values\n    inputMode: merge\n    input: {q: 2}\n"
    )
    with threaded_emulator() as emu:
        emu.state.add_task(name="values", input=remote)
        applied = run_cli("apply", str(path), "--yes", *NO_SCHEMA, emu=emu)
        assert applied.code == 0, applied.output[-2000:]
        assert "internal-error" not in applied.output
        task = emu.state.get_task("janedoe~values")
        assert task is not None and task["input"] == {**remote, "q": 2}
        again = run_cli("plan", str(path), "--detailed-exitcode", *NO_SCHEMA, emu=emu)
        assert again.code == 0, again.output[-2000:]
