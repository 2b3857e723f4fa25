"""The command line: parse arguments, call the library, turn the outcome into an exit code.

``main(argv, env)`` takes an injectable environment (streams, variables, whether stdout is a
terminal) so tests run the command line in-process and read what it printed. Errors that are the
user's (a bad file, a revoked token) are printed as one paragraph, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum

from tasksync import config, report
from tasksync.console import Env, write_atomic
from tasksync.errors import TasksyncError
from tasksync.plan import Plan
from tasksync.report import Report
from tasksync.run import Interrupt, Interrupted, run
from tasksync.secrets import plan_key
from tasksync.sync import Session, Settings

__all__ = ["Env", "ExitStatus", "build_parser", "main", "run_console"]


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2
    INTERRUPTED = 130


Command = Callable[[argparse.Namespace, Env], int]


def _cmd_validate(args: argparse.Namespace, env: Env) -> int:
    from tasksync import config

    if _saved_plan_doc(args.file) is not None:
        raise TasksyncError(
            f"{args.file} is a saved plan (kind: tasksync-plan), not a task file: apply it with "
            f"`tasksync apply {args.file}`, or validate the task file it was made from"
        )
    cfg = config.load(args.file, environ=env.environ)
    env.print(f"{args.file}: valid, {len(cfg.tasks)} task{'s' if len(cfg.tasks) != 1 else ''}")
    return ExitStatus.OK


def _cmd_schema(args: argparse.Namespace, env: Env) -> int:
    import json

    from tasksync import config

    env.print(json.dumps(config.schema(), indent=2))
    return ExitStatus.OK


def _cmd_emulator(args: argparse.Namespace, env: Env) -> int:
    from tasksync.emulator import command

    return command.run(args, env.stdout)


def _settings(args: argparse.Namespace, env: Env) -> Settings:
    return Settings.from_environ(
        env.environ,
        token_file=args.token_file,
        api_url=args.api_url,
        concurrency=args.concurrency,
        max_rate=args.max_rate,
    )


def _session(args: argparse.Namespace, env: Env, interrupt: Interrupt) -> Session:
    return Session(
        _settings(args, env), environ=env.environ, progress=env.progress(), interrupt=interrupt
    )


def _cmd_plan(args: argparse.Namespace, env: Env) -> int:
    settings = _settings(args, env)  # a missing token is an error before the file is read

    async def work(interrupt: Interrupt) -> Plan:
        async with _session(args, env, interrupt) as session:
            return await session.plan(args.file, rotate_secrets=args.rotate_secrets)

    def outputs(the_plan: Plan) -> None:
        if args.format == "json":
            env.print(json.dumps(the_plan.to_json(include_payloads=False), indent=2))
        elif args.format == "markdown":
            env.stdout.write(report.plan_markdown(the_plan))
        else:
            env.print(report.plan_text(the_plan, color=env.color))
        if args.out:
            saved = the_plan.to_json(key=plan_key(settings.token))
            write_atomic(args.out, json.dumps(saved, indent=2) + "\n")
            env.stderr.write(
                f"Saved the plan to {args.out}; apply it with `tasksync apply {args.out}`.\n"
            )

    the_plan = run(work, outputs, stderr=env.stderr)
    if the_plan.has_errors:
        return ExitStatus.ERROR
    if args.detailed_exitcode and the_plan.has_changes:
        return ExitStatus.CHANGES
    return ExitStatus.OK


def _cmd_apply(args: argparse.Namespace, env: Env) -> int:
    settings = _settings(args, env)
    saved = _read_saved_plan(args.file, env, plan_key(settings.token))
    source = saved if saved is not None else config.load(args.file, environ=env.environ)

    async def work(interrupt: Interrupt) -> Report | None:
        async with _session(args, env, interrupt) as session:
            return await session.plan_and_apply(
                source,
                show=lambda p: env.print(report.plan_text(p, color=env.color)),
                confirm=lambda p: _confirm(args, env),
                create_missing=args.create_missing,
                force=args.force,
                rotate_secrets=args.rotate_secrets,
            )

    def outputs(result: Report | None) -> None:
        if result is not None:
            _publish(result, args, env)

    result = run(work, outputs, stderr=env.stderr)
    if result is None:
        env.error("apply cancelled; nothing was changed")
        return ExitStatus.ERROR
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.OK if result.ok else ExitStatus.ERROR


def _read_saved_plan(path: str, env: Env, key: bytes) -> Plan | None:
    """The saved plan at ``path``, or None when ``path`` is a task file (YAML or JSON): a saved
    plan is told by its content (``kind: tasksync-plan``), never by the file's extension."""
    doc = _saved_plan_doc(path)
    return None if doc is None else Plan.from_json(doc, environ=env.environ, key=key)


def _saved_plan_doc(path: str) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(4096)
            if not head.lstrip().startswith("{") or '"tasksync-plan"' not in head + f.read():
                return None
            f.seek(0)
            doc = json.load(f)
    except (OSError, ValueError):
        return None  # unreadable or not JSON: a task file, which the loader will judge
    if isinstance(doc, dict) and doc.get("kind") == "tasksync-plan":
        return doc
    return None


