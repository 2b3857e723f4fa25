"""The file's ``schedules:`` list: specs as written, and every problem with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import write_file

from tasksync import config
from tasksync.errors import ConfigError

GOOD = """\
version: 1
x-input: &input {maxItems: 10}
tasks:
  - task: janedoe~news-daily
schedules:
  - schedule: ~nightly-news
    cronExpression: "0 3 * * *"
    timezone: Europe/Prague
    title: Nightly ${WHO:-news}
    notifications: {email: false}
    actions:
      - task: janedoe~news-daily
      - task: ~news-weekly
        input: {<<: *input, apiKey: "${API_KEY}"}
      - actor: apify~hello-world
        input: {greeting: hi}
        options: {memoryMbytes: 256}
  - schedule: ~paused
"""


def test_specs_keep_only_what_the_file_says(tmp_path: Path) -> None:
    cfg = config.load(write_file(tmp_path, GOOD), environ={"API_KEY": "k-123456"})
    nightly, paused = cfg.schedules
    assert nightly.key == "~nightly-news"
    assert dict(nightly.desired) == {
        "title": "Nightly news",
        "cronExpression": "0 3 * * *",
        "timezone": "Europe/Prague",
        "notifications": {"email": False},
    }
    assert nightly.actions is not None
    daily, weekly, hello = nightly.actions
    assert daily.task is not None and daily.task.text == "janedoe~news-daily"
    assert weekly.input == {"maxItems": 10, "apiKey": "k-123456"}
    assert hello.actor == "apify~hello-world" and hello.options == {"memoryMbytes": 256}
    assert nightly.env_refs == {"/actions/1/input/apiKey": "${API_KEY}"}
    assert nightly.sensitive == {"/actions/1/input/apiKey"}
    assert paused.desired == {} and paused.actions is None


BAD = """\
version: 1
tasks: []
schedules:
  - schedule: ~one-schedule
    cronExpression: "0 25 * * *"
    timezone: Mars/Base
    actions:
      - {task: ~task-one, actor: apify~hello}
      - {task: ~task-two, options: {}}
      - {task: "~x"}
  - schedule: ~one-schedule
  - schedule: ~two-schedule
    isEnabled: "yes"
    actions: [{task: ~abc-1}, {task: ~abc-2}, {task: ~abc-3}, {task: ~abc-4}, {task: ~abc-5},
              {task: ~abc-6}, {task: ~abc-7}, {task: ~abc-8}, {task: ~abc-9}, {task: ~abc-10},
              {task: ~abc-11}]
    title: ${UNSET_ONE}
"""


def test_every_problem_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(write_file(tmp_path, BAD), environ={})
    found = {(p.line, p.path): p.message for p in caught.value.problems}
    assert "hour field: 25 is out of range" in found[(5, "schedules[0].cronExpression")]
    assert "not an IANA time zone" in found[(6, "schedules[0].timezone")]
    assert "either `task:` or `actor:`" in found[(8, "schedules[0].actions[0]")]
    assert "only for an `actor:`" in found[(9, "schedules[0].actions[1].options")]
    assert (10, "schedules[0].actions[2].task") in found
    assert "duplicate schedule ~one-schedule" in found[(11, "schedules[1].schedule")]
    assert (13, "schedules[2].isEnabled") in found
    assert "at most 10 tasks (11 here)" in found[(14, "schedules[2].actions")]
    assert "UNSET_ONE is not set" in found[(17, "schedules[2].title")]


def test_the_schema_documents_the_section() -> None:
    schema = config.schema()
    assert schema["properties"]["schedules"]["items"] == {"$ref": "#/$defs/schedule"}
    assert "cronExpression" in schema["$defs"]["schedule"]["properties"]
