"""What ``apply`` will do with a plan, in sentences for people (text and Markdown share them).

A plan that ``apply`` then refuses, or that creates nothing because ``--create-missing`` was not
given, surprises its reviewer after the merge; the plan says so itself, before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasksync.text import plural, visible

if TYPE_CHECKING:  # the renderers only read a Plan
    from tasksync.plan import Plan

NAMES = 10
"""The most names a sentence lists before it counts the rest."""


def name_list(keys: Sequence[str], limit: int = NAMES, quote: str = "") -> str:
    """``a, b, c and 97 more``."""
    shown = ", ".join(f"{quote}{visible(k)}{quote}" for k in keys[:limit])
    rest = len(keys) - limit
    return shown + (f" and {rest:,} more" if rest > 0 else "")


def predictions(plan: Plan, quote: str = "") -> list[tuple[str, str]]:
    """(level, sentence) pairs, ``warning`` or ``note``: what ``apply`` would do differently from
    what the plan shows at first sight."""
    if not plan.has_changes:
        return []
    p = plan.prediction()
    out: list[tuple[str, str]] = []
    if p.over_limit is not None and not p.force:
        out.append(
            (
                "warning",
                f"apply would refuse this plan: {p.over_limit}. Pass --force (to plan and apply) "
                "if it is intended, or raise safety.maxChangedFraction in the file.",
            )
        )
    elif p.over_limit is not None:
        out.append(
            (
                "note",
                f"Over the safety limit ({p.over_limit}), but planned with --force: apply goes "
                "ahead.",
            )
        )
    for keys, noun in ((p.skipped_creates, "task"), (p.skipped_schedules, "schedule")):
        if keys:
            n = len(keys)
            out.append(
                (
                    "warning",
                    f"apply would skip {plural(n, noun)} that {'does' if n == 1 else 'do'} not "
                    f"exist ({name_list(keys, quote=quote)}): {noun}s are created only with "
                    "--create-missing (to plan and apply).",
                )
            )
    gone = [*p.skipped_deletions, *(f"schedule {k}" for k in p.skipped_schedule_deletions)]
    if gone:
        out.append(
            (
                "warning",
                f"apply would skip {plural(len(gone), 'deletion')} "
                f"({name_list(gone, quote=quote)}): deletions are applied only with --prune (to "
                "plan and apply).",
            )
        )
    sent = [f"{s.key} {s.path} ({s.template})" for s in p.secrets]
    sent += [f"schedule {s.key} {s.path} ({s.template})" for s in p.schedule_secrets]
    if sent:
        out.append(
            (
                "note",
                f"apply sends {plural(len(sent), 'value')} from the environment: "
                f"{name_list(sent, quote=quote)}.",
            )
        )
    return out
