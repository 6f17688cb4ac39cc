"""Chaos Day: plans refused naming the field, the scoreboard and the debrief on fixture results (hand-computed),
the sessions recorded, the refreshing board on drill files that change between refreshes, and one real day:
two mobs drilling at once, each on a sandbox of its own."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kit import drills, polling
from kit.cli import main
from kit.community import chaosday, records
from kit.community.chaosday import MobDrill
from kit.config import CONTENT
from kit.drills import mitigations
from kit.errors import InvalidInput
from kit.timeline import Event

DRILLS = ("payments-down", "bad-deploy", "broken-metrics")
START = datetime(2026, 12, 8, 9, 30)
T0 = START.timestamp()


@pytest.fixture
def community(tmp_path: Path) -> Path:
    """A copy of the example community in a repository of its own, beside the kit's labs and drills."""
    for name in ("solutions", "drills", "runbooks"):
        (tmp_path / name).symlink_to(CONTENT.root / name)
    shutil.copytree(CONTENT.community, tmp_path / "community")
    return tmp_path / "community"


def plan_text(**changes: object) -> str:
    plan = {"title": "Winter Chaos Day", "start": "2026-12-08 09:30", "round_minutes": 45,
            "mobs": [{"team": "mob-a", "game_master": "hana", "scenarios": ["payments-down", "random"]},
                     {"team": "mob-b", "game_master": "dana", "scenarios": ["payments-down", "bad-deploy"]}]}
    plan.update(changes)
    return json.dumps(plan)  # JSON is YAML


def load(tmp_path: Path, text: str, community_folder: Path | None = None) -> chaosday.ChaosDayPlan:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    known = records.load(community_folder) if community_folder is not None else None
    return chaosday.load_plan(path, drills=DRILLS, records=known)


def test_the_guides_example_plan_is_valid_with_the_example_community():
    plan = chaosday.load_plan(CONTENT.guide / "chaos-day-plan.yaml", records=records.load())
    assert [m.team for m in plan.mobs] == ["mob-a", "mob-b"] and plan.rounds == 2 and plan.secret


def test_a_plan_is_read_with_its_defaults(tmp_path):
    plan = load(tmp_path, plan_text(sandboxes="day", ports="26000-26999"))
    assert plan.start == START and plan.round_minutes == 45 and plan.secret and plan.profile == "lab"
    assert plan.sandboxes == tmp_path / "day" and plan.ports == (26000, 26999)
    assert plan.mobs[1] == chaosday.PlannedMob("mob-b", "dana", ("payments-down", "bad-deploy"))


def mobs(*entries: dict) -> list[dict]:
    return [{"team": "mob-a", "scenarios": ["payments-down"]}, *entries]


BAD = [
    (plan_text(title=""), "title", "at least 1 character"),
    (plan_text(start="tomorrow morning"), "start", ""),
    (plan_text(round_minutes=5), "round_minutes", "greater than or equal to 10"),
    (plan_text(strat="09:30"), "strat", "is not a known field"),
    (plan_text(ports="9-20"), "ports", "unprivileged"),
    (plan_text(profile="fast"), "profile", "'lab' or 'realistic'"),
    (plan_text(mobs=mobs()), "mobs", "at least 2"),
    (plan_text(mobs=mobs({"team": "mob-a", "scenarios": ["payments-down"]})), "mobs[1].team", "planned twice"),
    (plan_text(mobs=mobs({"team": "mob-b", "scenarios": ["payments-down", "bad-deploy"]})), "mobs[1].scenarios",
     "every mob drills in every round"),
    (plan_text(mobs=mobs({"team": "mob-b", "scenarios": ["payment-down"]})), "mobs[1].scenarios[0]",
     "'payment-down' is not a drill scenario"),
    (plan_text(mobs=mobs({"team": "Mob B", "scenarios": ["random"]})), "mobs[1].team", "should match pattern"),
]


