"""Benchmark: tasksync against the apify-client baseline script and a bare floor, on one emulator.

    python -m bench.sync --tasks 5000 --changed 0.1 --latency-ms 20 --concurrency 32
    python -m bench.sync --command plan --tasks 10000 --concurrency 64
    python -m bench.sync --command plan --tasks 10000 --latency-ms 100 --adaptive

``--adaptive`` runs tasksync with its default, adaptive concurrency (no ``--concurrency``); the
baseline and the floor keep the fixed ``--concurrency``.

For each run it starts a fresh emulator in a separate process (seeded with drifted tasks), then runs
as child processes, alternating: (a) ``tasksync apply`` (or ``plan``), (b) ``bench/baseline.py``,
the loop a competent user writes on apify-client, and (c) ``bench/floor.py``, the same requests
on a bare aiohttp session with no logic (what the machine and the emulator allow). It records
for each: end-to-end wall time, the sync phase (first request to last response, from the
emulator's request log), CPU seconds and peak RSS of the client process, requests sent, 429s
received, and whether the emulator's final state equals the file. The lower bound of the sync
phase is max((requests - burst) / rate limit, requests x latency / concurrency), where the burst
is the one second's worth of requests the emulator's token bucket starts with.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tasksync import config
from tasksync.diff import diff_task
from tasksync.model import Action, RemoteTask

TOKEN = "bench-token-0123456789"
HERE = Path(__file__).resolve().parent


@dataclass
class Sample:
    tool: str
    wall: float
    sync: float
    cpu: float
    rss_mb: float
    requests: int
    throttled: int
    converged: bool | None
    """Whether the final state equals the file (None for a plan, which writes nothing)."""
    served: float = 0.0
    """Mean seconds the emulator took per request (its latency and its own overhead)."""


def write_files(folder: Path, tasks: int, changed: float) -> tuple[Path, Path]:
    """The desired file, the emulator seed (every 1/changed-th task drifted), and next to them
    ``requests.json``: the requests a perfect client sends, for ``bench/floor.py``."""
    every = max(1, round(1 / changed)) if changed > 0 else 0
    entries, seeds = [], []
    names: list[str] = []
    puts: dict[str, Any] = {}
    for i in range(tasks):
        name = f"bench-{i:06d}"
        options = {"build": "latest", "memoryMbytes": 1024, "timeoutSecs": 300}
        task_input = {
            "startUrls": [{"url": f"https://example.com/{i}"}],
            "maxPagesPerCrawl": 10,
            "proxyConfiguration": {"useApifyProxy": True},
        }
        entries.append({"task": f"janedoe~{name}", "options": options, "input": task_input})
        drift = every and i % every == 0
        names.append(f"janedoe~{name}")
        if drift:
            puts[f"janedoe~{name}"] = {"options": options, "input": task_input}
        seeds.append(
            {
                "username": "janedoe",
                "actor": "apify~web-scraper",
                "name": name,
                "options": {**options, "memoryMbytes": 2048} if drift else options,
                "input": {**task_input, "maxPagesPerCrawl": 20} if drift else task_input,
            }
        )
    desired = folder / "tasks.yaml"
    desired.write_text(yaml.safe_dump({"version": 1, "tasks": entries}, sort_keys=False))
    seed = folder / "seed.json"
    seed.write_text(json.dumps({"tasks": seeds}))
    (folder / "requests.json").write_text(json.dumps({"names": names, "puts": puts}))
    return desired, seed


class EmulatorProcess:
    def __init__(self, seed: Path, args: argparse.Namespace) -> None:
        cmd = [
            sys.executable, "-m", "tasksync", "emulator", "--port", "0", "--seed", str(seed),
            "--token", TOKEN, "--latency-ms", str(args.latency_ms),
            "--options-semantics", args.options_semantics,
            "--rate-limit", str(args.rate_limit),
            "--global-rate-limit", str(args.global_rate_limit),
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = ""
        for line in self.proc.stdout:
            if "APIFY_API_BASE_URL=" in line:
                self.url = line.split("APIFY_API_BASE_URL=", 1)[1].strip().strip("'\"")
                break
        if not self.url:
            raise RuntimeError("the emulator did not print its URL")

    def control(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + "/_emulator/" + path) as response:
            return json.load(response)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# Peak RSS needs care: Linux carries the high-water mark of the process that spawns a child into
# the child's ru_maxrss across exec, so a child spawned by this benchmark (which holds the seed and
# the file, 135 MB at 10,000 tasks) would read at least that. The client is therefore started by
# this small launcher, which forks it from a fresh interpreter of a few MB and reports its figures.
_LAUNCHER = """\
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(int(sys.argv[2]), 1)
    os.execvp(sys.argv[3], sys.argv[3:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump([time.perf_counter() - started, usage.ru_utime + usage.ru_stime,
               usage.ru_maxrss, os.waitstatus_to_exitcode(status)], f)
"""


def run_client(cmd: list[str], url: str) -> tuple[float, float, float, str]:
    """Run a client process; return wall seconds, CPU seconds, peak RSS in MB, stdout."""
    env = {**os.environ, "APIFY_TOKEN": TOKEN, "APIFY_API_BASE_URL": url}
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.json"
        read, write = os.pipe()
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, str(figures), str(write), *cmd]
        proc = subprocess.Popen(launcher, env=env, stderr=subprocess.DEVNULL, pass_fds=(write,))
        os.close(write)
        with os.fdopen(read, "rb") as stdout:
            out = stdout.read().decode()
        proc.wait()
        wall, cpu, maxrss_kib, _ = json.loads(figures.read_text())
    return wall, cpu, maxrss_kib / 1024, out


def converged(emu: EmulatorProcess, desired: Path) -> bool:
    specs = config.load(desired, environ={}).tasks
    state = emu.control("state")
    tasks = state["tasks"] if isinstance(state, dict) else state
    by_key = {f"{t['username']}~{t['name']}": t for t in tasks}
    return all(
        s.key in by_key and diff_task(s, RemoteTask(by_key[s.key])).action is Action.NOOP
        for s in specs
    )


def measure(tool: str, args: argparse.Namespace, desired: Path, seed: Path) -> Sample:
    emu = EmulatorProcess(seed, args)
    try:
        cmd = client_command(tool, args, desired)
        wall, cpu, rss, _ = run_client(cmd, emu.url)
        log = emu.control("requests")
        records = log["requests"] if isinstance(log, dict) else log
        starts = [r["time"] for r in records]
        ends = [r["time"] + r.get("duration", 0.0) for r in records]
        sync = (max(ends) - min(starts)) if records else 0.0
        throttled = sum(1 for r in records if r["status"] == 429)
        served = sum(e - s for s, e in zip(starts, ends, strict=True)) / max(1, len(records))
        ok = converged(emu, desired) if args.command == "apply" else None
    finally:
        emu.close()
    return Sample(tool, wall, sync, cpu, rss, len(records), throttled, ok, served)


def client_command(tool: str, args: argparse.Namespace, desired: Path) -> list[str]:
    concurrency = ["--concurrency", str(args.concurrency)]
    plan = args.command == "plan"
    if tool == "tasksync":
        if args.adaptive:
            concurrency = []
        verb = ["plan"] if plan else ["apply", "--yes", "--force"]
        return [sys.executable, "-m", "tasksync", verb[0], str(desired), *verb[1:], *concurrency]
    if tool == "baseline":
        dry = ["--dry-run"] if plan else []
        return [sys.executable, str(HERE / "baseline.py"), str(desired), *concurrency, *dry]
    requests = str(desired.parent / "requests.json")
    reads = ["--reads-only"] if plan else []
    return [sys.executable, str(HERE / "floor.py"), requests, *concurrency, *reads]


def lower_bound(requests: int, args: argparse.Namespace) -> float:
    """max(requests x latency / concurrency, what the global rate limit allows).

    The emulator's global limit is a token bucket that starts full with one second's worth of
    requests, so the first ``rate`` requests are free and the rest arrive at ``rate`` per second.
    """
    bound = requests * args.latency_ms / 1000 / args.concurrency
    rate = args.global_rate_limit
    if rate:
        bound = max(bound, max(0.0, requests - max(1.0, rate)) / rate)
    return bound


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--adaptive", action="store_true", help="tasksync with its default adaptive concurrency"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rate-limit", type=float, default=0, help="emulator per-task limit")
    parser.add_argument("--global-rate-limit", type=float, default=0)
    parser.add_argument("--options-semantics", choices=("merge", "replace"), default="merge")
    parser.add_argument(
        "--command", choices=("apply", "plan"), default="apply", help="plan: reads only"
    )
    parser.add_argument(
        "--tools",
        default="tasksync,baseline,floor",
        help="comma-separated: tasksync, baseline (apify-client script), floor (bare aiohttp)",
    )
    args = parser.parse_args(argv)

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - {"tasksync", "baseline", "floor"}
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    samples: dict[str, list[Sample]] = {tool: [] for tool in tools}
    with tempfile.TemporaryDirectory() as tmp:
        desired, seed = write_files(Path(tmp), args.tasks, args.changed)
        for _ in range(args.runs):
            for tool in tools:
                samples[tool].append(measure(tool, args, desired, seed))

    print(
        f"{args.command}: {args.tasks} tasks, {args.changed:.0%} changed, "
        f"latency {args.latency_ms:g} ms, "
        f"concurrency {'adaptive (tasksync), ' if args.adaptive else ''}{args.concurrency}, "
        f"options {args.options_semantics}, "
        f"rate limit {args.rate_limit or 'off'}/task, {args.global_rate_limit or 'off'} global; "
        f"median of {args.runs}"
    )
    header = (
        f"{'tool':9} {'wall s':>7} {'sync s':>7} {'bound s':>7} {'sync/bound':>10} "
        f"{'served ms':>9} {'CPU s':>6} {'CPU us/task':>11} {'RSS MB':>7} {'requests':>8} "
        f"{'429s':>5} converged"
    )
    print(header)
    med: dict[str, Sample] = {}
    for tool, runs in samples.items():
        m = Sample(
            tool,
            statistics.median(s.wall for s in runs),
            statistics.median(s.sync for s in runs),
            statistics.median(s.cpu for s in runs),
            max(s.rss_mb for s in runs),
            round(statistics.median(s.requests for s in runs)),
            round(statistics.median(s.throttled for s in runs)),
            None if args.command == "plan" else all(bool(s.converged) for s in runs),
            statistics.median(s.served for s in runs),
        )
        med[tool] = m
        bound = lower_bound(m.requests, args)
        ratio = m.sync / bound if bound else float("nan")
        print(
            f"{tool:9} {m.wall:7.2f} {m.sync:7.2f} {bound:7.2f} {ratio:10.2f} "
            f"{m.served * 1000:9.2f} {m.cpu:6.2f} "
            f"{m.cpu / args.tasks * 1e6:11.0f} {m.rss_mb:7.0f} {m.requests:8d} {m.throttled:5d} "
            f"{'-' if m.converged is None else 'yes' if m.converged else 'NO'}"
        )
    a = med.get("tasksync")
    for other in ("baseline", "floor"):
        b = med.get(other)
        if a is not None and b is not None:
            print(
                f"tasksync/{other}: wall {a.wall / b.wall:.2f}, sync {a.sync / b.sync:.2f}, "
                f"CPU {a.cpu / b.cpu:.2f}, RSS {a.rss_mb / b.rss_mb:.2f}"
            )


if __name__ == "__main__":
    main()
