"""Incident lunch: the pacing arithmetic (hand-computed; segments add up to the minutes, decision points in
order), the replay's output with a sleep that only adds up, and a drill's record read from a state folder."""

from __future__ import annotations

import json
import shutil

import pytest

from kit.cli import main
from kit.community import incidentlunch
from kit.community.incidentlunch import DECISIONS, Lunch, pace
from kit.config import CONTENT, Config
from kit.errors import CheckFailed, InvalidInput
from kit.timeline import Event, response_times

OFFSETS = [0, 5, 10, 20, 30, 60, 90]
KINDS = ["started", "injected", "page", "acknowledged", "note", "action", "resolved"]


def test_twenty_minutes_fit_the_timeline_the_pauses_and_the_summary():
    pacing = pace(OFFSETS, KINDS, 20)
    # 1200 s: play 30 % = 360 s for 90 s of drill (speed 0.25), briefing 120, summary 180, 4 pauses of 540/4
    assert pacing.speed == pytest.approx(0.25)
    assert [(s.kind, round(s.seconds, 6), s.events, s.event) for s in pacing.segments] == [
        ("briefing", 120, (), None),
        ("play", 80, (0, 1, 2), None),      # 0 -> 20 s of the drill, up to the acknowledgement
        ("pause", 135, (), 3),
        ("play", 40, (3,), None),           # 20 -> 30
        ("pause", 135, (), 4),
        ("play", 120, (4,), None),          # 30 -> 60
        ("pause", 135, (), 5),
        ("play", 120, (5,), None),          # 60 -> 90
        ("pause", 135, (), 6),
        ("play", 0, (6,), None),            # the resolution itself
        ("summary", 180, (), None),
    ]
    assert pacing.total == pytest.approx(1200) and pacing.playing == pytest.approx(360)
    assert [s.question for s in pacing.segments if s.kind == "pause"] == [
        DECISIONS["acknowledged"], DECISIONS["note"], DECISIONS["action"], DECISIONS["resolved"]]


def test_a_fixed_speed_plays_the_timeline_at_that_factor_and_shares_the_rest():
    pacing = pace(OFFSETS, KINDS, 20, speed=0.5)
    rest = 1200 - 180  # 90 s of drill at half speed
    briefing, pauses, summary = (rest * share / 0.70 for share in (0.10, 0.45, 0.15))
    kinds = {kind: [s.seconds for s in pacing.segments if s.kind == kind] for kind in ("briefing", "pause", "summary")}
    assert pacing.playing == pytest.approx(180)
    assert kinds["briefing"] == [pytest.approx(briefing)] and kinds["summary"] == [pytest.approx(summary)]
    assert kinds["pause"] == [pytest.approx(pauses / 4)] * 4
    assert pacing.total == pytest.approx(1200)


@pytest.mark.parametrize("minutes, speed", [(5, None), (20, None), (45, 3.0), (12.5, 0.5), (60, 0.1)])
def test_segments_add_up_to_the_minutes_and_every_event_plays_once_in_order(minutes, speed):
    offsets = [0, 1, 4, 4, 9, 15, 15, 30, 31, 300]
    kinds = ["started", "injected", "alert_firing", "page", "note", "note", "hint", "action", "hint", "resolved"]
    pacing = pace(offsets, kinds, minutes, speed)
    assert pacing.total == pytest.approx(minutes * 60)
    assert [i for s in pacing.segments for i in s.events] == list(range(len(offsets)))
    pauses = [s.event for s in pacing.segments if s.kind == "pause"]
    assert pauses == [4, 6, 7, 9]  # the first note, the first hint, the action, the resolution: each before its event
    assert sum(s.drill_seconds for s in pacing.segments) == pytest.approx(300)
    order = [s.kind for s in pacing.segments]
    assert order[0] == "briefing" and order[-1] == "summary" and all(s.seconds >= 0 for s in pacing.segments)


def test_a_drill_without_decisions_plays_in_the_pauses_share_too():
    pacing = pace([0, 10, 40], ["started", "injected", "abandoned"], 10)
    assert [s.kind for s in pacing.segments] == ["briefing", "play", "summary"]
    assert pacing.playing == pytest.approx(600 * 0.75) and pacing.speed == pytest.approx(40 / 450)


@pytest.mark.parametrize("offsets, kinds, minutes, speed, field", [
    (OFFSETS, KINDS, 0, None, "minutes"),
    ([0], ["started"], 20, None, "timeline"),
    ([0, 0], ["started", "injected"], 20, None, "timeline"),
    ([0, 9, 5], ["started", "injected", "page"], 20, None, "timeline"),
    (OFFSETS, KINDS, 20, 0, "speed"),
    (OFFSETS, KINDS, 1, 1.5, "speed"),  # 90 s of drill at 1.5x is exactly the 60 s of the lunch
])
def test_impossible_pacing_is_refused_naming_what_to_change(offsets, kinds, minutes, speed, field):
    with pytest.raises(InvalidInput) as refused:
        pace(offsets, kinds, minutes, speed)
    assert refused.value.field == field


