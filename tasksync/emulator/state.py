"""``EmulatorState``: the emulator's data and rules, in plain Python (no HTTP here).

It puts the stores together (``users.py``, ``actors.py``, ``tasks.py``, all sharing one
``core.Core``) and offers the Python API tests use to seed and inspect them: ``add_task``,
``get_task``, ``tasks``... Those return deep copies, so a test cannot change the state by
accident. The HTTP layer uses the stores directly (``state.actor_tasks.update(...)``).

A new resource (schedules, say) is a new store module whose class takes the ``Core`` and the
stores it refers to; it is built in ``__init__`` here (and put in ``_stores``, which ``reset``
clears), and gets its routes in ``routes.py``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping

from tasksync.emulator import fixtures
from tasksync.emulator.actors import DEFAULT_ACTOR, Actors
from tasksync.emulator.core import JSON, Core, iso
from tasksync.emulator.schedules import Schedules
from tasksync.emulator.secret_inputs import ENCRYPTED_PREFIX, SecretInputs
from tasksync.emulator.settings import EmulatorSettings
from tasksync.emulator.tasks import ActorTasks
from tasksync.emulator.users import DEFAULT_USERNAME, User, Users

__all__ = ["ENCRYPTED_PREFIX", "EmulatorState", "User", "iso"]


class EmulatorState:
    """Users, Actors and tasks of one emulator, with the API's rules."""

    def __init__(
        self,
        settings: EmulatorSettings | None = None,
        *,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or EmulatorSettings()
        self._tokens: dict[str, str] = {}
        """The default users' tokens, kept across resets."""
        if token is not None:
            self._tokens[DEFAULT_USERNAME] = token
        self.core = Core(self.settings.seed, clock)
        self.users = Users(self.core)
        self.actors = Actors(self.core, self.users)
        self.secrets = SecretInputs(self.core)
        self.actor_tasks = ActorTasks(
            self.core, self.users, self.actors, self.secrets, lambda: self.settings
        )
        self.schedules = Schedules(
            self.core, self.users, self.actors, self.actor_tasks, lambda: self.settings
        )
        self._stores = (self.users, self.actors, self.secrets, self.actor_tasks, self.schedules)
        self.reset()

    def reset(self) -> None:
        """Forget everything, then seed the default users and Actors (same tokens as before)."""
        with self.core.lock:
            self.core.reset(self.settings.seed)
            for store in self._stores:
                store.clear()
            fixtures.seed_defaults(self.users, self.actors, self._tokens)

    # -- seeding ---------------------------------------------------------------------------------

    def add_user(self, username: str, token: str | None = None, read_only: bool = False) -> User:
        """Add a user (a random token when none is given); ``read_only`` users cannot write."""
        return self.users.add(username, token, read_only)

    def add_actor(
        self,
        username: str,
        name: str,
        secret_input_keys: Iterable[str] = (),
        *,
        is_public: bool | None = None,
        input_schema: Mapping[str, JSON] | None = None,
    ) -> dict[str, JSON]:
        """Add an Actor owned by ``username``; public by default when the owner is ``apify``.
        Its ``latest`` build has ``input_schema`` (none: it accepts any input)."""
        schema = copy.deepcopy(dict(input_schema)) if input_schema is not None else None
        actor = self.actors.add(
            username, name, secret_input_keys, is_public=is_public, input_schema=schema
        )
        return actor.to_json()

    def add_build(
        self,
        actor: str,
        tag: str,
        input_schema: Mapping[str, JSON] | None = None,
        build_number: str | None = None,
    ) -> dict[str, JSON]:
        """A new build of ``actor`` (ID or ``username~name``) tagged ``tag``; the Build object."""
        found = self.actors.find(actor)
        if found is None:
            raise KeyError(f"no Actor {actor}")
        schema = copy.deepcopy(dict(input_schema)) if input_schema is not None else None
        return self.actors.add_build(found, tag, schema, build_number).to_json()

    def add_task(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        actor: str = DEFAULT_ACTOR,
        name: str | None = None,
        options: Mapping[str, JSON] | None = None,
        input: JSON = None,
        title: str | None = None,
        description: str | None = None,
        actor_standby: Mapping[str, JSON] | None = None,
    ) -> dict[str, JSON]:
        """Create a task as ``username`` would with ``POST /v2/actor-tasks``; a copy of it."""
        body: dict[str, JSON] = {
            "actId": actor,
            "options": dict(options) if options is not None else None,
            "input": input,
            "title": title,
            "description": description,
        }
        if name is not None:
            body["name"] = name
        if actor_standby is not None:
            body["actorStandby"] = dict(actor_standby)
        with self.core.lock:
            task = self.actor_tasks.create(self.user(username), body, name_rules=False)
            return copy.deepcopy(task)

    def load_seed(self, doc: JSON) -> dict[str, int]:
        """Apply a seed document ``{users: [...], actors: [...], tasks: [...]}``; counts added.

        Raises ``ValueError`` naming the bad entry. Task values are stored without a copy:
        do not change the document afterwards.
        """
        with self.core.lock:
            return fixtures.load_seed(doc, self.users, self.actors, self.actor_tasks)

    # -- lookups ---------------------------------------------------------------------------------

    def user(self, username: str) -> User:
        """The user called ``username``; ``KeyError`` when there is none."""
        return self.users.named(username)

    def user_by_token(self, token: str) -> User | None:
        return self.users.by_token(token)

    def task_id(self, ref: str, user: User | None) -> str | None:
        """The ID of the task ``ref`` names, if ``user`` may see it (for rate-limit keys)."""
        task = self.actor_tasks.find(ref, user)
        return None if task is None else str(task["id"])

    def get_task(self, ref: str) -> dict[str, JSON] | None:
        """A copy of the task with this ID or ``username~name`` (``~name``: the default user's)."""
        with self.core.lock:
            return copy.deepcopy(self.actor_tasks.find(ref))

    def get_actor(self, ref: str) -> dict[str, JSON] | None:
        """The Actor with this ID or ``username~name``, as the API shows it."""
        actor = self.actors.find(ref)
        return actor.to_json() if actor is not None else None

    def tasks(self, username: str | None = None) -> list[dict[str, JSON]]:
        """Copies of every task (of one user, when given), oldest first."""
        with self.core.lock:
            if username is None:
                return copy.deepcopy(list(self.actor_tasks))
            return copy.deepcopy(self.actor_tasks.of(self.user(username)))

    def update_task(self, ref: str, body: Mapping[str, JSON]) -> dict[str, JSON]:
        """A PUT as the task's owner (e.g. an edit "in the Console"); a copy of the result."""
        with self.core.lock:
            return copy.deepcopy(self.actor_tasks.update(None, ref, dict(body)))

    def delete_task(self, ref: str) -> None:
        """A DELETE as the task's owner (e.g. "in the Console")."""
        task = self.get_task(ref)
        if task is None:
            raise KeyError(ref)
        with self.core.lock:
            self.actor_tasks.delete(self.user(str(task["username"])), str(task["id"]))

    def add_schedule(self, *, username: str = DEFAULT_USERNAME, **body: JSON) -> dict[str, JSON]:
        """Create a schedule as ``username`` would with ``POST /v2/schedules`` (``body`` in the
        API's field names: ``name=..., cronExpression=..., actions=[...]``); a copy of it."""
        with self.core.lock:
            return copy.deepcopy(self.schedules.create(self.user(username), dict(body)))

    def get_schedule(self, ref: str) -> dict[str, JSON] | None:
        """A copy of the schedule with this ID or ``username~name`` (``~name``: the default
        user's)."""
        with self.core.lock:
            return copy.deepcopy(self.schedules.find(ref))

    def schedule_list(self, username: str | None = None) -> list[dict[str, JSON]]:
        """Copies of every schedule (of one user, when given), oldest first."""
        with self.core.lock:
            found = (
                list(self.schedules) if username is None else self.schedules.of(self.user(username))
            )
            return copy.deepcopy(found)

    def update_schedule(self, ref: str, body: Mapping[str, JSON]) -> dict[str, JSON]:
        """A PUT as the schedule's owner (an edit "in the Console"); a copy of the result."""
        with self.core.lock:
            return copy.deepcopy(self.schedules.update(None, ref, dict(body)))

    def schedule_id(self, ref: str, user: User | None) -> str | None:
        """The ID of the schedule ``ref`` names, if ``user`` may see it (rate-limit keys)."""
        found = self.schedules.find(ref, user)
        return None if found is None else str(found["id"])

    def secret_plaintext(self, encrypted: str) -> JSON:
        """The plaintext that was stored as ``encrypted`` (``KeyError`` if it never was)."""
        return self.secrets.plaintext(encrypted)

    def change_secret_schema(self, actor_ref: str, key: str) -> None:
        """The Actor's input schema changed for secret field ``key``: values encrypted before
        are refused when sent back (``secretFieldSchemaChanged``), until sent in clear again."""
        actor = self.actors.find(actor_ref)
        if actor is None:
            raise KeyError(actor_ref)
        self.secrets.change_schema(actor.id, key)

    def dump(self) -> dict[str, JSON]:
        """Everything, for the control plane (tokens left out)."""
        with self.core.lock:
            return {
                "users": [
                    {"id": u.id, "username": u.username, "readOnly": u.read_only}
                    for u in self.users
                ],
                "actors": [
                    {**a.to_json(), "secretInputKeys": list(a.secret_input_keys)}
                    for a in self.actors
                ],
                "tasks": copy.deepcopy(list(self.actor_tasks)),
                "schedules": copy.deepcopy(list(self.schedules)),
            }
