"""The grading matrix every lab must hold, graded by real nbgrader in one cohort run."""

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


def expected(full: dict[str, float], wrong: set[str]) -> dict[str, float]:
    return {ex: (0 if ex in wrong else points) for ex, points in full.items()}
