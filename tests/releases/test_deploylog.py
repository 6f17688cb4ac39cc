"""The deploy log: round trip, concurrent appends, crash tails, and lines refused with their line and field."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from kit.errors import InvalidInput
from kit.releases import deploylog
from kit.releases.deploylog import DeployEvent

T = 1_700_000_000.0
GOOD = {"kind": "deploy", "version": "1.1.0", "commit": "abc123", "commit_time": T - 600, "at": T, "actor": "ci",
        "reason": "release", "exemption": None, "weight": 1, "fixes": None, "flag": None, "flag_state": None}


def test_events_round_trip_in_the_order_written(tmp_path):
    log = tmp_path / "deploys.jsonl"
    events = [deploylog._event(GOOD), DeployEvent("promote", "1.1.0", "abc123", T - 600, T + 900, "ci", weight=100),
              DeployEvent("pause", "1.1.0", "abc123", T - 600, T + 1000, "ci", "inconclusive"),
              DeployEvent("rollback", "1.1.0", "abc123", T - 600, T + 1100, "on-call", exemption="security"),
              DeployEvent("flag", "1.1.0", "abc123", T - 600, T + 1200, "product", flag="new-cart", flag_state="off")]
    assert deploylog.append(events[:2], log) == 2 and deploylog.append(events[2:], log) == 3
    assert deploylog.read(log) == events
    assert deploylog.read(tmp_path / "none.jsonl") == []


def _writer(path, n, who):
    for i in range(n):
        deploylog.append([DeployEvent("deploy", f"{who}.{i}", "c", T, T + i, who, "x" * 3000, weight=100)], path)


def test_concurrent_writers_never_interleave_lines(tmp_path):
    log = tmp_path / "deploys.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(log, 40, f"w{k}")) for k in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(30)
    assert [w.exitcode for w in writers] == [0, 0, 0, 0]
    events = deploylog.read(log)
    assert len(events) == 160
    for k in range(4):  # each writer's lines in its own order
        assert [e.version for e in events if e.actor == f"w{k}"] == [f"w{k}.{i}" for i in range(40)]


def test_a_crash_tail_is_not_read_and_is_cut_by_the_next_append(tmp_path):
    log = tmp_path / "deploys.jsonl"
    log.write_text(json.dumps(GOOD) + "\n" + '{"kind": "depl')
    assert len(deploylog.read(log)) == 1
    deploylog.append([deploylog._event({**GOOD, "version": "1.2.0"})], log)
    assert [e.version for e in deploylog.read(log)] == ["1.1.0", "1.2.0"]


@pytest.mark.parametrize("change, field", [
    ({"kind": "ship"}, "kind"),
    ({"version": ""}, "version"),
    ({"commit_time": T + 1}, "commit_time"),
    ({"at": "yesterday"}, "at"),
    ({"weight": 0}, "weight"),
    ({"weight": 150}, "weight"),
    ({"exemption": "urgent"}, "exemption"),
    ({"kind": "pause", "weight": 50}, "weight"),
    ({"kind": "promote", "fixes": "1.0.0"}, "fixes"),
    ({"kind": "flag", "weight": None}, "flag"),
    ({"colour": "blue"}, "colour"),
])
def test_a_bad_line_is_named_by_file_line_and_field(tmp_path, change, field):
    log = tmp_path / "deploys.jsonl"
    log.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, **change}) + "\n")
    with pytest.raises(InvalidInput) as caught:
        deploylog.read(log)
    assert caught.value.field == field and caught.value.source == f"{log}:2"
    assert str(caught.value).startswith(f"{log}:2: {field}: ")


def test_a_line_that_is_not_json_is_named(tmp_path):
    log = tmp_path / "deploys.jsonl"
    log.write_text("\n" + "{not json}\n")
    with pytest.raises(InvalidInput, match=r"deploys.jsonl:2: line: is not JSON"):
        deploylog.read(log)


def test_an_event_is_checked_when_made():
    with pytest.raises(InvalidInput, match="weight"):
        DeployEvent("deploy", "1.0.0", "c", T, T, "ci")
