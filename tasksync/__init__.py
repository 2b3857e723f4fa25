"""tasksync: configuration as code for Apify Actor tasks.

The library API mirrors the commands::

    import tasksync

    settings = tasksync.Settings.from_environ(os.environ)
    plan, stats = await tasksync.plan("tasks.yaml", settings=settings)
    print(tasksync.report.plan_text(plan))
    result = await tasksync.apply(plan, settings=settings)
"""

from tasksync import report
from tasksync._version import __version__
from tasksync.config import Config, load
from tasksync.core import Settings, apply, plan
from tasksync.planning import Plan
from tasksync.report import Report

__all__ = [
    "Config",
    "Plan",
    "Report",
    "Settings",
    "__version__",
    "apply",
    "load",
    "plan",
    "report",
]
