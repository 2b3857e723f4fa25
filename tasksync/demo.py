"""``tasksync demo``: a first look with no Apify account.

Starts the emulator in-process on a free loopback port, seeds it with tasks that have drifted from
the example file (and leaves one out, to be created), gives their Actor an input schema (so plan
checks the inputs it would write), then runs plan, apply and plan again through
the same library calls the real commands use, and says where the report was written.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from importlib import resources
from typing import Any

import anyio

from tasksync import config, report
from tasksync.console import Env, write_atomic
from tasksync.emulator import Emulator, EmulatorSettings
from tasksync.model import Action, Status, TaskSpec
from tasksync.plan import Plan
from tasksync.sync import Session, Settings
from tasksync.text import plural

DEFAULT_ACTOR = "apify~web-scraper"

INPUT_SCHEMA = {
    "title": "Demo input",
    "type": "object",
    "schemaVersion": 1,
    "properties": {
        "startUrls": {"type": "array", "editor": "requestListSources"},
        "maxPagesPerCrawl": {"type": "integer", "minimum": 0},
        "proxyConfiguration": {"type": "object", "editor": "proxy"},
        "apiKey": {"type": "string", "isSecret": True},
    },
}
"""The demo Actor's input schema: plan checks every input it writes against it."""


def example_path() -> str:
    """The example file: ``tasks.example.yaml`` here if present, else the copy in the package."""
    if os.path.isfile("tasks.example.yaml"):
        return "tasks.example.yaml"
    return str(resources.files("tasksync") / "tasks.example.yaml")


def drifted(spec: TaskSpec, index: int) -> dict[str, Any]:
    """A live version of ``spec`` that differs from it the way real tasks drift."""
    options = {k: v for k, v in (spec.desired.get("options") or {}).items() if v is not None}
    task_input = copy.deepcopy(spec.desired.get("input") or {})
    kind = index if index <= 2 else 0  # two drift, so the demo stays within the safety limit
    if kind == 1:
        options["memoryMbytes"] = 4096
        options["timeoutSecs"] = 3600
    elif kind == 2:
        task_input["debugLog"] = True
        for key, value in task_input.items():
            if isinstance(value, int) and not isinstance(value, bool):
                task_input[key] = value + 1
                break
    return {"options": options, "input": task_input, "title": spec.desired.get("title")}


def run(env: Env, *, file: str | None = None) -> int:
    path = file or example_path()
    cfg = config.load(path, environ=env.environ)
    return anyio.run(_demo, env, cfg, file is None)


async def _demo(env: Env, cfg: config.Config, ours: bool) -> int:
    async with Emulator(EmulatorSettings(latency_ms=5)) as emu:
        emu.state.add_build(DEFAULT_ACTOR, "latest", INPUT_SCHEMA)
        created_later = None
        for index, spec in enumerate(cfg.tasks):
            if spec.actor is not None and created_later is None:
                created_later = spec.key  # left out: apply creates it
                continue
            emu.state.add_task(
                username=spec.ref.username or emu.username,
                actor=spec.actor or DEFAULT_ACTOR,
                name=spec.ref.name,
                **drifted(spec, index),
            )
        settings = Settings(token=emu.token, api_url=emu.url)
        env.print(f"Emulator running at {emu.url}, seeded with {len(emu.state.tasks())} tasks.")
        async with Session(settings, environ=env.environ) as session:
            env.print(f"\n$ tasksync plan {cfg.path} --create-missing")
            first = await session.plan(cfg, create_missing=True)
            env.print(report.plan_text(first, color=env.color))

            env.print(f"\n$ tasksync apply {cfg.path} --yes --create-missing")
            result = await session.apply(first, create_missing=True)
            env.print(report.report_text(result))

            env.print(f"\n$ tasksync plan {cfg.path}")
            second = await session.plan(cfg)
            env.print(report.plan_text(second, color=env.color))
        folder = tempfile.mkdtemp(prefix="tasksync-demo-")
        report_path = os.path.join(folder, "report.json")
        write_atomic(report_path, json.dumps(result.to_json(), indent=2) + "\n")
        write_atomic(os.path.join(folder, "summary.md"), report.report_markdown(result))
        env.print(f"\nThe report is in {report_path} (and summary.md beside it).")
        converged = result.ok and not second.has_changes
        if not converged:
            env.error(_not_converged(result, second, ours))
        return 0 if converged else 1


def _not_converged(result: report.Report, second: Plan, ours: bool) -> str:
    """Why the demo ends in an error: a bug with the example file; with the user's own file,
    what it did not fit."""
    if ours:
        return "the demo did not converge on its example file; this is a bug, please report it"
    failed = [r.key for r in result.results if r.status is Status.FAILED]
    left = [c.key for c in second.changes if c.action is not Action.NOOP]
    names = failed or left
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    what = f"{plural(len(failed), 'task')} failed" if failed else "the second plan has changes"
    return (
        f"the demo did not converge with this file: {what} ({shown}; see above). The demo "
        f"runs every task on one sample Actor ({DEFAULT_ACTOR}) with a sample input schema, "
        "which a file written for real Actors may not fit; `tasksync plan` against your account "
        "checks each task against its own Actor"
    )