@pytest.mark.parametrize("text, field, problem", BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_a_bad_plan_is_refused_naming_the_field(tmp_path, text, field, problem):
    with pytest.raises(InvalidInput) as refused:
        load(tmp_path, text)
    assert refused.value.field == field and problem in refused.value.problem
    assert refused.value.source == str(tmp_path / "plan.yaml")


@pytest.mark.parametrize("mob, field, problem", [
    ({"team": "mob-z", "scenarios": ["random"]}, "mobs[1].team", "'mob-z' is not a team"),
    ({"team": "mob-b", "game_master": "zed", "scenarios": ["random"]}, "mobs[1].game_master", "'zed' is not a member"),
    ({"team": "mob-b", "game_master": "emeka", "scenarios": ["random"]}, "mobs[1].game_master", "is in mob-b"),
])
def test_a_plan_is_checked_against_the_communitys_teams_and_members(tmp_path, community, mob, field, problem):
    with pytest.raises(InvalidInput) as refused:
        load(tmp_path, plan_text(mobs=mobs(mob)), community)
    assert refused.value.field == field and problem in refused.value.problem


def test_the_cli_checks_a_plan(tmp_path, capsys):
    (tmp_path / "plan.yaml").write_text(plan_text(sandboxes="day"))
    assert main(["ceremony", "chaos-day", "check", str(tmp_path / "plan.yaml")]) == 0
    out = capsys.readouterr().out
    assert "Winter Chaos Day: 2 mobs, 2 rounds of 45 minutes from 2026-12-08 09:30, secret" in out
    assert f"mob-b: payments-down, bad-deploy; game master dana; sandbox {tmp_path / 'day' / 'mob-b'}" in out
    (tmp_path / "plan.yaml").write_text(plan_text(round_minutes=500))
    assert main(["ceremony", "chaos-day", "check", str(tmp_path / "plan.yaml")]) == 2
    assert "plan.yaml: round_minutes: " in capsys.readouterr().err


# ---------------------------------------------------------------- the scoreboard on fixture results


def drill(team: str, round_: int, state: str, start: float, ended: float | None = None, ttd=None, tta=None,
          ttm=None, ttr=None, hints: int = 0, scenario: str | None = "payments-down",
          roles: dict | None = None, events: tuple = ()) -> MobDrill:
    return MobDrill(team, round_, f"run-{team}-{round_}", scenario, state, T0 + start,
                    None if ended is None else T0 + ended, ttd, tta, ttm, ttr, hints, roles or {}, events)


FIXTURE = [
    # mob-a: round 1 resolved 42 s after its injection at +2 s (ended at +50), one hint; round 2 running, secret
    drill("mob-a", 1, "resolved", 0, 50, ttd=4.0, tta=6.5, ttm=30.0, ttr=42.0, hints=1,
          roles={"incident commander": "amara", "driver": "chen", "scribe": "Sam from sales"},
          events=(Event(T0, "started", "drill started"), Event(T0 + 2, "injected", "payments: down"),
                  Event(T0 + 6, "page", "page firing: CheckoutErrorRatioHigh", {"status": "firing"}),
                  Event(T0 + 9, "hint", "Which status codes ..."), Event(T0 + 12, "note", "payments 503s"),
                  Event(T0 + 32, "action", "payments: down fault cleared"))),
    drill("mob-a", 2, "running", 600, ttd=7.0, scenario=None),
    # mob-b: round 1 resolved, detected sooner (3.5 s) but restored later (50 s); round 2 has not started
    drill("mob-b", 1, "resolved", 10, 75, ttd=3.5, tta=20.0, ttm=45.0, ttr=50.0),
]


def test_the_scoreboard_of_fixture_results(tmp_path):
    plan = load(tmp_path, plan_text())
    board = chaosday.scoreboard(plan, FIXTURE, now=T0 + 665)
    assert board.cells() == [
        ("mob-a", "1", "payments-down", "resolved", "0:50", "0:04", "0:06", "0:30", "0:42", "1"),  # 6.5 s rounds to 6
        ("mob-a", "2", "secret", "running", "1:05", "0:07", "-", "-", "-", "0"),
        ("mob-b", "1", "payments-down", "resolved", "1:05", "0:04", "0:20", "0:45", "0:50", "0"),
        ("mob-b", "2", "secret", "waiting", "-", "-", "-", "-", "-", "-"),
    ]
    assert board.fastest_detection == chaosday.Best("mob-b", 1, "payments-down", 3.5)
    assert board.fastest_restore == chaosday.Best("mob-a", 1, "payments-down", 42.0)
    assert board.running and not board.finished
    assert board.highlights() == ["fastest detection: mob-b in round 1 (payments-down), TTD 0:04",
                                  "fastest restore: mob-a in round 1 (payments-down), TTR 0:42"]


def test_an_open_plan_shows_what_waits_and_a_tie_goes_to_the_mob_planned_first(tmp_path):
    plan = load(tmp_path, plan_text(secret=False))
    tied = [drill("mob-b", 1, "resolved", 0, 60, ttd=5.0, ttr=30.0), drill("mob-a", 1, "abandoned", 0, 90, ttd=5.0),
            drill("mob-a", 2, "unfinished", 100, ttd=2.0, scenario="bad-deploy"),
            drill("mob-b", 2, "resolved", 100, 150, ttd=9.0, ttr=30.0, scenario="bad-deploy")]
    board = chaosday.scoreboard(plan, tied, now=T0 + 1000)
    assert [(r.team, r.round, r.scenario, r.state, r.elapsed) for r in board.rows] == [
        ("mob-a", 1, "payments-down", "abandoned", 90.0), ("mob-a", 2, "bad-deploy", "unfinished", None),
        ("mob-b", 1, "payments-down", "resolved", 60.0), ("mob-b", 2, "bad-deploy", "resolved", 50.0)]
    assert board.fastest_detection == chaosday.Best("mob-a", 2, "bad-deploy", 2.0)
    assert board.fastest_restore == chaosday.Best("mob-b", 1, "payments-down", 30.0)  # the earlier round wins a tie
    assert board.finished and not board.running
    waiting = chaosday.scoreboard(plan, [], now=T0)
    assert [r.scenario for r in waiting.rows] == ["payments-down", "the wheel", "payments-down", "bad-deploy"]
    assert waiting.fastest_detection is None and waiting.highlights() == []


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.refresh = None
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._in_cell = True
            self.rows[-1].append("")
        elif tag == "meta" and dict(attrs).get("http-equiv") == "refresh":
            self.refresh = dict(attrs)["content"]

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.rows[-1][-1] += data


def test_the_scoreboard_page_holds_the_table_and_reloads_only_while_drills_run(tmp_path):
    plan = load(tmp_path, plan_text(title="Chaos <Day> & co"))
    running = chaosday.scoreboard(plan, FIXTURE, now=T0 + 665)
    page = _Cells()
    page.feed(running.html(refresh=7))
    assert page.rows[0] == list(chaosday.Scoreboard.HEADER)
    assert [tuple(row) for row in page.rows[1:]] == running.cells()
    assert page.refresh == "7"
    assert "Chaos &lt;Day&gt; &amp; co" in running.html()
    done = _Cells()
    done.feed(chaosday.scoreboard(plan, FIXTURE[:1], now=T0).html())
    assert done.refresh is not None  # rounds still wait
    ended = [FIXTURE[0], drill("mob-a", 2, "resolved", 600, 700), FIXTURE[2], drill("mob-b", 2, "abandoned", 600, 700)]
    finished = _Cells()
    finished.feed(chaosday.scoreboard(plan, ended, now=T0 + 800).html())
    assert finished.refresh is None


def test_the_scoreboard_page_on_a_projector_follows_the_day_in_a_real_browser(tmp_path):
    """Chromium shows the file's table, reloads it by itself while drills run, and stops once every round ended."""
    from jupyterpages import CHROMIUM_FLAGS, new_page
    from playwright.sync_api import expect, sync_playwright

    plan = load(tmp_path, plan_text())
    board = tmp_path / "board.html"
    board.write_text(chaosday.scoreboard(plan, FIXTURE, now=T0 + 665).html(refresh=1), encoding="utf-8")
    ended = [FIXTURE[0], drill("mob-a", 2, "resolved", 600, 700), FIXTURE[2], drill("mob-b", 2, "abandoned", 600, 700)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = new_page(browser)
            page.goto(board.as_uri())
            rows = page.locator("tbody tr")
            expect(rows).to_have_count(4)
            expect(rows.nth(1)).to_have_class("running")
            board.write_text(chaosday.scoreboard(plan, ended, now=T0 + 800).html(refresh=1), encoding="utf-8")
            expect(rows.nth(1)).to_have_class("resolved", timeout=10_000)  # reloaded by itself, no one touched it
            expect(rows.nth(3)).to_have_class("abandoned")
            assert page.locator('meta[http-equiv="refresh"]').count() == 0, "a finished board goes on reloading"
        finally:
            browser.close()


def test_the_joint_debrief_agenda(tmp_path):
    plan = load(tmp_path, plan_text())
    board = chaosday.scoreboard(plan, FIXTURE, now=T0 + 665)
    text = chaosday.debrief(plan, board, {"payments-down": ("How long to tell shop from payments?",)})
    assert "35 minutes." in text  # the scoreboard 5, two stories of 5, questions 10, changes 10
    assert "| 0:00 | 5 | the scoreboard, as figures to learn from |" in text
    assert "| 10:00 | 5 | mob-b's story, from its postmortem draft |" in text
    assert "| 25:00 | 10 | what we change, who owns each change, close |" in text
    assert "| mob-a | 1 | payments-down | resolved | 0:50 | 0:04 | 0:06 | 0:30 | 0:42 | 1 |" in text
    assert "- Fastest detection: mob-b in round 1 (payments-down), TTD 0:04" in text
    mob_a = text.split("### mob-a")[1].split("### mob-b")[0]
    assert "  - first signal: page firing: CheckoutErrorRatioHigh (+0:04)" in mob_a  # from the injection at +2
    assert "  - +0:07 hint: Which status codes ..." in mob_a and "  - +0:30 action: payments: down fault cleared" in mob_a
    assert "- round 2, secret: running" in mob_a
    questions = text.split("## Questions for everyone")[1]
    assert questions.index("How long to tell shop from payments?") < questions.index(chaosday.DEBRIEF_QUESTIONS[0])
    assert all(q in questions for q in chaosday.DEBRIEF_QUESTIONS)


def test_ended_drills_are_recorded_once_as_sessions_of_their_mobs(tmp_path, community):
    plan = load(tmp_path, plan_text(), community)
    added = chaosday.record_sessions(plan, FIXTURE, community)
    assert [(s.id, s.team, s.subject, s.drill_run) for s in added] == [
        (f"{datetime.fromtimestamp(T0):%Y-%m-%d}-mob-a-payments-down", "mob-a", "payments-down", "run-mob-a-1"),
        (f"{datetime.fromtimestamp(T0 + 10):%Y-%m-%d}-mob-b-payments-down", "mob-b", "payments-down", "run-mob-b-1")]
    first = added[0]
    assert first.attendees == ("amara", "chen", "dana", "goran", "ines", "hana")  # the team, then its game master
    assert first.rotations[0].roles == {"incident commander": ("amara",), "driver": ("chen",),
                                        "game master": ("hana",)}  # "Sam from sales" is no attendee
    assert first.minutes == 45 and first.kind == "drill"
    # the plan's sandboxes (the kit's state folder) lie outside the repository: the mob's file, absolute
    assert first.drill_results == str((plan.sandboxes / "mob-a/drills/results.jsonl").resolve())
    assert added[1].drill_results == str((plan.sandboxes / "mob-b/drills/results.jsonl").resolve())
    assert first.notes == "Winter Chaos Day, round 1: resolved, TTD 0:04, TTR 0:42, 1 hints"
    assert chaosday.record_sessions(plan, FIXTURE, community) == []
    again = drill("mob-a", 3, "abandoned", 900, 950)  # the same scenario again that day: a file of its own
    assert [s.id for s in chaosday.record_sessions(plan, [again], community)] == [f"{added[0].id}-2"]
    assert {s.drill_run for s in records.load(community).sessions} >= {"run-mob-a-1", "run-mob-b-1", "run-mob-a-3"}


def test_two_mobs_with_one_run_id_are_both_recorded_each_with_its_sandboxs_results(tmp_path, community):
    """Chaos Day starts every mob's round at once: two secret drills started in the same second share a run id."""
    plan = load(tmp_path, plan_text(sandboxes="day"), community)  # day/ lies in the repository (tmp_path)
    same = [MobDrill(team, 1, "20261208T093000-secret", "payments-down", "resolved", T0, T0 + 60, 5.0, 9.0, 20.0,
                     40.0, 0, {}, ()) for team in ("mob-a", "mob-b")]
    added = chaosday.record_sessions(plan, same, community)
    assert [(s.team, s.drill_run, s.drill_results) for s in added] == [
        ("mob-a", "20261208T093000-secret", "day/mob-a/drills/results.jsonl"),
        ("mob-b", "20261208T093000-secret", "day/mob-b/drills/results.jsonl")]
    assert chaosday.record_sessions(plan, same, community) == []
    text = (community / "sessions" / f"{added[1].id}.yaml").read_text()
    assert "drill_results: day/mob-b/drills/results.jsonl\n" in text
    # a session of the environment's own sandbox with that run id is another drill: mob-a's is recorded
    (community / "sessions").joinpath(f"{added[0].id}.yaml").unlink()
    own = dict(date="2026-12-08", kind="drill", subject="payments-down", team="mob-a", minutes=30,
               attendees=["amara"], drill_run="20261208T093000-secret")
    (community / "sessions" / "own.yaml").write_text(json.dumps(own))
    again = chaosday.record_sessions(plan, same, community)
    assert [(s.team, s.drill_results) for s in again] == [("mob-a", "day/mob-a/drills/results.jsonl")]


# ---------------------------------------------------------------- the board read from the sandboxes' drill files


def write_run(config, run: str, events: list[tuple[float, str, dict]]) -> None:
    config.paths.drill_run(run).mkdir(parents=True, exist_ok=True)
    with open(config.paths.drill_timeline(run), "a") as timeline:
        for t, kind, data in events:
            timeline.write(json.dumps({"t": t, "kind": kind, "text": kind, "data": data}) + "\n")


def test_the_board_reads_each_mobs_sandbox_and_refreshes_until_every_round_ended(tmp_path):
    plan = load(tmp_path, plan_text(sandboxes="day", ports="26000-26999", mobs=[
        {"team": "mob-a", "scenarios": ["payments-down"]}, {"team": "mob-b", "scenarios": ["bad-deploy"]}]))
    a, b = (chaosday.mob_config(plan, team) for team in ("mob-a", "mob-b"))
    assert a.state_dir != b.state_dir and not {a.shop_port, a.prometheus_port} & {b.shop_port, b.prometheus_port}
    env = chaosday.mob_environment(plan, "mob-b")
    assert env["KIT_STATE_DIR"] == str(tmp_path / "day" / "mob-b") and env["KIT_SHOP_PORT"] == str(b.shop_port)
    write_run(a, "0-rehearsal", [(T0 - 3600, "started", {"scenario": "payments-down"})])  # before the day
    write_run(a, "1-a", [(T0 + 1, "started", {}), (T0 + 3, "injected", {}),
                         (T0 + 7, "page", {"status": "firing", "severity": "page"}), (T0 + 8, "hint", {})])
    a.paths.active_drill.write_text(json.dumps({"run": "1-a"}))
    write_run(b, "1-b", [(T0 + 2, "started", {"scenario": "bad-deploy"}), (T0 + 4, "injected", {})])
    b.paths.drill_results.write_text(json.dumps({"run": "1-b", "scenario": "bad-deploy", "outcome": "abandoned",
                                                 "ended_at": T0 + 30, "ttd_s": None, "hints_used": 0}) + "\n")
    shown: list[list[tuple]] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # mob-a resolves its drill between the first and the second refresh
        waits.append(seconds)
        a.paths.drill_results.write_text(json.dumps({
            "run": "1-a", "scenario": "payments-down", "outcome": "resolved", "ended_at": T0 + 40, "ttd_s": 4.0,
            "tta_s": 2.0, "ttm_s": 20.0, "ttr_s": 30.0, "hints_used": 1, "roles": {}}) + "\n")
        a.paths.active_drill.unlink()

    page = tmp_path / "board.html"
    last = chaosday.watch(plan, lambda board: shown.append(board.cells()), every=3, page=page, sleep=sleep,
                          now=lambda: T0 + 20)
    assert shown[0] == [("mob-a", "1", "secret", "running", "0:19", "0:04", "-", "-", "-", "1"),
                        ("mob-b", "1", "bad-deploy", "abandoned", "0:28", "-", "-", "-", "-", "0")]
    assert shown[1][0] == ("mob-a", "1", "payments-down", "resolved", "0:39", "0:04", "0:02", "0:20", "0:30", "1")
    assert waits == [3] and last.finished and len(shown) == 2
    assert "payments-down" in page.read_text() and 'http-equiv="refresh"' not in page.read_text()


# ---------------------------------------------------------------- one real Chaos Day


SCENARIO = "broken-metrics"  # installs no rules and pages within seconds: the quickest drill to start and end


def play(config, run: str, roles: dict[str, str]) -> None:
    """What a mob does in its terminal: takes roles, acknowledges the page, restarts the shop, ends the drill."""
    drills.set_roles(roles, config=config)
    drills.wait_for_page(timeout=60, config=config)
    drills.ack(by=roles["incident commander"], config=config)
    mitigations.restart("shop", config=config)
    polling.wait_for(lambda: any(e.kind == "action" for e in drills.read_timeline(run, config)), 20, 0.2,
                     describe=f"the watcher of {run} recorded no action")
    drills.end(config=config)


def test_two_mobs_drill_at_once_each_on_its_own_sandbox(tmp_path, community, capsys):
    start = (datetime.now() - timedelta(minutes=1)).replace(microsecond=0)
    path = tmp_path / "plan.yaml"
    path.write_text(plan_text(start=start.isoformat(sep=" "), sandboxes=str(tmp_path / "day"), ports="26000-27999",
                              round_minutes=30, mobs=[
                                  {"team": "mob-a", "game_master": "hana", "scenarios": [SCENARIO]},
                                  {"team": "mob-b", "game_master": "dana", "scenarios": [SCENARIO]}]))
    plan = chaosday.load_plan(path, records=records.load(community))
    try:
        configs = chaosday.up(plan)
        assert len({c.shop_port for c in configs.values()}) == 2
        runs = chaosday.start_round(plan, 1)
        during = chaosday.scoreboard(plan, chaosday.gather(plan), time.time())
        assert [(r.team, r.scenario, r.state) for r in during.rows] == [("mob-a", "secret", "running"),
                                                                        ("mob-b", "secret", "running")]
        roles = {"mob-a": {"incident commander": "amara", "driver": "chen"},
                 "mob-b": {"incident commander": "emeka", "driver": "farah"}}
        errors: list[BaseException] = []

        def mob(team: str) -> None:
            try:
                play(configs[team], runs[team], roles[team])
            except BaseException as error:  # the main thread reports it
                errors.append(error)

        threads = [threading.Thread(target=mob, args=(team,)) for team in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors

        assert main(["ceremony", "chaos-day", "board", str(path), "--html", str(tmp_path / "board.html")]) == 0
        out = capsys.readouterr().out
        board = chaosday.scoreboard(plan, chaosday.gather(plan), time.time())
        assert [(r.team, r.scenario, r.state) for r in board.rows] == [("mob-a", SCENARIO, "resolved"),
                                                                       ("mob-b", SCENARIO, "resolved")]
        assert all(r.drill.ttd is not None and r.drill.tta is not None and r.drill.ttr is not None for r in board.rows)
        assert board.finished and "fastest detection: mob-" in out and "resolved" in out

        assert main(["ceremony", "chaos-day", "record", str(path), "--folder", str(community)]) == 0
        assert "2 sessions recorded" in capsys.readouterr().out
        sessions = {s.team: s for s in records.load(community).sessions if s.drill_results}  # the day's
        assert {team: (s.drill_run, s.drill_results) for team, s in sessions.items()} == {
            team: (runs[team], f"day/{team}/drills/results.jsonl") for team in runs}  # the run ids may be equal
        mob_b = sessions["mob-b"]
        assert mob_b.team == "mob-b" and mob_b.subject == SCENARIO and "dana" in mob_b.attendees
        assert mob_b.rotations[0].roles["driver"] == ("farah",)
        assert not any(drills.running(config) for config in configs.values())
    finally:
        chaosday.down(plan)
