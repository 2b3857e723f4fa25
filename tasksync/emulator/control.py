"""The control plane, apart from the emulated API: ``/_emulator/...``.

It lets a test or a benchmark that runs the emulator in another process do what in-process code
does through ``Emulator``: reset, seed, read and change settings and faults, dump the state, and
read or clear the request log. It needs no token and is never faulted, limited or logged. Its
answers are plain JSON (no ``data`` envelope: this is not the Apify API); errors use Apify's error
envelope.

    POST   /_emulator/reset      back to the default users and Actors; faults and log cleared
    POST   /_emulator/seed       body {users: [...], actors: [...], tasks: [...]}
    GET    /_emulator/settings   the settings; PUT changes the fields given (snake_case)
    GET    /_emulator/faults     {scheduled: [...]}; POST schedules (object or list); DELETE clears
                                 (fields: count, kind, status, method, pathPrefix, seconds,
                                 errorType, and variant, body, size for malformed answers)
    GET    /_emulator/state      {users (no tokens), actors, tasks}
    GET    /_emulator/requests   {requests: [...]}, the request log; DELETE clears it
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tasksync.emulator.routes import CONTROL_PREFIX, Api, json_response, read_json_body
from tasksync.emulator.state import invalid_input

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


class Control:
    def __init__(self, api: Api) -> None:
        self.api = api

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        p = CONTROL_PREFIX
        r.add_post(p + "reset", self.reset)
        r.add_post(p + "seed", self.seed)
        r.add_get(p + "settings", self.get_settings, allow_head=False)
        r.add_put(p + "settings", self.put_settings)
        r.add_get(p + "faults", self.get_faults, allow_head=False)
        r.add_post(p + "faults", self.add_faults)
        r.add_delete(p + "faults", self.clear_faults)
        r.add_get(p + "state", self.dump_state, allow_head=False)
        r.add_get(p + "requests", self.get_requests, allow_head=False)
        r.add_delete(p + "requests", self.clear_requests)

    async def reset(self, request: web.Request) -> web.Response:
        self.api.reset()
        return json_response({"reset": True})

    async def seed(self, request: web.Request) -> web.Response:
        body = await read_json_body(request)
        try:
            counts = self.api.state.load_seed(body)
        except ValueError as exc:
            raise invalid_input(str(exc)) from None
        return json_response(counts, 201)

    async def get_settings(self, request: web.Request) -> web.Response:
        return json_response(self.api.settings.to_json())

    async def put_settings(self, request: web.Request) -> web.Response:
        body = await read_json_body(request)
        if not isinstance(body, dict):
            raise invalid_input("send a JSON object of settings")
        try:
            self.api.settings.update(body)
        except (ValueError, TypeError) as exc:
            raise invalid_input(str(exc)) from None
        return json_response(self.api.settings.to_json())

    async def get_faults(self, request: web.Request) -> web.Response:
        scheduled = [f.to_json() for f in self.api.faults.scheduled]
        return json_response({"scheduled": scheduled})

    async def add_faults(self, request: web.Request) -> web.Response:
        body = await read_json_body(request)
        entries = body if isinstance(body, list) else [body]
        added = [self._schedule(entry) for entry in entries]
        return json_response({"scheduled": added}, 201)

    def _schedule(self, entry: Any) -> dict[str, object]:
        if not isinstance(entry, dict):
            raise invalid_input("a fault must be a JSON object")
        unknown = sorted(set(entry) - set(_FAULT_FIELDS))
        if unknown:
            raise invalid_input(f"unknown fault fields: {', '.join(unknown)}")
        kwargs = {_FAULT_FIELDS[key]: value for key, value in entry.items()}
        try:
            return self.api.faults.schedule(**kwargs).to_json()
        except (ValueError, TypeError) as exc:
            raise invalid_input(str(exc)) from None

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.api.faults.clear()
        return web.Response(status=204)

    async def dump_state(self, request: web.Request) -> web.Response:
        return json_response(self.api.state.dump())

    async def get_requests(self, request: web.Request) -> web.Response:
        return json_response({"requests": [r.to_json() for r in list(self.api.log)]})

    async def clear_requests(self, request: web.Request) -> web.Response:
        self.api.log.clear()
        return web.Response(status=204)
