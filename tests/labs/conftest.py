"""The grading matrix's fixtures: each GradingMatrix class's cohort graded once, and its points."""

from __future__ import annotations

import pytest
from matrix import Graded, grade_matrix

from kit.config import Config


@pytest.fixture(scope="class")
def graded(request, tmp_path_factory) -> Graded:
    """A GradingMatrix class's cohort (blank, solution, its wrong answers), graded once: in the worker's sandbox
    (``live``), or in a private one when the class says ``PRIVATE_SANDBOX``."""
    wrong = {student: answers for student, (answers, _) in request.cls.WRONG.items()}
    sandbox: Config | None = None if request.cls.PRIVATE_SANDBOX else request.getfixturevalue("live")
    return grade_matrix(request.cls.LAB, wrong, tmp_path_factory.mktemp("submissions"), sandbox)


@pytest.fixture(scope="class")
def points(graded: Graded) -> dict[str, dict[str, float]]:
    """Points per exercise of the class's cohort, as its gradebook CSV has them."""
    return graded.points
