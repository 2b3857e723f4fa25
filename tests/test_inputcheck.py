"""``plan`` and ``apply`` check each task's resulting input against its Actor build's input
schema (``inputcheck``, ``actorschemas``), against the emulator over real sockets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import run_cli, seed, threaded_emulator, write_file

from tasksync.emulator import Emulator

SCHEMA: dict[str, Any] = {
    "title": "Crawler input",
    "type": "object",
    "schemaVersion": 1,
    "properties": {
        "startUrls": {"title": "Start URLs", "type": "array", "editor": "requestListSources"},
        "maxPages": {"title": "Max pages", "type": "integer", "minimum": 1, "default": 10},
        "mode": {"title": "Mode", "type": "string", "enum": ["fast", "full"]},
        "apiKey": {"title": "API key", "type": "string", "isSecret": True},
        "creds": {"title": "Credentials", "type": "object", "isSecret": True},
        "proxy": {"title": "Proxy", "type": "object", "sectionCaption": "Proxy", "prefill": {}},
    },
    "required": ["startUrls", "maxPages"],
}
SCHEMA_V2 = {**SCHEMA, "required": ["startUrls", "maxPages", "mode"]}


@pytest.fixture
def emu() -> Any:
    with threaded_emulator() as emu:
        emu.state.add_actor("janedoe", "crawler", input_schema=SCHEMA)
        emu.state.add_build("janedoe~crawler", "beta", SCHEMA_V2)
        emu.state.add_actor("janedoe", "schemaless")
        yield emu


def plan(emu: Emulator, tmp_path: Path, text: str, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = write_file(tmp_path, text)
    return run_cli("plan", path, "--format", "json", *args, emu=emu, environ=env)


def tasks_of(result: Any) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in json.loads(result.out)["tasks"]}


FILE = """\
version: 1
safety: {{maxChangedFraction: 1.0}}
tasks:
  - task: janedoe~cc1
    actor: janedoe~crawler
    input:
      startUrls: [{{url: "https://a.example"}}]
{extra}
"""


@pytest.mark.parametrize(
    ("extra", "pointer", "message"),
    [
        ("      maxPages: many", "/maxPages", "must be an integer (it is a string)"),
        ("      mode: slow", "/mode", 'must be one of "fast", "full"'),
        ("      maxPages: 0", "/maxPages", "must be at least 1"),
        ("      apiKey: 5", "/apiKey", "must be a string (it is an integer)"),
        ("      creds: secret-text", "/creds", "must be an object (it is a string)"),
    ],
)
def test_a_refused_field_is_a_plan_error_with_its_pointer_and_line(
    emu: Emulator, tmp_path: Path, extra: str, pointer: str, message: str
) -> None:
    result = plan(emu, tmp_path, FILE.format(extra=extra))
    task = tasks_of(result)["janedoe~cc1"]
    assert result.code == 1 and task["action"] == "error"
    assert task["error_type" if "error_type" in task else "error"]
    assert f"{pointer} {message}" in task["error"]
    assert "tasks.yaml:8:7" in task["error"]  # the line that sets the field
    assert "secret-text" not in result.output  # values are never repeated
    assert not [r for r in emu.requests if r.method in ("POST", "PUT")]


def test_a_missing_required_field_points_at_the_task_and_nothing_is_sent(
    emu: Emulator, tmp_path: Path
) -> None:
    text = FILE.format(extra="").replace('startUrls: [{url: "https://a.example"}]', "mode: fast")
    path = write_file(tmp_path, text)
    result = run_cli("apply", path, "--yes", "--create-missing", emu=emu)
    assert result.code == 1
    assert "/startUrls is required" in result.output and "tasks.yaml:4:5" in result.output
    assert emu.state.get_task("janedoe~cc1") is None
    assert not [r for r in emu.requests if r.method in ("POST", "PUT")]


def test_defaults_required_with_default_and_required_arrays(emu: Emulator, tmp_path: Path) -> None:
    ok = plan(emu, tmp_path, FILE.format(extra=""))  # maxPages: required, has a default
    assert ok.code == 0, ok.output
    assert tasks_of(ok)["janedoe~cc1"]["action"] == "create"
    empty = plan(emu, tmp_path, FILE.format(extra="").replace('[{url: "https://a.example"}]', "[]"))
    assert "/startUrls is required, so it needs at least one item" in empty.out


def test_an_actor_without_schema_accepts_any_object(emu: Emulator, tmp_path: Path) -> None:
    text = FILE.format(extra="      maxPages: many").replace("crawler", "schemaless")
    result = plan(emu, tmp_path, text)
    assert result.code == 0, result.output


def test_a_missing_actor_and_an_unknown_build_tag(emu: Emulator, tmp_path: Path) -> None:
    text = FILE.format(extra="").replace("janedoe~crawler", "janedoe~nope")
    result = plan(emu, tmp_path, text)
    assert "the Actor janedoe~nope was not found" in tasks_of(result)["janedoe~cc1"]["error"]
    text = FILE.format(extra="    options: {build: nightly}")
    result = plan(emu, tmp_path, text)
    error = tasks_of(result)["janedoe~cc1"]["error"]
    assert "no build tagged 'nightly'" in error and "beta, latest" in error


def test_two_builds_two_schemas_and_the_task_current_build(emu: Emulator, tmp_path: Path) -> None:
    seed(
        emu,
        "cc1",
        actor="janedoe~crawler",
        options={"build": "beta"},
        input={"startUrls": [{"url": "https://x"}], "mode": "fast"},
    )
    text = FILE.format(extra="")  # drops `mode`: beta requires it, latest does not
    result = plan(emu, tmp_path, text)
    assert "/mode is required" in tasks_of(result)["janedoe~cc1"]["error"]
    assert "(build beta)" in tasks_of(result)["janedoe~cc1"]["error"]
    result = plan(emu, tmp_path, FILE.format(extra="    options: {build: latest}"))
    assert tasks_of(result)["janedoe~cc1"]["action"] == "update", result.output


def test_schemas_are_fetched_once_per_actor_and_build(emu: Emulator, tmp_path: Path) -> None:
    entries = "".join(
        f"  - task: janedoe~tsk{i}\n    actor: janedoe~crawler\n"
        "    input: {startUrls: [{url: u}]}\n"
        for i in range(12)
    )
    result = plan(
        emu, tmp_path, "version: 1\nsafety: {maxChangedFraction: 1.0}\ntasks:\n" + entries
    )
    assert result.code == 0, result.output
    paths = [r.path for r in emu.requests if r.path.startswith(("/v2/actors", "/v2/actor-b"))]
    assert sorted(paths) == sorted(
        ["/v2/actors/janedoe~crawler", f"/v2/actor-builds/{_build(emu)}"]
    )


def _build(emu: Emulator) -> str:
    actor = emu.state.get_actor("janedoe~crawler")
    assert actor is not None
    return str(actor["taggedBuilds"]["latest"]["buildId"])


def test_unchanged_tasks_only_with_check_all_inputs_and_no_input_schema(
    emu: Emulator, tmp_path: Path
) -> None:
    seed(emu, "cc1", actor="janedoe~crawler", input={"startUrls": [], "maxPages": 0})
    text = FILE.format(extra="      maxPages: 0").replace('[{url: "https://a.example"}]', "[]")
    assert plan(emu, tmp_path, text).code == 0  # unchanged: not checked, no extra request
    assert not [r for r in emu.requests if "actor-builds" in r.path]
    result = plan(emu, tmp_path, text, "--check-all-inputs")
    assert result.code == 1 and "/maxPages must be at least 1" in result.out
    changed = text.replace("maxPages: 0", "maxPages: 0\n      mode: fast")
    assert plan(emu, tmp_path, changed, "--no-input-schema").code == 0


def test_secrets_stored_encrypted_count_as_present(emu: Emulator, tmp_path: Path) -> None:
    text = FILE.format(extra='      apiKey: "${KEY}"\n      creds: {user: u, password: "${PW}"}')
    env = {"KEY": "k-Secret-1", "PW": "p-Secret-2"}
    path = write_file(tmp_path, text)
    applied = run_cli("apply", path, "--yes", "--create-missing", emu=emu, environ=env)
    assert applied.code == 0, applied.output
    stored = emu.state.get_task("janedoe~cc1")
    assert stored is not None
    assert stored["input"]["apiKey"].startswith("ENCRYPTED_VALUE:")
    assert stored["input"]["creds"].startswith("ENCRYPTED_JSON:")
    assert emu.state.secret_plaintext(stored["input"]["creds"]) == {
        "user": "u",
        "password": "p-Secret-2",
    }
    again = run_cli("plan", path, "--detailed-exitcode", "--check-all-inputs", emu=emu, environ=env)
    assert again.code == 0, again.output  # no drift, and the encrypted values pass the check
