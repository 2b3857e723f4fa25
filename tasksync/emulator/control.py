"""The control plane, apart from the emulated API: ``/_emulator/...``.

It lets a test or a benchmark that runs the emulator in another process do what in-process code
does through ``Emulator``: reset, seed, read and change settings and faults, dump the state, and
read or clear the request log. It needs no token and is never faulted, limited or logged. Its
answers are plain JSON (no ``data`` envelope: this is not the Apify API); errors use Apify's error
envelope. ``GET /_emulator/`` lists its routes, from the table in ``Control.table``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from aiohttp import web

from tasksync.emulator.bodies import read_json_body
from tasksync.emulator.errors import InvalidInput
from tasksync.emulator.faults import Faults
from tasksync.emulator.log import RequestRecord
from tasksync.emulator.responses import json_response
from tasksync.emulator.state import EmulatorState

CONTROL_PREFIX = "/_emulator/"

_FAULT_FIELDS = {
    "count": "count",
    "kind": "kind",
    "status": "status",
    "method": "method",
    "pathPrefix": "path_prefix",
    "seconds": "seconds",
    "errorType": "error_type",
    "variant": "variant",
    "body": "body",
    "size": "size",
}


class ControlRoute(NamedTuple):
    method: str
    path: str
    """Under ``/_emulator/``."""
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    description: str


class Control:
    """The control plane's handlers. ``reset`` resets the whole emulator (state, faults, rate
    limits, log)."""

    def __init__(
        self,
        state: EmulatorState,
        faults: Faults,
        log: list[RequestRecord],
        reset: Callable[[], None],
    ) -> None:
        self.state = state
        self.faults = faults
        self.log = log
        self._reset = reset

    def table(self) -> list[ControlRoute]:
        fault_fields = ", ".join(_FAULT_FIELDS)
        return [
            ControlRoute("GET", "", self.index, "this list of the control plane's routes"),
            ControlRoute(
                "POST",
                "reset",
                self.reset,
                "back to the default users and Actors; no faults, no log, fresh rate limits",
            ),
            ControlRoute(
                "POST", "seed", self.seed, "add {users: [...], actors: [...], tasks: [...]}"
            ),
            ControlRoute("GET", "settings", self.get_settings, "the settings (snake_case)"),
            ControlRoute("PUT", "settings", self.put_settings, "change the settings given"),
            ControlRoute(
                "GET", "faults", self.get_faults, "{scheduled: [...]}, the faults to come"
            ),
            ControlRoute(
                "POST",
                "faults",
                self.add_faults,
                f"schedule faults (object or list; {fault_fields})",
            ),
            ControlRoute("DELETE", "faults", self.clear_faults, "forget the scheduled faults"),
            ControlRoute("GET", "state", self.dump_state, "{users (no tokens), actors, tasks}"),
            ControlRoute(
                "GET", "requests", self.get_requests, "{requests: [...]}, the request log"
            ),
            ControlRoute("DELETE", "requests", self.clear_requests, "empty the request log"),
        ]

    def add_routes(self, app: web.Application) -> None:
        for route in self.table():
            app.router.add_route(route.method, CONTROL_PREFIX + route.path, route.handler)

    async def index(self, request: web.Request) -> web.Response:
        routes = [
            {"method": r.method, "path": CONTROL_PREFIX + r.path, "description": r.description}
            for r in self.table()
        ]
        return json_response({"routes": routes})

    async def reset(self, request: web.Request) -> web.Response:
        self._reset()
        return json_response({"reset": True})

    async def seed(self, request: web.Request) -> web.Response:
        body = await read_json_body(request)
        try:
            counts = self.state.load_seed(body)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        return json_response(counts, 201)

    async def get_settings(self, request: web.Request) -> web.Response:
        return json_response(self.state.settings.to_json())

    async def put_settings(self, request: web.Request) -> web.Response:
        body = await read_json_body(request)
        if not isinstance(body, dict):
            raise InvalidInput("send a JSON object of settings")
        try:
            self.state.settings.update(body)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(str(exc)) from None
        return json_response(self.state.settings.to_json())

    async def get_faults(self, request: web.Request) -> web.Response:
        return json_response({"scheduled": [f.to_json() for f in self.faults.scheduled]})

    async def add_faults(self, request: web.Request) -> web.Response:
        body = await read_json_body(request)
        entries = body if isinstance(body, list) else [body]
        added = [self._schedule(entry) for entry in entries]
        return json_response({"scheduled": added}, 201)

    def _schedule(self, entry: Any) -> dict[str, object]:
        if not isinstance(entry, dict):
            raise InvalidInput("a fault must be a JSON object")
        unknown = sorted(set(entry) - set(_FAULT_FIELDS))
        if unknown:
            raise InvalidInput(f"unknown fault fields: {', '.join(unknown)}")
        kwargs = {_FAULT_FIELDS[key]: value for key, value in entry.items()}
        try:
            return self.faults.schedule(**kwargs).to_json()
        except (ValueError, TypeError) as exc:
            raise InvalidInput(str(exc)) from None

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.Response(status=204)

    async def dump_state(self, request: web.Request) -> web.Response:
        return json_response(self.state.dump())

    async def get_requests(self, request: web.Request) -> web.Response:
        return json_response({"requests": [r.to_json() for r in list(self.log)]})

    async def clear_requests(self, request: web.Request) -> web.Response:
        self.log.clear()
        return web.Response(status=204)
