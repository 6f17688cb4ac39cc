"""How long the README's test command takes from a fresh clone, phase by phase.

Usage: .venv/bin/python benchmarks/suite_time.py [--keep] [--durations N]

Clones the last commit (``git clone`` of this repository: uncommitted changes are not measured) into
``benchmarks/.work/``, then times ``make setup-test`` (a new virtual environment with the test tools; system
packages and the Prometheus binaries are already installed when this runs a second time) and ``make test``,
the README's command, with the CPU each test costs logged (KIT_TEST_CPU_LOG, see the root conftest.py).
``make test`` runs pytest twice (see the Makefile): the tests that wait on the sandbox on several
workers, the ``calm`` ones that mostly wait on slow alerts first among them, then the ``quiet`` tests that measure
latency and throughput; each phase's time is read from pytest's own summary line. The slowest tests of each phase (``--durations``) show where the time goes.

Target: ``make test`` ≤ 7 minutes (420 s) on 2 cores, setup excluded (it is a one-off per machine and
mostly download time). Exit code: 0 target met, 1 missed, 2 the test command failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, WORK, fmt_s, remove, state_dir, table, verdict, write_section

TARGET_S = 420.0
_SUMMARY = re.compile(r"^=+ (?P<counts>.*?) in (?P<seconds>[0-9.]+)s(?: \(.*\))? =+$")
_DURATION = re.compile(r"^(?P<seconds>[0-9.]+)s (?P<when>call|setup|teardown)\s+(?P<test>\S+)$")


def run(argv: list[str], cwd, env: dict[str, str]) -> tuple[float, int, str]:
    """(seconds, exit status, combined output) of one command, echoing its output as it comes."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return time.monotonic() - started, proc.wait(), "".join(lines)


def phases(output: str) -> list[tuple[str, float]]:
    """(pytest's summary counts, seconds) of each pytest run in ``output``, in order."""
    found = []
    for line in output.splitlines():
        match = _SUMMARY.match(line.strip())
        if match and ("passed" in match["counts"] or "failed" in match["counts"]):
            found.append((match["counts"], float(match["seconds"])))
    return found


def slowest(output: str, n: int) -> list[tuple[float, str, str]]:
    """The ``n`` longest (seconds, phase of the test, test id) pytest reported in ``output``."""
    rows = [(float(m["seconds"]), m["when"], m["test"]) for m in map(_DURATION.match, output.splitlines()) if m]
    return sorted(rows, reverse=True)[:n]


def cpu_by_file(log: Path, n: int) -> tuple[float, list[tuple[float, float, int, str]]]:
    """(CPU seconds of every test, the ``n`` test files that cost most: (CPU s, summed wall s, tests, file)) from
    the conftest's KIT_TEST_CPU_LOG; a worker's own sandbox is a file of its own. (0, []) without a log."""
    if not log.is_file():
        return 0.0, []
    files: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        cost = files.setdefault(entry["test"].split("::", 1)[0], [0.0, 0.0, 0])
        cost[0] += entry["cpu_s"]
        cost[1] += entry["wall_s"]
        cost[2] += 1
    rows = sorted(((cpu, wall, int(count), name) for name, (cpu, wall, count) in files.items()), reverse=True)
    return sum(row[0] for row in rows), rows[:n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (and its .venv) afterwards")
    parser.add_argument("--durations", type=int, default=15, help="how many of the slowest tests to report")
    args = parser.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    clone = state_dir("suite") / "clone"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "PYTEST_", "VIRTUAL_ENV"))}
    env["PYTEST_ADDOPTS"] = f"--durations={args.durations}"
    cpu_log = WORK / "suite-cpu.jsonl"
    cpu_log.unlink(missing_ok=True)
    env["KIT_TEST_CPU_LOG"] = str(cpu_log)
    try:
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True,
                                text=True, check=True).stdout.strip()
        setup_s, status, _ = run(["make", "setup-test"], clone, env)
        if status:
            print(f"make setup-test failed (exit {status})", file=sys.stderr)
            return 2
        test_s, status, output = run(["make", "test"], clone, env)
    finally:
        if not args.keep:
            remove(clone.parent)

    parts = phases(output)
    ok = status == 0 and test_s <= TARGET_S
    rows = [["make setup-test (fresh venv)", fmt_s(setup_s), ""]]
    rows += [[f"pytest phase {i}", fmt_s(seconds), counts] for i, (counts, seconds) in enumerate(parts, 1)]
    rows += [["make test", fmt_s(test_s), f"target ≤ {TARGET_S:.0f} s: {verdict(ok)}"
              + ("" if status == 0 else f" (exit {status})")]]
    body = (f"Commit {commit}, cloned fresh.\n\n" + table(["step", "time", "result"], rows)
            + "\n\nSlowest tests:\n\n"
            + table(["seconds", "phase", "test"], [[f"{s:.1f}", w, f"`{t}`"] for s, w, t in slowest(output, args.durations)]))
    total_cpu, costly = cpu_by_file(cpu_log, args.durations)
    if costly:
        body += (f"\n\nCPU the tests cost: {total_cpu:.0f} CPU-s over both phases, {total_cpu / 2:.0f} s of two cores "
                 "(processes count once ended and waited for; a worker's own sandbox at the session's end). The "
                 "files that cost most:\n\n"
                 + table(["CPU s", "wall s (summed)", "tests", "file"],
                         [[f"{cpu:.1f}", f"{wall:.1f}", str(count), f"`{name}`"] for cpu, wall, count, name in costly]))
    print(body)
    write_section("suite_time", "Test command from a fresh clone (suite_time.py)", body)
    if status:
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
