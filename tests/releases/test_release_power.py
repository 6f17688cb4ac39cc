"""kit.releases.power: step length for a two-proportion judgment, against a hand calculation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.errors import InvalidInput
from kit.releases.power import require_step_power, step_duration

Z_95, Z_80 = 1.6448536269514722, 0.8416212335729143  # standard normal quantiles of 0.95 and 0.80


def test_step_length_matches_the_hand_calculation():
    # 1 % errors today, +0.5 percentage point to catch, 10 req/s, a 50 % ring, one-sided 5 %, power 80 %
    h = 2 * math.asin(math.sqrt(0.015)) - 2 * math.asin(math.sqrt(0.010))
    canary = ((Z_95 + Z_80) / h) ** 2 * (1 + 1)
    result = step_duration(0.01, 10.0, 0.5, 0.005)
    assert result.effect_size == pytest.approx(h, rel=1e-12)
    assert result.canary_requests == pytest.approx(canary, rel=1e-4)
    assert result.baseline_requests == pytest.approx(canary, rel=1e-4)
    assert result.seconds == pytest.approx(canary / 5.0, rel=1e-4)
    assert 1208 < result.seconds < 1210  # 6,044 canary requests at 5 req/s


def test_a_small_ring_needs_more_canary_requests_and_a_margin_needs_more_time():
    ring = step_duration(0.0, 8.0, 0.1, 0.005)
    h = 2 * math.asin(math.sqrt(0.005))
    assert ring.canary_requests == pytest.approx(((Z_95 + Z_80) / h) ** 2 * (1 + 1 / 9), rel=1e-4)
    assert ring.baseline_requests == pytest.approx(9 * ring.canary_requests)
    assert step_duration(0.0, 8.0, 0.1, 0.005, margin=0.001).seconds > ring.seconds


@settings(max_examples=40, deadline=None)
@given(st.floats(0.02, 0.98), st.floats(0.5, 500))
def test_the_step_is_shortest_at_half_the_traffic(weight, rate):
    # seconds = K / (rate · w · (1 − w)) with K fixed by the effect, alpha and power
    k = step_duration(0.002, rate, weight, 0.01).seconds * rate * weight * (1 - weight)
    assert k == pytest.approx(step_duration(0.002, 1.0, 0.5, 0.01).seconds * 0.25, rel=1e-3)


def test_a_plan_step_too_short_is_refused_naming_the_step():
    with pytest.raises(InvalidInput) as caught:
        require_step_power("rings[1].duration", 60, 0.0, 8.0, 0.1, 0.005)
    assert caught.value.field == "rings[1].duration"
    assert "too short" in str(caught.value) and "429 s" in str(caught.value)
    assert require_step_power("rings[1].duration", 430, 0.0, 8.0, 0.1, 0.005).seconds < 430


@pytest.mark.parametrize("kwargs, field", [
    (dict(weight=1.0), "weight"),
    (dict(weight=0.0), "weight"),
    (dict(request_rate=0.0), "request_rate"),
    (dict(baseline_error_ratio=-0.1), "baseline_error_ratio"),
    (dict(regression=0.001, margin=0.002), "regression"),
    (dict(alpha=0.6), "alpha"),
    (dict(power=0.01), "power"),
])
def test_bad_parameters_name_the_field(kwargs, field):
    arguments = dict(baseline_error_ratio=0.0, request_rate=8.0, weight=0.1, regression=0.005) | kwargs
    with pytest.raises(InvalidInput) as caught:
        step_duration(**arguments)
    assert caught.value.field == field
