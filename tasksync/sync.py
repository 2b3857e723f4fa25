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
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Self

from tasksync import config, engine
from tasksync.api import DEFAULT_API_URL, ApifyClient
from tasksync.engine import ProgressCallback
from tasksync.errors import ApiError, NotFoundError, TasksyncError
from tasksync.model import RemoteTask, RequestStats, Status, TaskChange, TaskResult
from tasksync.plan import Plan, make_plan, plan_task
from tasksync.report import Report, now
from tasksync.run import Interrupt, Interrupted
from tasksync.secrets import plan_key, redact, secret_values
from tasksync.stale import check as stale_check
from tasksync.throttle import RateLimiter, RetryPolicy

Source = str | os.PathLike[str] | config.Config


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How to reach the API and how hard to push it. Validated when built."""

    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    concurrency: int = 16
    max_rate: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not self.token:
            raise TasksyncError(
                "no API token: set APIFY_TOKEN or pass --token-file (the token is read from the "
                "environment or a file so that it never appears in a command line)"
            )
        if self.concurrency < 1:
            raise TasksyncError("--concurrency must be at least 1")
        if self.max_rate is not None and self.max_rate <= 0:
            raise TasksyncError("--max-rate must be positive")
        if not self.api_url.startswith(("http://", "https://")):
            raise TasksyncError(f"the API URL must start with http:// or https:// ({self.api_url})")

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        *,
        token_file: str | None = None,
        api_url: str | None = None,
        concurrency: int = 16,
        max_rate: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Settings:
        """Token from ``--token-file`` or ``APIFY_TOKEN``; URL from ``--api-url`` or
        ``APIFY_API_BASE_URL``."""
        if token_file is not None:
            try:
                token = Path(token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise TasksyncError(
                    f"cannot read the token file {token_file}: {exc.strerror}"
                ) from None
        else:
            token = environ.get("APIFY_TOKEN", "").strip()
        url = api_url or environ.get("APIFY_API_BASE_URL") or DEFAULT_API_URL
        return cls(
            token=token,
            api_url=url,
            concurrency=concurrency,
            max_rate=max_rate,
            retry=retry or RetryPolicy(),
        )

    def client(self) -> ApifyClient:
        return ApifyClient(
            self.token,
            base_url=self.api_url,
            retry=self.retry,
            limiter=RateLimiter(self.max_rate),
            concurrency=self.concurrency,
        )


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

    # -- the steps -------------------------------------------------------------------------------

    async def plan(self, source: Source, *, rotate_secrets: bool = False) -> Plan:
        """Load the file (unless given a loaded Config), read the live tasks, and diff them."""
        cfg = (
            source
            if isinstance(source, config.Config)
            else config.load(source, environ=self.environ)
        )
        specs = cfg.tasks
        changes: list[TaskChange | None] = [None] * len(specs)
        remotes: list[RemoteTask | ApiError | None] = [None] * len(specs)
        owner, requests = await self._owner()
        async with engine.refresh(
            self.client,
            [spec.ref.path_id for spec in specs],
            concurrency=self.settings.concurrency,
            progress=self.progress,
            interrupt=self.interrupt,
        ) as fetched:
            async for item in fetched:  # diffed as it arrives, while the rest are in flight
                i = item.index
                remotes[i] = item.task
                changes[i] = plan_task(
                    specs[i], item.task, rotate_secrets=rotate_secrets, owner=owner
                )
                requests += item.requests
        # refresh returned: every task was read and diffed
        plan = make_plan(
            specs,
            [r for r in remotes if r is not None],
            source=str(cfg.path),
            safety=cfg.safety,
            changes=[c for c in changes if c is not None],
            owner=owner,
        )
        return dataclasses.replace(plan, requests=requests)

    async def _owner(self) -> tuple[str | None, RequestStats]:
        """The token owner's username (where a missing task would be created), once per plan;
        None from a server without ``/v2/users/me``."""
        try:
            me = await self.client.me()
        except NotFoundError as exc:
            return None, exc.stats
        owner = me.value.get("username")
        return (owner if isinstance(owner, str) else None), me.stats

    async def apply(
        self,
        plan: Plan,
        *,
        create_missing: bool = False,
        force: bool = False,
    ) -> Report:
        """Apply a plan. Refuses one over the safety limit unless ``force``; creates missing
        tasks only with ``create_missing``; skips the tasks of a saved plan that moved since."""
        if not force:
            plan.raise_if_unsafe()
        began = now()
        stale = dict(plan.stale)
        requests = plan.requests
        changes = plan.changes
        if plan.saved and plan.to_apply:
            checked = await stale_check(
                self.client,
                plan,
                self.plan_key,
                concurrency=self.settings.concurrency,
                progress=self.progress,
                interrupt=self.interrupt,
            )
            changes, stale, requests = checked.changes, checked.stale, requests + checked.requests
        outcome = await engine.apply(
            self.client,
            changes,
            stale=stale,
            create_missing=create_missing,
            concurrency=self.settings.concurrency,
            progress=self.progress,
            interrupt=self.interrupt,
        )
        error = None
        if outcome.fatal is not None:
            error = "the API refused the token mid-run, so the run stopped: " + redact(
                str(outcome.fatal), secret_values(plan.to_apply)
            )
        return Report(
            command="apply",
            started_at=began,
            ended_at=now(),
            results=outcome.results,
            requests=(requests + outcome.requests).as_dict(),
            interrupted=outcome.interrupted,
            error=error,
            source=plan.source,
        )

    async def plan_and_apply(
        self,
        source: Source | Plan,
        *,
        show: Callable[[Plan], None] | None = None,
        confirm: Callable[[Plan], Awaitable[bool]] | None = None,
        create_missing: bool = False,
        force: bool = False,
        rotate_secrets: bool = False,
    ) -> Report | None:
        """Plan (unless given a saved plan), ``show`` it, check it is safe, ``confirm`` it when
        it changes anything, and apply it. None when the confirmation was refused."""
        began = now()
        if isinstance(source, Plan):
            plan = source
        else:
            cfg = (
                source
                if isinstance(source, config.Config)
                else config.load(source, environ=self.environ)
            )
            try:
                plan = await self.plan(cfg, rotate_secrets=rotate_secrets)
            except Interrupted:
                return self._not_started(cfg, began)
        if show is not None:
            show(plan)
        if plan.has_changes:
            if not force:
                plan.raise_if_unsafe()
            if confirm is not None and not await confirm(plan):
                return None
        report = await self.apply(plan, create_missing=create_missing, force=True)
        return dataclasses.replace(report, started_at=began)

    def _not_started(self, cfg: config.Config, began: datetime) -> Report:
        why = "not started: interrupted while reading the live tasks"
        return Report(
            command="apply",
            started_at=began,
            ended_at=now(),
            results=[
                TaskResult(spec.key, Status.SKIPPED, error_type="skipped", error=why)
                for spec in cfg.tasks
            ],
            interrupted=True,
            error="interrupted while reading the live tasks; nothing was changed",
            source=str(cfg.path),
        )


async def plan(
    source: Source,
    *,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    rotate_secrets: bool = False,
) -> Plan:
    """``Session.plan`` in a session of its own."""
    async with Session(settings, environ=environ) as session:
        return await session.plan(source, rotate_secrets=rotate_secrets)


async def apply(
    the_plan: Plan,
    *,
    settings: Settings,
    create_missing: bool = False,
    force: bool = False,
) -> Report:
    """``Session.apply`` in a session of its own (same defaults: safety checked, no creation)."""
    async with Session(settings) as session:
        return await session.apply(the_plan, create_missing=create_missing, force=force)
