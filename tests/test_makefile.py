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
