"""Grading matrix of lab 08 (service ownership) against the worker's live sandbox, graded by real nbgrader.

The written part (the learner's own service) is marked by hand, so it is not part of the matrix. Every wrong
answer below is plausible: an owner who is a person, a policy of placeholders, a rotation whose cover is whole
but not fair, a gold review that marks the data protection items not applicable.
"""

from matrix import GradingMatrix

from kit import grading

LAB = "08-service-ownership"
FULL = {"ex1": 2, "ex2": 2, "ex3": 3, "ex4": 2}

_SOLUTION = grading.solution_answers(LAB)


def _edited(grade_id: str, *replacements: tuple[str, str]) -> str:
    """The reference answer with text replaced; each replacement must apply, so the wrong answer stays wrong."""
    answer = _SOLUTION[grade_id]
    for old, new in replacements:
        assert old in answer, old
        answer = answer.replace(old, new)
    return answer


_POLICY_START = _SOLUTION["ex3-level-answer"].index("## SLO miss policy")

WRONG_A = {  # the engineer who knows payments best owns it; a policy whose sections are placeholders
    "ex1-entry-answer": _edited("ex1-entry-answer", ("owner: group:shop-team", "owner: user:emeka")),
    "ex3-level-answer": (
        _SOLUTION["ex3-level-answer"][:_POLICY_START]
        + '## SLO miss policy\n\nTBD\n\n## Outage policy\n\nTBD\n\n## Escalation policy\n\nTBD\n"""'
    ),
}
WRONG_B = {  # the gaps closed but Goran still on call three weeks in eight; card data items marked N/A
    "ex2-rotation-answer": _edited(
        "ex2-rotation-answer",
        ('.replace("RRULE:FREQ=WEEKLY;INTERVAL=4", "RRULE:FREQ=WEEKLY;INTERVAL=8")', ""),
        ('.replace("END:VCALENDAR", chen_primary + "END:VCALENDAR")', ""),
    ),
    "ex4-review-answer": _edited(
        "ex4-review-answer",
        ('.replace("- [ ] 2.", "- [x] 2.")',
         '.replace("- [ ] 2.1", "- [x] 2.1").replace("- [ ] 2.2", "- [x] 2.2")\n'
         '    .replace("was done if that changes.", "was done if that changes. N/A: payments keeps the cards")\n'
         '    .replace("(payments, retention, audit) were checked.", "(payments, retention, audit) were checked. '
         'N/A: payments keeps the cards")'),
    ),
}


class TestLab08(GradingMatrix):
    LAB = LAB
    FULL = FULL
    WRONG = {
        "wrong_a": (WRONG_A, {"ex1", "ex3"}),
        "wrong_b": (WRONG_B, {"ex2", "ex4"}),
    }
