"""Actors: who owns them, who may see them, their tagged builds and secret input keys.

An Actor is what a task needs: an ID and a name to address, visibility, its builds by tag (each
with its input schema, ``builds.py``; every Actor starts with a ``latest`` build) and the keys of
its input that are stored encrypted: those seeded as ``secretInputKeys`` plus every property
that one of its builds' schemas marks ``isSecret``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tasksync.emulator.builds import Build
from tasksync.emulator.core import JSON, Core, check_name, iso
from tasksync.emulator.errors import RecordNotFound, TokenNotProvided, UnknownBuildTag
from tasksync.emulator.users import STORE_USERNAME, User, Users

DEFAULT_ACTOR = "apify~web-scraper"
DEFAULT_TAG = "latest"


@dataclass(eq=False)
class Actor:
    id: str
    user_id: str
    username: str
    name: str
    is_public: bool
    secret_input_keys: tuple[str, ...]
    created_at: str
    builds: dict[str, Build] = field(default_factory=dict)
    """Tag -> build; every Actor has a ``latest`` one."""

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """Input keys stored encrypted: the seeded ones and every build's ``isSecret`` ones."""
        keys = dict.fromkeys(self.secret_input_keys)
        for build in self.builds.values():
            keys.update(dict.fromkeys(build.secret_keys))
        return tuple(keys)

    def build(self, tag: str | None) -> Build:
        """The build that ``tag`` (or a build number) names; ``UnknownBuildTag`` otherwise."""
        tag = tag or DEFAULT_TAG
        found = self.builds.get(tag) or next(
            (b for b in self.builds.values() if b.build_number == tag), None
        )
        if found is None:
            raise UnknownBuildTag(f'Build with tag "{tag}" was not found')
        return found

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
            "stats": {"totalBuilds": len(self.builds), "totalRuns": 0},
            "versions": [{"versionNumber": "0.0", "sourceType": "SOURCE_FILES"}],
            "defaultRunOptions": {
                "build": DEFAULT_TAG,
                "timeoutSecs": 3600,
                "memoryMbytes": 1024,
                "restartOnError": False,
            },
            "taggedBuilds": {
                tag: {
                    "buildId": b.id,
                    "buildNumber": b.build_number,
                    "finishedAt": b.created_at,
                }
                for tag, b in self.builds.items()
            },
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
        self._builds: dict[str, tuple[Actor, Build]] = {}

    def __iter__(self) -> Iterator[Actor]:
        return iter(list(self._by_id.values()))

    def add(
        self,
        username: str,
        name: str,
        secret_input_keys: Iterable[str] = (),
        *,
        is_public: bool | None = None,
        input_schema: dict[str, JSON] | None = None,
    ) -> Actor:
        """Add an Actor owned by ``username``; public by default when the owner is ``apify``.
        Its ``latest`` build has ``input_schema`` (none: any input is valid)."""
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
            # The first build's ID is derived, so that seeding draws no more IDs than before.
            self._add_build(actor, DEFAULT_TAG, input_schema, actor.id[::-1])
            self._by_id[actor.id] = actor
            self._by_name[(owner.id, name)] = actor
            return actor

    def add_build(
        self,
        actor: Actor,
        tag: str,
        input_schema: dict[str, JSON] | None = None,
        build_number: str | None = None,
    ) -> Build:
        """A new build of ``actor`` tagged ``tag`` (the tag moves to it, as on Apify)."""
        with self._core.lock:
            if not isinstance(tag, str) or not tag:
                raise ValueError("a build tag must be a non-empty string")
            return self._add_build(actor, tag, input_schema, self._core.new_id(), build_number)

    def _add_build(
        self,
        actor: Actor,
        tag: str,
        input_schema: dict[str, JSON] | None,
        build_id: str,
        build_number: str | None = None,
    ) -> Build:
        if input_schema is not None and not isinstance(input_schema, dict):
            raise ValueError("an input schema must be a mapping")
        build = Build(
            id=build_id,
            act_id=actor.id,
            user_id=actor.user_id,
            build_number=build_number or f"0.0.{self._count_builds(actor) + 1}",
            created_at=iso(self._core.now_ms()),
            input_schema=input_schema,
        )
        actor.builds[tag] = build
        self._builds[build.id] = (actor, build)
        return build

    def build(self, build_id: str, user: User | None) -> Build:
        """``GET /v2/actor-builds/{id}``: a build of an Actor that ``user`` may see."""
        with self._core.lock:
            found = self._builds.get(build_id)
        if found is None or not self._visible(found[0], user):
            raise RecordNotFound("Actor build")
        return found[1]

    def _count_builds(self, actor: Actor) -> int:
        return sum(1 for owner, _ in self._builds.values() if owner is actor)

    @staticmethod
    def _visible(actor: Actor, user: User | None) -> bool:
        return actor.is_public or (user is not None and actor.user_id == user.id)

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
        if actor is None or not self._visible(actor, user):
            raise RecordNotFound("Actor")
        return actor
