"""What a run did, and how it is shown: the Report value and the text / JSON / Markdown renderers
for plans and reports.

- ``outcome``: the Report value and its versioned JSON form;
- ``valuediff``: how one field change reads (line diffs of texts, windows of long values,
  item-level list diffs);
- ``grouping``: changes that are the same on many tasks, shown once;
- ``predict``: what ``apply`` would do with a plan, in sentences;
- ``text`` and ``markdown``: the renderers (Markdown within a comment's or summary's budget).

Renderers are pure functions returning strings; they only ever see masked field changes, never a
payload, so no secret can reach an output through them. The JSON forms carry ``formatVersion``
and change only compatibly within a version (pipelines parse them; the README documents them).
"""

from __future__ import annotations

from tasksync.report.markdown import COMMENT_BUDGET, SUMMARY_BUDGET, plan_markdown, report_markdown
from tasksync.report.outcome import REPORT_FORMAT_VERSION, Report, now
from tasksync.report.text import plan_summary, plan_text, report_text
from tasksync.report.valuediff import show

__all__ = [
    "COMMENT_BUDGET",
    "REPORT_FORMAT_VERSION",
    "SUMMARY_BUDGET",
    "Report",
    "now",
    "plan_markdown",
    "plan_summary",
    "plan_text",
    "report_markdown",
    "report_text",
    "show",
]
