"""``tasksync init``: a commented starter task file, and the JSON Schema next to it for editors.

The starter is the bundled example (every feature, commented), pointed at the schema file it is
written with. Files that exist are kept unless ``force``: an init never loses a user's work.
"""

from __future__ import annotations

import json
import os
from importlib import resources

from tasksync import config
from tasksync.console import check_output_path, write_atomic
from tasksync.errors import TasksyncError

SCHEMA_NAME = "tasksync.schema.json"
_EXAMPLE_NAME = "tasks.example.yaml"


def starter_text(file_name: str) -> str:
    """The bundled example, its first line pointing at ``SCHEMA_NAME`` and its commands at
    ``file_name``."""
    text = (resources.files("tasksync") / _EXAMPLE_NAME).read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    assert first.startswith("# yaml-language-server: $schema="), "the example's first line"
    head = f"# yaml-language-server: $schema={SCHEMA_NAME}"
    return (
        head
        + "\n"
        + rest.replace(_EXAMPLE_NAME, file_name).replace("tasks.schema.json", SCHEMA_NAME)
    )


def init(path: str, *, force: bool = False) -> list[str]:
    """Write the starter file at ``path`` and the schema beside it; the paths written."""
    schema_path = os.path.join(os.path.dirname(path), SCHEMA_NAME)
    targets = [path, schema_path]
    for target, option in zip(targets, ("FILE", "schema"), strict=True):
        check_output_path(target, option)
        if os.path.exists(target) and not force:
            raise TasksyncError(f"{target} exists; pass --force to overwrite it")
    write_atomic(path, starter_text(os.path.basename(path)))
    write_atomic(schema_path, json.dumps(config.schema(), indent=2) + "\n")
    return targets
