"""CPU of the plan's own work, measured inside one process: load the file, then refresh + diff.

    python -m bench.plan_cpu --tasks 10000 --latency-ms 20 --concurrency 16 --runs 3

The emulator runs in its own process (as in ``bench.sync``), so the CPU counted here
(``time.process_time`` of this process) is tasksync's alone: reading and validating the file,
then ``tasksync.plan`` on the loaded file (every GET, every diff, the Plan). The whole
process, start-up and imports included, is what ``python -m bench.sync --command plan`` counts.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import anyio

from bench.sync import TOKEN, EmulatorProcess, write_files
from tasksync import config
from tasksync.sync import Settings, plan


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    emu_args = argparse.Namespace(
        latency_ms=args.latency_ms,
        options_semantics="merge",
        rate_limit=0,
        global_rate_limit=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        desired, seed = write_files(Path(tmp), args.tasks, args.changed)
        emu = EmulatorProcess(seed, emu_args)
        try:
            settings = Settings(token=TOKEN, api_url=emu.url, concurrency=args.concurrency)
            loads, plans, walls = [], [], []
            for _ in range(args.runs):
                gc.collect()
                cpu = time.process_time()
                cfg = config.load(desired, environ={})
                loads.append(time.process_time() - cpu)
                cpu, wall = time.process_time(), time.perf_counter()
                result = anyio.run(partial(plan, cfg, settings=settings))
                plans.append(time.process_time() - cpu)
                walls.append(time.perf_counter() - wall)
                # one GET per task, the check before the run and the input schema's two reads
                assert result.requests.total == args.tasks + 3, result.requests
        finally:
            emu.close()
    counts = result.counts
    bound = args.tasks * args.latency_ms / 1000 / args.concurrency
    per_task = 1e6 / args.tasks
    print(
        f"{args.tasks} tasks ({counts}), latency {args.latency_ms:g} ms, "
        f"concurrency {args.concurrency}, median of {args.runs}"
    )
    print(f"load file:        CPU {statistics.median(loads) * per_task:6.0f} us/task")
    print(f"refresh + diff:   CPU {statistics.median(plans) * per_task:6.0f} us/task")
    wall = statistics.median(walls)
    print(f"refresh + diff:   wall {wall:.2f} s, bound {bound:.2f} s, ratio {wall / bound:.2f}")


if __name__ == "__main__":
    main()
