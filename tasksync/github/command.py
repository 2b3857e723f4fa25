"""``python -m tasksync.github``: the command line of the action and the pre-commit hook."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO

from tasksync.arguments import actor_schema
from tasksync.errors import TasksyncError
from tasksync.github.action import COMMENT_MODES, run_action
from tasksync.github.annotations import github_format
from tasksync.github.compare import compare_plans, difference_report, read_plan
from tasksync.github.markdown import append_summary
from tasksync.github.validate import validate_files, validation_lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="python -m tasksync.github",
        description="tasksync in GitHub Actions and pre-commit.",
    )
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    p = sub.add_parser("action", help="run a tasksync command as the GitHub Action does")
    p.add_argument("--command", required=True, choices=("validate", "plan", "apply"))
    p.add_argument(
        "--file", required=True, help="the task file (validate: several, space-separated)"
    )
    p.add_argument("--args", default="", help="extra flags for the command, as one shell string")
    p.add_argument("--comment", default="changes-only", choices=COMMENT_MODES)
    p.add_argument(
        "--reviewed-plan", help="plan only: fail unless the plan makes this saved plan's changes"
    )
    p.add_argument("--out-dir", help="where plan.json, report.json and the Markdown go")
    p = sub.add_parser("validate", help="check task files offline (as the pre-commit hook does)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=("text", "github"), help="default: github under Actions")
    p.add_argument(
        "--input-schema",
        dest="input_schemas",
        action="append",
        type=actor_schema,
        metavar="ACTOR=PATH",
        help="check ACTOR's task inputs against this input schema file (repeatable)",
    )
    p = sub.add_parser("compare-plans", help="exit 0 when two saved plans make the same changes")
    p.add_argument("reviewed", help="the plan reviewed on the pull request")
    p.add_argument("now", help="the plan made just now")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    environ = dict(os.environ) if environ is None else environ
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if not exc.code else 1
    try:
        if args.subcommand == "validate":
            github = args.format == "github" if args.format else github_format(environ, out)
            schemas = dict(args.input_schemas or [])
            results = validate_files(args.files, environ, input_schemas=schemas)
            for line in validation_lines(results, github=github):
                out.write(line + "\n")
            return 0 if all(r.ok for r in results) else 1
        if args.subcommand == "compare-plans":
            return _compare_command(args.reviewed, args.now, environ, out)
        outcome = run_action(
            args.command,
            args.file,
            args=args.args,
            comment=args.comment,
            reviewed_plan=args.reviewed_plan or None,
            out_dir=args.out_dir,
            environ=environ,
            stdout=out,
            stderr=err,
        )
        return outcome.exitcode
    except TasksyncError as exc:
        err.write(f"tasksync: error: {exc}\n")
        return 1


def _compare_command(reviewed: str, now: str, environ: Mapping[str, str], out: IO[str]) -> int:
    differences = compare_plans(read_plan(reviewed), read_plan(now))
    lines, markdown = difference_report(differences, environ)
    for line in lines:
        out.write(line + "\n")
    if markdown and environ.get("GITHUB_STEP_SUMMARY"):
        append_summary(environ["GITHUB_STEP_SUMMARY"], markdown)
    return 1 if differences else 0
