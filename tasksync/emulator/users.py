"""Users: their tokens, the read-only flag, and ``GET /v2/users/me``'s view of one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from tasksync.emulator.core import ID_ALPHABET, JSON, Core, iso

DEFAULT_USERNAME = "janedoe"
"""The user whose token ``Emulator.token`` is, and whose tasks ``~name`` names in Python."""
OTHER_USERNAME = "otheruser"
STORE_USERNAME = "apify"
"""Owner of the public store Actors; its Actors are public by default."""

_FEATURES = (
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


def new_token() -> str:
    """A random token shaped like Apify's (``apify_api_`` and 36 letters or digits)."""
    return "apify_api_" + "".join(secrets.choice(ID_ALPHABET) for _ in range(36))


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
            "effectivePlatformFeatures": {name: dict(feature) for name in _FEATURES},
            "createdAt": self.created_at,
            "isPaying": False,
        }


class Users:
    """Every user, by ID, name and token."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self.clear()

    def clear(self) -> None:
        self._by_id: dict[str, User] = {}
        self._by_token: dict[str, User] = {}
        self._by_name: dict[str, User] = {}

    def __iter__(self) -> Iterator[User]:
        return iter(list(self._by_id.values()))

    def add(self, username: str, token: str | None = None, read_only: bool = False) -> User:
        """Add a user (a random token when none is given); ``read_only`` users cannot write."""
        with self._core.lock:
            if not isinstance(username, str) or not username:
                raise ValueError("a user needs a username")
            if username in self._by_name:
                raise ValueError(f"user {username!r} already exists")
            token = token or new_token()
            if token in self._by_token:
                raise ValueError(f"the token of user {username!r} is already used")
            core = self._core
            user = User(core.new_id(), username, token, read_only, iso(core.now_ms()))
            self._by_id[user.id] = user
            self._by_token[token] = user
            self._by_name[username] = user
            return user

    def named(self, username: str) -> User:
        """The user called ``username``; ``KeyError`` when there is none."""
        try:
            return self._by_name[username]
        except KeyError:
            raise KeyError(f"no user {username!r}") from None

    def find(self, username: str) -> User | None:
        return self._by_name.get(username)

    def by_token(self, token: str) -> User | None:
        return self._by_token.get(token)
