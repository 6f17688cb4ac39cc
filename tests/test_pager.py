"""The pager stores what Alertmanager posts and reads it back, even after a crash mid-write."""

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit import pager, polling, procs
from kit.config import Config
from kit.errors import CheckFailed, InvalidInput

NOTIFICATION = {
    "receiver": "pager", "status": "firing", "groupKey": "{}:{alertname=\"X\"}",
    "alerts": [{"status": "firing", "labels": {"alertname": "X", "severity": "page", "job": "shop"},
                "annotations": {"summary": "x broke", "runbook_url": "runbooks/x.md"},
                "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "abc"}],
}


@pytest.fixture
def receiver(tmp_path):
    yield from _receiver(tmp_path)


@pytest.fixture(scope="module")
def shared_receiver(tmp_path_factory):
    """One receiver and one client for every example of a property test."""
    with httpx.Client() as client:
        for config, url in _receiver(tmp_path_factory.mktemp("pager")):
            yield config, url, client


def _receiver(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path), pager_port=procs.free_port())
    proc = subprocess.Popen([sys.executable, "-m", "kit.pager", "--port", str(config.pager_port),
                             "--store", str(pager.notifications_file(config))])
    url = config.url("pager")

    def ready():
        try:
            return httpx.get(f"{url}/health").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert procs.wait_until(ready, timeout=30)
        yield config, url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_notifications_are_stored_and_read_back(receiver):
    config, url = receiver
    assert httpx.post(f"{url}/alerts", json=NOTIFICATION).status_code == 200
    frame = pager.notifications(config)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["alertname"], row["status"], row["severity"], row["runbook_url"]) == ("X", "firing", "page", "runbooks/x.md")
    assert "pager_notifications_total 1" in httpx.get(f"{url}/metrics").text


def test_bad_posts_are_refused_and_store_nothing(receiver):
    config, url = receiver
    assert httpx.post(f"{url}/alerts", content=b"not json").status_code == 400
    assert httpx.post(f"{url}/alerts", json={"alerts": "nope"}).status_code == 400
    assert pager.notifications(config).empty


def test_a_line_cut_short_by_a_crash_loses_only_itself(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path))
    line = json.dumps({"received_at": time.time(), "notification": NOTIFICATION})
    pager.notifications_file(config).write_text(line + "\n" + line[:40])
    assert len(pager.notifications(config)) == 1


def test_wait_for_page_times_out_and_validates(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path))
    with polling.simulated() as clock, pytest.raises(CheckFailed, match="no firing notification of X within 60 s"):
        pager.wait_for_page("X", timeout=60, config=config)
    assert clock() == 60  # the whole timeout, on the test's clock
    with pytest.raises(InvalidInput, match="status"):
        pager.wait_for_page("X", status="burning", config=config)


def test_a_resolved_alert_does_not_read_as_still_firing(tmp_path):
    """Alertmanager resends the firing annotations with a resolved alert; every view of notifications says they are past."""
    config = Config.from_env({}, state_dir=str(tmp_path))
    resolved = {**NOTIFICATION, "status": "resolved",
                "alerts": [{**NOTIFICATION["alerts"][0], "status": "resolved", "endsAt": "2026-01-01T00:05:00Z"}]}
    with open(pager.notifications_file(config), "w", encoding="utf-8") as fh:
        for received, notification in ((1.0, NOTIFICATION), (2.0, resolved)):
            fh.write(json.dumps({"received_at": received, "notification": notification}) + "\n")
    assert list(pager.notifications(config)["summary"]) == ["x broke", "was firing: x broke"]
    assert pager.headline("resolved", "") == ""


# ---------------------------------------------------------------- malformed payloads

_TEXT = st.text(max_size=8)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                     max_leaves=8)
_ALERT = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved"]), "labels": st.dictionaries(_TEXT, _TEXT, max_size=3)},
    optional={"annotations": st.dictionaries(_TEXT, _TEXT, max_size=2), "startsAt": _TEXT, "fingerprint": _TEXT},
)
_VALID = st.fixed_dictionaries({"alerts": st.lists(_ALERT, max_size=3)}, optional={"status": _TEXT})


@st.composite
def _spoiled(draw) -> dict:
    """A valid notification with one part an alert holds replaced by any JSON value."""
    notification = draw(_VALID.filter(lambda n: n["alerts"]))
    alert = draw(st.sampled_from(notification["alerts"]))
    part = draw(st.sampled_from(["status", "labels", "annotations", "startsAt", "fingerprint", "label"]))
    if part == "label":
        alert["labels"][draw(_TEXT)] = draw(_JSON)
    else:
        alert[part] = draw(_JSON)
    return notification


def _lines(config) -> int:
    path = pager.notifications_file(config)
    return len(path.read_bytes().splitlines()) if path.exists() else 0


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.one_of(_JSON.map(lambda value: json.dumps(value).encode()), st.binary(max_size=40),
                      _spoiled().map(lambda value: json.dumps(value).encode()),
                      _VALID.map(lambda value: json.dumps(value).encode())))
