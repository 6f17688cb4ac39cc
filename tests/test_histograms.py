"""kit.histograms: bucket counts and Prometheus's histogram_quantile interpolation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.histograms import bucket_counts, bucket_of, histogram_quantile
from kit.metrics import LATENCY_BUCKETS

INF = math.inf


def test_bucket_counts_are_cumulative_and_inclusive():
    assert bucket_counts([0.1, 0.25, 0.3, 7], [0.25, 0.5, 1]) == [(0.25, 2), (0.5, 3), (1.0, 3), (INF, 4)]


def test_bucket_counts_sorts_and_deduplicates_edges():
    assert bucket_counts([1, 2], [2, 1, 2, INF]) == [(1.0, 1), (2.0, 2), (INF, 2)]


def test_bucket_counts_rejects_nan_edges():
    with pytest.raises(ValueError, match="NaN"):
        bucket_counts([1], [math.nan])


@pytest.mark.parametrize("q,expected", [
    (0.5, 0.15),       # rank 50 of 100: 40 below 0.1, 10 of the 20 in (0.1, 0.2] → halfway
    (0.25, 0.0625),    # rank 25 in the first bucket, which starts at 0
    (0.9, 0.425),      # rank 90: 60 at or below 0.2, 30 of the 40 in (0.2, 0.5] → 0.2 + 0.3 × 0.75
    (1.0, 0.5),        # every observation is finite: the top of the last finite bucket
])
def test_histogram_quantile_interpolates_like_prometheus(q, expected):
    buckets = [(0.1, 40), (0.2, 60), (0.5, 100), (INF, 100)]
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_rank_in_the_inf_bucket_returns_the_highest_finite_bound():
    assert histogram_quantile(0.99, [(0.1, 50), (0.2, 90), (INF, 100)]) == 0.2


def test_edge_cases_follow_prometheus():
    buckets = [(0.1, 1), (INF, 2)]
    assert histogram_quantile(-0.1, buckets) == -INF
    assert histogram_quantile(1.1, buckets) == INF
    assert math.isnan(histogram_quantile(math.nan, buckets))
    assert math.isnan(histogram_quantile(0.5, [(0.1, 0), (INF, 0)]))
    assert histogram_quantile(0.5, [(-1, 5), (INF, 10)]) == -1
    with pytest.raises(ValueError, match="Inf"):
        histogram_quantile(0.5, [(0.1, 3), (0.2, 4)])


def test_non_monotonic_counts_are_repaired():
    assert histogram_quantile(0.5, [(0.1, 4), (0.2, 3), (INF, 8)]) == histogram_quantile(0.5, [(0.1, 4), (0.2, 4), (INF, 8)])


def test_bucket_of():
    buckets = [(0.1, 40), (0.2, 60), (0.5, 100), (INF, 100)]
    assert bucket_of(0.5, buckets) == (0.1, 0.2)
    assert bucket_of(0.1, buckets) == (0.0, 0.1)
    with pytest.raises(ValueError):
        bucket_of(2, buckets)


samples = st.lists(st.floats(min_value=0.0001, max_value=20, allow_nan=False), min_size=1, max_size=300)
quantiles = st.floats(min_value=0.01, max_value=1.0)


@settings(max_examples=200, deadline=None)
@given(samples, quantiles)
def test_estimate_lies_in_the_bucket_holding_the_exact_quantile(values, q):
    buckets = bucket_counts(values, LATENCY_BUCKETS)
    estimate = histogram_quantile(q, buckets)
    lower, upper = bucket_of(q, buckets)
    assert lower <= estimate <= upper
    exact = float(np.quantile(values, q, method="inverted_cdf"))  # the smallest value with at least q of the sample at or below it
    if exact <= LATENCY_BUCKETS[-1]:
        assert lower <= exact <= upper


@settings(max_examples=200, deadline=None)
@given(samples, quantiles, quantiles)
def test_estimate_is_monotonic_in_q(values, q1, q2):
    buckets = bucket_counts(values, LATENCY_BUCKETS)
    low, high = sorted((q1, q2))
    assert histogram_quantile(low, buckets) <= histogram_quantile(high, buckets) + 1e-12


@settings(max_examples=100, deadline=None)
@given(samples)
def test_counts_total_and_monotonic(values):
    buckets = bucket_counts(values, LATENCY_BUCKETS)
    counts = [count for _, count in buckets]
    assert counts == sorted(counts) and counts[-1] == len(values)
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
