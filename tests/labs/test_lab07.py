"""Grading matrix of lab 07 (safe releases), graded by real nbgrader in a private sandbox.

The lab's error-budget gate reads its SLO's 30-day window, which in the worker's sandbox holds every earlier
test's faults, so the cohort runs in a sandbox of its own, started for it (``PRIVATE_SANDBOX``): a month of
history and 90 days of deploy history are backfilled in the first notebook's setup, and the four notebooks
then release, judge, roll back, kill a flag and burn the catalog's SLO one after another in it, as a cohort
would. The written part is marked by hand in nbgrader, so it is not part of the matrix.
"""

import pytest
from matrix import GradingMatrix

# four notebooks of about 95 s each, one after another, and a month of history backfilled before the first
pytestmark = pytest.mark.timeout(900)

LAB = "07-safe-releases"
FULL = {"ex1": 1, "ex2": 2, "ex3": 2, "ex4": 2, "ex5": 2, "ex6": 2, "ex7": 2, "ex8": 2}

WRONG_A = {  # times measured from the wrong moment; power at weight 1; a change failure rate that double counts
    "ex3-exposure-answer": (
        "exposure = bad.exposure\n"
        "exposed_s = exposure.zero_traffic_at - exposure.failed_at\n"
        "highest_weight = max(step.weight for step in bad.steps)"
    ),
    "ex5-power-answer": (
        "ring_seconds = power.step_duration(0.0, BACKGROUND_RPS, 1, 0.005, alpha=alpha, power=0.8,\n"
        "                                   margin=errors.tolerance).seconds\n"
        "with_plan_traffic_s = power.step_duration(0.0, BACKGROUND_RPS + plan.traffic_rps, 1, 0.005, alpha=alpha,\n"
        "                                          power=0.8, margin=errors.tolerance).seconds"
    ),
    "ex6-kill-answer": (
        "kill_to_zero_s = kill.seconds\n"
        "rollback_to_zero_s = bad.exposure.zero_traffic_at - bad.exposure.canary_started_at"
    ),
    "ex8-dora-answer": (
        "rollbacks = deployments['rolled_back_at'].notna().sum()\n"
        "caused = deployments['incidents'].map(len).sum()\n"
        "change_failure_rate = (rollbacks + caused) / len(deployments)\n"
        "reached = deployments.dropna(subset=['full_at'])\n"
        "lead_time_hours = (reached['full_at'] - reached['commit_time']).median() / 3600"
    ),
}
WRONG_B = {  # the weight taken for the split; only the rings' verdicts counted; trusts the threshold judge; the plan's SLO
    "ex1-split-answer": (
        "measured_share = split.weight_percent / 100\n"
        "split_agrees = abs(measured_share - split.weight_percent / 100) <= split.tolerance()"
    ),
    "ex2-rings-answer": (
        "ring_verdicts = {step.weight: step.verdict.value for step in good.steps}\n"
        "pauses = sum(step.verdict is Verdict.PAUSE for step in good.steps)"
    ),
    "ex4-judges-answer": (
        "verdicts = {'thresholds': by_thresholds.verdict.value, 'conditions': by_conditions.verdict.value,\n"
        "            'statistical': by_statistics.verdict.value}\n"
        "p50_shift_ms = next(m for m in by_statistics.metrics if m.name == 'latency_p50').shift * 1000\n"
        "trusted = 'thresholds'"
    ),
    "ex7-gate-answer": (
        "blocked = gate.evaluate('shop-availability', version='1.2.0')\n"
        "exempted = gate.evaluate('shop-availability', version='1.2.0', exemption='P0', reason='fixes INC-7')"
    ),
}


class TestLab07(GradingMatrix):
    LAB = LAB
    FULL = FULL
    PRIVATE_SANDBOX = True
    WRONG = {
        "wrong_a": (WRONG_A, {"ex3", "ex5", "ex6", "ex8"}),
        "wrong_b": (WRONG_B, {"ex1", "ex2", "ex4", "ex7"}),
    }
