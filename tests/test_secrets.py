"""The token and the secrets from the environment never appear in what tasksync writes.

Every command runs with a distinctive token and with ``${VAR}`` secrets in several places
(inputs that the API encrypts, a string inside a list, a description, a merged input, a task to
create), on the happy path and on error paths: a missing variable, a refused token, answers
that repeat the request (its Authorization header, its body) as a debugging proxy or a chatty
API would, a 500 retried. Then every output stream and every file written is searched for the
token and each secret: as they are, JSON-escaped, URL-encoded, in base64, and any 12 characters
of them in a row (a value cut short is still a leak).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from support import Result, run_cli, seed, threaded_emulator, write_file

from tasksync.emulator import Emulator

TOKEN = "apify_api_Tq7+Secr3tT0ken/x9Zw=mP4L"
SECRETS = {
    "NEWS_API_KEY": "nk_Secret_Api_Key_4f3e2d1c",
    "DB_PASSWORD": 'pw"Hunter2\\Secret+Pass/6e5d',  # escaped differently in JSON and URLs
    "HEADER_TOKEN": "ht-Secret-Header-Value-8b7a",
    "SUPPORT_NOTE": "Call sn-Secret-Support-Line 0192",
}

FILE = """\
version: 1
safety: {maxChangedFraction: 1.0}
tasks:
  - task: janedoe~sec-news           # my-actor: the API encrypts apiKey and password
    actor: janedoe~my-actor
    input: {apiKey: "${NEWS_API_KEY}", password: "${DB_PASSWORD}", q: 2}
  - task: janedoe~sec-new            # missing: created with --create-missing
    actor: janedoe~my-actor
    input: {apiKey: "${NEWS_API_KEY}", password: "${DB_PASSWORD}", q: 1}
  - task: janedoe~plain-headers      # web-scraper: stored as sent
    description: "${SUPPORT_NOTE}"
    input: {headers: ["Authorization: Bearer ${HEADER_TOKEN}"], q: 2}
  - task: janedoe~plain-merge
    inputMode: merge
    input: {auth: {password: "${DB_PASSWORD}"}}
"""


def _windows(text: str, size: int = 12) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def _forms(value: str, windows: bool = True) -> set[str]:
    b64 = base64.b64encode(value.encode()).decode()
    return {
        value,
        json.dumps(value)[1:-1],
        quote(value, safe=""),
        quote_plus(value),
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
        *(_windows(value) if windows else ()),
    }


NEEDLES = {
    form: name
    for name, value, windows in [
        ("the token", TOKEN.removeprefix("apify_api_"), True),  # its prefix is no secret
        ("the Authorization header", f"Bearer {TOKEN}", False),  # in base64, say
        *((name, value, True) for name, value in SECRETS.items()),
    ]
    for form in _forms(value, windows)
}


def leaks(text: str) -> set[str]:
    """What of the token or the secrets ``text`` gives away."""
    return {f"{name} as {form!r}" for form, name in NEEDLES.items() if form in text}


class Outputs:
    """Everything a test's commands printed, by where it came from; and the files they wrote."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.streams: dict[str, str] = {}

    def add(self, label: str, result: Result) -> Result:
        self.streams[f"{label} (stdout)"] = result.out
        self.streams[f"{label} (stderr)"] = result.err
        return result

    def files(self) -> Iterator[tuple[str, str]]:
        for path in sorted(self.folder.rglob("*")):
            if path.is_file():
                yield str(path.relative_to(self.folder)), path.read_text(errors="replace")

    def check(self, min_files: int) -> None:
        sources = [*self.streams.items(), *self.files()]
        assert len(sources) - len(self.streams) >= min_files, "fewer files than expected"
        found = {label: leaks(text) for label, text in sources if leaks(text)}
        assert not found, found


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with threaded_emulator(token=TOKEN) as emu:
        seed(emu, "sec-news", actor="janedoe~my-actor", input={"apiKey": "old", "q": 1})
        seed(
            emu,
            "plain-headers",
            description="old note",
            input={"headers": ["Authorization: Bearer old"], "q": 1},
        )
        seed(emu, "plain-merge", input={"auth": {"password": "old"}, "keep": 1})
        yield emu


