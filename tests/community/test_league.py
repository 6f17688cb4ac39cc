"""The Reliability League: a season scored by hand (team size, a tie, every kind of award, what stays unscored),
every point traced to its record, the rules file's mistakes named, the sources read from files, `kit league`,
and the league page in a real Chromium: a point's link lands on its record."""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml

from kit.cli import main
from kit.community import league, leaguesources
from kit.community.league import (AlertReviewFile, Badge, DrillRow, GradeRow, ReadinessResult, Release, Results,
                                  ReviewedAlert, Rules, Sources)
from kit.community.records import Member, Records, Rotation, Session, Share, Team, Experiment
from kit.config import CONTENT
from kit.errors import InvalidInput

D = date
POINTS = {"lab-point": 0.5, "lab-full-marks": 2, "drill-resolved": 10, "drill-abandoned": 3, "drill-faster": 1,
          "drill-hint": -1, "alert-kept": 1, "alert-fixed": 4, "release-promoted": 4, "change-failure": -2,
          "readiness-review": 3, "experiment-completed": 5, "experiment-adopted": 2, "share-talk": 4,
          "share-write-up": 3, "share-runbook": 5, "share-demo": 2, "pairing": 2}
BADGES = (Badge("first-responders", "First responders", "resolved a drill", {"drill-resolved": 1}),
          Badge("quiet-pager", "Quiet pager", "kept two, fixed one", {"alert-kept": 2, "alert-fixed": 1}),
          Badge("sidekick", "SRE sidekick", "paired twice", {"pairing": 2}))


def _rules(**changes) -> Rules:
    values = dict(name="2026-autumn", start=D(2026, 9, 1), end=D(2026, 12, 31), points=POINTS, badges=BADGES,
                  normalise="sqrt", reference_size=4, sources=Sources(alert_teams={"shop-team": "green"}),
                  source="community/league.yaml")
    return Rules(**{**values, **changes})


def _member(handle: str, experience: str, left: date | None = None, catalog: str | None = None) -> Member:
    return Member(handle, handle.title(), D(2026, 1, 1), experience, catalog, None, left,
                  f"community/members/{handle}.yaml")


def _session(ident: str, day: date, kind: str, team: str | None, attendees: tuple[str, ...],
             rotations: tuple[dict, ...] = (), run: str | None = None) -> Session:
    return Session(ident, day, kind, "x", team, 60, attendees,
                   tuple(Rotation({role: (h,) for role, h in r.items()}) for r in rotations), run, "",
                   f"community/sessions/{ident}.yaml")


