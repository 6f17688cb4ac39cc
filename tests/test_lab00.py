"""Grading matrix of lab 00, graded by real nbgrader against the live sandbox.

Blank scores 0 without crashing, the solution scores full marks, and each
plausible wrong answer loses exactly the points of its own exercise.
"""

import csv

import pytest

from kit import grading

LAB = "00-mob-and-sandbox"
FULL = {"ex1": 1, "ex2": 2, "ex3": 2, "ex4": 2, "ex5": 1}

WRONG_A = {  # forgets the job filter; counts every route; reads the wrong alert
    "ex2-request-rate-answer": "request_rate_query = 'sum(rate(http_requests_total[1m]))'",
    "ex4-error-ratio-answer": (
        "error_ratio_query = 'sum(rate(http_requests_total{job=\"shop\", code=~\"5..\"}[1m]))"
        " / sum(rate(http_requests_total{job=\"shop\"}[1m]))'"
    ),
    "ex5-page-answer": "paged_alert = 'ServiceDown'\npaged_severity = 'page'",
}
WRONG_B = {  # a duplicate in the roster; a quantile over five minutes instead of one
    "ex1-roster-answer": "roster = ['Ada', 'Grace', 'Ada']\nturn_minutes = 7",
    "ex3-p99-answer": (
        "p99_query = 'histogram_quantile(0.99, sum by (le) "
        "(rate(http_request_duration_seconds_bucket{job=\"shop\", route=\"/catalog\"}[5m])))'"
    ),
}


@pytest.fixture(scope="module")
def gradebook(live, tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    solution = grading.solution_answers(LAB)
    grading.make_submission(LAB, {}, folder / "blank" / LAB / f"{LAB}.ipynb")
    grading.make_submission(LAB, solution, folder / "solution" / LAB / f"{LAB}.ipynb")
    grading.make_submission(LAB, {**solution, **WRONG_A}, folder / "wrong_a" / LAB / f"{LAB}.ipynb")
    grading.make_submission(LAB, {**solution, **WRONG_B}, folder / "wrong_b" / LAB / f"{LAB}.ipynb")
    out = folder / "gradebook.csv"
    grading.grade_cohort(folder, LAB, out, progress=print)
    with open(out, newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def _points(row):
    return {ex: float(row[ex]) for ex in FULL}


def test_blank_scores_zero(gradebook):
    assert _points(gradebook["blank"]) == {ex: 0 for ex in FULL}


def test_solution_scores_full_marks(gradebook):
    row = gradebook["solution"]
    assert _points(row) == FULL, row["note"]
    assert float(row["total"]) == float(row["max_total"]) == sum(FULL.values())


@pytest.mark.parametrize("student,wrong", [("wrong_a", {"ex2", "ex4", "ex5"}), ("wrong_b", {"ex1", "ex3"})])
def test_wrong_answers_lose_exactly_their_exercise(gradebook, student, wrong):
    expected = {ex: (0 if ex in wrong else pts) for ex, pts in FULL.items()}
    assert _points(gradebook[student]) == expected
