"""What ``apply`` will do with a plan, as a value: whether it refuses it on the safety limit,
which creates it skips for want of ``--create-missing``, which deletions for want of ``--prune``,
and which values from the environment it sends; for the tasks and for the schedules
(``Plan.prediction`` builds it; the renderers put it in sentences, and the plan's JSON carries it
under ``apply``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tasksync.model import Action, Safety, TaskChange


@dataclass(frozen=True, slots=True)
class SecretSent:
    """A value from the environment that applying the plan sends (``${VAR}`` named, never shown)."""

    key: str
    path: str
    template: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "path": self.path, "from": self.template}


@dataclass(frozen=True)
class Prediction:
    """What ``apply`` will do with a plan, given the flags it was planned with."""

    changed: int
    total: int
    safety: Safety
    over_limit: str | None
    """Why the plan is over the safety limit (tasks or schedules), or None."""
    force: bool
    skipped_creates: tuple[str, ...]
    secrets: tuple[SecretSent, ...]
    skipped_schedules: tuple[str, ...] = ()
    """Schedules to create that apply skips: they too are created only with --create-missing."""
    schedule_secrets: tuple[SecretSent, ...] = ()
    has_schedules: bool = False
    skipped_deletions: tuple[str, ...] = ()
    """Deletions apply skips: they are applied only with --prune."""
    skipped_schedule_deletions: tuple[str, ...] = ()
    owns: bool = False
    """The file has a ``prune:`` section (the JSON then says which deletions need --prune)."""

    @property
    def refuses(self) -> bool:
        return self.over_limit is not None and not self.force

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "refuses": self.refuses,
            "overSafetyLimit": self.over_limit is not None,
            "changed": self.changed,
            "total": self.total,
            "force": self.force,
            "needCreateMissing": list(self.skipped_creates),
            "secretsSent": [s.to_json() for s in self.secrets],
        }
        if self.has_schedules:  # as the plan's own schedule keys: only when it has schedules
            doc["schedulesNeedCreateMissing"] = list(self.skipped_schedules)
            doc["scheduleSecretsSent"] = [s.to_json() for s in self.schedule_secrets]
        if self.owns:
            doc["needPrune"] = list(self.skipped_deletions)
            doc["schedulesNeedPrune"] = list(self.skipped_schedule_deletions)
        return doc


def skipped_creates(changes: Sequence[TaskChange], create_missing: bool) -> tuple[str, ...]:
    """The keys of the creates that apply skips (all of them without ``create_missing``)."""
    if create_missing:
        return ()
    return tuple(c.key for c in changes if c.action is Action.CREATE)


def secrets_sent(changes: Sequence[TaskChange], create_missing: bool) -> tuple[SecretSent, ...]:
    """The values from the environment that applying ``changes`` sends."""
    return tuple(
        SecretSent(c.key, pointer, template)
        for c in changes
        if c.action is Action.UPDATE or (c.action is Action.CREATE and create_missing)
        for pointer, template in c.secret_refs.items()
    )


def skipped_deletions(changes: Sequence[TaskChange], prune: bool) -> tuple[str, ...]:
    """The keys of the deletions that apply skips (all of them without ``prune``)."""
    return () if prune else tuple(c.key for c in changes if c.action is Action.DELETE)
