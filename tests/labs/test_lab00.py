"""Grading matrix of lab 00, graded by real nbgrader against the live sandbox.

Blank scores 0 without crashing, the solution scores full marks, and each
plausible wrong answer loses exactly the points of its own exercise.
"""

from matrix import GradingMatrix

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


class TestLab00(GradingMatrix):
    LAB = LAB
    FULL = FULL
    WRONG = {
        "wrong_a": (WRONG_A, {"ex2", "ex4", "ex5"}),
        "wrong_b": (WRONG_B, {"ex1", "ex3"}),
    }
