"""``tasksync.github``: annotations, plan comparison, the action's entry point end to end (against
the emulator and a fake GitHub REST API), the pre-commit hook, and the YAML files' schemas."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from anyio.from_thread import start_blocking_portal
from support import seed, threaded_emulator, write_file

from tasksync import github
from tasksync.emulator import Emulator
from tasksync.errors import Problem

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).with_name("fixtures")
TOKEN = "gh-test-token"
REPO = "janedoe/tasks"
PR = 7


# -- annotations ----------------------------------------------------------------------------------


def test_escaping_follows_the_runner() -> None:
    assert github.escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_annotation_of_a_problem_with_a_position() -> None:
    p = Problem("dir/t,1:x.yaml", 5, 39, "tasks[0].options", "50% off\nsecond line")
    assert github.problem_annotation(p) == (
        "::error file=dir/t%2C1%3Ax.yaml,line=5,col=39::tasks[0].options: 50%25 off%0Asecond line"
    )


def test_annotation_without_a_position_or_a_file() -> None:
    assert github.problem_annotation(Problem("t.yaml", None, None, "", "empty")) == (
        "::error file=t.yaml::empty"
    )
    assert github.problem_annotation(Problem("<environment>", 3, 4, "", "bad")) == "::error::bad"


def test_annotations_of_a_file_line_by_line() -> None:
    path = str(FIXTURES / "bad" / "many-problems.yaml")
    result = github.validate_file(path, {})
    lines = github.validation_lines([result], github=True)
    assert len(lines) == 41
    prop = github.escape_property(path)
    for i, line in enumerate(lines[:40]):
        assert line == (
            f"::error file={prop},line={5 + i},col=39::tasks[{i}].options.memoryMbytes: "
            "1000 is not a power of two between 128 and 32768 (such as 1024 or 4096)"
        )
    assert lines[40] == f"{path}: 40 problems"


def test_an_unset_variable_is_a_notice_not_an_error() -> None:
    path = str(FIXTURES / "bad" / "undefined-env-var.yaml")
    result = github.validate_file(path, {})
    assert result.ok
    lines = github.validation_lines([result], github=True)
    assert lines[0].startswith(f"::notice file={github.escape_property(path)},line=5,col=13::")
    assert "NEWS_TEST_UNSET_KEY is not set" in lines[0]
    assert lines[1] == f"{path}: valid, 1 task; 1 variable is unset here"


def test_validate_several_files_exits_1_when_one_is_invalid(tmp_path: Path) -> None:
    good = write_file(tmp_path, "version: 1\ntasks:\n  - task: janedoe~alpha\n", "a.tasksync.yaml")
    bad = str(FIXTURES / "bad" / "bad-actor.yaml")
    out = io.StringIO()
    code = github.main(["validate", good, bad, "--format", "text"], environ={}, stdout=out)
    assert code == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{good}: valid, 1 task"
    assert lines[1].startswith(f"{bad}:5:5: tasks[0].actor: ")
    assert lines[2] == f"{bad}: 1 problem"
    assert github.main(["validate", good], environ={}, stdout=io.StringIO()) == 0


# -- comparing plans ------------------------------------------------------------------------------


def _plan(*tasks: tuple[str, str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "formatVersion": 1,
        "kind": "tasksync-plan",
        "tasks": [{"key": k, "action": a, "changes": c} for k, a, c in tasks],
    }


MEM = {"path": "/options/memoryMbytes", "kind": "change", "old": 1024, "new": 2048}
TITLE = {"path": "/title", "kind": "add", "new": "News"}


def test_compare_plans_same_changes() -> None:
    a = _plan(("u~a", "update", [MEM, TITLE]), ("u~b", "noop", []))
    b = _plan(("u~a", "update", [TITLE, MEM]))  # order and unchanged tasks do not matter
    assert github.compare_plans(a, b) == []


def test_compare_plans_names_the_tasks_that_differ() -> None:
    a = _plan(("u~a", "update", [MEM]), ("u~b", "update", [TITLE]), ("u~c", "noop", []))
    b = _plan(
        ("u~a", "update", [{**MEM, "new": 4096}]),
        ("u~b", "noop", []),
        ("u~c", "update", [MEM]),
        ("u~d", "error", []),
    )
    diffs = {d.key: str(d) for d in github.compare_plans(a, b)}
    assert set(diffs) == {"u~a", "u~b", "u~c", "u~d"}
    assert diffs["u~a"] == (
        "u~a: reviewed update of /options/memoryMbytes; "
        "now update of /options/memoryMbytes (other values)"
    )
    assert diffs["u~b"] == "u~b: reviewed update of /title; now noop"
    assert diffs["u~d"] == "u~d: reviewed noop; now error"


def test_compare_plans_command(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_plan(("u~a", "update", [MEM]))))
    b.write_text(json.dumps(_plan(("u~a", "update", [MEM]), ("u~b", "update", [TITLE]))))
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    out = io.StringIO()
    assert github.main(["compare-plans", str(a), str(a)], environ=env, stdout=out) == 0
    out = io.StringIO()
    assert github.main(["compare-plans", str(a), str(b)], environ=env, stdout=out) == 1
    lines = out.getvalue().splitlines()
    assert lines == [
        "tasksync: the plan differs from the reviewed one in 1 task:",
        "  u~b: reviewed noop; now update of /title",
        "::error title=tasksync::the plan differs from the reviewed one in 1 task: u~b",
    ]
    assert "u~b" in summary.read_text()
    err = io.StringIO()
    assert github.main(["compare-plans", str(a), str(summary)], environ={}, stderr=err) == 1
    assert "is not valid JSON" in err.getvalue()


# -- fitting into GitHub's limits -----------------------------------------------------------------


def test_fit_markdown_closes_what_it_cuts() -> None:
    block = (
        "<details><summary>x</summary>\n\n```diff\n" + "! /a: 1 -> 2\n" * 50 + "```\n</details>\n"
    )
    text, cut = github.fit_markdown(block * 100, 2000, note="CUT")
    assert cut and len(text) <= 2000 and text.rstrip().endswith("CUT")
    assert text.count("```") % 2 == 0
    assert text.count("<details>") == text.count("</details>")
    one_line = "é" * 5000
    text, cut = github.fit_markdown(one_line, 1000, note="CUT", size=lambda s: len(s.encode()))
    assert cut and len(text.encode()) <= 1000


# -- the action end to end ------------------------------------------------------------------------


@dataclass
class FakeGitHub:
    """Issue comments of one repository, over GitHub's REST routes, with a request log."""

    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    token: str = TOKEN
    next_id: int = 1000

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        base = "/repos/{owner}/{repo}/issues"
        app.router.add_get(base + "/{number}/comments", self._list)
        app.router.add_post(base + "/{number}/comments", self._create)
        app.router.add_patch(base + "/comments/{id}", self._edit)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.log.append((request.method, request.path_qs))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "Bad credentials"}, status=401)
        if f"{request.match_info.get('owner')}/{request.match_info.get('repo')}" != REPO:
            return web.json_response({"message": "Not Found"}, status=404)
        response: web.StreamResponse = await handler(request)
        return response

    async def _list(self, request: web.Request) -> web.Response:
        found = self.comments.get(int(request.match_info["number"]), [])
        per_page = int(request.query.get("per_page", 30))
        page = int(request.query.get("page", 1))
        return web.json_response(found[(page - 1) * per_page : page * per_page])

    async def _create(self, request: web.Request) -> web.Response:
        body = (await request.json())["body"]
        assert len(body) < 65536, "GitHub refuses this body"
        self.next_id += 1
        comment = {"id": self.next_id, "body": body, "user": {"login": "github-actions[bot]"}}
        self.comments.setdefault(int(request.match_info["number"]), []).append(comment)
        return web.json_response(comment, status=201)

    async def _edit(self, request: web.Request) -> web.Response:
        body = (await request.json())["body"]
        assert len(body) < 65536, "GitHub refuses this body"
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == int(request.match_info["id"]):
                    comment["body"] = body
                    return web.json_response(comment)
        return web.json_response({"message": "Not Found"}, status=404)

    def ours(self) -> list[dict[str, Any]]:
        return [c for c in self.comments.get(PR, []) if github.MARKER_PREFIX in c["body"]]


