"""What's alarming you: the review's definitions on a pager history with known noise, flapping and missing
runbooks (every expectation computed by hand), and once on the live sandbox with a real page."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import matplotlib
import pandas as pd
import pytest

from kit import pager
from kit.community import alertreview as ar
from kit.config import Config
from kit.errors import InvalidInput
from kit.runbooks.lint import LIVE_SOURCE, Problem
from kit.shop import faults

matplotlib.use("Agg")

T0 = 1_700_000_000.0
WINDOW = dict(start=T0, end=T0 + 36_000)


def _iso(seconds: float | None) -> str:
    if seconds is None:
        return "0001-01-01T00:00:00Z"  # what Alertmanager sends as a firing alert's endsAt
    return datetime.fromtimestamp(T0 + seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _note(received, name, status, start, end=None, *, fp, severity="page", team="storefront",
          url="runbooks/x.md") -> dict:
    """One line as the pager stores it: a notification of one alert, received at T0 + ``received``."""
    alert = {"status": status, "labels": {"alertname": name, "severity": severity, "instance": "a"},
             "annotations": {"summary": f"{name} summary", "runbook_url": url},
             "startsAt": _iso(start), "endsAt": _iso(end), "fingerprint": fp}
    return {"received_at": T0 + received, "notification": {"receiver": team or pager.UNOWNED_RECEIVER,
                                                            "status": status, "alerts": [alert]}}


HISTORY = [
    _note(-499, "OldPage", "firing", -500, fp="o1"),
    _note(100, "OldPage", "firing", -500, fp="o1"),  # a repeat of a page first sent before the window
    _note(1001, "NoisyPage", "firing", 1000, fp="n1"),
    _note(1030, "NoisyPage", "firing", 1000, fp="n1"),  # the same page again in a group notification
    _note(1061, "NoisyPage", "resolved", 1000, 1060, fp="n1"),
    _note(3001, "LatencyTicket", "firing", 3000, severity="ticket", fp="t1"),
    _note(3031, "LatencyTicket", "resolved", 3000, 3030, severity="ticket", fp="t1"),
    _note(4001, "LatencyTicket", "firing", 4000, severity="ticket", fp="t1"),
    _note(4011, "LatencyTicket", "resolved", 4000, 4010, severity="ticket", fp="t1"),
    _note(5001, "FlappyAlert", "firing", 5000, team="payments", fp="f1"),
    _note(5101, "FlappyAlert", "resolved", 5000, 5100, team="payments", fp="f1"),
    _note(6801, "FlappyAlert", "firing", 6800, team="payments", fp="f1"),
    _note(7401, "FlappyAlert", "resolved", 6800, 7400, team="payments", fp="f1"),
    _note(10000.5, "DrillAlert", "firing", 9999.5, fp="c1"),  # within the drill's second of slack
    _note(10251, "DrillAlert", "resolved", 9999.5, 10250, fp="c1"),  # quick, but acknowledged at 10100
    _note(10501, "DrillAlert", "firing", 10500, fp="c1"),
    _note(10601, "DrillAlert", "resolved", 10500, 10600, fp="c1"),  # quick, nobody acted in [10500, 10600]
    _note(15001, "NoRunbook", "firing", 15000, team="", url="", fp="r1"),
    _note(16001, "NoRunbook", "resolved", 15000, 16000, team="", url="", fp="r1"),
    _note(20001, "NoisyPage", "firing", 20000, fp="n1"),
    _note(20121, "NoisyPage", "resolved", 20000, 20120, fp="n1"),
    _note(30001, "DrillAlert", "firing", 30000, fp="c1"),  # outside the drill, still firing
]
DRILLS = [ar.DrillWindow("d1", T0 + 10_000, T0 + 11_000, (T0 + 10_100, T0 + 10_200))]
RULE_COLUMNS = ["group", "name", "type", "health", "state", "severity", "runbook_url", "query", "labels"]
RULES = pd.DataFrame([
    ("g", name, "alerting", "ok", "inactive", severity, url, "vector(1)", {})
    for name, severity, url in [
        ("NoisyPage", "page", "runbooks/shared.md"), ("FlappyAlert", "page", "runbooks/flappy.md"),
        ("DrillAlert", "page", "https://github.com/example/dojo/blob/main/runbooks/checkout.md#first-checks"),
        ("NoRunbook", "page", ""), ("SilentRule", "page", "runbooks/shared.md"),
        ("LatencyTicket", "ticket", "runbooks/latency.md"), ("OldPage", "page", "runbooks/old.md")]
] + [("g", "job:x:rate5m", "recording", "ok", "", "", "", "vector(1)", {})], columns=RULE_COLUMNS)
PROBLEMS = [
    Problem(LIVE_SOURCE, 0, "alert NoRunbook (group g) pages but has no runbook_url annotation"),
    Problem("runbooks/shared.md", 1, "alert SilentRule links here, but the runbook never names it"),
    Problem("runbooks/checkout.md", 12, "section 'First checks' has no promql block"),
]


def _episodes(*spells) -> pd.DataFrame:
    return pd.DataFrame([(name, series, T0 + a, T0 + b) for name, series, a, b in spells],
                        columns=["alertname", "series", "start", "end"])


FIRING = _episodes(
    ("OldPage", "instance=a", -500, 200),
    ("NoisyPage", "instance=a", 1000, 1060), ("NoisyPage", "instance=a", 20000, 20120),
    ("FlappyAlert", "instance=a", 5000, 5100), ("FlappyAlert", "instance=a", 5600, 5700),
    ("FlappyAlert", "instance=a", 6200, 6300), ("FlappyAlert", "instance=a", 6800, 7400),
    ("FlappyAlert", "instance=b", 5000, 5050),  # overlaps instance a: counted once in the time firing
    ("NoRunbook", "instance=a", 15000, 16000),
)


def _notifications(lines: list[dict], tmp_path) -> pd.DataFrame:
    """The history read back through the pager's own reader, as the live review reads it."""
    config = Config(state_dir=str(tmp_path))
    config.paths.notifications.parent.mkdir(parents=True, exist_ok=True)
    config.paths.notifications.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return pager.notifications(config)


