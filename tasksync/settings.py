"""How to reach the API and how hard to push it (``Settings``), and whose token it is
(``Account``). Settings validate when they are built and make the client a run uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tasksync.api import DEFAULT_API_URL, ApifyClient, Reply
from tasksync.concurrency import AdaptiveLimit, ConcurrencyGate, FixedLimit
from tasksync.errors import TasksyncError, TransportError, UnreachableError
from tasksync.throttle import RateLimiter, RetryPolicy

DEFAULT_MAX_CONCURRENCY = 256


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How to reach the API and how hard to push it. Validated when built."""

    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    concurrency: int | None = None
    """A fixed number of requests in flight; None: a window that adapts to latency."""
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    """The adaptive window's ceiling (see ``tasksync.concurrency`` for why 256)."""
    max_rate: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not self.token:
            raise TasksyncError(
                "no API token: set APIFY_TOKEN or pass --token-file (the token is read from the "
                "environment or a file so that it never appears in a command line)"
            )
        if self.concurrency is not None and self.concurrency < 1:
            raise TasksyncError("--concurrency must be at least 1")
        if self.max_concurrency < 1:
            raise TasksyncError("--max-concurrency must be at least 1")
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
        concurrency: int | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
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
            max_concurrency=max_concurrency,
            max_rate=max_rate,
            retry=retry or RetryPolicy(),
        )

    def gate(self) -> ConcurrencyGate:
        if self.concurrency is not None:
            return ConcurrencyGate(FixedLimit(self.concurrency))
        ceiling = self.max_concurrency
        return ConcurrencyGate(
            AdaptiveLimit(initial=min(8, ceiling), minimum=min(2, ceiling), maximum=ceiling)
        )

    def client(self) -> ApifyClient:
        return ApifyClient(
            self.token,
            base_url=self.api_url,
            retry=self.retry,
            limiter=RateLimiter(self.max_rate),
            gate=self.gate(),
        )


@dataclass(frozen=True)
class Account:
    """Whose token it is, as ``GET /v2/users/me`` says."""

    user_id: str
    username: str


async def whose_token(client: ApifyClient) -> Reply[Account]:
    """The check before a run: ``GET /v2/users/me`` with at most two attempts, so that a wrong
    URL, an unreachable API or a refused token fails in seconds; the token's account."""
    try:
        reply = await client.me(max_attempts=2)
    except TransportError as exc:
        if exc.status or isinstance(exc, UnreachableError):
            raise
        unreachable = UnreachableError(
            f"the API at {client.base_url} cannot be reached: {exc}; check "
            "--api-url or APIFY_API_BASE_URL and the network",
            attempts=exc.attempts,
        )
        unreachable.stats = exc.stats
        raise unreachable from None
    user_id, username = reply.value.get("id"), reply.value.get("username")
    if not isinstance(user_id, str) or not user_id:
        raise TransportError(f"{client.where('GET', '/v2/users/me')}: the answer has no user `id`")
    return Reply(Account(user_id, username if isinstance(username, str) else ""), reply.stats)
