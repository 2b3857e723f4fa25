"""What checking inputs against input schemas costs a plan: with and without the check.

    python -m bench.inputschema --tasks 10000 --actors 3 --concurrency 64 --runs 3

Seeds an emulator (its own process) with ``--actors`` Actors whose latest build has a
14-property input schema, and ``--tasks`` tasks spread over them, every tenth drifted. Then, per
run: the whole ``tasksync plan`` process (start-up and imports included) with the check and with
``--no-input-schema``, CPU per task from ``getrusage(RUSAGE_CHILDREN)``, and the requests the
emulator saw. Also the bare cost of one ``InputSchema.check`` on such an input.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from bench.sync import TOKEN, EmulatorProcess
from tasksync.inputschema import InputSchema

SCHEMA: dict[str, Any] = {
    "title": "Bench input",
    "type": "object",
    "schemaVersion": 1,
    "properties": {
        "startUrls": {"type": "array", "editor": "requestListSources", "minItems": 1},
        "maxPagesPerCrawl": {"type": "integer", "minimum": 0, "default": 0},
        "maxDepth": {"type": "integer", "minimum": 0, "default": 5},
        "linkSelector": {"type": "string", "editor": "textfield"},
        "globs": {"type": "array", "items": {"type": "object"}, "default": []},
        "pageFunction": {"type": "string", "editor": "javascript"},
        "proxyConfiguration": {"type": "object", "editor": "proxy"},
        "mode": {"type": "string", "enum": ["fast", "full", "auto"], "default": "auto"},
        "debugLog": {"type": "boolean", "default": False},
        "headless": {"type": "boolean", "default": True},
        "waitUntil": {"type": "array", "items": {"type": "string"}},
        "apiKey": {"type": "string", "isSecret": True},
        "maxConcurrency": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
        "customData": {"type": "object", "default": {}},
    },
    "required": ["startUrls", "maxPagesPerCrawl"],
}


def write_files(folder: Path, tasks: int, actors: int) -> tuple[Path, Path]:
    every = 10
    entries, seeds = [], []
    for i in range(tasks):
        name = f"bench-{i:06d}"
        options = {"build": "latest", "memoryMbytes": 1024}
        task_input = {
            "startUrls": [{"url": f"https://example.com/{i}"}],
            "maxPagesPerCrawl": 10,
            "proxyConfiguration": {"useApifyProxy": True},
            "mode": "fast",
        }
        entries.append({"task": f"janedoe~{name}", "options": options, "input": task_input})
        drift = i % every == 0
        seeds.append(
            {
                "username": "janedoe",
                "actor": f"janedoe~bench-actor-{i % actors}",
                "name": name,
                "options": options,
                "input": {**task_input, "maxPagesPerCrawl": 20} if drift else task_input,
            }
        )
    desired = folder / "tasks.yaml"
    desired.write_text(yaml.safe_dump({"version": 1, "tasks": entries}, sort_keys=False))
    seed = folder / "seed.json"
    actor_seeds = [
        {"username": "janedoe", "name": f"bench-actor-{n}", "inputSchema": SCHEMA}
        for n in range(actors)
    ]
    seed.write_text(json.dumps({"actors": actor_seeds, "tasks": seeds}))
    return desired, seed


def plan_process(desired: Path, url: str, concurrency: int, *extra: str) -> float:
    """CPU seconds of one whole ``tasksync plan`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "APIFY_TOKEN": TOKEN, "APIFY_API_BASE_URL": url}
    cmd = [sys.executable, "-m", "tasksync", "plan", str(desired), "--format", "json"]
    done = subprocess.run(
        [*cmd, "--concurrency", str(concurrency), *extra], env=env, capture_output=True, text=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    counts = json.loads(done.stdout)["counts"]
    assert done.returncode == 0 and counts["error"] == 0, (done.returncode, counts, done.stderr)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def requests(url: str) -> tuple[int, int]:
    with urllib.request.urlopen(url + "/_emulator/requests") as response:
        log = json.load(response)
    items = log if isinstance(log, list) else log.get("requests", [])
    schema = sum(1 for r in items if "/actor-tasks" not in r.get("path", ""))
    return len(items), schema


def bare_check(runs: int = 20000) -> float:
    schema = InputSchema(SCHEMA)
    value = {
        "startUrls": [{"url": "https://example.com/1"}],
        "maxPagesPerCrawl": 10,
        "proxyConfiguration": {"useApifyProxy": True},
        "mode": "fast",
    }
    start = time.process_time()
    for _ in range(runs):
        schema.check(value)
    return (time.process_time() - start) / runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--actors", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"InputSchema.check, 14-property schema: {bare_check() * 1e6:.0f} µs per input")
    emu_args = argparse.Namespace(
        latency_ms=args.latency_ms, options_semantics="merge", rate_limit=0, global_rate_limit=0
    )
    with tempfile.TemporaryDirectory() as tmp:
        desired, seed = write_files(Path(tmp), args.tasks, args.actors)
        emu = EmulatorProcess(seed, emu_args)
        try:
            figures: dict[str, list[float]] = {"with the check": [], "--no-input-schema": []}
            seen: dict[str, tuple[int, int]] = {}
            for _ in range(args.runs):
                for label, extra in (
                    ("with the check", ()),
                    ("--no-input-schema", ("--no-input-schema",)),
                ):
                    urllib.request.urlopen(
                        urllib.request.Request(emu.url + "/_emulator/requests", method="DELETE")
                    ).close()
                    cpu = plan_process(desired, emu.url, args.concurrency, *extra)
                    figures[label].append(cpu / args.tasks * 1e6)
                    seen[label] = requests(emu.url)
        finally:
            emu.close()
    print(f"plan, {args.tasks} tasks over {args.actors} Actors, 10% changed, "
          f"concurrency {args.concurrency}, whole process:")  # fmt: skip
    for label, values in figures.items():
        total, schema = seen[label]
        print(
            f"  {label:>18}: {statistics.median(values):.0f} µs CPU per task (median of "
            f"{len(values)}: {', '.join(f'{v:.0f}' for v in values)}); "
            f"{total} requests, {schema} for schemas"
        )


if __name__ == "__main__":
    main()
