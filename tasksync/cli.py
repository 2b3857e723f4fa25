"""The command line: parse arguments, call the library, turn the outcome into an exit code.

``main(argv, env)`` takes an injectable environment (streams, variables, whether stdout is a
terminal) so tests run the command line in-process and read what it printed. Errors that are the
user's (a bad file, a revoked token, an output folder that does not exist) are printed as one
paragraph, never as a traceback; output paths are checked before any request is sent. Under
GitHub Actions, errors are also printed as ``::error`` annotations on stderr. The grammar (every
option, example and exit code) is in ``arguments``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

from tasksync.arguments import build_parser, unknown_arguments_message
from tasksync.console import STDOUT, Env, check_output_path, write_output
from tasksync.errors import ConfigError, TasksyncError
from tasksync.text import plural

if TYPE_CHECKING:  # imported where a command needs them: `validate` needs no network stack
    from tasksync.plan import Plan
    from tasksync.report import Report
    from tasksync.run import Interrupt
    from tasksync.sync import Session, Settings

__all__ = ["Env", "ExitStatus", "build_parser", "main", "run_console"]


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2
    INTERRUPTED = 130


Command = Callable[[argparse.Namespace, Env], int]


def _under_actions(env: Env) -> bool:
    return env.environ.get("GITHUB_ACTIONS") == "true"


def _cmd_validate(args: argparse.Namespace, env: Env) -> int:
    from tasksync.github.annotations import problem_annotation
    from tasksync.github.validate import validate_files, validation_lines

    github = (
        args.format == "github" if args.format else _under_actions(env) and not env.stdout_isatty
    )
    for path in args.files:
        if saved_plan_doc(path) is not None:
            raise TasksyncError(
                f"{path} is a saved plan (kind: tasksync-plan), not a task file: apply it with "
                f"`tasksync apply {path}`, or validate the task file it was made from"
            )
    results = validate_files(
        args.files,
        env.environ,
        input_schemas=dict(args.input_schemas or []),
        require_env=args.require_env,  # as plan and apply read the file: unset is an error
    )
    if github:
        for line in validation_lines(results, github=True):
            env.print(line)
    for r in [] if github else results:  # problems are errors, on stderr as plan has them
        if r.ok:
            for line in validation_lines([r], github=False):
                env.print(line)
            continue
        env.error(r.message())
        for p in r.notes:
            env.stderr.write(f"tasksync: note: {p} (validate needs no secrets)\n")
    if _under_actions(env) and not github:  # the runner reads annotations on either stream
        for r in results:
            for p in r.problems:
                env.stderr.write(problem_annotation(p) + "\n")
            for p in r.notes:
                env.stderr.write(problem_annotation(p, level="notice") + "\n")
    return ExitStatus.OK if all(r.ok for r in results) else ExitStatus.ERROR


def _cmd_schema(args: argparse.Namespace, env: Env) -> int:
    from tasksync import config

    env.print(json.dumps(config.schema(), indent=2))
    return ExitStatus.OK


def _cmd_init(args: argparse.Namespace, env: Env) -> int:
    from tasksync import starter

    written = starter.init(args.file, force=args.force)
    env.print(f"Wrote {written[0]} (a commented starter) and {written[1]} (its schema).")
    env.print(f"Edit it, then: tasksync validate {written[0]} && tasksync plan {written[0]}")
    return ExitStatus.OK


def _cmd_completion(args: argparse.Namespace, env: Env) -> int:
    from tasksync import completion

    env.stdout.write(completion.script(args.shell, build_parser()))
    return ExitStatus.OK


def _plan_key(token: str) -> bytes:
    from tasksync.secrets import plan_key

    return plan_key(token)


def _cmd_emulator(args: argparse.Namespace, env: Env) -> int:
    from tasksync.emulator import command

    return command.run(args, env.stdout)


def _settings(args: argparse.Namespace, env: Env) -> Settings:
    from tasksync.sync import Settings
    from tasksync.throttle import RetryPolicy

    if args.max_attempts < 1:
        raise TasksyncError("--max-attempts must be at least 1")
    if args.retry_delay < 0:
        raise TasksyncError("--retry-delay must not be negative")
    if args.request_timeout <= 0:
        raise TasksyncError("--request-timeout must be positive")
    return Settings.from_environ(
        env.environ,
        token_file=args.token_file,
        api_url=args.api_url,
        concurrency=args.concurrency,
        max_concurrency=args.max_concurrency,
        max_rate=args.max_rate,
        retry=RetryPolicy(
            max_attempts=args.max_attempts,
            base_delay=args.retry_delay,
            attempt_timeout=args.request_timeout,
        ),
    )


def _session(args: argparse.Namespace, env: Env, interrupt: Interrupt) -> Session:
    from tasksync.sync import Session

    progress = env.progress()
    session = Session(
        _settings(args, env), environ=env.environ, progress=progress, interrupt=interrupt
    )
    progress.concurrency = lambda: session.concurrency
    return session


def _cmd_plan(args: argparse.Namespace, env: Env) -> int:
    from tasksync import report
    from tasksync.run import run

    check_output_path(args.out, "--out")
    settings = _settings(args, env)  # a missing token is an error before the file is read

    async def work(interrupt: Interrupt) -> Plan:
        async with _session(args, env, interrupt) as session:
            return await session.plan(
                args.file,
                rotate_secrets=args.rotate_secrets,
                create_missing=args.create_missing,
                force=args.force,
                prune=args.prune,
                targets=args.target,
                match=args.match,
                show_unmanaged=args.show_unmanaged,
                check_inputs=args.input_schema,
                check_all_inputs=args.check_all_inputs,
            )

    def outputs(the_plan: Plan) -> None:
        # With `--out -` the saved plan is stdout, so the plan for people goes to stderr.
        shown = env.stderr if args.out == STDOUT else env.stdout
        if args.format == "json":
            shown.write(json.dumps(the_plan.to_json(include_payloads=False), indent=2) + "\n")
        elif args.format == "markdown":
            shown.write(report.plan_markdown(the_plan))
        else:
            shown.write(report.plan_text(the_plan, color=env.color) + "\n")
        if args.out:
            saved = the_plan.to_json(key=_plan_key(settings.token))
            write_output(args.out, json.dumps(saved, indent=2) + "\n", env)
        if args.out and args.out != STDOUT:
            env.stderr.write(
                f"Saved the plan to {args.out}; apply it with `tasksync apply {args.out}`.\n"
            )
        if _under_actions(env):
            _annotate_plan_errors(the_plan, env)

    the_plan = run(work, outputs, stderr=env.stderr)
    if the_plan.has_errors:
        return ExitStatus.ERROR
    if args.detailed_exitcode and (the_plan.has_changes or the_plan.unmanaged):
        return ExitStatus.CHANGES
    return ExitStatus.OK


def _annotate_plan_errors(the_plan: Plan, env: Env) -> None:
    from tasksync.github.annotations import workflow_command
    from tasksync.model import Action

    for change in (*the_plan.changes, *the_plan.deletions):
        if change.action is Action.ERROR:
            message = f"{change.key}: {change.error or 'error'}"
            env.stderr.write(workflow_command("error", message, title="tasksync plan") + "\n")


def _cmd_apply(args: argparse.Namespace, env: Env) -> int:
    from tasksync import config, report
    from tasksync.run import run

    began = report.now()  # the report's duration covers the whole run, reading the file too
    check_output_path(args.report, "--report")
    check_output_path(args.summary, "--summary")
    settings = _settings(args, env)
    saved = _read_saved_plan(args.file, env, _plan_key(settings.token))
    if saved is not None and (args.target or args.match):
        raise TasksyncError("--target and --match select tasks of a file; a saved plan is whole")
    source = saved if saved is not None else config.load(args.file, environ=env.environ)

    async def work(interrupt: Interrupt) -> Report | None:
        async with _session(args, env, interrupt) as session:
            return await session.plan_and_apply(
                source,
                show=lambda p: env.print(report.plan_text(p, color=env.color)),
                confirm=lambda p: _confirm(args, env),
                create_missing=args.create_missing,
                force=args.force,
                prune=args.prune,
                rotate_secrets=args.rotate_secrets,
                started_at=began,
                targets=args.target,
                match=args.match,
                check_inputs=args.input_schema,
            )

    def outputs(result: Report | None) -> None:
        if result is not None:
            _publish(result, args, env)
            if result.error and not result.interrupted:
                env.error(result.error)

    result = run(work, outputs, stderr=env.stderr)
    if result is None:
        env.error("apply cancelled; nothing was changed")
        return ExitStatus.ERROR
    return result.exit_code


def _read_saved_plan(path: str, env: Env, key: bytes) -> Plan | None:
    """The saved plan at ``path``, or None when ``path`` is a task file (YAML or JSON): a saved
    plan is told by its content (``kind: tasksync-plan``), never by the file's extension."""
    doc = saved_plan_doc(path)
    if doc is None:
        return None
    from tasksync.plan import Plan

    return Plan.from_json(doc, environ=env.environ, key=key)


