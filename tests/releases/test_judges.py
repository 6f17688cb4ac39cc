"""kit.releases judges: the failure shapes of issue 14 on the three judges, their edge cases and misuse."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.errors import InvalidInput
from kit.releases.checks import Conditions, Thresholds, judge_conditions, judge_thresholds
from kit.releases.series import TrackSeries, Verdict
from kit.releases.simulate import SHAPES, simulate_track
from kit.releases.statistical import MetricSpec, StatisticalSettings, judge_statistically

RATE, WEIGHT = 8.0, 0.5  # the lab's background traffic, a 50 % ring


def track(name, requests, errors, p50=None, p99=None, step=10.0):
    n = len(requests)
    return TrackSeries(name, step, requests, errors, [0.02] * n if p50 is None else p50,
                       [0.06] * n if p99 is None else p99)


def lab_pair(shape: str, seconds: float = 600, seed: int = 7, step: float = 10.0):
    rng = np.random.default_rng(seed)
    baseline = simulate_track("stable", SHAPES["healthy"], seconds=seconds, step_s=step,
                              request_rate=RATE * (1 - WEIGHT), rng=rng)
    canary = simulate_track("canary", SHAPES[shape], seconds=seconds, step_s=step, request_rate=RATE * WEIGHT, rng=rng)
    return baseline, canary


def verdicts(baseline, canary):
    return (judge_thresholds(canary).verdict, judge_conditions(canary).verdict,
            judge_statistically(baseline, canary).verdict)


def test_a_healthy_canary_is_promoted_by_every_judge():
    assert verdicts(*lab_pair("healthy")) == (Verdict.PROMOTE,) * 3


def test_the_known_bad_version_is_rolled_back_by_every_judge_with_the_numbers_it_used():
    baseline, canary = lab_pair("known-bad", seconds=120)
    thresholds = judge_thresholds(canary)
    assert thresholds.verdict is Verdict.ROLLBACK
    assert thresholds.failed >= thresholds.thresholds.failure_threshold
    assert any("success rate" in check.why for check in thresholds.checks if check.outcome == "fail")
    assert judge_conditions(canary).verdict is Verdict.ROLLBACK
    result = judge_statistically(baseline, canary)
    assert result.verdict is Verdict.ROLLBACK
    errors = {m.name: m for m in result.metrics}["error_ratio"]
    assert errors.classification == "fail" and errors.ci_low > errors.limit


def test_half_a_percent_more_errors_passes_the_thresholds_and_fails_the_statistical_judge():
    baseline = track("stable", [200.0] * 30, [0.0] * 30)
    canary = track("canary", [200.0] * 30, [1.0] * 30)  # 99.5 % success in every check
    assert judge_thresholds(canary).verdict is Verdict.PROMOTE
    assert judge_conditions(canary).verdict is Verdict.PROMOTE
    result = judge_statistically(baseline, canary)
    errors = result.metrics[0]
    assert result.verdict is Verdict.ROLLBACK and "error_ratio" in result.reason
    assert errors.method == "pooled-proportions" and (errors.n_canary, errors.n_baseline) == (6000, 6000)
    assert errors.zero_baseline and errors.limit == pytest.approx(0.001)
    assert errors.shift == pytest.approx(0.005) and errors.ci_low > errors.limit


def test_thirty_ms_more_p50_passes_the_thresholds_and_fails_the_statistical_judge_on_p50():
    baseline, canary = lab_pair("subtle-latency", seconds=300)
    assert judge_thresholds(canary).verdict is Verdict.PROMOTE
    assert judge_conditions(canary).verdict is Verdict.PROMOTE
    result = judge_statistically(baseline, canary)
    p50 = {m.name: m for m in result.metrics}["latency_p50"]
    assert result.verdict is Verdict.ROLLBACK
    assert p50.classification == "fail" and p50.method == "mann-whitney"
    assert 0.02 < p50.shift < 0.04 and p50.ci_low > p50.limit and p50.p_value < 0.001


def test_the_subtle_regression_with_too_few_samples_pauses_the_statistical_judge():
    baseline, canary = lab_pair("subtle-latency", seconds=60)
    result = judge_statistically(baseline, canary)
    assert result.verdict is Verdict.PAUSE and result.reason.startswith("too few samples")


@pytest.mark.parametrize("requests, errors, words", [
    ((), (), "empty"),
    ((0.0,) * 20, (0.0,) * 20, "no traffic"),
    ((math.nan,) * 20, (math.nan,) * 20, "no data"),
    ((50.0,) * 3 + (0.0,) * 17, (0.0,) * 20, "too few samples"),
])
def test_a_canary_that_cannot_be_judged_pauses_every_judge_with_the_reason(requests, errors, words):
    canary = TrackSeries("canary", 10.0, requests, errors, [math.nan] * len(requests), [math.nan] * len(requests))
    baseline = track("stable", [50.0] * 20, [0.0] * 20)
    results = (judge_thresholds(canary), judge_conditions(canary), judge_statistically(baseline, canary))
    assert [r.verdict for r in results] == [Verdict.PAUSE] * 3
    assert all(words in r.reason for r in results), [r.reason for r in results]


def test_a_missing_baseline_pauses_the_statistical_judge_but_not_the_canary_alone_judges():
    canary = track("canary", [50.0] * 20, [0.0] * 20)
    for baseline in (track("stable", [0.0] * 20, [0.0] * 20), track("stable", [], [])):
        result = judge_statistically(baseline, canary)
        assert result.verdict is Verdict.PAUSE and "track=stable" in result.reason and math.isnan(result.score)
    assert judge_thresholds(canary).verdict is Verdict.PROMOTE


def test_nan_intervals_are_left_out_and_counted():
    p99 = [0.06] * 20
    p99[3] = p99[4] = math.nan
    requests = [50.0] * 20
    requests[7] = math.nan
    baseline = track("stable", [50.0] * 20, [0.0] * 20)
    canary = track("canary", requests, [0.0] * 20, p99=p99)
    result = judge_statistically(baseline, canary)
    assert result.verdict is Verdict.PROMOTE
    assert {m.name: m.dropped for m in result.metrics} == {"error_ratio": 0, "latency_p50": 0, "latency_p99": 2}
    thresholds = judge_thresholds(canary)
    assert (thresholds.passed, thresholds.no_data) == (17, 3)


def test_a_latency_metric_left_without_values_is_no_data_and_pauses():
    baseline = track("stable", [50.0] * 20, [0.0] * 20)
    canary = track("canary", [50.0] * 20, [0.0] * 20, p99=[math.nan] * 20)
    result = judge_statistically(baseline, canary)
    assert result.verdict is Verdict.PAUSE and "no data for latency_p99" in result.reason
    assert judge_thresholds(canary).verdict is Verdict.PAUSE  # a check whose p99 is unknown never passes


def test_zero_inflated_errors_are_pooled_instead_of_compared_per_interval():
    errors = [0.0] * 40
    for i in (3, 11, 19, 27, 35, 38):
        errors[i] = 2.0
    baseline = track("stable", [50.0] * 40, [0.0] * 40)
    canary = track("canary", [50.0] * 40, errors)  # 0.6 %, but 34 of 40 intervals without an error
    result = judge_statistically(baseline, canary)
    metric = result.metrics[0]
    assert metric.method == "pooled-proportions" and "sparse" in metric.reason
    assert metric.shift == pytest.approx(12 / 2000) and metric.classification in ("marginal", "fail")
    assert result.verdict is not Verdict.PROMOTE
    same = judge_statistically(track("stable", [50.0] * 40, errors), canary)
    assert same.metrics[0].classification == "pass" and same.verdict is Verdict.PROMOTE


def test_failure_threshold_and_failure_limit_count_as_flagger_and_argo_do():
    errors = [0.0] * 10
    errors[2] = 10.0
    canary = track("canary", [100.0] * 10, errors)
    assert judge_thresholds(canary, Thresholds(failure_threshold=2)).verdict is Verdict.PROMOTE
    assert judge_thresholds(canary, Thresholds(failure_threshold=1)).verdict is Verdict.ROLLBACK
    assert judge_conditions(canary, Conditions(failure_limit=1)).verdict is Verdict.PROMOTE
    assert judge_conditions(canary, Conditions(failure_limit=0)).verdict is Verdict.ROLLBACK


def test_neither_condition_is_inconclusive_and_pauses():
    canary = track("canary", [100.0] * 10, [3.0] * 10)  # 97 %: above the failure bound, below success
    result = judge_conditions(canary)
    assert result.verdict is Verdict.PAUSE and result.reason.startswith("inconclusive")
    assert result.inconclusive == 10 and result.failed == 0
    assert judge_conditions(canary, Conditions(inconclusive_limit=10)).verdict is Verdict.PAUSE  # none succeeded


@pytest.mark.parametrize("make, field", [
    (lambda: Thresholds(min_success_rate=99), "min_success_rate"),
    (lambda: Thresholds(failure_threshold=0), "failure_threshold"),
    (lambda: Conditions(failure_below_rate=0.999), "failure_below_rate"),
    (lambda: Conditions(failure_above_p99_s=0.1), "failure_above_p99_s"),
    (lambda: MetricSpec("latency_p95", tolerance=0.01), "name"),
    (lambda: MetricSpec("latency_p50", tolerance=-1), "tolerance"),
    (lambda: StatisticalSettings(confidence=95.0), "confidence"),
    (lambda: StatisticalSettings(metrics=[MetricSpec("error_ratio", 0.0)] * 2), "metrics[1].name"),
    (lambda: TrackSeries("canary", 10, [1.0, 2.0], [0.0]), "canary.errors"),
    (lambda: TrackSeries("canary", 10, [1.0], [2.0]), "canary.errors[0]"),
    (lambda: TrackSeries("blue", 10, [1.0], [0.0]), "track"),
    (lambda: TrackSeries("canary", 0, [1.0], [0.0]), "step_s"),
    (lambda: judge_statistically(track("canary", [1.0], [0.0]), track("canary", [1.0], [0.0])), "baseline.track"),
    (lambda: judge_statistically(track("stable", [1.0], [0.0]), track("canary", [1.0], [0.0], step=5)),
     "canary.step_s"),
    (lambda: judge_statistically(track("stable", [1.0], [0.0]), track("canary", [1.0] * 2, [0.0] * 2)),
     "canary.requests"),
])
def test_misuse_names_the_field(make, field):
    with pytest.raises(InvalidInput) as caught:
        make()
    assert caught.value.field == field


counts = st.lists(st.tuples(st.floats(0, 500), st.floats(0, 1), st.floats(0.001, 2)), min_size=0, max_size=40)


def _series(name, rows):
    requests = [r for r, _, _ in rows]
    return TrackSeries(name, 10.0, requests, [r * share for r, share, _ in rows], [p for _, _, p in rows],
                       [2 * p for _, _, p in rows])


@settings(max_examples=60, deadline=None)
@given(counts)
def test_a_canary_identical_to_its_baseline_is_never_rolled_back(rows):
    result = judge_statistically(_series("stable", rows), _series("canary", rows))
    assert result.verdict is not Verdict.ROLLBACK
    assert all(m.classification in ("pass", "no-data") for m in result.metrics)


@settings(max_examples=60, deadline=None)
@given(counts, st.sampled_from([0.0, math.nan]))
def test_a_canary_without_traffic_is_never_promoted(rows, filler):
    canary = TrackSeries("canary", 10.0, [filler] * len(rows), [filler] * len(rows))
    baseline = _series("stable", rows)
    for result in (judge_thresholds(canary), judge_conditions(canary), judge_statistically(baseline, canary)):
        assert result.verdict is Verdict.PAUSE
