"""The writable fields of a task and their rules, and how a PUT combines them with the stored ones.

Pure functions on JSON values: they check a POST/PUT body and raise ``InvalidInput`` naming the
first bad field, or merge option patches. ``tasks.py`` applies them to stored tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeGuard

from tasksync.emulator.core import JSON, check_name
from tasksync.emulator.errors import InvalidInput

TASK_BODY_KEYS = ("name", "options", "input", "title", "description", "actorStandby")
"""The writable fields of a task (seed entries use them too)."""

Rules = Mapping[str, tuple[Callable[[object], bool], str]]


def _is_int(value: object) -> TypeGuard[int]:
    """An integer as JavaScript sees it (``Number.isInteger``): ``5.0`` is one."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _check_memory(value: object) -> bool:
    return _is_int(value) and 128 <= value <= 32768 and int(value) & (int(value) - 1) == 0


OPTION_RULES: Rules = {
    "build": (_is_str, "a string"),
    "timeoutSecs": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "memoryMbytes": (_check_memory, "a power of 2 between 128 and 32768"),
    "maxItems": (lambda v: _is_int(v) and v > 0, "an integer > 0"),
    "maxTotalChargeUsd": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "restartOnError": (_is_bool, "a boolean"),
}

STANDBY_RULES: Rules = {
    "isEnabled": (_is_bool, "a boolean"),
    "desiredRequestsPerActorRun": (_is_int, "an integer"),
    "maxRequestsPerActorRun": (_is_int, "an integer"),
    "idleTimeoutSecs": (_is_int, "an integer"),
    "build": (_is_str, "a string"),
    "memoryMbytes": (_is_int, "an integer"),
    "disableStandbyFieldsOverride": (_is_bool, "a boolean"),
    "shouldPassActorInput": (_is_bool, "a boolean"),
}


def _check_object(field: str, value: object, rules: Rules) -> dict[str, JSON] | None:
    """A nested object whose every key is known and nullable (``options``, ``actorStandby``)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f'Field "{field}" must be an object or null')
    for key, item in value.items():
        rule = rules.get(key)
        if rule is None:
            raise InvalidInput(f'Field "{field}.{key}" is not allowed')
        if item is not None and not rule[0](item):
            raise InvalidInput(f'Field "{field}.{key}" must be {rule[1]} or null')
    return value


def _check_text(field: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f'Field "{field}" must be a string or null')
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
            raise InvalidInput('Field "name" must be a non-empty string without "~" or "/"')
        fields["name"] = name
    if "options" in body:
        fields["options"] = _check_object("options", body["options"], OPTION_RULES)
    if "actorStandby" in body:
        fields["actorStandby"] = _check_object("actorStandby", body["actorStandby"], STANDBY_RULES)
    if "input" in body:
        value = body["input"]
        if value is not None and not isinstance(value, dict | list):
            raise InvalidInput('Field "input" must be a JSON object (or an array) or null')
        fields["input"] = value
    for key in ("title", "description"):
        if key in body:
            fields[key] = _check_text(key, body[key])
    return fields


def without_nulls(value: Mapping[str, JSON] | None) -> dict[str, JSON] | None:
    """``value`` without its null keys (a null key means "not set"); None stays None."""
    return None if value is None else {k: v for k, v in value.items() if v is not None}


def merged(old: Mapping[str, JSON] | None, patch: Mapping[str, JSON]) -> dict[str, JSON]:
    """Per-key merge: present keys overwrite, absent keys stay, ``None`` removes a key."""
    result = dict(old or {})
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result
