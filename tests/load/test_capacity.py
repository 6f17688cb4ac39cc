"""kit.load.capacity: the knee of the simulated capacity, Little's law on live data, slot planning, bad input.

Live tests use ``clean_faults``: the capacity fault is cleared (slots restored) after each.
The catalog route (mean 20 ms) is searched with several slots so the sandbox's light
background traffic (~0.2 busy slots) and event-loop overhead stay well inside the 10 %.
"""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit import load, prom
from kit.errors import InvalidInput, NothingMeasured
from kit.load import capacity
from kit.shop import faults

pytestmark = pytest.mark.quiet  # latency and throughput figures: measured with the CPU to themselves


# --------------------------------------------------------------------------- pure parts


def test_expected_capacity_is_slots_over_mean_service_time():
    assert capacity.expected_capacity(8, 10) == pytest.approx(800)
    assert capacity.expected_capacity(2, 10) == pytest.approx(200)
    assert capacity.expected_capacity(6, 20) == pytest.approx(300)


def test_slots_needed_examples():
    assert capacity.slots_needed(800, 10, headroom=0) == 8
    assert capacity.slots_needed(800, 10, headroom=0.2) == 10
    # 1500 req/s × 10 ms = 15 busy slots; at 75 % utilisation 20; two survivors of N+1=3 → 10 each
    assert capacity.slots_needed(1500, 10, headroom=0.25, n_plus_one=3) == 10
    assert capacity.slots_needed(1, 1, headroom=0.5) == 1


@settings(max_examples=300, deadline=None)
@given(
    target=st.floats(0.1, 50_000), mean_ms=st.floats(0.1, 2_000),
    headroom=st.floats(0, 0.9), instances=st.integers(1, 20),
)
def test_slots_needed_is_enough_and_minimal(target, mean_ms, headroom, instances):
    slots = capacity.slots_needed(target, mean_ms, headroom=headroom, n_plus_one=instances)
    survivors = max(1, instances - 1)
    busy = target * mean_ms / 1000
    assert slots >= 1
    # enough: the survivors hold the load at no more than 1 - headroom utilisation
    assert survivors * slots * (1 - headroom) >= busy * (1 - 1e-9)
    # minimal: one slot fewer per instance would not
    if slots > 1:
        assert survivors * (slots - 1) * (1 - headroom) < busy


