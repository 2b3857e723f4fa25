"""The saved form of one planned change, and the checksum of a saved plan.

A saved plan (``Plan.to_json``) is a list of these entries: each change's key, action, field
changes and, with payloads, the payload sealed (``secrets.seal``: values from the environment as
their ``${VAR}`` template and a keyed hash, other sensitive values encrypted) and the ``basis``
the change rests on (a keyed hash of the managed fields it saw). ``entry_change`` reads one
back with today's environment and says why it is stale, if it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from tasksync.model import Action, Basis, ChangeKind, FieldChange, TaskChange
from tasksync.secrets import fingerprint, seal, secret_fields_json, unseal


def entry_json(
    change: TaskChange,
    include_payloads: bool,
    salt: bytes,
    cache: dict[str, str],
    key: bytes | None,
    id_key: str = "taskId",
) -> dict[str, Any]:
    """One change in the saved form (a task's, or a schedule's under ``scheduleId``)."""
    entry: dict[str, Any] = {
        "key": change.key,
        "action": change.action.value,
        id_key: change.task_id,
        "modifiedAt": change.modified_at,
        "changes": [c.to_json() for c in change.changes],
    }
    if change.secret_fields:
        entry["secretFields"] = secret_fields_json(change.secret_fields)
    if change.error is not None:
        entry["error"] = change.error
    if include_payloads and change.payload:
        assert key is not None
        payload, secrets = seal(change, salt, cache, key)
        entry["payload"] = payload
        if secrets:
            entry["secrets"] = secrets
        if change.basis is not None:
            entry["basis"] = _basis_json(change.basis, key)
    return entry


def _basis_json(basis: Basis, key: bytes) -> dict[str, Any]:
    return {
        "fields": list(basis.fields),
        "ignore": list(basis.ignore),
        "hash": basis.digest or fingerprint(basis.seen, key),
    }


def entry_change(
    entry: dict[str, Any],
    salt: bytes,
    environ: Mapping[str, str],
    cache: dict[tuple[str, str], str],
    key: bytes,
    id_key: str = "taskId",
) -> tuple[TaskChange, str | None]:
    secrets = entry.get("secrets", [])
    opened = unseal(entry.get("payload") or {}, secrets, salt, environ, cache, key)
    basis = entry.get("basis")
    change = TaskChange(
        key=entry["key"],
        action=Action(entry["action"]),
        task_id=entry.get(id_key),
        modified_at=entry.get("modifiedAt"),
        changes=tuple(
            FieldChange(c["path"], ChangeKind(c["kind"]), c.get("old"), c.get("new"))
            for c in entry["changes"]
        ),
        payload=opened.payload,
        error=entry.get("error"),
        secret_refs=opened.refs,
        secret_fields={f["path"]: f["action"] for f in entry.get("secretFields", [])},
        basis=None
        if basis is None
        else Basis(tuple(basis["fields"]), tuple(basis["ignore"]), digest=str(basis["hash"])),
        sensitive=frozenset(s["path"] for s in secrets),
    )
    return change, opened.stale


def read_entries(
    entries: Iterable[dict[str, Any]],
    salt: bytes,
    environ: Mapping[str, str],
    cache: dict[tuple[str, str], str],
    key: bytes,
    id_key: str = "taskId",
) -> tuple[tuple[TaskChange, ...], dict[str, str]]:
    """The changes of a list of entries, and the stale ones (key -> why)."""
    changes: list[TaskChange] = []
    stale: dict[str, str] = {}
    for entry in entries:
        change, reason = entry_change(entry, salt, environ, cache, key, id_key)
        changes.append(change)
        if reason:
            stale[change.key] = reason
    return tuple(changes), stale


def checksum(doc: Mapping[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
