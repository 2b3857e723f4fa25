"""Shared fixtures: every async test runs on asyncio (aiohttp needs it); a live emulator; and a
checker for the Apify OpenAPI schemas in ``openapi-tasks.json`` (a subset of Apify's spec)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tasksync.emulator import Emulator, EmulatorSettings

SchemaCheck = Callable[[Any, str], None]
"""``check(instance, "TaskResponse")`` raises ``jsonschema.ValidationError`` on a mismatch."""

_SPEC = Path(__file__).with_name("openapi-tasks.json")
_SPEC_URI = "urn:tasksync:openapi-tasks"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A running emulator with default settings (request log on, default rate limits)."""
    async with Emulator(EmulatorSettings()) as emu:
        yield emu


@pytest.fixture(scope="session")
def api_schema() -> SchemaCheck:
    """Validate a JSON value against a named schema of the bundled OpenAPI document."""
    spec = json.loads(_SPEC.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, DRAFT202012.create_resource(spec))
    validators: dict[str, Draft202012Validator] = {}

    def check(instance: Any, name: str) -> None:
        if name not in spec["components"]["schemas"]:
            raise KeyError(f"no schema {name!r} in {_SPEC.name}")
        validator = validators.get(name)
        if validator is None:
            ref = {"$ref": f"{_SPEC_URI}#/components/schemas/{name}"}
            validator = validators[name] = Draft202012Validator(ref, registry=registry)
        validator.validate(instance)

    return check