def saved_plan_doc(path: str) -> dict[str, object] | None:
    """The JSON of the saved plan at ``path``; None for anything else (which the task file's
    loader judges, with its own clear errors)."""
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(4096)
            if not head.lstrip().startswith("{") or '"tasksync-plan"' not in head + f.read():
                return None
            f.seek(0)
            doc = json.load(f)
    except (OSError, ValueError):
        return None
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
    from tasksync import report

    env.print(report.report_text(result))
    if args.report:
        write_output(args.report, json.dumps(result.to_json(), indent=2) + "\n", env)
        if args.report != STDOUT:
            env.print(f"Report written to {args.report}")
    markdown = report.report_markdown(result)
    if args.summary:
        write_output(args.summary, markdown, env)
    step_summary = env.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as f:
                f.write(markdown + "\n")
        except OSError as exc:  # the run's outcome stands; only its summary is missing
            env.warning(f"could not append to $GITHUB_STEP_SUMMARY ({exc.strerror})")


def _cmd_export(args: argparse.Namespace, env: Env) -> int:
    from tasksync import export
    from tasksync.run import run

    check_output_path(args.output, "-o")
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
        write_output(args.output or STDOUT, result.text, env)
        if args.output and args.output != STDOUT:
            env.stderr.write(f"Wrote {plural(result.tasks, 'task')} to {args.output}.\n")
        for warning in result.warnings:
            env.warning(warning)
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


