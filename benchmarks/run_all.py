"""Run every benchmark in turn; each prints its figures and rewrites its own section of RESULTS.md.

Usage: .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...]

Runs the four core benchmarks, then any other ``benchmarks/*.py`` (not ``_*.py``).
``--quick`` skips the realistic profile of fault_to_page (saves ~3-4 minutes).
The benchmarks run one after another, never in parallel: they share two cores.
Exit code: 0 when every target passed, 1 when a target failed or could not be judged
(a busy machine), 2 when a benchmark broke.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("sandbox_lifecycle", "fault_to_page", "instrumentation_overhead", "sandbox_memory")


def benchmarks() -> list[str]:
    """The four core benchmarks first, then any other script here (not run_all, not _private), by name."""
    found = sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "run_all")
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fault_to_page without the realistic profile")
    parser.add_argument("--only", nargs="+", choices=benchmarks(), help="run just these")
    args = parser.parse_args(argv)

    outcome: dict[str, str] = {}
    worst = 0
    for name in args.only or benchmarks():
        extra = ["--quick"] if args.quick and name == "fault_to_page" else []
        print(f"\n=== {name} {' '.join(extra)}".rstrip(), flush=True)
        t0 = time.monotonic()
        rc = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *extra], cwd=HERE.parent).returncode
        took = time.monotonic() - t0
        outcome[name] = {0: "targets met", 1: "target FAILED", 3: "INCONCLUSIVE (machine too busy)"}.get(
            rc, f"BROKE (exit {rc})")
        outcome[name] += f" ({took:.0f} s)"
        worst = max(worst, {0: 0, 1: 1, 3: 1}.get(rc, 2))
    print("\n=== summary")
    for name, text in outcome.items():
        print(f"{name:<26} {text}")
    print(f"results: {HERE / 'RESULTS.md'}")
    return worst


if __name__ == "__main__":
    sys.exit(main())
