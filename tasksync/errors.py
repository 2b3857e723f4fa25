"""The exceptions tasksync raises, in one tree.

    TasksyncError                 anything tasksync reports to a user (exit 1, no traceback)
    +-- ConfigError               the task file is invalid; carries every Problem found
    +-- PlanFileError             a saved plan cannot be read or does not fit this version
    +-- UnsafePlanError           the plan changes more tasks than the safety limits allow
    +-- ApiError                  the Apify API answered with an error or could not be reached
        +-- AuthError             401/403: missing, unknown or revoked token, or no permission
        +-- NotFoundError         404 record-not-found: the task (or Actor) does not exist
        +-- ApiUrlError           any other 404: the URL is not the Apify API's (stops the run)
        +-- ConflictError         409: e.g. a task name already taken
        +-- InvalidRequestError   other 4xx: the API refused the request as invalid
        +-- RateLimitedError      429 after every retry
        +-- ServerError           5xx after every retry
        +-- TransportError        connection failures, timeouts, unreadable answers
            +-- UnreachableError  no connection could be made, again and again (stops the run)

Every ``ApiError`` carries the HTTP status (``None`` for transport errors), Apify's ``error.type``
and message, and how many attempts were made. Messages never contain the API token.
``stops_run`` says whether the error is the whole API's rather than one task's (a refused
token, a wrong URL, an API that cannot be reached): every further request would fail the same
way, so the run stops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasksync.model import RequestStats


class TasksyncError(Exception):
    """Base of every error tasksync reports to its user."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a task file, with where it is."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(TasksyncError):
    """The task file is invalid. ``problems`` lists everything found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the task file:\n{lines}")


class PlanFileError(TasksyncError):
    """A saved plan cannot be used."""


class UnsafePlanError(TasksyncError):
    """The plan would change too many tasks at once."""


class ApiError(TasksyncError):
    """The Apify API answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.attempts = attempts
        self.stats = RequestStats(attempts, attempts - 1)
        """The requests the call took before it failed (set by the client)."""

    @property
    def kind(self) -> str:
        """A short machine name for reports: the Apify ``error.type`` or, when the API gave none
        (a dropped connection, an unreadable answer), the class name in the same style:
        ``TransportError`` -> ``transport-error``."""
        return self.type or re.sub(r"(?<!^)(?=[A-Z])", "-", type(self).__name__).lower()

    @property
    def stops_run(self) -> bool:
        return False


class AuthError(ApiError):
    @property
    def stops_run(self) -> bool:
        return self.status == 401  # the token itself was refused (a 403 is one resource's)


class NotFoundError(ApiError):
    pass


class ApiUrlError(ApiError):
    @property
    def stops_run(self) -> bool:
        return True


class ConflictError(ApiError):
    pass


class InvalidRequestError(ApiError):
    pass


class RateLimitedError(ApiError):
    pass


class ServerError(ApiError):
    pass


class TransportError(ApiError):
    pass


class UnreachableError(TransportError):
    @property
    def stops_run(self) -> bool:
        return True
