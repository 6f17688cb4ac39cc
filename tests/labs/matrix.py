"""The grading matrix every lab must hold, graded by real nbgrader in one cohort run per lab.

A lab's test module subclasses ``GradingMatrix`` and fills in the lab, its
points per exercise and its plausible wrong answers: a blank submission scores
0 without crashing, the solution scores full marks, and each set of wrong
answers loses exactly the points of the exercises it got wrong.

The solution's run is also the lab's notebook test: every one of its cells must
run without an error, which is all nbval checks (``--nbval-lax``) on
``solutions/<lab>``. So when a session grades a lab's matrix, the root conftest
leaves that notebook out of nbval instead of running it a second time.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from kit import grading
from kit import lab as kit_lab
from kit.config import Config


@dataclass(frozen=True)
class Graded:
    """A lab's cohort: points per exercise as the gradebook CSV has them, and each student's report."""

    points: dict[str, dict[str, float]]
    reports: dict[str, grading.GradeReport]


def grade_matrix(lab: str, wrong: dict[str, dict[str, str]], folder: Path, sandbox: Config | None) -> Graded:
    """Grade a blank, the solution, and each named set of wrong answers as one cohort, in ``sandbox``.

    The test session's own sandbox, which no learner works in and which this worker's tests use one at a
    time, is as private as the one `kit grade` would start, and reusing it saves a sandbox start per lab
    (and lab 02 a fresh month of history). tests/grading/test_check_isolation.py proves the private path.
    With ``sandbox`` None the cohort is graded as `kit grade` grades it, in a private sandbox started for it
    and removed afterwards: for a lab whose answers depend on the sandbox's past (lab 07's error-budget gate
    reads a 30-day window, which in the worker's sandbox holds every earlier test's faults).
    """
    solution = grading.solution_answers(lab)
    variants = {"blank": {}, "solution": solution, **{name: {**solution, **answers} for name, answers in wrong.items()}}
    for student, answers in variants.items():
        grading.make_submission(lab, answers, folder / student / lab / f"{lab}.ipynb")
    out = folder / "gradebook.csv"
    book = grading.grade_cohort(folder, lab, out, progress=print, reuse=sandbox)
    if sandbox is not None:
        kit_lab.reset(sandbox)  # the last notebook may end mid-incident (lab 04); the worker's next test is no lab
    exercises = [e.name for e in next(iter(book.reports.values())).exercises]
    with open(out, newline="") as fh:
        points = {row["student"]: {ex: float(row[ex]) for ex in exercises} for row in csv.DictReader(fh)}
    return Graded(points, book.reports)


class GradingMatrix:
    """Subclass as ``TestLabNN`` with LAB, FULL ({exercise: points}) and WRONG ({student: (answers, wrong exercises)}).

    ``graded`` (tests/conftest.py) grades the class's cohort once; ``points`` is its CSV. ``PRIVATE_SANDBOX``
    grades it in a sandbox of its own rather than the worker's (see ``grade_matrix``).
    """

    LAB: str
    FULL: dict[str, float]
    WRONG: dict[str, tuple[dict[str, str], set[str]]]
    PRIVATE_SANDBOX: bool = False

    def expected(self, wrong: set[str]) -> dict[str, float]:
        return {ex: (0 if ex in wrong else points) for ex, points in self.FULL.items()}

    def test_blank_scores_zero(self, points, graded):
        assert points["blank"] == self.expected(set(self.FULL))
        blank = graded.reports["blank"]
        assert blank.note == "", f"the blank notebook could not be autograded: {blank.note}"
        # Its unanswered cells raise, and the report shows it: the solution's clean run below means something.
        assert any("NotImplementedError" in cell for cell in blank.raised), blank.raised

    def test_solution_scores_full_marks(self, points):
        assert points["solution"] == self.FULL

    def test_solution_runs_every_cell_cleanly(self, graded):
        report = graded.reports["solution"]
        assert report.note == "", report.note
        assert report.problems == (), "the grader had to work around the solution:\n" + "\n".join(report.problems)
        assert report.raised == (), "cells of the solution raised:\n" + "\n".join(report.raised)

    test_solution_runs_every_cell_cleanly.runs_solution_notebook = True  # see conftest.py: replaces nbval's run

    def test_wrong_answers_lose_exactly_their_exercise(self, points, graded):
        for student, (_, wrong) in self.WRONG.items():
            report = graded.reports[student]
            assert points[student] == self.expected(wrong), (student, report.note, report.raised)
