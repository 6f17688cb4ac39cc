"""The grading matrix every lab must hold, graded by real nbgrader in one cohort run per lab.

A lab's test module subclasses ``GradingMatrix`` and fills in the lab, its
points per exercise and its plausible wrong answers: a blank submission scores
0 without crashing, the solution scores full marks, and each set of wrong
answers loses exactly the points of the exercises it got wrong.
"""

from __future__ import annotations

import csv
from pathlib import Path

from kit import grading


def grade_matrix(lab: str, wrong: dict[str, dict[str, str]], folder: Path) -> dict[str, dict[str, float]]:
    """Points per exercise for a blank, the solution, and each named set of wrong answers."""
    solution = grading.solution_answers(lab)
    variants = {"blank": {}, "solution": solution, **{name: {**solution, **answers} for name, answers in wrong.items()}}
    for student, answers in variants.items():
        grading.make_submission(lab, answers, folder / student / lab / f"{lab}.ipynb")
    out = folder / "gradebook.csv"
    book = grading.grade_cohort(folder, lab, out, progress=print)
    exercises = [e.name for e in next(iter(book.reports.values())).exercises]
    with open(out, newline="") as fh:
        return {row["student"]: {ex: float(row[ex]) for ex in exercises} for row in csv.DictReader(fh)}


class GradingMatrix:
    """Subclass as ``TestLabNN`` with LAB, FULL ({exercise: points}) and WRONG ({student: (answers, wrong exercises)}).

    ``points`` (tests/conftest.py) grades the class's cohort once.
    """

    LAB: str
    FULL: dict[str, float]
    WRONG: dict[str, tuple[dict[str, str], set[str]]]

    def expected(self, wrong: set[str]) -> dict[str, float]:
        return {ex: (0 if ex in wrong else points) for ex, points in self.FULL.items()}

    def test_blank_scores_zero(self, points):
        assert points["blank"] == self.expected(set(self.FULL))

    def test_solution_scores_full_marks(self, points):
        assert points["solution"] == self.FULL

    def test_wrong_answers_lose_exactly_their_exercise(self, points):
        for student, (_, wrong) in self.WRONG.items():
            assert points[student] == self.expected(wrong), student
