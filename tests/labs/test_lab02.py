"""Grading matrix of lab 02 (autograded exercises; the written policy is marked by hand in nbgrader)."""

from matrix import GradingMatrix

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
        "costs = {i.name: report.spent_between(i.start, i.end) for i in lab.history.incidents}\n"
        "costliest_incident = max(costs, key=costs.get)\n"
        "budget_left = report.consumed"
    ),
}


class TestLab02(GradingMatrix):
    LAB = LAB
    FULL = FULL
    WRONG = {
        "wrong_a": (WRONG_A, {"ex1", "ex3"}),
        "wrong_b": (WRONG_B, {"ex2", "ex4"}),
    }
