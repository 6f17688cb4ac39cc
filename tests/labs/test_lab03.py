"""Grading matrix of lab 03 against the live sandbox, graded by real nbgrader."""

from matrix import GradingMatrix

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


class TestLab03(GradingMatrix):
    LAB = LAB
    FULL = FULL
    WRONG = {
        "wrong_a": (WRONG, {"ex1", "ex3", "ex5"}),
        "wrong_b": (WRONG_B, {"ex2", "ex4"}),
    }
