"""The command line a user expects: every mistake gets one clear paragraph, the right exit code, no
traceback and (where it applies) no request; --version, --color, help, completion, init, outputs
to stdout, annotations under GitHub Actions, and the README's library example, run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import run_cli, seed, threaded_emulator, write_file

from tasksync import config, report
from tasksync.arguments import build_parser
from tasksync.completion import script
from tasksync.console import Env
from tasksync.emulator import Emulator
from tasksync.emulator.fixtures import generated_tasks
from tasksync.model import ChangeKind, FieldChange, Status, TaskResult
from tasksync.report import Report, now

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).with_name("fixtures")
TOKEN_LIKE = "tok-jane-s3cret"
TASKS = "version: 1\ntasks:\n  - task: janedoe~alpha\n    options: {memoryMbytes: 2048}\n"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with threaded_emulator() as emulator:
        yield emulator


@pytest.fixture
def fresh(emu: Emulator) -> Emulator:
    emu.reset()
    seed(emu, "alpha", options={"memoryMbytes": 1024})
    emu.clear_requests()
    return emu


# -- every mistake: one paragraph, exit 1, no traceback, no token, no request ----------------------

MISTAKES = [
    # (id, argv with {file} {dir} {missing}, fragment of the message)
    ("token-flag", ["plan", "{file}", "--token", TOKEN_LIKE], "unknown option --token"),
    ("token-equals", ["plan", "{file}", f"--token={TOKEN_LIKE}"], "unknown option --token"),
    ("token-first", ["plan", "--token", TOKEN_LIKE, "{file}"], "unknown option --token"),
    ("abbreviation", ["plan", "{file}", "--token-fil", "x"], "unknown option --token-fil"),
    ("abbrev-detailed", ["plan", "{file}", "--detailed"], "unknown option --detailed"),
    ("top-level-token", ["--token", TOKEN_LIKE, "plan", "{file}"], "invalid choice (not shown)"),
    ("bad-int", ["plan", "{file}", "--concurrency", TOKEN_LIKE], "invalid int value (not shown)"),
    ("bad-choice", ["plan", "{file}", "--format", TOKEN_LIKE], "invalid choice (not shown)"),
    ("bad-color", ["plan", "{file}", "--color", "sometimes"], "invalid choice"),
    ("no-command", [], "the following arguments are required: COMMAND"),
    ("out-missing-folder", ["plan", "{file}", "--out", "{missing}/p.json"], "does not exist"),
    ("out-directory", ["plan", "{file}", "--out", "{dir}"], "it is a directory"),
    ("report-missing", ["apply", "{file}", "--yes", "--report", "{missing}/r.json"], "not exist"),
    ("summary-directory", ["apply", "{file}", "--yes", "--summary", "{dir}"], "is a directory"),
    ("export-missing", ["export", "-o", "{missing}/t.yaml"], "does not exist"),
    ("export-onto-file", ["export", "-o", "{file}/t.yaml"], "is not a folder"),
    ("no-token", ["plan", "{file}", "--token-file", "{missing}/token"], "cannot read the token"),
    ("concurrency", ["plan", "{file}", "--concurrency", "0"], "--concurrency must be at least 1"),
    ("emulator-tasks", ["emulator", "--tasks", "-1"], "--tasks must be 0 or more"),
    ("init-exists", ["init", "{file}"], "exists; pass --force"),
]


@pytest.mark.parametrize(
    ("argv", "fragment"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_a_mistake_gets_one_clear_message(
    argv: list[str], fragment: str, fresh: Emulator, tmp_path: Path
) -> None:
    file = write_file(tmp_path, TASKS)
    names = {"file": file, "dir": str(tmp_path), "missing": str(tmp_path / "missing")}
    result = run_cli(*[a.format(**names) for a in argv], emu=fresh)
    assert result.code == 1, result.output
    assert fragment in result.err, result.err
    assert "Traceback" not in result.output
    assert TOKEN_LIKE not in result.output
    assert "tasksync: error" in result.err or "error:" in result.err
    assert fresh.requests == []
    assert not list((tmp_path).glob(".tasksync-*")), "a temporary file was left behind"


def test_an_unknown_option_says_where_tokens_go(fresh: Emulator, tmp_path: Path) -> None:
    file = write_file(tmp_path, TASKS)
    result = run_cli("plan", file, "--token", TOKEN_LIKE, emu=fresh)
    assert result.err.count("\n") == 1, "one paragraph"
    assert "APIFY_TOKEN" in result.err and "1 unexpected value (not shown)" in result.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_output_without_permission_is_refused_before_any_request(
    fresh: Emulator, tmp_path: Path
) -> None:
    file = write_file(tmp_path, TASKS)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_cli("plan", file, "--out", str(locked / "p.json"), emu=fresh)
    finally:
        locked.chmod(0o700)
    assert result.code == 1 and "permission denied" in result.err
    assert fresh.requests == []


def test_a_summary_that_cannot_be_appended_is_a_warning(fresh: Emulator, tmp_path: Path) -> None:
    file = write_file(tmp_path, TASKS)
    environ = {"GITHUB_STEP_SUMMARY": str(tmp_path)}  # a directory: cannot be appended to
    result = run_cli("apply", file, "--yes", emu=fresh, environ=environ)
    assert result.code == 0, result.output
    assert "tasksync: warning: could not append to $GITHUB_STEP_SUMMARY" in result.err
    assert fresh.state.get_task("janedoe~alpha")["options"]["memoryMbytes"] == 2048  # type: ignore[index]


# -- outputs to standard output --------------------------------------------------------------------


def test_out_dash_writes_the_saved_plan_to_stdout(fresh: Emulator, tmp_path: Path) -> None:
    file = write_file(tmp_path, TASKS)
    result = run_cli("plan", file, "--out", "-", emu=fresh)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["kind"] == "tasksync-plan" and "payload" in doc["tasks"][0]
    assert "Plan: 0 to create, 1 to update" in result.err
    assert not (tmp_path / "-").exists()


def test_export_dash_o_writes_to_stdout(fresh: Emulator, tmp_path: Path) -> None:
    result = run_cli("export", "-o", "-", emu=fresh)
    assert result.code == 0, result.err
    assert "janedoe~alpha" in result.out and not (Path.cwd() / "-").exists()


# -- --version, --color, help ---------------------------------------------------------------------


def test_version() -> None:
    from tasksync import __version__

    result = run_cli("--version")
    assert (result.code, result.out) == (0, f"tasksync {__version__}\n")


@pytest.mark.parametrize(
    ("mode", "environ", "tty", "expected"),
    [
        ("auto", {}, True, True),
        ("auto", {}, False, False),
        ("auto", {"NO_COLOR": "1"}, True, False),
        ("auto", {"FORCE_COLOR": "1"}, False, True),
        ("auto", {"FORCE_COLOR": "0"}, False, False),
        ("always", {"NO_COLOR": "1"}, False, True),
        ("never", {"FORCE_COLOR": "1"}, True, False),
    ],
)
def test_color_choice(mode: str, environ: dict[str, str], tty: bool, expected: bool) -> None:
    env = Env(environ=environ, stdout_isatty=tty, stdin_isatty=False, color_mode=mode)
    assert env.color is expected


def test_color_always_colors_a_plan_in_a_log(fresh: Emulator, tmp_path: Path) -> None:
    file = write_file(tmp_path, TASKS)
    colored = run_cli("plan", file, "--color", "always", emu=fresh, environ={"NO_COLOR": "1"})
    plain = run_cli("plan", file, emu=fresh)
    assert "\x1b[" in colored.out and "\x1b[" not in plain.out


def test_every_command_has_help_examples_and_exit_codes() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices is not None
    assert set(sub.choices) >= {"validate", "plan", "apply", "export", "init", "completion"}
    for name, command in sub.choices.items():
        assert command.description, name
        examples = (command.epilog or "").partition("examples:\n")[2].partition("\n\n")[0]
        assert examples.count("tasksync ") >= 1 and examples.startswith("  "), name
        assert "exit codes:\n  0 " in (command.epilog or ""), name
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


# -- completion -----------------------------------------------------------------------------------


def _bash_complete(words: list[str]) -> list[str]:
    code = (
        script("bash", build_parser())
        + f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        + '_tasksync; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_bash_completion_completes_commands_options_and_choices() -> None:
    assert _bash_complete(["tasksync", "pl"]) == ["plan"]
    assert "--detailed-exitcode" in _bash_complete(["tasksync", "plan", "--de"])
    assert _bash_complete(["tasksync", "plan", "x.yaml", "--format", ""]) == [
        "text",
        "json",
        "markdown",
    ]
    assert _bash_complete(["tasksync", "completion", "f"]) == ["fish"]
    assert _bash_complete(["tasksync", "--col"]) == ["--color"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse(shell: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    path = tmp_path / f"completion.{shell}"
    path.write_text(script(shell, build_parser()))
    done = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_fish_completes_options() -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    code = script("fish", build_parser()) + "complete -C'tasksync plan --form'\n"
    done = subprocess.run(["fish", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("--format")


def test_completion_command_prints_the_script() -> None:
    result = run_cli("completion", "bash")
    assert result.code == 0 and "complete -o filenames" in result.out


# -- init -----------------------------------------------------------------------------------------


def test_init_writes_a_starter_that_validates_and_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "tasksync.yaml"
    result = run_cli("init", str(path))
    assert result.code == 0, result.output
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=tasksync.schema.json\n")
    assert "tasksync validate tasksync.yaml" in text
    assert json.loads((tmp_path / "tasksync.schema.json").read_text()) == config.schema()
    assert run_cli("validate", str(path)).code == 0
    assert run_cli("init", str(path)).code == 1
    path.write_text("mine")
    assert run_cli("init", str(path), "--force").code == 0
    assert path.read_text() == text


# -- validate: several files, notes, formats, annotations ------------------------------------------


def test_validate_without_secrets_notes_an_unset_variable(tmp_path: Path) -> None:
    path = str(FIXTURES / "bad" / "undefined-env-var.yaml")
    result = run_cli("validate", path)
    assert result.code == 0, result.output
    assert "NEWS_TEST_UNSET_KEY is not set" in result.out
    assert "valid, 1 task; 1 variable is unset here" in result.out
    strict = run_cli("validate", "--require-env", path)
    assert strict.code == 1 and "NEWS_TEST_UNSET_KEY is not set" in strict.err


def test_validate_several_files(tmp_path: Path) -> None:
    good = write_file(tmp_path, TASKS, "a.yaml")
    bad = str(FIXTURES / "bad" / "bad-actor.yaml")
    result = run_cli("validate", good, bad)
    assert result.code == 1
    assert result.out == f"{good}: valid, 1 task\n"
    assert result.err.startswith("tasksync: error: 1 problem in the task file:\n")
    assert run_cli("validate", good, good).code == 0


def test_validate_under_github_actions(tmp_path: Path) -> None:
    bad = str(FIXTURES / "bad" / "bad-actor.yaml")
    actions = {"GITHUB_ACTIONS": "true"}
    log = run_cli("validate", bad, environ=actions)  # not a terminal: annotations by default
    assert log.out.startswith("::error file=") and ",line=5,col=5::" in log.out
    tty = run_cli("validate", bad, environ=actions, tty=True)
    assert tty.out == "" and "tasksync: error: 1 problem" in tty.err
    assert "::error file=" in tty.err  # the runner reads annotations on stderr too
    text = run_cli("validate", bad, "--format", "text")
    assert "::error" not in text.output


def test_plan_under_github_actions_annotates_the_file(fresh: Emulator) -> None:
    bad = str(FIXTURES / "bad" / "bad-actor.yaml")
    result = run_cli("plan", bad, emu=fresh, environ={"GITHUB_ACTIONS": "true"})
    assert result.code == 1
    assert re.search(r"^::error file=.*,line=5,col=5::tasks\[0\]\.actor: ", result.err, re.M)
    assert fresh.requests == []


def test_a_pointer_without_its_slash_gets_a_hint() -> None:
    result = run_cli("validate", str(FIXTURES / "bad" / "bad-ignore-pointer.yaml"))
    assert result.code == 1 and 'did you mean "/input/cursor"?' in result.err


# -- wording --------------------------------------------------------------------------------------


def _report(results: list[TaskResult], total: int, interrupted: bool = False) -> Report:
    moment = now()
    return Report("apply", moment, moment, results, {"total": total}, interrupted=interrupted)


def test_plurals() -> None:
    change = FieldChange("/options/memoryMbytes", ChangeKind.CHANGE, 1024, 2048)
    updated = TaskResult("janedoe~alpha", Status.UPDATED, changes=(change,))
    assert "(1 request, " in report.report_text(_report([updated], 1))
    assert "(2 requests, " in report.report_text(_report([updated], 2))
    assert "(1 change)" in report.report_markdown(_report([updated], 1))


def test_report_computes_its_exit_code() -> None:
    ok = TaskResult("janedoe~alpha", Status.UPDATED)
    failed = TaskResult("janedoe~beta", Status.FAILED, error="boom", error_type="x")
    assert _report([ok], 1).exit_code == 0
    assert _report([ok, failed], 2).exit_code == 1
    assert _report([ok], 1, interrupted=True).exit_code == 130


# -- the emulator's generated tasks ----------------------------------------------------------------


def test_generated_tasks_seed_n_tasks(emu: Emulator) -> None:
    emu.reset()
    assert emu.state.load_seed(generated_tasks(25))["tasks"] == 25
    names = sorted(str(t["name"]) for t in emu.state.tasks("janedoe"))
    assert names[0] == "task-00000" and names[-1] == "task-00024" and len(names) == 25


def test_the_readme_seed_example_loads(emu: Emulator) -> None:
    import yaml

    readme = (ROOT / "README.md").read_text()
    block = readme.split("`--seed FILE` (YAML or JSON)", 1)[1].split("```yaml\n", 1)[1]
    emu.reset()
    counts = emu.state.load_seed(yaml.safe_load(block.split("```", 1)[0]))
    assert counts == {"users": 1, "actors": 1, "tasks": 1}


# -- the README's library example ------------------------------------------------------------------


def test_the_readme_library_example_runs(fresh: Emulator, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## As a library", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    write_file(tmp_path, TASKS)
    environ = {
        **os.environ,
        "APIFY_TOKEN": fresh.token,
        "APIFY_API_BASE_URL": fresh.url,
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "~ janedoe~alpha" in done.stdout and "Apply: 1 updated" in done.stdout
    assert fresh.state.get_task("janedoe~alpha")["options"]["memoryMbytes"] == 2048  # type: ignore[index]
