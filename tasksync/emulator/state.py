"""The emulator's data and rules, in plain Python: no HTTP here.

``EmulatorState`` holds users, Actors and tasks and implements what the API does with them
(addressing by ID, ``username~name`` and ``~name``; name rules; validation; PUT semantics; secret
inputs; timestamps). Every refusal is an ``HttpError`` that carries its HTTP status, Apify's error
type and a message, so the HTTP layer only has to serialize it.

Tasks are stored as the JSON objects the API returns, so a GET serializes the stored dict
directly. Nested values (``options``, ``input``...) are never changed in place: an update builds
new dicts, which makes it safe to share parsed request bodies with the request log. Methods
meant for tests (``add_task``, ``get_task``, ``tasks``...) return deep copies.

A lock guards every method, because tests may seed or inspect the state from another thread
while the server runs on its own event loop.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import random
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeGuard

from tasksync.emulator.settings import EmulatorSettings

JSON = Any

DEFAULT_USERNAME = "janedoe"
OTHER_USERNAME = "otheruser"
STORE_USERNAME = "apify"
DEFAULT_ACTOR = "apify~web-scraper"
ENCRYPTED_PREFIX = "ENCRYPTED_VALUE:"
MAX_PAGE = 1000

TASK_BODY_KEYS = ("name", "options", "input", "title", "description", "actorStandby")
"""The writable fields of a task (seed entries use them too)."""

_ID_ALPHABET = string.ascii_letters + string.digits
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{1,61}[a-zA-Z0-9]$")

_STORE_ACTORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("web-scraper", ()),
    ("website-content-crawler", ("apiKey",)),
    ("google-search-scraper", ()),
    ("cheerio-scraper", ()),
)


class HttpError(Exception):
    """An API refusal: HTTP status, Apify ``error.type`` and a human message."""

    def __init__(
        self, status: int, type: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {type}: {message}")
        self.status = status
        self.type = type
        self.message = message
        self.headers = dict(headers or {})

    def to_json(self) -> dict[str, JSON]:
        return {"error": {"type": self.type, "message": self.message}}


def invalid_input(message: str) -> HttpError:
    return HttpError(400, "invalid-input", message)


def invalid_request(message: str) -> HttpError:
    return HttpError(400, "invalid-request", message)


def not_found(what: str) -> HttpError:
    return HttpError(404, "record-not-found", f"{what} was not found")


def token_not_provided() -> HttpError:
    return HttpError(401, "token-not-provided", "Authentication token was not provided")


def unknown_token() -> HttpError:
    return HttpError(
        401,
        "user-or-token-not-found",
        "User was not found or authentication token is not valid",
    )


def read_only() -> HttpError:
    return HttpError(
        403, "insufficient-permissions", "You do not have permission to perform this action."
    )


def iso(ms: int) -> str:
    """``2018-10-26T13:30:49.578Z`` for milliseconds since the epoch."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


@dataclass(eq=False)
class User:
    id: str
    username: str
    token: str
    read_only: bool
    created_at: str

    def to_json(self) -> dict[str, JSON]:
        """``UserPrivateInfo`` as ``GET /v2/users/me`` returns it."""
        feature = {
            "isEnabled": True,
            "disabledReason": None,
            "disabledReasonType": None,
            "isTrial": False,
            "trialExpirationAt": None,
        }
        features = (
            "ACTORS",
            "STORAGE",
            "SCHEDULER",
            "PROXY",
            "PROXY_EXTERNAL_ACCESS",
            "PROXY_RESIDENTIAL",
            "PROXY_SERPS",
            "WEBHOOKS",
            "ACTORS_PUBLIC_ALL",
            "ACTORS_PUBLIC_DEVELOPER",
        )
        return {
            "id": self.id,
            "username": self.username,
            "profile": {"name": self.username},
            "email": f"{self.username}@example.com",
            "proxy": {"password": "emulated", "groups": []},
            "plan": {
                "id": "FREE",
                "isEnabled": True,
                "maxActorMemoryGbytes": 8,
                "maxActorTaskCount": 5000,
                "availableProxyGroups": {},
            },
            "effectivePlatformFeatures": {name: dict(feature) for name in features},
            "createdAt": self.created_at,
            "isPaying": False,
        }


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


# -- validation ----------------------------------------------------------------------------------


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_memory(value: object) -> bool:
    return _is_int(value) and 128 <= value <= 32768 and value & (value - 1) == 0


