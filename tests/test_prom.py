"""kit.prom against the real Prometheus scraping the real services."""

import math
import time

import pandas as pd
import pytest

from kit import prom
from kit.config import Config
from kit.errors import CheckFailed, InvalidInput, PromQLError, SandboxNotReady


def test_prometheus_scrapes_the_shop_red_metrics(live):
    frame = prom.wait_for('sum by (route) (rate(http_requests_total{job="shop", route="/checkout"}[10s])) > 0',
                          timeout=30, config=live)
    assert list(frame["route"]) == ["/checkout"]
    assert prom.scalar('count(build_info{job="shop"})', config=live) == 1
    assert prom.scalar('count(http_request_duration_seconds_bucket{job="shop"})', config=live) > 10
    assert prom.scalar('count(payments_client_requests_total{job="shop"})', config=live) >= 1


def test_instant_query_is_a_tidy_frame(live):
    frame = prom.query("up", config=live)
    # labels are columns, the union over the series (only the shop's two slots carry a track), then time and value
    assert list(frame.columns) == ["__name__", "instance", "job", "track", "timestamp", "value"]
    assert set(frame["job"]) == {"shop", "payments", "pager", "alertmanager", "prometheus", "proxy"}
    assert pd.api.types.is_datetime64_any_dtype(frame["timestamp"])


def test_range_query_returns_one_row_per_step(live):
    # A step's value is the newest sample within Prometheus's 5-minute lookback, so once the series has a sample
    # before the window, every step has one whatever the scrapes did since. Whole seconds make the steps exact:
    # rounding down moves the window's start up to a second earlier, so the sample must be over 4 s old. The
    # stable slot is the one series whose value an earlier test on this sandbox (a canary left running) cannot change.
    prom.wait_for('up{job="shop", track="stable"} offset 5s', timeout=30, config=live)
    end = math.floor(time.time())
    frame = prom.query_range('up{job="shop", track="stable"}', start=end - 3, end=end, step="1s", config=live)
    assert list(frame.columns) == ["__name__", "instance", "job", "track", "timestamp", "value"]
    assert list(frame["timestamp"]) == list(pd.to_datetime([end - 3, end - 2, end - 1, end], unit="s", utc=True))
    assert set(frame["job"]) == {"shop"} and set(frame["value"]) <= {0.0, 1.0}


def test_scalar_of_nothing_is_nan_and_of_many_is_an_error(live):
    assert math.isnan(prom.scalar('up{job="nope"}', config=live))
    with pytest.raises(InvalidInput, match="aggregate"):
        prom.scalar("up", config=live)


def test_bad_promql_shows_prometheus_message(live):
    with pytest.raises(PromQLError) as err:
        prom.query("sum(rate(http_requests_total[5m])", config=live)
    assert "parse error" in str(err.value)


def test_bad_time_arguments(live):
    with pytest.raises(InvalidInput, match="start"):
        prom.query_range("up", start="yesterday-ish", config=live)
    with pytest.raises(InvalidInput, match="end"):
        prom.query_range("up", start="-1m", end="-2m", config=live)


def test_wait_for_times_out_with_the_expression(live):
    with pytest.raises(CheckFailed, match="nothing for"):
        prom.wait_for('up{job="nope"}', timeout=1, config=live)


def test_rules_and_alerts_are_listed(live):
    rules = prom.rules(config=live)
    assert {"ServiceDown", "CheckoutErrorRatioHigh"} <= set(rules["name"])
    assert (rules["health"] == "ok").all()
    assert list(prom.alerts(config=live).columns)[:3] == ["alertname", "state", "severity"]


def test_unreachable_prometheus_says_how_to_start_it(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path), prometheus_port=1)
    with pytest.raises(SandboxNotReady, match="kit up"):
        prom.query("up", config=config)


def test_no_alerts_means_none_of_the_loaded_rules_not_a_removed_rules_last_sample(live):
    from kit import sandbox

    rule = {"alert": "KitTestAlwaysFiring", "expr": "vector(1)", "labels": {"severity": "test"}}
    sandbox.install_rules("always-firing-test", {"groups": [{"name": "always-firing-test", "rules": [rule]}]},
                          config=live)
    try:
        prom.wait_for('ALERTS{alertname="KitTestAlwaysFiring", alertstate="firing"}', timeout=30, config=live)
        with pytest.raises(CheckFailed, match=r"KitTestAlwaysFiring \(firing\)"):
            prom.wait_for_no_alerts(names=("KitTestAlwaysFiring",), timeout=1, config=live)
        prom.wait_for_no_alerts(severity="page", names=("KitTestAlwaysFiring",), timeout=1, config=live)
    finally:
        sandbox.remove_rules("always-firing-test", config=live)
    # Prometheus keeps the removed rule's last ALERTS sample for its 5-minute lookback; the rules it holds are clear
    prom.wait_for_no_alerts(names=("KitTestAlwaysFiring",), timeout=10, config=live)
