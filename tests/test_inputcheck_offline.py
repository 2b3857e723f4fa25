"""``tasksync validate`` checks inputs against local input schema files, with no token: the
file's ``actors:`` section and ``--input-schema ACTOR=PATH``."""

from __future__ import annotations

import io
import json
from pathlib import Path

from support import run_cli, write_file
from test_inputcheck import SCHEMA

from tasksync.github.command import main as github_main

FILE = """\
version: 1
actors:
  janedoe~crawler: .actor/input_schema.json
tasks:
  - task: janedoe~cc1
    actor: janedoe~crawler
    input:
      startUrls: [{url: "https://a.example"}]
      maxPages: 0
      apiKey: "${API_KEY}"
  - task: janedoe~cc2
    actor: janedoe~crawler
    input: {mode: fast}
  - task: janedoe~cc3
    actor: janedoe~crawler
    inputMode: merge
    input: {mode: fast}
  - task: janedoe~other
    actor: apify~web-scraper
    input: {maxPages: 0}
"""


def _schema(folder: Path) -> None:
    (folder / ".actor").mkdir(exist_ok=True)
    (folder / ".actor" / "input_schema.json").write_text(json.dumps(SCHEMA))


def test_the_actors_section_checks_inputs_offline(tmp_path: Path) -> None:
    _schema(tmp_path)
    path = write_file(tmp_path, FILE)
    result = run_cli("validate", path, environ={"API_KEY": "k"})
    assert result.code == 1
    assert "tasks.yaml:9:7: janedoe~cc1: input.maxPages: must be at least 1" in result.err
    assert "tasks.yaml:11:5: janedoe~cc2: input.startUrls: is required" in result.err
    assert "cc3" not in result.err  # merge mode: the live input may hold startUrls
    assert "other" not in result.err  # no schema given for that Actor


def test_an_unset_variable_counts_as_a_present_string(tmp_path: Path) -> None:
    _schema(tmp_path)
    text = FILE.replace("      maxPages: 0\n", "").split("  - task: janedoe~cc2")[0]
    path = write_file(tmp_path, text)
    env = {"API_KEY": "k"}
    assert run_cli("validate", path, environ=env).code == 0
    from tasksync.inputcheck import check_offline

    assert check_offline(path, {}) == []  # no API_KEY here: a secret it cannot see


def test_input_schema_on_the_command_line(tmp_path: Path) -> None:
    _schema(tmp_path)
    text = FILE.split("actors:")[0] + "tasks:" + FILE.split("tasks:", 1)[1]
    path = write_file(tmp_path, text)
    env = {"API_KEY": "k"}
    assert run_cli("validate", path, environ=env).code == 0  # no schemas: not checked
    schema = str(tmp_path / ".actor" / "input_schema.json")
    result = run_cli("validate", path, "--input-schema", f"apify/web-scraper={schema}", environ=env)
    assert result.code == 1 and "janedoe~other: input.maxPages: must be at least 1" in result.err
    assert "cc1" not in result.err
    bad = run_cli("validate", path, "--input-schema", "nothing", environ=env)
    assert bad.code == 1 and "ACTOR=PATH" in bad.err and "nothing" not in bad.err  # not echoed
    missing = run_cli("validate", path, "--input-schema", "a~b=nope.json", environ=env)
    assert missing.code == 1 and "cannot read the input schema of a~b" in missing.err


def test_the_demo_actor_has_a_schema_that_the_example_file_meets(tmp_path: Path) -> None:
    example = Path("tasks.example.yaml").read_text()
    assert run_cli("demo").code == 0
    # The task the demo creates is written, so its input is checked against the seeded schema.
    bad = example.replace("maxPagesPerCrawl: 2000\n", "maxPagesPerCrawl: -5\n")
    assert bad != example
    result = run_cli("demo", write_file(tmp_path, bad))
    assert result.code == 1
    assert (
        "janedoe~news-weekly: the input does not match the input schema of the Actor "
        "apify~web-scraper (build latest): /maxPagesPerCrawl must be at least 0" in result.output
    )


def test_the_pre_commit_hook_checks_inputs_even_with_variables_unset(tmp_path: Path) -> None:
    _schema(tmp_path)
    path = write_file(tmp_path, FILE)
    out = io.StringIO()
    schema = str(tmp_path / ".actor" / "input_schema.json")
    argv = ["validate", path, "--format", "text", "--input-schema", f"apify~web-scraper={schema}"]
    code = github_main(argv, environ={}, stdout=out, stderr=io.StringIO())  # API_KEY unset
    text = out.getvalue()
    assert code == 1, text
    assert "API_KEY" in text  # the note
    assert "tasks.yaml:9:7: janedoe~cc1: input.maxPages: must be at least 1" in text
    assert "janedoe~other: input.maxPages: must be at least 1" in text
