"""The few GitHub REST endpoints the action needs: keep ONE pull-request comment up to date.

The comment is found again by a hidden marker line (one per command and file) and edited on every
run. The calls use ``urllib``: a handful of requests needs no client. A comment that cannot be
written (a fork's read-only token) is a warning, never a failed job.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tasksync.errors import TasksyncError
from tasksync.github.annotations import workflow_command
from tasksync.github.markdown import COMMENT_LIMIT, comment_markdown, md_text
from tasksync.text import visible

MARKER_PREFIX = "<!-- tasksync-comment:"

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


def comment_body(marker: str, markdown: str, *, footer: str) -> str:
    body = f"{marker}\n{comment_markdown(markdown).rstrip()}\n\n{footer}\n"
    assert len(body) < COMMENT_LIMIT
    return body


def run_link(environ: Mapping[str, str]) -> str | None:
    server, repo, run = (
        environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def footer(command: str, file: str, environ: Mapping[str, str]) -> str:
    """``tasksync plan of `tasks.yaml` at 0123abc (run)``: which file, which commit, which run."""
    sha = (environ.get("GITHUB_SHA") or "")[:7]
    link = run_link(environ)
    parts = [f"<sub>tasksync {command} of <code>{md_text(file)}</code>"]
    if sha:
        parts.append(f"at {sha}")
    if link:
        parts.append(f"([run]({link}))")
    return " ".join(parts) + "</sub>"


def publish_comment(
    command: str,
    file: str,
    markdown: str,
    *,
    create: bool,
    environ: Mapping[str, str],
    out: IO[str],
) -> None:
    """Edit this job's comment on the pull request, or post it when ``create``; a failure is
    a warning on ``out``."""
    number = pull_request_number(environ)
    if number is None:
        return  # not a pull request: the job summary is the record
    token, repo = environ.get("GITHUB_TOKEN"), environ.get("GITHUB_REPOSITORY")
    if not token or not repo:
        out.write(workflow_command("warning", "no github-token: the plan was not commented") + "\n")
        return
    github = GitHub(environ.get("GITHUB_API_URL") or "https://api.github.com", repo, token)
    marker = marker_for(command, file)
    body = comment_body(marker, markdown, footer=footer(command, file, environ))
    try:
        done, _ = github.upsert_comment(number, marker, body, create=create)
    except GitHubError as exc:
        message = f"could not comment on pull request #{number}: {exc}"
        out.write(workflow_command("warning", message) + "\n")
        return
    if done != "skipped":
        out.write(f"tasksync: {done} the comment on pull request #{number}\n")
