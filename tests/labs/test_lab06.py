"""Grading matrix of lab 06 (a live incident drill), graded by real nbgrader.

Every submission runs the whole drill against the test sandbox; the written
debrief is marked by hand in nbgrader, so it is not part of the matrix.
"""

from matrix import GradingMatrix

LAB = "06-incident-drill"
FULL = {"ex1": 1, "ex2": 1, "ex3": 2, "ex4": 2, "ex5": 2}

WRONG_A = {  # the incident commander drives too; slow payments taken for payments down; nothing on what was hard
    "ex1-roles-answer": (
        "drills.set_roles({'incident commander': 'Ada', 'driver': 'Ada', "
        "'communications': 'Linus', 'scribe': 'Margaret'})"
    ),
    "ex3-diagnosis-answer": (
        "DIAGNOSIS = {'component': 'payments', 'mode': 'down', "
        "'cause': 'payments is down, so every checkout fails'}"
    ),
    "ex5-postmortem-answer": (
        "sections = {\n"
        "    'Summary': 'Payments failed and so did every checkout until we restarted it.',\n"
        "    'Impact': '- Nobody could pay.',\n"
        "    'Contributing factors': '- The shop gives up on payments after 1 s.',\n"
        "    'What went well': '- The page linked the right runbook.',\n"
        "    'Action items': '| Alert on payments latency | detect | payments team | next sprint |',\n"
        "}\n"
        "postmortem_md = postmortem.complete(draft, sections)"
    ),
}
WRONG_B = {  # takes notes but never acknowledges the page; restarts the shop instead of payments
    "ex2-ack-answer": "drills.note('checkouts are failing; reading the runbook', by='Margaret')",
    "ex4-mitigate-answer": "print(mitigations.restart('shop'))\nresult = drills.end()",
}


class TestLab06(GradingMatrix):
    LAB = LAB
    FULL = FULL
    WRONG = {
        "wrong_a": (WRONG_A, {"ex1", "ex3", "ex5"}),
        "wrong_b": (WRONG_B, {"ex2", "ex4"}),
    }
