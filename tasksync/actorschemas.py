"""Where input schemas come from: the API (once per Actor and build per run), or local files.

``OnlineSchemas.load`` fetches, for each distinct (Actor, build) a plan needs, the Actor
(``GET /v2/actors/{ref}``: its ``taggedBuilds`` and default build) and then the build
(``GET /v2/actor-builds/{id}``: its input schema): at most two requests per pair, fewer when
pairs share an Actor or a build, all of them concurrently. Afterwards ``get`` answers from
memory, with the compiled schema or the reason there is none to check against (an Actor or a
build tag that does not exist), which is then that task's plan error.

``LocalSchemas`` reads schema files (an Actor repository's ``.actor/input_schema.json``) for
offline checks: ``validate --input-schema ACTOR=PATH`` and the file's ``actors:`` section.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

import anyio

from tasksync.api import ApifyClient
from tasksync.errors import ApiError, TasksyncError
from tasksync.inputschema import InputSchema, InvalidSchemaError
from tasksync.model import JSON, RequestStats

BuildKey = tuple[str, str | None]
"""(Actor ID or ``username~name``, build tag or number; ``None``: the Actor's default build)."""


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why a task's input cannot be checked: its plan error, and a short machine name."""

    message: str
    kind: str


class OnlineSchemas:
    """Input schemas read from the API, each Actor and build once (use ``load`` first)."""

    def __init__(self, client: ApifyClient, *, concurrency: int | None = None) -> None:
        self._client = client
        self._limit = anyio.CapacityLimiter(max(1, concurrency or 16))  # a few reads per Actor
        self._actors: dict[str, dict[str, JSON] | Unavailable] = {}
        self._builds: dict[str, InputSchema | Unavailable] = {}
        self.requests = RequestStats()

    async def load(self, keys: Iterable[BuildKey]) -> RequestStats:
        """Fetch what ``keys`` need and is not known yet; the requests it took."""
        keys = set(keys)
        before = self.requests
        async with anyio.create_task_group() as tg:
            for ref in {actor for actor, _ in keys} - set(self._actors):
                tg.start_soon(self._fetch_actor, ref)
        build_ids = set()
        for key in keys:
            found = self._build_id(key)
            if isinstance(found, str) and found not in self._builds:
                build_ids.add(found)
        async with anyio.create_task_group() as tg:
            for build_id in build_ids:
                tg.start_soon(self._fetch_build, build_id)
        return _minus(self.requests, before)

    def get(self, key: BuildKey) -> InputSchema | Unavailable:
        """The schema of a loaded (Actor, build), or why there is none to check against."""
        found = self._build_id(key)
        if isinstance(found, Unavailable):
            return found
        return self._builds.get(found) or Unavailable(
            "internal error: the build was not loaded", "internal-error"
        )

    def _build_id(self, key: BuildKey) -> str | Unavailable:
        ref, tag = key
        actor = self._actors.get(ref)
        if actor is None:
            return Unavailable("internal error: the Actor was not loaded", "internal-error")
        if isinstance(actor, Unavailable):
            return actor
        if tag is None:
            defaults = actor.get("defaultRunOptions")
            tag = defaults.get("build") if isinstance(defaults, dict) else None
            tag = tag if isinstance(tag, str) and tag else "latest"
        tagged = actor.get("taggedBuilds")
        tagged = tagged if isinstance(tagged, dict) else {}
        info = tagged.get(tag)
        if not isinstance(info, dict):  # a build number rather than a tag?
            info = next(
                (i for i in tagged.values() if isinstance(i, dict) and i.get("buildNumber") == tag),
                None,
            )
        build_id = info.get("buildId") if isinstance(info, dict) else None
        if not isinstance(build_id, str) or not build_id:
            known = ", ".join(sorted(str(t) for t in tagged)) or "none"
            return Unavailable(
                f"the Actor {ref} has no build tagged {tag!r} (its tags: {known}), so its input "
                "cannot be checked; set options.build to one of them",
                "unknown-build-tag",
            )
        return build_id

    async def _fetch_actor(self, ref: str) -> None:
        path = "/v2/actors/" + quote(ref.replace("/", "~", 1), safe="~")
        self._actors[ref] = await self._get(path, f"the Actor {ref}")

    async def _fetch_build(self, build_id: str) -> None:
        path = "/v2/actor-builds/" + quote(build_id, safe="")
        what = f"the build {build_id}"
        data = await self._get(path, what)
        if isinstance(data, Unavailable):
            self._builds[build_id] = data
            return
        try:
            self._builds[build_id] = InputSchema.from_build(data)
        except InvalidSchemaError as exc:
            self._builds[build_id] = Unavailable(
                f"{what} has an unusable input schema: {exc}", "invalid-input-schema"
            )

    async def _get(self, path: str, what: str) -> dict[str, JSON] | Unavailable:
        async with self._limit:
            try:
                reply = await self._client.request("GET", path)
            except ApiError as exc:
                self.requests += exc.stats
                if exc.status == 404:
                    return Unavailable(
                        f"{what} was not found, so the input cannot be checked", "record-not-found"
                    )
                return Unavailable(f"could not read {what} to check the input: {exc}", exc.kind)
        self.requests += reply.stats
        body = reply.value
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return Unavailable(f"GET {path}: the answer has no `data` object", "transport-error")
        return data


def _minus(after: RequestStats, before: RequestStats) -> RequestStats:
    return RequestStats(
        after.total - before.total,
        after.retried - before.retried,
        after.rate_limited - before.rate_limited,
    )


class LocalSchemas:
    """Input schemas from files, by Actor reference (``username~name``, or ``username/name``)."""

    def __init__(self, schemas: Mapping[str, InputSchema]) -> None:
        self._schemas = {_norm(ref): schema for ref, schema in schemas.items()}

    @classmethod
    def read(cls, files: Mapping[str, str], *, base: str = ".") -> LocalSchemas:
        """Read ``{actor: path}``; a relative path is relative to ``base`` (the task file's
        folder). ``TasksyncError`` names a file that cannot be read or used."""
        schemas = {}
        for ref, path in files.items():
            full = path if os.path.isabs(path) else os.path.join(base, path)
            try:
                with open(full, encoding="utf-8") as f:
                    doc = json.load(f)
                schemas[ref] = InputSchema(_schema_of(doc))
            except OSError as exc:
                raise TasksyncError(
                    f"cannot read the input schema of {ref} ({path}): {exc.strerror}"
                ) from None
            except (ValueError, InvalidSchemaError) as exc:
                raise TasksyncError(
                    f"the input schema of {ref} ({path}) is not usable: {exc}"
                ) from None
        return cls(schemas)

    def get(self, actor: str | None) -> InputSchema | None:
        """The schema for ``actor``, or None when none was given for it (not checked)."""
        return self._schemas.get(_norm(actor)) if actor else None

    def __bool__(self) -> bool:
        return bool(self._schemas)


def _schema_of(doc: JSON) -> JSON:
    """An input schema file, or an ``actor.json`` whose ``input`` holds the schema inline."""
    if isinstance(doc, dict) and isinstance(doc.get("input"), dict) and "properties" not in doc:
        return doc["input"]
    if not isinstance(doc, dict):
        raise InvalidSchemaError("the file does not hold a JSON object")
    return doc


def _norm(ref: str) -> str:
    return ref.replace("/", "~", 1) if "~" not in ref else ref