_OPTION_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "build": (lambda v: isinstance(v, str), "a string"),
    "timeoutSecs": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "memoryMbytes": (_check_memory, "a power of 2 between 128 and 32768"),
    "maxItems": (lambda v: _is_int(v) and v > 0, "an integer > 0"),
    "maxTotalChargeUsd": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "restartOnError": (lambda v: isinstance(v, bool), "a boolean"),
}

_STANDBY_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "isEnabled": (lambda v: isinstance(v, bool), "a boolean"),
    "desiredRequestsPerActorRun": (_is_int, "an integer"),
    "maxRequestsPerActorRun": (_is_int, "an integer"),
    "idleTimeoutSecs": (_is_int, "an integer"),
    "build": (lambda v: isinstance(v, str), "a string"),
    "memoryMbytes": (_is_int, "an integer"),
    "disableStandbyFieldsOverride": (lambda v: isinstance(v, bool), "a boolean"),
    "shouldPassActorInput": (lambda v: isinstance(v, bool), "a boolean"),
}


def check_name(name: object) -> str:
    if not isinstance(name, str):
        raise invalid_input('Field "name" must be a string')
    if not 3 <= len(name) <= 63:
        raise invalid_input(f'Field "name" must be 3 to 63 characters long (got {len(name)})')
    if not _NAME.match(name):
        raise invalid_input(
            'Field "name" may contain only letters, digits and hyphens, '
            "and must start and end with a letter or digit"
        )
    return name


