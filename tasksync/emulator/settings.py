"""How the emulator behaves: latency, faults, rate limits, PUT semantics, numbers, the request log.

One mutable ``EmulatorSettings`` object is shared by every part of a running emulator, so a test
can change a field between two steps (``emu.settings.error_rate = 0.1``) and the next request sees
it. Values are checked when the object is built and by ``update`` (which the control plane uses);
plain attribute assignment is trusted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

OptionsSemantics = Literal["merge", "replace"]
ActionsSemantics = Literal["replace", "merge"]

_RATES = ("error_rate", "drop_before_rate", "drop_after_rate", "stall_rate")


@dataclass
class EmulatorSettings:
    """Knobs of one emulator. Rates are probabilities per API request, drawn from a seeded RNG."""

    latency_ms: float = 0.0
    """Added to every API request (not the control plane)."""
    latency_jitter_ms: float = 0.0
    """A uniform random extra in ``[0, latency_jitter_ms]`` on top of ``latency_ms``."""
    options_semantics: OptionsSemantics = "merge"
    """How ``PUT /v2/actor-tasks/{id}`` treats ``options``: merged key by key, or replaced whole."""
    actions_semantics: ActionsSemantics = "replace"
    """How ``PUT /v2/schedules/{id}`` treats ``actions``: replaced whole, or merged by action
    ``id`` (listed actions updated or added, the others kept)."""
    per_resource_rps: float | None = 60.0
    """Requests per second per (user, resource); ``None`` or 0 turns the limit off."""
    global_rps: float | None = None
    """Requests per second per user over all resources; ``None`` or 0 turns the limit off."""
    retry_after_seconds: float | None = None
    """When set, 429 answers from the rate limiter carry ``Retry-After`` (Apify sends none)."""
    max_tasks_per_user: int | None = None
    """Apify's limit is 5000 (403 ``too-many-actor-tasks``); off by default for benchmarks."""
    js_numbers: bool = True
    """Answer as a JavaScript server does: an integral float (``5.0``) is rendered ``5``. On by
    default, because Apify's API is a Node.js service; off answers a float as it was sent."""
    log_requests: bool = True
    seed: int = 0
    """Seeds the fault RNG and the ID generator, so a run can be repeated."""
    error_rate: float = 0.0
    """Chance of an answer 500, 502 or 503 instead of doing the request."""
    drop_before_rate: float = 0.0
    """Chance of closing the connection without doing the request."""
    drop_after_rate: float = 0.0
    """Chance of doing the request, then closing the connection without answering."""
    stall_rate: float = 0.0
    """Chance of waiting ``stall_seconds`` before doing the request."""
    stall_seconds: float = 30.0

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ``ValueError`` naming the first field that does not make sense."""
        if self.options_semantics not in ("merge", "replace"):
            raise ValueError("options_semantics must be 'merge' or 'replace'")
        if self.actions_semantics not in ("merge", "replace"):
            raise ValueError("actions_semantics must be 'merge' or 'replace'")
        for name in ("latency_ms", "latency_jitter_ms", "stall_seconds", *_RATES):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
        for name in ("per_resource_rps", "global_rps", "retry_after_seconds"):
            value = getattr(self, name)
            if value is not None and (not _is_number(value) or value < 0):
                raise ValueError(f"{name} must be a number >= 0 or null")
        limit = self.max_tasks_per_user
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            raise ValueError("max_tasks_per_user must be an integer or null")
        if sum(getattr(self, name) for name in _RATES) > 1:
            raise ValueError("the fault rates add up to more than 1")
        for name in ("js_numbers", "log_requests"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a boolean")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError("seed must be an integer")

    def update(self, changes: dict[str, Any]) -> None:
        """Set several fields at once; nothing changes if any of them is unknown or invalid."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        candidate = dataclasses.replace(self, **changes)  # runs check()
        for name in changes:
            setattr(self, name, getattr(candidate, name))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
