"""A local, in-memory Apify-compatible API server for tests, benchmarks and the demo.

It follows the API contract (``apify-api/CONTRACT.md``): the actor-tasks and schedules
endpoints, users/me, Actors, authentication, validation, error envelopes, pagination,
``username~name`` addressing, rate limits answered with 429, and injectable latency and
faults. Layout, like moto's:

    settings.py       EmulatorSettings: the knobs, shared and mutable
    errors.py         ApiError and its subclasses, each with its status and Apify error type

    the state (plain Python, no HTTP)
    core.py           the lock, the clock, IDs and the name rule every store shares
    users.py          users and tokens
    actors.py         Actors: visibility, secret input keys, builds
    tasks.py          Actor tasks: the rules of /v2/actor-tasks
    task_fields.py    a task's writable fields: checks and PUT merging
    schedules.py      schedules: the rules of /v2/schedules
    schedule_fields.py  a schedule's writable fields: cron, time zone, actions
    secret_inputs.py  encrypted secret inputs
    fixtures.py       seeding: the default users and Actors, seed documents
    state.py          EmulatorState: the stores together, and the Python API tests use
    faults.py         which fault a request gets (scheduled or random)
    limits.py         token-bucket rate limits

    the HTTP layer
    bodies.py         reading request bodies (coding, size, type, JSON)
    responses.py      JSON answers, the error envelope, JavaScript numbers
    middleware.py     faults carried out, auth, rate limits, the request log
    routes.py         the emulated API: one class per resource
    control.py        the control plane under /_emulator/
    log.py            RequestRecord
    server.py         Emulator: the wiring; run it in-process
    command.py        the ``tasksync emulator`` command
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasksync.emulator.errors import ApiError, HttpError
    from tasksync.emulator.faults import Fault, Faults, ScheduledFault
    from tasksync.emulator.log import RequestRecord
    from tasksync.emulator.secret_inputs import ENCRYPTED_PREFIX
    from tasksync.emulator.server import Emulator
    from tasksync.emulator.settings import EmulatorSettings
    from tasksync.emulator.state import EmulatorState
    from tasksync.emulator.users import User

# Imported on first use (PEP 562): every tasksync command builds the parser, which needs the
# emulator's options but not its server, and importing aiohttp.web and the rest costs about 45 ms.
_WHERE = {
    "ApiError": "errors",
    "ENCRYPTED_PREFIX": "secret_inputs",
    "Emulator": "server",
    "EmulatorSettings": "settings",
    "EmulatorState": "state",
    "Fault": "faults",
    "Faults": "faults",
    "HttpError": "errors",
    "RequestRecord": "log",
    "ScheduledFault": "faults",
    "User": "users",
}

__all__ = [
    "ENCRYPTED_PREFIX",
    "ApiError",
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
