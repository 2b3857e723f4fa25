"""The emulated API's routes: parse the request, call the state, serialize the answer.

Each resource is one class: its routes (``table``) and its handlers, which read what the
middleware left on the request (user, body), call one store of the state, and answer with
``answer`` (which renders JavaScript numbers when the settings say so). Everything common to the
API (faults, auth, limits, the log, body reading) is the middleware's job, not theirs.
A new resource is a new class here (or in its own module), listed in ``API_ROUTES``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple

from aiohttp import web

from tasksync.emulator.errors import (
    InsufficientPermissions,
    InvalidInput,
    InvalidParameter,
    TokenNotProvided,
)
from tasksync.emulator.middleware import BODY, BODY_ERROR, USER
from tasksync.emulator.responses import js_numbers, json_response
from tasksync.emulator.state import EmulatorState
from tasksync.emulator.users import User

JSON = Any


class Route(NamedTuple):
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- query parameters ----------------------------------------------------------------------------


def int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value.is_integer() or value < 0:
        raise InvalidParameter(f'Parameter "{name}" must be a non-negative integer')
    return int(value)


def bool_param(query: Mapping[str, str], name: str) -> bool:
    raw = query.get(name, "").lower()
    if raw in ("", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise InvalidParameter(f'Parameter "{name}" must be true, false, 1 or 0')


# -- what every resource's handlers share --------------------------------------------------------


class Resource:
    """Handlers of one resource; subclasses list their routes in ``table``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def table(self) -> list[Route]:
        raise NotImplementedError

    def answer(
        self, data: JSON, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        """A JSON answer, with JavaScript numbers when ``settings.js_numbers`` is on."""
        if self.state.settings.js_numbers:
            data = js_numbers(data)
        return json_response(data, status, headers)

    @staticmethod
    def user(request: web.Request) -> User:
        user: User | None = request.get(USER)
        if user is None:
            raise TokenNotProvided()
        return user

    def writer(self, request: web.Request) -> User:
        user = self.user(request)
        if user.read_only:
            raise InsufficientPermissions()
        return user

    @staticmethod
    def body(request: web.Request) -> JSON:
        error = request.get(BODY_ERROR)
        if error is not None:
            raise error
        return request.get(BODY)


# -- the resources -------------------------------------------------------------------------------


class Collection(Resource):
    """A collection the API lists, creates in, and reads, updates and deletes by ID or
    ``username~name``: the same handlers for every such resource, over its own store."""

    base = ""

    def store(self) -> Any:
        raise NotImplementedError

    def table(self) -> list[Route]:
        return [
            Route("GET", self.base, self.page),
            Route("POST", self.base, self.create),
            Route("GET", self.base + "/{ref}", self.get),
            Route("PUT", self.base + "/{ref}", self.update),
            Route("DELETE", self.base + "/{ref}", self.delete),
        ]

    async def page(self, request: web.Request) -> web.Response:
        query = request.query
        page = self.store().page(
            self.user(request),
            offset=int_param(query, "offset", 0),
            limit=int_param(query, "limit", 0),
            desc=bool_param(query, "desc"),
        )
        return self.answer({"data": page})

    async def create(self, request: web.Request) -> web.Response:
        created = self.store().create(self.writer(request), self.body(request))
        location = f"{request.scheme}://{request.host}{self.base}/{created['id']}"
        return self.answer({"data": created}, 201, {"Location": location})

    async def get(self, request: web.Request) -> web.Response:
        found = self.store().get(self.user(request), request.match_info["ref"])
        return self.answer({"data": found})

    async def update(self, request: web.Request) -> web.Response:
        user = self.writer(request)
        ref = request.match_info["ref"]
        return self.answer({"data": self.store().update(user, ref, self.body(request))})

    async def delete(self, request: web.Request) -> web.Response:
        self.store().delete(self.writer(request), request.match_info["ref"])
        return web.Response(status=204)


class ActorTaskRoutes(Collection):
    """``/v2/actor-tasks``, and each task's ``/input``."""

    base = "/v2/actor-tasks"

    def store(self) -> Any:
        return self.state.actor_tasks

    def table(self) -> list[Route]:
        return [
            *super().table(),
            Route("GET", self.base + "/{ref}/input", self.get_input),
            Route("PUT", self.base + "/{ref}/input", self.update_input),
        ]

    async def get_input(self, request: web.Request) -> web.Response:
        ref = request.match_info["ref"]
        return self.answer(self.state.actor_tasks.get_input(self.user(request), ref))

    async def update_input(self, request: web.Request) -> web.Response:
        user = self.writer(request)
        ref = request.match_info["ref"]
        return self.answer(self.state.actor_tasks.update_input(user, ref, self.body(request)))


class ActorRoutes(Resource):
    """``/v2/actors`` and its deprecated twin ``/v2/acts``, and ``/v2/actor-builds``: what
    tasks need of an Actor (its builds, their input schemas, input validation)."""

    def table(self) -> list[Route]:
        routes = []
        for base in ("/v2/actors", "/v2/acts"):
            routes += [
                Route("GET", base + "/{ref}", self.get),
                Route("GET", base + "/{ref}/builds/default", self.default_build),
                Route("POST", base + "/{ref}/validate-input", self.validate_input),
            ]
        return [*routes, Route("GET", "/v2/actor-builds/{id}", self.get_build)]

    async def get(self, request: web.Request) -> web.Response:
        actor = self.state.actors.resolve(request.match_info["ref"], request.get(USER))
        return self.answer({"data": actor.to_json()})

    async def default_build(self, request: web.Request) -> web.Response:
        actor = self.state.actors.resolve(request.match_info["ref"], request.get(USER))
        return self.answer({"data": actor.build(None).to_json()})

    async def get_build(self, request: web.Request) -> web.Response:
        build = self.state.actors.build(request.match_info["id"], request.get(USER))
        return self.answer({"data": build.to_json()})

    async def validate_input(self, request: web.Request) -> web.Response:
        actor = self.state.actors.resolve(request.match_info["ref"], request.get(USER))
        body = self.body(request)
        if not isinstance(body, dict):
            raise InvalidInput("The input must be a JSON object")
        actor.build(request.query.get("build")).validate(body)
        return self.answer({"valid": True})


class ScheduleRoutes(Collection):
    """``/v2/schedules``, and each schedule's ``/log``."""

    base = "/v2/schedules"

    def store(self) -> Any:
        return self.state.schedules

    def table(self) -> list[Route]:
        return [*super().table(), Route("GET", self.base + "/{ref}/log", self.log)]

    async def log(self, request: web.Request) -> web.Response:
        """The schedule's invocations: none, since the emulator never runs anything."""
        self.state.schedules.get(self.user(request), request.match_info["ref"])
        return self.answer({"data": []})


class UserRoutes(Resource):
    """``/v2/users/me``."""

    def table(self) -> list[Route]:
        return [Route("GET", "/v2/users/me", self.me)]

    async def me(self, request: web.Request) -> web.Response:
        return self.answer({"data": self.user(request).to_json()})


API_ROUTES: tuple[type[Resource], ...] = (ActorTaskRoutes, ActorRoutes, ScheduleRoutes, UserRoutes)
"""Every resource of the emulated API."""


def add_api_routes(app: web.Application, state: EmulatorState) -> None:
    for resource in API_ROUTES:
        for route in resource(state).table():
            app.router.add_route(route.method, route.path, route.handler)
