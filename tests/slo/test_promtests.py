"""kit.slo.promtests (formerly kit.slotests): the model of Prometheus's rate() and the raw series the generated
promtool tests start from."""

import pytest

from kit import slo
from kit.config import REPO_ROOT
from kit.slo import promtests


def _counter(values, every_s=15, start_s=0):
    return [((start_s + i * every_s) * 1000, float(v)) for i, v in enumerate(values)]


def test_rate_of_a_steady_counter_is_its_slope():
    assert promtests.prometheus_rate(_counter(range(10)), 60_000, 60_000) == pytest.approx(1 / 15)


def test_rate_needs_two_samples_in_the_window():
    assert promtests.prometheus_rate(_counter([5]), 60_000, 60_000) is None
    assert promtests.prometheus_rate(_counter(range(10)), 10_000, 5_000) is None


def test_rate_of_a_new_series_extrapolates_back_only_to_where_it_would_be_zero():
    # created at 30 s holding 1 (its first increment), +1 per 15 s: 3 increments seen, 4 counted from zero
    samples = _counter([1, 2, 3, 4], start_s=30)
    assert promtests.prometheus_rate(samples, 75_000, 75_000) == pytest.approx(4 / 75)


def test_rate_counts_across_a_counter_reset():
    assert promtests.prometheus_rate(_counter([0, 1, 2, 0, 1]), 60_000, 60_000) == pytest.approx(3 / 60)


def test_sample_values_use_promtools_expanding_notation():
    assert promtests._encode([None, None, 1.0, 2.0, 3.0, 3.0, 3.0]) == "_x2 1+1x2 3x1"
    assert promtests._encode([None, 5.0]) == "_ 5"


def test_series_are_made_to_match_exactly_the_queries_that_count_them():
    spec = slo.load_spec(REPO_ROOT / "slos" / "shop-availability.yml")
    series = promtests._series(promtests._queries(spec))
    by_kind = {s.counts: dict(s.labels) for s in series}
    assert by_kind[frozenset({"bad"})]["code"].startswith("5") and by_kind[frozenset({"good"})]["route"] != "other"


def test_expressions_without_a_counter_model_fall_back_to_recorded_ratios():
    text = (REPO_ROOT / "slos" / "checkout-availability.yml").read_text().replace(
        'bad: http_requests_total{job="shop", route="/checkout", code=~"5.."}',
        "bad: sum(count_over_time(up[{{window}}])) - sum(sum_over_time(up[{{window}}]))")
    tests = slo.generate_tests(slo.load_spec(text))
    assert [t["name"].startswith("recorded ratios") for t in tests["tests"]] == [True, True]

