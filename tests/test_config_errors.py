"""Bad and hostile task files: every problem is reported at once, with file, line and path, through
``tasksync validate`` (exit 1, no traceback), and nothing hangs, recurses away or eats memory.

Each file under ``tests/fixtures/config/invalid`` is one case and lists the problems it must give
in ``# expect: LINE PATH | MESSAGE FRAGMENT`` comments (``-`` for no line or no path).
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tasksync import config
from tasksync.cli import Env, main
from tasksync.config import yamlread
from tasksync.errors import ConfigError

INVALID = Path(__file__).parent / "fixtures" / "config" / "invalid"
_EXPECT = re.compile(r"^# expect: (?P<line>\d+|-) (?P<path>\S+) \| (?P<fragment>.+)$", re.M)


@dataclass(frozen=True)
class Expected:
    line: int | None
    path: str | None
    fragment: str


def expectations(path: Path) -> list[Expected]:
    if path.name == "empty.yaml":  # a file with zero bytes cannot say what it expects
        return [Expected(None, None, "the file is empty")]
    text = path.read_bytes().decode("utf-8", "replace")
    return [
        Expected(
            None if m["line"] == "-" else int(m["line"]),
            None if m["path"] == "-" else m["path"],
            m["fragment"],
        )
        for m in _EXPECT.finditer(text)
    ]


def validate(path: str | Path, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    # --require-env: an unset variable is an error here, as plan and apply see the file.
    argv = ["validate", "--require-env", str(path)]
    code = main(argv, Env(stdout=out, stderr=err, environ=environ or {}))
    return int(code), out.getvalue(), err.getvalue()


CASES = sorted(p.name for p in INVALID.glob("*.yaml"))


@pytest.mark.parametrize("name", CASES)
def test_invalid_file(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # python-tag.yaml would create a file here if it ran anything
    path = INVALID / name
    expected = expectations(path)
    assert expected, f"{name} lists no '# expect:' line"
    code, out, err = validate(path)
    assert (code, out) == (1, ""), err
    assert "Traceback" not in err
    lines = err.splitlines()
    plural = "s" if len(expected) != 1 else ""
    assert lines[0] == f"tasksync: error: {len(expected)} problem{plural} in the task file:"
    problems = lines[1:]
    for want in expected:
        where = f"  {path}:{want.line}:" if want.line is not None else f"  {path}: "
        found = [
            p
            for p in problems
            if p.startswith(where)
            and (want.path is None or f": {want.path}" in p)
            and want.fragment in p
        ]
        assert found, f"no problem like {want} in:\n" + "\n".join(problems)
    assert not list(tmp_path.iterdir())


def test_problems_are_structured_and_sorted() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(INVALID / "options.yaml", environ={})
    problems = caught.value.problems
    assert [(p.line, p.path) for p in problems] == [
        (14, "tasks[0].options.timeoutSecs"),
        (15, "tasks[0].options.maxItems"),
        (16, "tasks[0].options.maxTotalChargeUsd"),
        (17, "tasks[0].options.build"),
        (18, "tasks[0].options.restartOnError"),
        (19, "tasks[0].options.timeout"),
        (22, "tasks[1].options.timeoutSecs"),
    ]
    assert all(p.file == str(INVALID / "options.yaml") and p.column == 7 for p in problems)


def test_values_from_aliases_and_merge_keys_are_reported_where_they_are_used() -> None:
    text = (
        "version: 1\n"
        "x-big: &big {memoryMbytes: 100}\n"
        "tasks:\n"
        "  - task: ~abc\n"
        "    options: *big\n"
        "  - task: ~def\n"
        "    options:\n"
        "      <<: *big\n"
        "      timeoutSecs: 1\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.load_text(text, environ={})
    assert [(p.line, p.path) for p in caught.value.problems] == [
        (5, "tasks[0].options.memoryMbytes"),  # the alias
        (8, "tasks[1].options.memoryMbytes"),  # the merge key
    ]


def test_the_pure_python_parser_reports_the_same_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [
        "duplicate-keys.yaml",
        "tabs.yaml",
        "control-character.yaml",
        "deep-nesting.yaml",
        "billion-laughs.yaml",
        "multiple-documents.yaml",
        "aliases.yaml",
    ]

    def problems() -> list[tuple[int | None, str, str]]:
        found = []
        for name in names:
            with pytest.raises(ConfigError) as caught:
                config.load(INVALID / name, environ={})
            found += [(p.line, p.path, p.message[:40]) for p in caught.value.problems]
        return found

    with_libyaml = problems()
    monkeypatch.setattr(yamlread, "_Parser", yaml.SafeLoader)
    assert problems() == with_libyaml


def test_env_values_are_checked_against_the_environment() -> None:
    path = INVALID / "env-missing.yaml"
    code, _, err = validate(path, {"API_TOKEN": "t", "HOST": "h", "PORT": "1"})
    assert (code, err) == (0, "")


# -- files that cannot be read ---------------------------------------------------------------


def test_missing_file() -> None:
    code, _, err = validate("no/such/tasks.yaml")
    assert code == 1
    assert err == (
        "tasksync: error: 1 problem in the task file:\n  no/such/tasks.yaml: no such file\n"
    )


def test_directory(tmp_path: Path) -> None:
    code, _, err = validate(tmp_path)
    assert code == 1 and f"{tmp_path}: this is a directory" in err


def test_file_over_the_size_cap_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:  # sparse: 21 MiB of size, no data written
        f.truncate(config.MAX_FILE_BYTES + 1024 * 1024)
    code, _, err = validate(path)
    assert code == 1 and "the file is 21.0 MiB; task files are limited to 20 MiB" in err
    with pytest.raises(ConfigError, match="limited to 20 MiB"):
        config.load_text(b" " * (config.MAX_FILE_BYTES + 1), environ={})


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("version: 1\ntasks: []\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user that reads anything")
        code, _, err = validate(path)
        assert code == 1 and "cannot read the file: Permission denied" in err
    finally:
        path.chmod(0o600)


def test_text_with_lone_surrogates() -> None:
    with pytest.raises(ConfigError, match="not valid Unicode"):
        config.load_text("version: 1\ntasks: []\nx-a: \ud800\n", environ={})


# -- hostile input: bounded time, memory and stack -----------------------------------------------


def test_many_aliases_of_a_big_anchor_are_refused() -> None:
    items = ", ".join(["1"] * 10_000)
    text = f"version: 1\nx-big: &big [{items}]\ntasks:\n" + "".join(
        f"  - {{task: ~task-{i}, input: {{a: *big}}}}\n" for i in range(1000)
    )
    with pytest.raises(ConfigError, match="expands to more than 2,000,000 values"):
        config.load_text(text, environ={})


@pytest.mark.parametrize(
    "nested",
    ["[" * 100_000, "{a: " * 100_000, "".join(" " * i + "- \n" for i in range(3000))],
    ids=["flow-lists", "flow-mappings", "block-lists"],
)
def test_deep_nesting_never_exhausts_the_stack(nested: str) -> None:
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        config.load_text("version: 1\ntasks: []\nx-deep:\n " + nested, environ={})
