"""The library API: a ``Session`` owns one run against the API, from the file to the report.

::

    settings = tasksync.Settings.from_environ(os.environ)
    async with tasksync.Session(settings) as session:
        plan = await session.plan("tasks.yaml")
        print(tasksync.report.plan_text(plan))
        report = await session.apply(plan)            # refuses an unsafe plan; creates nothing

The defaults are the command line's: ``apply`` refuses a plan over the safety limit unless
``force``, and creates missing tasks only with ``create_missing``. Every method returns a value
(``Plan``, ``Report``); the requests a step took travel inside it.

Before its first fan-out a session checks the API once (``check``: one ``GET /v2/users/me``, at
most two attempts): a wrong URL, an API that cannot be reached or a refused token is one clear
error in a second or two, whatever the number of tasks, and the answer tells the account
(``session.account``) that saved plans are bound to.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Self

from tasksync import config, engine, inputcheck, targeting, writes
from tasksync.actorschemas import OnlineSchemas
from tasksync.api import ApifyClient
from tasksync.engine import ProgressCallback
from tasksync.errors import (
    ApiError,
    TasksyncError,
)
from tasksync.model import RemoteTask, RequestStats, TaskChange, TaskResult, TaskSpec
from tasksync.plan import Plan, make_plan, plan_task
from tasksync.prune import plan_deletions
from tasksync.prune.apply import delete_step
from tasksync.report import Report, now
from tasksync.run import Interrupt, Interrupted
from tasksync.schedules.apply import schedules_step
from tasksync.schedules.refresh import plan_schedules
from tasksync.secrets import plan_key
from tasksync.settings import Account, Settings, whose_token
from tasksync.stale import check as stale_check
from tasksync.stopped import stopped_midway, stopped_report

__all__ = ["Account", "Session", "Settings", "apply", "plan"]

Source = str | os.PathLike[str] | config.Config


class Session:
    """One run against the API: ``async with Session(settings) as s: await s.plan(...)``."""

    def __init__(
        self,
        settings: Settings,
        *,
        environ: Mapping[str, str] | None = None,
        progress: ProgressCallback | None = None,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.settings = settings
        self.environ = os.environ if environ is None else environ
        self.progress = progress
        self._interrupt = interrupt
        self._client: ApifyClient | None = None
        self._account: Account | None = None
        self._unbilled = RequestStats()  # the check's requests, not yet in a plan or report

    async def __aenter__(self) -> Self:
        self._client = await self.settings.client().__aenter__()
        if self._interrupt is None:
            self._interrupt = Interrupt()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.__aexit__(*exc)
            self._client = None

    @property
    def client(self) -> ApifyClient:
        if self._client is None:
            raise RuntimeError("a Session must be used as `async with`")
        return self._client

    @property
    def plan_key(self) -> bytes:
        """The key that seals and opens this token's saved plans."""
        return plan_key(self.settings.token)

    @property
    def interrupt(self) -> Interrupt:
        assert self._interrupt is not None, "set in __aenter__"
        return self._interrupt

    @property
    def concurrency(self) -> int:
        """The requests allowed in flight now (the adaptive window moves during a run)."""
        return self.client.gate.limit.limit if self._client is not None else 0

    @property
    def account(self) -> Account | None:
        """The token's account, once ``check`` (or the first step) has run."""
        return self._account

    async def check(self) -> Account:
        """Check the API once, before any fan-out: ``GET /v2/users/me`` with at most two
        attempts. A wrong URL, an unreachable API or a refused token fails here, in seconds."""
        if self._account is not None:
            return self._account
        reply = await whose_token(self.client)
        self._unbilled += reply.stats
        self._account = reply.value
        return self._account

    def _bill(self) -> RequestStats:
        spent, self._unbilled = self._unbilled, RequestStats()
        return spent

    # -- the steps -------------------------------------------------------------------------------

    async def plan(
        self,
        source: Source,
        *,
        rotate_secrets: bool = False,
        create_missing: bool = False,
        force: bool = False,
        targets: Sequence[str] = (),
        match: str | None = None,
        show_unmanaged: bool = False,
        check_inputs: bool = True,
        check_all_inputs: bool = False,
        prune: bool = False,
    ) -> Plan:
        """Load the file (unless given a loaded Config), read the live tasks, and diff them.

        ``create_missing``, ``force`` and ``prune`` are recorded in the plan, which then
        predicts what applying it does; ``targets``/``match`` select some of the file's tasks
        (the safety limit counts those; the schedules are left out); ``show_unmanaged`` lists
        the account's tasks that the file does not name. With ``check_inputs``, each input to be
        written (each input, with ``check_all_inputs``) is checked against its Actor build's
        input schema; a refused input makes that task a plan error. A ``prune:`` section plans
        the deletion of what the file owns and no longer declares."""
        cfg = (
            source
            if isinstance(source, config.Config)
            else config.load(source, environ=self.environ)
        )
        owned = cfg.prune.tasks if cfg.prune is not None else ()  # a target may name a deletion
        specs = targeting.select(cfg.tasks, targets, match, deletable=owned)
        account = await self.check()
        plan, remotes = await self._plan_tasks(cfg, specs, account, rotate_secrets)
        if check_inputs:
            plan = await self._check_inputs(plan, specs, remotes, check_all_inputs)
        if cfg.schedules and not targets and match is None:  # the schedules go with every task
            plan = await self._plan_schedules(plan, cfg, specs)
        gone, timed_gone, spent = await plan_deletions(
            self.client, cfg, account, targets=targets, match=match
        )
        self._unbilled += spent
        unmanaged = None
        if show_unmanaged:
            listing = await self.client.all_tasks()  # one request per 1,000 tasks
            unmanaged = tuple(targeting.unmanaged(listing.value, cfg.tasks))
            self._unbilled += listing.stats
        return dataclasses.replace(
            plan,
            requests=self._bill(),
            create_missing=create_missing,
            force=force,
            unmanaged=unmanaged,
            deletions=gone,
            schedule_deletions=timed_gone,
            owns=cfg.prune,
            prune=prune,
            api_url=self.client.base_url,
            user_id=account.user_id,
            username=account.username,
        )

    async def _plan_tasks(
        self, cfg: config.Config, specs: Sequence[TaskSpec], account: Account, rotate: bool
    ) -> tuple[Plan, list[RemoteTask | ApiError]]:
        """Read every task of ``specs`` and diff it as it arrives, while the rest are in flight:
        the plan of the tasks, and what was found for each."""
        changes: list[TaskChange | None] = [None] * len(specs)
        remotes: list[RemoteTask | ApiError | None] = [None] * len(specs)
        async with engine.refresh(
            self.client,
            [spec.ref.path_id for spec in specs],
            progress=self.progress,
            interrupt=self.interrupt,
        ) as fetched:
            async for item in fetched:
                i = item.index
                remotes[i] = item.task
                changes[i] = plan_task(
                    specs[i], item.task, rotate_secrets=rotate, owner=account.username
                )
                self._unbilled += item.requests  # billed to the plan, or to the report of a stop
        # refresh returned: every task was read and diffed
        found = [r for r in remotes if r is not None]
        plan = make_plan(
            specs,
            found,
            source=str(cfg.path),
            safety=cfg.safety,
            changes=[c for c in changes if c is not None],
            owner=account.username,
        )
        return plan, found

    async def _plan_schedules(
        self, plan: Plan, cfg: config.Config, specs: Sequence[TaskSpec]
    ) -> Plan:
        """The plan with the schedules' changes, planned after the tasks': their actions may
        name tasks this plan creates."""
        schedules, spent = await plan_schedules(
            self.client,
            cfg.schedules,
            list(zip(specs, plan.changes, strict=True)),
            concurrency=self.settings.concurrency,
            interrupt=self.interrupt,
        )
        self._unbilled += spent
        return dataclasses.replace(plan, schedules=schedules)

    async def _check_inputs(
        self,
        plan: Plan,
        specs: Sequence[TaskSpec],
        remotes: Sequence[RemoteTask | ApiError],
        check_all: bool,
    ) -> Plan:
        """The plan with each written input (each input, with ``check_all``) checked against its
        Actor build's input schema; the schemas are read once each."""
        found = inputcheck.targets(plan, specs, remotes, check_all=check_all)
        schemas = OnlineSchemas(self.client, concurrency=self.settings.concurrency)
        self._unbilled += await schemas.load(t.key for t in found)
        return inputcheck.check_plan(plan, specs, found, schemas.get)

    async def apply(
        self,
        plan: Plan,
        *,
        create_missing: bool = False,
        force: bool = False,
        prune: bool = False,
    ) -> Report:
        """Apply a plan. Refuses one over the safety limit unless ``force``; creates missing
        tasks only with ``create_missing`` and deletes only with ``prune``, last; skips the
        tasks of a saved plan that moved since. The flags a plan was made with count as given."""
        plan = dataclasses.replace(plan, prune=prune or plan.prune)
        force = force or plan.force
        create_missing = create_missing or plan.create_missing
        if not force:
            plan.raise_if_unsafe()
        began = now()
        account = await self.check()
        if plan.saved:  # before any request that writes
            plan.raise_if_elsewhere(self.client.base_url, account.user_id, account.username)
        changes, stale = await self._fresh(plan)
        outcome = await writes.apply(
            self.client,
            changes,
            stale=stale,
            create_missing=create_missing,
            progress=self.progress,
            interrupt=self.interrupt,
        )
        schedules: list[TaskResult] = []
        if plan.schedules and outcome.fatal is None:  # after the tasks: actions may run them
            outcome, schedules = await schedules_step(
                self.client,
                plan,
                outcome,
                create_missing,
                self.settings.concurrency,
                self.interrupt,
            )
        results = outcome.results
        if plan.deletions or plan.schedule_deletions:  # last: nothing written then points at them
            outcome, results, schedules = await delete_step(
                self.client, plan, outcome, schedules, self.progress, self.interrupt
            )
        return Report(
            command="apply",
            started_at=began,
            ended_at=now(),
            results=results,
            requests=(plan.requests + self._bill() + outcome.requests).as_dict(),
            interrupted=outcome.interrupted,
            error=stopped_midway(outcome.fatal, plan),
            source=plan.source,
            schedules=schedules,
        )

    async def _fresh(self, plan: Plan) -> tuple[Sequence[TaskChange], dict[str, str]]:
        """The changes to send and the stale ones (key -> why): for a saved plan, checked
        against the live tasks first (``stale.check``)."""
        if not (plan.saved and plan.to_apply):
            return plan.changes, dict(plan.stale)
        checked = await stale_check(
            self.client,
            plan,
            self.plan_key,
            concurrency=self.settings.concurrency,
            progress=self.progress,
            interrupt=self.interrupt,
        )
        self._unbilled += checked.requests
        return checked.changes, dict(checked.stale)

    async def plan_and_apply(
        self,
        source: Source | Plan,
        *,
        show: Callable[[Plan], None] | None = None,
        confirm: Callable[[Plan], Awaitable[bool]] | None = None,
        create_missing: bool = False,
        force: bool = False,
        rotate_secrets: bool = False,
        started_at: datetime | None = None,
        targets: Sequence[str] = (),
        match: str | None = None,
        check_inputs: bool = True,
        prune: bool = False,
    ) -> Report | None:
        """Plan (unless given a saved plan), ``show`` it, check it is safe, ``confirm`` it when
        it changes anything, and apply it. None when the confirmation was refused.

        Once the file is read, every way the run can end gives a report that says why: a
        refusal (safety, a plan made elsewhere), a refused token, an API that cannot be
        reached, an interrupt. Only an invalid file raises (nothing was read, nothing sent).
        ``started_at``: when the run began, if before this call (the file read by the caller)."""
        began = started_at or now()
        cfg = None
        if not isinstance(source, Plan) and not isinstance(source, config.Config):
            cfg = config.load(source, environ=self.environ)
        elif isinstance(source, config.Config):
            cfg = source
        plan = source if isinstance(source, Plan) else None
        try:
            if cfg is not None:
                plan = await self.plan(
                    cfg,
                    rotate_secrets=rotate_secrets,
                    create_missing=create_missing,
                    force=force,
                    targets=targets,
                    match=match,
                    check_inputs=check_inputs,
                    prune=prune,
                )
            assert plan is not None
            plan = dataclasses.replace(plan, prune=prune or plan.prune)
            if show is not None:
                show(plan)
            if plan.has_changes:
                if not (force or plan.force):
                    plan.raise_if_unsafe()
                if confirm is not None and not await confirm(plan):
                    return None
            report = await self.apply(plan, create_missing=create_missing, force=True)
        except Interrupted:
            return stopped_report(cfg, plan, began, None, self._bill())
        except TasksyncError as exc:
            return stopped_report(cfg, plan, began, exc, self._bill())
        return dataclasses.replace(report, started_at=began)


async def plan(
    source: Source,
    *,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    rotate_secrets: bool = False,
    create_missing: bool = False,
    force: bool = False,
    targets: Sequence[str] = (),
    match: str | None = None,
    check_inputs: bool = True,
    check_all_inputs: bool = False,
    prune: bool = False,
) -> Plan:
    """``Session.plan`` in a session of its own (the same options and defaults)."""
    async with Session(settings, environ=environ) as session:
        return await session.plan(
            source,
            rotate_secrets=rotate_secrets,
            create_missing=create_missing,
            force=force,
            targets=targets,
            match=match,
            check_inputs=check_inputs,
            check_all_inputs=check_all_inputs,
            prune=prune,
        )


async def apply(
    the_plan: Plan,
    *,
    settings: Settings,
    create_missing: bool = False,
    force: bool = False,
    prune: bool = False,
) -> Report:
    """``Session.apply`` in a session of its own (same defaults: safety checked, no creation,
    no deletion)."""
    async with Session(settings) as session:
        return await session.apply(
            the_plan, create_missing=create_missing, force=force, prune=prune
        )
