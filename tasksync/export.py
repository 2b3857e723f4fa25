"""``tasksync export``: turn the live tasks of an account into a task file.

The file is exact (planning it right away shows no changes) and stable (exporting twice without
changes gives the same bytes). Only the token owner's tasks are exported unless
``include_others`` (the list also holds tasks the user only ran). Option keys that tasksync does
not know yet are left out and named in the header: the schema stays strict (a misspelt key in a
hand-written file is an error, not a silent no-op), and what the file leaves out is never
touched (``options`` is sent whole, the live keys included). Tasks are sorted by key, values
keep the API's order, and a value is hoisted into ``defaults`` only when every exported task has
exactly that value. Encrypted secrets are written as ``${VAR}`` placeholders with a comment
naming the task and field, never in clear (a valid name, never one tasksync reads itself);
literal ``${`` in strings is escaped as ``$${`` so that loading
the file gives back the same text. Every field that the Actor build's input schema marks
``isSecret`` is a placeholder too, even when the account stores it as a literal (the file plans
with no changes once the variables hold those values); input keys that look like credentials but
are not marked secret are warned about.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from tasksync.actorschemas import OnlineSchemas
from tasksync.api import ApifyClient
from tasksync.config import yamlread
from tasksync.engine import ProgressCallback, read_listed
from tasksync.inputschema import InputSchema
from tasksync.jsonutil import escape_token, json_equal
from tasksync.model import JSON, OPTION_KEYS, RemoteTask
from tasksync.run import Interrupt
from tasksync.schedules import export as schedule_export
from tasksync.secrets import is_encrypted


@dataclass
class Export:
    text: str
    tasks: int
    variables: dict[str, str] = field(default_factory=dict)
    """Environment variables the file needs -> which task field each stands for."""
    warnings: list[str] = field(default_factory=list)
    """Input keys that look like credentials but are not marked secret, one line each."""


_CREDENTIAL = re.compile(
    r"(?i)(token|api[_-]?key|password|passwd|secret|credential|auth|private[_-]?key|cookie)"
)


def select(
    items: Sequence[dict[str, JSON]],
    match: str | None,
    actor: str | None,
    owner_id: str | None = None,
) -> list[str]:
    """Keys (``username~name``) of the listed tasks that pass the filters, sorted. With
    ``owner_id``, only that user's tasks (the list also holds tasks the user merely used)."""
    keys = []
    for item in items:
        if owner_id is not None and item.get("userId") != owner_id:
            continue
        key = f"{item.get('username')}~{item.get('name')}"
        if match and not (
            fnmatch.fnmatchcase(key, match) or fnmatch.fnmatchcase(str(item.get("name")), match)
        ):
            continue
        if actor and actor not in (
            item.get("actId"),
            f"{item.get('actUsername')}~{item.get('actName')}",
            item.get("actName"),
        ):
            continue
        keys.append(key)
    return sorted(keys)


async def export(
    client: ApifyClient,
    *,
    match: str | None = None,
    actor: str | None = None,
    concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
    include_others: bool = False,
) -> Export:
    """The token owner's tasks (everyone's listed, with ``include_others``) as a task file."""
    owner_id = None
    if not include_others:
        owner_id = str((await client.me()).value.get("id"))
    listing = (await client.all_tasks()).value
    actors = {
        str(item.get("actId")): f"{item.get('actUsername')}~{item.get('actName')}"
        for item in listing
    }
    keys = select(listing, match, actor, owner_id)
    found = await read_listed(
        client, keys, concurrency=concurrency, progress=progress, interrupt=interrupt
    )
    tasks = [(k, t) for k, t in zip(keys, found, strict=True) if t is not None]
    secret_keys = await _secret_keys(client, tasks, concurrency)
    schedules, schedule_actors = await schedule_export.read(
        client, concurrency=concurrency, interrupt=interrupt
    )
    task_keys = {str(i.get("id")): f"{i.get('username')}~{i.get('name')}" for i in listing}
    return render(
        tasks,
        actors,
        schedule_export.entries(schedules, task_keys, schedule_actors),
        secret_keys=secret_keys,
    )


async def _secret_keys(
    client: ApifyClient, tasks: Sequence[tuple[str, RemoteTask]], concurrency: int | None
) -> dict[str, tuple[str, ...]]:
    """Task key -> the input keys its Actor build's schema marks ``isSecret`` (two requests per
    distinct Actor and build; a schema that cannot be read marks nothing)."""
    schemas = OnlineSchemas(client, concurrency=concurrency)
    wanted = {key: (str(t.data.get("actId")), _build(t)) for key, t in tasks}
    await schemas.load(wanted.values())
    found = {}
    for key, build_key in wanted.items():
        schema = schemas.get(build_key)
        if isinstance(schema, InputSchema) and schema.secret_keys:
            found[key] = schema.secret_keys
    return found


def _build(task: RemoteTask) -> str | None:
    options = task.data.get("options")
    build = options.get("build") if isinstance(options, dict) else None
    return build if isinstance(build, str) and build else None


