"""The request log: what the emulated API received and answered, for tests to assert on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = Any


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One API request as the emulator saw it. The token is never part of it."""

    method: str
    path: str
    query: dict[str, str]
    body: JSON
    """The parsed JSON body, or None (no body, or one that could not be parsed)."""
    status: int | None
    """The answer's status; None when the connection was dropped instead."""
    time: float
    """When the request arrived (seconds since the epoch)."""
    duration: float = 0.0
    """Seconds from arrival to the answer (or the drop), latency and stalls included."""
    fault: str | None = None
    """The injected fault kind, if any."""

    def to_json(self) -> dict[str, JSON]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "status": self.status,
            "time": self.time,
            "duration": self.duration,
            "fault": self.fault,
        }