@pytest.fixture
def reviewed(tmp_path) -> ar.AlertReview:
    return ar.review(_notifications(HISTORY, tmp_path), FIRING, DRILLS, RULES, PROBLEMS, **WINDOW)


def test_every_figure_of_the_review_is_the_hand_computed_one(reviewed):
    frame = reviewed.frame.set_index("alertname")
    assert list(reviewed.frame["alertname"]) == ["FlappyAlert", "NoisyPage", "DrillAlert", "NoRunbook", "OldPage",
                                                 "LatencyTicket", "SilentRule"]
    counts = ["pages", "tickets", "drill_pages", "outside_drills", "quick_no_action", "firing_s", "episodes",
              "max_starts", "flapping"]
    assert frame.loc["FlappyAlert", counts].tolist() == [2, 0, 0, 2, 1, 900, 5, 4, True]
    assert frame.loc["NoisyPage", counts].tolist() == [2, 0, 0, 2, 2, 180, 2, 1, False]
    assert frame.loc["DrillAlert", counts].tolist() == [3, 0, 2, 1, 1, 0, 0, 0, False]
    assert frame.loc["NoRunbook", counts].tolist() == [1, 0, 0, 1, 0, 1000, 1, 1, False]
    assert frame.loc["OldPage", counts].tolist() == [0, 0, 0, 0, 0, 200, 0, 0, False]
    assert frame.loc["LatencyTicket", counts].tolist() == [0, 2, 0, 0, 0, 0, 0, 0, False]
    assert frame.loc["SilentRule", counts].tolist() == [0, 0, 0, 0, 0, 0, 0, 0, False]
    assert frame["team"].to_dict() == {"FlappyAlert": "payments", "NoisyPage": "storefront", "DrillAlert": "storefront",
                                       "NoRunbook": "", "OldPage": "", "LatencyTicket": "storefront", "SilentRule": ""}
    assert frame.loc["LatencyTicket", "severity"] == "ticket"


def test_runbooks_are_missing_failing_or_ok_as_the_linter_reported(reviewed):
    frame = reviewed.frame.set_index("alertname")
    assert frame["runbook"].to_dict() == {"FlappyAlert": "ok", "NoisyPage": "ok", "DrillAlert": "failing",
                                          "NoRunbook": "missing", "OldPage": "ok", "LatencyTicket": "ok",
                                          "SilentRule": "failing"}
    # the problem "SilentRule links here" is SilentRule's, not NoisyPage's, though both link to shared.md
    assert frame.loc["DrillAlert", "runbook_detail"] == "runbooks/checkout.md:12: section 'First checks' has no promql block"
    assert frame.loc["NoRunbook", "runbook_detail"].startswith("alert NoRunbook (group g) pages but has no runbook_url")


def test_each_alert_gets_the_actions_its_evidence_calls_for(reviewed):
    assert reviewed.frame.set_index("alertname")["action"].to_dict() == {
        "FlappyAlert": ar.DAMPEN, "NoisyPage": ar.DELETE, "DrillAlert": ar.FIX_RUNBOOK,
        "NoRunbook": f"{ar.WRITE_RUNBOOK}; {ar.ROUTE}", "OldPage": ar.KEEP, "LatencyTicket": ar.KEEP,
        "SilentRule": ar.FIX_RUNBOOK}
    assert reviewed.to_act_on == ["FlappyAlert", "NoisyPage", "DrillAlert", "NoRunbook", "SilentRule"]
    why = reviewed.frame.set_index("alertname")["why"]
    assert why["FlappyAlert"] == "one series started 4 times within 1:00:00"
    assert why["NoisyPage"] == "all 2 pages resolved within 5:00 with no action"