def _season() -> Results:
    """A season worked out by hand (reference size 4, sqrt normalisation; points as ``POINTS``):

    red (ann; 1 member, factor sqrt(4/1) = 2):
        drill r1 resolved 10, 2 hints 2 x -1 = -2 (its first drill: nothing to be faster than); lab 01: 4 points
        x 0.5 = 2.                                                               raw 10, points 10 x 2 = 20
    blue (cat, dan, eve, fay, hal; hal left before the season: 4 members, factor 1):
        pairing in blue-lab (newcomer dan with cat) 2; lab 01 handed in as the team: 10 x 0.5 = 5, full marks 2;
        a talk by cat and dan, once for the team 4; experiment x1 adopted 5 + 2.
                                                                2 + 7 + 4 + 7 = raw 20, points 20 x 1 = 20
    green (gus, ivy, jo, kim; 4 members, factor 1):
        drill g0 (before the season: no points, the baseline TTD 100 TTA 50 TTR 400); g1 resolved 10, TTD 80 < 100
        faster 1 (TTA 60 > 50, TTR none); g2 abandoned 3, 1 hint -1 = 13;
        alerts (shop-team's are green's): review 1 SlowBurn paged, kept 1 (HighErrorRate to act on); review 2
        HighErrorRate kept 1 + fixed 4 (an action last time, none now) = 6;
        releases: 1.0 by gus (as catalog user gus-cat) promoted 4, 1.1 by ivy rolled back -2, readiness of 1.0
        with nothing open 3 = 5.                                    13 + 6 + 5 = raw 24, points 24 x 1 = 24
    gray (lee; 1 member, factor 2): nothing, 0.

    Ranks: green 1 (24); blue and red tie on 20 and share rank 2 (listed by id); gray 4, the rank after two
    seconds. Unscored (five): gradebook student zed, green-g3's run not in the results, review 2's Stray (team
    other), release 2.0 by robot, the readiness review of 9.9 (never deployed).
    """
    members = tuple(_member(h, e, left, cat) for h, e, left, cat in (
        ("ann", "experienced", None, None), ("cat", "experienced", None, None), ("dan", "newcomer", None, None),
        ("eve", "experienced", None, None), ("fay", "newcomer", None, None),
        ("hal", "experienced", D(2026, 8, 1), None), ("gus", "experienced", None, "gus-cat"),
        ("ivy", "newcomer", None, None), ("jo", "newcomer", None, None), ("kim", "experienced", None, None),
        ("lee", "experienced", None, None)))
    teams = tuple(Team(i, i.title(), tuple(m), D(2026, 1, 1), f"community/teams/{i}.yaml") for i, m in (
        ("red", ["ann"]), ("blue", ["cat", "dan", "eve", "fay", "hal"]), ("green", ["gus", "ivy", "jo", "kim"]),
        ("gray", ["lee"])))
    sessions = (
        _session("red-drill", D(2026, 9, 10), "drill", "red", ("ann",), run="r1"),
        _session("blue-lab", D(2026, 9, 15), "lab", "blue", ("cat", "dan", "eve", "fay"),
                 ({"driver": "dan", "navigator": "cat"}, {"driver": "cat", "navigator": "dan"})),
        _session("green-g0", D(2026, 8, 20), "drill", "green", ("gus", "ivy"), ({"incident commander": "gus"},),
                 run="g0"),
        _session("green-g1", D(2026, 9, 20), "drill", "green", ("gus",), run="g1"),
        _session("green-g2", D(2026, 10, 1), "drill", "green", ("jo", "ivy"), run="g2"),
        _session("green-g3", D(2026, 10, 8), "drill", "green", ("kim",), run="missing"),
        _session("all-review", D(2026, 11, 3), "ceremony", None, ("ann", "dan")),
    )
    shares = (Share("s1", D(2026, 9, 30), "talk", "Burn rates", ("cat", "dan"), None, None, "community/shares/s1.yaml"),
              Share("s2", D(2027, 1, 5), "demo", "After the season", ("ann",), None, None, "community/shares/s2.yaml"))
    experiments = (
        Experiment("x1", "Shorter turns", ("cat",), "blue", "h", "c", "m", "s", "lower", 10, 7, D(2026, 9, 1),
                   D(2026, 10, 20), "adopted", "community/experiments/x1.yaml"),
        Experiment("x2", "Still running", ("gus",), None, "h", "c", "m", "s", "lower", 10, None, D(2026, 9, 1), None,
                   "running", "community/experiments/x2.yaml"))
    records = Records(Path("community"), members, teams, sessions, shares, experiments, (), None)
    grades = tuple(GradeRow("01", student, total, 10, "", D(2026, 9, 16), "grades/01.csv")
                   for student, total in (("ann", 4), ("blue", 10), ("zed", 9)))
    drills = {r.run: r for r in (
        DrillRow("r1", "payments-down", "resolved", 30, 20, 300, 2, "drills/results.jsonl:1"),
        DrillRow("g0", "payments-down", "resolved", 100, 50, 400, 0, "drills/results.jsonl:2"),
        DrillRow("g1", "slow-burn", "resolved", 80, 60, None, 0, "drills/results.jsonl:3"),
        DrillRow("g2", "memory-leak", "abandoned", 200, None, None, 1, "drills/results.jsonl:4"))}
    reviews = (
        AlertReviewFile("community/reviews/1.json", D(2026, 9, 25), (
            ReviewedAlert("HighErrorRate", "shop-team", 3, "delete it or demote it to a ticket"),
            ReviewedAlert("SlowBurn", "shop-team", 2, "keep"))),
        AlertReviewFile("community/reviews/2.json", D(2026, 10, 25), (
            ReviewedAlert("HighErrorRate", "shop-team", 1, "keep"), ReviewedAlert("SlowBurn", "shop-team", 0, "keep"),
            ReviewedAlert("Stray", "other", 2, "keep"))))
    releases = (Release("1.0", "gus-cat", D(2026, 10, 2), True, False, D(2026, 10, 3), "deploys.jsonl"),
                Release("1.1", "ivy", D(2026, 10, 9), True, True, D(2026, 10, 10), "deploys.jsonl"),
                Release("2.0", "robot", D(2026, 10, 11), True, False, D(2026, 10, 12), "deploys.jsonl"))
    readiness = (ReadinessResult("readiness/shop-1.0.md", "shop", "1.0", 0),
                 ReadinessResult("readiness/shop-1.1.md", "shop", "1.1", 2),
                 ReadinessResult("readiness/shop-9.9.md", "shop", "9.9", 0))
    return Results(records, grades, drills, reviews, releases, readiness)