@asynccontextmanager
async def _serve(fake: FakeGitHub) -> AsyncIterator[FakeGitHub]:
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    # Someone else's comments fill the first page: the marker must be looked for on all of them.
    fake.comments[PR] = [{"id": i, "body": f"comment {i}"} for i in range(130)]
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(_serve(fake)) as served,
    ):
        yield served


@dataclass
class Run:
    code: int
    out: str
    err: str
    outputs: dict[str, str]
    summary: str


def run_action(
    tmp: Path, emu: Emulator, gh: FakeGitHub, *argv: str, name: str = "run", token: str = ""
) -> Run:
    folder = tmp / name
    folder.mkdir()
    event = folder / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": PR}}))
    outputs, summary = folder / "output", folder / "summary.md"
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "APIFY_", "RUNNER_"))
    }
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
    environ |= {
        "APIFY_TOKEN": token or emu.token,
        "APIFY_API_BASE_URL": emu.url,
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": gh.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SHA": "0123456789abcdef",
        "GITHUB_TOKEN": TOKEN,
        "RUNNER_TEMP": str(folder),
    }
    out, err = io.StringIO(), io.StringIO()
    code = github.main(["action", *argv], environ=environ, stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue(), _outputs(outputs), summary.read_text())


def _outputs(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delimiter = line.split("<<", 1)
            found[name] = "\n".join(iter(lambda: next(lines), delimiter))
        else:
            name, _, value = line.partition("=")
            found[name] = value
    return found


FILE = """\
version: 1
tasks:
  - task: janedoe~news
    options: {memoryMbytes: MEMORY}
    input: {q: 1}
  - task: janedoe~same
    input: {q: 1}
"""


def test_the_action_keeps_one_comment_up_to_date(tmp_path: Path) -> None:
    with threaded_emulator() as emu, fake_github() as gh:
        seed(emu, "news", options={"memoryMbytes": 1024}, input={"q": 1})
        seed(emu, "same", input={"q": 1})
        path = write_file(tmp_path, FILE.replace("MEMORY", "2048"))
        args = ["--command=plan", f"--file={path}", "--comment=true", "--args=--concurrency 2"]

        first = run_action(tmp_path, emu, gh, *args, name="first")
        assert first.code == 0, first.err
        assert first.outputs["exitcode"] == "0"
        assert first.outputs["changes"] == "true"
        assert first.outputs["report-path"] == ""
        plan = json.loads(Path(first.outputs["plan-path"]).read_text())
        assert plan["kind"] == "tasksync-plan" and plan["counts"]["update"] == 1
        assert "/options/memoryMbytes: 1024 -> 2048" in first.summary
        assert Path(first.outputs["markdown-path"]).read_text() == first.summary.rstrip() + "\n"
        assert len(gh.ours()) == 1
        comment = gh.ours()[0]
        assert comment["body"].startswith(github.marker_for("plan", path) + "\n### tasksync plan")
        assert "1024 -> 2048" in comment["body"]
        footer = f"<sub>tasksync plan of <code>{path}</code> at 0123456 ([run]("
        assert (
            footer + "https://github.example/janedoe/tasks/actions/runs/42))</sub>"
            in comment["body"]
        )
        assert ("POST", f"/repos/{REPO}/issues/{PR}/comments") in gh.log

        gh.log.clear()
        write_file(tmp_path, FILE.replace("MEMORY", "4096"))
        second = run_action(tmp_path, emu, gh, *args, "--args=--detailed-exitcode", name="second")
        assert second.code == 2, second.err
        assert second.outputs["exitcode"] == "2" and second.outputs["changes"] == "true"
        assert [c["id"] for c in gh.ours()] == [comment["id"]], "a second comment was posted"
        assert "1024 -> 4096" in gh.ours()[0]["body"]
        assert [m for m, _ in gh.log] == ["GET", "GET", "PATCH"]  # two pages, then the edit

        # The reviewed plan is the first one: the tasks that now differ are named, exit 1.
        third = run_action(
            tmp_path,
            emu,
            gh,
            *args,
            f"--reviewed-plan={first.outputs['plan-path']}",
            name="third",
        )
        assert third.code == 1 and third.outputs["exitcode"] == "1"
        assert "::error title=tasksync::the plan differs from the reviewed one in 1 task: " in (
            third.out
        )
        assert "janedoe~news" in gh.ours()[0]["body"]

        # Apply the second plan: the report is an output, the summary has the apply's Markdown.
        applied = run_action(
            tmp_path,
            emu,
            gh,
            "--command=apply",
            f"--file={second.outputs['plan-path']}",
            "--comment=false",
            name="apply",
        )
        assert applied.code == 0, applied.err
        assert applied.outputs["changes"] == "true" and applied.outputs["plan-path"] == ""
        report = json.loads(Path(applied.outputs["report-path"]).read_text())
        assert report["totals"]["updated"] == 1
        assert emu.state.get_task("janedoe~news")["options"]["memoryMbytes"] == 4096
        assert len(gh.ours()) == 1

        # No changes now: changes-only still edits the existing comment, so it is not stale.
        quiet = ["--command=plan", f"--file={path}", "--comment=changes-only"]
        after = run_action(tmp_path, emu, gh, *quiet, name="after")
        assert after.code == 0 and after.outputs["changes"] == "false"
        assert [c["id"] for c in gh.ours()] == [comment["id"]]
        assert "| 0 | 0 | 2 | 0 |" in gh.ours()[0]["body"]


def test_changes_only_posts_nothing_without_changes(tmp_path: Path) -> None:
    with threaded_emulator() as emu, fake_github() as gh:
        seed(emu, "news", options={"memoryMbytes": 2048}, input={"q": 1})
        seed(emu, "same", input={"q": 1})
        path = write_file(tmp_path, FILE.replace("MEMORY", "2048"))
        run = run_action(tmp_path, emu, gh, "--command=plan", f"--file={path}")
        assert run.code == 0 and run.outputs["changes"] == "false"
        assert gh.ours() == []
        assert [m for m, _ in gh.log] == ["GET", "GET"]


def test_a_huge_plan_is_cut_below_the_limits(tmp_path: Path) -> None:
    count = 300
    tasks = "".join(
        f"  - task: janedoe~t{i:03d}\n    input: {{text: {'x' * 60}{i}, n: {i}, m: 2}}\n"
        for i in range(count)
    )
    with threaded_emulator() as emu, fake_github() as gh:
        for i in range(count):
            seed(emu, f"t{i:03d}", input={"text": f"{'y' * 60}{i}", "n": -i, "old": True})
        path = write_file(tmp_path, "version: 1\nsafety: {maxChangedFraction: 1}\ntasks:\n" + tasks)
        run = run_action(
            tmp_path, emu, gh, "--command=plan", f"--file={path}", "--comment=true", name="huge"
        )
        assert run.code == 0, run.err
        assert "Not shown: " in run.summary, "the plan is not huge enough to be summarised"
        body = gh.ours()[0]["body"]
        assert len(body) < github.COMMENT_LIMIT
        assert "This was cut here" not in body  # the plan's Markdown fits a comment by itself
        assert body.count("```") % 2 == 0 and body.count("<details>") == body.count("</details>")
        assert len(Path(run.outputs["markdown-path"]).read_text()) < github.COMMENT_LIMIT


def test_a_comment_that_cannot_be_written_is_a_warning(tmp_path: Path) -> None:
    with threaded_emulator() as emu, fake_github() as gh:
        seed(emu, "news", options={"memoryMbytes": 1024}, input={"q": 1})
        seed(emu, "same", input={"q": 1})
        path = write_file(tmp_path, FILE.replace("MEMORY", "2048"))
        gh.token = "another-token"  # the fake now refuses the action's token
        run = run_action(tmp_path, emu, gh, "--command=plan", f"--file={path}")
        assert run.code == 0
        assert f"::warning::could not comment on pull request #{PR}" in run.out
        assert "HTTP 401: Bad credentials" in run.out


def test_a_failed_plan_is_reported_in_the_comment(tmp_path: Path) -> None:
    with threaded_emulator() as emu, fake_github() as gh:
        path = write_file(tmp_path, FILE.replace("MEMORY", "2048"))
        run = run_action(tmp_path, emu, gh, "--command=plan", f"--file={path}", token="not-it")
        assert run.code == 1 and run.outputs["exitcode"] == "1"
        assert run.outputs["plan-path"] == "" and run.outputs["changes"] == "false"
        (comment,) = gh.ours()  # changes-only: an error is worth a comment
        assert ":x: failed (exit code 1)" in comment["body"]
        assert "not-it" not in comment["body"] + run.out + run.err


def test_the_action_refuses_flags_it_sets_itself(tmp_path: Path) -> None:
    err = io.StringIO()
    argv = ["action", "--command=plan", "--file=t.yaml", "--args=--out x.json"]
    assert github.main(argv, environ={"RUNNER_TEMP": str(tmp_path)}, stderr=err) == 1
    assert "`--out` cannot be in the action's args" in err.getvalue()


# -- the pre-commit hook --------------------------------------------------------------------------


def test_the_hook_loads_and_runs_as_pre_commit_would(tmp_path: Path) -> None:
    from pre_commit.clientlib import load_manifest

    (hook,) = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "tasksync-validate" and hook["language"] == "python"
    assert hook["pass_filenames"] and not hook["require_serial"]
    candidates = {
        "tasksync.yaml": "version: 1\ntasks:\n  - task: janedoe~alpha\n",
        "conf/prod.tasksync.yaml": (
            "version: 1\ntasks:\n  - {task: janedoe~bravo, options: {memoryMbytes: 1000}}\n"
        ),
        "conf/tasksync.yaml.bak": "not: checked\n",
        "other.yaml": "not: checked\n",
        "mytasksync.yaml": "not: checked\n",
    }
    for name, text in candidates.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    files = re.compile(hook["files"])
    exclude = re.compile(hook["exclude"])
    chosen = [n for n in candidates if files.search(n) and not exclude.search(n)]
    assert chosen == ["tasksync.yaml", "conf/prod.tasksync.yaml"]
    # pre-commit runs the entry with the hook's virtualenv first on PATH, all files at once.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT)
    cmd = [*shlex.split(hook["entry"]), *hook["args"], *chosen]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "tasksync.yaml: valid, 1 task",
        "conf/prod.tasksync.yaml:3:37: tasks[0].options.memoryMbytes: 1000 is not a power of two "
        "between 128 and 32768 (such as 1024 or 4096)",
        "conf/prod.tasksync.yaml: 1 problem",
    ]
    chosen.remove("conf/prod.tasksync.yaml")
    done = subprocess.run(
        [*shlex.split(hook["entry"]), *chosen], cwd=tmp_path, env=env, capture_output=True
    )
    assert done.returncode == 0


