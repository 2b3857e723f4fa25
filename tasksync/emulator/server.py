"""``Emulator``: run the emulated Apify API in-process, on a real loopback socket.

    async with Emulator(EmulatorSettings(latency_ms=5)) as emu:
        emu.state.add_task(name="news", input={"q": 1})
        ...  # point a client at emu.url with emu.token
        assert [r.method for r in emu.requests] == [...]

The parts are reachable for tests: ``state`` (the data, with a Python API), ``settings``
(mutable; every request reads it), ``faults`` (scheduled faults), ``requests`` (the log).
``restart`` stops the server and serves again on the same port with all of them kept, as the
API going down and coming back in the middle of a run.
"""

from __future__ import annotations

import asyncio
import socket
from types import TracebackType

from aiohttp import web

from tasksync.emulator.bodies import MAX_PAYLOAD_BYTES
from tasksync.emulator.control import Control
from tasksync.emulator.faults import Faults
from tasksync.emulator.limits import RateLimits
from tasksync.emulator.log import RequestRecord
from tasksync.emulator.middleware import ApiMiddleware
from tasksync.emulator.routes import add_api_routes
from tasksync.emulator.settings import EmulatorSettings
from tasksync.emulator.state import EmulatorState
from tasksync.emulator.users import DEFAULT_USERNAME


class Emulator:
    """An in-memory Apify API server. Use as ``async with``; binds ``host`` on ``port``.

    ``port=0`` picks a free port. ``token`` fixes the default user's token (else random).
    """

    def __init__(
        self,
        settings: EmulatorSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
    ) -> None:
        self._settings = settings or EmulatorSettings()
        self.host = host
        self.port = port
        self.state = EmulatorState(self._settings, token=token)
        self.faults = Faults(self._settings)
        self.limits = RateLimits(self._settings)
        self.log: list[RequestRecord] = []
        self.middleware = ApiMiddleware(self.state, self.faults, self.limits, self.log)
        self._runner: web.AppRunner | None = None

    # -- what tests use ----------------------------------------------------------------------------

    @property
    def settings(self) -> EmulatorSettings:
        return self._settings

    @settings.setter
    def settings(self, value: EmulatorSettings) -> None:
        self._settings = value
        self.state.settings = self.faults.settings = self.limits.settings = value

    @property
    def url(self) -> str:
        """The base URL, without ``/v2``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def username(self) -> str:
        return DEFAULT_USERNAME

    @property
    def token(self) -> str:
        """The default user's token."""
        return self.state.user(DEFAULT_USERNAME).token

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        return list(self.log)

    def clear_requests(self) -> None:
        self.log.clear()

    def reset(self) -> None:
        """Back to the default users and Actors; no faults scheduled; an empty log; fresh rate
        limits."""
        self.state.reset()
        self.faults.clear()
        self.faults.reseed()
        self.limits.reset()
        self.log.clear()

    # -- running -----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        self.middleware.closing = asyncio.Event()
        app = web.Application(
            middlewares=[self.middleware.handle], client_max_size=MAX_PAYLOAD_BYTES
        )
        add_api_routes(app, self.state)
        Control(self.state, self.faults, self.log, self.reset).add_routes(app)
        # Bodies are decompressed by bodies.read_json_body, which enforces the size limit.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, auto_decompress=False)
        sock = _listen(self.host, self.port)
        try:
            await runner.setup()
            await web.SockSite(runner, sock, backlog=1024).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def close(self, *, abort: bool = False) -> None:
        """Stop serving. Requests in flight may finish, unless ``abort``: then every open
        connection is cut at once, as a crash would (a write in progress may still be applied,
        but no answer reaches the client)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            self.middleware.closing.set()  # stalled requests give up at once
            if abort and runner.server is not None:
                for site in runner.sites:  # first refuse new connections, then cut the open ones
                    await site.stop()
                for connection in runner.server.connections:
                    if connection.transport is not None:
                        connection.transport.abort()
            await runner.cleanup()

    async def restart(self, downtime: float = 0.0) -> None:
        """Crash and come back: cut every connection (``close(abort=True)``), refuse
        connections for ``downtime`` seconds, then serve again on the same port with the same
        state, settings, scheduled faults, rate limits and request log."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        await self.close(abort=True)
        if downtime > 0:
            await asyncio.sleep(downtime)
        await self.start()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock
