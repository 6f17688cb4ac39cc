"""Community health on a small hand-computed community: membership, cohort retention, rotation fairness (Gini and
chi-square against fair shares, and the rotations that did not rotate), shares and experiments per month, drill
outcomes, skills, each team's drills and postmortems beside its pulse; then `kit cop health` on the example."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from kit.cli import main
from kit.community import health, healthreport, pulse
from kit.community.records import Experiment, Member, Records, Rotation, Session, Share, Team
from kit.config import CONTENT

TODAY = date(2026, 3, 31)


def _member(handle: str, joined: date, experience: str, left: date | None = None) -> Member:
    return Member(handle, handle.title(), joined, experience, None, None, left, f"community/members/{handle}.yaml")


def _session(ident: str, day: date, kind: str, subject: str, attendees: list[str], turns: list[dict],
             run: str | None = None, team: str = "t") -> Session:
    rotations = tuple(Rotation({role: (who,) if isinstance(who, str) else tuple(who) for role, who in t.items()})
                      for t in turns)
    return Session(ident, day, kind, subject, team, 60, tuple(attendees), rotations, run, "", f"sessions/{ident}")


def _experiment(ident: str, started: date, ended: date | None, outcome: str, after: float | None) -> Experiment:
    return Experiment(ident, ident, ("ann",), "t", "h", "c", "median TTA", "s", "lower", 10.0, after, started, ended,
                      outcome, f"experiments/{ident}")


def _noon(day: date) -> float:
    return datetime(day.year, day.month, day.day, 12).timestamp()


@pytest.fixture
def community() -> Records:
    """Four members in two cohorts (cat leaves in March), three sessions in which ann always drives and ben always
    writes, three shares, one judged and one running experiment."""
    members = (_member("ann", date(2026, 1, 5), "experienced"), _member("ben", date(2026, 1, 20), "newcomer"),
               _member("cat", date(2026, 2, 10), "newcomer", left=date(2026, 3, 15)),
               _member("dan", date(2026, 2, 1), "experienced"))
    sessions = (
        _session("s1", date(2026, 1, 25), "lab", "L0", ["ann", "ben"],
                 [{"driver": "ann", "scribe": "ben"}, {"driver": "ann", "scribe": "ben"}]),
        _session("s2", date(2026, 2, 15), "lab", "L1", ["ann", "ben", "cat", "dan"],
                 [{"driver": "ann", "navigator": "dan", "scribe": "ben"},
                  {"driver": "ann", "navigator": "cat", "scribe": "ben"}]),
        _session("s3", date(2026, 3, 5), "drill", "D0", ["ann", "dan"], [{"driver": "ann", "navigator": "dan"}],
                 run="r1"),
    )
    shares = (Share("h1", date(2026, 1, 28), "talk", "x", ("ann",), None, None, "shares/h1"),
              Share("h2", date(2026, 3, 2), "runbook", "y", ("dan",), None, "runbooks/y.md", "shares/h2"),
              Share("h3", date(2026, 3, 20), "demo", "z", ("ben",), None, None, "shares/h3"))
    experiments = (_experiment("e1", date(2026, 2, 1), date(2026, 3, 10), "adopted", 6.0),
                   _experiment("e2", date(2026, 3, 1), None, "running", None))
    teams = (Team("t", "Team T", ("ann", "ben", "cat", "dan"), date(2026, 1, 5), "teams/t"),
             Team("u", "Team U", ("ann",), date(2026, 1, 5), "teams/u"))
    return Records(Path("community"), members, teams, sessions, shares, experiments, (), None)


DRILLS = [
    {"run": "r1", "scenario": "D0", "outcome": "resolved", "secret": False, "ended_at": _noon(date(2026, 3, 5)),
     "ttd_s": 30.0, "tta_s": 60.0, "ttm_s": 200.0, "ttr_s": 300.0, "hints_used": 1},
    {"run": "r2", "scenario": "D1", "outcome": "abandoned", "secret": True, "ended_at": _noon(date(2026, 3, 20)),
     "ttd_s": 50.0, "tta_s": None, "ttm_s": None, "ttr_s": None, "hints_used": 3},
]


def test_months_and_gini():
    assert health.months(date(2025, 11, 30), date(2026, 2, 1)) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert health.months(date(2026, 2, 1), date(2026, 1, 31)) == []
    assert health.gini([1, 1, 1]) == 0
    assert health.gini([0, 0, 0, 4]) == pytest.approx(0.75)  # (n - 1) / n: one holds everything
    assert health.gini([0, 0, 2, 2]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        health.gini([0, 0])


def test_membership_per_month(community):
    frame = health.membership(community, TODAY)
    assert list(frame.columns) == list(health.MEMBERSHIP_COLUMNS)
    rows = [tuple(r) for r in frame.drop(columns="active_share").itertuples(index=False)]
    assert rows == [("2026-01", 2, 2, 0, 1, 2, 2), ("2026-02", 4, 2, 0, 1, 4, 4), ("2026-03", 3, 0, 1, 1, 2, 2)]
    assert list(frame["active_share"]) == pytest.approx([1.0, 1.0, 2 / 3])


def test_cohort_retention(community):
    frame = health.retention(community, TODAY)
    assert list(frame.columns) == list(health.RETENTION_COLUMNS)
    rows = [tuple(r) for r in frame.itertuples(index=False)]
    # January's ann and ben both came in January and February; only ann in March. February's cat and dan both
    # came in February; in March cat had left and only dan came.
    assert rows == [("2026-01", 2, 0, 2, 2, 1.0), ("2026-01", 2, 1, 2, 2, 1.0), ("2026-01", 2, 2, 2, 1, 0.5),
                    ("2026-02", 2, 0, 2, 2, 1.0), ("2026-02", 2, 1, 1, 1, 0.5)]
    table = frame.pivot(index="cohort", columns="month", values="retained")
    assert math.isnan(table.loc["2026-02", 2])


def test_rotation_fairness_against_fair_shares(community):
    from scipy.stats import chi2  # here, not at collection: scipy costs every pytest process a second to import

    found = health.rotation_fairness(community)
    turns = found.turns.set_index(["role", "member"])
    # A session's turns of a role are shared out over its attendees: driver 2/2 (s1) + 2/4 (s2) + 1/2 (s3).
    assert turns.loc[("driver", "ann"), "expected"] == pytest.approx(2.0)
    assert turns.loc[("driver", "ben"), "expected"] == pytest.approx(1.5)
    assert turns.loc[("driver", "cat"), "expected"] == pytest.approx(0.5)
    assert turns.loc[("driver", "dan"), "expected"] == pytest.approx(1.0)
    assert turns.loc[("driver", "ann"), "turns"] == 5 and turns.loc[("driver", "ann"), "sessions"] == 3
    assert turns.loc[("driver", "ben"), "turns"] == 0 and turns.loc[("driver", "ann"), "share"] == 1.0
    roles = {f.role: f for f in found.roles}
    driver = roles["driver"]
    # chi-square: (5 - 2)^2 / 2 + 1.5 + 0.5 + 1 = 7.5 on 3 degrees of freedom; Gini (n - 1) / n = 0.75
    assert (driver.turns, driver.members, driver.most) == (5, 4, "ann")
    assert driver.chi2 == pytest.approx(7.5) and driver.p_value == pytest.approx(chi2.sf(7.5, 3))
    assert driver.gini == pytest.approx(0.75) and not driver.reliable
    navigator = roles["navigator"]
    # fair shares ann 1, ben .5, cat .5, dan 1; held dan 2, cat 1: chi-square 1 + .5 + .5 + 1; ratios 0, 0, 2, 2
    assert navigator.chi2 == pytest.approx(3.0) and navigator.gini == pytest.approx(0.5)
    assert [str(a) for a in found.always] == [
        "ann held no role but driver in 3 sessions", "ben held no role but scribe in 2 sessions",
        "dan held no role but navigator in 2 sessions", "ann was the only driver in 3 sessions",
        "ben was the only scribe in 2 sessions"]
    assert health.rotation_fairness(community, min_sessions=3).always == (
        health.Always("only-role", "ann", "driver", 3), health.Always("sole-holder", "ann", "driver", 3))


def test_fair_rotation_is_even():
    members = tuple(_member(h, date(2026, 1, 1), "newcomer") for h in ("a", "b"))
    sessions = tuple(_session(f"s{i}", date(2026, 1, 10 + i), "lab", "L0", ["a", "b"],
                              [{"driver": "a", "navigator": "b"}, {"driver": "b", "navigator": "a"}]) for i in range(3))
    found = health.rotation_fairness(Records(Path("c"), members, (), sessions, (), (), (), None))
    assert all(f.gini == 0 and f.chi2 == 0 and f.p_value == pytest.approx(1.0) for f in found.roles)
    assert all(f.reliable is False for f in found.roles)  # fair shares of 3 turns: below Cochran's 5
    assert found.always == ()


def test_shares_and_experiments_per_month(community):
    frame = health.activity(community, TODAY)
    assert list(frame.columns) == list(health.ACTIVITY_COLUMNS)
    assert list(frame["sessions"]) == [1, 1, 1] and list(frame["attendance"]) == [2, 4, 2]
    assert list(frame["mixed_sessions"]) == [1, 1, 0]  # March's drill had two experienced members only
    assert list(frame["shares"]) == [1, 0, 2] and list(frame["talk"]) == [1, 0, 0]
    assert list(frame["runbook"]) == [0, 0, 1] and list(frame["demo"]) == [0, 0, 1]
    assert list(frame["experiments_started"]) == [0, 1, 1] and list(frame["experiments_judged"]) == [0, 0, 1]
    assert list(frame["experiments_adopted"]) == [0, 0, 1] and list(frame["experiments_improved"]) == [0, 0, 1]
    assert list(frame["experiments_running"]) == [0, 1, 1]
    assert health.activity(community, date(2026, 3, 9))["experiments_judged"].sum() == 0  # judged on the 10th


def test_three_metric_families(community):
    families = health.metric_families(community, DRILLS, TODAY)
    assert list(families.shares["shares"]) == [1, 0, 2]
    assert list(families.experiments.columns) == ["month", "started", "judged", "adopted", "improved", "running"]
    march = families.outcomes.set_index("month").loc["2026-03"]
    assert (march["drills"], march["resolved"]) == (2, 1)
    assert (march["median_ttd_s"], march["median_tta_s"], march["median_ttr_s"]) == (40.0, 60.0, 300.0)
    assert march["hints_per_drill"] == 2.0
    assert families.outcomes.set_index("month").loc["2026-01", "drills"] == 0
    assert [(i.experiment, i.before, i.after, i.improved) for i in families.improvements] == [("e1", 10.0, 6.0, True)]


def test_skills_per_member(community):
    found = health.skills(community, DRILLS, labs=["L0", "L1", "L2"])
    rows = found.frame.set_index("member")
    assert rows.loc["ann", "labs"] == ("L0", "L1") and rows.loc["ann", "drills"] == ("D0",)
    assert rows.loc["ann", "drill_modes"] == ("announced",) and rows.loc["ann", "labs_missing"] == ("L2",)
    assert rows.loc["ann", "labs_done"] == 2
    assert rows.loc["cat", "labs"] == ("L1",) and rows.loc["cat", "labs_missing"] == ("L0", "L2")
    assert rows.loc["ben", "drills"] == () and rows.loc["ben", "drill_modes"] == ()
    assert found.matrix.loc["ann"].to_dict() == {"drill:D0": 1, "lab:L0": 1, "lab:L1": 1}
    assert found.matrix.loc["ben"].to_dict() == {"drill:D0": 0, "lab:L0": 1, "lab:L1": 1}


def _round(team: str, sets: int, day: date = date(2026, 3, 25)) -> pulse.PulseRound:
    return pulse.PulseRound(team, day, ((3, 5, 3, 5, 3, 5, 5),) * sets, f"pulse/{team}")


def test_team_practice_beside_its_pulse(community):
    teams = health.team_practice(community, DRILLS, {"r1": ()}, [_round("t", 5), _round("u", 4)])
    t, u = teams
    assert (t.team, t.drills, t.kept, t.resolved, t.ttd_s, t.tta_s, t.ttr_s, t.hints_per_drill) == (
        "t", 1, 1, 1, 30.0, 60.0, 300.0, 1.0)
    assert (t.postmortems_complete, t.postmortems_open) == (1, 0)
    assert t.pulse.reported and t.pulse.score == pytest.approx(5.0)
    assert u.drills == 0 and math.isnan(u.ttr_s) and not u.pulse.reported and u.pulse.score is None
    draft = health.team_practice(community, DRILLS, {"r1": ("Action items",)})[0]
    assert (draft.postmortems_complete, draft.postmortems_open, draft.pulse) == (0, 1, None)
    assert health.team_practice(community, DRILLS, None)[0].postmortems_open == 1  # no postmortem file


def test_a_chaos_day_mobs_drill_is_found_in_its_own_results_file_though_its_run_id_repeats(community):
    """Team u's session names the results file of its Chaos Day sandbox; its run id is team t's own drill's."""
    mob = replace(_session("s4", date(2026, 3, 5), "drill", "D1", ["ann"], [{"driver": "ann"}], run="r1", team="u"),
                  drill_results="/days/u/drills/results.jsonl")
    records = replace(community, sessions=(*community.sessions, mob))
    theirs = {**DRILLS[1], "run": "r1", "results": "/days/u/drills/results.jsonl"}
    key = health.drill_key("/days/u/drills/results.jsonl", "r1")
    t, u = health.team_practice(records, [*DRILLS, theirs], {"r1": (), key: ("Timeline",)})
    assert (t.kept, t.resolved, t.ttd_s, t.postmortems_complete) == (1, 1, 30.0, 1)  # t's own r1, not u's
    assert (u.kept, u.resolved, u.ttd_s, u.hints_per_drill, u.postmortems_open) == (1, 0, 50.0, 3.0, 1)
    modes = health.skills(records, [*DRILLS, theirs]).frame.set_index("member")["drill_modes"]
    assert modes["ann"] == ("announced", "secret")  # t's r1 announced, u's r1 secret
    assert modes["dan"] == ("announced",)


