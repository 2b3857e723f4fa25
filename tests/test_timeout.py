"""A deadlock fails its test instead of hanging the run (pytest-timeout, ``timeout`` in
pyproject.toml): a planted one, in a pytest of its own, must fail within its timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HANGS = """
import anyio
import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_waits_for_an_event_that_never_fires() -> None:
    await anyio.Event().wait()
"""


def test_the_suite_has_a_per_test_timeout() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    assert 0 < options["ini_options"]["timeout"] <= 120


def test_a_planted_deadlock_fails_within_the_timeout(tmp_path: Path) -> None:
    (tmp_path / "test_hangs.py").write_text(textwrap.dedent(HANGS))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not this project's settings
    # Only the two plugins it needs: loading every installed one doubles the start-up.
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=3"]
    argv += ["-p", "pytest_timeout", "-p", "anyio.pytest_plugin"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [*argv, "test_hangs.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        # A hang fails here, as TimeoutExpired, instead of holding up the suite. Starting a
        # pytest can take most of this on a busy machine (28 s with all plugins and four busy
        # processes beside it), so the time taken is no measure: pytest-timeout's message is.
        timeout=50,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # tests failed (not: interrupted, or usage error)
    assert "Timeout (>3.0s)" in output or "Timeout >3.0s" in output, output
    assert "1 failed" in output, output
