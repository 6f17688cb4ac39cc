"""kit.releases.query: Prometheus answers mapped onto TrackSeries as kit.releases.series documents it.

Canned answers have the shape kit.prom.query_range returns (a long frame of label columns, ``timestamp`` as UTC
datetimes, ``value``); the live tests read the worker's sandbox, where only the stable track runs.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from kit import prom
from kit.errors import InvalidInput
from kit.releases import query, series

T0 = 1_790_000_000.0
STAMPS = query.grid(T0, T0 + 6, 2.0)


def _answer(values: dict[float, float], **labels: str) -> pd.DataFrame:
    frame = pd.DataFrame({**{k: [v] * len(values) for k, v in labels.items()},
                          "timestamp": pd.to_datetime(list(values), unit="s", utc=True), "value": list(values.values())})
    return frame if values else pd.DataFrame(columns=["timestamp", "value"])


def test_the_grid_is_every_step_from_start_to_end():
    assert STAMPS == (T0, T0 + 2, T0 + 4, T0 + 6)
    assert query.grid(T0, T0 + 5.9, 2.0) == (T0, T0 + 2, T0 + 4)
    assert query.grid(T0, T0, 2.0) == (T0,)
    with pytest.raises(InvalidInput, match="before start"):
        query.grid(T0, T0 - 1, 2.0)


def test_no_series_is_an_empty_track():
    empty = _answer({})
    track = query.series_from_answers("canary", 2.0, STAMPS, dict.fromkeys(query.FIELDS, empty))
    assert (track.requests, track.errors, track.latency_p50_s, track.latency_p99_s) == ((), (), (), ())
    assert series.describe_problem(track, 3).startswith("empty")


def test_a_scrape_gap_is_nan_on_every_series_and_no_5xx_series_is_zero_errors():
    answers = {
        "requests": _answer({T0: 16.0, T0 + 4: 14.0, T0 + 6: 16.0}),  # T0 + 2 missing: a scrape gap
        "errors": _answer(dict.fromkeys(STAMPS, 0.0)),  # `or on() vector(0)` fills every timestamp
        "latency_p50_s": _answer({T0: 0.02, T0 + 4: 0.03}),
        "latency_p99_s": _answer({}),
    }
    track = query.series_from_answers("stable", 2.0, STAMPS, answers)
    assert track.requests[0] == 16.0 and math.isnan(track.requests[1]) and track.requests[2:] == (14.0, 16.0)
    assert track.errors[0] == 0.0 and math.isnan(track.errors[1]) and track.errors[2:] == (0.0, 0.0)
    assert track.latency_p50_s[0] == 0.02 and math.isnan(track.latency_p50_s[3])
    assert len(track.latency_p99_s) == 4 and all(math.isnan(v) for v in track.latency_p99_s)
    no_errors = query.series_from_answers("stable", 2.0, STAMPS, {**answers, "errors": _answer({})})
    assert no_errors.errors[0] == 0.0 and math.isnan(no_errors.errors[1])


def test_several_series_in_one_answer_are_refused():
    two = pd.concat([_answer({T0: 1.0}, track="stable"), _answer({T0: 2.0}, track="canary")])
    with pytest.raises(InvalidInput, match="holds 2 series"):
        query.on_grid(two, STAMPS)


def test_the_expressions_are_the_documented_ones():
    exprs = query.expressions("canary", "2s")
    selector = 'http_requests_total{job="shop", track="canary", route=~"/catalog|/products/{product_id}|/checkout"}'
    assert exprs["requests"] == f"(sum ({selector}) - (sum ({selector} offset 2s) or sum ({selector}) * 0))"
    assert "Δ(x)" in series.__doc__ and "(sum(x) - (sum(x offset $S)\nor sum(x) * 0))" in series.__doc__
    assert exprs["errors"].endswith('code=~"5.."}) * 0)) or on() vector(0)')
    assert exprs["latency_p99_s"].startswith("histogram_quantile(0.99, (sum by (le) (http_request_duration")
    with pytest.raises(InvalidInput, match="must be one of stable, canary"):
        query.expressions("blue", "2s")


def test_the_growth_of_the_live_counters_counts_every_request(live):
    """Δ at consecutive timestamps leaves nothing out: summed, it is the counter's growth end to end."""
    selector = f'http_requests_total{{job="shop", track="stable", route=~"{query.BUSINESS_ROUTES}"}}'
    prom.wait_for(f"sum({selector} offset 8s) > 0", timeout=60, config=live)  # 8 s of business traffic
    end = time.time() - 2
    track = query.track_series("stable", end - 4, end, 2.0, config=live)
    grown = prom.scalar(f"sum({selector}) - sum({selector} offset 6s)", at=end, config=live)
    assert all(r == int(r) for r in track.requests)  # whole requests, not extrapolated
    assert sum(track.requests) == grown


def test_the_live_stable_track_has_every_interval_and_no_canary_is_empty(live):
    from kit.releases import canary

    canary.rollback(config=live)
    # a sandbox started for this test has a few seconds of history: wait until the last 8 s all had traffic
    prom.wait_for('min_over_time(sum(increase(http_requests_total{job="shop", track="stable"}[2s]))[8s:1s]) > 0 '
                  'and on() count_over_time(up{job="shop", track="stable"}[10s]) >= 9', timeout=60, config=live)
    end = time.time() - 2
    baseline, canary_track = query.tracks(end - 4, end, 2.0, config=live)
    assert len(baseline.requests) == 3 and all(r > 0 for r in baseline.requests)  # 8 req/s of background traffic
    assert len(baseline.errors) == 3 and all(0 <= e <= r for e, r in zip(baseline.errors, baseline.requests))
    assert canary_track.requests == () and canary_track.errors == ()
    traffic = query.live_traffic(30, config=live)
    assert traffic.request_rate > 0 and 0 <= traffic.baseline_error_ratio < 1 and traffic.window_s == 30


def test_once_the_scrapes_through_a_moment_are_in_a_query_at_that_moment_never_changes(live):
    """What the runner waits for before a judgment: after it, the last interval's counts are final."""
    from kit import polling

    selector = f'http_requests_total{{job="shop", track="stable", route=~"{query.BUSINESS_ROUTES}"}}'
    prom.wait_for(f"sum({selector}) > 0", timeout=60, config=live)
    for _ in range(3):  # three moments, each at another phase of the 1 s scrape interval
        moment = time.time()
        assert query.wait_scraped_through(moment, 5.0, config=live)
        read = prom.scalar(f"sum({selector})", at=moment, config=live)
        later = 'min(timestamp(up{job="shop"}))'
        assert polling.wait_until(lambda: prom.scalar(later, config=live) > moment + 1, 10, 0.1)  # two scrapes on
        assert prom.scalar(f"sum({selector})", at=moment, config=live) == read


def test_without_prometheus_the_wait_gives_up_after_its_timeout():
    from kit.config import Config
    from kit.procs import free_port

    nowhere = Config.from_env({}, prometheus_port=free_port())
    assert query.wait_scraped_through(time.time(), 0.3, config=nowhere) is False
