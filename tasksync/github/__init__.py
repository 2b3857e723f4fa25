"""GitHub Actions and pre-commit glue: annotations, validation, plan comparison, the action.

``python -m tasksync.github COMMAND`` is what ``action.yml``, the example workflows and the
pre-commit hook call::

    action --command {validate,plan,apply} --file FILE [--args "FLAGS"] [--comment MODE]
           [--reviewed-plan PLAN.json] [--out-dir DIR]
                                  run one tasksync command as the action does: write
                                  $GITHUB_OUTPUT, append Markdown to $GITHUB_STEP_SUMMARY and keep
                                  one pull-request comment up to date
    validate FILE... [--format text|github]
                                  check task files offline (several at once, as pre-commit passes
                                  them); ``github`` prints ``::error file=,line=,col=::`` lines
    compare-plans REVIEWED.json NEW.json
                                  exit 0 when both saved plans make the same per-task changes,
                                  else 1, naming the tasks that differ

The package, one job per module: ``annotations`` (workflow commands), ``validate`` (task files
offline), ``compare`` (saved plans), ``markdown`` (GitHub's size limits, the runner's files),
``comments`` (the pull-request comment over GitHub's REST API), ``action`` (the runner) and
``command`` (the command line above).
"""

from tasksync.github.action import COMMENT_MODES, Outcome, run_action, run_tasksync
from tasksync.github.annotations import (
    escape_data,
    escape_property,
    github_format,
    problem_annotation,
    workflow_command,
)
from tasksync.github.command import main
from tasksync.github.comments import (
    MARKER_PREFIX,
    GitHub,
    GitHubError,
    comment_body,
    marker_for,
    pull_request_number,
)
from tasksync.github.compare import PlanDifference, compare_plans, difference_report, read_plan
from tasksync.github.markdown import (
    COMMENT_BUDGET,
    COMMENT_LIMIT,
    SUMMARY_LIMIT,
    append_summary,
    comment_markdown,
    fit_markdown,
    write_outputs,
)
from tasksync.github.validate import (
    Validation,
    validate_file,
    validate_files,
    validation_lines,
    validation_markdown,
)

__all__ = [
    "COMMENT_BUDGET",
    "COMMENT_LIMIT",
    "COMMENT_MODES",
    "MARKER_PREFIX",
    "SUMMARY_LIMIT",
    "GitHub",
    "GitHubError",
    "Outcome",
    "PlanDifference",
    "Validation",
    "append_summary",
    "comment_body",
    "comment_markdown",
    "compare_plans",
    "difference_report",
    "escape_data",
    "escape_property",
    "fit_markdown",
    "github_format",
    "main",
    "marker_for",
    "problem_annotation",
    "pull_request_number",
    "read_plan",
    "run_action",
    "run_tasksync",
    "validate_file",
    "validate_files",
    "validation_lines",
    "validation_markdown",
    "workflow_command",
    "write_outputs",
]
