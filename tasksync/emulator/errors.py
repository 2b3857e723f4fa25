"""The emulator's refusals, as exceptions that carry their HTTP status and Apify error type.

Every rule of the state and every check of the HTTP layer raises one of these; the HTTP layer
renders any of them the same way (``responses.error_response``), into Apify's error envelope
``{"error": {"type": ..., "message": ...}}``. No HTTP library is imported here, so the state can
raise them while staying plain Python.

    ApiError(status, type, message, headers)       any refusal; the base of the others
      InvalidRequest             400 invalid-request        body not a JSON object, bad JSON...
      InvalidInput               400 invalid-input          a field breaks a rule
      InvalidParameter           400 invalid-parameter      a bad query parameter
      InvalidContentType         400 invalid-content-type-header
      TokenNotProvided           401 token-not-provided
      UnknownToken               401 user-or-token-not-found
      InsufficientPermissions    403 insufficient-permissions  a read-only user writes
      TooManyTasks               403 too-many-actor-tasks
      UnknownBuildTag            403 unknown-build-tag      validate-input ``build=`` names no build
      RecordNotFound             404 record-not-found       "Actor task was not found"
      PageNotFound               404 page-not-found         no such route
      MethodNotAllowed           405 method-not-allowed     with an ``Allow`` header
      NameNotUnique              409 actor-task-name-not-unique
      ScheduleNameNotUnique      409 schedule-name-not-unique
      CronExpressionInvalid      400 cron-expression-invalid
      ScheduleActorTaskNotFound  404 schedule-actor-task-not-found  an action's task
      ScheduleActorNotFound      404 schedule-actor-not-found       an action's Actor
      RequestTooLarge            413 request-too-large
      UnsupportedContentEncoding 415 unsupported-content-encoding
      RateLimitExceeded          429 rate-limit-exceeded

``injected_error`` builds the answer of an injected status fault (any status).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class ApiError(Exception):
    """An API refusal: HTTP status, Apify ``error.type``, a human message, extra headers."""

    def __init__(
        self, status: int, type: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {type}: {message}")
        self.status = status
        self.type = type
        self.message = message
        self.headers = dict(headers or {})

    def to_json(self) -> dict[str, Any]:
        """Apify's error envelope."""
        return {"error": {"type": self.type, "message": self.message}}


HttpError = ApiError
"""The former name of ``ApiError``, still exported by ``tasksync.emulator``."""


class _Fixed(ApiError):
    """A refusal whose status and type are those of its class; ``MESSAGE`` is the default."""

    STATUS: ClassVar[int]
    TYPE: ClassVar[str]
    MESSAGE: ClassVar[str] = ""

    def __init__(self, message: str | None = None, headers: Mapping[str, str] | None = None):
        super().__init__(
            self.STATUS, self.TYPE, self.MESSAGE if message is None else message, headers
        )


class InvalidRequest(_Fixed):
    STATUS, TYPE = 400, "invalid-request"


class InvalidInput(_Fixed):
    STATUS, TYPE = 400, "invalid-input"


class InvalidParameter(_Fixed):
    STATUS, TYPE = 400, "invalid-parameter"


class InvalidContentType(_Fixed):
    STATUS, TYPE = 400, "invalid-content-type-header"

    def __init__(self, content_type: str) -> None:
        super().__init__(f'Content-Type "{content_type}" is not supported; send application/json')


class TokenNotProvided(_Fixed):
    STATUS, TYPE = 401, "token-not-provided"
    MESSAGE = "Authentication token was not provided"


class UnknownToken(_Fixed):
    STATUS, TYPE = 401, "user-or-token-not-found"
    MESSAGE = "User was not found or authentication token is not valid"


class InsufficientPermissions(_Fixed):
    STATUS, TYPE = 403, "insufficient-permissions"
    MESSAGE = "You do not have permission to perform this action."


