"""GitHub Actions and pre-commit glue: annotations, the action's entry point, plan comparison.

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

``plan`` and ``apply`` run the ``tasksync`` command line in a child process (``python -m
tasksync``): its flags are the stable contract, and its output streams to the job log as it comes.
The child never sees the GitHub token, and ``$GITHUB_STEP_SUMMARY`` is appended here, once, cut to
GitHub's size limit. The GitHub REST calls use ``urllib``: a handful of requests needs no client.
A comment that cannot be written (a fork's read-only token) is a warning, never a failed job: the
plan itself is what the step reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from tasksync import config
from tasksync.errors import ConfigError, Problem, TasksyncError
from tasksync.text import visible

COMMENT_LIMIT = 65_536
"""GitHub refuses an issue or pull-request comment body of this many characters or more."""

COMMENT_BUDGET = 60_000
"""What the Markdown of a comment may take: the rest is for the marker, the footer and slack."""

SUMMARY_LIMIT = 1024 * 1024
"""GitHub drops a step's summary larger than this many bytes."""

SUMMARY_BUDGET = 1_000_000

MARKER_PREFIX = "<!-- tasksync-comment:"

COMMENT_MODES = ("true", "changes-only", "false")

# Flags the action sets itself; in ``args`` they would fight over the files it reads back.
_RESERVED_FLAGS = ("--out", "--format", "--report", "--summary")

_UNSET_VARIABLE = "the environment variable "


# -- workflow commands and annotations ----------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: ``:`` and ``,`` would end it, so they are escaped."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, message: str, **properties: str | int | None) -> str:
    """``::name key=value,...::message``; properties that are None are left out."""
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def problem_annotation(problem: Problem, *, level: str = "error") -> str:
    """One problem of a task file as an annotation on its line (when it has one)."""
    message = f"{problem.path}: {problem.message}" if problem.path else problem.message
    file = problem.file if not problem.file.startswith("<") else None
    line = problem.line if file else None
    col = problem.column if line is not None else None
    return workflow_command(level, message, file=file, line=line, col=col)


def problem_annotations(problems: Iterable[Problem]) -> list[str]:
    """``::error file=F,line=L,col=C::message`` for each problem; unset ``${VAR}`` is a notice
    (validate needs no secrets, so a variable set only where plan runs is not an error)."""
    return [problem_annotation(p, level="notice" if _is_unset(p) else "error") for p in problems]


def _is_unset(problem: Problem) -> bool:
    return problem.message.startswith(_UNSET_VARIABLE) and " is not set" in problem.message


# -- validate -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    """What validating one file found: the task count when valid, else its problems."""

    file: str
    tasks: int | None
    problems: tuple[Problem, ...]
    notes: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_file(path: str, environ: Mapping[str, str]) -> Validation:
    """Load ``path``; problems with an unset ``${VAR}`` are notes, the rest are errors."""
    try:
        cfg = config.load(path, environ=environ)
    except ConfigError as exc:
        notes = tuple(p for p in exc.problems if _is_unset(p))
        errors = tuple(p for p in exc.problems if not _is_unset(p))
        return Validation(path, None, errors, notes)
    except TasksyncError as exc:  # unreadable, too large, not a file
        return Validation(path, None, (Problem(path, None, None, "", str(exc)),))
    return Validation(path, len(cfg.tasks), ())


def validate_files(paths: Sequence[str], environ: Mapping[str, str]) -> list[Validation]:
    return [validate_file(p, environ) for p in paths]


def validation_lines(results: Sequence[Validation], *, github: bool) -> list[str]:
    """The lines ``validate`` prints: annotations under GitHub, ``file:line:col: ...`` else."""
    out: list[str] = []
    for r in results:
        if github:
            out += problem_annotations(r.problems + r.notes)
        else:
            out += [f"{p} (note: validate needs no secrets)" for p in r.notes]
            out += [str(p) for p in r.problems]
        if r.ok and r.tasks is None:
            n = len(r.notes)
            out.append(
                f"{r.file}: valid, but {n} variable{'s are' if n != 1 else ' is'} unset here"
            )
        elif r.ok:
            count = r.tasks or 0
            out.append(f"{r.file}: valid, {count} task{'s' if count != 1 else ''}")
        else:
            n = len(r.problems)
            out.append(f"{r.file}: {n} problem{'s' if n != 1 else ''}")
    return out