@pytest.fixture(scope="module")
def scored() -> league.League:
    return league.score(_rules(), _season())


def test_hand_computed_season(scored):
    table = [(s.rank, s.team, s.size, s.raw, s.factor, s.points) for s in scored.standings]
    assert table == [(1, "green", 4, 24, 1.0, 24), (2, "blue", 4, 20, 1.0, 20), (2, "red", 1, 10, 2.0, 20),
                     (4, "gray", 1, 0, 2.0, 0)]
    kinds = {s.team: sorted((a.kind, a.points) for a in s.awards) for s in scored.standings}
    assert kinds["red"] == [("drill-hint", -2), ("drill-resolved", 10), ("lab-point", 2)]
    assert kinds["blue"] == [("experiment-adopted", 2), ("experiment-completed", 5), ("lab-full-marks", 2),
                             ("lab-point", 5), ("pairing", 2), ("share-talk", 4)]
    assert kinds["green"] == [("alert-fixed", 4), ("alert-kept", 1), ("alert-kept", 1), ("change-failure", -2),
                              ("drill-abandoned", 3), ("drill-faster", 1), ("drill-hint", -1), ("drill-resolved", 10),
                              ("readiness-review", 3), ("release-promoted", 4)]
    faster = next(a for a in scored.standing("green").awards if a.kind == "drill-faster")
    assert "TTD 80 s" in faster.why and "(100 s)" in faster.why
    assert {(u.source, u.entry) for u in scored.unscored} == {
        ("grades/01.csv", "zed"), ("community/sessions/green-g3.yaml", "missing"),
        ("community/reviews/2.json", "Stray"), ("deploys.jsonl", "2.0"), ("readiness/shop-9.9.md", "9.9")}
    badges = {s.team: [b.badge.id for b in s.badges] for s in scored.standings}
    assert badges == {"green": ["first-responders", "quiet-pager"], "blue": [], "red": ["first-responders"],
                      "gray": []}
    assert [(a.kind, a.entry) for a in scored.standing("green").badges[1].evidence] == [
        ("alert-kept", "SlowBurn"), ("alert-kept", "HighErrorRate"), ("alert-fixed", "HighErrorRate")]


def test_team_size_normalisation():
    # red (1 member) has raw 10, blue (4 members) raw 20, reference size 4:
    # sqrt: red 10 x sqrt(4/1) = 20, blue 20 x 1 = 20; per-member: red 10 x 4 = 40, blue 20; none: 10 and 20
    for method, red, blue in (("sqrt", 20, 20), ("per-member", 40, 20), ("none", 10, 20)):
        found = league.score(_rules(normalise=method), _season())
        assert (found.standing("red").points, found.standing("blue").points) == (red, blue), method
    assert league.factor(_rules(), 9) == pytest.approx(2 / 3)
    assert league.factor(_rules(normalise="per-member", reference_size=5), 2) == 2.5


