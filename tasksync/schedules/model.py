"""What a ``schedules:`` entry of the file says, as frozen values (see ``tasksync.model``).

A schedule's payload keeps the file's shape of an Actor action's input (``runInput`` is the
input object itself) so that values from the environment can be sealed by pointer in saved
plans; ``api_action`` turns it into the API's ``{body: JSON text, contentType}`` when sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from tasksync.model import JSON, Location, TaskRef

SCHEDULE_FIELDS = (
    "title",
    "description",
    "cronExpression",
    "timezone",
    "isEnabled",
    "isExclusive",
    "notifications",
)
"""Top-level schedule fields a file can manage besides ``actions``, in the order shown."""

CREATE_DEFAULTS: Mapping[str, JSON] = {"timezone": "UTC", "isEnabled": True, "isExclusive": False}
"""What a created schedule gets for the fields its entry leaves out (and only then)."""

RUN_TASK = "RUN_ACTOR_TASK"
RUN_ACTOR = "RUN_ACTOR"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action: a task to run (``task``) or an Actor (``actor``); ``input`` and ``options``
    are None when the file does not give them."""

    task: TaskRef | None = None
    actor: str | None = None
    input: JSON = None
    options: Mapping[str, JSON] | None = None


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """The desired state of one schedule. ``desired`` holds only the fields of
    ``SCHEDULE_FIELDS`` the entry mentions; ``actions`` is None when it does not mention them.
    ``sensitive`` and ``env_refs`` are JSON Pointers into the change's payload
    (``/actions/0/input/apiKey``)."""

    ref: TaskRef
    desired: Mapping[str, JSON]
    actions: tuple[ActionSpec, ...] | None = None
    sensitive: frozenset[str] = frozenset()
    env_refs: Mapping[str, str] = field(default_factory=dict)
    location: Location | None = None

    @property
    def key(self) -> str:
        return self.ref.text


def api_action(action: Mapping[str, JSON]) -> dict[str, JSON]:
    """A payload action as the API takes it: an Actor's input as JSON text."""
    out = dict(action)
    if out.get("type") == RUN_ACTOR and "runInput" in out:
        out["runInput"] = {
            "body": json.dumps(out["runInput"], ensure_ascii=False),
            "contentType": JSON_CONTENT_TYPE,
        }
    return out
