"""Comparing saved plans: does the plan made on merge make the changes that were reviewed?

``apply.yml`` plans again after a merge and applies only when the new plan makes, task by task,
the same changes as the plan reviewed on the pull request; otherwise it names the tasks that
differ (``python -m tasksync.github compare-plans REVIEWED.json NEW.json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasksync.errors import TasksyncError
from tasksync.github.annotations import workflow_command
from tasksync.github.markdown import md_text
from tasksync.text import visible


@dataclass(frozen=True)
class PlanDifference:
    key: str
    reviewed: str
    now: str

    def __str__(self) -> str:
        return f"{self.key}: reviewed {self.reviewed}; now {self.now}"


def read_plan(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TasksyncError(f"cannot read the plan {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise TasksyncError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "tasksync-plan":
        raise TasksyncError(f"{path} is not a tasksync plan")
    if doc.get("formatVersion") != 1:
        raise TasksyncError(f"{path} has formatVersion {doc.get('formatVersion')!r}; expected 1")
    if not isinstance(doc.get("tasks"), list):
        raise TasksyncError(f"{path} has no list of tasks")
    return doc


def _task_changes(doc: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Per task key: its action and its changes by path (each as canonical JSON)."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for entry in doc["tasks"]:
        changes = {
            str(c.get("path")): json.dumps(c, sort_keys=True) for c in entry.get("changes") or []
        }
        found[str(entry.get("key"))] = (str(entry.get("action")), changes)
    return found


def compare_plans(reviewed: Mapping[str, Any], now: Mapping[str, Any]) -> list[PlanDifference]:
    """The tasks whose planned changes differ between two plans (JSON documents).

    A task compares by its action and its field changes (path, kind, old and new values as the
    plan shows them: a sensitive value is ``<sensitive>`` in both, so a changed secret is caught
    by ``apply``'s stale check instead). A task missing from one plan counts as unchanged there.
    An ``error`` in either plan is always a difference: nobody reviewed what it would do.
    """
    a, b = _task_changes(reviewed), _task_changes(now)
    nothing: tuple[str, dict[str, str]] = ("noop", {})
    out: list[PlanDifference] = []
    for key in list(dict.fromkeys([*a, *b])):
        was, is_ = a.get(key, nothing), b.get(key, nothing)
        if was == is_ and was[0] != "error":
            continue
        if was[0] == "error" or is_[0] == "error" or was[0] != is_[0]:
            out.append(PlanDifference(key, _describe(was), _describe(is_)))
            continue
        paths = sorted(p for p in {*was[1], *is_[1]} if was[1].get(p) != is_[1].get(p))
        out.append(
            PlanDifference(key, _describe(was, paths), _describe(is_, paths) + " (other values)")
        )
    return out


def _describe(task: tuple[str, dict[str, str]], only: Sequence[str] | None = None) -> str:
    action, changes = task
    if action in ("noop", "error") or not changes:
        return action
    paths = [p for p in changes if only is None or p in only] or sorted(changes)
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return f"{action} of {shown}"


def difference_report(
    differences: Sequence[PlanDifference], environ: Mapping[str, str]
) -> tuple[list[str], str]:
    """The log lines (an ``::error`` under GitHub) and the Markdown that name the tasks whose
    changes differ from the reviewed plan."""
    if not differences:
        return ["tasksync: the plan makes the same changes as the reviewed one"], ""
    n = len(differences)
    head = f"the plan differs from the reviewed one in {n} task{'s' if n != 1 else ''}"
    lines = [f"tasksync: {head}:"] + [f"  {visible(str(d))}" for d in differences]
    if environ.get("GITHUB_ACTIONS") == "true":
        names = ", ".join(d.key for d in differences[:20]) + (", ..." if n > 20 else "")
        lines.append(workflow_command("error", f"{head}: {names}", title="tasksync"))
    markdown = [f"### :x: tasksync: {head}", ""] + [f"- {md_text(str(d))}" for d in differences]
    markdown += ["", "Nothing was applied. Plan the change again in a pull request and review it."]
    return lines, "\n".join(markdown) + "\n"