def render(
    tasks: Sequence[tuple[str, RemoteTask]],
    actors: dict[str, str],
    schedules: Sequence[dict[str, Any]] = (),
    *,
    secret_keys: dict[str, tuple[str, ...]] | None = None,
) -> Export:
    """The task file for these tasks and schedule entries (pure); ``secret_keys``: task key ->
    the input keys its Actor's schema marks ``isSecret``."""
    variables: dict[str, str] = {}
    warnings: list[str] = []
    entries: list[dict[str, Any]] = []
    unknown: set[str] = set()
    for key, remote in tasks:
        data = remote.data
        too_deep = _too_deep(data.get("input"))
        if too_deep:
            warnings.append(f"{key}: left out: {too_deep}")
            continue
        entry: dict[str, Any] = {"task": key}
        act = actors.get(str(data.get("actId")))
        if act:
            entry["actor"] = act
        for name in ("title", "description"):
            if data.get(name) is not None:
                entry[name] = _escape(data[name])
        remote_options = data.get("options") or {}
        options = {k: v for k, v in remote_options.items() if v is not None and k in OPTION_KEYS}
        unknown.update(k for k in remote_options if k not in OPTION_KEYS)
        if options:
            entry["options"] = _escape(options)
        task_input = data.get("input")
        if isinstance(task_input, dict):
            secret = (secret_keys or {}).get(key, ())
            warnings += _credentials(key, task_input, secret)
            task_input = {k: _Literal(v) if k in secret else v for k, v in task_input.items()}
            entry["input"] = _placeholders(_escape(task_input), key, "/input", variables)
        entries.append(entry)

    text = _yaml(entries, schedules, variables)
    header = (
        "# Exported by `tasksync export`. Review it, commit it, then `tasksync plan` this file.\n"
    )
    if variables:
        header += "# Needs these environment variables: " + ", ".join(sorted(variables)) + "\n"
    if unknown:
        header += (
            "# Left out, unmanaged and untouched (option keys tasksync does not know yet): "
            + ", ".join(sorted(unknown))
            + "\n"
        )
    return Export(header + text, len(entries), variables, warnings)


def _yaml(
    entries: list[dict[str, Any]], schedules: Sequence[dict[str, Any]], variables: dict[str, str]
) -> str:
    """The file's YAML: the options and input every entry shares hoisted into ``defaults``,
    and each line that reads a variable followed by where its secret was."""
    defaults = _hoist(entries)
    doc: dict[str, Any] = {"version": 1}
    if defaults:
        doc["defaults"] = defaults
    doc["tasks"] = entries
    if schedules:
        doc["schedules"] = [_escape(s) for s in schedules]
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**9)
    lines = []
    for line in text.splitlines():
        for var, where in variables.items():
            if "${" + var + "}" in line:
                line += f"  # secret: {where}"
                break
        lines.append(line)
    return "\n".join(lines) + "\n"


class _Literal:
    """A secret field's value stored in clear: exported as a placeholder all the same."""

    def __init__(self, value: JSON) -> None:
        self.value = value


_INPUT_LEVELS = yamlread.MAX_DEPTH - 3
"""The deepest input a task file can hold: the document, ``tasks`` and the entry nest it."""


def _too_deep(task_input: JSON) -> str | None:
    """Why an input cannot be written into a task file that reads back, if it cannot."""
    depth = yamlread.measure(task_input)[1]
    if depth <= _INPUT_LEVELS:
        return None
    return (
        f"its input nests {depth} levels of objects and arrays; a task file holds at most "
        f"{_INPUT_LEVELS} (the file would not read back). Manage this task outside the file"
    )


def _credentials(key: str, task_input: dict[str, JSON], secret: tuple[str, ...]) -> list[str]:
    return [
        f"{key} /input/{escape_token(k)} looks like a credential, but the Actor's input schema "
        "does not mark it secret (isSecret), so Apify stores it in clear"
        for k, v in task_input.items()
        if k not in secret
        and _CREDENTIAL.search(k)
        and isinstance(v, str)
        and v
        and not is_encrypted(v)
    ]


def _hoist(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Move option keys and top-level input keys that every task shares into ``defaults``."""
    if len(entries) < 2:
        return {}
    defaults: dict[str, Any] = {}
    for section in ("options", "input"):
        if not all(isinstance(e.get(section), dict) for e in entries):
            continue
        first = entries[0][section]
        shared = {
            k: v
            for k, v in first.items()
            if "${" not in repr(v)  # keep secret placeholders next to their comment
            and all(k in e[section] and json_equal(e[section][k], v) for e in entries[1:])
        }
        if shared:
            defaults[section] = shared
            for e in entries:
                for k in shared:
                    del e[section][k]
                if not e[section]:
                    # An empty mapping still manages the field (replace mode): keep it.
                    e[section] = {}
    return defaults


def _escape(value: JSON) -> JSON:
    if isinstance(value, _Literal):
        return value
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def _placeholders(value: JSON, key: str, path: str, variables: dict[str, str]) -> JSON:
    if isinstance(value, _Literal) and is_encrypted(value.value):
        value = value.value
    if isinstance(value, _Literal) or is_encrypted(value):
        name = _var_name(key, path, variables)
        variables[name] = f"{key} {path}"
        return "${" + name + "}"
    if isinstance(value, dict):
        return {
            k: _placeholders(v, key, f"{path}/{escape_token(k)}", variables)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_placeholders(v, key, f"{path}/{i}", variables) for i, v in enumerate(value)]
    return value


RESERVED_VARIABLES = ("APIFY_TOKEN", "APIFY_API_BASE_URL")
"""Variables tasksync reads itself (with any ``TASKSYNC_`` one): never a placeholder's name."""


def _var_name(key: str, path: str, taken: dict[str, str]) -> str:
    """A valid variable name (a letter first) for a secret, never one tasksync reads itself."""
    name = key.partition("~")[2] + "_" + path.removeprefix("/input/")
    base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()
    if not base[:1].isalpha() or base in RESERVED_VARIABLES or base.startswith("TASKSYNC_"):
        base = "SECRET_" + base
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate
