"""The file's ``prune:`` section -> ``Prune``, with the checks the JSON Schema cannot make.

The schema checks the shape (``tasks`` and ``schedules``, lists of non-empty strings). Here each
glob is checked as a pattern over resource names (letters, digits and hyphens, with ``*``, ``?``
and ``[...]``): a ``username~`` part is refused (only the token owner's resources are ever
deleted, so a glob names the name alone), and so is a ``[`` that is never closed, which
``fnmatch`` would silently take as a plain character.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tasksync.config.issues import Issue
from tasksync.model import JSON, Prune
from tasksync.text import shorten

_GLOB = re.compile(r"(?:[A-Za-z0-9*?-]|\[!?[A-Za-z0-9-]+\])+\Z")


def glob_problem(glob: str) -> str | None:
    """Why ``glob`` is not a glob over resource names, or None."""
    shown = '"' + shorten(glob, 80) + '"'
    if "~" in glob or "/" in glob:
        return (
            f"{shown}: a prune glob matches names of the token owner's resources; leave out the "
            "username (news-*, not janedoe~news-*)"
        )
    if _GLOB.match(glob) is None:
        return (
            f"{shown} is not a glob over names: use letters, digits and hyphens with *, ? and "
            "[...] (a [ must be closed)"
        )
    return None


def build(root: Mapping[str, JSON]) -> tuple[Prune | None, list[Issue]]:
    """The ``prune:`` section (None when the file has none), and every problem of its globs."""
    section = root.get("prune")
    if type(section) is not dict:
        return None, []
    issues: list[Issue] = []
    found: dict[str, tuple[str, ...]] = {}
    for resource in ("tasks", "schedules"):
        globs = section.get(resource)
        if type(globs) is not list:
            continue
        for index, glob in enumerate(globs):
            if type(glob) is str and glob:
                problem = glob_problem(glob)
                if problem is not None:
                    issues.append(Issue(("prune", resource, index), None, problem))
        found[resource] = tuple(g for g in globs if type(g) is str)
    return Prune(found.get("tasks", ()), found.get("schedules", ())), issues
