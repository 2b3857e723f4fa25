"""The action's runner: one tasksync command run as ``action.yml`` runs it, then published.

``plan`` and ``apply`` run the ``tasksync`` command line in a child process (``python -m
tasksync``): its flags are the stable contract, and its output streams to the job log as it comes.
The child never sees the GitHub token, and ``$GITHUB_STEP_SUMMARY`` is appended here, once, cut to
GitHub's size limit. The outcome becomes the step's outputs, the job summary and the pull-request
comment.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from tasksync.errors import TasksyncError
from tasksync.github.comments import publish_comment, run_link
from tasksync.github.compare import compare_plans, difference_report, read_plan
from tasksync.github.markdown import append_summary, comment_markdown, write_outputs
from tasksync.github.validate import validate_files, validation_lines, validation_markdown

COMMENT_MODES = ("true", "changes-only", "false")

# Flags the action sets itself; in ``args`` they would fight over the files it reads back.
_RESERVED_FLAGS = ("--out", "--format", "--report", "--summary")


@dataclass(frozen=True)
class Outcome:
    """What one action run produced: its step outputs and the Markdown it published."""

    exitcode: int
    changes: bool
    markdown: str
    plan_path: str = ""
    report_path: str = ""
    markdown_path: str = ""

    def outputs(self) -> dict[str, str]:
        return {
            "exitcode": str(self.exitcode),
            "changes": "true" if self.changes else "false",
            "plan-path": self.plan_path,
            "report-path": self.report_path,
            "markdown-path": self.markdown_path,
        }


@dataclass(frozen=True)
class Captured:
    code: int
    out: str
    err: str


def run_tasksync(
    argv: Sequence[str], environ: Mapping[str, str], *, stdout: IO[str], stderr: IO[str]
) -> Captured:
    """``python -m tasksync ARGV`` in a child process; its output is streamed and kept."""
    env = {k: v for k, v in environ.items() if k not in ("GITHUB_STEP_SUMMARY", "GITHUB_TOKEN")}
    env.setdefault("NO_COLOR", "1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasksync", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert proc.stdout is not None and proc.stderr is not None
    kept: dict[str, list[str]] = {"out": [], "err": []}

    def pump(source: IO[str], sink: IO[str], into: list[str]) -> None:
        for line in source:
            into.append(line)
            sink.write(line)
            sink.flush()

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, stdout, kept["out"]), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, stderr, kept["err"]), daemon=True),
    ]
    for t in threads:
        t.start()
    code = proc.wait()
    for t in threads:
        t.join()
    return Captured(code, "".join(kept["out"]), "".join(kept["err"]))


def _check_args(args: Sequence[str]) -> None:
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag in _RESERVED_FLAGS:
            raise TasksyncError(
                f"`{flag}` cannot be in the action's args: the action sets it itself "
                "(use the outputs plan-path, report-path and markdown-path)"
            )


def _failure_markdown(title: str, captured: Captured) -> str:
    lines = [ln for ln in captured.err.splitlines() if ln.strip()][-20:]
    text = "\n".join(lines) or f"exit code {captured.code}"
    return f"### {title}\n\n:x: failed (exit code {captured.code}):\n\n```\n{text}\n```\n"


def action_plan(
    file: str,
    args: Sequence[str],
    out_dir: str,
    environ: Mapping[str, str],
    out: IO[str],
    err: IO[str],
) -> Outcome:
    plan_path = os.path.join(out_dir, "plan.json")
    got = run_tasksync(
        ["plan", file, *args, "--format", "markdown", "--out", plan_path],
        environ,
        stdout=out,
        stderr=err,
    )
    changes = False
    if os.path.exists(plan_path):
        counts = read_plan(plan_path).get("counts") or {}
        changes = bool(counts.get("update") or counts.get("create"))
    else:
        plan_path = ""
    markdown = got.out
    if got.code not in (0, 2):  # the plan may be partial (tasks in error) or absent
        markdown += ("\n" if markdown else "") + _failure_markdown("tasksync plan", got)
    return Outcome(got.code, changes, markdown, plan_path=plan_path)


def action_apply(
    file: str,
    args: Sequence[str],
    out_dir: str,
    environ: Mapping[str, str],
    out: IO[str],
    err: IO[str],
) -> Outcome:
    report_path = os.path.join(out_dir, "report.json")
    summary_path = os.path.join(out_dir, "apply.md")
    argv = ["apply", file, *args, "--report", report_path, "--summary", summary_path]
    if "--yes" not in args and "-y" not in args:
        argv.append("--yes")  # choosing command: apply in a workflow is the confirmation
    got = run_tasksync(argv, environ, stdout=out, stderr=err)
    changes = False
    if os.path.exists(report_path):
        totals = json.loads(Path(report_path).read_text(encoding="utf-8")).get("totals") or {}
        changes = bool(totals.get("updated") or totals.get("created"))
    else:
        report_path = ""
    if os.path.exists(summary_path):
        markdown = Path(summary_path).read_text(encoding="utf-8")
    else:
        markdown = _failure_markdown("tasksync apply", got)
    return Outcome(got.code, changes, markdown, report_path=report_path)


def action_validate(files: Sequence[str], environ: Mapping[str, str], out: IO[str]) -> Outcome:
    results = validate_files(files, environ)
    for line in validation_lines(results, github=environ.get("GITHUB_ACTIONS") == "true"):
        out.write(line + "\n")
    ok = all(r.ok for r in results)
    return Outcome(0 if ok else 1, False, validation_markdown(results))


def run_action(
    command: str,
    file: str,
    *,
    args: str = "",
    comment: str = "changes-only",
    reviewed_plan: str | None = None,
    out_dir: str | None = None,
    environ: Mapping[str, str],
    stdout: IO[str],
    stderr: IO[str],
) -> Outcome:
    """Run ``command`` as the action does and publish it: outputs, summary, comment.

    With ``reviewed_plan`` (plan only), the new plan must make the same changes as that saved
    plan, else the exit code is 1 and the differing tasks are named.
    """
    if comment not in COMMENT_MODES:
        raise TasksyncError(f"comment must be one of {', '.join(COMMENT_MODES)}, not {comment!r}")
    if reviewed_plan and command != "plan":
        raise TasksyncError("reviewed-plan goes with command: plan (then apply its plan-path)")
    extra = shlex.split(args)
    _check_args(extra)
    if out_dir is None:
        base = environ.get("RUNNER_TEMP") or None
        out_dir = tempfile.mkdtemp(prefix="tasksync-", dir=base)
    os.makedirs(out_dir, exist_ok=True)
    if command == "validate":
        outcome = action_validate(shlex.split(file), environ, stdout)
    elif command == "plan":
        outcome = action_plan(file, extra, out_dir, environ, stdout, stderr)
        if reviewed_plan and outcome.plan_path and outcome.exitcode in (0, 2):
            outcome = _check_reviewed(outcome, reviewed_plan, environ, stdout)
    elif command == "apply":
        outcome = action_apply(file, extra, out_dir, environ, stdout, stderr)
    else:
        raise TasksyncError(f"command must be validate, plan or apply, not {command!r}")
    markdown_path = os.path.join(out_dir, f"{command}.md")
    Path(markdown_path).write_text(comment_markdown(outcome.markdown), encoding="utf-8")
    outcome = replace(outcome, markdown_path=markdown_path)
    if environ.get("GITHUB_OUTPUT"):
        write_outputs(environ["GITHUB_OUTPUT"], outcome.outputs())
    if environ.get("GITHUB_STEP_SUMMARY"):
        append_summary(environ["GITHUB_STEP_SUMMARY"], outcome.markdown, link=run_link(environ))
    if comment != "false":
        # changes-only still edits a comment that exists, so it never shows changes that are gone.
        create = comment == "true" or outcome.changes or outcome.exitcode not in (0, 2)
        publish_comment(command, file, outcome.markdown, create=create, environ=environ, out=stdout)
    return outcome


def _check_reviewed(
    outcome: Outcome, reviewed: str, environ: Mapping[str, str], out: IO[str]
) -> Outcome:
    differences = compare_plans(read_plan(reviewed), read_plan(outcome.plan_path))
    lines, markdown = difference_report(differences, environ)
    for line in lines:
        out.write(line + "\n")
    if not differences:
        return outcome
    return replace(outcome, exitcode=1, markdown=markdown + "\n" + outcome.markdown)
