"""Builds: each Actor's tagged builds and the input schema each one carries.

A build is finished the moment it exists. Its input schema is answered twice, as Apify does:
``actorDefinition.input`` (an object) and the older ``inputSchema`` (the same, as a JSON
string). An input is validated against it with Apify's rules (``tasksync.inputschema``: defaults
filled in first, a required array needs an item, no schema accepts any object).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tasksync.emulator.core import JSON
from tasksync.emulator.errors import InvalidInput
from tasksync.inputschema import InputSchema, InvalidSchemaError


@dataclass(eq=False)
class Build:
    id: str
    act_id: str
    user_id: str
    build_number: str
    created_at: str
    input_schema: dict[str, JSON] | None = None
    checker: InputSchema = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self.checker = InputSchema(self.input_schema)
        except InvalidSchemaError as exc:
            raise ValueError(str(exc)) from None

    @property
    def secret_keys(self) -> tuple[str, ...]:
        return self.checker.secret_keys

    def to_json(self) -> dict[str, JSON]:
        """The ``Build`` object as ``GET /v2/actor-builds/{id}`` returns it."""
        schema = self.input_schema
        return {
            "id": self.id,
            "actId": self.act_id,
            "userId": self.user_id,
            "startedAt": self.created_at,
            "finishedAt": self.created_at,
            "status": "SUCCEEDED",
            "meta": {"origin": "WEB"},
            "buildNumber": self.build_number,
            "stats": None,
            "options": None,
            "usage": None,
            "inputSchema": json.dumps(schema, indent=2) if schema is not None else None,
            "actorDefinition": {"actorSpecification": 1, "input": schema}
            if schema is not None
            else {"actorSpecification": 1},
        }

    def validate(self, value: JSON) -> None:
        """``InvalidInput`` listing every reason when ``value`` is not a valid input."""
        violations = self.checker.check(value)
        if violations:
            reasons = "; ".join(
                f"Field input{v.pointer.replace('/', '.')} {v.message}" if v.pointer else v.message
                for v in violations
            )
            raise InvalidInput(f"Input is not valid: {reasons}")
