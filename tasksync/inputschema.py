"""An Actor's input schema, and an input checked against it the way Apify checks it.

Pure (no I/O): ``InputSchema.from_build`` reads the schema out of a build object, ``check``
returns the violations of one input. Apify's rules, from its open-source ``apify-shared-js``:

- the schema is JSON Schema (draft 2019-09 keywords) plus Apify's own keywords (``editor``,
  ``isSecret``, ``prefill``, ``sectionCaption``...), which carry no validation meaning and are
  ignored, except ``nullable: true`` (``null`` is then accepted);
- each top-level property's ``default`` is filled in before validating, so a required property
  that has a default is never missing;
- a required array must have at least one item;
- an Actor without an input schema accepts any object.

Some values cannot be seen, only their kind: a secret Apify answers encrypted
(``ENCRYPTED_VALUE:...`` is a string, ``ENCRYPTED_JSON:...`` an object or array), and, offline, a
``${VAR}`` whose variable is not set (``UNSET``; it counts as a present string, so a pull request
from a fork does not fail on a secret it cannot see). Such a value is checked for its type only.

Messages never repeat the input's values (only the schema's), so a secret cannot leak through
them; each names the field by its JSON Pointer relative to the input (``/startUrls/0/url``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import (  # type: ignore[import-untyped]  # no stubs among the dependencies
    Draft201909Validator,
    SchemaError,
    ValidationError,
)

from tasksync.jsonutil import ENCRYPTED_JSON, ENCRYPTED_VALUE, escape_token
from tasksync.model import JSON

UNSET = "\x00tasksync-unset\x00"
"""Stands for an unset ``${VAR}`` in offline checks: a string whose content is unknown."""

_SHOWN_ENUM = 8


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason an input is refused: where (a pointer into the input) and why."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}" if self.pointer else self.message


class InvalidSchemaError(ValueError):
    """The Actor's input schema is not a usable JSON Schema."""


