"""Live checks: the whole tool against an Apify API, and the facts our emulator assumes.

By default this runs against the emulator (so it cannot rot while nobody holds a token). With
``APIFY_TOKEN`` and ``TASKSYNC_LIVE=1`` it also runs against the real API (``APIFY_API_BASE_URL``
or Apify's), on throw-away tasks named ``tasksync-live-<random>-*`` of a public Actor
(``TASKSYNC_LIVE_ACTOR``, default ``apify~web-scraper``); every task it created is deleted at
the end, even when a step fails::

    APIFY_TOKEN=... TASKSYNC_LIVE=1 pytest tests/test_real_api.py -m real_api

The facts (``test_the_facts_tasksync_assumes``) are what the API docs do not state and the
emulator assumes: a failure there says which assumption the real API breaks.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import run_cli, threaded_emulator, write_file

from tasksync.api import DEFAULT_API_URL
from tasksync.emulator import EmulatorSettings

LIVE = bool(os.environ.get("APIFY_TOKEN")) and os.environ.get("TASKSYNC_LIVE") == "1"
ACTOR = os.environ.get("TASKSYNC_LIVE_ACTOR", "apify~web-scraper")
PAGE_FUNCTION = "async function pageFunction(context) { return { url: context.request.url }; }"


@dataclass
class Api:
    """Raw calls to one API, and the tasks a test created there (deleted at the end)."""

    url: str
    token: str
    created: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def task(self, ref: str) -> dict[str, Any]:
        status, text = self.call("GET", "/v2/actor-tasks/" + ref)
        assert status == 200, text
        task: dict[str, Any] = json.loads(text)["data"]
        if task["id"] not in self.created:
            self.created.append(task["id"])
        return task

    @property
    def environ(self) -> dict[str, str]:
        return {"APIFY_TOKEN": self.token, "APIFY_API_BASE_URL": self.url}


def _targets() -> list[Any]:
    real = pytest.param(
        "real",
        marks=[
            pytest.mark.real_api,
            pytest.mark.skipif(not LIVE, reason="needs APIFY_TOKEN and TASKSYNC_LIVE=1"),
        ],
    )
    return ["emulator", real]


@pytest.fixture(params=_targets())
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    if request.param == "real":
        url = os.environ.get("APIFY_API_BASE_URL") or DEFAULT_API_URL
        live = Api(url, os.environ["APIFY_TOKEN"])
        try:
            yield live
        finally:
            for task_id in live.created:
                live.call("DELETE", "/v2/actor-tasks/" + task_id)
        return
    with threaded_emulator(EmulatorSettings()) as emu:
        yield Api(emu.url, emu.token)


def _file(folder: Path, prefix: str, memory: int, greeting: str) -> str:
    entries = "".join(
        f"""
  - task: ~{prefix}-{n}
    actor: {ACTOR}
    title: tasksync live check {n}
    options: {{memoryMbytes: {memory}, timeoutSecs: 60}}
    input:
      startUrls: [{{url: "https://example.com/{n}"}}]
      pageFunction: {json.dumps(PAGE_FUNCTION)}
      proxyConfiguration: {{useApifyProxy: false}}
      note: "${{LIVE_SECRET}} {greeting}"
"""
        for n in ("a", "b")
    )
    return write_file(folder, "version: 1\ntasks:" + entries)


def test_the_tool_end_to_end(api: Api, tmp_path: Path) -> None:
    prefix = "tasksync-live-" + secrets.token_hex(4)
    env = {**api.environ, "LIVE_SECRET": "s3cret-" + secrets.token_hex(4)}
    path = _file(tmp_path, prefix, 256, "hello")

    created = run_cli("apply", path, "--yes", "--create-missing", environ=env)
    for n in ("a", "b"):
        api.task(f"~{prefix}-{n}")  # registered for deletion as soon as it exists
    assert created.code == 0, created.output
    assert "2 created" in created.out
    assert env["LIVE_SECRET"] not in created.output

    clean = run_cli("plan", path, "--detailed-exitcode", environ=env)
    assert clean.code == 0, clean.output

    changed = _file(tmp_path, prefix, 512, "again")
    updated = run_cli("apply", changed, "--yes", "--force", environ=env)
    assert updated.code == 0 and "2 updated" in updated.out, updated.output
    assert run_cli("plan", changed, "--detailed-exitcode", environ=env).code == 0

    exported = tmp_path / "exported.yaml"
    export = run_cli("export", "--match", f"{prefix}-*", "-o", str(exported), environ=env)
    assert export.code == 0, export.output
    replanned = run_cli("plan", str(exported), "--detailed-exitcode", environ=env)
    assert replanned.code == 0, replanned.output

    # A saved plan made stale by a change in between is not applied.
    saved = tmp_path / "plan.json"
    stale_file = _file(tmp_path, prefix, 1024, "stale")
    assert run_cli("plan", stale_file, "--out", str(saved), environ=env).code == 0
    task = api.task(f"~{prefix}-a")
    status, text = api.call("PUT", f"/v2/actor-tasks/{task['id']}", {"title": "changed by hand"})
    assert status == 200, text
    stale = run_cli("apply", str(saved), "--yes", "--force", environ=env)
    assert stale.code == 1 and "stale" in stale.out, stale.output
    assert api.task(f"~{prefix}-a")["options"]["memoryMbytes"] == 512


def test_the_facts_tasksync_assumes(api: Api, tmp_path: Path) -> None:
    """What the docs leave open and tasksync (and its emulator) rely on."""
    prefix = "tasksync-live-" + secrets.token_hex(4)
    body = {
        "actId": ACTOR,
        "name": f"{prefix}-facts",
        "options": {"build": "latest", "memoryMbytes": 256, "timeoutSecs": 60},
        "input": {"startUrls": [{"url": "https://example.com"}], "pageFunction": PAGE_FUNCTION},
    }
    status, text = api.call("POST", "/v2/actor-tasks", body)
    assert status == 201, text
    task = api.task(f"~{prefix}-facts")

    # PUT merges `options` key by key: keys the body leaves out are kept.
    status, text = api.call(
        "PUT", f"/v2/actor-tasks/{task['id']}", {"options": {"timeoutSecs": 90}}
    )
    assert status == 200, text
    options = json.loads(text)["data"]["options"]
    assert options.get("memoryMbytes") == 256, (
        f"PUT replaced `options` instead of merging it (answered {options}): plan with the "
        "emulator's --options-semantics replace, and tell the maintainers"
    )

    # `modifiedAt` moves on an input-only update (saved plans' first stale check relies on it).
    before = api.task(task["id"])["modifiedAt"]
    new_input = {**body["input"], "maxPagesPerCrawl": 5.0}
    status, text = api.call("PUT", f"/v2/actor-tasks/{task['id']}", {"input": new_input})
    assert status == 200, text
    after = api.task(task["id"])
    assert after["modifiedAt"] != before, "modifiedAt did not move on an input-only update"

    # A number is a number: 5.0 sent may come back as 5; tasksync must see no change either way.
    status, raw = api.call("GET", f"/v2/actor-tasks/{task['id']}/input")
    assert status == 200, raw
    assert json.loads(raw)["maxPagesPerCrawl"] == 5
    path = write_file(
        tmp_path,
        f"""version: 1
tasks:
  - task: {task["id"]}
    input:
      startUrls: [{{url: "https://example.com"}}]
      pageFunction: {json.dumps(PAGE_FUNCTION)}
      maxPagesPerCrawl: 5
""",
    )
    plan = run_cli("plan", path, "--detailed-exitcode", environ=api.environ)
    assert plan.code == 0, plan.output
