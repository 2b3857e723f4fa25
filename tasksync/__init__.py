"""tasksync: configuration as code for Apify Actor tasks.

The library API mirrors the commands, with the same defaults (the safety limit applies; missing
tasks are created only when asked)::

    import os
    import tasksync

    settings = tasksync.Settings.from_environ(os.environ)
    async with tasksync.Session(settings) as session:
        plan = await session.plan("tasks.yaml")
        print(tasksync.report.plan_text(plan))
        report = await session.apply(plan)

(One-shot ``tasksync.sync.plan()`` and ``tasksync.sync.apply()`` open a session of their own.
They are not attributes of the package: ``tasksync.plan`` is the module of the Plan value.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tasksync._version import __version__

if TYPE_CHECKING:
    from tasksync import report
    from tasksync.config import Config, load
    from tasksync.plan import Plan
    from tasksync.report import Report
    from tasksync.sync import Session, Settings

# Imported on first use (PEP 562): every command imports this package, and only `plan`, `apply`
# and `export` need the network stack (aiohttp, anyio) that the library API pulls in.
_WHERE = {
    "Config": "tasksync.config",
    "load": "tasksync.config",
    "Plan": "tasksync.plan",
    "Report": "tasksync.report",
    "Session": "tasksync.sync",
    "Settings": "tasksync.sync",
}

__all__ = [
    "Config",
    "Plan",
    "Report",
    "Session",
    "Settings",
    "__version__",
    "load",
    "report",
]


def __getattr__(name: str) -> Any:
    if name == "report":
        return importlib.import_module("tasksync.report")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
