"""Helpers for tests that run the command line in-process against a live emulator.

The command line runs its own event loop (``anyio.run``), so these tests keep the emulator on a
second event loop in a background thread (an anyio blocking portal) and talk to it over loopback.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal

from tasksync.cli import Env, main
from tasksync.emulator import Emulator, EmulatorSettings, RequestRecord
from tasksync.emulator.limits import RateLimits


@contextmanager
def threaded_emulator(
    settings: EmulatorSettings | None = None, *, token: str | None = None
) -> Iterator[Emulator]:
    with start_blocking_portal(backend="asyncio") as portal:
        emulator = Emulator(settings or EmulatorSettings(), token=token)
        with portal.wrap_async_context_manager(emulator) as emu:
            yield emu


def limits_clock(emu: Emulator, clock: Callable[[], float]) -> None:
    """Run the emulator's rate limits on ``clock`` (seconds) instead of the monotonic clock."""
    emu.limits = emu.middleware.limits = RateLimits(emu.settings, clock=clock)


async def arrived(emu: Emulator) -> None:
    """Wait until the scheduled faults are used up: their requests reached the emulator."""
    deadline = time.monotonic() + 10
    while emu.faults.scheduled:
        assert time.monotonic() < deadline, "the request never reached the emulator"
        await asyncio.sleep(0.01)


class HeldClock:
    """A clock that stands at 0 until ``until()`` first holds, then runs in real time from 0.

    For rate limits that must be met however slow the machine: held, a bucket never refills,
    so a burst surely overruns it; once the test has seen that happen, the bucket refills at its
    rate and the run can finish."""

    def __init__(self, until: Callable[[], bool]) -> None:
        self._until = until
        self._start: float | None = None

    def __call__(self) -> float:
        if self._start is None:
            if not self._until():
                return 0.0
            self._start = time.monotonic()
        return time.monotonic() - self._start


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_cli(
    *argv: str,
    emu: Emulator | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: str = "",
    tty: bool = False,
) -> Result:
    """Run ``tasksync ARGV`` in-process, pointed at ``emu``; return exit code and output."""
    env_vars: dict[str, str] = {}
    if emu is not None:
        env_vars = {"APIFY_TOKEN": emu.token, "APIFY_API_BASE_URL": emu.url}
    env_vars.update(environ or {})
    out, err = io.StringIO(), io.StringIO()
    env = Env(
        stdout=out,
        stderr=err,
        stdin=io.StringIO(stdin),
        environ=env_vars,
        stdout_isatty=tty,
        stdin_isatty=tty,
    )
    code = main(list(argv), env)
    return Result(int(code), out.getvalue(), err.getvalue())


def write_file(folder: Path, text: str, name: str = "tasks.yaml") -> str:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def seed(emu: Emulator, name: str, **fields: Any) -> dict[str, Any]:
    """Create task ``janedoe~name`` in the emulator."""
    fields.setdefault("actor", "apify~web-scraper")
    task: dict[str, Any] = emu.state.add_task(username="janedoe", name=name, **fields)
    return task


# -- many tasks in known states, and what a run may leave behind ---------------------------------

DRIFTS = ("same", "options", "unset", "input", "title", "all", "missing")
"""How a seeded task differs from its entry in the file; ``missing``: it does not exist yet."""


def _canonical(value: Any) -> str:
    """Type-strict JSON equality by text, numbers as JavaScript has them: ``True`` is not ``1``,
    ``1.0`` is ``1``, and key order does not matter."""
    return json.dumps(_js_numbers(value), sort_keys=True)


def _js_numbers(value: Any) -> Any:
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is dict:
        return {k: _js_numbers(v) for k, v in value.items()}
    if type(value) is list:
        return [_js_numbers(v) for v in value]
    return value


