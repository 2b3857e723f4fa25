"""Actor tasks: what ``/v2/actor-tasks`` does with them, in plain Python (no HTTP).

Addressing by ID, ``username~name`` and ``~name``; the name rules and uniqueness; PUT semantics
(``options`` merged key by key or replaced, ``input`` replaced whole, ``/input`` merged); secret
inputs; timestamps strictly later on every write. Every refusal is an ``ApiError``.

Tasks are stored as the JSON objects the API returns, so a GET serializes the stored dict
directly. Nested values (``options``, ``input``...) are never changed in place: an update builds
new dicts, which makes it safe to share parsed request bodies with the request log. Methods
return the stored task: callers must not mutate it (``EmulatorState`` copies for tests).
"""

from __future__ import annotations

from collections.abc import Callable

from tasksync.emulator.actors import Actors
from tasksync.emulator.core import JSON, Core, iso
from tasksync.emulator.errors import (
    InvalidInput,
    InvalidRequest,
    NameNotUnique,
    TooManyTasks,
)
from tasksync.emulator.records import Record, Records
from tasksync.emulator.secret_inputs import SecretInputs
from tasksync.emulator.settings import EmulatorSettings
from tasksync.emulator.task_fields import check_task_fields, merged, without_nulls
from tasksync.emulator.users import User, Users

Task = Record


class ActorTasks(Records):
    """Every task, by ID, by owner, and by (owner ID, name)."""

    kind = "Actor task"

    def __init__(
        self,
        core: Core,
        users: Users,
        actors: Actors,
        secrets: SecretInputs,
        settings: Callable[[], EmulatorSettings],
    ) -> None:
        super().__init__(core, users)
        self._actors = actors
        self._secrets = secrets
        self._settings = settings

    # -- the API's operations ------------------------------------------------------------------

    def _short(self, task: Task) -> Task:
        actor = self._actors.by_id(task["actId"])
        return {
            "id": task["id"],
            "userId": task["userId"],
            "actId": task["actId"],
            "actName": actor.name,
            "name": task["name"],
            "username": task["username"],
            "actUsername": actor.username,
            "createdAt": task["createdAt"],
            "modifiedAt": task["modifiedAt"],
            "stats": task["stats"],
        }

    def create(self, user: User, body: JSON, *, name_rules: bool = True) -> Task:
        """``POST /v2/actor-tasks``."""
        if not isinstance(body, dict):
            raise InvalidRequest("POST data must be a JSON object")
        act_ref = body.get("actId")
        if act_ref is None:
            raise InvalidInput('Field "actId" is required')
        if not isinstance(act_ref, str):
            raise InvalidInput('Field "actId" must be a string')
        fields = check_task_fields(body, name_rules=name_rules)
        with self._core.lock:
            actor = self._actors.resolve(act_ref, user)
            limit = self._settings().max_tasks_per_user
            if limit is not None and len(self._by_user.get(user.id, {})) >= limit:
                raise TooManyTasks(limit)
            base = (actor.name + "-task")[:58].rstrip("-")
            name = fields.get("name") or self._free_name(user, base)
            if (user.id, name) in self._by_name:
                raise NameNotUnique(name)
            now = self._core.now_ms()
            stamp = iso(now)
            raw_input = fields.get("input")
            task: Task = {
                "id": self._core.new_id(),
                "userId": user.id,
                "actId": actor.id,
                "name": name,
                "username": user.username,
                "createdAt": stamp,
                "modifiedAt": stamp,
                "removedAt": None,
                "stats": {"totalRuns": 0},
                "options": without_nulls(fields.get("options")),
                "input": self._secrets.protect(
                    actor.id, actor.secret_keys, raw_input if raw_input is not None else {}
                ),
                "title": fields.get("title"),
                "description": fields.get("description"),
                "actorStandby": without_nulls(fields.get("actorStandby")),
                "standbyUrl": None,
            }
            self._add(task, now)
            return task

    def get(self, user: User | None, ref: str) -> Task:
        """``GET /v2/actor-tasks/{ref}``."""
        with self._core.lock:
            return self.resolve(ref, user)

    def update(self, user: User | None, ref: str, body: JSON) -> Task:
        """``PUT /v2/actor-tasks/{ref}``: apply the body, return the stored task.

        Absent fields are untouched; read-only and unknown fields are ignored; ``options`` and
        ``actorStandby`` are merged key by key (``None`` clears a key) unless the settings say
        ``options_semantics="replace"``; ``input`` is replaced whole.
        """
        if not isinstance(body, dict):
            raise InvalidRequest("PUT data must be a JSON object")
        fields = check_task_fields(body)
        with self._core.lock:
            task = self.resolve(ref, user)
            changes = self._changes(task, fields)
            if "name" in changes:
                self._rename(task, changes["name"])
            task.update(changes)
            self._touch(task)
            return task

    def _changes(self, task: Task, fields: dict[str, JSON]) -> dict[str, JSON]:
        """The new values of ``task``'s fields that a PUT with ``fields`` sets."""
        changes: dict[str, JSON] = {}
        name = fields.get("name")
        if name is not None and name != task["name"]:
            if (task["userId"], name) in self._by_name:
                raise NameNotUnique(name)
            changes["name"] = name
        if "options" in fields:
            patch = fields["options"]
            if patch is None:
                changes["options"] = None
            elif self._settings().options_semantics == "replace":
                changes["options"] = without_nulls(patch)
            else:
                changes["options"] = merged(task["options"], patch)
        if "actorStandby" in fields:
            patch = fields["actorStandby"]
            changes["actorStandby"] = None if patch is None else merged(task["actorStandby"], patch)
        if "input" in fields:
            value = fields["input"]
            changes["input"] = self._protect(task, value if value is not None else {})
        for key in ("title", "description"):
            if key in fields:
                changes[key] = fields[key]
        return changes

    def delete(self, user: User, ref: str) -> None:
        """``DELETE /v2/actor-tasks/{ref}``."""
        self._remove(ref, user)

    def get_input(self, user: User, ref: str) -> JSON:
        """``GET /v2/actor-tasks/{ref}/input``."""
        with self._core.lock:
            return self.resolve(ref, user)["input"]

    def update_input(self, user: User | None, ref: str, body: JSON) -> JSON:
        """``PUT /v2/actor-tasks/{ref}/input``: shallow merge into the stored input."""
        if not isinstance(body, dict):
            raise InvalidInput("The input must be a JSON object")
        with self._core.lock:
            task = self.resolve(ref, user)
            old = task["input"]
            task["input"] = self._protect(task, {**(old if isinstance(old, dict) else {}), **body})
            self._touch(task)
            return task["input"]

    # -- helpers -------------------------------------------------------------------------------

    def _protect(self, task: Task, value: JSON) -> JSON:
        actor = self._actors.by_id(task["actId"])
        return self._secrets.protect(actor.id, actor.secret_keys, value)