def _check_object(
    field: str, value: object, rules: Mapping[str, tuple[Callable[[object], bool], str]]
) -> dict[str, JSON] | None:
    """A nested object whose every key is known and nullable (``options``, ``actorStandby``)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_input(f'Field "{field}" must be an object or null')
    for key, item in value.items():
        rule = rules.get(key)
        if rule is None:
            raise invalid_input(f'Field "{field}.{key}" is not allowed')
        if item is not None and not rule[0](item):
            raise invalid_input(f'Field "{field}.{key}" must be {rule[1]} or null')
    return value


def _check_text(field: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise invalid_input(f'Field "{field}" must be a string or null')
    return value


def check_task_fields(body: Mapping[str, JSON], *, name_rules: bool = True) -> dict[str, JSON]:
    """The writable fields present in a POST/PUT body, checked. Other keys are ignored.

    Without ``name_rules`` any non-empty string is a name: seeded tasks may predate the rules.
    """
    fields: dict[str, JSON] = {}
    if "name" in body:
        name = body["name"]
        if name_rules:
            check_name(name)
        elif not isinstance(name, str) or not name or "~" in name or "/" in name:
            raise invalid_input('Field "name" must be a non-empty string without "~" or "/"')
        fields["name"] = name
    if "options" in body:
        fields["options"] = _check_object("options", body["options"], _OPTION_RULES)
    if "actorStandby" in body:
        fields["actorStandby"] = _check_object("actorStandby", body["actorStandby"], _STANDBY_RULES)
    if "input" in body:
        value = body["input"]
        if value is not None and not isinstance(value, dict | list):
            raise invalid_input('Field "input" must be a JSON object (or an array) or null')
        fields["input"] = value
    for key in ("title", "description"):
        if key in body:
            fields[key] = _check_text(key, body[key])
    return fields


def _without_nulls(value: Mapping[str, JSON]) -> dict[str, JSON]:
    return {k: v for k, v in value.items() if v is not None}


def _merged(old: Mapping[str, JSON] | None, patch: Mapping[str, JSON]) -> dict[str, JSON]:
    """Per-key merge: present keys overwrite, absent keys stay, ``None`` removes a key."""
    result = dict(old or {})
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


# -- the state -----------------------------------------------------------------------------------


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
        self._clock = clock
        self._lock = threading.RLock()
        self._default_tokens: dict[str, str] = {}
        if token is not None:
            self._default_tokens[DEFAULT_USERNAME] = token
        self._key = secrets.token_bytes(16)  # "encrypts" secret inputs
        self.reset()

    # -- setup -----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything, then seed the default users and Actors (same tokens as before)."""
        with self._lock:
            self._rng = random.Random(self.settings.seed)
            self._ids: set[str] = set()
            self._last_ms = 0
            self._users: dict[str, User] = {}
            self._users_by_token: dict[str, User] = {}
            self._users_by_name: dict[str, User] = {}
            self._actors: dict[str, Actor] = {}
            self._actor_names: dict[tuple[str, str], Actor] = {}
            self._tasks: dict[str, dict[str, JSON]] = {}
            self._user_tasks: dict[str, dict[str, dict[str, JSON]]] = {}
            self._task_names: dict[tuple[str, str], str] = {}
            self._mtimes: dict[str, int] = {}
            self._secrets: dict[str, str] = {}
            self._seed_defaults()

    def _seed_defaults(self) -> None:
        for username in (DEFAULT_USERNAME, OTHER_USERNAME):
            token = self._default_tokens.setdefault(username, new_token())
            self.add_user(username, token)
        self.add_user(STORE_USERNAME, self._default_tokens.setdefault(STORE_USERNAME, new_token()))
        for name, keys in _STORE_ACTORS:
            self.add_actor(STORE_USERNAME, name, secret_input_keys=keys, is_public=True)
        self.add_actor(DEFAULT_USERNAME, "my-actor", secret_input_keys=("apiKey", "password"))

    def add_user(self, username: str, token: str | None = None, read_only: bool = False) -> User:
        """Add a user (a random token when none is given); ``read_only`` users cannot write."""
        with self._lock:
            if not isinstance(username, str) or not username:
                raise ValueError("a user needs a username")
            if username in self._users_by_name:
                raise ValueError(f"user {username!r} already exists")
            token = token or new_token()
            if token in self._users_by_token:
                raise ValueError(f"the token of user {username!r} is already used")
            user = User(self._new_id(), username, token, read_only, iso(self._now_ms()))
            self._users[user.id] = user
            self._users_by_token[token] = user
            self._users_by_name[username] = user
            self._user_tasks[user.id] = {}
            return user

    def add_actor(
        self,
        username: str,
        name: str,
        secret_input_keys: Iterable[str] = (),
        *,
        is_public: bool | None = None,
    ) -> dict[str, JSON]:
        """Add an Actor owned by ``username``; public by default when the owner is ``apify``."""
        with self._lock:
            owner = self.user(username)
            check_name(name)
            if (owner.id, name) in self._actor_names:
                raise ValueError(f"Actor {username}~{name} already exists")
            keys = tuple(secret_input_keys)
            if isinstance(secret_input_keys, str) or not all(isinstance(k, str) for k in keys):
                raise ValueError("secretInputKeys must be a list of strings")
            actor = Actor(
                id=self._new_id(),
                user_id=owner.id,
                username=owner.username,
                name=name,
                is_public=username == STORE_USERNAME if is_public is None else is_public,
                secret_input_keys=keys,
                created_at=iso(self._now_ms()),
            )
            self._actors[actor.id] = actor
            self._actor_names[(owner.id, name)] = actor
            return actor.to_json()

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
        with self._lock:
            task = self.create_task(self.user(username), body, name_rules=False)
            return copy.deepcopy(task)

    def load_seed(self, doc: JSON) -> dict[str, int]:
        """Apply a seed document ``{users: [...], actors: [...], tasks: [...]}``; counts added.

        Raises ``ValueError`` naming the bad entry. Task values are stored without a copy:
        do not change the document afterwards.
        """
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise ValueError("the seed must be a mapping with users, actors and tasks")
        unknown = sorted(set(doc) - {"users", "actors", "tasks"})
        if unknown:
            raise ValueError(f"unknown seed keys: {', '.join(unknown)}")
        counts = {"users": 0, "actors": 0, "tasks": 0}
        with self._lock:
            for kind in ("users", "actors", "tasks"):
                entries = doc.get(kind) or []
                if not isinstance(entries, list):
                    raise ValueError(f"seed {kind} must be a list")
                for index, entry in enumerate(entries):
                    where = f"seed {kind}[{index}]"
                    if not isinstance(entry, dict):
                        raise ValueError(f"{where} must be a mapping")
                    try:
                        self._seed_one(kind, entry)
                    except (ValueError, TypeError, KeyError) as exc:
                        raise ValueError(f"{where}: {exc.args[0] if exc.args else exc}") from None
                    except HttpError as exc:
                        raise ValueError(f"{where}: {exc.message}") from None
                    counts[kind] += 1
        return counts

    def _seed_one(self, kind: str, entry: dict[str, JSON]) -> None:
        allowed = {
            "users": {"username", "token", "readOnly"},
            "actors": {"username", "name", "secretInputKeys", "isPublic"},
            "tasks": {"username", "actor", *TASK_BODY_KEYS},
        }[kind]
        unknown = sorted(set(entry) - allowed)  # e.g. a misspelt key
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(unknown)}")
        if kind == "users":
            self.add_user(
                entry.get("username"),  # type: ignore[arg-type]
                entry.get("token"),
                read_only=bool(entry.get("readOnly", False)),
            )
        elif kind == "actors":
            self.add_actor(
                entry.get("username", DEFAULT_USERNAME),
                entry.get("name"),  # type: ignore[arg-type]
                secret_input_keys=entry.get("secretInputKeys") or (),
                is_public=entry.get("isPublic"),
            )
        else:
            body = {key: entry[key] for key in TASK_BODY_KEYS if key in entry}
            body["actId"] = entry.get("actor", DEFAULT_ACTOR)
            owner = self.user(entry.get("username", DEFAULT_USERNAME))
            # The seed document is ours to keep: no copy (large seeds load fast).
            self.create_task(owner, body, name_rules=False)

    # -- lookups ---------------------------------------------------------------------------------

    def user(self, username: str) -> User:
        """The user called ``username``; ``KeyError`` when there is none."""
        try:
            return self._users_by_name[username]
        except KeyError:
            raise KeyError(f"no user {username!r}") from None

    def user_by_token(self, token: str) -> User | None:
        return self._users_by_token.get(token)

    def resolve_actor(self, ref: str, user: User | None) -> Actor:
        """An Actor by ID, ``username~name`` or ``~name`` that ``user`` may see.

        Without a user (an anonymous request) only public Actors by ID are visible.
        """
        actor: Actor | None
        if "~" in ref or "/" in ref:
            if user is None:
                raise token_not_provided()
            owner_name, _, name = ref.replace("/", "~", 1).partition("~")
            owner = self._users_by_name.get(owner_name) if owner_name else user
            actor = self._actor_names.get((owner.id, name)) if owner is not None else None
        else:
            actor = self._actors.get(ref)
        visible = actor is not None and (
            actor.is_public or (user is not None and actor.user_id == user.id)
        )
        if actor is None or not visible:
            raise not_found("Actor")
        return actor

    def _resolve_task(self, ref: str, user: User | None) -> dict[str, JSON]:
        """The stored task for an ID, ``username~name`` or ``~name`` that ``user`` may see.

        ``user`` is None for the Python API: every task is visible and ``~name`` means the
        default user's task.
        """
        task: dict[str, JSON] | None
        if "~" in ref:
            owner_name, _, name = ref.partition("~")
            if owner_name:
                owner = self._users_by_name.get(owner_name)
            else:
                owner = user or self._users_by_name.get(DEFAULT_USERNAME)
            task_id = self._task_names.get((owner.id, name)) if owner is not None else None
            task = self._tasks.get(task_id) if task_id is not None else None
        else:
            task = self._tasks.get(ref)
        if task is None or (user is not None and task["userId"] != user.id):
            raise not_found("Actor task")
        return task

    def task_id(self, ref: str, user: User | None) -> str | None:
        """The ID of the task ``ref`` names, if ``user`` may see it (for rate-limit keys)."""
        with self._lock:
            try:
                return str(self._resolve_task(ref, user)["id"])
            except HttpError:
                return None

    def get_task(self, ref: str) -> dict[str, JSON] | None:
        """A copy of the task with this ID or ``username~name`` (``~name``: the default user's)."""
        with self._lock:
            try:
                return copy.deepcopy(self._resolve_task(ref, None))
            except HttpError:
                return None

    def get_actor(self, ref: str) -> dict[str, JSON] | None:
        """The Actor with this ID or ``username~name``, as the API shows it."""
        with self._lock:
            if "~" in ref:
                owner_name, _, name = ref.partition("~")
                owner = self._users_by_name.get(owner_name)
                actor = self._actor_names.get((owner.id, name)) if owner is not None else None
            else:
                actor = self._actors.get(ref)
            return actor.to_json() if actor is not None else None

    def tasks(self, username: str | None = None) -> list[dict[str, JSON]]:
        """Copies of every task (of one user, when given), oldest first."""
        with self._lock:
            if username is None:
                found = list(self._tasks.values())
            else:
                found = list(self._user_tasks[self.user(username).id].values())
            return copy.deepcopy(found)

    def secret_plaintext(self, encrypted: str) -> str:
        """The plaintext that was stored as ``encrypted`` (``KeyError`` if it never was)."""
        try:
            return self._secrets[encrypted]
        except KeyError:
            raise KeyError("this value was never encrypted by this emulator") from None

    def dump(self) -> dict[str, JSON]:
        """Everything, for the control plane (tokens left out)."""
        with self._lock:
            return {
                "users": [
                    {"id": u.id, "username": u.username, "readOnly": u.read_only}
                    for u in self._users.values()
                ],
                "actors": [
                    {**a.to_json(), "secretInputKeys": list(a.secret_input_keys)}
                    for a in self._actors.values()
                ],
                "tasks": copy.deepcopy(list(self._tasks.values())),
            }

    # -- the API's operations ----------------------------------------------------------------------

    def list_tasks(
        self, user: User, *, offset: int = 0, limit: int = MAX_PAGE, desc: bool = False
    ) -> dict[str, JSON]:
        """The ``ListOfTasks`` page of ``user``'s tasks, by creation time."""
        limit = MAX_PAGE if limit <= 0 else min(limit, MAX_PAGE)
        with self._lock:
            own = self._user_tasks[user.id]
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

    def _short(self, task: dict[str, JSON]) -> dict[str, JSON]:
        actor = self._actors[task["actId"]]
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

    def create_task(self, user: User, body: JSON, *, name_rules: bool = True) -> dict[str, JSON]:
        """``POST /v2/actor-tasks``: the stored task (do not mutate it)."""
        if not isinstance(body, dict):
            raise invalid_request("POST data must be a JSON object")
        act_ref = body.get("actId")
        if act_ref is None:
            raise invalid_input('Field "actId" is required')
        if not isinstance(act_ref, str):
            raise invalid_input('Field "actId" must be a string')
        fields = check_task_fields(body, name_rules=name_rules)
        with self._lock:
            actor = self.resolve_actor(act_ref, user)
            own = self._user_tasks[user.id]
            limit = self.settings.max_tasks_per_user
            if limit is not None and len(own) >= limit:
                raise HttpError(
                    403,
                    "too-many-actor-tasks",
                    f"You have reached the limit of {limit} Actor tasks",
                )
            name = fields.get("name") or self._free_name(user, actor.name + "-task")
            if (user.id, name) in self._task_names:
                raise _name_clash(name)
            now = self._now_ms()
            stamp = iso(now)
            options = fields.get("options")
            standby = fields.get("actorStandby")
            raw_input = fields.get("input")
            task: dict[str, JSON] = {
                "id": self._new_id(),
                "userId": user.id,
                "actId": actor.id,
                "name": name,
                "username": user.username,
                "createdAt": stamp,
                "modifiedAt": stamp,
                "removedAt": None,
                "stats": {"totalRuns": 0},
                "options": _without_nulls(options) if options is not None else None,
                "input": self._protect(actor, raw_input if raw_input is not None else {}),
                "title": fields.get("title"),
                "description": fields.get("description"),
                "actorStandby": _without_nulls(standby) if standby is not None else None,
                "standbyUrl": None,
            }
            self._tasks[task["id"]] = task
            own[task["id"]] = task
            self._task_names[(user.id, name)] = task["id"]
            self._mtimes[task["id"]] = now
            return task

    def get(self, user: User, ref: str) -> dict[str, JSON]:
        """``GET /v2/actor-tasks/{ref}``: the stored task (do not mutate it)."""
        with self._lock:
            return self._resolve_task(ref, user)

    def update(self, user: User | None, ref: str, body: JSON) -> dict[str, JSON]:
        """``PUT /v2/actor-tasks/{ref}``: apply the body, return the stored task.

        Absent fields are untouched; read-only and unknown fields are ignored; ``options`` and
        ``actorStandby`` are merged key by key (``None`` clears a key) unless the settings say
        ``options_semantics="replace"``; ``input`` is replaced whole.
        """
        if not isinstance(body, dict):
            raise invalid_request("PUT data must be a JSON object")
        fields = check_task_fields(body)
        with self._lock:
            task = self._resolve_task(ref, user)
            changes: dict[str, JSON] = {}
            name = fields.get("name")
            if name is not None and name != task["name"]:
                if (task["userId"], name) in self._task_names:
                    raise _name_clash(name)
                changes["name"] = name
            if "options" in fields:
                patch = fields["options"]
                if patch is None:
                    changes["options"] = None
                elif self.settings.options_semantics == "replace":
                    changes["options"] = _without_nulls(patch)
                else:
                    changes["options"] = _merged(task["options"], patch)
            if "actorStandby" in fields:
                patch = fields["actorStandby"]
                changes["actorStandby"] = (
                    None if patch is None else _merged(task["actorStandby"], patch)
                )
            if "input" in fields:
                value = fields["input"]
                actor = self._actors[task["actId"]]
                changes["input"] = self._protect(actor, value if value is not None else {})
            for key in ("title", "description"):
                if key in fields:
                    changes[key] = fields[key]
            if "name" in changes:
                del self._task_names[(task["userId"], task["name"])]
                self._task_names[(task["userId"], changes["name"])] = task["id"]
            task.update(changes)
            self._touch(task)
            return task

    def update_task(self, ref: str, body: Mapping[str, JSON]) -> dict[str, JSON]:
        """``update`` for tests, as the task's owner (e.g. an edit "in the Console"); a copy."""
        with self._lock:
            return copy.deepcopy(self.update(None, ref, dict(body)))

    def delete(self, user: User, ref: str) -> None:
        """``DELETE /v2/actor-tasks/{ref}``."""
        with self._lock:
            task = self._resolve_task(ref, user)
            del self._tasks[task["id"]]
            del self._user_tasks[task["userId"]][task["id"]]
            del self._task_names[(task["userId"], task["name"])]
            del self._mtimes[task["id"]]

    def get_input(self, user: User, ref: str) -> JSON:
        """``GET /v2/actor-tasks/{ref}/input``: the stored input (do not mutate it)."""
        with self._lock:
            return self._resolve_task(ref, user)["input"]

    def update_input(self, user: User | None, ref: str, body: JSON) -> JSON:
        """``PUT /v2/actor-tasks/{ref}/input``: shallow merge into the stored input."""
        if not isinstance(body, dict):
            raise invalid_input("The input must be a JSON object")
        with self._lock:
            task = self._resolve_task(ref, user)
            old = task["input"]
            merged = {**(old if isinstance(old, dict) else {}), **body}
            task["input"] = self._protect(self._actors[task["actId"]], merged)
            self._touch(task)
            return task["input"]

    # -- helpers ---------------------------------------------------------------------------------

    def _protect(self, actor: Actor, value: JSON) -> JSON:
        """Encrypt plaintext strings under the Actor's secret input keys (a new dict if any)."""
        if not actor.secret_input_keys or not isinstance(value, dict):
            return value
        result: dict[str, JSON] | None = None
        for key in actor.secret_input_keys:
            plain = value.get(key)
            if isinstance(plain, str) and not plain.startswith(ENCRYPTED_PREFIX):
                if result is None:
                    result = dict(value)
                result[key] = self._encrypt(plain)
        return value if result is None else result

    def _encrypt(self, plaintext: str) -> str:
        # Like Apify's, the ciphertext differs on every save; the map lets tests read it back.
        nonce = self._rng.randbytes(8)
        digest = hmac.new(self._key, nonce + plaintext.encode(), hashlib.sha256).digest()
        encrypted = ENCRYPTED_PREFIX + base64.b64encode(nonce + digest[:24]).decode()
        self._secrets[encrypted] = plaintext
        return encrypted

    def _free_name(self, user: User, base: str) -> str:
        base = base[:58].rstrip("-")
        name, n = base, 1
        while (user.id, name) in self._task_names:
            n += 1
            name = f"{base}-{n}"
        return name

    def _now_ms(self) -> int:
        # Never goes backwards, even if the wall clock does.
        self._last_ms = max(int(self._clock() * 1000), self._last_ms)
        return self._last_ms

    def _touch(self, task: dict[str, JSON]) -> None:
        # Strictly later than the previous write of this task, even within one millisecond.
        ms = max(self._now_ms(), self._mtimes[task["id"]] + 1)
        self._mtimes[task["id"]] = ms
        task["modifiedAt"] = iso(ms)

    def _new_id(self) -> str:
        while True:
            candidate = "".join(self._rng.choices(_ID_ALPHABET, k=17))
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate


def _name_clash(name: str) -> HttpError:
    return HttpError(
        409,
        "actor-task-name-not-unique",
        f'An Actor task with name "{name}" already exists in your account',
    )


def new_token() -> str:
    """A random token shaped like Apify's (``apify_api_`` and 36 letters or digits)."""
    return "apify_api_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(36))
