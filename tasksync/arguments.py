"""The command line's grammar: every command, its options with help text, examples and exit codes.

Nothing here runs a command: ``build_parser`` returns the parser, each subcommand carrying its
name as ``args.command`` (``cli`` maps names to functions). Options are never abbreviated (an
abbreviation once read ``--token tok-...`` as ``--token-file``), and a usage error never repeats
a value it did not understand: a token pasted on the command line must not land in a CI log.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

from tasksync._version import __version__
from tasksync.console import COLOR_MODES

TOKEN_HINT = "an API token goes in the APIFY_TOKEN environment variable or a --token-file"

EXIT_CODES = {
    "validate": ["0  every file is valid (an unset ${VAR} is only a note)", "1  a file is invalid"],
    "plan": [
        "0  success (with --detailed-exitcode: and no changes)",
        "1  error (an invalid file, the API, a task in error)",
        "2  changes present, or unmanaged tasks with --show-unmanaged (only with "
        "--detailed-exitcode)",
        "130  interrupted",
    ],
    "apply": [
        "0  every task converged (or nothing to do)",
        "1  error, or a task failed, was stale or was skipped; or the confirmation was refused",
        "130  interrupted (the report is still written)",
    ],
}
_DEFAULT_EXIT = ["0  success", "1  error"]

# A value argparse quotes in "invalid choice: 'x'" or "invalid int value: 'x'".
_QUOTED_VALUE = re.compile(r"(invalid [\w ]*?(?:choice|value)): (?:'[^']*'|\"[^\"]*\")")


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors never quote what was typed."""

    def error(self, message: str) -> NoReturn:
        message = _QUOTED_VALUE.sub(r"\1 (not shown)", message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun `{self.prog} --help` for more.\n")


def unknown_arguments_message(command: str, extra: list[str]) -> str:
    """What to say about arguments nobody asked for: the option names, never the values."""
    options = [a.split("=", 1)[0] for a in extra if a.startswith("-") and a != "-"]
    values = len(extra) - len(options)
    parts = []
    if options:
        parts.append(f"unknown option{'s' if len(options) > 1 else ''} {', '.join(options)}")
    if values:
        parts.append(f"{values} unexpected value{'s' if values > 1 else ''} (not shown)")
    return (
        f"{' and '.join(parts)}; options are never abbreviated, and {TOKEN_HINT}, "
        f"never on the command line. Run `tasksync {command} --help` for the options."
    )


def _command(
    sub: argparse._SubParsersAction[Parser],
    name: str,
    *,
    summary: str,
    description: str,
    examples: list[str],
) -> Parser:
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    epilog += "\n\nexit codes:\n" + "\n".join(f"  {c}" for c in EXIT_CODES.get(name, _DEFAULT_EXIT))
    p = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument(
        "--color",
        choices=COLOR_MODES,
        default=argparse.SUPPRESS,
        help="color the output: auto (a terminal, unless NO_COLOR; FORCE_COLOR forces it), "
        "always or never",
    )
    p.set_defaults(command=name)
    return p


def _add_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--api-url", help="API base URL (default: $APIFY_API_BASE_URL or https://api.apify.com)"
    )
    p.add_argument("--token-file", help="read the API token from this file (else $APIFY_TOKEN)")
    p.add_argument(
        "--concurrency",
        type=int,
        help="a fixed number of requests in flight (default: adapts to the API's latency)",
    )
    p.add_argument(
        "--max-concurrency",
        type=int,
        default=256,
        help="the most requests in flight the adaptive default may reach (default 256)",
    )
    p.add_argument(
        "--max-rate", type=float, help="at most this many requests per second (default: adaptive)"
    )
    p.add_argument(
        "--max-attempts",
        type=int,
        default=5,
        help="attempts per request before giving up on it (default 5): a 429, a 5xx, a timeout "
        "or a lost connection is retried",
    )
    p.add_argument(
        "--retry-delay",
        type=float,
        default=0.5,
        help="seconds before the first retry, doubled with jitter for each next one (default "
        "0.5; a Retry-After header asks for longer)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds a request's first attempt may take, doubled for each retry (default 30)",
    )


def _add_diff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rotate-secrets",
        action="store_true",
        help="send secret input values even when the API only shows them encrypted",
    )
    p.add_argument(
        "--no-input-schema",
        dest="input_schema",
        action="store_false",
        help="do not check the inputs against the input schemas of the Actors' builds (two "
        "requests per Actor and build are saved)",
    )


