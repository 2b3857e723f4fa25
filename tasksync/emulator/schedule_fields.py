"""A schedule's writable fields: type checks, the cron expression, the time zone, the actions.

``check_schedule_fields`` takes a POST or PUT body and returns the fields it sets, checked;
unknown and read-only keys are dropped (as the API ignores them). Actions are checked for
shape and limits here; resolving their task and Actor references needs the stores, so that is
``schedules.py``'s job.
"""

from __future__ import annotations

from tasksync import cron
from tasksync.emulator.core import JSON, check_name
from tasksync.emulator.errors import CronExpressionInvalid, InvalidInput

MAX_TASK_ACTIONS = 10
MAX_ACTOR_ACTIONS = 10
RUN_TASK = "RUN_ACTOR_TASK"
RUN_ACTOR = "RUN_ACTOR"

SCHEDULE_BODY_KEYS = (
    "name",
    "title",
    "description",
    "cronExpression",
    "timezone",
    "isEnabled",
    "isExclusive",
    "notifications",
    "actions",
)


def check_schedule_fields(body: dict[str, JSON]) -> dict[str, JSON]:
    """The writable fields ``body`` sets, checked; ``ApiError`` on the first bad one."""
    fields = {key: body[key] for key in SCHEDULE_BODY_KEYS if key in body}
    if "name" in fields and fields["name"] is not None:
        check_name(fields["name"])
    for key in ("title", "description"):
        if fields.get(key) is not None and not isinstance(fields[key], str):
            raise InvalidInput(f'Field "{key}" must be a string')
    for key in ("isEnabled", "isExclusive"):
        if key in fields and not isinstance(fields[key], bool):
            raise InvalidInput(f'Field "{key}" must be a boolean')
    if "cronExpression" in fields:
        expression = fields["cronExpression"]
        if not isinstance(expression, str):
            raise CronExpressionInvalid('Field "cronExpression" must be a string')
        try:
            cron.parse(expression)
        except cron.CronError as exc:
            raise CronExpressionInvalid(
                f"Cron expression {expression!r} is invalid: {exc}"
            ) from None
    if "timezone" in fields:
        tz = fields["timezone"]
        if not isinstance(tz, str):
            raise InvalidInput('Field "timezone" must be a string')
        try:
            cron.zone(tz)
        except cron.CronError as exc:
            raise InvalidInput(f'Field "timezone": {exc}') from None
    if "notifications" in fields:
        _check_notifications(fields["notifications"])
    if "actions" in fields:
        _check_actions(fields["actions"])
    return fields


def _check_notifications(value: JSON) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidInput('Field "notifications" must be an object')
    if "email" in value and value["email"] is not None and not isinstance(value["email"], bool):
        raise InvalidInput('Field "notifications.email" must be a boolean')


def _check_actions(actions: JSON) -> None:
    if not isinstance(actions, list):
        raise InvalidInput('Field "actions" must be an array')
    counts = {RUN_TASK: 0, RUN_ACTOR: 0}
    for i, action in enumerate(actions):
        where = f'Field "actions[{i}]'
        if not isinstance(action, dict):
            raise InvalidInput(f'{where}" must be an object')
        kind = action.get("type")
        if kind not in counts:
            raise InvalidInput(f'{where}.type" must be {RUN_TASK} or {RUN_ACTOR}')
        counts[kind] += 1
        ref_key = "actorTaskId" if kind == RUN_TASK else "actorId"
        if not isinstance(action.get(ref_key), str) or not action[ref_key]:
            raise InvalidInput(f'{where}.{ref_key}" is required')
        if kind == RUN_TASK:
            _check_object(action, "input", where)
        else:
            _check_object(action, "runOptions", where)
            _check_run_input(action.get("runInput"), where)
    if counts[RUN_TASK] > MAX_TASK_ACTIONS:
        raise InvalidInput(f"A schedule can run at most {MAX_TASK_ACTIONS} Actor tasks")
    if counts[RUN_ACTOR] > MAX_ACTOR_ACTIONS:
        raise InvalidInput(f"A schedule can run at most {MAX_ACTOR_ACTIONS} Actors")


def _check_object(action: dict[str, JSON], key: str, where: str) -> None:
    if action.get(key) is not None and not isinstance(action[key], dict):
        raise InvalidInput(f'{where}.{key}" must be an object')


def _check_run_input(value: JSON, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidInput(f'{where}.runInput" must be an object')
    for key in ("body", "contentType"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise InvalidInput(f'{where}.runInput.{key}" must be a string')
