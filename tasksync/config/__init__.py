"""The task file: YAML -> ``Config`` (every task's ``TaskSpec``, the safety limits) or all problems.

The modules, in the order a file goes through them:

- ``loader``: reads the bytes, runs the passes below, places every problem (file, line, path);
- ``yamlread``: the fast, safe YAML reader (events -> JSON values, with ``yamlscalars`` for the
  scalars it accepts and ``yamlerrors`` for the syntax errors it explains);
- ``validation``: the JSON Schema check (``tasksync/schema/tasks.schema.json``);
- ``tasks``: per task, ``${VAR}`` (``interpolate``), ``defaults``, the checks across tasks;
- ``schedules``: the ``schedules:`` list (cron expressions, time zones, actions);
- ``yamllocate``: positions, found by a second walk only when a problem must be placed;
- ``issues``: what every pass reports (a path, a position, a sentence).
"""

from tasksync.config.loader import MAX_FILE_BYTES, Config, expand, load, load_text
from tasksync.config.validation import schema
from tasksync.model import Safety

__all__ = [
    "MAX_FILE_BYTES",
    "Config",
    "Safety",
    "expand",
    "load",
    "load_text",
    "schema",
]
