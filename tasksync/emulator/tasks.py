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

from collections.abc import Callable, Iterator
from itertools import islice

from tasksync.emulator.actors import Actors
from tasksync.emulator.core import JSON, Core, iso
from tasksync.emulator.errors import (
    InvalidInput,
    InvalidRequest,
    NameNotUnique,
    RecordNotFound,
    TooManyTasks,
)
from tasksync.emulator.secret_inputs import SecretInputs
from tasksync.emulator.settings import EmulatorSettings
from tasksync.emulator.task_fields import check_task_fields, merged, without_nulls
from tasksync.emulator.users import DEFAULT_USERNAME, User, Users

MAX_PAGE = 1000

Task = dict[str, JSON]


class ActorTasks:
    """Every task, by ID, by owner, and by (owner ID, name)."""

    def __init__(
        self,
        core: Core,
        users: Users,
        actors: Actors,
        secrets: SecretInputs,
        settings: Callable[[], EmulatorSettings],
    ) -> None:
        self._core = core
        self._users = users
        self._actors = actors
        self._secrets = secrets
        self._settings = settings
        self.clear()

    def clear(self) -> None:
        self._by_id: dict[str, Task] = {}
        self._by_user: dict[str, dict[str, Task]] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._mtimes: dict[str, int] = {}

    def __iter__(self) -> Iterator[Task]:
        """Every stored task, oldest first."""
        return iter(list(self._by_id.values()))

    def of(self, user: User) -> list[Task]:
        """``user``'s stored tasks, oldest first."""
        return list(self._by_user.get(user.id, {}).values())

    # -- lookups -------------------------------------------------------------------------------

    def resolve(self, ref: str, user: User | None) -> Task:
        """The stored task for an ID, ``username~name`` or ``~name`` that ``user`` may see.

        ``user`` is None for the Python API: every task is visible and ``~name`` means the
        default user's task.
        """
        task: Task | None
        if "~" in ref:
            owner_name, _, name = ref.partition("~")
            if owner_name:
                owner = self._users.find(owner_name)
            else:
                owner = user or self._users.find(DEFAULT_USERNAME)
            task_id = self._by_name.get((owner.id, name)) if owner is not None else None
            task = self._by_id.get(task_id) if task_id is not None else None
        else:
            task = self._by_id.get(ref)
        if task is None or (user is not None and task["userId"] != user.id):
            raise RecordNotFound("Actor task")
        return task

    def find(self, ref: str, user: User | None = None) -> Task | None:
        """``resolve``, but None instead of a 404."""
        with self._core.lock:
            try:
                return self.resolve(ref, user)
            except RecordNotFound:
                return None

    # -- the API's operations ------------------------------------------------------------------

    def page(self, user: User, *, offset: int = 0, limit: int = 0, desc: bool = False) -> JSON:
        """``GET /v2/actor-tasks``: the ``ListOfTasks`` page of ``user``'s tasks."""
        limit = MAX_PAGE if limit <= 0 else min(limit, MAX_PAGE)
        with self._core.lock:
            own = self._by_user.get(user.id, {})
            ordered = reversed(own.values()) if desc else iter(own.values())
            items = [self._short(t) for t in islice(ordered, offset, offset + limit)]
            total = len(own)
        return {
            "total": total,
            "offset": offset,
            "limit": limit,
            "count": len(items),
            "desc": desc,
            "items": items,
        }

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
            own = self._by_user.setdefault(user.id, {})
            limit = self._settings().max_tasks_per_user
            if limit is not None and len(own) >= limit:
                raise TooManyTasks(limit)
            name = fields.get("name") or self._free_name(user, actor.name + "-task")
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
            self._by_id[task["id"]] = own[task["id"]] = task
            self._by_name[(user.id, name)] = task["id"]
            self._mtimes[task["id"]] = now
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
                del self._by_name[(task["userId"], task["name"])]
                self._by_name[(task["userId"], changes["name"])] = task["id"]
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
        with self._core.lock:
            task = self.resolve(ref, user)
            del self._by_id[task["id"]]
            del self._by_user[task["userId"]][task["id"]]
            del self._by_name[(task["userId"], task["name"])]
            del self._mtimes[task["id"]]

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

    def _free_name(self, user: User, base: str) -> str:
        base = base[:58].rstrip("-")
        name, n = base, 1
        while (user.id, name) in self._by_name:
            n += 1
            name = f"{base}-{n}"
        return name

    def _touch(self, task: Task) -> None:
        # Strictly later than the previous write of this task, even within one millisecond.
        ms = max(self._core.now_ms(), self._mtimes[task["id"]] + 1)
        self._mtimes[task["id"]] = ms
        task["modifiedAt"] = iso(ms)
