"""kit.ownership.paging: the sandbox's pager stores every page with its team and who was on call for that team when
the alert fired; nobody on call (no team, no rotation, a broken one, a gap) is a note, never a lost page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone

import httpx
import pytest

from kit import pager, procs
from kit.cli import main
from kit.config import CONTENT, Config
from kit.ownership import oncall
from kit.ownership.paging import started_at
from kit.shop import faults


def _alert(job: str, starts_at: str) -> dict:
    return {"status": "firing", "labels": {"alertname": "CheckoutErrorRatioHigh", "severity": "page", "job": job},
            "annotations": {"summary": "checkouts fail"}, "startsAt": starts_at, "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "f00"}


def _notification(receiver: str, *alerts: dict) -> dict:
    return {"version": "4", "receiver": receiver, "status": "firing", "alerts": list(alerts)}


def _serve(argv: list[str], config: Config):
    """Start a receiver process; returns it once /health answers."""
    proc = subprocess.Popen([sys.executable, *argv, "--port", str(config.pager_port),
                             "--store", str(pager.notifications_file(config))])

    def ready():
        try:
            return httpx.get(f"{config.url('pager')}/health").status_code == 200
        except httpx.HTTPError:
            return False

    assert procs.wait_until(ready, timeout=30)
    return proc


@pytest.fixture
def paging(tmp_path):
    """The pager as `kit up` runs it, reading rotations from a folder with the shop team's and a broken one."""
    rotations = tmp_path / "oncall"
    rotations.mkdir()
    shutil.copy(CONTENT.oncall / "shop-team.ics", rotations)
    (rotations / "broken-team.ics").write_text("BEGIN:VCALENDAR\nEND:VCALENDAR\n")
    config = Config.from_env({}, state_dir=str(tmp_path / "state"), pager_port=procs.free_port())
    proc = _serve(["-m", "kit.ownership.paging", "--oncall", str(rotations)], config)
    try:
        yield config
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_each_page_is_stored_with_who_was_on_call_when_it_fired(paging):
    url = f"{paging.url('pager')}/alerts"
    sent = [
        # The hand-over is Monday 10:00 in Berlin (09:00 UTC in winter): Amara until then, Bruno from then on.
        _notification("shop-team", _alert("shop", "2026-01-12T08:59:59.999999999Z"),
                      _alert("payments", "2026-01-12T10:00:00+01:00"),
                      _alert("shop", "2025-12-01T12:00:00Z")),  # before the rotation's first shift: a gap
        _notification("search-team", _alert("search", "2026-01-12T12:00:00Z")),
        _notification("broken-team", _alert("docs", "2026-01-12T12:00:00Z")),
        _notification(pager.UNOWNED_RECEIVER, _alert("prometheus", "2026-01-12T12:00:00Z")),
    ]
    for notification in sent:
        assert httpx.post(url, json=notification).status_code == 200
    frame = pager.notifications(paging)
    rows = list(frame[["team", "job", "primary", "secondary"]].itertuples(index=False, name=None))
    assert rows == [("shop-team", "shop", "Amara Okafor", "Hana Sato"),
                    ("shop-team", "payments", "Bruno Silva", "Amara Okafor"),
                    ("shop-team", "shop", "", ""),
                    ("search-team", "search", "", ""), ("broken-team", "docs", "", ""), ("", "prometheus", "", "")]
    notes = list(frame["on_call_note"])
    assert notes[:2] == ["", ""]
    assert notes[2].startswith("gap in ") and notes[2].endswith("shop-team.ics: nobody on call at 2025-12-01 13:00 CET")
    assert notes[3].startswith("no rotation for search-team:") and notes[3].endswith("search-team.ics does not exist")
    assert notes[4].startswith("rotation unreadable:") and "VEVENT" in notes[4]
    assert notes[5].startswith("no owning team")


def test_a_failing_annotation_still_stores_the_page(tmp_path):
    config = Config.from_env({}, state_dir=str(tmp_path), pager_port=procs.free_port())
    serve = ("import sys; from pathlib import Path; from kit import pager; "
             "pager.serve('127.0.0.1', int(sys.argv[2]), Path(sys.argv[4]), annotate=lambda payload: 1 / 0)")
    proc = _serve(["-c", serve], config)
    try:
        assert httpx.post(f"{config.url('pager')}/alerts",
                          json=_notification("shop-team", _alert("shop", "2026-01-12T12:00:00Z"))).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    row = pager.notifications(config).iloc[0]
    assert (row["team"], row["primary"], row["on_call_note"]) == ("shop-team", "", pager.NOT_RECORDED)


@pytest.mark.parametrize("text, moment", [
    ("2026-12-01T03:10:00.123456789Z", datetime(2026, 12, 1, 3, 10, 0, 123456, tzinfo=timezone.utc)),
    ("2026-12-01T04:10:00+01:00", datetime(2026, 12, 1, 3, 10, tzinfo=timezone.utc)),
    ("2026-12-01T03:10:00.5z", datetime(2026, 12, 1, 3, 10, 0, 500000, tzinfo=timezone.utc)),
    ("2026-12-01T03:10:00", None), ("yesterday", None), ("2026-13-01T03:10:00Z", None),
])
def test_started_at_reads_alertmanagers_times(text, moment):
    assert started_at(text) == moment


def test_a_live_page_shows_the_team_and_who_was_on_call(clean_faults, capsys):
    since = time.time()
    faults.set_fault("errors", ratio=1.0, route="checkout", config=clean_faults)
    page = pager.wait_for_page("CheckoutErrorRatioHigh", since=since, timeout=30, config=clean_faults).iloc[0]
    on_call = oncall.load(oncall.rotation_path("shop-team")).on_call_at(started_at(page["starts_at"]))
    assert on_call.primary and on_call.secondary, "oncall/shop-team.ics should cover today"
    assert (page["team"], page["primary"], page["secondary"], page["on_call_note"]) == (
        "shop-team", on_call.primary.name, on_call.secondary.name, "")
    assert main(["pages", "--json"]) == 0
    shown = [p for p in json.loads(capsys.readouterr().out) if p["fingerprint"] == page["fingerprint"]]
    assert shown and {(p["team"], p["primary"], p["secondary"]) for p in shown} == {
        ("shop-team", on_call.primary.name, on_call.secondary.name)}
    assert main(["pages"]) == 0
    assert re.search(rf"shop-team +{on_call.primary.name} / {on_call.secondary.name}", capsys.readouterr().out)