def test_any_post_is_stored_whole_or_refused_naming_the_field(shared_receiver, body):
    config, url, client = shared_receiver
    before = _lines(config)
    response = client.post(f"{url}/alerts", content=body)
    assert response.status_code in (200, 400), (body[:80], response.status_code, response.text[:200])
    if response.status_code == 400:
        assert response.json()["field"] and _lines(config) == before, body[:80]
    else:
        assert _lines(config) == before + 1
    pager.notifications(config)  # whatever was stored reads back


def test_posts_that_once_broke_the_pager(receiver):
    config, url = receiver
    for body, field in [
        (b'{"alerts": [1, "x"]}', "alerts[0]"),  # stored, then every notifications() call failed
        (b'{"alerts": [{"labels": "x"}]}', "alerts[0].labels"),
        (b'{"alerts": [{"labels": {"alertname": 5}}]}', "alerts[0].labels.alertname"),
        (b'{"alerts": [{"status": "burning"}]}', "alerts[0].status"),
        (b'{"alerts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "body"),  # the connection dropped
    ]:
        response = httpx.post(f"{url}/alerts", content=body)
        assert response.status_code == 400 and response.json()["field"] == field, (body[:60], response.text)
    assert pager.notifications(config).empty and not pager.notifications_file(config).exists()
    for length, status in [("many", 400), ("-1", 400), ("\u00b2", 400), (str(2**40), 413), (None, 411)]:
        assert _raw_post(url, length, b"{}") == status, length
    for method, path, allowed in [("PUT", "/alerts", "POST"), ("GET", "/alerts", "POST"), ("POST", "/health", "GET"),
                                  ("DELETE", "/metrics", "GET")]:
        response = httpx.request(method, f"{url}{path}", content=b"{}")
        assert (response.status_code, response.headers["Allow"]) == (405, allowed), (method, path)
    assert httpx.post(f"{url}/alerts?from=alertmanager", json=NOTIFICATION).status_code == 200
    assert len(pager.notifications(config)) == 1


def _raw_post(url: str, length: str | None, body: bytes) -> int:
    """POST with any Content-Length header, or none, which HTTP clients refuse to send; returns the status."""
    host, port = url.removeprefix("http://").split(":")
    head = "POST /alerts HTTP/1.1\r\nHost: pager\r\n" + (f"Content-Length: {length}\r\n" if length else "")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(head.encode() + b"\r\n" + body)
        return int(raw.recv(200).split()[1])


def test_stored_lines_the_pager_cannot_read_are_skipped(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path))
    good = json.dumps({"received_at": time.time(), "notification": NOTIFICATION})
    bad = json.dumps({"received_at": time.time(), "notification": {"alerts": [1, {"labels": "x"}]}})
    pager.notifications_file(config).write_text(f"{bad}\n{good}\n[]\n")
    assert list(pager.notifications(config)["alertname"]) == ["X"]


def _stored(alertname: str, received_at: float) -> str:
    alert = {**NOTIFICATION["alerts"][0], "labels": {"alertname": alertname, "severity": "page"}}
    return json.dumps({"received_at": received_at, "notification": {**NOTIFICATION, "alerts": [alert]}}) + "\n"


def test_a_notification_feed_reads_each_stored_notification_once_as_it_arrives(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path))
    path = pager.notifications_file(config)
    feed = pager.NotificationFeed(config, since=100.0)
    assert feed.read() == []  # nothing stored yet
    path.write_text(_stored("Old", 99.0) + _stored("A", 101.0))
    assert [row["alertname"] for row in feed.read()] == ["A"]  # received before `since`: not for this feed
    half = _stored("C", 103.0)
    with open(path, "a") as fh:
        fh.write(_stored("B", 102.0) + half[:20])  # the pager is still writing C
    assert [row["alertname"] for row in feed.read()] == ["B"]
    with open(path, "a") as fh:
        fh.write(half[20:])
    assert [row["alertname"] for row in feed.read()] == ["C"]
    assert feed.read() == []
    path.write_text(_stored("D", 104.0))  # a new sandbox's pager started the file again
    assert [row["alertname"] for row in feed.read()] == ["D"]
    replacement = path.with_name("new.jsonl")
    replacement.write_text(_stored("E", 105.0) * 3)  # longer than what was read: only its identity tells
    replacement.replace(path)
    assert [row["alertname"] for row in feed.read()] == ["E", "E", "E"]


def test_pages_is_the_older_name_of_notifications_and_returns_the_same_rows(tmp_path):
    """Labs call ``kit.pages()``: it still gives every notification, the resolved one and the ticket too."""
    config = Config.from_env({}, state_dir=str(tmp_path))
    ticket = {**NOTIFICATION["alerts"][0], "labels": {"alertname": "Y", "severity": "ticket"}}
    resolved = {**NOTIFICATION["alerts"][0], "status": "resolved"}
    pager.notifications_file(config).write_text(_stored("X", 1.0) + json.dumps(
        {"received_at": 2.0, "notification": {**NOTIFICATION, "alerts": [ticket, resolved]}}) + "\n")
    assert len(pager.pages(config)) == 3
    assert pager.pages(config).equals(pager.notifications(config))
    assert pager.pages(config, since=2.0).equals(pager.notifications(config, since=2.0))
