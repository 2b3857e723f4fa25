"""SIGINT and SIGTERM in the middle of ``tasksync apply``, at seeded-random points.

``python -m tasksync apply`` runs in a subprocess against an emulator in this process, on a file
of a few hundred tasks (unchanged, changed and missing ones). A signal arrives after a number of
reads (while planning) or of writes (while applying); in some cases the next four writes stall
first, and a second signal follows as soon as the first is acknowledged, which cancels them.
Whatever the point:

- the exit code is 130, nothing is printed as a traceback;
- the report and the summary exist and are complete (the report parses as JSON), and no
  temporary file is left next to them;
- every status in the report agrees with the emulator's state and request log
  (``support.check_report``): updated and created tasks are as the file says, skipped ones were
  never written, failed ones were cancelled in flight, and no task is half written;
- a second apply converges the rest, and a plan after it shows no changes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import (
    check_report,
    check_writes,
    make_scenario,
    run_cli,
    seed,
    snapshot,
    threaded_emulator,
    write_file,
)

from tasksync.emulator import Emulator, EmulatorSettings

COUNT = 210  # 30 tasks of each drift: 180 to write
WRITES = COUNT * 6 // 7
TASKS = "/v2/actor-tasks"


@dataclass(frozen=True)
class Point:
    signum: signal.Signals
    phase: str
    """``plan``: after ``after`` reads; ``apply``: after ``after`` writes."""
    after: int
    twice: bool = False
    """Stall the next writes of all four workers, then signal; signal again as soon as the first
    is acknowledged: the stalled requests are cancelled."""

    @property
    def id(self) -> str:
        return f"{self.signum.name}-{self.phase}-{self.after}" + ("-twice" if self.twice else "")


def _points() -> list[Point]:
    rng = random.Random("tasksync-interrupt")
    points = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        points.append(Point(signum, "plan", rng.randint(10, COUNT // 2)))
        points.append(Point(signum, "apply", rng.randint(1, WRITES // 2)))
        points.append(Point(signum, "apply", rng.randint(1, WRITES // 2), twice=True))
    return points


POINTS = _points()


def _seen(emu: Emulator, phase: str) -> int:
    methods = ("GET",) if phase == "plan" else ("PUT", "POST")
    return sum(r.method in methods for r in emu.requests)


def _wait_for(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def _opening_a_fifo(pid: int) -> bool:
    """Whether a thread of ``pid`` waits in ``open()`` for the other end of a FIFO (Linux says
    so in ``/proc``; elsewhere the signal may come just before the open, which is no harm)."""
    tasks = Path(f"/proc/{pid}/task")
    if not Path("/proc/self/wchan").exists():
        return True
    try:
        return any((t / "wchan").read_text() == "wait_for_partner" for t in tasks.iterdir())
    except FileNotFoundError:  # a thread ended while we looked
        return False


def _drain(fd: int) -> bytes:
    """What a non-blocking pipe holds now, up to its end or to what is not written yet."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:  # a writer is still connected, with nothing more to say now
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("point", POINTS, ids=[p.id for p in POINTS])
def test_interrupted_apply_reports_what_it_did_and_a_rerun_converges(
    tmp_path: Path, point: Point
) -> None:
    rng = random.Random(f"tasksync-interrupt-{point.id}")
    report_path, summary_path = tmp_path / "out" / "report.json", tmp_path / "out" / "summary.md"
    report_path.parent.mkdir()
    stderr_path = tmp_path / "stderr.txt"
    settings = EmulatorSettings(latency_ms=10, latency_jitter_ms=20, seed=rng.randrange(2**31))
    with threaded_emulator(settings) as emu:
        scenario = make_scenario(emu, tmp_path, COUNT, rng)
        env = {**os.environ, "APIFY_TOKEN": emu.token, "APIFY_API_BASE_URL": emu.url}
        argv = [sys.executable, "-m", "tasksync", "apply", scenario.path, "--yes"]
        argv += ["--create-missing", "--concurrency", "4"]
        argv += ["--report", str(report_path), "--summary", str(summary_path)]
        with stderr_path.open("w") as stderr:
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
            try:
                _wait_for(lambda: _seen(emu, point.phase) >= point.after, f"{point.phase}")
                if point.twice:
                    emu.faults.schedule(count=4, kind="stall", seconds=30, path_prefix=TASKS)
                    _wait_for(lambda: not emu.faults.scheduled, "four stalled writes")
                proc.send_signal(point.signum)
                if point.twice:
                    _wait_for(lambda: "stopping" in stderr_path.read_text(), "the first signal")
                    proc.send_signal(point.signum)
                out, _ = proc.communicate(timeout=60)
            finally:
                proc.kill()
                proc.wait()
        # No wait for the emulator's side: the command waited for every answer but those of the
        # writes that the second signal cancelled, and these never write (they end logged with
        # no body, or stay stalled until the emulator closes), nor count as writes
        # (support.writes_by_task).
        err = stderr_path.read_text()

        assert proc.returncode == 130, out + err
        assert "Traceback" not in out + err
        assert ("cancelling in-flight requests" in err) == point.twice, err
        assert sorted(p.name for p in report_path.parent.iterdir()) == [
            "report.json",
            "summary.md",
        ]
        doc = json.loads(report_path.read_text())
        assert doc["kind"] == "tasksync-report" and doc["interrupted"] is True
        assert not doc["ok"]
        assert summary_path.read_text().startswith("### :x: tasksync apply")
        check_report(emu, scenario, doc)
        check_writes(emu, scenario)
        totals = doc["totals"]
        if point.phase == "plan":
            assert "nothing was changed" in doc["error"]
            assert len(doc["tasks"]) == totals["skipped"] == COUNT  # every task, not started
            assert _seen(emu, "apply") == 0
        else:
            assert totals["updated"] + totals["created"] >= point.after
            assert totals["skipped"] > 0
            failed = [t for t in doc["tasks"] if t["status"] == "failed"]
            assert all(t["error"]["type"] == "interrupted" for t in failed), failed
            assert len(failed) == 4 * point.twice, failed

        emu.settings.latency_ms = emu.settings.latency_jitter_ms = 0
        before, since = snapshot(emu, scenario), time.time()
        again_path = tmp_path / "again.json"
        again = run_cli(
            "apply",
            scenario.path,
            "--yes",
            "--create-missing",
            "--report",
            str(again_path),
            emu=emu,
        )
        assert again.code == 0, again.output
        check_report(emu, scenario, json.loads(again_path.read_text()), before=before, since=since)
        check_writes(emu, scenario)
        final = run_cli("plan", scenario.path, "--detailed-exitcode", emu=emu)
        assert final.code == 0, final.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_a_file_is_written_waits_until_it_is_whole(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Outputs are written inside the event loop, whose signal handling owns SIGINT and SIGTERM:
    a signal then neither loses the file nor leaves its temporary file behind; it is reported,
    and the run's exit stands."""
    size = 40_000_000  # long enough to write that the signal surely arrives in the middle
    target = tmp_path / "report.json"
    code = (
        "import sys\n"
        "from tasksync.console import write_atomic\n"
        "from tasksync.run import run\n"
        "async def work(interrupt):\n"
        f"    return 'x' * {size}\n"
        f"run(work, lambda text: write_atomic({str(target)!r}, text), stderr=sys.stderr)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: any(tmp_path.iterdir()), "the temporary file")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert f"{signum.name} arrived after the run had ended" in err
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert target.stat().st_size == size


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_outputs_are_written_loses_none_of_them(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """The run is over and the outputs are being written (here: held up opening
    $GITHUB_STEP_SUMMARY, a pipe that nobody reads yet) when the signal comes. It must not cut
    the writing short: every output is complete, and the exit code is the run's."""
    step_summary = tmp_path / "step-summary"
    os.mkfifo(step_summary)
    report_path = tmp_path / "report.json"
    with threaded_emulator() as emu:
        seed(emu, "one", options={"build": "latest"}, input={"q": 1})
        path = write_file(
            tmp_path, "version: 1\ntasks:\n  - task: janedoe~one\n    input: {q: 2}\n"
        )
        env = {
            **os.environ,
            "APIFY_TOKEN": emu.token,
            "APIFY_API_BASE_URL": emu.url,
            "GITHUB_STEP_SUMMARY": str(step_summary),
        }
        argv = [sys.executable, "-m", "tasksync", "apply", path, "--yes"]
        argv += ["--report", str(report_path)]
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        reader = -1
        try:
            _wait_for(report_path.exists, "the report")  # written before the step summary
            _wait_for(lambda: _opening_a_fifo(proc.pid), "the command to open the pipe")
            proc.send_signal(signum)
            # Nothing here may block without a bound, whatever the command does (a plain
            # open() of the pipe waits forever for a writer that never comes): the reading end
            # opens at once without blocking, which lets the command's open() go on, and the
            # summary (far less than a pipe's 64 KiB buffer) waits in the pipe until it exits.
            reader = os.open(step_summary, os.O_RDONLY | os.O_NONBLOCK)
            out, err = proc.communicate(timeout=30)
            summary = _drain(reader).decode()
        finally:
            if reader >= 0:
                os.close(reader)
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out + err
    assert f"{signum.name} arrived after the run had ended" in err
    assert "Traceback" not in err
    assert summary.startswith("### ") and "janedoe~one" in summary
    assert json.loads(report_path.read_text())["totals"]["updated"] == 1