@pytest.mark.parametrize("call, field", [
    (lambda: capacity.search("product", expected=-5), "expected"),
    (lambda: capacity.search("product", expected=200, steps=0), "steps"),
    (lambda: capacity.search("login", expected=200), "route"),
    (lambda: capacity.search("health", expected=200), "route"),
    (lambda: capacity.search("product", expected=200, step_seconds=0), "step_seconds"),
    (lambda: capacity.search("product", expected=200, slo=capacity.SearchSLO(p99_ms=-1)), "slo.p99_ms"),
    (lambda: capacity.expected_capacity(0, 10), "slots"),
    (lambda: capacity.expected_capacity(2, -10), "mean_service_ms"),
    (lambda: capacity.slots_needed(-100, 10), "target_rps"),
    (lambda: capacity.slots_needed(100, 10, headroom=1), "headroom"),
    (lambda: capacity.slots_needed(100, 10, n_plus_one=0), "n_plus_one"),
    (lambda: capacity.littles_law(route="nope"), "route"),
    (lambda: capacity.littles_law(window="1s"), "window"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field


# --------------------------------------------------------------------------- live


def _check_knee(result: capacity.CapacitySearch, expected: float) -> None:
    """What the search finds on any machine; how close the knee comes to the model is a benchmark's figure
    (benchmarks/measured_vs_model.py), since a busy machine stretches every simulated service time.

    The bounds come from the model, not from this machine: the slots cap throughput at slots ÷ mean service
    time, and a slower machine only lowers what they serve. At that cap a step's steady seconds hold hundreds of
    lognormal (sigma 0.25) service times, so its throughput strays about 1 % from the cap: 10 % is far outside
    the noise. A step passes only when it serves 95 % of its offer, so no step much above the cap can pass.
    """
    steps = result.steps
    assert result.expected_rps == expected
    assert not math.isnan(result.knee_rps), steps  # the lowest step offers at most half the cap
    assert result.knee_rps <= 1.10 * expected, result.summary()
    assert result.max_throughput_rps <= 1.10 * expected, result.summary()
    assert (steps["throughput_rps"] <= 1.10 * expected).all(), steps
    # The search drove past the knee: some step failed, and every one offered well over the cap shed.
    assert not steps["ok"].all(), steps
    over = steps[steps["offered_rps"] > 1.15 * expected]
    assert not over["ok"].any() and (over["error_ratio"] > 0.05).all(), steps


def test_knee_matches_configured_capacity(clean_faults):
    config = clean_faults
    faults.set_fault("capacity", slots=6, config=config)
    expected = capacity.expected_capacity(6, 20)  # catalog: 300 req/s
    result = capacity.search("catalog", expected=expected, config=config)
    _check_knee(result, expected)
    assert result.knee_rps < 0.9 * capacity.expected_capacity(8, 20)  # not the default 8 slots' knee


def test_capacity_change_through_admin_api_moves_the_knee(clean_faults):
    config = clean_faults
    faults.set_fault("capacity", slots=3, config=config)
    assert faults.list_faults(config)["shop"]["capacity"]["slots"] == 3
    prom.wait_for('shop_capacity_slots{job="shop"} == 3', timeout=15, config=config)
    expected = capacity.expected_capacity(3, 20)  # 150 req/s, half the previous test's
    result = capacity.search("catalog", expected=expected, start=0.5, stop=1.5, steps=5, refine=3, config=config)
    _check_knee(result, expected)
    faults.clear_faults(config=config)
    prom.wait_for('shop_capacity_slots{job="shop"} == 8', timeout=15, config=config)


def test_littles_law_holds_on_live_data(clean_faults):
    config = clean_faults
    # Plenty of slots (no queue) and a fixed 50 ms extra: ~12 requests in flight at 200 req/s.
    faults.set_fault("capacity", slots=64, config=config)
    faults.set_fault("latency", ms=50, route="product", config=config)
    started = time.time()
    run = load.open_model(200, 10, route="product", config=config)
    assert run.errors == run.transport_errors == 0
    window_end = started + 9.5
    # Scrapes of one target run one after another: once one is stored after the window, all in it are.
    prom.wait_for(f'timestamp(up{{job="shop"}}) > {window_end}', timeout=30, config=config)
    law = capacity.littles_law(config, route="product", window="7s", at=window_end)
    # The model's own floor: every product request waits the 50 ms fault on top of a 10 ms mean service time
    # (the mean of ~1,400 of them strays by a fraction of a millisecond); a busy machine only adds to it.
    assert law.mean_latency_s >= 0.055, law.summary()
    assert law.predicted_in_flight == pytest.approx(law.arrival_rps * law.mean_latency_s)
    # Little's law holds whatever the latency: requests arrive on a fixed schedule and each stays about as long
    # as the next, so each scrape of the gauge sees λ·W give or take a request or two, and the 7 scrapes
    # average that to a few per cent. How close λ, W and the gauge come to the model is a benchmark's figure.
    assert law.relative_error <= 0.15, law.summary()


def test_littles_law_over_a_window_without_traffic_is_no_result(live):
    before_the_sandbox = time.time() - 86400
    with pytest.raises(NothingMeasured, match="no requests arrived"):
        capacity.littles_law(live, route="product", window="10s", at=before_the_sandbox)


# --------------------------------------------------------------------------- load tests against the SLO


def test_latency_slo_holds_under_light_load_and_breaks_under_a_slow_route(clean_faults):
    from kit import slo
    from kit.config import REPO_ROOT

    spec = slo.load_spec(REPO_ROOT / "slos" / "catalog-latency.yml")  # 99 % within 250 ms
    prom.wait_for(f"{slo.sli_total_expr(spec, '5m')} > 0", timeout=30, config=clean_faults)
    calm = capacity.slo_at_load(spec, 60, 3, route="catalog", config=clean_faults)
    assert calm.requests == 180 and calm.holds and calm.budget_burned < 0.01, calm.summary()
    faults.set_fault("capacity", slots=128, config=clean_faults)  # no queueing: only the slowed half is late
    faults.set_fault("latency", ms=300, percent=50, route="catalog", config=clean_faults)
    slow = capacity.slo_at_load(spec, 60, 3, route="catalog", window_events=1e6, config=clean_faults)
    assert not slow.holds and 0.3 < 1 - slow.good_ratio < 0.7, slow.summary()
    assert slow.budget_burned == pytest.approx(slow.bad / (0.01 * 1e6))
    assert "is broken" in slow.summary()


def test_slo_at_load_needs_a_latency_slo(clean_faults):
    from kit import slo
    from kit.config import REPO_ROOT

    with pytest.raises(InvalidInput, match="not a latency SLO"):
        capacity.slo_at_load(slo.load_spec(REPO_ROOT / "slos" / "checkout-availability.yml"), 10, 1,
                             route="checkout", config=clean_faults)


def test_slo_at_load_without_usual_traffic_is_no_result(live, tmp_path):
    from kit import slo
    from kit.config import REPO_ROOT

    text = (REPO_ROOT / "slos" / "catalog-latency.yml").read_text().replace('route="/catalog"', 'route="/nobody-calls"')
    (tmp_path / "quiet.yml").write_text(text)
    with pytest.raises(NothingMeasured, match=f"at Prometheus {live.url('prometheus')}.*no budget"):
        capacity.slo_at_load(slo.load_spec(tmp_path / "quiet.yml"), 10, 1, route="catalog", config=live)
