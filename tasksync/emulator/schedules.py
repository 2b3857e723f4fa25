"""Schedules: what ``/v2/schedules`` does with them, in plain Python (no HTTP).

Addressing by ID, ``username~name`` and ``~name``, as for tasks; names unique per owner (409
``schedule-name-not-unique``); the defaults of a created schedule (``timezone`` UTC, enabled, not
exclusive); actions whose task or Actor reference is resolved to an ID when stored (404
``schedule-actor-task-not-found`` / ``schedule-actor-not-found``) and get an ``id`` of their own;
``nextRunAt`` computed from the cron expression in the schedule's time zone (null while
disabled); ``modifiedAt`` moved, strictly later, only by a write that changes something.

PUT changes only the fields the body has; ``actions`` is replaced whole, or merged by action ID
when ``EmulatorSettings.actions_semantics`` is ``"merge"`` (the API does not say which). Like
``tasks.py``, methods return the stored schedule: callers must not mutate it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tasksync import cron
from tasksync.emulator.actors import Actors
from tasksync.emulator.core import JSON, Core, iso
from tasksync.emulator.errors import (
    InvalidInput,
    InvalidRequest,
    RecordNotFound,
    ScheduleActorNotFound,
    ScheduleActorTaskNotFound,
    ScheduleNameNotUnique,
)
from tasksync.emulator.records import Record, Records
from tasksync.emulator.schedule_fields import RUN_TASK, check_schedule_fields
from tasksync.emulator.settings import EmulatorSettings
from tasksync.emulator.tasks import ActorTasks
from tasksync.emulator.users import User, Users

Schedule = Record

_LIST_KEYS = (
    "id",
    "userId",
    "name",
    "username",
    "cronExpression",
    "timezone",
    "isEnabled",
    "isExclusive",
    "createdAt",
    "modifiedAt",
    "nextRunAt",
    "lastRunAt",
)


class Schedules(Records):
    """Every schedule, by ID, by owner, and by (owner ID, name)."""

    kind = "Schedule"

    def __init__(
        self,
        core: Core,
        users: Users,
        actors: Actors,
        tasks: ActorTasks,
        settings: Callable[[], EmulatorSettings],
    ) -> None:
        super().__init__(core, users)
        self._actors = actors
        self._tasks = tasks
        self._settings = settings

    # -- the API's operations ------------------------------------------------------------------

    def _short(self, schedule: Schedule) -> Schedule:
        item = {key: schedule[key] for key in _LIST_KEYS}
        item["nextRunAt"] = self._next_run(schedule)
        item["actions"] = [
            {k: a[k] for k in ("id", "type", "actorTaskId", "actorId") if k in a}
            for a in schedule["actions"]
        ]
        return item

    def create(self, user: User, body: JSON) -> Schedule:
        """``POST /v2/schedules``."""
        if not isinstance(body, dict):
            raise InvalidRequest("POST data must be a JSON object")
        fields = check_schedule_fields(body)
        if "cronExpression" not in fields:
            raise InvalidInput('Field "cronExpression" is required')
        with self._core.lock:
            name = fields.get("name") or self._free_name(user, "my-schedule")
            if (user.id, name) in self._by_name:
                raise ScheduleNameNotUnique(name)
            actions = self._actions(user, fields.get("actions") or [], [])
            now = self._core.now_ms()
            schedule: Schedule = {
                "id": self._core.new_id(),
                "userId": user.id,
                "name": name,
                "username": user.username,
                "title": fields.get("title"),
                "description": fields.get("description"),
                "cronExpression": fields["cronExpression"],
                "timezone": fields.get("timezone") or "UTC",
                "isEnabled": fields.get("isEnabled", True),
                "isExclusive": fields.get("isExclusive", False),
                "notifications": fields.get("notifications") or {"email": True},
                "actions": actions,
                "createdAt": iso(now),
                "modifiedAt": iso(now),
                "nextRunAt": None,
                "lastRunAt": None,
            }
            schedule["nextRunAt"] = self._next_run(schedule, force=True)
            self._add(schedule, now)
            return schedule

    def get(self, user: User | None, ref: str) -> Schedule:
        """``GET /v2/schedules/{ref}``."""
        with self._core.lock:
            schedule = self.resolve(ref, user)
            schedule["nextRunAt"] = self._next_run(schedule)
            return schedule

    def update(self, user: User | None, ref: str, body: JSON) -> Schedule:
        """``PUT /v2/schedules/{ref}``: apply the body, return the stored schedule."""
        if not isinstance(body, dict):
            raise InvalidRequest("PUT data must be a JSON object")
        fields = check_schedule_fields(body)
        with self._core.lock:
            schedule = self.resolve(ref, user)
            owner = user or next(u for u in self._users if u.id == schedule["userId"])
            changes = self._changes(owner, schedule, fields)
            if not changes:
                return schedule
            if "name" in changes:
                self._rename(schedule, changes["name"])
            schedule.update(changes)
            schedule["nextRunAt"] = self._next_run(schedule, force=True)
            self._touch(schedule)
            return schedule

    def _changes(self, owner: User, schedule: Schedule, fields: dict[str, JSON]) -> Schedule:
        """The fields whose values a PUT with ``fields`` changes."""
        wanted = dict(fields)
        name = wanted.pop("name", None)
        if name is not None and name != schedule["name"]:
            if (schedule["userId"], name) in self._by_name:
                raise ScheduleNameNotUnique(name)
            wanted["name"] = name
        if "actions" in wanted:
            wanted["actions"] = self._actions(owner, wanted["actions"] or [], schedule["actions"])
        if wanted.get("timezone", "") is None:
            wanted["timezone"] = "UTC"
        return {k: v for k, v in wanted.items() if schedule.get(k) != v}

    def delete(self, user: User, ref: str) -> None:
        """``DELETE /v2/schedules/{ref}``."""
        self._remove(ref, user)

    # -- helpers -------------------------------------------------------------------------------

    def _actions(self, user: User, given: list[JSON], stored: list[JSON]) -> list[JSON]:
        """The actions to store: references resolved to IDs, each with an ``id``. Merged into
        ``stored`` by action ID when the settings say so."""
        by_id = {a["id"]: a for a in stored}
        out: list[JSON] = []
        for action in given:
            action_id = action.get("id")
            kept = by_id.get(action_id) if isinstance(action_id, str) else None
            resolved = dict(action)
            resolved["id"] = kept["id"] if kept is not None else self._core.new_id()
            if action["type"] == RUN_TASK:
                ref = action["actorTaskId"]
                task = self._tasks.find(ref, user)
                if task is None:
                    raise ScheduleActorTaskNotFound(ref)
                resolved["actorTaskId"] = task["id"]
            else:
                ref = action["actorId"]
                try:
                    actor = self._actors.resolve(ref, user)
                except RecordNotFound:
                    raise ScheduleActorNotFound(ref) from None
                resolved["actorId"] = actor.id
            out.append({k: v for k, v in resolved.items() if v is not None})
        if self._settings().actions_semantics == "merge":
            listed = {a["id"] for a in out}
            out = [a for a in stored if a["id"] not in listed] + out
        return out

    def _next_run(self, schedule: Schedule, force: bool = False) -> str | None:
        """``nextRunAt``: the stored one while it is in the future, else computed afresh."""
        if not schedule["isEnabled"]:
            return None
        now = self._core.now_ms()
        stored = schedule.get("nextRunAt")
        if not force and isinstance(stored, str) and stored > iso(now):
            return stored
        moment = datetime.fromtimestamp(now / 1000, UTC)
        when = cron.parse(schedule["cronExpression"]).next_after(moment, schedule["timezone"])
        return None if when is None else iso(int(when.timestamp() * 1000))
