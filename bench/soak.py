"""Soak benchmark: tasksync apply on many drifted tasks against an emulator with mixed faults.

    python -m bench.soak --tasks 50000 --changed 0.1 --latency-ms 5 --concurrency 64

Not part of CI. It starts the emulator in its own process (``bench.sync.EmulatorProcess``) with
the per-task rate limit (60/s) and a global limit low enough that 429s happen, seeds it with
drifted tasks (``bench.sync.write_files``), then turns on random faults through the control plane:
500/502/503 answers (``--error-rate``) and dropped connections (``--drop-rate``, half before the
request is done, half after it, a write applied). It runs ``tasksync apply FILE --yes --force
--report ...`` as a child process (through ``bench.sync.run_client``), reads
the report, the emulator's request log and its final state, and prints:

* tasks by status, the report's request totals (sent, retried, rate-limited), the exit code;
* requests the emulator saw, by method, by answer status and by injected fault kind;
* whether every task the report calls updated / unchanged has the desired state (and how many of
  the failed ones ended up converged anyway);
* whether any task was PUT with two different bodies;
* a second ``tasksync apply`` (faults off unless ``--second-faults same``): how many tasks it
  changed, its exit code, and whether every task of the file has converged after it.

``run_client`` gives wall and CPU (those of the client and its small wrappers) but not the exit
code, and its peak RSS includes this benchmark's own (see ``apply_once``), so the client runs under
GNU ``time``, which reports the client's own peak RSS and exit status. The client's stderr goes to
a file, whose last lines are printed when it is not empty. The request log at 50,000 tasks is
about 11 MB and comes back in under a second, so every check runs at the full size;
``--no-request-log`` skips the log for bigger runs.

The fault RNG is seeded with 0 (``EmulatorSettings.seed``), but which request draws which fault
depends on the order requests arrive in, so two runs differ in detail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.sync import EmulatorProcess, converged, run_client, write_files
from tasksync import config
from tasksync.diff import diff_task
from tasksync.model import Action, RemoteTask, TaskSpec

OK_STATUSES = ("updated", "unchanged", "created")


def _gnu_time() -> str | None:
    """GNU time's path, if it is there (BSD ``time`` has no ``-f``)."""
    try:
        out = subprocess.run(["/usr/bin/time", "--version"], capture_output=True, text=True)
    except OSError:
        return None
    return "/usr/bin/time" if "GNU" in out.stdout + out.stderr else None


GNU_TIME = _gnu_time()


def control(emu: EmulatorProcess, method: str, path: str, body: Any = None) -> Any:
    """A control-plane request other than GET (``EmulatorProcess.control`` only reads)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(emu.url + "/_emulator/" + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def set_faults(emu: EmulatorProcess, args: argparse.Namespace, on: bool) -> None:
    rates = (args.error_rate, args.drop_rate / 2, args.drop_rate / 2) if on else (0.0, 0.0, 0.0)
    control(
        emu,
        "PUT",
        "settings",
        dict(zip(("error_rate", "drop_before_rate", "drop_after_rate"), rates, strict=True)),
    )


def peak_rss_mb(pid: int) -> float | None:
    """The peak RSS of a process of ours (Linux ``VmHWM``), or None where /proc has no answer."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def apply_once(
    emu: EmulatorProcess, desired: Path, folder: Path, name: str, concurrency: int
) -> dict[str, Any]:
    """Run ``tasksync apply`` once; return its figures, exit code and report.

    ``run_client`` measures wall and CPU (through a small launcher, so that this benchmark's own
    memory is not carried into the client's peak RSS). The client runs under GNU
    ``/usr/bin/time`` too, which reports its own ``%M`` and exit status; without it, the RSS
    shown is ``run_client``'s and the exit code comes from a ``sh`` wrapper.
    """
    report_path = folder / f"{name}.json"
    measured, err_path = folder / f"{name}.time", folder / f"{name}.stderr"
    cmd = [
        sys.executable, "-m", "tasksync", "apply", str(desired), "--yes", "--force",
        "--concurrency", str(concurrency), "--report", str(report_path),
    ]  # fmt: skip
    stderr_to = ["sh", "-c", 'exec "$@" 2>"$0"', str(err_path)]
    if GNU_TIME:
        wrapped = [GNU_TIME, "-o", str(measured), "-f", "%M %x", *stderr_to, *cmd]
    else:
        script = 'err="$0"; out="$1"; shift; "$@" 2>"$err"; echo "0 $?" >"$out"'
        wrapped = ["sh", "-c", script, str(err_path), str(measured), *cmd]
    wall, cpu, rss, _ = run_client(wrapped, emu.url)
    rc: int | None = None
    own_rss = None
    try:
        kib, status = measured.read_text().splitlines()[-1].split()
        rc, own_rss = int(status), int(kib) / 1024 if GNU_TIME else None
    except (OSError, ValueError, IndexError):
        pass
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    stderr = err_path.read_text(errors="replace") if err_path.exists() else ""
    return {
        "wall": wall,
        "cpu": cpu,
        "rss": own_rss if own_rss is not None else rss,
        "rss_exact": own_rss is not None,
        "rc": rc,
        "report": report,
        "stderr": stderr,
    }