@dataclass
class Scenario:
    """A task file, and an emulator seeded to differ from it in known (seeded-random) ways.

    ``desired[key]`` and ``before[key]`` are the managed fields (title, options, input) a task must
    end with and had before any run (``None``: the task did not exist; the entry has ``actor:``).
    """

    path: str
    desired: dict[str, dict[str, Any]]
    before: dict[str, dict[str, Any] | None]

    @property
    def changed(self) -> list[str]:
        """The keys of the tasks that the file changes or creates."""
        return [k for k, v in self.before.items() if v is None or not self.holds(k, v)]

    def holds(self, key: str, fields: dict[str, Any] | None) -> bool:
        """Whether ``fields`` (as ``live`` returns them) are the desired ones of ``key``."""
        return fields is not None and _canonical(fields) == _canonical(self.desired[key])

    @staticmethod
    def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
        return _canonical(a) == _canonical(b)


def live(emu: Emulator, key: str) -> dict[str, Any] | None:
    """The managed fields of a live task, in the form of ``Scenario.desired``."""
    task = emu.state.get_task(key)
    if task is None:
        return None
    return {"title": task["title"], "options": task["options"] or {}, "input": task["input"]}


def make_scenario(emu: Emulator, folder: Path, count: int, rng: random.Random) -> Scenario:
    """Seed ``count`` tasks of user janedoe, as many of each drift as can be (in a random
    order), and write the file ``tasks.yaml`` that says where they all should be."""
    kinds = [DRIFTS[i % len(DRIFTS)] for i in range(count)]
    rng.shuffle(kinds)
    entries: list[dict[str, Any]] = []
    desired: dict[str, dict[str, Any]] = {}
    before: dict[str, dict[str, Any] | None] = {}
    for i, kind in enumerate(kinds):
        task_name = f"t{i:04d}-{kind}"
        key = f"janedoe~{task_name}"
        memory = rng.choice([256, 512, 1024, 2048])
        want = {
            "title": f"Task {i}",
            "options": {
                "build": "latest",
                "memoryMbytes": memory,
                "timeoutSecs": rng.randrange(60, 3600, 60),
            },
            "input": {
                "n": i,
                "startUrls": [{"url": f"https://example.com/{i}"}],
                "depth": rng.randint(1, 5),
                "ratio": (0.0, 0.5, 1.0)[i % 3],  # 0.0 and 1.0 come back as 0 and 1 in JS mode
                "flags": {"fast": rng.random() < 0.5},
            },
        }
        entry: dict[str, Any] = {
            "task": key,
            "title": want["title"],
            "options": {
                "memoryMbytes": memory,
                "timeoutSecs": want["options"]["timeoutSecs"],
                "maxItems": None,
            },
            "input": want["input"],
        }
        desired[key] = want
        if kind == "missing":
            entry["actor"] = "apify~web-scraper"
            before[key] = None
        else:
            had = json.loads(json.dumps(want))
            if kind in ("options", "all"):
                had["options"]["memoryMbytes"] = 4096  # never desired
            if kind in ("unset", "all"):
                had["options"]["maxItems"] = rng.randint(1, 1000)
            if kind in ("input", "all"):
                had["input"]["depth"] += 1
                had["input"]["stale"] = True
            if kind in ("title", "all"):
                had["title"] += " (old)"
            emu.state.add_task(
                username="janedoe",
                name=task_name,
                title=had["title"],
                options=had["options"],
                input=had["input"],
            )
            before[key] = had
        entries.append(entry)
    doc = {
        "version": 1,
        "safety": {"maxChangedFraction": 1.0},
        "defaults": {"options": {"build": "latest"}},
        "tasks": entries,
    }
    path = folder / "tasks.yaml"
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")  # JSON is YAML
    return Scenario(str(path), desired, before)