def actor_schema(text: str) -> tuple[str, str]:
    """``ACTOR=PATH`` of ``validate --input-schema`` (the text is never quoted back: it could
    be anything pasted)."""
    actor, sep, path = text.partition("=")
    if not sep or not actor or not path:
        raise argparse.ArgumentTypeError(
            "expected ACTOR=PATH, an Actor (username~name) and its input schema file"
        )
    return actor, path


def _add_apply_flags(p: argparse.ArgumentParser, recorded: bool = False) -> None:
    also = " (recorded in the plan, which then says what apply will do)" if recorded else ""
    p.add_argument(
        "--force",
        action="store_true",
        help="override the safety limit (safety.maxChangedFraction)" + also,
    )
    p.add_argument(
        "--create-missing", action="store_true", help="create tasks that do not exist yet" + also
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="delete what the file owns (prune:) but no longer declares" + also,
    )


def _add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="REF",
        help="act only on this task of the file (repeatable; username~name, ~name, a name or an "
        "ID); the safety limit counts the tasks selected, and schedules are left out",
    )
    p.add_argument(
        "--match",
        metavar="GLOB",
        help="act only on the file's tasks whose name or username~name matches this glob "
        "(with --target: either selects a task)",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog="tasksync",
        description="Configuration as code for Apify Actor tasks: validate, plan and apply one "
        "YAML file against the Apify API.",
        epilog="Run `tasksync COMMAND --help` for a command's options, examples and exit codes.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"tasksync {__version__}")
    parser.add_argument(
        "--color", choices=COLOR_MODES, default=argparse.SUPPRESS, help="auto, always or never"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _validate(sub)
    _plan(sub)
    _apply(sub)
    _export(sub)
    _other_commands(sub)
    return parser


def _validate(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(
        sub,
        "validate",
        summary="check task files offline (no token, no secrets needed)",
        description="Check task files offline: schema, names, pointers, duplicates, and the "
        "inputs against local input schemas (the file's actors: section, --input-schema). Needs "
        "no token and no secrets: an unset ${VAR} is a note (an error with --require-env). "
        "Every problem is reported at once, as file:line:col.",
        examples=[
            "tasksync validate tasks.yaml",
            "tasksync validate a.tasksync.yaml b.tasksync.yaml --format github",
            "tasksync validate tasks.yaml --require-env    # as plan and apply will read it",
            "tasksync validate tasks.yaml --input-schema janedoe~crawler=.actor/input_schema.json",
        ],
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="task files (YAML)")
    p.add_argument(
        "--format",
        choices=("text", "github"),
        help="text (file:line:col) or github (::error annotations); default: github under "
        "GitHub Actions when stdout is not a terminal, else text",
    )
    p.add_argument(
        "--require-env",
        action="store_true",
        help="an unset ${VAR} is an error, not a note",
    )
    p.add_argument(
        "--input-schema",
        dest="input_schemas",
        action="append",
        type=actor_schema,
        metavar="ACTOR=PATH",
        help="check the inputs of ACTOR's tasks against this input schema file, as well as the "
        "Actors the file's actors: section names (repeatable; wins over the file's)",
    )


def _plan(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(
        sub,
        "plan",
        summary="show what apply would change (the dry run; writes nothing)",
        description="Read the live tasks and show how they differ from the file. Each input to "
        "be written is checked against its Actor build's input schema (a refused one is a plan "
        "error). Changes nothing. The plan goes to stdout; progress to stderr.",
        examples=[
            "tasksync plan tasks.yaml --detailed-exitcode",
            "tasksync plan tasks.yaml --format markdown > plan.md",
            "tasksync plan tasks.yaml --out plan.json && tasksync apply plan.json",
            "tasksync plan tasks.yaml --create-missing --out plan.json   # apply creates them",
            "tasksync plan tasks.yaml --target ~news-daily --match 'shop-*'",
            "tasksync plan tasks.yaml --show-unmanaged --detailed-exitcode",
            "tasksync plan tasks.yaml --check-all-inputs   # unchanged tasks' inputs too",
        ],
    )
    p.add_argument("file", help="the task file (YAML)")
    p.add_argument(
        "--out",
        metavar="FILE",
        help="save the plan as JSON, for `tasksync apply FILE` (- for stdout; the plan text "
        "then goes to stderr)",
    )
    p.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="how to show the plan (default text)",
    )
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    p.add_argument(
        "--show-unmanaged",
        action="store_true",
        help="list the account's tasks that the file does not mention (they count as changes "
        "for --detailed-exitcode)",
    )
    p.add_argument(
        "--check-all-inputs",
        action="store_true",
        help="check the inputs of unchanged tasks against their input schemas too (a nightly "
        "job finds inputs a new Actor build no longer accepts)",
    )
    _add_apply_flags(p, recorded=True)
    _add_target_arguments(p)
    _add_api_arguments(p)
    _add_diff_arguments(p)


def _apply(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(
        sub,
        "apply",
        summary="plan, confirm, and change the tasks",
        description="Plan, show the plan, ask on a terminal (or take --yes), then send only what "
        "changed. A saved plan (.json) is applied exactly; its tasks that moved since are "
        "skipped as stale. Ctrl-C stops new requests, writes the report and exits 130.",
        examples=[
            "tasksync apply tasks.yaml",
            "tasksync apply plan.json --yes --report report.json",
            "tasksync apply tasks.yaml --yes --create-missing --summary summary.md",
            "tasksync apply tasks.yaml --target acme~news-daily --target ~shop-eu",
        ],
    )
    p.add_argument("file", help="the task file (YAML), or a plan saved by `plan --out` (.json)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _add_apply_flags(p)
    _add_target_arguments(p)
    p.add_argument("--report", metavar="FILE", help="write the JSON report to this file")
    p.add_argument("--summary", metavar="FILE", help="write the Markdown summary to this file")
    _add_api_arguments(p)
    _add_diff_arguments(p)


def _export(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(
        sub,
        "export",
        summary="write the account's live tasks as a task file",
        description="Write the live tasks as a valid task file: planning it right away shows no "
        "changes. Encrypted secrets become ${VAR} placeholders, named on stderr.",
        examples=[
            "tasksync export -o tasks.yaml",
            "tasksync export --match 'news-*' -o news.tasksync.yaml",
            "tasksync export --actor apify~web-scraper",
        ],
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write to this file (default or -: stdout)"
    )
    p.add_argument("--match", help="only tasks whose name or username~name matches this glob")
    p.add_argument("--actor", help="only tasks of this Actor (ID or username~name)")
    p.add_argument(
        "--include-others",
        action="store_true",
        help="also tasks of other users that the token can list (default: only its owner's)",
    )
    _add_api_arguments(p)


def _other_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = _command(
        sub,
        "init",
        summary="write a commented starter task file and its schema",
        description="Write a commented starter task file (from the bundled example) and the "
        "JSON Schema next to it, for editors. Refuses to overwrite either unless --force.",
        examples=["tasksync init", "tasksync init config/tasksync.yaml", "tasksync init --force"],
    )
    p.add_argument("file", nargs="?", default="tasksync.yaml", help="default tasksync.yaml")
    p.add_argument("--force", action="store_true", help="overwrite files that exist")

    _command(
        sub,
        "schema",
        summary="print the JSON Schema of the task file",
        description="Print the JSON Schema of the task file, for editors and other checkers.",
        examples=["tasksync schema > tasksync.schema.json"],
    )

    p = _command(
        sub,
        "completion",
        summary="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for a shell, made from these very options.",
        examples=[
            'eval "$(tasksync completion bash)"              # in ~/.bashrc',
            "tasksync completion zsh > ~/.zfunc/_tasksync    # a folder in $fpath",
            "tasksync completion fish > ~/.config/fish/completions/tasksync.fish",
        ],
    )
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell")

    p = _command(
        sub,
        "emulator",
        summary="run the local Apify-compatible API server",
        description="Serve an in-memory Apify-compatible API (with a control plane at "
        "/_emulator/) until Ctrl-C. Prints the two export lines a shell needs.",
        examples=[
            "tasksync emulator --port 8787 --tasks 1000",
            "tasksync emulator --port 0 --seed seed.yaml",
            "tasksync emulator --error-rate 0.1 --latency-ms 50",
        ],
    )
    from tasksync.emulator import command as emulator_command

    emulator_command.add_arguments(p)

    p = _command(
        sub,
        "demo",
        summary="plan and apply the example file against a built-in emulator",
        description="Start the emulator in-process, seed it with drifted tasks, then plan, apply "
        "and plan again. No account needed.",
        examples=["tasksync demo", "tasksync demo tasks.yaml"],
    )
    p.add_argument("file", nargs="?", help="task file (default: the bundled example)")
