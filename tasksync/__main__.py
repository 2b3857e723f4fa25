"""``python -m tasksync``: the same as the ``tasksync`` command."""

from tasksync.cli import run_console

run_console()
