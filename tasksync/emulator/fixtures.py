"""Seeding: the users and Actors every emulator starts with, and seed documents.

A seed document (the ``tasksync emulator --seed`` file, ``POST /_emulator/seed``, or
``EmulatorState.load_seed``) adds users, Actors and tasks to the defaults::

    users:  [{username: acme, token: secret-token, readOnly: false}]
    actors: [{username: acme, name: crawler, secretInputKeys: [apiKey], isPublic: false,
              inputSchema: {...},                       # the latest build's (none: any input)
              builds: [{tag: beta, inputSchema: {...}, buildNumber: 0.0.2}]}]
    tasks:  [{username: acme, actor: acme~crawler, name: nightly, options: {...}, input: {...}}]

Seeded tasks are created as their owner would with ``POST /v2/actor-tasks``, except that their
names may predate the naming rules.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from tasksync.emulator.actors import DEFAULT_ACTOR, Actors
from tasksync.emulator.core import JSON
from tasksync.emulator.errors import ApiError
from tasksync.emulator.task_fields import TASK_BODY_KEYS
from tasksync.emulator.tasks import ActorTasks
from tasksync.emulator.users import (
    DEFAULT_USERNAME,
    OTHER_USERNAME,
    STORE_USERNAME,
    Users,
    new_token,
)

STORE_ACTORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("web-scraper", ()),
    ("website-content-crawler", ("apiKey",)),
    ("google-search-scraper", ()),
    ("cheerio-scraper", ()),
)
"""Public Actors of the ``apify`` user, with their secret input keys."""

_SEED_KINDS = ("users", "actors", "tasks")
_SEED_KEYS = {
    "users": {"username", "token", "readOnly"},
    "actors": {"username", "name", "secretInputKeys", "isPublic", "inputSchema", "builds"},
    "tasks": {"username", "actor", *TASK_BODY_KEYS},
}


def seed_defaults(users: Users, actors: Actors, tokens: MutableMapping[str, str]) -> None:
    """Two users (``janedoe``, ``otheruser``), the store's owner and Actors, and ``my-actor``;
    each Actor has builds tagged ``latest`` and ``beta``, without input schemas.

    A user's token comes from ``tokens`` and, when it has none yet, is drawn and kept there, so
    a reset gives every default user its former token back.
    """
    for username in (DEFAULT_USERNAME, OTHER_USERNAME, STORE_USERNAME):
        users.add(username, tokens.setdefault(username, new_token()))
    added = [
        actors.add(STORE_USERNAME, name, secret_input_keys=keys, is_public=True)
        for name, keys in STORE_ACTORS
    ]
    added.append(actors.add(DEFAULT_USERNAME, "my-actor", secret_input_keys=("apiKey", "password")))
    for actor in added:
        actors.add_build(actor, "beta")


def load_seed(doc: JSON, users: Users, actors: Actors, tasks: ActorTasks) -> dict[str, int]:
    """Apply a seed document; the counts added. ``ValueError`` names the bad entry.

    Task values are stored without a copy (large seeds load fast): do not change the document
    afterwards. Entries before a bad one stay added.
    """
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ValueError("the seed must be a mapping with users, actors and tasks")
    unknown = sorted(set(doc) - set(_SEED_KINDS))
    if unknown:
        raise ValueError(f"unknown seed keys: {', '.join(unknown)}")
    counts = dict.fromkeys(_SEED_KINDS, 0)
    for kind in _SEED_KINDS:
        entries = doc.get(kind) or []
        if not isinstance(entries, list):
            raise ValueError(f"seed {kind} must be a list")
        for index, entry in enumerate(entries):
            where = f"seed {kind}[{index}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{where} must be a mapping")
            try:
                _seed_one(kind, entry, users, actors, tasks)
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"{where}: {exc.args[0] if exc.args else exc}") from None
            except ApiError as exc:
                raise ValueError(f"{where}: {exc.message}") from None
            counts[kind] += 1
    return counts


def _seed_one(
    kind: str, entry: dict[str, JSON], users: Users, actors: Actors, tasks: ActorTasks
) -> None:
    unknown = sorted(set(entry) - _SEED_KEYS[kind])  # e.g. a misspelt key
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)}")
    if kind == "users":
        users.add(entry.get("username"), entry.get("token"), bool(entry.get("readOnly", False)))  # type: ignore[arg-type]
    elif kind == "actors":
        actor = actors.add(
            entry.get("username", DEFAULT_USERNAME),
            entry.get("name"),  # type: ignore[arg-type]
            secret_input_keys=entry.get("secretInputKeys") or (),
            is_public=entry.get("isPublic"),
            input_schema=entry.get("inputSchema"),
        )
        builds = entry.get("builds") or []
        if not isinstance(builds, list) or not all(isinstance(b, dict) for b in builds):
            raise ValueError("builds must be a list of mappings")
        for build in builds:
            unknown = sorted(set(build) - {"tag", "inputSchema", "buildNumber"})
            if unknown:
                raise ValueError(f"unknown build keys: {', '.join(unknown)}")
            actors.add_build(
                actor, build.get("tag"), build.get("inputSchema"), build.get("buildNumber")
            )
    else:
        body = {key: entry[key] for key in TASK_BODY_KEYS if key in entry}
        body["actId"] = entry.get("actor", DEFAULT_ACTOR)
        owner = users.named(entry.get("username", DEFAULT_USERNAME))
        tasks.create(owner, body, name_rules=False)


def generated_tasks(count: int) -> dict[str, JSON]:
    """A seed document of ``count`` tasks of the default user, for experiments and benchmarks
    (``tasksync emulator --tasks N``): ``task-00000``, ``task-00001``, ... of
    ``apify~web-scraper``, with small, distinct options and inputs."""
    tasks: list[JSON] = [
        {
            "name": f"task-{i:05d}",
            "actor": DEFAULT_ACTOR,
            "options": {"build": "latest", "memoryMbytes": 1024, "timeoutSecs": 3600},
            "input": {"startUrls": [{"url": f"https://example.com/{i}"}], "maxPagesPerCrawl": 10},
        }
        for i in range(count)
    ]
    return {"tasks": tasks}
