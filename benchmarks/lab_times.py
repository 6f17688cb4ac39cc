"""How long each lab's solution notebook runs: the first time in a sandbox, and again.

Every lab has the same target: its solution runs in at most 60 s. For each lab asked for, a private sandbox on
free ports is brought up first (`kit up`, not timed: `make lab` starts the sandbox before the learner opens a
notebook), then the solution notebook (solutions/<lab>/<lab>.ipynb) runs ``--runs`` times in a new kernel
each time, as a learner's "Restart and run all" does. The first run pays what a lab's setup does once per
sandbox (lab 02 and 07 backfill a month of history); later runs find it done. The
time is the sum of the cells' execution times (nbclient's timing), so the kernel's start is not in it.

Usage: .venv/bin/python benchmarks/lab_times.py [--lab 07-safe-releases ...] [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

import _common as c
import nbformat
from nbclient import NotebookClient

from kit.config import CONTENT
from kit.lab import LABS

TARGET_S = 60.0


def _cell_seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    began, ended = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not began or not ended:
        return 0.0
    return (datetime.fromisoformat(ended.replace("Z", "+00:00"))
            - datetime.fromisoformat(began.replace("Z", "+00:00"))).total_seconds()


def run_notebook(lab: str, env: dict[str, str]) -> tuple[float, float, str]:
    """One run of the lab's solution: (seconds of all cells, seconds of the slowest cell, its first line)."""
    path = CONTENT.solutions / lab / f"{lab}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=env)
    finally:
        nbformat.write(notebook, c.WORK / f"lab_times-{lab}.ipynb")  # what ran, to read when a cell failed
    times = [(_cell_seconds(cell), cell.source.splitlines()[0] if cell.source else "")
             for cell in notebook.cells if cell.cell_type == "code"]
    slowest = max(times)
    return sum(t for t, _ in times), slowest[0], slowest[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="append", choices=sorted(LABS), help="a lab to time (default: every lab)")
    parser.add_argument("--runs", type=int, default=2, help="runs per lab, the first one included (default 2)")
    args = parser.parse_args()
    labs = args.lab or list(LABS)
    rows = []
    for lab in labs:
        config = c.sandbox_config(f"lab-{lab[:2]}")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("KIT_")}, **config.environment()}
        with c.sandbox_running(config):
            runs = []
            for number in range(1, args.runs + 1):
                total, slowest, line = run_notebook(lab, env)
                runs.append(total)
                print(f"{lab} run {number}: {total:.1f} s (slowest cell {slowest:.1f} s: {line})", flush=True)
            rows.append([lab, c.fmt_s(runs[0]), c.fmt_s(c.median(runs[1:])) if runs[1:] else "-",
                         f"{slowest:.1f} s: `{line[:50]}`", c.verdict(max(runs) <= TARGET_S)])
    body = (f"Each lab's solution notebook in a private sandbox that is already up, {args.runs} runs, each in a new "
            f"kernel; seconds of the cells' execution (target ≤ {TARGET_S:.0f} s for every run).\n\n")
    body += c.table(["lab", "first run", "later runs (median)", "slowest cell (last run)", "target"], rows)
    c.write_section("lab_times", "lab_times: each lab's solution notebook, first run and again", body + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