COMMANDS: dict[str, Command] = {
    "validate": _cmd_validate,
    "plan": _cmd_plan,
    "apply": _cmd_apply,
    "export": _cmd_export,
    "init": _cmd_init,
    "schema": _cmd_schema,
    "completion": _cmd_completion,
    "emulator": _cmd_emulator,
    "demo": _cmd_demo,
}


def _annotate_error(exc: TasksyncError, env: Env) -> None:
    """Under GitHub Actions, an error is also an annotation (on its line, for a bad file)."""
    from tasksync.github.annotations import problem_annotation, workflow_command

    if isinstance(exc, ConfigError):
        for p in exc.problems:
            env.stderr.write(problem_annotation(p) + "\n")
    else:
        env.stderr.write(workflow_command("error", str(exc), title="tasksync") + "\n")


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    env = env or Env()
    parser = build_parser()
    try:
        # argparse prints usage and errors itself: to the streams of this Env, not the process's.
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors; 2 means "changes" here
        return ExitStatus.OK if not exc.code else ExitStatus.ERROR
    if extra:  # named, never echoed: a value nobody asked for may be a pasted token
        env.error(unknown_arguments_message(args.command, extra))
        return ExitStatus.ERROR
    env.color_mode = getattr(args, "color", "auto")
    try:
        return COMMANDS[args.command](args, env)
    except TasksyncError as exc:
        env.error(str(exc))
        if _under_actions(env):
            _annotate_error(exc, env)
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        env.error("interrupted; nothing more was done")
        return ExitStatus.INTERRUPTED
    except Exception as exc:
        run_module = sys.modules.get("tasksync.run")  # not imported: nothing could interrupt
        if run_module is None or not isinstance(exc, run_module.Interrupted):
            raise
        env.error("interrupted; nothing more was done")
        return ExitStatus.INTERRUPTED


def run_console() -> None:
    """Console-script entry point."""
    # The process is ours: collect the young generation less often. A run keeps every task it
    # read until the plan is made, and with the default threshold (700) those survivors are
    # scanned again and again: 12-15% of a plan's CPU (bench/README.md, "Garbage collection").
    gc.set_threshold(20_000, 20, 20)
    sys.exit(main())
