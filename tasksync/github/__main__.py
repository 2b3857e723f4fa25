"""``python -m tasksync.github``: what ``action.yml``, the workflows and pre-commit call."""

import sys

from tasksync.github.command import main

sys.exit(main())
