"""The diff engine: (TaskSpec, RemoteTask) -> TaskChange. Pure: no I/O, no clock, no randomness.

Rules (DESIGN.md, "Diff semantics"):

- JSON values compare as a JavaScript server sees them (``jsonutil.json_equal``): ``5`` is
  ``5.0``, but ``True`` is not ``1`` and ``"1"`` is not ``1``; mapping key order does not
  matter, list order does.
- Options are compared per declared key; ``None`` means "unset", and an absent remote key is unset.
- ``inputMode: replace`` makes the declared input the whole input; ``merge`` manages only the
  declared keys (mappings deep-merged into the remote input).
- ``ignore`` pointers are neither compared nor changed: their remote value goes into the payload.
- A remote ``ENCRYPTED_VALUE:...`` or ``ENCRYPTED_JSON:...`` string is Apify's encrypted secret;
  it cannot be compared with the file's value, so it is not drift unless ``rotate_secrets`` is
  set. When the input is sent anyway, each secret field the file declares is either ``kept``
  (its file value comes from the environment: the stored encrypted value is sent back, which
  Apify stores unchanged) or ``rotated`` (``rotate_secrets``, or a literal in the file: the
  file's value is sent). ``TaskChange.secret_fields`` says which, per field.
- The payload carries only the changed top-level fields; ``options`` complete (remote overlaid
  with the changes, ``None`` for keys to unset) and ``input`` whole, so it is right whether the API
  merges or replaces ``options``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping

from tasksync.jsonutil import (
    MISSING,
    child,
    covered,
    deep_merge,
    escape_token,
    json_equal,
    pointer_tokens,
    resolve,
)
from tasksync.model import (
    JSON,
    MANAGED_FIELDS,
    Action,
    Basis,
    ChangeKind,
    FieldChange,
    RemoteTask,
    TaskChange,
    TaskSpec,
)
from tasksync.secrets import keep_secrets, mask


def _place(doc: JSON, tokens: list[str], value: JSON, source: JSON) -> None:
    """Set (or, for ``MISSING``, delete) the value at ``tokens`` in ``doc``, in place.

    ``value`` is what ``source`` (the remote input) holds at ``tokens``, so ``source`` has a
    container at every level above it. Where ``doc`` has none there (the file leaves the parent
    out, or sets it to a scalar), one is made after the remote's: the ignored path keeps its
    remote value, as promised, and the parent becomes what the remote has around it. Positions
    that cannot exist (a list index beyond the file's list) are left alone."""
    node, src = doc, source
    for token in tokens[:-1]:
        src = child(src, token)
        if type(node) is dict:
            sub = node.get(token, MISSING)
            if value is MISSING:
                if sub is MISSING:
                    return
            elif type(sub) not in (dict, list) or type(sub) is not type(src):
                sub = node[token] = {} if type(src) is dict else copy.deepcopy(src)
            node = sub
        elif type(node) is list and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return
    last = tokens[-1]
    if type(node) is dict:
        if value is MISSING:
            node.pop(last, None)
        else:
            node[last] = value
    elif type(node) is list and last.isdigit() and int(last) < len(node) and value is not MISSING:
        node[int(last)] = value


# -- field changes ------------------------------------------------------------------------------


def _walk(
    old: JSON, new: JSON, path: str, rotate_secrets: bool, sensitive: frozenset[str]
) -> Iterator[FieldChange]:
    """Field changes turning ``old`` into ``new``, descending into mappings only."""
    if type(old) is dict and type(new) is dict:
        for key, value in new.items():
            sub = f"{path}/{escape_token(key)}"
            if key not in old:
                yield FieldChange(sub, ChangeKind.ADD, None, mask(value, sub, sensitive))
            else:
                yield from _walk(old[key], value, sub, rotate_secrets, sensitive)
        for key, value in old.items():
            if key not in new:
                sub = f"{path}/{escape_token(key)}"
                yield FieldChange(sub, ChangeKind.REMOVE, mask(value, sub, sensitive), None)
    elif not json_equal(old, new, not rotate_secrets):
        yield FieldChange(
            path, ChangeKind.CHANGE, mask(old, path, sensitive), mask(new, path, sensitive)
        )


def _under(prefix: str, pointers: tuple[str, ...]) -> list[list[str]]:
    """Tokens (below ``prefix``) of the pointers that start with ``prefix``."""
    return [pointer_tokens(p)[1:] for p in pointers if p == prefix or p.startswith(prefix + "/")]


def _desired_input(spec: TaskSpec, remote_input: JSON) -> JSON:
    """The input the task should have. Shares structure with the spec and the remote task
    unless ignore pointers are placed into it: read it, and copy it before handing it out."""
    declared = spec.desired["input"]
    if spec.input_mode == "merge" and type(remote_input) is dict:
        target = deep_merge(remote_input, declared)
    else:
        target = declared
    ignored = _under("/input", spec.ignore)
    if not ignored:
        return target
    target = copy.deepcopy(target)
    for tokens in ignored:
        if not tokens:
            return copy.deepcopy(remote_input)
        kept = resolve(remote_input, tokens)
        _place(target, tokens, kept if kept is MISSING else copy.deepcopy(kept), remote_input)
    return target


def diff_task(spec: TaskSpec, remote: RemoteTask, *, rotate_secrets: bool = False) -> TaskChange:
    """Compare one task's desired state with its live state."""
    changes: list[FieldChange] = []
    payload: dict[str, JSON] = {}
    _diff_texts(spec, remote.data, changes, payload)
    _diff_options(spec, remote.data, changes, payload)
    secret_fields = _diff_input(spec, remote.data, rotate_secrets, changes, payload)
    if not payload:
        return TaskChange(
            key=spec.key, action=Action.NOOP, task_id=remote.id, modified_at=remote.modified_at
        )
    fields = tuple(f for f in MANAGED_FIELDS if f in spec.desired)
    return TaskChange(
        key=spec.key,
        action=Action.UPDATE,
        task_id=remote.id,
        modified_at=remote.modified_at,
        changes=tuple(changes),
        payload=payload,
        secret_refs=_secret_refs(spec, payload, secret_fields),
        secret_fields=secret_fields,
        basis=Basis(fields, spec.ignore, managed_view(remote.data, fields, spec.ignore)),
        sensitive=spec.sensitive,
    )


# Each ``_diff_*`` adds its field's changes to ``changes`` and what is sent to ``payload``.


def _diff_texts(
    spec: TaskSpec, data: Mapping[str, JSON], changes: list[FieldChange], payload: dict[str, JSON]
) -> None:
    """``title`` and ``description``: sent whole when they differ."""
    for name in ("title", "description"):
        if name not in spec.desired:
            continue
        have, want = data.get(name), spec.desired[name]
        if not json_equal(have, want):
            path = f"/{name}"
            changes.append(
                FieldChange(
                    path,
                    ChangeKind.CHANGE,
                    mask(have, path, spec.sensitive),
                    mask(want, path, spec.sensitive),
                )
            )
            payload[name] = want


def _diff_options(
    spec: TaskSpec, data: Mapping[str, JSON], changes: list[FieldChange], payload: dict[str, JSON]
) -> None:
    """``options`` key by key (``null`` removes one); sent as the live options with the
    changed keys over them, so that a PUT that replaces them whole keeps the rest."""
    if "options" not in spec.desired or covered("/options", spec.ignore):
        return
    remote_options = data.get("options") or {}
    ignored = {t[0] for t in _under("/options", spec.ignore) if t}
    changed: dict[str, JSON] = {}
    for key, want in spec.desired["options"].items():
        have = remote_options.get(key)
        if key in ignored or json_equal(have, want):
            continue
        path = f"/options/{escape_token(key)}"
        kind = (
            ChangeKind.ADD
            if have is None
            else ChangeKind.REMOVE
            if want is None
            else ChangeKind.CHANGE
        )
        changes.append(
            FieldChange(
                path, kind, mask(have, path, spec.sensitive), mask(want, path, spec.sensitive)
            )
        )
        changed[key] = want
    if changed:
        payload["options"] = {**remote_options, **changed}


def _diff_input(
    spec: TaskSpec,
    data: Mapping[str, JSON],
    rotate_secrets: bool,
    changes: list[FieldChange],
    payload: dict[str, JSON],
) -> dict[str, str]:
    """``input``, sent whole when it differs; returns what happens to each secret field sent
    (``kept``: its stored encrypted value goes back; ``rotated``: the file's value is sent)."""
    if "input" not in spec.desired:
        return {}
    remote_input = data.get("input")
    target = _desired_input(spec, remote_input)
    target, secret_fields = keep_secrets(spec.env_refs, remote_input, target, rotate_secrets)
    if json_equal(remote_input, target, not rotate_secrets):
        return {}  # nothing is sent for them
    old = {} if remote_input is None and type(target) is dict and target else remote_input
    changes.extend(_walk(old, target, "/input", rotate_secrets, spec.sensitive))
    payload["input"] = copy.deepcopy(target)
    return secret_fields


def managed_view(
    data: Mapping[str, JSON], fields: tuple[str, ...], ignore: tuple[str, ...]
) -> dict[str, JSON]:
    """The part of a task that a planned update rests on: ``fields`` (``options`` and ``input``
    whole, since the payload carries them whole) without the ``ignore`` pointers, which a plan
    never rests on. Compared by ``jsonutil.canonical``, so ``5`` and ``5.0`` are one value."""
    view: dict[str, JSON] = {}
    for name in fields:
        value = copy.deepcopy(data.get(name))
        if name in ("options", "input"):
            if name == "options":
                value = {k: v for k, v in (value or {}).items() if v is not None}
            for tokens in _under("/" + name, ignore):
                if not tokens:
                    value = None
                    break
                _place(value, tokens, MISSING, value)
        view[name] = value
    return view


def carry_ignored(
    payload: Mapping[str, JSON], ignore: tuple[str, ...], fresh: Mapping[str, JSON]
) -> dict[str, JSON]:
    """``payload`` with the values at ``ignore`` pointers taken from ``fresh`` (the task as it
    is now), as planning would have carried them: an ignored path may move after planning."""
    result = copy.deepcopy(dict(payload))
    for name in ("options", "input"):
        ignored = _under("/" + name, ignore)
        if name not in result or not ignored:
            continue
        now = fresh.get(name)
        if name == "options":
            live = now or {}
            for tokens in ignored:
                if tokens and tokens[0] in live:
                    result[name][tokens[0]] = copy.deepcopy(live[tokens[0]])
                elif tokens:
                    result[name].pop(tokens[0], None)
            continue
        for tokens in ignored:
            if not tokens:
                result[name] = copy.deepcopy(now)
                break
            kept = resolve(now, tokens)
            _place(result[name], tokens, kept if kept is MISSING else copy.deepcopy(kept), now)
    return result


def create_change(spec: TaskSpec, owner: str | None = None) -> TaskChange:
    """The change that creates a missing task from its spec (needs ``actor`` and a name).

    A task is always created in the token owner's account (``owner``, when known): an entry
    that names another user's task cannot be created by this token."""
    if spec.ref.username is not None and owner is not None and spec.ref.username != owner:
        return TaskChange(
            key=spec.key,
            action=Action.ERROR,
            error=(
                f"task not found, and it cannot be created: a task is always created in the "
                f"account of the token's owner ({owner}), not in {spec.ref.username}'s"
            ),
            error_type="record-not-found",
        )
    if spec.actor is None:
        return TaskChange(
            key=spec.key,
            action=Action.ERROR,
            error="task not found (add `actor:` to the entry to create it)",
            error_type="record-not-found",
        )
    if spec.ref.name is None:
        return TaskChange(
            key=spec.key,
            action=Action.ERROR,
            error="task not found, and a task given by ID cannot be created: name it instead",
            error_type="record-not-found",
        )
    payload: dict[str, JSON] = {"actId": actor_id(spec.actor), "name": spec.ref.name}
    changes = [FieldChange("/name", ChangeKind.ADD, None, spec.ref.name)]
    for name in ("title", "description", "options", "input"):
        if name not in spec.desired:
            continue
        value = spec.desired[name]
        if name == "options":
            value = {k: v for k, v in value.items() if v is not None}
        payload[name] = copy.deepcopy(value)
        path = f"/{name}"
        if type(value) is dict:
            changes.extend(_walk({}, value, path, False, spec.sensitive))
        else:
            changes.append(
                FieldChange(path, ChangeKind.ADD, None, mask(value, path, spec.sensitive))
            )
    return TaskChange(
        key=spec.key,
        action=Action.CREATE,
        changes=tuple(changes),
        payload=payload,
        secret_refs=_secret_refs(spec, payload),
        sensitive=spec.sensitive,
    )


def actor_id(actor: str) -> str:
    """The form the API needs for an Actor: an ID as it is, ``username/name`` (as the Apify
    console writes it) as ``username~name``."""
    return actor.replace("/", "~", 1) if "~" not in actor else actor


def _secret_refs(
    spec: TaskSpec, payload: Mapping[str, JSON], secret_fields: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The env-sourced values the payload carries (not those replaced by a kept secret)."""
    kept = tuple(p for p, what in (secret_fields or {}).items() if what == "kept")
    return {
        pointer: template
        for pointer, template in spec.env_refs.items()
        if resolve(payload, pointer_tokens(pointer)) is not MISSING and not covered(pointer, kept)
    }


def verify(payload: Mapping[str, JSON], task: Mapping[str, JSON]) -> list[str]:
    """Where the task returned by the API differs from the payload it was sent; [] if converged.

    Options compare per key (``None`` = unset); encrypted secrets match any string.
    """
    problems: list[str] = []
    for name, want in payload.items():
        if name in ("actId",):
            continue
        have = task.get(name)
        if name == "options":
            have_options = have or {}
            for key, value in want.items():
                if not json_equal(have_options.get(key), value):
                    problems.append(f"/options/{escape_token(key)}")
        elif not json_equal(have, want, encrypted_matches=True):
            problems.append(f"/{name}")
    return problems
