"""How long the README's test command takes from a fresh clone, phase by phase.

Usage: .venv/bin/python benchmarks/suite_time.py [--keep] [--durations N]

Clones the last commit (``git clone`` of this repository: uncommitted changes are not measured) into
``benchmarks/.work/``, then times ``make setup-test`` (a new virtual environment with the test tools; system
packages and the Prometheus binaries are already installed when this runs a second time) and ``make test``,
the README's command. ``make test`` runs pytest twice (see the Makefile): the tests that wait on the sandbox on several
workers, the ``calm`` ones that mostly wait on slow alerts first among them, then the ``quiet`` tests that measure
latency and throughput; each phase's time is read from pytest's own summary line. The slowest tests of each phase (``--durations``) show where the time goes.

Target: ``make test`` ≤ 7 minutes (420 s) on 2 cores, setup excluded (it is a one-off per machine and
mostly download time). Exit code: 0 target met, 1 missed, 2 the test command failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (and its .venv) afterwards")
    parser.add_argument("--durations", type=int, default=15, help="how many of the slowest tests to report")
    args = parser.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    clone = state_dir("suite") / "clone"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "PYTEST_", "VIRTUAL_ENV"))}
    env["PYTEST_ADDOPTS"] = f"--durations={args.durations}"
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
    print(body)
    write_section("suite_time", "Test command from a fresh clone (suite_time.py)", body)
    if status:
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