async def _confirm(args: argparse.Namespace, env: Env) -> bool:
    if args.yes:
        return True
    if not env.stdin_isatty:
        raise TasksyncError(
            "apply needs confirmation: there is no terminal to ask on, so pass --yes "
            "(review the plan above first)"
        )
    env.stdout.write("Apply these changes? Only 'yes' is accepted: ")
    env.stdout.flush()
    return env.stdin.readline().strip() == "yes"


def _publish(result: Report, args: argparse.Namespace, env: Env) -> None:
    env.print(report.report_text(result))
    if args.report:
        write_atomic(args.report, json.dumps(result.to_json(), indent=2) + "\n")
        env.print(f"Report written to {args.report}")
    markdown = report.report_markdown(result)
    if args.summary:
        write_atomic(args.summary, markdown)
    step_summary = env.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(markdown + "\n")


def _cmd_export(args: argparse.Namespace, env: Env) -> int:
    from tasksync import export

    settings = _settings(args, env)

    async def work(interrupt: Interrupt) -> export.Export:
        async with settings.client() as client:
            return await export.export(
                client,
                match=args.match,
                actor=args.actor,
                include_others=args.include_others,
                concurrency=settings.concurrency,
                progress=env.progress(),
                interrupt=interrupt,
            )

    def outputs(result: export.Export) -> None:
        if args.output:
            write_atomic(args.output, result.text)
            env.stderr.write(f"Wrote {result.tasks} tasks to {args.output}.\n")
        else:
            env.stdout.write(result.text)
        if result.variables:
            env.stderr.write(
                "The file refers to encrypted secrets through these environment variables; set "
                "them before planning it: " + ", ".join(sorted(result.variables)) + "\n"
            )

    run(work, outputs, stderr=env.stderr)
    return ExitStatus.OK


def _cmd_demo(args: argparse.Namespace, env: Env) -> int:
    from tasksync import demo

    return demo.run(env, file=args.file)


def _add_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-url", help="API base URL (default: $APIFY_API_BASE_URL or Apify's)")
    p.add_argument("--token-file", help="read the API token from this file (else $APIFY_TOKEN)")
    p.add_argument("--concurrency", type=int, default=16, help="parallel requests (default 16)")
    p.add_argument(
        "--max-rate", type=float, help="at most this many requests per second (default: adaptive)"
    )


def _add_diff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rotate-secrets",
        action="store_true",
        help="send secret input values even when the API only shows them encrypted",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tasksync",
        description="Configuration as code for Apify Actor tasks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a task file offline")
    p.add_argument("file", help="the task file (YAML)")
    p.set_defaults(run=_cmd_validate)

    p = sub.add_parser("plan", help="show what apply would change (the dry run; writes nothing)")
    p.add_argument("file", help="the task file (YAML)")
    p.add_argument("--out", help="save the plan as JSON, for `tasksync apply PLAN.json`")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    _add_api_arguments(p)
    _add_diff_arguments(p)
    p.set_defaults(run=_cmd_plan)

    p = sub.add_parser("apply", help="plan, confirm, and change the tasks")
    p.add_argument("file", help="the task file (YAML), or a plan saved by `plan --out` (.json)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--force", action="store_true", help="override the safety limits")
    p.add_argument(
        "--create-missing", action="store_true", help="create tasks that do not exist yet"
    )
    p.add_argument("--report", help="write the JSON report to this file")
    p.add_argument("--summary", help="write the Markdown summary to this file")
    _add_api_arguments(p)
    _add_diff_arguments(p)
    p.set_defaults(run=_cmd_apply)

    p = sub.add_parser("export", help="write the account's live tasks as a task file")
    p.add_argument("-o", "--output", help="write to this file (default: standard output)")
    p.add_argument("--match", help="only tasks whose name or username~name matches this glob")
    p.add_argument("--actor", help="only tasks of this Actor (ID or username~name)")
    p.add_argument(
        "--include-others",
        action="store_true",
        help="also tasks of other users that the token can list (default: only its owner's)",
    )
    _add_api_arguments(p)
    p.set_defaults(run=_cmd_export)

    p = sub.add_parser("schema", help="print the JSON Schema of the task file")
    p.set_defaults(run=_cmd_schema)

    p = sub.add_parser("emulator", help="run the local Apify-compatible API server")
    from tasksync.emulator import command as emulator_command

    emulator_command.add_arguments(p)
    p.set_defaults(run=_cmd_emulator)

    p = sub.add_parser("demo", help="plan and apply the example file against a built-in emulator")
    p.add_argument("file", nargs="?", help="task file (default: the bundled example)")
    p.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    env = env or Env()
    parser = build_parser()
    try:
        # argparse prints usage and errors itself: to the streams of this Env, not the process's.
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; 2 means "changes" here
        return ExitStatus.OK if not exc.code else ExitStatus.ERROR
    run_command: Command = args.run
    try:
        return run_command(args, env)
    except TasksyncError as exc:
        env.error(str(exc))
        return ExitStatus.ERROR
    except (KeyboardInterrupt, Interrupted):
        env.error("interrupted; nothing more was done")
        return ExitStatus.INTERRUPTED


def run_console() -> None:
    """Console-script entry point."""
    sys.exit(main())
