"""kit.hub.exchange: nbgrader's exchange steps as `kit hub` runs them, and the warnings nbgrader gives on the way.

The cohort's whole path, each learner a system user submitting from their own server, is tested in test_cohort.py.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import nbformat

from kit.cli import main
from kit.hub import Exchange, fetch, release, submit

LAB = "07-fixture"


def test_collect_warns_of_a_submission_its_learner_does_not_own(tmp_path: Path, capsys):
    repo = tmp_path / "repo"
    (repo / "labs" / LAB).mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), repo / "labs" / LAB / f"{LAB}.ipynb")
    exchange = Exchange(tmp_path / "exchange", "dojo")
    release(LAB, exchange, root=repo)
    me = pwd.getpwuid(os.getuid()).pw_name
    for learner in (me, "someone-else"):  # the second one's files are this system user's, not theirs
        fetch(LAB, exchange, into=tmp_path / learner)
        submit(LAB, exchange, work=tmp_path / learner, learner=learner)
    capsys.readouterr()

    code = main(["hub", "collect", LAB, "--exchange", str(exchange.root), "--course", "dojo",
                 "--into", str(tmp_path / "submitted")])
    out, err = capsys.readouterr()
    assert code == 0 and "kit grade" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, err
    assert f"claims to be submitted by someone-else but is owned by {me}" in warnings[0], err
    assert sorted(path.name for path in (tmp_path / "submitted").iterdir()) == sorted([me, "someone-else"])