def test_report_text_puts_the_families_first_and_hides_a_round_below_the_floor(community):
    report = healthreport.health_report(community, TODAY, drills=DRILLS, postmortems={"r1": ()},
                                        pulse=[_round("t", 5), _round("u", 4)], labs=["L0", "L1", "L2"])
    shown = str(report)
    assert shown.index("1. Shares and collaboration") < shown.index("2. Kaizen experiments") \
        < shown.index("3. Outcomes") < shown.index("Members and attendance")
    assert "5.0 of 7 (5 answers, 2026-03-25)" in shown
    assert "not enough answers to report (2026-03-25)" in shown
    assert "always: ann was the only driver in 3 sessions" in shown
    assert report.members == 3
    page = healthreport.html(report, charts=False)
    assert page.count("data-family=") == 3 and "<script" not in page
    assert "<td class=\"not-enough\">not enough answers to report (2026-03-25)</td>" in page


@pytest.fixture
def example(tmp_path: Path, monkeypatch) -> Path:
    """The example community in a repository of its own, and a sandbox state with no drill results."""
    for name in ("solutions", "drills", "runbooks", "catalog"):
        (tmp_path / name).symlink_to(CONTENT.root / name)
    shutil.copytree(CONTENT.community, tmp_path / "community")
    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "community"


def test_kit_cop_health_writes_the_page_and_the_charts(example, tmp_path, capsys):
    for _ in range(5):
        assert main(["cop", "pulse", "add", "--team", "mob-a", "--answers", "2,6,1,6,2,7,6", "--date",
                     "2026-11-20", "--folder", str(example)]) == 0
    page, charts = tmp_path / "health.html", tmp_path / "health.png"
    assert main(["cop", "health", "--folder", str(example), "--today", "2026-11-30", "--html", str(page),
                 "--plot", str(charts)]) == 0
    out = capsys.readouterr().out
    assert "Community health of community/ on 2026-11-30: 9 members" in out
    assert "6.3 of 7 (5 answers, 2026-11-20)" in out  # (6 + 6 + 7 + 6 + 6 + 7 + 6) / 7
    text = page.read_text()
    assert text.count("<svg") == 7 and "The three metric families" in text
    assert charts.read_bytes()[:4] == b"\x89PNG"


def test_the_page_in_a_real_browser_shows_the_three_families_side_by_side(community, tmp_path):
    import shutil as which

    from playwright.sync_api import sync_playwright

    from tests.jupyterpages import CHROMIUM_FLAGS

    report = healthreport.health_report(community, TODAY, drills=DRILLS, postmortems={"r1": ()},
                                        pulse=[_round("t", 5), _round("u", 4)])
    path = tmp_path / "health.html"
    path.write_text(report.html())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=which.which("chromium"), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri())
            boxes = [page.locator(f'[data-family="{i}"]').bounding_box() for i in (1, 2, 3)]
            assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"]  # one row: the three families on one page
            assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
            for i in (1, 2, 3):
                chart = page.locator(f'[data-family="{i}"] svg').bounding_box()
                assert chart["width"] > 200 and chart["height"] > 100
            below = page.locator('[data-table="teams"] td.not-enough')
            assert below.inner_text() == "not enough answers to report (2026-03-25)"
            assert below.evaluate("cell => getComputedStyle(cell).fontStyle") == "italic"
            assert "5.0 of 7 (5 answers, 2026-03-25)" in page.locator('[data-table="teams"]').inner_text()
            assert requests == [path.as_uri()]  # self-contained: nothing else fetched
        finally:
            browser.close()
