"""The script a competent user writes instead of using tasksync: the baseline of the benchmarks.

It reads the same task file with libyaml, then, with the official ``apify-client`` and an asyncio
semaphore, gets each task, compares the declared options and input, and updates the changed ones
with the client's keyword arguments (sending only the changed option keys). It knows nothing of
defaults, ignore pointers, secrets or merge mode: the benchmark files use none of them.

Usage: ``APIFY_TOKEN=... APIFY_API_BASE_URL=... python bench/baseline.py FILE --concurrency 32``.
Prints one JSON line: tasks read, tasks updated (or to update, with ``--dry-run``), failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import timedelta
from typing import Any

import yaml
from apify_client import ApifyClientAsync

# The client's keyword for each option key of the file.
OPTION_KWARGS = {
    "build": "build",
    "memoryMbytes": "memory_mbytes",
    "maxItems": "max_items",
    "maxTotalChargeUsd": "max_total_charge_usd",
    "restartOnError": "restart_on_error",
}


async def sync(doc: dict[str, Any], concurrency: int, dry_run: bool = False) -> dict[str, int]:
    client = ApifyClientAsync(os.environ["APIFY_TOKEN"], api_url=os.environ["APIFY_API_BASE_URL"])
    semaphore = asyncio.Semaphore(concurrency)
    counts = {"tasks": 0, "updated": 0, "failed": 0}

    async def one(entry: dict[str, Any]) -> None:
        async with semaphore:
            task_client = client.task(entry["task"])
            try:
                task = await task_client.get()
                if task is None:
                    counts["failed"] += 1
                    return
                live = task.model_dump(by_alias=True, exclude_none=False)
                changes: dict[str, Any] = {}
                live_options = live.get("options") or {}
                for key, value in (entry.get("options") or {}).items():
                    if live_options.get(key) != value:
                        if key == "timeoutSecs":
                            changes["run_timeout"] = timedelta(seconds=value)
                        else:
                            changes[OPTION_KWARGS[key]] = value
                if "input" in entry and live.get("input") != entry["input"]:
                    changes["task_input"] = entry["input"]
                if changes:
                    if not dry_run:
                        await task_client.update(**changes)
                    counts["updated"] += 1
                counts["tasks"] += 1
            except Exception:
                counts["failed"] += 1

    await asyncio.gather(*(one(entry) for entry in doc["tasks"]))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--dry-run", action="store_true", help="compare only: the plan's work")
    args = parser.parse_args()
    with open(args.file, encoding="utf-8") as f:
        doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    print(json.dumps(asyncio.run(sync(doc, args.concurrency, args.dry_run))))


if __name__ == "__main__":
    main()