def lunch() -> Lunch:
    t0 = 1_700_000_000.0
    events = tuple(Event(t0 + offset, kind, text, data) for offset, kind, text, data in [
        (0, "started", "drill started: Customers cannot pay", {}),
        (5, "injected", "payments_down on payments", {}),
        (10, "page", "page firing: CheckoutErrorRatioHigh", {"status": "firing", "severity": "page"}),
        (20, "acknowledged", "acknowledged by amara", {}),
        (30, "note", "payments answers 503", {}),
        (60, "action", "payments: payments_down fault cleared", {}),
        (90, "resolved", "resolved: the steady state holds again", {}),
    ])
    return Lunch("20261208T093000-payments-down", "Customers cannot pay", "Checkouts are failing.", "resolved",
                 events, response_times(list(events)), 0, 15, "payments is down", ("payments_down on payments",),
                 ("How long to tell shop from payments?",))


def test_the_replay_shows_each_question_before_the_decision_and_the_cause_only_at_the_end():
    lines: list[str] = []
    waited: list[float] = []
    subject = lunch()
    pacing = subject.pacing(20)
    incidentlunch.replay(subject, pacing, out=lines.append, sleep=waited.append)
    assert sum(waited) == pytest.approx(1200) and min(waited) >= 0
    text = "\n".join(lines)
    assert lines[1] == ("scale: 1:30 of the drill plays in 6:00, 4x slower than it happened; the drill itself ran "
                        "15x faster than production, so this is 22:30 of a real incident")
    assert text.index(DECISIONS["acknowledged"]) < text.index("acknowledged by amara")
    assert text.index("payments answers 503") > text.index(DECISIONS["note"]) > text.index("acknowledged by amara")
    assert text.index(DECISIONS["resolved"]) < text.index("resolved: the steady state holds again")
    assert "  +  0:05  injected          the game master injects something (the summary tells what)" in lines
    summary = text.split("SUMMARY")[1]
    assert "payments_down on payments" not in text.split("SUMMARY")[0]
    assert "what was injected: payments_down on payments" in summary and "the cause: payments is down" in summary
    assert "outcome: resolved; TTD 0:05, TTA 0:10, TTM 0:55, TTR 1:25; 0 hints used" in summary
    assert "to discuss: How long to tell shop from payments?" in summary
    # each event is shown after the wait its drill time calls for at 0.25x: the page 5 s of drill after the injection
    played = waited[1:4]
    assert played == [pytest.approx(0), pytest.approx(20), pytest.approx(20)]


def test_the_agenda_lists_every_segment_with_its_start():
    subject = lunch()
    rows = incidentlunch.agenda(subject, subject.pacing(20, speed=1))
    assert rows[0] == (0.0, "briefing (2:39)")  # (1200 - 90) * 0.10 / 0.70 = 158.6 s
    assert rows[1][1] == "play 0:20 of the drill, 3 events (+0:00 started .. +0:10 page) (0:20)"
    assert rows[2][1].startswith(f"pause before acknowledged: {DECISIONS['acknowledged']}")
    assert rows[-1][1].startswith("summary") and rows[-1][0] == pytest.approx(1200 - 1110 * 0.15 / 0.70)


def test_a_drill_record_is_read_from_its_sandbox_and_the_cli_prints_its_agenda(tmp_path, monkeypatch, capsys):
    config = Config.from_env(state_dir=str(tmp_path / "state"))
    run = "20261208T093000-payments-down"
    config.paths.drill_run(run).mkdir(parents=True)
    shutil.copy(CONTENT.drills / "payments-down.yml", config.paths.drill_scenario(run))
    subject = lunch()
    config.paths.drill_timeline(run).write_text("".join(
        json.dumps({"t": e.t, "kind": e.kind, "text": e.text, "data": e.data}) + "\n"
        for e in (*subject.events, Event(subject.events[-1].t + 1, "watcher", "watcher stopped"))))
    with pytest.raises(CheckFailed, match="has not ended"):
        incidentlunch.load(run, config)
    config.paths.drill_results.write_text(json.dumps({"run": run, "scenario": "payments-down", "outcome": "resolved",
                                                      "time_scale": 15}) + "\n")
    loaded = incidentlunch.load(run, config)
    assert [e.kind for e in loaded.events] == [e.kind for e in subject.events]  # the watcher's own line left out
    assert loaded.title == "Customers cannot pay" and loaded.time_scale == 15 and loaded.outcome == "resolved"
    assert loaded.cause.startswith("payments is down") and loaded.questions
    for var, value in config.environment().items():
        monkeypatch.setenv(var, value)
    assert main(["ceremony", "incident-lunch", "last", "--minutes", "15", "--agenda"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "   0:00  briefing (1:30)" and out[-1].endswith("summary (2:15)")
    assert main(["ceremony", "incident-lunch", run, "--minutes", "1", "--speed", "1"]) == 2
    assert "speed: at 1x the 1:30 timeline plays for 1:30" in capsys.readouterr().err
