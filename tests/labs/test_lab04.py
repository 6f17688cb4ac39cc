"""Grading matrix of lab 04 against the live sandbox, graded by real nbgrader (the reflection is marked by hand).

Also the lab's helpers in kit.runbooks (drafts outside runbooks/, linting one file), offline.
"""

import pytest
from matrix import GradingMatrix

from kit import grading, runbooks
from kit.config import REPO_ROOT, Config
from kit.errors import InvalidInput

LAB = "04-runbooks"
FULL = {"ex1": 2, "ex2": 3, "ex3": 2}

_SOLUTION = grading.solution_answers(LAB)


def _runbook(answer: str, *replacements: tuple[str, str]) -> str:
    """The reference answer cell with text replaced; each replacement must apply, so the wrong answer stays wrong."""
    for old, new in replacements:
        assert old in answer, old
        answer = answer.replace(old, new)
    return answer


WRONG_A = {  # 502 read as "payments timed out"; a runbook without Escalation (lint fails)
    "ex1-diagnosis-answer": (
        "failing_component = 'payments'\nfailing_code = 502\nmitigation = 'kit mitigate restart payments'"
    ),
    "ex2-runbook-answer": _runbook(
        _SOLUTION["ex2-runbook-answer"],
        ("## Escalation\n", ""),
    ),
}
WRONG_B = {  # a runbook that lints but checks only `up` and restarts the shop; the metric fixed, the shop still restarted
    "ex2-runbook-answer": _runbook(
        _SOLUTION["ex2-runbook-answer"],
        ('histogram_quantile(0.99, sum by (le) (rate(payments_client_duration_seconds_bucket{job="shop"}[2m])))',
         'up{job="payments"}'),
        ('histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="payments", '
         'route="/pay"}[2m])))', 'up{job="shop"}'),
        ("kit mitigate restart payments", "kit mitigate restart shop"),
    ),
    "ex3-fix-answer": (
        "payments_errors_md = misleading_md.replace('payment_client_requests_total', 'payments_client_requests_total')"
    ),
}


class TestLab04(GradingMatrix):
    LAB = LAB
    FULL = FULL
    WRONG = {
        "wrong_a": (WRONG_A, {"ex1", "ex2"}),
        "wrong_b": (WRONG_B, {"ex2", "ex3"}),
    }


# --------------------------------------------------------------------------- the lab's helpers, offline


def test_a_draft_goes_to_the_state_folder_never_into_runbooks(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path))
    text = (REPO_ROOT / "runbooks" / "TEMPLATE.md").read_text()
    path = runbooks.save_draft("payments-latency", "\n" + text, config=config)
    assert path == runbooks.drafts_folder(config) / "payments-latency.md" and path.is_relative_to(tmp_path)
    assert path.read_text() == text and runbooks.parse(path).text == text
    assert runbooks.parse(path)._repr_markdown_() == text
    assert not (REPO_ROOT / "runbooks" / "payments-latency.md").exists()
    with pytest.raises(InvalidInput, match="lower-case"):
        runbooks.save_draft("../runbooks/x", text, config=config)
    with pytest.raises(InvalidInput, match="empty"):
        runbooks.save_draft("empty", "  \n", config=config)


def test_lint_runbook_checks_one_file_and_the_alerts_it_must_name(tmp_path):
    path = tmp_path / "copy.md"
    path.write_text((REPO_ROOT / "runbooks" / "TEMPLATE.md").read_text())
    report = runbooks.lint_runbook(path, alerts=["AlertName"], live=False)
    assert report.ok and (report.runbooks, report.alerts, report.queries) == (1, 1, 1), str(report)
    [problem] = runbooks.lint_runbook(path, alerts=["PaymentsLatencyHigh"], live=False).problems
    assert (problem.file, problem.line) == ("copy.md", 1) and "PaymentsLatencyHigh" in problem.message
    path.write_text(path.read_text().replace("## Escalation\n", ""))
    [problem] = runbooks.lint_runbook(path, alerts=[], live=False).problems
    assert problem.message.startswith("missing section '## Escalation'")
    with pytest.raises(InvalidInput, match="live"):
        runbooks.lint_runbook(path, live=False, require_data=True)


def test_lint_runbook_finds_the_alerts_linking_to_its_name_offline():
    """Without alerts=, a file named like a shipped runbook is held to the alerts that link to that name."""
    report = runbooks.lint_runbook(REPO_ROOT / "runbooks" / "checkout-errors.md", live=False)
    assert report.ok and report.alerts >= 2, str(report)  # CheckoutErrorRatioHigh and the SLO burn alert