def writes_by_task(emu: Emulator, since: float = 0.0) -> dict[str, list[RequestRecord]]:
    """The logged PUTs and POSTs of tasks that arrived at ``since`` (``time.time()``) or later,
    by task key. (A request is logged when it ends, so the log is not in order of arrival.)"""
    keys = {t["id"]: f"{t['username']}~{t['name']}" for t in emu.state.tasks()}
    found: dict[str, list[RequestRecord]] = {}
    for record in emu.requests:
        if record.time < since:
            continue
        if record.status is None and record.body is None:
            continue  # the client hung up before its body arrived: nothing was written
        if record.method == "PUT" and record.path.startswith("/v2/actor-tasks/"):
            ref = record.path.removeprefix("/v2/actor-tasks/")
            key = keys.get(ref, ref)
        elif record.method == "POST" and record.path == "/v2/actor-tasks":
            body = record.body if isinstance(record.body, dict) else {}
            key = f"janedoe~{body.get('name')}"
        else:
            continue
        found.setdefault(key, []).append(record)
    return found


def check_writes(emu: Emulator, scenario: Scenario) -> None:
    """Retries never changed what was written, and no task was created twice."""
    for key, records in writes_by_task(emu).items():
        assert key in scenario.desired, f"a write to {key}, which the file does not name"
        for method in ("PUT", "POST"):
            bodies = {_canonical(r.body) for r in records if r.method == method}
            assert len(bodies) <= 1, f"{key} was sent {len(bodies)} different {method} bodies"
        created = [r for r in records if r.method == "POST" and r.status == 201]
        assert len(created) <= 1, f"{key} was created {len(created)} times"
    names = [t["name"] for t in emu.state.tasks("janedoe")]
    assert len(names) == len(set(names)), "two tasks share a name"
    expected = {k.partition("~")[2] for k, v in scenario.before.items() if v is not None}
    expected |= {k.partition("~")[2] for k in scenario.desired if emu.state.get_task(k)}
    assert set(names) == expected, f"tasks gained or lost: {sorted(set(names) ^ expected)}"


def snapshot(emu: Emulator, scenario: Scenario) -> dict[str, dict[str, Any] | None]:
    """The managed fields of every task of the scenario now (``None``: it does not exist)."""
    return {key: live(emu, key) for key in scenario.desired}


def check_report(
    emu: Emulator,
    scenario: Scenario,
    doc: dict[str, Any],
    *,
    before: dict[str, dict[str, Any] | None] | None = None,
    since: float = 0.0,
) -> None:
    """Hold a JSON report against the emulator: ``before`` is the state before the run
    (default: the scenario's start), ``since`` when it started (``time.time()``).

    Every task of the file has exactly one result; ``unchanged``, ``updated`` and ``created``
    tasks hold their desired values (and were in the state the status claims before the run);
    ``skipped`` ones were never written; ``failed`` ones say why. Whatever the status, a task is
    either as it was or as the file wants it, never a mix of the two.
    """
    results = {t["key"]: t for t in doc["tasks"]}
    assert len(results) == len(doc["tasks"]), "a task has more than one result"
    if results or not doc["interrupted"]:
        assert set(results) == set(scenario.desired), "the report does not cover the file"
    written = writes_by_task(emu, since)
    before = scenario.before if before is None else before
    for key, result in results.items():
        status, now, had = result["status"], live(emu, key), before[key]
        where = f"{key} ({status}, {result.get('error')})"
        assert scenario.holds(key, now) or scenario.same(now, had), f"{where}: a mixed state"
        if status in ("unchanged", "updated", "created"):
            assert scenario.holds(key, now), f"{where}: the state is not the desired one"
            assert "error" not in result, where
        if status == "unchanged":
            assert scenario.holds(key, had), f"{where}: it had to change"
            assert key not in written, f"{where}: written although unchanged"
        elif status == "updated":
            assert had is not None and not scenario.holds(key, had), where
        elif status == "created":
            assert had is None, where
        elif status == "skipped":
            assert scenario.same(now, had), f"{where}: changed although skipped"
            assert key not in written, f"{where}: written although skipped"
        else:
            assert status == "failed", where
            error = result.get("error") or {}
            assert error.get("type") and error.get("message"), f"{where}: no cause given"
