"""The error budget over backfilled history: the known incidents are where the budget went."""

import math

import pytest
from hypothesis import given, strategies as st

from kit import history, plots, slo
from kit.config import REPO_ROOT
from kit.errors import InvalidInput

SPEC = slo.load_spec(REPO_ROOT / "slos" / "checkout-availability.yml")


@given(st.lists(st.floats(min_value=1, max_value=1e4), min_size=1, max_size=50))
def test_burning_exactly_the_budget_everywhere_spends_all_of_it(traffic):
    consumed = slo.budget_burndown([0.001] * len(traffic), traffic, 0.999)
    assert math.isclose(consumed[-1], 1.0, rel_tol=1e-9)
    assert all(b >= a for a, b in zip(consumed, consumed[1:]))


def test_a_bad_hour_at_peak_spends_more_than_at_night():
    peak = slo.budget_burndown([0.01, 0.0], [100, 10], 0.999)[-1]
    night = slo.budget_burndown([0.0, 0.01], [100, 10], 0.999)[-1]
    assert peak > night


def test_burndown_rejects_mismatched_or_empty_traffic():
    with pytest.raises(InvalidInput, match="traffic"):
        slo.budget_burndown([0.1, 0.2], [1.0], 0.999)
    with pytest.raises(InvalidInput, match="no events"):
        slo.budget_burndown([0.1], [0.0], 0.999)


@pytest.fixture(scope="module")
def loaded(live):
    return history.backfill(3, config=live)


def test_report_over_history_finds_the_outage(live, loaded, tmp_path):
    outage = next(i for i in loaded.incidents if i.name == "checkout-outage")
    report = slo.budget_report(SPEC, days=3, step="10m", end=loaded.end.timestamp(), config=live)
    worst = report.worst(1)["timestamp"].iloc[0]
    assert outage.start <= worst <= outage.end + (outage.end - outage.start)
    assert 0 < report.consumed and report.availability < 1
    assert "budget consumed" in str(report)
    ax = plots.budget_burndown(report)
    ax.figure.savefig(tmp_path / "burndown.png")
    assert (tmp_path / "burndown.png").stat().st_size > 5000


def test_spent_between_attributes_the_outage(live, loaded):
    outage = next(i for i in loaded.incidents if i.name == "checkout-outage")
    report = slo.budget_report(SPEC, days=3, step="10m", end=loaded.end.timestamp(), config=live)
    during = report.spent_between(outage.start, outage.end)
    length = outage.end - outage.start
    quiet_after = report.spent_between(outage.end + 3 * length, outage.end + 9 * length)
    assert during > 0 and during > 10 * quiet_after, "twenty minutes of outage outspend two quiet hours many times over"
    assert math.isclose(report.spent_between(report.frame["timestamp"].iloc[0] - (outage.end - outage.start),
                                             report.frame["timestamp"].iloc[-1]), report.consumed)
