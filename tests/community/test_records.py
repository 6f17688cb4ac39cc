"""The community's records: the shipped example passes, every bad file is refused naming its file and field,
cross-references are checked, every `kit cop add` round-trips, and computed key results on fixtures."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from kit.cli import main
from kit.community import keyresults, records
from kit.config import CONTENT
from kit.errors import InvalidInput

SHOP_TEAM = ["amara", "bruno", "chen", "dana", "emeka", "farah", "goran", "hana"]


@pytest.fixture
def community(tmp_path: Path) -> Path:
    """A copy of the example community in a repository of its own, beside the kit's labs, drills, runbooks and
    service catalog."""
    for name in ("solutions", "drills", "runbooks", "catalog"):
        (tmp_path / name).symlink_to(CONTENT.root / name)
    shutil.copytree(CONTENT.community, tmp_path / "community")
    return tmp_path / "community"


def test_the_example_community_passes_check(capsys):
    assert main(["cop", "check"]) == 0
    assert "0 findings" in capsys.readouterr().out
    loaded = records.load()
    catalog_members = {m.catalog for m in loaded.members if m.catalog}
    assert catalog_members <= set(SHOP_TEAM)
    assert {t.id for t in loaded.teams} == {"mob-a", "mob-b"}
    assert loaded.canvas is not None and loaded.canvas.lead in {m.handle for m in loaded.members}
    assert {s.kind for s in loaded.sessions} == {"lab", "drill", "ceremony"}
    assert {s.kind for s in loaded.shares} >= {"talk", "runbook", "write-up"}


MEMBER = "name: Zed\njoined: 2026-09-01\nexperience: newcomer\n"
SESSION = "date: 2026-10-13\nkind: lab\nsubject: 02-slis-slos-and-budgets\nminutes: 90\n"
DRILL = SESSION.replace("kind: lab", "kind: drill").replace("02-slis-slos-and-budgets", "payments-down")
EXPERIMENT = ("title: t\nowners: [dana]\nhypothesis: h\nchange: c\nmetric: m\nunit: s\nbetter: lower\nbefore: 3\n"
              "started: 2026-10-01\n")
OKRS = "start: 2026-10-01\nend: 2026-12-31\nobjectives:\n  - objective: o\n    key_results:\n      - title: k\n"

BAD = [
    ("members/zed.yaml", "joined: 2026-09-01\nexperience: newcomer\n", "name", "is required"),
    ("members/zed.yaml", "name: Zed\njoined: 2026-09-01\nexperience: guru\n", "experience", "'newcomer' or"),
    ("members/zed.yaml", MEMBER + "nmae: Zed\n", "nmae", "is not a known field"),
    ("members/zed.yaml", MEMBER + "left: 2026-08-01\n", "left", "is before joined"),
    ("members/zed.yaml", "name: [Zed\n", "", "not valid YAML"),
    ("members/Zed Two.yaml", MEMBER, "", "is not an id"),
    ("teams/mob-c.yaml", "name: C\nformed: 2026-09-01\nmembers: [amara, ghost]\n", "members[1]", "'ghost' is not a member"),
    ("teams/mob-c.yaml", "name: C\nformed: 2026-09-01\nmembers: [amara, amara]\n", "members[1]", "named twice"),
    ("sessions/s.yaml", SESSION + "attendees: [amara, ghost]\n", "attendees[1]", "'ghost' is not a member"),
    ("sessions/s.yaml", SESSION + "attendees: [amara]\nteam: mob-z\n", "team", "'mob-z' is not a team"),
    ("sessions/s.yaml", SESSION + "attendees: [amara]\nrotations: [{pilot: amara}]\n", "rotations[0].pilot",
     "is not a role"),
    ("sessions/s.yaml", SESSION + "attendees: [amara]\nrotations: [{driver: bruno}]\n", "rotations[0].driver",
     "'bruno' is not among the attendees"),
    ("sessions/s.yaml", SESSION.replace("02-slis", "99-slis") + "attendees: [amara]\n", "subject",
     "not a lab folder in solutions/"),
    ("sessions/s.yaml", SESSION.replace("kind: lab", "kind: ceremony") + "attendees: [amara]\n", "subject",
     "is not a ceremony"),
    ("sessions/s.yaml", SESSION.replace("2026-10-13", "2026-09-08") + "attendees: [ines]\n", "attendees[0]",
     "was not a member on 2026-09-08"),
    ("sessions/s.yaml", SESSION + "attendees: [amara]\ndrill_run: r1\n", "drill_run", "not a drill"),
    ("sessions/s.yaml", SESSION + "attendees: [amara]\ndrill_results: day/mob-a/drills/results.jsonl\n",
     "drill_results", "the session is a lab, not a drill"),
    ("sessions/s.yaml", DRILL + "attendees: [amara]\ndrill_results: day/mob-a/drills/results.jsonl\n",
     "drill_results", "drill_run is not given"),
    ("sessions/s.yaml", DRILL + "attendees: [amara]\ndrill_run: r1\ndrill_results: ''\n", "drill_results",
     "at least 1 character"),
    ("sessions/s.yaml", SESSION.replace("minutes: 90", "minutes: 0") + "attendees: [amara]\n", "minutes",
     "greater than 0"),
    ("shares/x.yaml", "date: 2026-10-01\nkind: talk\ntitle: t\nby: [dana]\nsession: nope\n", "session",
     "'nope' is not a session"),
    ("shares/x.yaml", "date: 2026-10-01\nkind: runbook\ntitle: t\nby: [dana]\n", "link", "is required"),
    ("shares/x.yaml", "date: 2026-10-01\nkind: runbook\ntitle: t\nby: [dana]\nlink: runbooks/none.md\n", "link",
     "does not exist"),
    ("experiments/e.yaml", EXPERIMENT + "outcome: adopted\nended: 2026-10-09\n", "after", "is required once"),
    ("experiments/e.yaml", EXPERIMENT + "outcome: adopted\nafter: 2\nended: 2026-09-09\n", "ended",
     "is before started"),
    ("experiments/e.yaml", EXPERIMENT + "outcome: running\nteam: mob-z\n", "team", "'mob-z' is not a team"),
    ("okrs/q.yaml", OKRS + "        metric: vibes\n        target: 1\n", "objectives[0].key_results[0].metric",
     "is not one the kit computes"),
    ("okrs/q.yaml", OKRS + "        metric: shares\n        current: 2\n        target: 3\n",
     "objectives[0].key_results[0].current", "give one of the two"),
    ("okrs/q.yaml", OKRS + "        target: 3\n", "objectives[0].key_results[0].current", "is required"),
    ("okrs/q.yaml", OKRS.replace("end: 2026-12-31", "end: 2026-09-30") + "        current: 1\n        target: 3\n",
     "end", "is before start"),
]


@pytest.mark.parametrize(("file", "text", "field", "problem"), BAD, ids=[f"{b[0]}:{b[2] or b[3]}" for b in BAD])
def test_a_bad_file_is_refused_naming_file_and_field(community, file, text, field, problem):
    (community / file).write_text(text)
    with pytest.raises(InvalidInput) as refused:
        records.load(community)
    error = refused.value
    assert error.source.startswith(f"community/{file}")
    assert error.field == field
    assert problem in error.problem


@pytest.mark.parametrize(("change", "field", "problem"), [
    (lambda c: c.pop("purpose"), "purpose", "is required"),
    (lambda c: c.update(lead="ghost"), "lead", "'ghost' is not a member"),
    (lambda c: c.update(core_team=["dana", "ghost"]), "core_team[1]", "'ghost' is not a member"),
    (lambda c: c.update(values=list("abcdef")), "values", "at most 5"),
])
def test_a_bad_canvas_is_refused_naming_the_field(community, change, field, problem):
    canvas = yaml.safe_load((community / "canvas.yaml").read_text())
    change(canvas)
    (community / "canvas.yaml").write_text(yaml.safe_dump(canvas))
    with pytest.raises(InvalidInput) as refused:
        records.load(community)
    assert (refused.value.source, refused.value.field) == ("community/canvas.yaml", field)
    assert problem in refused.value.problem


def test_check_reports_what_a_valid_community_lacks(community, capsys):
    (community / "canvas.yaml").unlink()
    (community / "members" / "amara.yaml").write_text(
        "name: Amara\njoined: 2026-09-01\nexperience: experienced\ncatalog: amara-o\nleft: 2026-11-30\n")
    (community / "members" / "zed.yaml").write_text(MEMBER)
    findings = records.check(records.load(community), SHOP_TEAM)
    assert findings == [
        "community/canvas.yaml: missing: write the community canvas (purpose, audience, values, goals, roles, rules, "
        "governance, rhythm)",
        "community/members/amara.yaml: catalog: 'amara-o' is not a User in the service catalog",
        "community/members/zed.yaml: zed is in no team: add them to a mob",
        "community/teams/mob-a.yaml: members[0]: amara left on 2026-11-30",
    ]
    assert records.check(records.load(community), None)[1:] == findings[2:]  # no catalog: catalog not checked
    assert main(["cop", "check", "--folder", str(community)]) == 1
    assert "4 findings" in capsys.readouterr().out


def test_a_broken_file_exits_2_with_one_line(community, capsys):
    (community / "teams" / "mob-a.yaml").write_text("name: A\nformed: 2026-09-01\nmembers: [amara, ghost]\n")
    assert main(["cop", "check", "--folder", str(community)]) == 2
    assert capsys.readouterr().err.strip() == ("kit cop: community/teams/mob-a.yaml: members[1]: 'ghost' is not a "
                                               "member (no community/members/ghost.yaml)")


def test_check_reads_the_team_pulse_too(community, capsys):
    assert main(["cop", "pulse", "add", "--team", "mob-a", "--answers", "4,4,4,4,4,4,4", "--date", "2026-11-20",
                 "--folder", str(community)]) == 0
    assert main(["cop", "check", "--folder", str(community)]) == 0
    assert "1 pulse rounds" in capsys.readouterr().out
    (community / "pulse" / "mob-b").mkdir()
    (community / "pulse" / "mob-b" / "2026-11-20.yaml").write_text("answers:\n  - [4, 4, 4, 4, 4, 4, 9]\n")
    assert main(["cop", "check", "--folder", str(community)]) == 2
    assert "community/pulse/mob-b/2026-11-20.yaml: questionnaire: is required" in capsys.readouterr().err


ADDS = [
    (["member", "zoe", "--name", "Zoe Park", "--experience", "newcomer", "--joined", "2026-11-20", "--catalog", "zp",
      "--email", "zoe@example.org"],
     "members", "zoe", dict(name="Zoe Park", experience="newcomer", joined=date(2026, 11, 20), catalog="zp",
                            email="zoe@example.org", left=None)),
    (["team", "mob-c", "--name", "Mob C", "--members", "chen, hana", "--formed", "2026-11-02"],
     "teams", "mob-c", dict(name="Mob C", members=("chen", "hana"), formed=date(2026, 11, 2))),
    (["session", "--date", "2026-11-24", "--drill", "payments-down", "--team", "mob-b", "--minutes", "60",
      "--attendees", "bruno,emeka,farah", "--rotation", "driver=emeka,navigator=bruno,researcher=bruno+farah",
      "--rotation", "driver=farah,scribe=emeka", "--drill-run", "r42", "--drill-results",
      "day/mob-b/drills/results.jsonl", "--notes", "paged in 40 s"],
     "sessions", "2026-11-24-mob-b-payments-down",
     dict(date=date(2026, 11, 24), kind="drill", subject="payments-down", team="mob-b", minutes=60,
          attendees=("bruno", "emeka", "farah"), drill_run="r42", drill_results="day/mob-b/drills/results.jsonl",
          notes="paged in 40 s",
          rotations=(records.Rotation({"driver": ("emeka",), "navigator": ("bruno",), "researcher": ("bruno", "farah")}),
                     records.Rotation({"driver": ("farah",), "scribe": ("emeka",)})))),
    (["session", "--date", "2026-11-25", "--ceremony", "incident-lunch", "--minutes", "45", "--attendees", "dana"],
     "sessions", "2026-11-25-community-incident-lunch",
     dict(kind="ceremony", subject="incident-lunch", team=None, rotations=(), drill_run=None, drill_results=None)),
    (["share", "--kind", "runbook", "--title", "Checkout errors: first checks!", "--by", "chen,dana", "--date",
      "2026-11-26", "--link", "runbooks/checkout-errors.md", "--session", "2026-11-17-mob-a-slow-burn"],
     "shares", "2026-11-26-chen-checkout-errors-first-checks",
     dict(kind="runbook", title="Checkout errors: first checks!", by=("chen", "dana"),
          link="runbooks/checkout-errors.md", session="2026-11-17-mob-a-slow-burn")),
    (["experiment", "pairs-on-call", "--title", "Shadow on-call in pairs", "--owners", "hana", "--team", "mob-b",
      "--hypothesis", "pairs learn faster", "--change", "newcomers shadow a shift", "--metric", "drill TTR",
      "--unit", "min", "--better", "lower", "--before", "30", "--after", "22", "--started", "2026-10-01",
      "--ended", "2026-11-01", "--outcome", "adopted"],
     "experiments", "pairs-on-call",
     dict(owners=("hana",), team="mob-b", before=30.0, after=22.0, ended=date(2026, 11, 1), outcome="adopted",
          improved=True)),
]


@pytest.mark.parametrize(("argv", "kind", "ident", "expected"), ADDS, ids=[f"{a[1]}-{a[2]}" for a in ADDS])
def test_every_add_round_trips(community, capsys, argv, kind, ident, expected):
    before = records.load(community)
    assert main(["cop", "add", *argv, "--folder", str(community)]) == 0
    assert capsys.readouterr().out.strip() == f"added community/{kind}/{ident}.yaml"
    after = records.load(community)
    added = [r for r in after.of_kind(kind) if r not in before.of_kind(kind)]
    assert len(added) == 1 and (added[0].handle if kind == "members" else added[0].id) == ident
    assert {name: getattr(added[0], name) for name in expected} == expected
    text = (community / kind / f"{ident}.yaml").read_text()
    assert text.startswith(f"# {kind[:-1]} {ident}, added by `kit cop add`\n")
    main(["cop", "list", kind, "--json", "--folder", str(community)])
    listed = json.loads(capsys.readouterr().out)
    assert ident in {entry.get("handle", entry.get("id")) for entry in listed}


def test_add_refuses_a_dangling_reference_or_an_existing_entry_and_writes_nothing(community, capsys):
    mob_a = (community / "teams" / "mob-a.yaml").read_text()
    assert main(["cop", "add", "team", "mob-a", "--name", "A", "--members", "dana", "--folder", str(community)]) == 2
    assert "community/teams/mob-a.yaml: already exists" in capsys.readouterr().err
    assert (community / "teams" / "mob-a.yaml").read_text() == mob_a
    assert main(["cop", "add", "share", "--kind", "talk", "--title", "t", "--by", "dana,ghost", "--date",
                 "2026-11-30", "--folder", str(community)]) == 2
    assert capsys.readouterr().err.strip() == ("kit cop: community/shares/2026-11-30-dana-t.yaml: by[1]: 'ghost' is "
                                               "not a member (no community/members/ghost.yaml)")
    assert not (community / "shares" / "2026-11-30-dana-t.yaml").exists()
    assert main(["cop", "add", "session", "--lab", "04-runbooks", "--minutes", "60", "--attendees", "dana",
                 "--rotation", "pilot=dana", "--folder", str(community)]) == 2
    assert "rotations[0].pilot: is not a role" in capsys.readouterr().err
    assert sorted(p.name for p in community.rglob("*.tmp")) == []


def test_add_starts_a_community_from_nothing(tmp_path):
    added = records.add("members", "ana", {"name": "Ana", "joined": date(2026, 1, 5), "experience": "newcomer"},
                        tmp_path / "community")
    assert added == records.load(tmp_path / "community").member("ana")
    assert records.load(tmp_path / "community").canvas is None


# ---------------------------------------------------------------- computed key results

Q4 = dict(start=date(2026, 10, 1), end=date(2026, 12, 31))


def test_community_metrics_count_the_period_so_far(community):
    loaded = records.load(community)
    nothing = keyresults.Evidence()
    on = date(2026, 11, 10)  # before the 2026-11-17 drill, after the 2026-11-03 ceremony

    def measure(metric, today=on):
        return keyresults.measure(metric, loaded, nothing, today=today, **Q4)

    assert measure("sessions") == 3  # 10-13 lab, 10-20 drill, 11-03 ceremony; the 09-08 labs are before the period
    assert measure("drill-sessions") == 1
    assert measure("active-members") == 9  # mob A's five on 10-13, mob B's four on 10-20
    assert measure("shares") == 2 and measure("runbook-shares") == 1  # 10-27 runbook, 11-04 write-up
    assert measure("experiments-completed") == 0  # rotate-every-7-minutes ends 11-17
    assert measure("experiments-completed", date(2026, 12, 1)) == 1
    assert measure("sessions", date(2026, 9, 30)) is None  # the period has not begun
    assert measure("drills-per-month") is None and measure("runbook-problems") is None  # nothing gathered


def test_drill_rate_and_a_falling_key_result_on_fixtures(community):
    rows = [{"ended_at": datetime(2026, 10, d, 12).timestamp()} for d in (2, 15, 30)] + [
        {"ended_at": datetime(2026, 9, 30, 12).timestamp()},  # before the period
        {"ended_at": datetime(2026, 12, 5, 12).timestamp()},  # after "today"
        {"run": "unfinished"}]  # no ended_at: left out
    evidence = keyresults.Evidence(keyresults.drill_days(rows), runbook_problems=4)
    assert len(evidence.drill_days) == 5
    loaded = records.load(community)
    okrs = records.OKRSet("q4", objectives=(records.Objective("o", (
        records.KeyResult("two drills a month", 2, 0, "drills-per-month", None),
        records.KeyResult("runbooks complete", 0, 6, "runbook-problems", None),
        records.KeyResult("a workshop", 1, 0, None, 3.0))),), source="", **Q4)
    measured = keyresults.progress(okrs, loaded, evidence, date(2026, 11, 30))
    days = 61  # 2026-10-01 to 2026-11-30 inclusive
    assert measured[0].current == pytest.approx(3 / (days / 30.4375))  # 1.497 drills a month
    assert measured[0].progress == pytest.approx(3 / (days / 30.4375) / 2)
    assert (measured[1].current, measured[1].progress) == (4, pytest.approx(1 / 3))  # from 6 down to 0: 2 of 6
    assert (measured[2].current, measured[2].progress, measured[2].source) == (3, 1.0, "entered by hand")  # clipped
    assert measured[0].source == records.METRICS["drills-per-month"]
    none = keyresults.progress(okrs, loaded, keyresults.Evidence(), date(2026, 11, 30))
    assert [(m.current, m.progress) for m in none[:2]] == [(None, None), (None, None)]


def test_list_okrs_measures_from_the_drill_results_and_the_runbook_lint(community, tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    (state / "drills").mkdir(parents=True)
    (state / "drills" / "results.jsonl").write_text("".join(
        json.dumps({"run": f"r{d}", "outcome": "resolved", "ended_at": datetime(2026, 10, d, 9).timestamp()}) + "\n"
        for d in (5, 19, 26)))
    monkeypatch.setenv("KIT_STATE_DIR", str(state))
    assert main(["cop", "list", "okrs", "--json", "--today", "2026-10-31", "--folder", str(community)]) == 0
    measured = {m["title"]: m for m in json.loads(capsys.readouterr().out)}
    drills = measured["Two drills a month in the sandbox"]
    assert drills["measured"] == pytest.approx(3 / (31 / 30.4375))
    assert drills["progress"] == 1.0
    runbooks = measured["Every paging alert has a complete runbook"]
    assert (runbooks["measured"], runbooks["progress"]) == (0, 1.0)  # the kit's runbooks lint clean offline
    assert measured["One cross-team workshop with the data team"]["source"] == "entered by hand"
    assert main(["cop", "list", "okrs", "--today", "2026-10-31", "--folder", str(community)]) == 0
    table = capsys.readouterr().out
    assert "Two drills a month in the sandbox" in table and "drills-per-month: drills finished" in table
