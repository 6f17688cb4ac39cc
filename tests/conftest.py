from __future__ import annotations

import pytest
from matrix import Graded, grade_matrix

from kit import faults, prom, sandbox
from kit.config import Config


@pytest.fixture(scope="session")
def live() -> Config:
    """The shared test sandbox (lab profile, free ports), started once per session."""
    config = Config.from_env()
    sandbox.up(config=config)
    return config


@pytest.fixture
def clean_faults(live: Config):
    """Tests that inject faults leave none behind for the next test, and start with no page firing or pending.

    Alertmanager notifies once per firing alert (then only every repeat_interval), so a test that waits for a
    new page would wait in vain while an earlier test's incident on this worker's sandbox has not resolved;
    and an alert an earlier test left pending would page in the middle of this one.
    """
    faults.clear_faults(config=live)
    prom.wait_for('absent(ALERTS{severity="page"})', timeout=120, config=live)
    yield live
    faults.clear_faults(config=live)


@pytest.fixture(scope="class")
def graded(request, live: Config, tmp_path_factory) -> Graded:
    """A GradingMatrix class's cohort (blank, solution, its wrong answers), graded once."""
    wrong = {student: answers for student, (answers, _) in request.cls.WRONG.items()}
    return grade_matrix(request.cls.LAB, wrong, tmp_path_factory.mktemp("submissions"), live)


@pytest.fixture(scope="class")
def points(graded: Graded) -> dict[str, dict[str, float]]:
    """Points per exercise of the class's cohort, as its gradebook CSV has them."""
    return graded.points
