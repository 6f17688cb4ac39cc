"""Grading matrix of lab 02 (autograded exercises; the written policy is marked by hand in nbgrader)."""

import pytest
from matrix import expected, grade_matrix

LAB = "02-slis-slos-and-budgets"
FULL = {"ex1": 2, "ex2": 2, "ex3": 2, "ex4": 2}

WRONG_A = {  # CPU as the checkout SLI; availability of every route instead of checkout
    "ex1-sli-answer": "checkout_sli = 'a'\ncatalog_sli = 'c'",
    "ex3-availability-answer": (
        "availability_query = '1 - sum(increase(http_requests_total{job=\"shop\", code=~\"5..\"}[30d]))"
        " / sum(increase(http_requests_total{job=\"shop\"}[30d]))'"
    ),
}
WRONG_B = {  # the weakest part instead of the product; consumed mistaken for remaining
    "ex2-compose-answer": "checkout_composed = min(0.999, 0.9995)\npayments_needed = 0.999",
    "ex4-incidents-answer": (
        "costs = {i.name: report.spent_between(i.start, i.end) for i in loaded.incidents}\n"
        "costliest_incident = max(costs, key=costs.get)\n"
        "budget_left = report.consumed"
    ),
}


@pytest.fixture(scope="module")
def points(live, tmp_path_factory):
    return grade_matrix(LAB, {"wrong_a": WRONG_A, "wrong_b": WRONG_B}, tmp_path_factory.mktemp("submissions"))


def test_blank_scores_zero(points):
    assert points["blank"] == expected(FULL, set(FULL))


def test_solution_scores_full_marks(points):
    assert points["solution"] == FULL


@pytest.mark.parametrize("student,wrong", [("wrong_a", {"ex1", "ex3"}), ("wrong_b", {"ex2", "ex4"})])
def test_wrong_answers_lose_exactly_their_exercise(points, student, wrong):
    assert points[student] == expected(FULL, wrong)
