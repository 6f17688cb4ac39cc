"""The README's test command runs every test: the quiet run's list of files is every file with a quiet test."""

from __future__ import annotations

import re

from kit.config import REPO_ROOT


def test_the_quiet_run_is_given_every_file_that_holds_a_quiet_test():
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    listed = set(re.search(r"^QUIET_TESTS := (.+)$", makefile, re.MULTILINE).group(1).split())
    marked = {str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "tests").rglob("test_*.py")
              if re.search(r"\bmark\.quiet\b", path.read_text(encoding="utf-8"))}
    assert marked, "no test is marked quiet: drop the quiet run from the Makefile instead"
    # A quiet test in a file missing here would be left out of both runs: the first deselects it.
    assert listed == marked, (f"QUIET_TESTS in the Makefile: add {sorted(marked - listed)}, "
                              f"drop {sorted(listed - marked)}")
    assert "$(QUIET_TESTS)" in makefile


def test_every_worker_of_any_count_draws_its_sandbox_ports_from_a_share_of_its_own():
    """`make test WORKERS=N`: a worker's sandbox must never draw a port another worker's may draw (with a fixed
    six shares, worker 6 shared worker 0's and both sandboxes failed to start)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest", REPO_ROOT / "conftest.py")
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    for workers in (1, 2, 5, 7, 12, 13, 40):
        shares = [root.worker_ports(worker, workers) for worker in range(workers)]
        taken = [port for share in shares for port in share]
        assert len(taken) == len(set(taken)), f"{workers} workers: two shares overlap"
        assert set(taken) <= set(root.WORKER_PORTS) and min(map(len, shares)) >= 100, workers
