"""``${VAR}`` references in strings, expanded from the environment.

- ``${NAME}`` is the value of the environment variable ``NAME`` (letters, digits and ``_``, not
  starting with a digit); it is an error when ``NAME`` is not set.
- ``${NAME:-fallback}`` is the value of ``NAME``, or ``fallback`` when ``NAME`` is unset or empty
  (as in a POSIX shell). The fallback is literal text and cannot hold another reference.
- ``$${`` is a literal ``${`` (``tasksync export`` writes one so). Any other ``${`` that is not a
  well-formed reference is an error rather than literal text, so typos such as ``${KEY:default}``
  do not reach the API.
- A string is *from the environment* (a secret) when at least one of its variables was read from
  the environment; a fallback alone is written in the file, so it is not a secret.
- The variables tasksync itself reads (``APIFY_TOKEN``, ``APIFY_API_BASE_URL`` and every
  ``TASKSYNC_...``) are never read: a reference to one is an error, so that the API token cannot
  be sent to Apify as a task's input.
- With ``keep_missing`` (``validate`` without secrets), an unset variable without fallback leaves
  its reference as written, a placeholder that counts as read from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_REFERENCE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Expansion:
    """The outcome of expanding one string."""

    value: str
    from_environment: bool = False
    missing: tuple[str, ...] = ()
    error: str | None = None


_RESERVED_PREFIXES = ("APIFY_", "TASKSYNC_")  # a cheap first test: most names pass it


def reserved(name: str) -> bool:
    """Whether ``name`` is a variable tasksync itself reads, which a task file may not use."""
    return name in ("APIFY_TOKEN", "APIFY_API_BASE_URL") or name.startswith("TASKSYNC_")


def expand_string(
    text: str, environ: Mapping[str, str], *, keep_missing: bool = False
) -> Expansion:
    """Expand every reference in ``text`` (callers may skip strings without ``${``)."""
    out: list[str] = []
    start = 0
    from_environment = False
    missing: list[str] = []
    error = None
    for found in _TOKEN.finditer(text):
        out.append(text[start : found.start()])
        start = found.end()
        token = found.group()
        if token == "$${":
            out.append("${")
            continue
        body = found.group(1)
        reference = _REFERENCE.match(body) if body is not None else None
        if reference is None or "${" in (reference.group(2) or ""):
            error = error or _malformed(token if body is not None else text[found.start() :])
            out.append(token)
            continue
        name, fallback = reference.groups()
        if name.startswith(_RESERVED_PREFIXES) and reserved(name):
            error = error or _reserved(name)
            out.append(token)
            continue
        value = environ.get(name)
        if fallback is not None and not value:
            out.append(fallback)
        elif value is None:
            missing.append(name)
            if keep_missing:
                out.append(token)
                from_environment = True
        else:
            out.append(value)
            from_environment = True
    out.append(text[start:])
    return Expansion("".join(out), from_environment, tuple(dict.fromkeys(missing)), error)


def _malformed(token: str) -> str:
    shown = token if len(token) <= 60 else token[:57] + "..."
    return (
        f"{shown} is not a variable reference: write ${{NAME}} or ${{NAME:-fallback}} (NAME made "
        "of letters, digits and _), or $${ for a literal ${"
    )


def _reserved(name: str) -> str:
    what = {"APIFY_TOKEN": "the API token", "APIFY_API_BASE_URL": "the API's address"}.get(
        name, "a tasksync setting"
    )
    return (
        f"${{{name}}} is {what}, which tasksync reads for itself; a task file cannot use it "
        "(its value would be sent to Apify with the task): give the value a variable of its own"
    )