def test_a_tie_shares_its_rank_and_skips_the_next(scored):
    assert [s.rank for s in scored.standings] == [1, 2, 2, 4]
    # as frame and table show it
    frame = scored.frame()
    assert list(frame.columns) == league.COLUMNS
    assert frame[["rank", "team", "points"]].values.tolist() == [[1, "green", 24.0], [2, "blue", 20.0],
                                                                 [2, "red", 20.0], [4, "gray", 0.0]]
    assert re.search(r"^2\s+Red\s+1\s+20\.00\s+10\s", scored.table(), re.M)


def test_every_point_is_traced(scored):
    for s in scored.standings:
        assert sum(a.points for a in s.awards) == s.raw
        assert sum(a.points * s.factor for a in s.awards) == pytest.approx(s.points)
        assert all(a.team == s.team and a.source and a.entry for a in s.awards)
    assert sum(len(s.awards) for s in scored.standings) == len(scored.awards)
    page = scored.html("file:///repo/")
    ids = set(re.findall(r"id='([^']+)'", page))
    links = re.findall(r"href='#([^']+)'", page)
    assert links and set(links) <= ids
    points = re.findall(r"<a class='point' href='#([^']+)' data-points='([^']+)'>", page)
    assert len(points) == len(scored.awards)
    assert math.isclose(sum(float(p) for _, p in points), sum(a.points for a in scored.awards))
    for a in scored.awards:
        assert f"id='{league.anchor(a.source, a.entry)}'" in page
    trend = scored.trend()
    last = trend.groupby("team")["points"].last()
    assert last.to_dict() == pytest.approx({s.team: s.points for s in scored.standings})


def test_season_bounds_and_an_unknown_alert_team():
    assert league.score(_rules(start=D(2027, 1, 1), end=D(2027, 1, 31)), _season()).standing("red").raw == 2  # s2, a demo
    with pytest.raises(InvalidInput, match=r"community/league.yaml: sources.alert_teams.shop-team: 'pink' is not a team"):
        league.score(_rules(sources=Sources(alert_teams={"shop-team": "pink"})), _season())


# ---------------------------------------------------------------- the rules file


GOOD = CONTENT.community / leaguesources.RULES