def task_states(emu: EmulatorProcess) -> dict[str, dict[str, Any]]:
    state = emu.control("state")
    tasks = state["tasks"] if isinstance(state, dict) else state
    return {f"{t['username']}~{t['name']}": t for t in tasks}


def converged_keys(specs: list[TaskSpec], by_key: dict[str, dict[str, Any]]) -> set[str]:
    """The keys of the tasks whose live state equals the file (the per-task ``converged``)."""
    return {
        s.key
        for s in specs
        if s.key in by_key and diff_task(s, RemoteTask(by_key[s.key])).action is Action.NOOP
    }


def request_log(emu: EmulatorProcess) -> tuple[list[dict[str, Any]], float, int]:
    """The request log, the seconds it took to fetch and its size in bytes."""
    started = time.perf_counter()
    with urllib.request.urlopen(emu.url + "/_emulator/requests") as response:
        raw = response.read()
    records = json.loads(raw)["requests"]
    return records, time.perf_counter() - started, len(raw)


def put_bodies(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    """For each PUT path, the distinct bodies sent (canonical JSON)."""
    bodies: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r["method"] == "PUT":
            bodies[r["path"]].add(json.dumps(r["body"], sort_keys=True))
    return bodies


def sent_by(run: dict[str, Any]) -> int | None:
    report = run["report"]
    return None if report is None else int(report["requests"].get("total", 0))


def log_summary(records: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    return {
        "method": Counter(r["method"] for r in records),
        "status": Counter("dropped" if r["status"] is None else str(r["status"]) for r in records),
        "fault": Counter(r["fault"] or "none" for r in records),
        "fault x method": Counter(f"{r['fault']} {r['method']}" for r in records if r["fault"]),
    }


def show_counter(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


def print_run(title: str, run: dict[str, Any], tasks: int) -> None:
    report = run["report"]
    print(f"\n== {title}")
    print(
        f"exit code {run['rc']}; wall {run['wall']:.1f} s; CPU {run['cpu']:.1f} s "
        f"({run['cpu'] / tasks * 1e6:,.0f} µs/task); peak RSS {run['rss']:.0f} MB"
        + ("" if run["rss_exact"] else " (upper bound: includes this benchmark's own)")
    )
    if report is None:
        print("NO REPORT written")
    else:
        totals = {k: v for k, v in report["totals"].items() if v}
        req = report["requests"]
        print(
            f"report: ok={report['ok']} interrupted={report['interrupted']} "
            f"error={report['error']!r}; tasks {totals}"
        )
        print(
            f"report requests: total {req.get('total', 0):,}, retried {req.get('retried', 0):,}, "
            f"rate-limited (429) {req.get('rateLimited', 0):,}"
        )
        errors = Counter(
            (t.get("error") or {}).get("type", "?")
            for t in report["tasks"]
            if t["status"] not in OK_STATUSES
        )
        if errors:
            print(f"errors by type: {show_counter(errors)}")
            samples: dict[str, dict[str, Any]] = {}
            for t in report["tasks"]:
                if t["status"] not in OK_STATUSES:
                    samples.setdefault((t.get("error") or {}).get("type", "?"), t)
            for t in samples.values():
                print(f"  e.g. {t['key']}: {t['status']}: {t['error']['message'][:200]}")
    if run["stderr"].strip():
        tail = run["stderr"].strip().splitlines()[-5:]
        print("stderr (last lines):\n  " + "\n  ".join(tail))


def print_log(records: list[dict[str, Any]], seconds: float, size: int, sent: int | None) -> None:
    s = log_summary(records)
    print(f"emulator request log: {len(records):,} requests ({size / 1e6:.1f} MB, {seconds:.1f} s)")
    if sent is not None and len(records) != sent:
        print(
            f"  {len(records) - sent:+,} against the report's total (aiohttp resends an idempotent "
            "request once, uncounted by tasksync, when a reused connection is dropped)"
        )
    print(f"  by method: {show_counter(s['method'])}")
    print(f"  by status: {show_counter(s['status'])}")
    print(f"  by injected fault: {show_counter(s['fault'])}")
    if s["fault x method"]:
        print(f"  faults by method: {show_counter(s['fault x method'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--error-rate", type=float, default=0.03, help="random 500/502/503")
    parser.add_argument(
        "--drop-rate", type=float, default=0.02, help="dropped connections, half after the write"
    )
    parser.add_argument("--rate-limit", type=float, default=60, help="emulator, per task")
    parser.add_argument("--global-rate-limit", type=float, default=1500, help="emulator, per user")
    parser.add_argument("--options-semantics", choices=("merge", "replace"), default="merge")
    parser.add_argument(
        "--second-faults",
        choices=("off", "same"),
        default="off",
        help="faults during the second apply (default off)",
    )
    parser.add_argument(
        "--no-request-log",
        action="store_true",
        help="do not fetch the emulator's request log (skips the per-request checks)",
    )
    args = parser.parse_args(argv)

    print(
        f"soak: {args.tasks:,} tasks, {args.changed:.0%} drifted, latency {args.latency_ms:g} ms, "
        f"concurrency {args.concurrency}, options {args.options_semantics}; emulator faults: "
        f"{args.error_rate:.1%} 5xx, {args.drop_rate:.1%} dropped (half after the write); "
        f"rate limits {args.rate_limit or 'off'}/s per task, "
        f"{args.global_rate_limit or 'off'}/s global; second run faults {args.second_faults}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        desired, seed = write_files(folder, args.tasks, args.changed)
        specs = list(config.load(desired, environ={}).tasks)
        emu = EmulatorProcess(seed, args)
        try:
            set_faults(emu, args, on=True)
            first = apply_once(emu, desired, folder, "first", args.concurrency)
            emu_rss_before_log = peak_rss_mb(emu.proc.pid)
            records1: list[dict[str, Any]] | None = None
            if not args.no_request_log:
                records1, log_seconds, log_size = request_log(emu)
                control(emu, "DELETE", "requests")
            emu_rss_after_log = peak_rss_mb(emu.proc.pid)
            states1 = task_states(emu)
            done1 = converged_keys(specs, states1)

            set_faults(emu, args, on=args.second_faults == "same")
            second = apply_once(emu, desired, folder, "second", args.concurrency)
            records2 = None
            if not args.no_request_log:
                records2, log2_seconds, log2_size = request_log(emu)
            states2 = task_states(emu)
            done2 = converged_keys(specs, states2)
            all_converged = converged(emu, desired)
        finally:
            emu.close()

    print_run("first apply (faults on)", first, args.tasks)
    if records1 is not None:
        print_log(records1, log_seconds, log_size, sent_by(first))
    report1 = first["report"] or {"tasks": []}
    by_status: dict[str, list[str]] = defaultdict(list)
    for t in report1["tasks"]:
        by_status[t["status"]].append(t["key"])
    ok_keys = [k for s in OK_STATUSES for k in by_status.get(s, [])]
    bad_ok = [k for k in ok_keys if k not in done1]
    not_ok = [k for s, keys in by_status.items() if s not in OK_STATUSES for k in keys]
    print(
        f"converged after the first run: {len(done1):,} of {len(specs):,} tasks; "
        f"of the {len(ok_keys):,} the report calls updated/unchanged/created: "
        f"{len(ok_keys) - len(bad_ok):,} converged"
        + (f", NOT: {', '.join(bad_ok[:5])}" if bad_ok else " (all)")
    )
    if not_ok:
        kinds = {t["key"]: (t.get("error") or {}).get("type") for t in report1["tasks"]}
        unread = [k for k in not_ok if kinds.get(k) == "plan-error"]
        unwritten = [k for k in not_ok if kinds.get(k) != "plan-error"]
        print(
            f"of the {len(not_ok):,} failed/stale/skipped: {len(unread):,} could not be read "
            f"({sum(1 for k in unread if k in done1):,} of them needed no change anyway), "
            f"{len(unwritten):,} failed in the write "
            f"({sum(1 for k in unwritten if k in done1):,} of them converged all the same: "
            "the write landed, e.g. before a dropped answer)"
        )
    twice: dict[str, set[str]] = {}
    if records1 is not None:
        id_to_key = {str(t["id"]): key for key, t in states1.items()}
        twice = {p: b for p, b in put_bodies(records1).items() if len(b) > 1}
        puts = Counter(r["path"] for r in records1 if r["method"] == "PUT")
        applied = Counter(
            r["path"]
            for r in records1
            if r["method"] == "PUT" and (r["status"] == 200 or r["fault"] == "drop_after")
        )
        print(
            f"PUTs: {sum(puts.values()):,} to {len(puts):,} tasks; "
            f"{sum(1 for n in applied.values() if n > 1):,} tasks had the write applied more than "
            f"once (a retry after a drop after the write); "
            f"tasks PUT with two different bodies: {len(twice)}"
        )
        for path, bodies in list(twice.items())[:3]:
            key = id_to_key.get(path.rsplit("/", 1)[-1], path)
            print(f"  {key}: {len(bodies)} bodies, e.g. {sorted(bodies)[:2]}")
        print(
            f"emulator peak RSS: {emu_rss_before_log or 0:.0f} MB before fetching the log, "
            f"{emu_rss_after_log or 0:.0f} MB after"
        )

    print_run(f"second apply (faults {args.second_faults})", second, args.tasks)
    twice_both = 0
    if records2 is not None:
        print_log(records2, log2_seconds, log2_size, sent_by(second))
        if records1 is not None:
            both = put_bodies(records1 + records2)
            twice_both = sum(1 for b in both.values() if len(b) > 1)
            print(f"tasks PUT with two different bodies over both runs: {twice_both}")
    report2 = second["report"] or {"totals": {}}
    changed2 = report2["totals"].get("updated", 0) + report2["totals"].get("created", 0)
    failed_first = set(not_ok)
    print(
        f"second run changed {changed2:,} tasks "
        f"({len(specs) - len(done1):,} had not converged after the first); "
        f"of the {len(failed_first):,} the first run did not converge by its report, "
        f"{len(failed_first & done2):,} have converged now; "
        f"converged after the second run: {len(done2):,} of {len(specs):,}; "
        f"bench.sync.converged: {'yes' if all_converged else 'NO'}"
    )
    ok = (
        first["report"] is not None
        and not bad_ok
        and not twice
        and not twice_both
        and second["rc"] == 0
        and all_converged
    )
    print(f"\nsoak {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
