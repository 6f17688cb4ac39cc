"""Grading matrix of lab 03 against the live sandbox, graded by real nbgrader."""

import pytest
from matrix import expected, grade_matrix

LAB = "03-alerting-on-slos"
FULL = {"ex1": 2, "ex2": 2, "ex3": 1, "ex4": 1, "ex5": 2}

WRONG = {  # factors as budget shares; detection without the budget; the slow alert's window; not compensated
    "ex1-factors-answer": "fast_factor = 0.02 * 30\nslow_factor = 0.05 * 30 / 6",
    "ex3-short-window-answer": "fast_short_window = '30m'",
    "ex5-live-answer": (
        "live_detection_s = page['received_at'].iloc[0].timestamp() - fault_start\n"
        "real_detection_s = live_detection_s"
    ),
}
WRONG_B = {  # forgets the budget; picks the multi-window set as the noisy one
    "ex2-detection-answer": "fast_detection_s = 14.4 * 3600 / 60\nslow_detection_s = 6 * 6 * 3600 / 60",
    "ex4-noisy-answer": "noisy_strategy = quality.table['strategy'].iloc[-1]",
}


@pytest.fixture(scope="module")
def points(live, tmp_path_factory):
    return grade_matrix(LAB, {"wrong_a": WRONG, "wrong_b": WRONG_B}, tmp_path_factory.mktemp("submissions"))


def test_blank_scores_zero(points):
    assert points["blank"] == expected(FULL, set(FULL))


def test_solution_scores_full_marks(points):
    assert points["solution"] == FULL


@pytest.mark.parametrize("student,wrong", [("wrong_a", {"ex1", "ex3", "ex5"}), ("wrong_b", {"ex2", "ex4"})])
def test_wrong_answers_lose_exactly_their_exercise(points, student, wrong):
    assert points[student] == expected(FULL, wrong)