class TooManyTasks(_Fixed):
    STATUS, TYPE = 403, "too-many-actor-tasks"

    def __init__(self, limit: int) -> None:
        super().__init__(f"You have reached the limit of {limit} Actor tasks")


class UnknownBuildTag(_Fixed):
    STATUS, TYPE = 403, "unknown-build-tag"


class RecordNotFound(_Fixed):
    STATUS, TYPE = 404, "record-not-found"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} was not found")


class PageNotFound(_Fixed):
    STATUS, TYPE = 404, "page-not-found"
    MESSAGE = "We have bad news: there is no API endpoint here"


class MethodNotAllowed(_Fixed):
    STATUS, TYPE = 405, "method-not-allowed"

    def __init__(self, allowed: str) -> None:
        super().__init__(
            "This API end-point can only be accessed using the following HTTP methods: " + allowed,
            {"Allow": allowed},
        )


class NameNotUnique(_Fixed):
    STATUS, TYPE = 409, "actor-task-name-not-unique"

    def __init__(self, name: str) -> None:
        super().__init__(f'An Actor task with name "{name}" already exists in your account')


# The schedules' statuses are not published; these follow the tasks' (409 for a name, 404 for a
# missing reference, 400 for a bad value).


class ScheduleNameNotUnique(_Fixed):
    STATUS, TYPE = 409, "schedule-name-not-unique"

    def __init__(self, name: str) -> None:
        super().__init__(f'A schedule with name "{name}" already exists in your account')


class CronExpressionInvalid(_Fixed):
    STATUS, TYPE = 400, "cron-expression-invalid"


class ScheduleActorTaskNotFound(_Fixed):
    STATUS, TYPE = 404, "schedule-actor-task-not-found"

    def __init__(self, ref: str) -> None:
        super().__init__(f'The Actor task "{ref}" of a schedule action was not found')


class ScheduleActorNotFound(_Fixed):
    STATUS, TYPE = 404, "schedule-actor-not-found"

    def __init__(self, ref: str) -> None:
        super().__init__(f'The Actor "{ref}" of a schedule action was not found')


class RequestTooLarge(_Fixed):
    STATUS, TYPE = 413, "request-too-large"

    def __init__(self, method: str, limit: int, actual: str) -> None:
        super().__init__(
            f"The {method} payload is too large "
            f"(limit: {limit} bytes, actual length: {actual} bytes)."
        )


class UnsupportedContentEncoding(_Fixed):
    STATUS, TYPE = 415, "unsupported-content-encoding"

    def __init__(self, coding: str) -> None:
        super().__init__(f'Content-Encoding "{coding}" is not supported.')


class RateLimitExceeded(_Fixed):
    STATUS, TYPE = 429, "rate-limit-exceeded"

    def __init__(self, rate: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"You have exceeded the rate limit of {rate} requests per second", headers)


# -- injected faults -------------------------------------------------------------------------------

_INJECTED_TYPES = {
    400: "invalid-request",
    401: "user-or-token-not-found",
    403: "insufficient-permissions",
    404: "record-not-found",
    409: "actor-task-name-not-unique",
    413: "request-too-large",
    429: "rate-limit-exceeded",
    503: "query-timeout",
}

_INJECTED_MESSAGES = {
    401: UnknownToken.MESSAGE,
    403: InsufficientPermissions.MESSAGE,
    404: "Actor task was not found",
    429: "You have exceeded the rate limit. Please try again later.",
}


def injected_error(
    status: int, error_type: str | None = None, headers: Mapping[str, str] | None = None
) -> ApiError:
    """The answer of an injected status fault: the type and message Apify uses for ``status``
    (``error_type`` overrides the type)."""
    if error_type is None:
        default = "internal-server-error" if status >= 500 else "invalid-request"
        error_type = _INJECTED_TYPES.get(status, default)
    message = _INJECTED_MESSAGES.get(status, f"Injected fault: HTTP {status}")
    return ApiError(status, error_type, message, headers)