# -- the YAML files against GitHub's schemas ------------------------------------------------------

WORKFLOWS = sorted((ROOT / "examples" / "github").glob("*.yml"))


@pytest.mark.parametrize(
    ("schema", "path"),
    [("vendor.github-actions", ROOT / "action.yml")]
    + [("vendor.github-workflows", p) for p in WORKFLOWS],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_yaml_matches_the_github_schema(schema: str, path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_example_workflow_is_checked_and_serialised() -> None:
    import yaml

    assert {p.name for p in WORKFLOWS} == {"plan.yml", "apply.yml", "drift.yml"}
    for path in WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        assert doc["concurrency"]["group"], path.name
        assert "public" in path.read_text().lower(), f"{path.name}: no note on public repositories"
    apply_doc = yaml.safe_load((ROOT / "examples/github/apply.yml").read_text())
    assert apply_doc["concurrency"] == {"group": "tasksync-apply", "cancel-in-progress": False}


def test_the_action_inputs_reach_the_entry_point() -> None:
    import yaml

    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {"command", "file", "args", "version", "comment"}
    assert "github-token" in action["inputs"] and "apify-token" not in action["inputs"]
    assert set(action["outputs"]) >= {"exitcode", "changes", "plan-path", "report-path"}
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "run"]
    assert "python -m tasksync.github action" in step["run"].replace('"$TASKSYNC_PYTHON"', "python")
    assert "${{" not in step["run"], "inputs go through env, never into the script's text"
