"""The library API: plan and apply as coroutines, built from config, api, engine and planning.

The command line is a thin layer over these functions; a program can call them directly::

    settings = Settings.from_environ(os.environ)
    plan, stats = await tasksync.plan("tasks.yaml", settings=settings)
    report = await tasksync.apply(plan, settings=settings)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from tasksync import config
from tasksync.api import DEFAULT_API_URL, ApifyClient, RequestStats
from tasksync.engine import Interrupt, ProgressCallback, redact, refresh, secret_values
from tasksync.engine import apply as apply_plan
from tasksync.errors import ApiError, TasksyncError
from tasksync.model import RemoteTask, TaskChange
from tasksync.planning import Plan, make_plan, plan_task
from tasksync.report import Report, now
from tasksync.throttle import RateLimiter, RetryPolicy


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
        return cls(token=token, api_url=url, concurrency=concurrency, max_rate=max_rate)

    def client(self) -> ApifyClient:
        return ApifyClient(
            self.token,
            base_url=self.api_url,
            retry=self.retry,
            limiter=RateLimiter(self.max_rate),
            concurrency=self.concurrency,
        )


async def plan(
    source: str | os.PathLike[str] | config.Config,
    *,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    rotate_secrets: bool = False,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
    client: ApifyClient | None = None,
) -> tuple[Plan, RequestStats]:
    """Load the file (unless given a loaded Config), read the live tasks, and diff them."""
    cfg = (
        source
        if isinstance(source, config.Config)
        else config.load(source, environ=os.environ if environ is None else environ)
    )
    if client is None:
        async with settings.client() as own:
            return await plan(
                cfg,
                settings=settings,
                rotate_secrets=rotate_secrets,
                progress=progress,
                interrupt=interrupt,
                client=own,
            )
    specs = cfg.tasks
    changes: list[TaskChange | None] = [None] * len(specs)

    def diff_now(i: int, remote: RemoteTask | ApiError) -> None:
        changes[i] = plan_task(specs[i], remote, rotate_secrets=rotate_secrets)

    remotes = await refresh(
        client,
        specs,
        concurrency=settings.concurrency,
        progress=progress,
        interrupt=interrupt,
        on_result=diff_now,
    )
    result = make_plan(
        specs,
        remotes,
        source=str(cfg.path),
        safety=cfg.safety,
        changes=cast(list[TaskChange], changes),  # refresh returned: every task was diffed
    )
    return result, client.stats


async def apply(
    the_plan: Plan,
    *,
    settings: Settings,
    create_missing: bool = True,
    check_stale: bool = False,
    progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
    client: ApifyClient | None = None,
    command: str = "apply",
) -> Report:
    """Apply a plan (safety checks are the caller's: see ``Plan.raise_if_unsafe``)."""
    if client is None:
        async with settings.client() as own:
            return await apply(
                the_plan,
                settings=settings,
                create_missing=create_missing,
                check_stale=check_stale,
                progress=progress,
                interrupt=interrupt,
                client=own,
                command=command,
            )
    started = now()
    outcome = await apply_plan(
        client,
        the_plan,
        concurrency=settings.concurrency,
        progress=progress,
        interrupt=interrupt,
        check_stale=check_stale,
        create_missing=create_missing,
    )
    error = None
    if outcome.fatal is not None:
        error = "the API refused the token mid-run, so the run stopped: " + redact(
            str(outcome.fatal), secret_values(the_plan)
        )
    return Report(
        command=command,
        started_at=started,
        ended_at=now(),
        results=outcome.results,
        requests=client.stats.as_dict(),
        interrupted=outcome.interrupted,
        error=error,
        source=the_plan.source,
    )