def test_a_page_is_counted_once_and_belongs_to_the_drill_it_started_in(reviewed):
    pages = reviewed.pages
    assert len(pages) == 10  # 8 pages and 2 tickets; OldPage's repeat in the window is no new page
    drill = pages[pages["alertname"] == "DrillAlert"].sort_values("started")
    assert drill["drill"].tolist() == ["d1", "d1", ""]
    assert drill["quick_no_action"].tolist() == [False, True, False]
    assert drill["ended"].isna().tolist() == [False, False, True]


def test_a_minority_of_noise_asks_for_a_higher_threshold_and_an_unloaded_rule_is_unchecked(tmp_path):
    lines = [_note(100 * i + 1, "HalfNoisy", "firing", 100 * i, fp=f"h{i}") for i in range(4)]
    lines += [_note(100 * i + 60, "HalfNoisy", "resolved", 100 * i, 100 * i + 50, fp=f"h{i}") for i in range(2)]
    found = ar.review(_notifications(lines, tmp_path), _episodes(), [], pd.DataFrame(columns=RULE_COLUMNS), [],
                      **WINDOW)
    row = found.frame.iloc[0]
    assert (row.pages, row.quick_no_action, row.runbook, row.action) == (4, 2, "unchecked", ar.TUNE)


def test_episodes_split_where_the_alert_stopped_firing():
    times = [0, 1, 2, 3, 4, 10, 11, 12]
    samples = pd.DataFrame({"__name__": "ALERTS", "alertname": "A", "alertstate": "firing", "instance": "a",
                            "timestamp": pd.to_datetime([T0 + t for t in times], unit="s", utc=True), "value": 1.0})
    other = samples.head(2).assign(instance="b")
    found = ar.episodes(pd.concat([samples, other], ignore_index=True), step=1.0)
    assert [(r.series, r.start - T0, r.end - T0) for r in found.itertuples()] == [
        ("instance=a", 0, 5), ("instance=a", 10, 13), ("instance=b", 0, 2)]


def test_thresholds_scale_with_the_profile_and_refuse_nonsense():
    assert ar.Thresholds().scaled(15) == ar.Thresholds(quick_s=20.0, flap_window_s=240.0)
    with pytest.raises(InvalidInput, match="quick_s"):
        ar.Thresholds(quick_s=0)
    with pytest.raises(InvalidInput, match="window"):
        ar.review(pd.DataFrame(columns=pager.NOTIFICATION_COLUMNS), _episodes(), [], RULES, [], start=T0, end=T0)


def test_the_text_table_and_the_plot_show_the_review(reviewed):
    text = str(reviewed)
    assert text.splitlines()[0].startswith("What's alarming you: 7 alerts, 8 pages (6 outside drills) over 10:00:00")
    assert "FlappyAlert" in text and "4 FLAPPING" in text and "why:" in text
    ax = reviewed.plot()
    assert sum(patch.get_height() for patch in ax.patches) == 8  # every page, stacked once
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["DrillAlert", "FlappyAlert", "NoRunbook",
                                                                         "NoisyPage"]
    assert json.loads(json.dumps(reviewed.as_dict()))["alerts"][0]["flapping"] is True


def test_drill_windows_are_read_from_the_timelines(tmp_path):
    config = Config(state_dir=str(tmp_path))
    timelines = {
        "r1": [(10, "started"), (20, "acknowledged"), (30, "action"), (35, "note"), (40, "ended")],
        "r2": [(50, "started"), (55, "note")],  # stopped without ending: it ends at its last event
        "r3": [(60, "started"), (61, "action")],  # the running drill
    }
    for run, events in timelines.items():
        config.paths.drill_run(run).mkdir(parents=True)
        config.paths.drill_timeline(run).write_text(
            "".join(json.dumps({"t": t, "kind": kind, "text": kind, "data": {}}) + "\n" for t, kind in events))
    config.paths.active_drill.write_text(json.dumps({"run": "r3"}))
    assert ar.drill_windows(config) == [ar.DrillWindow("r1", 10, 40, (20, 30)), ar.DrillWindow("r2", 50, 55, ()),
                                        ar.DrillWindow("r3", 60, None, (61,))]


def test_a_real_page_shows_in_the_ceremony(clean_faults):
    since = time.time()
    faults.set_fault("errors", ratio=1.0, route="checkout", config=clean_faults)
    pager.wait_for_page("CheckoutErrorRatioHigh", since=since, timeout=30, config=clean_faults)
    result = subprocess.run([sys.executable, "-m", "kit.cli", "ceremony", "alarming", "--since", "10m", "--json"],
                            capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert result.returncode in (0, 1), result.stderr
    data = json.loads(result.stdout)
    rows = {row["alertname"]: row for row in data["alerts"]}
    checkout = rows["CheckoutErrorRatioHigh"]
    assert checkout["pages"] >= 1 and checkout["outside_drills"] >= 1 and checkout["firing_s"] > 0
    assert checkout["team"] and checkout["runbook"] == "ok", checkout
    assert data["thresholds"]["quick_s"] == 300 / clean_faults.profile_spec.time_scale
    assert result.returncode == (1 if any(row["action"] != ar.KEEP for row in data["alerts"]) else 0)
