"""The pager stores what Alertmanager posts and reads it back, even after a crash mid-write."""

import json
import subprocess
import sys
import time

import httpx
import pytest

from kit import pager, procs
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
    config = Config.from_env({}, state_dir=str(tmp_path), pager_port=procs.free_port())
    proc = subprocess.Popen([sys.executable, "-m", "kit.pager", "--port", str(config.pager_port),
                             "--store", str(pager.pages_file(config))])
    url = config.url("pager")

    def ready():
        try:
            return httpx.get(f"{url}/health").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert procs.wait_until(ready, timeout=10)
        yield config, url
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_notifications_are_stored_and_read_back(receiver):
    config, url = receiver
    assert httpx.post(f"{url}/alerts", json=NOTIFICATION).status_code == 200
    frame = pager.pages(config)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["alertname"], row["status"], row["severity"], row["runbook_url"]) == ("X", "firing", "page", "runbooks/x.md")
    assert "pager_notifications_total 1" in httpx.get(f"{url}/metrics").text


def test_bad_posts_are_refused_and_store_nothing(receiver):
    config, url = receiver
    assert httpx.post(f"{url}/alerts", content=b"not json").status_code == 400
    assert httpx.post(f"{url}/alerts", json={"alerts": "nope"}).status_code == 400
    assert pager.pages(config).empty


def test_a_line_cut_short_by_a_crash_loses_only_itself(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path))
    line = json.dumps({"received_at": time.time(), "notification": NOTIFICATION})
    pager.pages_file(config).write_text(line + "\n" + line[:40])
    assert len(pager.pages(config)) == 1


def test_wait_for_page_times_out_and_validates(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path))
    with pytest.raises(CheckFailed, match="no firing page for X"):
        pager.wait_for_page("X", timeout=0.3, config=config)
    with pytest.raises(InvalidInput, match="status"):
        pager.wait_for_page("X", status="burning", config=config)


def test_a_resolved_alert_does_not_read_as_still_firing(tmp_path):
    """Alertmanager resends the firing annotations with a resolved alert; every view of pages says they are past."""
    config = Config.from_env({}, state_dir=str(tmp_path))
    resolved = {**NOTIFICATION, "status": "resolved",
                "alerts": [{**NOTIFICATION["alerts"][0], "status": "resolved", "endsAt": "2026-01-01T00:05:00Z"}]}
    with open(pager.pages_file(config), "w", encoding="utf-8") as fh:
        for received, notification in ((1.0, NOTIFICATION), (2.0, resolved)):
            fh.write(json.dumps({"received_at": received, "notification": notification}) + "\n")
    assert list(pager.pages(config)["summary"]) == ["x broke", "was firing: x broke"]
    assert pager.headline("resolved", "") == ""
