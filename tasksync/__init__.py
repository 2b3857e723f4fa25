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
"""

from tasksync import report
from tasksync._version import __version__
from tasksync.config import Config, load
from tasksync.plan import Plan
from tasksync.report import Report
from tasksync.sync import Session, Settings, apply, plan

__all__ = [
    "Config",
    "Plan",
    "Report",
    "Session",
    "Settings",
    "__version__",
    "apply",
    "load",
    "plan",
    "report",
]