def validation_markdown(results: Sequence[Validation]) -> str:
    out = ["### tasksync validate", ""]
    for r in results:
        if r.ok:
            count = "" if r.tasks is None else f", {r.tasks} tasks"
            out.append(f"- :white_check_mark: `{r.file}`: valid{count}")
            continue
        out.append(f"- :x: `{r.file}`: {len(r.problems)} problems")
        out += [f"  - {_md(str(p))}" for p in r.problems]
    return "\n".join(out) + "\n"


def github_format(environ: Mapping[str, str], stream: IO[str]) -> bool:
    """``--format github`` by default under GitHub Actions when not writing to a terminal."""
    return environ.get("GITHUB_ACTIONS") == "true" and not stream.isatty()


# -- comparing saved plans ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlanDifference:
    key: str
    reviewed: str
    now: str

    def __str__(self) -> str:
        return f"{self.key}: reviewed {self.reviewed}; now {self.now}"


def read_plan(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TasksyncError(f"cannot read the plan {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise TasksyncError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "tasksync-plan":
        raise TasksyncError(f"{path} is not a tasksync plan")
    if doc.get("formatVersion") != 1:
        raise TasksyncError(f"{path} has formatVersion {doc.get('formatVersion')!r}; expected 1")
    if not isinstance(doc.get("tasks"), list):
        raise TasksyncError(f"{path} has no list of tasks")
    return doc


def _task_changes(doc: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Per task key: its action and its changes by path (each as canonical JSON)."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for entry in doc["tasks"]:
        changes = {
            str(c.get("path")): json.dumps(c, sort_keys=True) for c in entry.get("changes") or []
        }
        found[str(entry.get("key"))] = (str(entry.get("action")), changes)
    return found


def compare_plans(reviewed: Mapping[str, Any], now: Mapping[str, Any]) -> list[PlanDifference]:
    """The tasks whose planned changes differ between two plans (JSON documents).

    A task compares by its action and its field changes (path, kind, old and new values as the
    plan shows them: a sensitive value is ``<sensitive>`` in both, so a changed secret is caught
    by ``apply``'s stale check instead). A task missing from one plan counts as unchanged there.
    An ``error`` in either plan is always a difference: nobody reviewed what it would do.
    """
    a, b = _task_changes(reviewed), _task_changes(now)
    nothing: tuple[str, dict[str, str]] = ("noop", {})
    out: list[PlanDifference] = []
    for key in list(dict.fromkeys([*a, *b])):
        was, is_ = a.get(key, nothing), b.get(key, nothing)
        if was == is_ and was[0] != "error":
            continue
        if was[0] == "error" or is_[0] == "error" or was[0] != is_[0]:
            out.append(PlanDifference(key, _describe(was), _describe(is_)))
            continue
        paths = sorted(p for p in {*was[1], *is_[1]} if was[1].get(p) != is_[1].get(p))
        out.append(
            PlanDifference(key, _describe(was, paths), _describe(is_, paths) + " (other values)")
        )
    return out


def _describe(task: tuple[str, dict[str, str]], only: Sequence[str] | None = None) -> str:
    action, changes = task
    if action in ("noop", "error") or not changes:
        return action
    paths = [p for p in changes if only is None or p in only] or sorted(changes)
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return f"{action} of {shown}"


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


# -- the GitHub REST API ------------------------------------------------------------------------


class GitHubError(TasksyncError):
    """The GitHub API refused a request or could not be reached."""


@dataclass
class GitHub:
    """The few issue-comment endpoints the action needs, over ``urllib``."""

    api_url: str
    repository: str
    token: str
    timeout: float = 30.0

    def request(self, method: str, path: str, body: Any = None) -> Any:
        url = self.api_url.rstrip("/") + path
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        req.add_header("User-Agent", "tasksync-action")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            detail = _github_message(exc.read())
            raise GitHubError(f"{method} {path}: HTTP {exc.code}{detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GitHubError(f"{method} {path}: {exc}") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise GitHubError(f"{method} {path}: the answer is not JSON") from None

    def comments(self, issue: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, 101):  # 10,000 comments: enough for any pull request
            batch = self.request(
                "GET", f"/repos/{self.repository}/issues/{issue}/comments?per_page=100&page={page}"
            )
            if not isinstance(batch, list):
                raise GitHubError("listing the comments did not answer a list")
            found += [c for c in batch if isinstance(c, dict)]
            if len(batch) < 100:
                break
        return found

    def find_comment(self, issue: int, marker: str) -> dict[str, Any] | None:
        for comment in self.comments(issue):
            if marker in str(comment.get("body") or ""):
                return comment
        return None

    def upsert_comment(
        self, issue: int, marker: str, body: str, *, create: bool = True
    ) -> tuple[str, dict[str, Any] | None]:
        """Edit the comment carrying ``marker``, or post one when there is none and ``create``.
        Returns what was done (``updated``, ``created``, ``skipped``) and the comment."""
        existing = self.find_comment(issue, marker)
        if existing is not None:
            comment_id = existing.get("id")
            path = f"/repos/{self.repository}/issues/comments/{comment_id}"
            return "updated", self.request("PATCH", path, {"body": body})
        if not create:
            return "skipped", None
        path = f"/repos/{self.repository}/issues/{issue}/comments"
        return "created", self.request("POST", path, {"body": body})


def _github_message(raw: bytes) -> str:
    try:
        message = json.loads(raw).get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {visible(str(message))[:300]}" if message else ""


def pull_request_number(environ: Mapping[str, str]) -> int | None:
    """The pull request of the event that started the run, if it was one."""
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pr = event.get("pull_request") if isinstance(event, dict) else None
    if isinstance(pr, dict) and isinstance(pr.get("number"), int):
        return int(pr["number"])
    issue = event.get("issue") if isinstance(event, dict) else None
    if (
        isinstance(issue, dict)
        and issue.get("pull_request")
        and isinstance(issue.get("number"), int)
    ):
        return int(issue["number"])  # an issue_comment on a pull request
    return None


def marker_for(command: str, file: str) -> str:
    """The hidden line that finds this job's comment again: one per command and file."""
    name = " ".join(f"{command} {file}".replace("--", "-").replace(">", "").split())
    return f"{MARKER_PREFIX} {name} -->"


def comment_markdown(markdown: str, limit: int = COMMENT_BUDGET) -> str:
    """``markdown`` cut to fit a comment or an issue body, with a note where it was cut."""
    note = (
        "> [!NOTE]\n> This was cut here: it is too long for a comment. See the run's job summary."
    )
    return fit_markdown(markdown, limit, note=note)[0]


def comment_body(marker: str, markdown: str, *, footer: str) -> str:
    body = f"{marker}\n{comment_markdown(markdown).rstrip()}\n\n{footer}\n"
    assert len(body) < COMMENT_LIMIT
    return body


def run_link(environ: Mapping[str, str]) -> str | None:
    server, repo, run = (
        environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def _footer(command: str, file: str, environ: Mapping[str, str]) -> str:
    """``tasksync plan of `tasks.yaml` at 0123abc (run)``: which file, which commit, which run."""
    sha = (environ.get("GITHUB_SHA") or "")[:7]
    link = run_link(environ)
    parts = [f"<sub>tasksync {command} of <code>{_md(file)}</code>"]
    if sha:
        parts.append(f"at {sha}")
    if link:
        parts.append(f"([run]({link}))")
    return " ".join(parts) + "</sub>"


# -- the action ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one action run produced: its step outputs and the Markdown it published."""

    exitcode: int
    changes: bool
    markdown: str
    plan_path: str = ""
    report_path: str = ""
    markdown_path: str = ""

    def outputs(self) -> dict[str, str]:
        return {
            "exitcode": str(self.exitcode),
            "changes": "true" if self.changes else "false",
            "plan-path": self.plan_path,
            "report-path": self.report_path,
            "markdown-path": self.markdown_path,
        }


@dataclass(frozen=True)
class Captured:
    code: int
    out: str
    err: str


def run_tasksync(
    argv: Sequence[str], environ: Mapping[str, str], *, stdout: IO[str], stderr: IO[str]
) -> Captured:
    """``python -m tasksync ARGV`` in a child process; its output is streamed and kept."""
    env = {k: v for k, v in environ.items() if k not in ("GITHUB_STEP_SUMMARY", "GITHUB_TOKEN")}
    env.setdefault("NO_COLOR", "1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasksync", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    assert proc.stdout is not None and proc.stderr is not None
    kept: dict[str, list[str]] = {"out": [], "err": []}

    def pump(source: IO[str], sink: IO[str], into: list[str]) -> None:
        for line in source:
            into.append(line)
            sink.write(line)
            sink.flush()

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, stdout, kept["out"]), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, stderr, kept["err"]), daemon=True),
    ]
    for t in threads:
        t.start()
    code = proc.wait()
    for t in threads:
        t.join()
    return Captured(code, "".join(kept["out"]), "".join(kept["err"]))


def _check_args(args: Sequence[str]) -> None:
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag in _RESERVED_FLAGS:
            raise TasksyncError(
                f"`{flag}` cannot be in the action's args: the action sets it itself "
                "(use the outputs plan-path, report-path and markdown-path)"
            )


def _failure_markdown(title: str, captured: Captured) -> str:
    lines = [ln for ln in captured.err.splitlines() if ln.strip()][-20:]
    text = "\n".join(lines) or f"exit code {captured.code}"
    return f"### {title}\n\n:x: failed (exit code {captured.code}):\n\n```\n{text}\n```\n"


def action_plan(
    file: str,
    args: Sequence[str],
    out_dir: str,
    environ: Mapping[str, str],
    out: IO[str],
    err: IO[str],
) -> Outcome:
    plan_path = os.path.join(out_dir, "plan.json")
    got = run_tasksync(
        ["plan", file, *args, "--format", "markdown", "--out", plan_path],
        environ,
        stdout=out,
        stderr=err,
    )
    changes = False
    if os.path.exists(plan_path):
        counts = read_plan(plan_path).get("counts") or {}
        changes = bool(counts.get("update") or counts.get("create"))
    else:
        plan_path = ""
    markdown = got.out
    if got.code not in (0, 2):  # the plan may be partial (tasks in error) or absent
        markdown += ("\n" if markdown else "") + _failure_markdown("tasksync plan", got)
    return Outcome(got.code, changes, markdown, plan_path=plan_path)


def action_apply(
    file: str,
    args: Sequence[str],
    out_dir: str,
    environ: Mapping[str, str],
    out: IO[str],
    err: IO[str],
) -> Outcome:
    report_path = os.path.join(out_dir, "report.json")
    summary_path = os.path.join(out_dir, "apply.md")
    argv = ["apply", file, *args, "--report", report_path, "--summary", summary_path]
    if "--yes" not in args and "-y" not in args:
        argv.append("--yes")  # choosing command: apply in a workflow is the confirmation
    got = run_tasksync(argv, environ, stdout=out, stderr=err)
    changes = False
    if os.path.exists(report_path):
        totals = json.loads(Path(report_path).read_text(encoding="utf-8")).get("totals") or {}
        changes = bool(totals.get("updated") or totals.get("created"))
    else:
        report_path = ""
    if os.path.exists(summary_path):
        markdown = Path(summary_path).read_text(encoding="utf-8")
    else:
        markdown = _failure_markdown("tasksync apply", got)
    return Outcome(got.code, changes, markdown, report_path=report_path)


def action_validate(files: Sequence[str], environ: Mapping[str, str], out: IO[str]) -> Outcome:
    results = validate_files(files, environ)
    for line in validation_lines(results, github=environ.get("GITHUB_ACTIONS") == "true"):
        out.write(line + "\n")
    ok = all(r.ok for r in results)
    return Outcome(0 if ok else 1, False, validation_markdown(results))


def run_action(
    command: str,
    file: str,
    *,
    args: str = "",
    comment: str = "changes-only",
    reviewed_plan: str | None = None,
    out_dir: str | None = None,
    environ: Mapping[str, str],
    stdout: IO[str],
    stderr: IO[str],
) -> Outcome:
    """Run ``command`` as the action does and publish it: outputs, summary, comment.

    With ``reviewed_plan`` (plan only), the new plan must make the same changes as that saved
    plan, else the exit code is 1 and the differing tasks are named.
    """
    if comment not in COMMENT_MODES:
        raise TasksyncError(f"comment must be one of {', '.join(COMMENT_MODES)}, not {comment!r}")
    if reviewed_plan and command != "plan":
        raise TasksyncError("reviewed-plan goes with command: plan (then apply its plan-path)")
    extra = shlex.split(args)
    _check_args(extra)
    if out_dir is None:
        base = environ.get("RUNNER_TEMP") or None
        out_dir = tempfile.mkdtemp(prefix="tasksync-", dir=base)
    os.makedirs(out_dir, exist_ok=True)
    if command == "validate":
        outcome = action_validate(shlex.split(file), environ, stdout)
    elif command == "plan":
        outcome = action_plan(file, extra, out_dir, environ, stdout, stderr)
        if reviewed_plan and outcome.plan_path and outcome.exitcode in (0, 2):
            outcome = _check_reviewed(outcome, reviewed_plan, environ, stdout)
    elif command == "apply":
        outcome = action_apply(file, extra, out_dir, environ, stdout, stderr)
    else:
        raise TasksyncError(f"command must be validate, plan or apply, not {command!r}")
    markdown_path = os.path.join(out_dir, f"{command}.md")
    Path(markdown_path).write_text(comment_markdown(outcome.markdown), encoding="utf-8")
    outcome = replace(outcome, markdown_path=markdown_path)
    if environ.get("GITHUB_OUTPUT"):
        write_outputs(environ["GITHUB_OUTPUT"], outcome.outputs())
    if environ.get("GITHUB_STEP_SUMMARY"):
        append_summary(environ["GITHUB_STEP_SUMMARY"], outcome.markdown, link=run_link(environ))
    if comment != "false":
        _publish_comment(command, file, outcome, comment, environ, stdout)
    return outcome


def _check_reviewed(
    outcome: Outcome, reviewed: str, environ: Mapping[str, str], out: IO[str]
) -> Outcome:
    differences = compare_plans(read_plan(reviewed), read_plan(outcome.plan_path))
    lines, markdown = difference_report(differences, environ)
    for line in lines:
        out.write(line + "\n")
    if not differences:
        return outcome
    return replace(outcome, exitcode=1, markdown=markdown + "\n" + outcome.markdown)


def _publish_comment(
    command: str, file: str, outcome: Outcome, mode: str, environ: Mapping[str, str], out: IO[str]
) -> None:
    number = pull_request_number(environ)
    if number is None:
        return  # not a pull request: the job summary is the record
    token, repo = environ.get("GITHUB_TOKEN"), environ.get("GITHUB_REPOSITORY")
    if not token or not repo:
        out.write(workflow_command("warning", "no github-token: the plan was not commented") + "\n")
        return
    github = GitHub(environ.get("GITHUB_API_URL") or "https://api.github.com", repo, token)
    marker = marker_for(command, file)
    body = comment_body(marker, outcome.markdown, footer=_footer(command, file, environ))
    # changes-only still edits a comment that exists, so it never shows changes that are gone.
    create = mode == "true" or outcome.changes or outcome.exitcode not in (0, 2)
    try:
        done, _ = github.upsert_comment(number, marker, body, create=create)
    except GitHubError as exc:
        message = f"could not comment on pull request #{number}: {exc}"
        out.write(workflow_command("warning", message) + "\n")
        return
    if done != "skipped":
        out.write(f"tasksync: {done} the comment on pull request #{number}\n")


# -- the command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tasksync.github", description="tasksync in GitHub Actions and pre-commit."
    )
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    p = sub.add_parser("action", help="run a tasksync command as the GitHub Action does")
    p.add_argument("--command", required=True, choices=("validate", "plan", "apply"))
    p.add_argument(
        "--file", required=True, help="the task file (validate: several, space-separated)"
    )
    p.add_argument("--args", default="", help="extra flags for the command, as one shell string")
    p.add_argument("--comment", default="changes-only", choices=COMMENT_MODES)
    p.add_argument(
        "--reviewed-plan", help="plan only: fail unless the plan makes this saved plan's changes"
    )
    p.add_argument("--out-dir", help="where plan.json, report.json and the Markdown go")
    p = sub.add_parser("validate", help="check task files offline (as the pre-commit hook does)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=("text", "github"), help="default: github under Actions")
    p = sub.add_parser("compare-plans", help="exit 0 when two saved plans make the same changes")
    p.add_argument("reviewed", help="the plan reviewed on the pull request")
    p.add_argument("now", help="the plan made just now")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    environ = dict(os.environ) if environ is None else environ
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return 0 if not exc.code else 1
    try:
        if args.subcommand == "validate":
            github = args.format == "github" if args.format else github_format(environ, out)
            results = validate_files(args.files, environ)
            for line in validation_lines(results, github=github):
                out.write(line + "\n")
            return 0 if all(r.ok for r in results) else 1
        if args.subcommand == "compare-plans":
            return _compare_command(args.reviewed, args.now, environ, out)
        outcome = run_action(
            args.command,
            args.file,
            args=args.args,
            comment=args.comment,
            reviewed_plan=args.reviewed_plan or None,
            out_dir=args.out_dir,
            environ=environ,
            stdout=out,
            stderr=err,
        )
        return outcome.exitcode
    except TasksyncError as exc:
        err.write(f"tasksync: error: {exc}\n")
        return 1


def difference_report(
    differences: Sequence[PlanDifference], environ: Mapping[str, str]
) -> tuple[list[str], str]:
    """The log lines (an ``::error`` under GitHub) and the Markdown that name the tasks whose
    changes differ from the reviewed plan."""
    if not differences:
        return ["tasksync: the plan makes the same changes as the reviewed one"], ""
    n = len(differences)
    head = f"the plan differs from the reviewed one in {n} task{'s' if n != 1 else ''}"
    lines = [f"tasksync: {head}:"] + [f"  {visible(str(d))}" for d in differences]
    if environ.get("GITHUB_ACTIONS") == "true":
        names = ", ".join(d.key for d in differences[:20]) + (", ..." if n > 20 else "")
        lines.append(workflow_command("error", f"{head}: {names}", title="tasksync"))
    markdown = [f"### :x: tasksync: {head}", ""] + [f"- {_md(str(d))}" for d in differences]
    markdown += ["", "Nothing was applied. Plan the change again in a pull request and review it."]
    return lines, "\n".join(markdown) + "\n"


def _compare_command(reviewed: str, now: str, environ: Mapping[str, str], out: IO[str]) -> int:
    differences = compare_plans(read_plan(reviewed), read_plan(now))
    lines, markdown = difference_report(differences, environ)
    for line in lines:
        out.write(line + "\n")
    if markdown and environ.get("GITHUB_STEP_SUMMARY"):
        append_summary(environ["GITHUB_STEP_SUMMARY"], markdown)
    return 1 if differences else 0


def _md(text: str) -> str:
    return visible(text).replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    sys.exit(main())