class InputSchema:
    """A compiled input schema (``None``: the Actor has none and accepts any object)."""

    def __init__(self, schema: Mapping[str, JSON] | None) -> None:
        self.schema = dict(schema) if schema is not None else None
        properties = (self.schema or {}).get("properties")
        self._properties: dict[str, Any] = properties if isinstance(properties, dict) else {}
        self.secret_keys = tuple(
            k for k, p in self._properties.items() if isinstance(p, dict) and p.get("isSecret")
        )
        """Top-level properties that Apify stores encrypted (``isSecret: true``)."""
        required = (self.schema or {}).get("required")
        self._required = (
            [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        )
        self._defaults = {
            k: p["default"]
            for k, p in self._properties.items()
            if isinstance(p, dict) and "default" in p
        }
        self._validator: Draft201909Validator | None = None
        if self.schema is not None:
            try:
                Draft201909Validator.check_schema(self.schema)
            except SchemaError as exc:
                raise InvalidSchemaError(
                    f"the input schema is not valid JSON Schema: {exc.message}"
                ) from None
            self._validator = Draft201909Validator(_with_nullable(self.schema))

    @classmethod
    def from_build(cls, build: Mapping[str, JSON]) -> InputSchema:
        """The schema of a build object: ``actorDefinition.input``, else the older
        ``inputSchema`` (the same schema as a JSON string), else none."""
        definition = build.get("actorDefinition")
        schema = definition.get("input") if isinstance(definition, dict) else None
        if schema is None and isinstance(build.get("inputSchema"), str):
            try:
                schema = json.loads(build["inputSchema"])
            except ValueError as exc:
                raise InvalidSchemaError(f"the build's inputSchema is not JSON ({exc})") from None
        if schema is not None and not isinstance(schema, dict):
            raise InvalidSchemaError("the input schema is not a JSON object")
        return cls(schema)

    def with_defaults(self, value: Mapping[str, JSON]) -> dict[str, JSON]:
        """``value`` with each missing top-level property's ``default`` filled in (a copy)."""
        filled = dict(value)
        for key, default in self._defaults.items():
            if key not in filled:
                filled[key] = default
        return filled

    def check(self, value: JSON) -> list[Violation]:
        """Every violation of ``value`` (an Actor input), in a stable order; empty if valid."""
        if not isinstance(value, dict):
            return [Violation("", f"the input must be an object (it is {_kind(value)})")]
        if self._validator is None:
            return []
        filled = self.with_defaults(value)
        found: dict[str, Violation] = {}
        for error in self._validator.iter_errors(filled):
            for violation in _describe(error):
                found.setdefault(violation.pointer + "\n" + violation.message, violation)
        for key in self._required:
            prop = self._properties.get(key)
            item = filled.get(key)
            if isinstance(prop, dict) and prop.get("type") == "array" and item == []:
                v = Violation("/" + escape_token(key), "is required, so it needs at least one item")
                found.setdefault(v.pointer + "\n" + v.message, v)
        return sorted(found.values(), key=lambda v: (v.pointer, v.message))


def _with_nullable(schema: dict[str, JSON]) -> dict[str, JSON]:
    """The schema with ``null`` accepted by each top-level ``nullable: true`` property."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    changed = {}
    for key, prop in properties.items():
        if isinstance(prop, dict) and prop.get("nullable") is True:
            changed[key] = {
                "anyOf": [{"type": "null"}, {k: v for k, v in prop.items() if k != "default"}]
            }
    if not changed:
        return schema
    return {**schema, "properties": {**properties, **changed}}


def _pointer(path: Any) -> str:
    return "".join("/" + escape_token(str(token)) for token in path)


def _describe(error: ValidationError) -> list[Violation]:
    """The violations one jsonschema error stands for (none when it concerns a value that
    cannot be seen, beyond its kind)."""
    where = _pointer(error.absolute_path)
    instance, keyword, expected = error.instance, error.validator, error.validator_value
    if keyword == "required":
        missing = [k for k in expected if isinstance(instance, dict) and k not in instance]
        return [Violation(f"{where}/{escape_token(k)}", "is required") for k in missing]
    if keyword == "additionalProperties" and isinstance(instance, dict):
        extra = [k for k in instance if k not in (error.schema.get("properties") or {})]
        return [
            Violation(f"{where}/{escape_token(k)}", "is not a field of this Actor's input")
            for k in extra
        ]
    if _opaque(instance):
        if keyword != "type":
            return []  # its content is unknown: only its kind can be checked
        kinds = expected if isinstance(expected, list) else [expected]
        if instance.startswith(ENCRYPTED_JSON) and ({"object", "array"} & set(kinds)):
            return []
    return [Violation(where, _message(str(keyword), expected, instance))]


def _opaque(value: JSON) -> bool:
    return type(value) is str and (
        value.startswith((ENCRYPTED_VALUE, ENCRYPTED_JSON)) or UNSET in value
    )


def _message(keyword: str, expected: JSON, instance: JSON) -> str:
    """A message from the schema's side only: the input's value is never repeated."""
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"must be {' or '.join(_article(str(k)) for k in kinds)} (it is {_kind(instance)})"
    if keyword == "enum" and isinstance(expected, list):
        shown = ", ".join(json.dumps(v) for v in expected[:_SHOWN_ENUM])
        more = f" and {len(expected) - _SHOWN_ENUM} more" if len(expected) > _SHOWN_ENUM else ""
        return f"must be one of {shown}{more}"
    simple = {
        "const": f"must be {json.dumps(expected)}",
        "minimum": f"must be at least {expected}",
        "maximum": f"must be at most {expected}",
        "exclusiveMinimum": f"must be more than {expected}",
        "exclusiveMaximum": f"must be less than {expected}",
        "minLength": f"must be at least {expected} characters long",
        "maxLength": f"must be at most {expected} characters long",
        "minItems": f"must have at least {expected} items",
        "maxItems": f"must have at most {expected} items",
        "minProperties": f"must have at least {expected} fields",
        "maxProperties": f"must have at most {expected} fields",
        "pattern": f"must match the pattern {json.dumps(expected)}",
        "uniqueItems": "must not repeat items",
        "multipleOf": f"must be a multiple of {expected}",
        "format": f"must be in the format {json.dumps(expected)}",
    }
    return simple.get(keyword, f"does not satisfy the schema's {keyword!r} rule")


def _article(kind: str) -> str:
    return {"integer": "an integer", "object": "an object", "array": "an array"}.get(
        kind, "null" if kind == "null" else f"a {kind}"
    )


def _kind(value: JSON) -> str:
    if _opaque(value):
        return "an encrypted object or array" if value.startswith(ENCRYPTED_JSON) else "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "an integer" if value.is_integer() else "a number"
    names: dict[type, str] = {str: "string", dict: "object", list: "array"}
    return _article(names.get(type(value), "value"))
