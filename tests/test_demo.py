"""``tasksync demo``, the first command a new user runs: plan, apply, plan again against an
emulator it starts itself, on the bundled example file."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from support import run_cli

PLAN = re.compile(r"^Plan: (\d+) to create, (\d+) to update, (\d+) unchanged\.", re.M)
APPLY = re.compile(r"^Apply: (\d+) unchanged, (\d+) updated, (\d+) created in ", re.M)


def test_demo_plans_applies_and_converges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where it writes its report
    result = run_cli("demo")
    assert result.code == 0, result.output
    assert "Traceback" not in result.output and result.err == ""
    out = result.out
    assert out.startswith("Emulator running at http://127.0.0.1:")
    commands = re.findall(r"^\$ tasksync (\w+) .*tasks\.example\.yaml(.*)$", out, re.M)
    assert commands == [
        ("plan", " --create-missing"),
        ("apply", " --yes --create-missing"),
        ("plan", ""),
    ]
    (first, second) = [tuple(map(int, m)) for m in PLAN.findall(out)]
    (applied,) = [tuple(map(int, m)) for m in APPLY.findall(out)]
    create, update, unchanged = first
    assert create == 1 and update >= 1 and unchanged >= 1  # something of each kind to show
    assert applied == (unchanged, update, create)
    assert second == (0, 0, create + update + unchanged), "the second plan shows changes"
    # The sections come in order: plan (with its diffs), apply, plan, where the report is.
    assert out.index("(create)") < out.index("Apply: ") < out.rindex("Plan: ")
    report_path = re.search(r"^The report is in (\S+) \(and summary\.md beside it\)\.$", out, re.M)
    assert report_path is not None
    report = Path(report_path.group(1))
    assert report.parent.parent == tmp_path
    doc = json.loads(report.read_text())
    assert doc["ok"] is True and doc["totals"]["created"] == 1
    assert (report.parent / "summary.md").read_text().startswith("### ")


def test_demo_on_a_file_that_does_not_fit_its_sample_actor_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = tmp_path / "mine.yaml"
    path.write_text(
        "version: 1\ntasks:\n"
        "  - task: janedoe~first\n    input: {maxPagesPerCrawl: 5}\n"
        "  - task: janedoe~second\n    input: {maxPagesPerCrawl: 5}\n"
        "  - task: janedoe~misfit\n    input: {maxPagesPerCrawl: -1}\n"  # drifted: written
    )
    result = run_cli("demo", str(path))
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert "bug" not in result.err
    assert result.err.startswith(
        "tasksync: error: the demo did not converge with this file: 1 task failed (janedoe~misfit; "
    ), result.err
    assert "sample Actor (apify~web-scraper)" in result.err
