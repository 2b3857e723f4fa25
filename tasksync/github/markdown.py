"""Markdown for GitHub, within its limits, and the runner's files ``$GITHUB_OUTPUT`` and
``$GITHUB_STEP_SUMMARY``.

A comment or issue body must stay under 65,536 characters and a step summary under 1 MiB: what
does not fit is cut at a line, with an open code fence or ``<details>`` closed and a note saying
where the rest is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from tasksync.text import visible

COMMENT_LIMIT = 65_536
"""GitHub refuses an issue or pull-request comment body of this many characters or more."""

COMMENT_BUDGET = 60_000
"""What the Markdown of a comment may take: the rest is for the marker, the footer and slack."""

SUMMARY_LIMIT = 1024 * 1024
"""GitHub drops a step's summary larger than this many bytes."""

SUMMARY_BUDGET = 1_000_000

# -- fitting Markdown into GitHub's limits ------------------------------------------------------


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def fit_markdown(
    text: str, limit: int, *, note: str, size: Callable[[str], int] = len
) -> tuple[str, bool]:
    """``text`` cut at a line so that it and ``note`` fit in ``limit`` (as ``size`` measures),
    with an open code fence and open ``<details>`` closed; returns the text and whether it was cut.
    """
    if size(text) <= limit:
        return text, False
    reserve = size(note) + 64  # the closing fence, </details> tags and blank lines
    kept: list[str] = []
    used = 0
    fence = False
    depth = 0
    for line in text.splitlines():
        closers = (4 if fence else 0) + 12 * depth
        if used + size(line) + 1 + closers + reserve > limit:
            room = limit - used - closers - reserve - 1
            if room > 40 and not kept:  # one huge line: keep its start
                kept.append(_cut_to(line, room, size) + "...")
            break
        kept.append(line)
        used += size(line) + 1
        if line.lstrip().startswith("```"):
            fence = not fence
        depth += line.count("<details") - line.count("</details>")
    if fence:
        kept.append("```")
    kept += ["</details>"] * max(depth, 0)
    result = "\n".join([*kept, "", note]) + "\n"
    assert size(result) <= limit, "fit_markdown overshot its limit"
    return result, True


def _cut_to(line: str, room: int, size: Callable[[str], int]) -> str:
    lo, hi = 0, len(line)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if size(line[:mid]) <= room:
            lo = mid
        else:
            hi = mid - 1
    return line[:lo]


# -- $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY ----------------------------------------------------


def write_outputs(path: str, outputs: Mapping[str, str]) -> None:
    """Append step outputs; a multi-line value uses the ``name<<DELIMITER`` form."""
    with open(path, "a", encoding="utf-8") as f:
        for name, value in outputs.items():
            if "\n" in value or "\r" in value:
                delimiter = "tasksync_" + os.urandom(8).hex()
                f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                f.write(f"{name}={value}\n")


def append_summary(path: str, markdown: str, *, link: str | None = None) -> bool:
    """Append ``markdown`` to the step summary within its size limit; whether it was cut."""
    try:
        used = os.path.getsize(path)
    except OSError:
        used = 0
    room = max(SUMMARY_BUDGET - used, 0)
    note = "*The rest was cut: a job summary holds at most 1 MiB."
    note += f" The full output is in the [job log]({link}).*" if link else "*"
    if room < 1000:
        return True  # the summary is already full: not even the cut note would fit
    text, cut = fit_markdown(markdown, room, note=note, size=_utf8_len)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n\n")
    return cut


def comment_markdown(markdown: str, limit: int = COMMENT_BUDGET) -> str:
    """``markdown`` cut to fit a comment or an issue body, with a note where it was cut."""
    note = (
        "> [!NOTE]\n> This was cut here: it is too long for a comment. See the run's job summary."
    )
    return fit_markdown(markdown, limit, note=note)[0]


def md_text(text: str) -> str:
    """Text shown inside Markdown: invisible characters made visible, no HTML tags."""
    return visible(text).replace("<", "&lt;").replace(">", "&gt;")
