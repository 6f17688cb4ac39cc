"""Grading matrix of lab 05 against the live sandbox, graded by real nbgrader."""

from matrix import GradingMatrix

LAB = "05-load-and-capacity"
FULL = {"ex1": 2, "ex2": 2, "ex3": 2, "ex4": 2}

WRONG = {  # milliseconds taken for seconds; slots planned without headroom
    "ex1-capacity-answer": "catalog_capacity_rps = 6 / 20\nproduct_capacity_rps = 6 / 10",
    "ex3-littles-answer": "import math\nin_flight = 240 * 0.025\nslots_per_instance = math.ceil(1200 * 0.020 / (3 - 1))",
}
WRONG_B = {  # the highest offered rate taken for the knee; trusts the closed loop
    "ex2-knee-answer": (
        "knee_rps = result.steps['offered_rps'].max()\n"
        "knee_matches = abs(knee_rps - 300) / 300 <= 0.10"
    ),
    "ex4-omission-answer": (
        "trusted = 'closed loop (locust)'\n"
        "p99_gap_ms = co.table.loc['open model', 'p99_ms'] - co.table.loc[trusted, 'p99_ms']"
    ),
}


class TestLab05(GradingMatrix):
    LAB = LAB
    FULL = FULL
    WRONG = {
        "wrong_a": (WRONG, {"ex1", "ex3"}),
        "wrong_b": (WRONG_B, {"ex2", "ex4"}),
    }