def _write_rules(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(GOOD.read_text())
    change(data)
    path = tmp_path / "community" / leaguesources.RULES
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


BAD = [
    (lambda d: d["points"].pop("pairing"), r"community/league.yaml: points.pairing: is missing; give its points"),
    (lambda d: d["points"].update({"lunch": 3}), r"community/league.yaml: points.lunch: is not a kind of award"),
    (lambda d: d["points"].update({"pairing": "lots"}), r"community/league.yaml: points.pairing: "),
    (lambda d: d["season"].update({"end": "2026-08-01"}), r"community/league.yaml: season.end: 2026-08-01 is before "
                                                          r"start \(2026-09-01\)"),
    (lambda d: d["normalise"].update({"method": "log"}), r"community/league.yaml: normalise.method: "),
    (lambda d: d["normalise"].update({"reference_size": 0}), r"community/league.yaml: normalise.reference_size: "),
    (lambda d: d["badges"][0]["requires"].update({"naps": 1}), r"community/league.yaml: badges\[0\].requires.naps: is "
                                                               r"not a kind of award"),
    (lambda d: d["badges"].append(dict(d["badges"][0])), r"badges\[6\].id: 'first-responders' is named twice"),
    (lambda d: d.pop("season"), r"community/league.yaml: season: "),
    (lambda d: d.update({"seasons": 1}), r"community/league.yaml: seasons: "),
    (lambda d: d["sources"].update({"gradebooks": [{"file": "g.csv", "lab": "01"}]}),
     r"community/league.yaml: sources.gradebooks\[0\].date: "),
]


@pytest.mark.parametrize("change, message", BAD)
def test_bad_rules_are_named_by_file_and_field(tmp_path, change, message):
    with pytest.raises(InvalidInput, match=message):
        leaguesources.load_rules(_write_rules(tmp_path, change))


def test_rules_yaml_syntax_error_and_missing_file(tmp_path):
    path = tmp_path / "community" / leaguesources.RULES
    path.parent.mkdir()
    path.write_text("season: [\n")
    with pytest.raises(InvalidInput, match=r"^community/league.yaml:\d+:\d+"):
        leaguesources.load_rules(path)
    with pytest.raises(InvalidInput, match=r"season: community/nothing.yaml is not a file"):
        leaguesources.load_rules(tmp_path / "community" / "nothing.yaml")


def test_the_shipped_rules_load():
    rules = leaguesources.load_rules()
    assert set(rules.points) == set(league.POINTS) and rules.normalise == "sqrt"
    assert rules.source == "community/league.yaml"


# ---------------------------------------------------------------- the sources, from files


def _at(day: str, hour: int = 12) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02}:00:00").replace(tzinfo=timezone.utc).timestamp()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A repository with a community of two mobs and every source the rules can name, written as the kit writes
    them: a gradebook CSV, drill results, a deploy log, a saved alert review and a readiness review."""
    root = tmp_path_factory.mktemp("league-repo")
    community = root / "community"
    files = {
        "members/amara.yaml": "name: Amara\njoined: 2026-09-01\nexperience: experienced\ncatalog: amara-c\n",
        "members/chen.yaml": "name: Chen\njoined: 2026-09-01\nexperience: newcomer\n",
        "members/bruno.yaml": "name: Bruno\njoined: 2026-09-01\nexperience: experienced\n",
        "teams/mob-a.yaml": "name: Mob A\nmembers: [amara, chen]\nformed: 2026-09-01\n",
        "teams/mob-b.yaml": "name: Mob B\nmembers: [bruno]\nformed: 2026-09-01\n",
        "sessions/2026-09-08-mob-a-payments-down.yaml": (
            "date: 2026-09-08\nkind: drill\nsubject: payments-down\nteam: mob-a\nminutes: 60\n"
            "attendees: [amara, chen]\nrotations:\n  - {incident commander: amara, driver: chen}\n"
            "drill_run: 20260908-100000-payments-down\n"),
        "shares/2026-09-10-bruno-talk.yaml": "date: 2026-09-10\nkind: talk\ntitle: Burn rates\nby: [bruno]\n",
        "reviews/2026-09-20.json": json.dumps({"start": _at("2026-09-13"), "end": _at("2026-09-20"), "alerts": [
            {"alertname": "ShopDown", "team": "shop-team", "pages": 2, "action": "keep"}]}),
    }
    for name, text in files.items():
        (community / name).parent.mkdir(parents=True, exist_ok=True)
        (community / name).write_text(text)
    rules = yaml.safe_load(GOOD.read_text())
    rules["sources"] = {"gradebooks": [{"file": "grades/00.csv", "lab": "00-mob-and-sandbox", "date": "2026-09-09"}],
                        "alert_reviews": "community/reviews", "alert_teams": {"shop-team": "mob-b"},
                        "readiness": "readiness", "drill_results": "state/drills/results.jsonl",
                        "deploy_log": "state/deploys.jsonl"}
    (community / leaguesources.RULES).write_text(yaml.safe_dump(rules))
    (root / "grades").mkdir()
    (root / "grades/00.csv").write_text("student,sandbox_up,rotate,total,max_total,note\n"
                                        "mob-a,2,3,5,5,\nchen,1,0,1,5,\nstranger,2,2,4,5,\n")
    (root / "state/drills").mkdir(parents=True)
    (root / "state/drills/results.jsonl").write_text(json.dumps({
        "run": "20260908-100000-payments-down", "scenario": "payments-down", "outcome": "resolved", "ttd_s": 41.0,
        "tta_s": 12.5, "ttm_s": 90.0, "ttr_s": 130.0, "hints_used": 1}) + "\n")
    deploys = [{"kind": "deploy", "version": "1.1.0", "commit": "c1", "commit_time": _at("2026-09-14"),
                "at": _at("2026-09-15"), "actor": "amara-c", "weight": 10},
               {"kind": "promote", "version": "1.1.0", "commit": "c1", "commit_time": _at("2026-09-14"),
                "at": _at("2026-09-15", 13), "actor": "amara-c", "weight": 100}]
    (root / "state/deploys.jsonl").write_text("".join(json.dumps(d) + "\n" for d in deploys))
    (root / "readiness").mkdir()
    shutil.copy(CONTENT.root / "readiness/shop-1.1.0.md", root / "readiness/shop-1.1.0.md")
    return root


@pytest.fixture(scope="module")
def from_files(repo) -> league.League:
    return leaguesources.season(repo / "community" / leaguesources.RULES)


def test_sources_read_from_files(from_files):
    # shipped points: mob-a (amara, chen; factor sqrt(4/2)):
    #   grades/00.csv row mob-a 5 x 0.1 = 0.5 + full marks 5; row chen 1 x 0.1 = 0.1
    #   drill resolved 10, 1 hint -1; pairing (chen with amara) 2
    #   release 1.1.0 by amara (catalog user amara-c) promoted 4; readiness 1.1.0 nothing open 3
    #   raw 0.5 + 5 + 0.1 + 10 - 1 + 2 + 4 + 3 = 23.6, points 23.6 x sqrt(2) = 33.38
    # mob-b (bruno, factor 2): talk 4, ShopDown kept 1 = raw 5, points 10
    a, b = from_files.standing("mob-a"), from_files.standing("mob-b")
    assert a.raw == pytest.approx(23.6) and a.points == pytest.approx(23.6 * math.sqrt(2))
    assert (b.raw, b.points) == (5, 10)
    traced = {(x.kind, x.source, x.entry) for x in a.awards}
    assert traced == {
        ("lab-point", "grades/00.csv", "mob-a"), ("lab-full-marks", "grades/00.csv", "mob-a"),
        ("lab-point", "grades/00.csv", "chen"),
        ("drill-resolved", "community/sessions/2026-09-08-mob-a-payments-down.yaml", "20260908-100000-payments-down"),
        ("drill-hint", "community/sessions/2026-09-08-mob-a-payments-down.yaml", "20260908-100000-payments-down"),
        ("pairing", "community/sessions/2026-09-08-mob-a-payments-down.yaml", "2026-09-08-mob-a-payments-down"),
        ("release-promoted", "state/deploys.jsonl", "1.1.0"), ("readiness-review", "readiness/shop-1.1.0.md", "1.1.0")}
    assert {(x.kind, x.source, x.entry) for x in b.awards} == {
        ("share-talk", "community/shares/2026-09-10-bruno-talk.yaml", "2026-09-10-bruno-talk"),
        ("alert-kept", "community/reviews/2026-09-20.json", "ShopDown")}
    assert [(u.source, u.entry) for u in from_files.unscored] == [("grades/00.csv", "stranger")]
    excerpt = from_files.excerpts[("community/sessions/2026-09-08-mob-a-payments-down.yaml",
                                   "20260908-100000-payments-down")]
    assert "state/drills/results.jsonl:1" in excerpt and "drill_run:" in excerpt
    assert from_files.excerpts[("grades/00.csv", "chen")].splitlines()[1] == "chen,1,0,1,5,"


CHAOS_RUN = "20261006T093000-secret"  # two mobs started a secret drill in the same second, each on its sandbox


def _chaos_day(repo: Path, tmp_path: Path) -> Path:
    """The repo with a Chaos Day: mob-a's and mob-b's sessions name the same run, each in its own sandbox's
    results (day/<team>/drills/results.jsonl), as chaosday.record_sessions records them."""
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy)
    for team, subject, who, row in (
            ("mob-a", "payments-down", "amara", {"scenario": "payments-down", "outcome": "resolved", "ttd_s": 30,
                                                 "tta_s": 20, "ttr_s": 100, "hints_used": 0}),
            ("mob-b", "bad-deploy", "bruno", {"scenario": "bad-deploy", "outcome": "abandoned", "hints_used": 2})):
        results = copy / "day" / team / "drills" / "results.jsonl"
        results.parent.mkdir(parents=True)
        results.write_text(json.dumps({"run": CHAOS_RUN, **row}) + "\n")
        (copy / f"community/sessions/2026-10-06-{team}-{subject}.yaml").write_text(
            f"date: 2026-10-06\nkind: drill\nsubject: {subject}\nteam: {team}\nminutes: 45\nattendees: [{who}]\n"
            f"drill_run: {CHAOS_RUN}\ndrill_results: day/{team}/drills/results.jsonl\n")
    return copy


def test_chaos_day_drills_with_one_run_id_in_two_sandboxes_both_score(repo, tmp_path):
    # on top of test_sources_read_from_files's season (mob-a raw 23.6, mob-b raw 5; shipped points):
    #   mob-a's run in day/mob-a: resolved 10; against its earlier drill (TTD 41, TTA 12.5, TTR 130) TTD 30 and
    #   TTR 100 are faster, 2 x 3 = 6 (TTA 20 is not): +16, raw 39.6, points 39.6 x sqrt(2)
    #   mob-b's run in day/mob-b: abandoned 3, 2 hints 2 x -1: +1, raw 6, points 6 x 2 = 12
    scored = leaguesources.season(_chaos_day(repo, tmp_path) / "community" / leaguesources.RULES)
    a, b = scored.standing("mob-a"), scored.standing("mob-b")
    assert a.raw == pytest.approx(39.6) and a.points == pytest.approx(39.6 * math.sqrt(2))
    assert (b.raw, b.points) == (6, 12)
    chaos = {(x.team, x.kind, x.source, x.entry, x.points) for x in scored.awards if x.entry == CHAOS_RUN}
    a_file, b_file = ("community/sessions/2026-10-06-mob-a-payments-down.yaml",
                      "community/sessions/2026-10-06-mob-b-bad-deploy.yaml")
    assert chaos == {("mob-a", "drill-resolved", a_file, CHAOS_RUN, 10), ("mob-a", "drill-faster", a_file, CHAOS_RUN, 3),
                     ("mob-b", "drill-abandoned", b_file, CHAOS_RUN, 3), ("mob-b", "drill-hint", b_file, CHAOS_RUN, -2)}
    assert len([x for x in scored.awards if x.kind == "drill-faster" and x.entry == CHAOS_RUN]) == 2
    # each award's record shows the row it was scored from, in its own sandbox's file
    assert "day/mob-a/drills/results.jsonl:1" in scored.excerpts[(a_file, CHAOS_RUN)]
    assert '"outcome": "resolved"' in scored.excerpts[(a_file, CHAOS_RUN)]
    assert "day/mob-b/drills/results.jsonl:1" in scored.excerpts[(b_file, CHAOS_RUN)]
    assert '"outcome": "abandoned"' in scored.excerpts[(b_file, CHAOS_RUN)]
    assert league.anchor(a_file, CHAOS_RUN) != league.anchor(b_file, CHAOS_RUN)
    assert scored.unscored == (league.Unscored("grades/00.csv", "stranger",
                                               "the student is neither a team nor a member of one"),)


def test_a_sessions_missing_drill_results_file_is_named(repo, tmp_path):
    copy = _chaos_day(repo, tmp_path)
    (copy / "day/mob-b/drills/results.jsonl").unlink()
    with pytest.raises(InvalidInput, match=r"^community/sessions/2026-10-06-mob-b-bad-deploy.yaml: drill_results: "
                                           r"day/mob-b/drills/results.jsonl does not exist"):
        leaguesources.season(copy / "community" / leaguesources.RULES)
    # scoring results gathered without that file names it too, rather than looking the run up elsewhere
    records = _season().records
    session = Session("s", D(2026, 9, 10), "drill", "x", "red", 60, ("ann",), (), "r1", "",
                      "community/sessions/s.yaml", "day/red/drills/results.jsonl")
    results = Results(replace(records, sessions=(session,)), drills={"r1": _season().drills["r1"]})
    with pytest.raises(InvalidInput, match=r"^community/sessions/s.yaml: drill_results: day/red/drills/results.jsonl"):
        league.score(_rules(), results)


BAD_SOURCES = [
    ("grades/00.csv", "student,total,note\n", r"grades/00.csv:1: max_total: is not a column"),
    ("grades/00.csv", "student,total,max_total,note\nchen,lots,5,\n", r"grades/00.csv:2: total: 'lots' is not a number"),
    ("state/drills/results.jsonl", '{"run": "r", "ttd_s": "soon"}\n', r"state/drills/results.jsonl:1: ttd_s: "),
    ("state/drills/results.jsonl", "{not json\n", r"state/drills/results.jsonl:1: line: is not JSON"),
    ("state/deploys.jsonl", '{"kind": "deploy"}\n', r"state/deploys.jsonl:1: version: "),
    ("community/reviews/2026-09-20.json", '{"alerts": []}', r"community/reviews/2026-09-20.json: end: a saved alert "
                                                            r"review has end"),
]


@pytest.mark.parametrize("name, text, message", BAD_SOURCES)
def test_bad_sources_are_named_by_file_line_and_field(repo, tmp_path, name, text, message):
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy)
    (copy / name).write_text(text)
    with pytest.raises(InvalidInput, match=message):
        leaguesources.season(copy / "community" / leaguesources.RULES)


def test_kit_league_prints_the_table_a_team_and_writes_the_page_and_plot(repo, tmp_path, capsys):
    page, plot = tmp_path / "league.html", tmp_path / "league.png"
    rules = str(repo / "community" / leaguesources.RULES)
    assert main(["league", "--season", rules, "--team", "mob-b", "--html", str(page), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^1\s+Mob A\s+2\s+33\.38\s+23\.60\s", out, re.M)
    assert "share-talk  +4      community/shares/2026-09-10-bruno-talk.yaml" in out
    assert "1 results scored for no team" in out
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert f"href='{(repo / 'grades/00.csv').resolve().as_uri()}'" in page.read_text()
    assert main(["league", "--season", rules, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["team"] for s in data["standings"]] == ["mob-a", "mob-b"]
    assert sum(a["points"] for a in data["standings"][1]["awards"]) == 5
    assert main(["league", "--season", rules, "--team", "mob-z"]) == 2
    assert "--team: no team 'mob-z'; teams: mob-a, mob-b" in capsys.readouterr().err


def test_the_league_page_in_chromium(from_files, tmp_path):
    """Load the page from file://, click a point, land on the record that earned it."""
    from playwright.sync_api import expect, sync_playwright

    from tests.jupyterpages import CHROMIUM_FLAGS

    path = tmp_path / "league.html"
    path.write_text(from_files.html())
    award = next(a for a in from_files.standing("mob-a").awards if a.kind == "release-promoted")
    target = league.anchor(award.source, award.entry)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(path.as_uri())
            expect(page.locator("#standings tbody tr")).to_have_count(2)
            row = page.locator("#team-mob-a table.awards tr", has_text="release-promoted")
            row.locator("a.point").click()
            assert page.url.endswith(f"#{target}")
            record = page.locator("section.record:target")
            expect(record).to_have_attribute("data-source", "state/deploys.jsonl")
            expect(record).to_contain_text('"version": "1.1.0"')
            expect(record).to_be_in_viewport()
            hrefs = page.eval_on_selector_all("a[href^='#']", "links => links.map(a => a.hash.slice(1))")
            missing = page.evaluate("ids => ids.filter(id => !document.getElementById(id))", hrefs)
            assert hrefs and missing == []
        finally:
            browser.close()