def test_the_needles_find_what_they_look_for() -> None:
    """The scan itself: each form of each value, and a part of one, is found."""
    assert leaks(f"x{TOKEN}x") and leaks(quote(TOKEN, safe="")) and leaks(TOKEN[14:28])
    header = base64.b64encode(f"Bearer {TOKEN}".encode()).decode()
    assert leaks(header)
    for value in SECRETS.values():
        assert leaks(json.dumps({"v": value})) and leaks(base64.b64encode(value.encode()).decode())
    assert not leaks(FILE) and not leaks("apify_api_ Bearer *** <sensitive>")


def test_validate_and_plan(emu: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = write_file(tmp_path, FILE)
    seen = Outputs(out)
    assert seen.add("validate", run_cli("validate", path, environ=SECRETS)).code == 0
    text = seen.add("plan", run_cli("plan", path, emu=emu, environ=SECRETS))
    assert text.code == 0 and text.out.count("<sensitive>") >= 4, text.output
    for fmt in ("json", "markdown"):
        result = seen.add(fmt, run_cli("plan", path, "--format", fmt, emu=emu, environ=SECRETS))
        assert result.code == 0 and "<sensitive>" in result.out
    saved = run_cli("plan", path, "--out", str(out / "plan.json"), emu=emu, environ=SECRETS)
    assert seen.add("plan --out", saved).code == 0
    detailed = run_cli("plan", path, "--detailed-exitcode", emu=emu, environ=SECRETS)
    assert seen.add("detailed", detailed).code == 2
    rotate = run_cli("plan", path, "--rotate-secrets", emu=emu, environ=SECRETS)
    assert seen.add("rotate", rotate).code == 0
    # Error paths: a variable not set; a token the API refuses.
    partial = {k: v for k, v in SECRETS.items() if k != "DB_PASSWORD"}
    missing = seen.add("missing", run_cli("plan", path, emu=emu, environ=partial))
    assert missing.code == 1 and "DB_PASSWORD" in missing.err
    emu.faults.schedule(count=1, status=401, method="GET")
    refused = seen.add("refused", run_cli("plan", path, emu=emu, environ=SECRETS))
    assert refused.code == 1 and "401" in refused.err
    seen.check(min_files=1)


def test_failing_applies(emu: Emulator, tmp_path: Path) -> None:
    """Answers that repeat the token and the secrets sent; then a token revoked mid-run."""
    out = tmp_path / "out"
    out.mkdir()
    path = write_file(tmp_path, FILE)
    seen = Outputs(out)

    def path_of(name: str) -> str:
        return f"/v2/actor-tasks/{emu.state.get_task('janedoe~' + name)['id']}"  # type: ignore[index]

    def rejected(message: str) -> dict[str, object]:
        return {"error": {"type": "invalid-input", "message": message}}

    news, password = SECRETS["NEWS_API_KEY"], SECRETS["DB_PASSWORD"]
    emu.faults.schedule(  # an API that names what it rejects, header included
        variant="json",
        status=400,
        body=rejected(f"rejected apiKey {news} and password {password} (Bearer {TOKEN})"),
        method="PUT",
        path_prefix=path_of("sec-news"),
    )
    emu.faults.schedule(  # the same, in a long message that is cut in the middle of the secret
        variant="json",
        status=400,
        body=rejected("x" * 271 + f" password {password} rejected"),  # cut after 16 of 27
        method="PUT",
        path_prefix=path_of("plain-merge"),
    )
    emu.faults.schedule(  # a proxy's page that repeats the request's Authorization header
        variant="not-json", status=400, method="PUT", path_prefix=path_of("plain-headers")
    )
    emu.faults.schedule(  # a proxy's page that repeats the request's body
        variant="not-json",
        status=400,
        body="upstream echo: " + json.dumps({"input": {"apiKey": news, "password": password}}),
        method="POST",
    )
    # A real process, so that whatever reaches its own streams (warnings, logging) is seen too.
    env = {
        **os.environ,
        **SECRETS,
        "APIFY_TOKEN": TOKEN,
        "APIFY_API_BASE_URL": emu.url,
        "GITHUB_STEP_SUMMARY": str(out / "step-summary.md"),
    }
    argv = [sys.executable, "-m", "tasksync", "apply", path, "--yes", "--create-missing"]
    argv += ["--report", str(out / "failed.json"), "--summary", str(out / "failed.md")]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    seen.add("failing apply", Result(proc.returncode, proc.stdout, proc.stderr))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((out / "failed.json").read_text())
    assert report["totals"]["failed"] == 4, report
    sent = [r.body for r in emu.requests if r.method in ("PUT", "POST")]
    assert any(SECRETS["NEWS_API_KEY"] in json.dumps(b) for b in sent), "no secret was sent"

    emu.faults.schedule(count=10, status=401, method="PUT")
    revoked = run_cli(
        "apply",
        path,
        "--yes",
        "--report",
        str(out / "revoked.json"),
        emu=emu,
        environ={**SECRETS, "GITHUB_STEP_SUMMARY": str(out / "step-summary.md")},
    )
    assert seen.add("revoked", revoked).code == 1
    assert "token" in json.loads((out / "revoked.json").read_text())["error"]
    seen.check(min_files=4)


def test_successful_apply_and_export(emu: Emulator, tmp_path: Path) -> None:
    out, private = tmp_path / "out", tmp_path / "private"
    out.mkdir()
    private.mkdir()
    (private / "token").write_text(TOKEN + "\n")
    path = write_file(tmp_path, FILE)
    seen = Outputs(out)
    # With --token-file instead of APIFY_TOKEN.
    env = {**SECRETS, "APIFY_API_BASE_URL": emu.url}
    token = ["--token-file", str(private / "token")]
    saved = seen.add(
        "plan", run_cli("plan", path, "--out", str(out / "plan.json"), *token, environ=env)
    )
    assert saved.code == 0, saved.output
    emu.faults.schedule(count=1, status=500, method="PUT")  # retried
    step = {**env, "GITHUB_STEP_SUMMARY": str(out / "step-summary.md")}
    applied = run_cli(
        "apply",
        str(out / "plan.json"),
        "--yes",
        "--create-missing",
        "--report",
        str(out / "report.json"),
        "--summary",
        str(out / "summary.md"),
        *token,
        environ=step,
    )
    assert seen.add("apply", applied).code == 0, applied.output
    stored = emu.state.get_task("janedoe~sec-news")["input"]  # type: ignore[index]
    assert emu.state.secret_plaintext(stored["apiKey"]) == "old"  # kept: no --rotate-secrets
    assert emu.state.secret_plaintext(stored["password"]) == SECRETS["DB_PASSWORD"]  # was unset
    rotated = run_cli(
        "apply",
        path,
        "--yes",
        "--rotate-secrets",
        "--report",
        str(out / "rotated.json"),
        *token,
        environ=step,
    )
    assert seen.add("rotate", rotated).code == 0, rotated.output
    assert json.loads((out / "rotated.json").read_text())["totals"]["updated"] == 2
    stored = emu.state.get_task("janedoe~sec-news")["input"]  # type: ignore[index]
    assert emu.state.secret_plaintext(stored["apiKey"]) == SECRETS["NEWS_API_KEY"]
    again = run_cli("plan", path, "--detailed-exitcode", *token, environ=env)
    assert seen.add("plan again", again).code == 0, again.output
    # Export the tasks whose secrets the API keeps encrypted (the others hold them as sent).
    exported = run_cli(
        "export", "--match", "sec-*", "-o", str(out / "exported.yaml"), *token, environ=env
    )
    assert seen.add("export -o", exported).code == 0
    to_stdout = seen.add("export", run_cli("export", "--match", "sec-*", *token, environ=env))
    assert to_stdout.code == 0 and "${SEC_NEWS_APIKEY}" in to_stdout.out
    names = ("SEC_NEWS_APIKEY", "SEC_NEWS_PASSWORD", "SEC_NEW_APIKEY", "SEC_NEW_PASSWORD")
    assert all(name in exported.err for name in names)
    variables = dict(zip(names, [SECRETS["NEWS_API_KEY"], SECRETS["DB_PASSWORD"]] * 2, strict=True))
    valid = run_cli("validate", str(out / "exported.yaml"), environ=variables)
    assert seen.add("validate exported", valid).code == 0, valid.output
    seen.check(min_files=6)


def test_a_token_cut_short_in_a_long_error_message(emu: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = write_file(tmp_path, FILE)
    seen = Outputs(out)
    message = "x" * 253 + f" sent with Bearer {TOKEN}"  # cut after 16 of its 25 secret characters
    emu.faults.schedule(
        variant="json",
        status=400,
        body={"error": {"type": "invalid-request", "message": message}},
        method="GET",
        path_prefix="/v2/actor-tasks/janedoe~sec-news",
    )
    result = seen.add("plan", run_cli("plan", path, emu=emu, environ=SECRETS))
    assert result.code == 1 and "HTTP 400" in result.out
    seen.check(min_files=0)
