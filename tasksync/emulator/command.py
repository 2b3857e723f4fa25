"""``tasksync emulator``: serve the emulated Apify API until Ctrl-C or SIGTERM.

It prints the two ``export`` lines a shell (or a benchmark reading our stdout) needs, flushed at
once, then serves. A seed file (YAML or JSON) adds users, Actors and tasks to the defaults::

    users:  [{username: acme, token: secret-token}]
    actors: [{username: acme, name: crawler, secretInputKeys: [apiKey]}]
    tasks:  [{username: acme, actor: acme~crawler, name: nightly, options: {...}, input: {...}}]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import IO, Any

import yaml

from tasksync.emulator.settings import EmulatorSettings
from tasksync.errors import TasksyncError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8787, help="port to bind (default 8787; 0 picks a free one)"
    )
    parser.add_argument("--seed", metavar="FILE", help="YAML or JSON with users, actors, tasks")
    parser.add_argument(
        "--tasks",
        type=int,
        default=0,
        metavar="N",
        help="also seed N generated tasks of the default user (task-00000, ...)",
    )
    parser.add_argument("--token", help="the default user's token (default: a random one)")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay added to every request"
    )
    parser.add_argument(
        "--options-semantics",
        choices=("merge", "replace"),
        default="merge",
        help="how PUT treats task options (default merge, as Apify does)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=60.0,
        metavar="RPS",
        help="requests per second per resource (default 60; 0 turns it off)",
    )
    parser.add_argument(
        "--global-rate-limit",
        type=float,
        default=0.0,
        metavar="RPS",
        help="requests per second per user over everything (default 0: off)",
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered 500/502/503"
    )
    parser.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="share of requests whose connection is dropped (half before, half after the write)",
    )
    parser.add_argument(
        "--js-numbers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="answer as JavaScript does, a float with no fraction (5.0) coming back as 5 "
        "(default; --no-js-numbers answers floats as they were sent)",
    )
    parser.add_argument("--no-request-log", action="store_true", help="keep no request log")


def settings_from(args: argparse.Namespace) -> EmulatorSettings:
    try:
        return EmulatorSettings(
            latency_ms=args.latency_ms,
            options_semantics=args.options_semantics,
            per_resource_rps=args.rate_limit or None,
            global_rps=args.global_rate_limit or None,
            error_rate=args.error_rate,
            drop_before_rate=args.drop_rate / 2,
            drop_after_rate=args.drop_rate / 2,
            js_numbers=args.js_numbers,
            log_requests=not args.no_request_log,
        )
    except ValueError as exc:
        raise TasksyncError(f"invalid emulator settings: {exc}") from None


def read_seed(path: str) -> Any:
    """The seed document: JSON if it parses as JSON (fast for big seeds), else YAML."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise TasksyncError(f"cannot read the seed file {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # a safe loader, in C when available
    except yaml.YAMLError as exc:
        raise TasksyncError(f"the seed file {path} is not valid YAML or JSON: {exc}") from None


def run(args: argparse.Namespace, stdout: IO[str]) -> int:
    if args.tasks < 0:
        raise TasksyncError("--tasks must be 0 or more")
    settings = settings_from(args)
    seed = read_seed(args.seed) if args.seed else None
    return asyncio.run(_serve(args, settings, seed, stdout))


async def _serve(
    args: argparse.Namespace, settings: EmulatorSettings, seed: Any, stdout: IO[str]
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    from tasksync.emulator.server import Emulator  # the server only when it is run

    emulator = Emulator(settings, host=args.host, port=args.port, token=args.token)
    if seed is not None:
        try:
            emulator.state.load_seed(seed)
        except ValueError as exc:
            raise TasksyncError(f"invalid seed file {args.seed}: {exc}") from None
    if args.tasks:
        from tasksync.emulator.fixtures import generated_tasks

        emulator.state.load_seed(generated_tasks(args.tasks))
    try:
        await emulator.start()
    except OSError as exc:
        raise TasksyncError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    try:
        stdout.write(
            f"export APIFY_API_BASE_URL={emulator.url}\n"
            f"export APIFY_TOKEN={emulator.token}\n"
            f"# Apify API emulator for user {emulator.username}, "
            f"{len(emulator.state.tasks())} tasks; control plane at {emulator.url}/_emulator/; "
            "stop with Ctrl-C\n"
        )
        stdout.flush()
        await stop.wait()
    finally:
        await emulator.close()
    return 0
