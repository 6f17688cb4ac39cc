"""Fault → alert → page, end to end through the real Prometheus, Alertmanager and pager."""

import time

from kit import pager, prom
from kit.shop import faults


def test_checkout_errors_page_and_resolve(clean_faults):
    live = clean_faults
    since = time.time()
    faults.set_fault("errors", ratio=1.0, route="checkout", config=live)
    firing = pager.wait_for_page("CheckoutErrorRatioHigh", since=since, timeout=30, config=live)
    page = firing.iloc[0]
    assert page["severity"] == "page" and page["runbook_url"] == "runbooks/checkout-errors.md"
    assert "checkouts are failing" in page["summary"]
    faults.clear_faults(config=live)
    pager.wait_for_page("CheckoutErrorRatioHigh", status="resolved", since=since, timeout=60, config=live)


def test_broken_metrics_page_as_service_down(clean_faults):
    live = clean_faults
    since = time.time()
    faults.set_fault("broken_metrics", config=live)
    prom.wait_for('up{job="shop"} == 0', timeout=15, config=live)
    page = pager.wait_for_page("ServiceDown", since=since, timeout=30, config=live).iloc[0]
    assert page["job"] == "shop"
    faults.clear_faults(config=live)
    prom.wait_for('up{job="shop"} == 1', timeout=15, config=live)
