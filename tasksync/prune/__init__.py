"""Deletion: what the file no longer declares, inside what it says it owns (``prune:``).

- ``select``: pure rules: which resources are planned for deletion, the schedule-task rule,
  ``--target``/``--match``, and the stale check of a saved plan's deletions;
- ``apply``: the deletions sent, schedules first, after every other change.

``plan_deletions`` reads what it needs (one list request per 1,000 tasks, and as many for the
schedules) and returns the planned deletions. Nothing is planned without a ``prune:`` section.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasksync import config, targeting
from tasksync.api import ApifyClient
from tasksync.model import RequestStats, TaskChange, TaskRef
from tasksync.prune.select import candidates, guard, narrow
from tasksync.settings import Account


async def plan_deletions(
    client: ApifyClient,
    cfg: config.Config,
    account: Account,
    *,
    targets: Sequence[str] = (),
    match: str | None = None,
) -> tuple[tuple[TaskChange, ...], tuple[TaskChange, ...], RequestStats]:
    """(the tasks' deletions, the schedules', the requests it took). A targeted run deletes
    only tasks it selects, and no schedule (the schedules are left out of it)."""
    owned = cfg.prune
    spent = RequestStats()
    if owned is None:
        return (), (), spent
    targeted = bool(targets) or match is not None
    tasks: list[TaskChange] = []
    if owned.tasks:
        listing = await client.all_tasks()
        spent += listing.stats
        tasks = candidates(listing.value, owned.tasks, [s.ref for s in cfg.tasks], account)
        if targeted:
            tasks = narrow(tasks, targets, match)
            known = [s.ref for s in cfg.tasks] + [TaskRef.parse(c.key) for c in tasks]
            targeting.check(known, [TaskRef.parse(t.strip()) for t in targets], match)
    schedules: list[TaskChange] = []
    if (owned.schedules and not targeted) or tasks:
        listed = await client.all_schedules()
        spent += listed.stats
        if owned.schedules and not targeted:
            declared = [s.ref for s in cfg.schedules]
            schedules = candidates(listed.value, owned.schedules, declared, account)
        tasks = guard(tasks, schedules, listed.value, cfg.schedules, account)
    return tuple(tasks), tuple(schedules), spent
