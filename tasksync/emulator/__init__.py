"""A local, in-memory Apify-compatible API server for tests, benchmarks and the demo.

It follows the API contract (``apify-api/CONTRACT.md``): the actor-tasks endpoints, users/me,
Actors, authentication, validation, error envelopes, pagination, ``username~name`` addressing,
rate limits answered with 429, and injectable latency and faults. Layout:

    settings.py  EmulatorSettings: the knobs, shared and mutable
    state.py     EmulatorState: users, Actors, tasks and the API's rules (no HTTP)
    routes.py    aiohttp handlers and the middleware (faults, auth, limits, request log)
    faults.py    scheduled and random faults
    limits.py    token-bucket rate limits
    control.py   the control plane under /_emulator/
    server.py    Emulator: run it in-process
    command.py   the ``tasksync emulator`` command
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasksync.emulator.faults import Fault, Faults, ScheduledFault
    from tasksync.emulator.routes import RequestRecord
    from tasksync.emulator.server import Emulator
    from tasksync.emulator.settings import EmulatorSettings
    from tasksync.emulator.state import ENCRYPTED_PREFIX, EmulatorState, HttpError, User

# Imported on first use (PEP 562): every tasksync command builds the parser, which needs the
# emulator's options but not its server, and importing aiohttp.web and the rest costs about 45 ms.
_WHERE = {
    "ENCRYPTED_PREFIX": "state",
    "Emulator": "server",
    "EmulatorSettings": "settings",
    "EmulatorState": "state",
    "Fault": "faults",
    "Faults": "faults",
    "HttpError": "state",
    "RequestRecord": "routes",
    "ScheduledFault": "faults",
    "User": "state",
}

__all__ = [
    "ENCRYPTED_PREFIX",
    "Emulator",
    "EmulatorSettings",
    "EmulatorState",
    "Fault",
    "Faults",
    "HttpError",
    "RequestRecord",
    "ScheduledFault",
    "User",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
