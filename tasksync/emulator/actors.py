"""Actors: who owns them, who may see them, their secret input keys and their one build.

For now an Actor is what a task needs: an ID and a name to address, visibility, and the keys
of its input that are stored encrypted. (Builds and input schemas will grow here.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tasksync.emulator.core import JSON, Core, check_name, iso
from tasksync.emulator.errors import RecordNotFound, TokenNotProvided
from tasksync.emulator.users import STORE_USERNAME, User, Users

DEFAULT_ACTOR = "apify~web-scraper"


@dataclass(eq=False)
class Actor:
    id: str
    user_id: str
    username: str
    name: str
    is_public: bool
    secret_input_keys: tuple[str, ...]
    created_at: str

    def to_json(self) -> dict[str, JSON]:
        """The ``Actor`` object as ``GET /v2/actors/{id}`` returns it."""
        return {
            "id": self.id,
            "userId": self.user_id,
            "name": self.name,
            "username": self.username,
            "title": self.name.replace("-", " ").capitalize(),
            "description": None,
            "isPublic": self.is_public,
            "createdAt": self.created_at,
            "modifiedAt": self.created_at,
            "stats": {"totalBuilds": 1, "totalRuns": 0},
            "versions": [{"versionNumber": "0.0", "sourceType": "SOURCE_FILES"}],
            "defaultRunOptions": {
                "build": "latest",
                "timeoutSecs": 3600,
                "memoryMbytes": 1024,
                "restartOnError": False,
            },
            "taggedBuilds": {"latest": {"buildId": self.build_id, "buildNumber": "0.0.1"}},
        }

    @property
    def build_id(self) -> str:
        return self.id[::-1]

    def build_json(self) -> dict[str, JSON]:
        """The Actor's one (default, ``latest``) build, always finished."""
        return {
            "id": self.build_id,
            "actId": self.id,
            "userId": self.user_id,
            "startedAt": self.created_at,
            "finishedAt": self.created_at,
            "status": "SUCCEEDED",
            "meta": {"origin": "WEB"},
            "buildNumber": "0.0.1",
            "stats": None,
            "options": None,
            "usage": None,
        }


class Actors:
    """Every Actor, by ID and by (owner ID, name)."""

    def __init__(self, core: Core, users: Users) -> None:
        self._core = core
        self._users = users
        self.clear()

    def clear(self) -> None:
        self._by_id: dict[str, Actor] = {}
        self._by_name: dict[tuple[str, str], Actor] = {}

    def __iter__(self) -> Iterator[Actor]:
        return iter(list(self._by_id.values()))

    def add(
        self,
        username: str,
        name: str,
        secret_input_keys: Iterable[str] = (),
        *,
        is_public: bool | None = None,
    ) -> Actor:
        """Add an Actor owned by ``username``; public by default when the owner is ``apify``."""
        with self._core.lock:
            owner = self._users.named(username)
            check_name(name)
            if (owner.id, name) in self._by_name:
                raise ValueError(f"Actor {username}~{name} already exists")
            keys = tuple(secret_input_keys)
            if isinstance(secret_input_keys, str) or not all(isinstance(k, str) for k in keys):
                raise ValueError("secretInputKeys must be a list of strings")
            actor = Actor(
                id=self._core.new_id(),
                user_id=owner.id,
                username=owner.username,
                name=name,
                is_public=username == STORE_USERNAME if is_public is None else is_public,
                secret_input_keys=keys,
                created_at=iso(self._core.now_ms()),
            )
            self._by_id[actor.id] = actor
            self._by_name[(owner.id, name)] = actor
            return actor

    def by_id(self, actor_id: str) -> Actor:
        return self._by_id[actor_id]

    def find(self, ref: str) -> Actor | None:
        """The Actor with this ID or ``username~name``, whoever may see it."""
        with self._core.lock:
            if "~" not in ref:
                return self._by_id.get(ref)
            owner_name, _, name = ref.partition("~")
            owner = self._users.find(owner_name)
            return self._by_name.get((owner.id, name)) if owner is not None else None

    def resolve(self, ref: str, user: User | None) -> Actor:
        """An Actor by ID, ``username~name``, ``username/name`` or ``~name`` that ``user`` may
        see. Without a user (an anonymous request) only public Actors by ID are visible."""
        actor: Actor | None
        with self._core.lock:
            if "~" in ref or "/" in ref:
                if user is None:
                    raise TokenNotProvided()
                owner_name, _, name = ref.replace("/", "~", 1).partition("~")
                owner = self._users.find(owner_name) if owner_name else user
                actor = self._by_name.get((owner.id, name)) if owner is not None else None
            else:
                actor = self._by_id.get(ref)
        if actor is None or not (
            actor.is_public or (user is not None and actor.user_id == user.id)
        ):
            raise RecordNotFound("Actor")
        return actor
