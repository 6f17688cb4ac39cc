"""kit.releases.canary on the worker's live sandbox: a real canary process behind the real HAProxy.

The split is measured from HAProxy's own per-server counters while this test sends its own requests through the
proxy on top of the background traffic (1,200 per weight, so each weight takes a few seconds, not minutes). A
correct split is within ``SPLIT_Z`` = 4 binomial standard deviations of the weight (at 10 %: ±3.5 points; at 50 %:
±5.8 points): a correct proxy fails that about 6 times in 100,000 checks, a wrong weight (say 20 % for 10 %)
fails it every time. At 0 % the canary must get no request at all.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from kit import history, lab, prom, sandbox
from kit.drills import mitigations
from kit.errors import InvalidInput, KitError, PortBusy, SandboxNotReady
from kit.releases import canary, deploylog
from kit.releases.split import SplitMeasurement
from kit.sandbox.record import ReleaseRecord
from kit.shop.versions import shop_version

REQUESTS = 1200


@pytest.fixture(scope="module")
def deployed(live):
    """A canary of 1.1.0 beside the stable shop; rolled back whatever the tests did."""
    canary.rollback(config=live)
    yield canary.deploy("1.1.0", config=live)
    canary.rollback(config=live)


_failures: list[int] = []


def _refused_through_proxy() -> int:
    return len(_failures)


@pytest.fixture
def driven(live):
    """Requests through HAProxy as fast as one client sends them, until the test ends; failures are counted."""
    stop = threading.Event()
    _failures.clear()

    def drive() -> None:
        with httpx.Client(base_url=live.url("shop"), timeout=5.0) as client:
            while not stop.is_set():
                if client.get("/health").status_code != 200:
                    _failures.append(1)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def test_a_deployed_canary_is_its_own_process_on_its_own_track_and_version(live, deployed):
    assert deployed.canary == "1.1.0" and deployed.weight_percent == 0
    assert deployed.proxy_weights == {"stable": 100, "canary": 0}
    assert deployed.canary_pid not in sandbox.pids(live).values()
    health = httpx.get(live.url("shop_canary") + "/health", timeout=5.0).json()
    assert (health["version"], health["track"]) == ("1.1.0", "canary")
    assert isinstance(sandbox.logs("canary", live), str)  # `kit logs canary`, as the canary's errors advise
    with pytest.raises(KitError, match="choose one of .*canary"):
        sandbox.logs("canery", live)
    with pytest.raises(InvalidInput, match="running already") as refused:
        canary.deploy("1.2.0", config=live)
    assert refused.value.field == "version"


@pytest.mark.parametrize("weight", [0, 10, 50])
def test_the_measured_split_follows_the_weight(live, deployed, driven, weight):
    assert canary.set_weight(weight, config=live).proxy_weights == {"stable": 100 - weight, "canary": weight}
    measured = canary.measure_split(REQUESTS, config=live)
    assert measured.requests >= REQUESTS and measured.weight_percent == weight
    if weight == 0:
        assert measured.canary_requests == 0
    assert measured.agrees(), (f"canary got {measured.share:.3f} of {measured.requests} requests at weight "
                               f"{weight} %; tolerance ±{measured.tolerance():.3f}")


def test_prometheus_sees_both_tracks_and_the_proxy_split(live, deployed, driven):
    canary.set_weight(50, config=live)
    assert _serving(live) == [("canary", "1.1.0"), ("stable", "1.0.0")]  # deploy returned once it was scraped
    prom.wait_for('sum by (server) (haproxy_server_http_responses_total{job="proxy", proxy="shop", server="canary"}) > 0',
                  timeout=30, config=live)


def test_rollback_leaves_no_canary_process_and_sends_it_nothing(live, deployed, driven):
    canary.wait_scraped("canary", "1.1.0", config=live)
    canary.set_weight(50, config=live)
    pid = canary.status(live).canary_pid
    after = canary.rollback(config=live)
    assert after.canary is None and after.canary_pid is None and after.proxy_weights["canary"] == 0
    assert not _running(pid)
    assert _slots(live) == {"stable": "up", "canary": "down"}, "rollback returned before Prometheus found the slot empty"
    assert _serving(live) == [("stable", "1.0.0")], "rollback returned before the canary's series went stale"
    measured = canary.measure_split(300, config=live)
    assert measured.canary_requests == 0 and measured.stable_requests >= 300
    assert canary.rollback(config=live) == after  # twice is harmless
    with pytest.raises(InvalidInput, match="no canary"):
        canary.promote(config=live)
    with pytest.raises(InvalidInput, match="no canary") as refused:
        canary.set_weight(10, config=live)
    assert refused.value.field == "weight"


def test_promote_makes_the_canary_version_stable_without_refusing_a_request(live, driven):
    canary.rollback(config=live)
    logged = len(deploylog.read(config=live))
    canary.deploy("1.1.0", config=live)
    canary.set_weight(10, config=live)
    before = sandbox.pids(live)["shop"]
    try:
        promoted_at = time.time()
        promoted = canary.promote(config=live)
        assert (promoted.stable, promoted.canary, promoted.proxy_weights) == ("1.1.0", None, {"stable": 100, "canary": 0})
        assert sandbox.pids(live)["shop"] != before
        assert _slots(live) == {"stable": "up", "canary": "down"}, "promote returned before Prometheus saw it"
        assert _serving(live) == [("stable", "1.1.0")], "promote returned before the old shop's series went stale"
        # the shop's `up` now has a series per version and track: the live data still begins where it began
        began = history.live_start(live)
        assert began is not None and began < promoted_at
        health = httpx.get(live.url("shop_stable") + "/health", timeout=5.0).json()
        assert (health["version"], health["track"]) == ("1.1.0", "stable")
        assert canary.measure_split(200, config=live).canary_requests == 0
        canary.deploy("1.2.0", config=live)
    finally:  # the next test on this worker's sandbox expects the stable 1.0.0 every lab starts from
        undone = lab.reset(live)
    assert undone[:2] == ("rolled back the canary of 1.2.0", "put the stable shop back on 1.0.0 from 1.1.0")
    assert canary.status(live).stable == "1.0.0" and canary.status(live).canary is None
    assert _serving(live) == [("stable", "1.0.0")]
    sandbox.require(live)  # what the next deploy asks first
    refused = _refused_through_proxy()
    assert refused == 0, f"{refused} requests through HAProxy failed during the promotions"
    # what served production: 1.1.0 from its first 10 %, then all of it; 1.2.0 never served; the reset's 1.0.0
    events = deploylog.read(config=live)[logged:]
    assert [(e.kind, e.version, e.weight) for e in events] == [
        ("deploy", "1.1.0", 10), ("promote", "1.1.0", 100), ("deploy", "1.0.0", 100)]
    assert events[0].commit == shop_version("1.1.0").commit and events[0].commit_time < events[0].at


@pytest.mark.parametrize(("before", "after", "entries"), [
    (ReleaseRecord(), ReleaseRecord("1.0.0", "1.1.0", 0), []),
    (ReleaseRecord("1.0.0", "1.1.0", 0), ReleaseRecord("1.0.0", "1.1.0", 1, True),
     [("deploy", "1.1.0", 1, "weight raised from 0 % to 1 %")]),
    (ReleaseRecord("1.0.0", "1.1.0", 1, True), ReleaseRecord("1.0.0", "1.1.0", 10, True),
     [("promote", "1.1.0", 10, "weight raised from 1 % to 10 %")]),
    (ReleaseRecord("1.0.0", "1.1.0", 10, True), ReleaseRecord("1.0.0", "1.1.0", 5, True),
     [("pause", "1.1.0", None, "weight lowered from 10 % to 5 %")]),
    (ReleaseRecord("1.0.0", "1.1.0", 5, True), ReleaseRecord("1.0.0", "1.1.0", 0, True),
     [("rollback", "1.1.0", 0, "weight lowered from 5 % to 0 %")]),
    (ReleaseRecord("1.0.0", "1.1.0", 10, True), ReleaseRecord("1.1.0"), [("promote", "1.1.0", 100, "promoted from 10 %")]),
    (ReleaseRecord("1.0.0", "1.1.0", 0), ReleaseRecord("1.1.0"), [("deploy", "1.1.0", 100, "promoted from 0 %")]),
    (ReleaseRecord("1.0.0", "2.0.0", 5, True), ReleaseRecord("1.0.0"), [("rollback", "2.0.0", 0, "rolled back from 5 %")]),
    (ReleaseRecord("1.0.0", "2.0.0", 0), ReleaseRecord("1.0.0"), []),
])
def test_the_deploy_log_records_what_production_served(before, after, entries):
    assert canary.log_entries(before, after) == entries


def test_the_empty_canary_slot_is_scraped_down_and_pages_no_one(live):
    canary.rollback(config=live)
    window = "10s"  # over twice ServiceDown's `for` in the lab profile (1m scaled to 4 s), evaluated every second
    prom.wait_for(f'max_over_time(up{{job="shop", track="canary"}}[{window}]) == 0 '
                  f'and count_over_time(up{{job="shop", track="canary"}}[{window}]) >= 8', timeout=30, config=live)
    assert prom.query('ALERTS{alertname="ServiceDown"}', config=live).empty
    assert sandbox.status(live).healthy, "kit status takes an empty canary slot for a broken sandbox"


def test_the_drills_rollback_mitigation_takes_a_canary_out(live):
    canary.rollback(config=live)
    canary.deploy("2.0.0", config=live)
    canary.set_weight(5, config=live)
    assert mitigations.rollback(live) == "rolled back the canary of 2.0.0"
    assert canary.status(live).canary is None
    assert mitigations.rollback(live) == "the shop already runs the previous version; nothing to roll back"


@pytest.mark.parametrize("weight", [-1, 101, 12.5, True])
def test_a_weight_out_of_range_is_refused_before_anything_changes(live, weight):
    with pytest.raises(InvalidInput, match="whole percentage") as refused:
        canary.set_weight(weight, config=live)
    assert refused.value.field == "weight"


def test_an_unknown_version_is_refused(live):
    with pytest.raises(InvalidInput, match="no version '9.9.9'"):
        canary.deploy("9.9.9", config=live)


def test_a_busy_canary_port_is_named_and_nothing_is_deployed(live):
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", live.shop_canary_port))
        blocker.listen()
        with pytest.raises(PortBusy, match="KIT_SHOP_CANARY_PORT") as refused:
            canary.deploy("1.1.0", config=live)
    assert refused.value.port == live.shop_canary_port
    assert canary.status(live).canary_pid is None and ReleaseRecord.load(live).canary is None


def test_haproxy_not_answering_is_a_clear_error(live, tmp_path):
    elsewhere = live.with_(state_dir=str(tmp_path))  # a state folder with no HAProxy socket in it
    assert canary.status(elsewhere).proxy_weights == {}
    with pytest.raises(SandboxNotReady, match="HAProxy is not answering .* `kit up` starts it"):
        canary.measure_split(1, config=elsewhere)


def test_binomial_tolerance_is_exact_at_the_ends_and_catches_a_wrong_weight():
    assert SplitMeasurement(1000, 0, 0).agrees() and not SplitMeasurement(999, 1, 0).agrees()
    assert SplitMeasurement(900, 100, 10).agrees()
    assert not SplitMeasurement(800, 200, 10).agrees()  # 20 % for a 10 % weight
    assert SplitMeasurement(0, 0, 10).requests == 0 and not SplitMeasurement(0, 0, 10).agrees()


def _running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _slots(config) -> dict[str, str]:
    """The shop's scrape slots as Prometheus's targets show them: {track: health of its last scrape}."""
    targets = httpx.get(config.url("prometheus") + "/api/v1/targets", params={"state": "active"}, timeout=5.0)
    return {t["labels"]["track"]: t["health"] for t in targets.json()["data"]["activeTargets"]
            if t["labels"]["job"] == "shop"}


def _serving(config) -> list[tuple[str, str]]:
    """The shops an instant query finds serving, (track, build_info's version) each; a stopped one's series count
    until the failed scrape that marks them stale."""
    frame = prom.query('build_info{job="shop"} and on(track) (up{job="shop"} == 1)', config=config)
    return sorted(zip(frame["track"], frame["version"]))
