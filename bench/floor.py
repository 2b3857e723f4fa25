"""The floor of the benchmarks: the same requests as tasksync, sent with no logic at all.

It reads a request list the harness wrote (which tasks to GET, which of them to PUT and with
what body), GETs every task on a bare aiohttp session with a fixed number of workers, then PUTs
the bodies to the IDs the GETs returned. No YAML, no diff, no retries, no rate limiter, no
output: what it takes is what this machine, the event loop and the emulator need for the
traffic alone, so tasksync's distance from it is the cost of tasksync's own work.

Usage: ``APIFY_TOKEN=... APIFY_API_BASE_URL=... python bench/floor.py REQUESTS.json
--concurrency 32``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp


async def pool(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> None:
    indices = iter(range(count))

    async def worker() -> None:
        for i in indices:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))


async def run(names: Sequence[str], puts: dict[str, Any], concurrency: int) -> dict[str, int]:
    base = os.environ["APIFY_API_BASE_URL"].rstrip("/") + "/v2/actor-tasks/"
    headers = {"Authorization": "Bearer " + os.environ["APIFY_TOKEN"]}
    ids: dict[str, str] = {}
    failed = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def get(i: int) -> None:
            nonlocal failed
            async with session.get(base + names[i]) as response:
                body = await response.read()
            if response.status == 200:
                ids[names[i]] = json.loads(body)["data"]["id"]
            else:
                failed += 1

        async def put(i: int) -> None:
            nonlocal failed
            name = writes[i]
            async with session.put(base + ids[name], json=puts[name]) as response:
                await response.read()
            failed += response.status != 200

        await pool(len(names), concurrency, get)
        writes = [name for name in puts if name in ids]
        await pool(len(writes), concurrency, put)
    return {"read": len(ids), "written": len(writes), "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("requests")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reads-only", action="store_true")
    args = parser.parse_args()
    with open(args.requests, encoding="utf-8") as f:
        doc = json.load(f)
    puts = {} if args.reads_only else doc["puts"]
    print(json.dumps(asyncio.run(run(doc["names"], puts, args.concurrency))))


if __name__ == "__main__":
    main()
