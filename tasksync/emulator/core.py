"""What every store of the state shares: one lock, a clock that never goes back, seeded IDs.

A store (``users.py``, ``actors.py``, ``tasks.py``, and the next resource's) takes the ``Core``
and keeps its own records; the ``Core`` keeps what must be common to all of them: IDs unique
across resources, timestamps that never repeat nor go back, and the lock that every store method
holds (tests may seed or inspect the state from another thread while the server runs on its own
event loop). The resource-name rule, the same for tasks and Actors, lives here too.
"""

from __future__ import annotations

import random
import re
import string
import threading
import time
from collections.abc import Callable
from typing import Any

from tasksync.emulator.errors import InvalidInput

JSON = Any

ID_ALPHABET = string.ascii_letters + string.digits
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{1,61}[a-zA-Z0-9]$")


def iso(ms: int) -> str:
    """``2018-10-26T13:30:49.578Z`` for milliseconds since the epoch."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def check_name(name: object) -> str:
    """A task's or an Actor's name under Apify's rules; ``InvalidInput`` otherwise."""
    if not isinstance(name, str):
        raise InvalidInput('Field "name" must be a string')
    if not 3 <= len(name) <= 63:
        raise InvalidInput(f'Field "name" must be 3 to 63 characters long (got {len(name)})')
    if not _NAME.match(name):
        raise InvalidInput(
            'Field "name" may contain only letters, digits and hyphens, '
            "and must start and end with a letter or digit"
        )
    return name


class Core:
    """The lock, the clock, the RNG and the IDs of one emulator's state."""

    def __init__(self, seed: int, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self._clock = clock
        self.reset(seed)

    def reset(self, seed: int) -> None:
        with self.lock:
            self.rng = random.Random(seed)
            """Draws IDs and secret nonces, so a seeded run can be repeated."""
            self._ids: set[str] = set()
            self._last_ms = 0

    def new_id(self) -> str:
        """A fresh 17-character ID, unique across every resource."""
        while True:
            candidate = "".join(self.rng.choices(ID_ALPHABET, k=17))
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

    def now_ms(self) -> int:
        """Milliseconds since the epoch; never goes backwards, even if the wall clock does."""
        self._last_ms = max(int(self._clock() * 1000), self._last_ms)
        return self._last_ms
