"""CPU of rendering a plan (text, Markdown, JSON), for the two cases of the rendering issue.

    python -m bench.render --tasks 10000 --runs 3

- ``grouped``: every task has the same change (``/options/memoryMbytes``), shown once;
- ``unique``: every task changes line 5 of its own 40-line ``pageFunction``, differently.

Plans are built in memory (no emulator): only rendering is timed (``time.process_time``).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable

from tasksync.model import Action, ChangeKind, FieldChange, TaskChange
from tasksync.plan import Plan
from tasksync.report import plan_markdown, plan_text


def _page_function(i: int, variant: str) -> str:
    lines = [f"// task {i}: line {n} of the page function" for n in range(40)]
    lines[4] = f"const price = $('.price-{i}-{variant}').text();"
    return "\n".join(lines)


def make_plan(tasks: int, case: str) -> Plan:
    changes = []
    for i in range(tasks):
        if case == "grouped":
            field = FieldChange("/options/memoryMbytes", ChangeKind.CHANGE, 1024, 2048)
        else:
            old, new = _page_function(i, "old"), _page_function(i, "new")
            field = FieldChange("/input/pageFunction", ChangeKind.CHANGE, old, new)
        changes.append(
            TaskChange(
                f"janedoe~task-{i:05d}", Action.UPDATE, task_id=f"{i:017d}", changes=(field,)
            )
        )
    return Plan(tuple(changes), source="tasks.yaml")


def _json(plan: Plan) -> str:
    return json.dumps(plan.to_json(include_payloads=False), indent=2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    renderers: dict[str, Callable[[Plan], str]] = {
        "text": plan_text,
        "markdown": plan_markdown,
        "json": _json,
    }
    print(f"{args.tasks} tasks, median CPU of {args.runs} runs")
    for case in ("grouped", "unique"):
        plan = make_plan(args.tasks, case)
        for name, render in renderers.items():
            times, size = [], 0
            for _ in range(args.runs):
                gc.collect()
                cpu = time.process_time()
                size = len(render(plan))
                times.append(time.process_time() - cpu)
            print(f"{case:8} {name:9} {statistics.median(times):6.3f} s  {size:>10,} chars")


if __name__ == "__main__":
    main()
