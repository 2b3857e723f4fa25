"""Start-up cost: every run pays it, and for a small file it is most of the CPU."""

from __future__ import annotations

import subprocess
import sys


def test_commands_other_than_emulator_and_demo_do_not_load_the_server() -> None:
    code = (
        "import sys; from tasksync import cli; cli.build_parser(); "
        "print(sorted(m for m in sys.modules "
        "if m == 'aiohttp.web' or m.startswith('tasksync.emulator.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['tasksync.emulator.command', 'tasksync.emulator.settings']"


def test_the_command_line_loads_no_network_stack_until_a_command_needs_it() -> None:
    code = (
        "import sys; from tasksync import cli; cli.build_parser(); import tasksync; "
        "print(sorted(m for m in ('aiohttp', 'anyio', 'jsonschema', 'tasksync.sync') "
        "if m in sys.modules)); tasksync.Settings; print('tasksync.sync' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split("\n")[:2] == ["[]", "True"]
