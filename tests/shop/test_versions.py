"""kit.shop.versions: the release history as data, and the shop process running a version on a track."""

from __future__ import annotations

import math

import httpx
import pytest

from kit.errors import InvalidInput
from kit.metrics import BAD_VERSION, VERSION
from kit.shop.service import ServiceSettings, _Runtime
from kit.shop.versions import VERSIONS, shop_version

from services import running_services
from test_service import metric


def test_the_history_holds_a_healthy_stable_a_healthy_successor_two_subtle_regressions_and_the_bad_one():
    assert list(VERSIONS)[0] == VERSION and VERSIONS[VERSION].healthy and VERSIONS["1.1.0"].healthy
    assert VERSIONS["1.2.0"].extra_error_ratio == 0.005 and VERSIONS["1.3.0"].extra_ms == 30.0
    assert VERSIONS[BAD_VERSION].checkout_failure_ratio == pytest.approx(1 / 3)
    times = [v.committed_at for v in VERSIONS.values()]
    assert times == sorted(times) and all(t.utcoffset() is not None for t in times)  # oldest first, real moments
    assert len({v.commit for v in VERSIONS.values()}) == len(VERSIONS)
    with pytest.raises(InvalidInput, match="no version '3.0.0'; its versions: 1.0.0, 1.1.0") as refused:
        shop_version("3.0.0")
    assert refused.value.field == "version"


def _runtime(version: str) -> _Runtime:
    return _Runtime("shop", ServiceSettings(token="t", payments_url="http://127.0.0.1:1", version=version, seed=7))


def test_a_latency_regression_adds_its_milliseconds_to_every_business_request():
    stable, slower = _runtime(VERSION), _runtime("1.3.0")
    for route in ("catalog", "product", "checkout"):  # the same seed draws the same service times
        assert slower._service_time_ms(route, {}) - stable._service_time_ms(route, {}) == pytest.approx(30.0)


def test_an_error_regression_fails_its_share_of_business_requests():
    runtime, n, failed = _runtime("1.2.0"), 40_000, 0
    for _ in range(n):
        try:
            runtime._maybe_fail("catalog")
        except Exception:
            failed += 1
    sd = math.sqrt(n * 0.005 * 0.995)  # binomial: 200 expected, sd ~14
    assert abs(failed - n * 0.005) <= 4 * sd
    healthy = _runtime("1.1.0")
    for _ in range(1000):
        healthy._maybe_fail("checkout")  # never raises


def test_a_canary_process_reports_its_version_and_track(tmp_path):
    with running_services(tmp_path, "--version", "1.1.0", "--track", "canary") as started:
        assert httpx.get(f"{started.shop}/health").json() == {
            "status": "ok", "service": "shop", "version": "1.1.0", "track": "canary"}
        assert metric(started.shop, "build_info", version="1.1.0", track="canary") == 1.0
        assert httpx.get(f"{started.shop}/openapi.json").json()["info"]["version"] == "1.1.0"
