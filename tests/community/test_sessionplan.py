"""The facilitator's guide's session plans: the shipped ones, bad files, the agenda, and the mob timer following one."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from kit.cli import main
from kit.cli import session as session_cli
from kit.community import sessionplan
from kit.community.sessionplan import SessionPlan, check_guide, load_plans, plan_labs, session_plan
from kit.config import CONTENT
from kit.errors import InvalidInput
from kit.lab import LABS
from kit.mob import MobPlan, MobSession, MobTimer

T0 = 1_700_000_000.0
ROSTER = ("Ana", "Ben", "Cy")

GOOD = {
    "lab": "99-test",
    "title": "Lab 99",
    "variants": [
        {"minutes": 60, "rotate_at": [20, 40],
         "segments": [{"minutes": 20, "title": "One", "sections": ["1. One"]},
                      {"minutes": 20, "title": "Two", "sections": ["2. Two"]},
                      {"minutes": 20, "title": "Debrief", "sections": ["Debrief"]}],
         "debrief": ["What surprised you?"]},
        {"minutes": 90, "rotate_at": [30, 45, 75],
         "segments": [{"minutes": 30, "title": "One", "sections": ["1. One"]},
                      {"minutes": 15, "title": "Two, first half", "sections": ["2. Two"]},
                      {"minutes": 10, "break": True},
                      {"minutes": 20, "title": "Two, second half", "sections": ["2. Two"]},
                      {"minutes": 15, "title": "Debrief", "sections": ["Debrief"]}],
         "debrief": ["What surprised you?"]},
        {"minutes": 120, "rotate_at": [50],
         "segments": [{"minutes": 50, "title": "One", "sections": ["1. One"]},
                      {"minutes": 70, "title": "Debrief", "sections": ["Debrief"]}],
         "afterwards": ["2. Two"],
         "debrief": ["What surprised you?"]},
    ],
}


def write_guide(root: Path, plan: dict, name: str = "99-test") -> Path:
    """A guide folder holding one plan file; returns the file."""
    path = root / "plans" / f"{name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


def write_notebook(root: Path, lab: str, headings: list[str]) -> None:
    folder = root / lab
    folder.mkdir(parents=True)
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"## {h}\n", "Some text.\n"]} for h in headings]
    cells.insert(0, {"cell_type": "code", "metadata": {}, "source": ["## not a heading: a comment\n"],
                     "outputs": [], "execution_count": None})
    (folder / f"{lab}.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                     "nbformat_minor": 5}))


# --- the shipped guide --------------------------------------------------------

def test_every_lab_has_all_three_variants_and_every_shipped_plan_is_valid() -> None:
    solutions = {p.name for p in CONTENT.solutions.iterdir() if p.is_dir()}
    assert set(LABS) | solutions <= set(plan_labs())
    for lab in plan_labs():
        plans = load_plans(CONTENT.guide / "plans" / f"{lab}.yml")
        assert sorted(plans) == [60, 90, 120]
        for minutes, plan in plans.items():
            assert sum(s.minutes for s in plan.segments) == minutes, (lab, minutes)
            assert sum(m for m, _ in plan.mob_schedule()) == minutes, (lab, minutes)
            assert plan.agenda()[-1].end == minutes


def test_the_shipped_plans_cover_their_notebooks_sections() -> None:
    assert check_guide(LABS) == []


def test_the_command_line_lists_the_same_variants() -> None:
    assert session_cli.VARIANTS == sessionplan.VARIANTS


# --- bad files ----------------------------------------------------------------

def changed(edit) -> dict:
    plan = copy.deepcopy(GOOD)
    edit(plan)
    return plan


BAD = [
    (lambda p: p["variants"][1]["segments"][0].update(minutes=25),
     "variants[1].segments: add up to 85 minutes, not the variant's 90; add 5"),
    (lambda p: p["variants"][0]["rotate_at"].__setitem__(0, 17),
     "variants[0].rotate_at[0]: minute 17 falls inside segment 'One' (0-20); rotate between segments, at 0 or 20"),
    (lambda p: p["variants"][0]["rotate_at"].reverse(), "variants[0].rotate_at[1]: 20 does not come after 40"),
    (lambda p: p["variants"][0].update(rotate_at=[60]), "variants[0].rotate_at[0]: 60 is not inside the session"),
    (lambda p: p["variants"][0].update(rotate_at=[]), "variants[0].rotate_at: name at least one minute"),
    (lambda p: p["variants"].pop(), "variants: no 120-minute variant"),
    (lambda p: p["variants"].__setitem__(2, p["variants"][1]), "variants[2].minutes: a second 90-minute variant"),
    (lambda p: p["variants"][0].update(minutes=45), "variants[0].minutes: 45 is not a variant"),
    (lambda p: p["variants"].reverse(), "variants[1].minutes: 90 comes after 120"),
    (lambda p: p["variants"][0]["segments"][1].update(minute=20), "variants[0].segments[1].minute: is not a known field"),
    (lambda p: p["variants"][0]["segments"][1].update(minutes=0), "variants[0].segments[1].minutes: input should be greater than or equal to 1"),
    (lambda p: p["variants"][1].update(rotate_at=[30, 75]),
     "variants[1].rotate_at: has no rotation at minute 45, where break segments[2] starts"),
    (lambda p: p["variants"][1].update(rotate_at=[30, 45, 55]),
     "variants[1].rotate_at: rotates at minute 55, as break segments[2] ends"),
    (lambda p: p["variants"][0]["segments"][2].update({"break": True}),
     "variants[0].segments[2]: a break comes between two working segments"),
    (lambda p: p["variants"][0].update(debrief=[]), "variants[0].debrief: list should have at least 1 item"),
    (lambda p: p.update(lab="98-other"), "lab: '98-other' is not the file's name"),
]


@pytest.mark.parametrize(("edit", "message"), BAD, ids=[message.split(":")[0] for _, message in BAD])
def test_a_bad_plan_file_is_one_error_naming_the_file_and_the_field(tmp_path, edit, message) -> None:
    path = write_guide(tmp_path, changed(edit))
    with pytest.raises(InvalidInput) as caught:
        load_plans(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_a_file_that_is_not_yaml_names_its_line(tmp_path) -> None:
    path = tmp_path / "plans" / "99-test.yml"
    path.parent.mkdir()
    path.write_text("lab: 99-test\nvariants: [\n")
    with pytest.raises(InvalidInput, match=rf"^{path}:3:1: not valid YAML"):
        load_plans(path)


def test_the_guide_check_finds_missing_plans_and_sections_that_drift_from_the_notebook(tmp_path) -> None:
    guide, solutions = tmp_path / "guide", tmp_path / "solutions"
    plan = changed(lambda p: p["variants"][0]["segments"][1].update(sections=["2. Too"]))
    path = write_guide(guide, plan)
    write_notebook(solutions, "99-test", ["1. One", "2. Two", "3. Three", "Debrief"])
    findings = check_guide(["99-test", "98-missing"], guide, solutions)
    assert findings == [
        f"{guide / 'plans' / '98-missing.yml'}: no session plan for lab 98-missing",
        f"{path}: variants[0].segments[1].sections[0]: '2. Too' is not a section of the notebook; its sections: "
        "1. One; 2. Two; 3. Three; Debrief",
        f"{path}: variants[0]: the 60-minute plan neither covers nor leaves for afterwards 2. Two; 3. Three",
        f"{path}: variants[1]: the 90-minute plan neither covers nor leaves for afterwards 3. Three",
        f"{path}: variants[2]: the 120-minute plan neither covers nor leaves for afterwards 3. Three",
    ]
    write_notebook(solutions, "98-missing", ["Debrief"])
    assert check_guide(["99-test"], guide, solutions)[0].startswith(f"{path}: variants[0].segments[1]")


# --- the agenda and the command -------------------------------------------------

def test_the_agenda_places_segments_and_rotations_in_time(tmp_path) -> None:
    write_guide(tmp_path, GOOD)
    plan = session_plan("99", 90, tmp_path)
    assert [(r.start, r.end, r.rotate) for r in plan.agenda()] == [
        (0, 30, True), (30, 45, True), (45, 55, False), (55, 75, True), (75, 90, False)]
    assert plan.mob_schedule() == ((30.0, False), (15.0, False), (10.0, True), (20.0, False), (15.0, False))


def test_kit_session_plan_prints_the_timed_agenda_with_clock_times(tmp_path, capsys) -> None:
    write_guide(tmp_path, GOOD)
    assert main(["session", "plan", "99-test", "--minutes", "90", "--start", "13:45", "--guide", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:11] == [
        "Lab 99 (99-test): a 90-minute session",
        "  13:45-14:15  30 min  One  [1. One]",
        "  14:15  rotate: the navigator takes the keyboard",
        "  14:15-14:30  15 min  Two, first half  [2. Two]",
        "  14:30  rotate: the navigator takes the keyboard after the break",
        "  14:30-14:40  10 min  Break",
        "  14:40-15:00  20 min  Two, second half  [2. Two]",
        "  15:00  rotate: the navigator takes the keyboard",
        "  15:00-15:15  15 min  Debrief  [Debrief]",
        "Debrief questions:",
        "  - What surprised you?",
    ]
    assert "session_plan('99-test', 90).mob_schedule()" in out[-1]
    assert main(["session", "plan", "99", "--minutes", "120", "--guide", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == ["   0:00-0:50   50 min  One  [1. One]", "   0:50  rotate: the navigator takes the keyboard"]
    assert "Left for afterwards: 2. Two" in out


def test_kit_session_refuses_an_unknown_lab_or_length_and_check_reports_findings(tmp_path, capsys) -> None:
    write_guide(tmp_path, GOOD)
    assert main(["session", "plan", "42", "--guide", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "kit session: lab: no session plan for '42'; the guide has plans for 99-test"
    with pytest.raises(SystemExit) as refused:
        main(["session", "plan", "99", "--minutes", "45"])
    assert refused.value.code == 2
    assert main(["session", "check", "--guide", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{tmp_path / 'plans' / '00-mob-and-sandbox.yml'}: no session plan for lab 00-mob-and-sandbox"
    assert out[-1].endswith(f"{len(out) - 1} findings")
    assert main(["session", "check"]) == 0


# --- the mob timer following a plan -----------------------------------------------

def plan_90(tmp_path) -> SessionPlan:
    write_guide(tmp_path, GOOD)
    return session_plan("99-test", 90, tmp_path)


def test_the_mob_timer_rotates_at_the_plans_rotation_points_and_breaks_in_its_break(tmp_path) -> None:
    plan = plan_90(tmp_path)
    session = MobSession(MobPlan(ROSTER, turn_minutes=7, break_every=0, schedule=plan.mob_schedule())).start(T0)
    seen = []
    for minute in (0, 29.9, 30, 44.9, 45, 54.9, 55, 74.9, 75, 89.9, 90, 96.9, 97):
        m = session.moment(T0 + minute * 60)
        seen.append((minute, m.turn, m.on_break, m.driver, round(m.seconds_left)))
    assert seen == [
        (0, 0, False, "Ana", 1800), (29.9, 0, False, "Ana", 6),
        (30, 1, False, "Ben", 900), (44.9, 1, False, "Ben", 6),
        (45, 2, True, "Cy", 600), (54.9, 2, True, "Cy", 6),
        (55, 2, False, "Cy", 1200), (74.9, 2, False, "Cy", 6),
        (75, 3, False, "Ana", 900), (89.9, 3, False, "Ana", 6),
        # the plan is over: the mob goes on in turns of turn_minutes
        (90, 4, False, "Ben", 420), (96.9, 4, False, "Ben", 6), (97, 5, False, "Cy", 420),
    ]
    turns = session.turns(T0 + 100 * 60)
    assert [(t.number, t.driver, t.start / 60, t.end / 60) for t in turns] == [
        (0, "Ana", 0, 30), (1, "Ben", 30, 45), (2, "Cy", 55, 75), (3, "Ana", 75, 90), (4, "Ben", 90, 97)]


def test_a_skip_and_a_pause_move_the_plan_along_as_they_move_any_turn(tmp_path) -> None:
    plan = plan_90(tmp_path)
    session = MobSession(MobPlan(ROSTER, schedule=plan.mob_schedule())).start(T0)
    session = session.skip(T0 + 10 * 60)  # the first turn ends early: the second starts, full length
    m = session.moment(T0 + 11 * 60)
    assert (m.turn, m.driver, round(m.seconds_left)) == (1, "Ben", 14 * 60)
    session = session.pause(T0 + 20 * 60).start(T0 + 50 * 60)  # thirty minutes paused count for nothing
    m = session.moment(T0 + 54 * 60)
    assert (m.turn, m.driver, round(m.seconds_left)) == (1, "Ben", 60)
    m = session.moment(T0 + 55 * 60)
    assert (m.turn, m.on_break, m.driver, round(m.seconds_left)) == (2, True, "Cy", 600)


def test_the_timer_widget_follows_a_plan_and_keeps_it_across_a_restart(tmp_path) -> None:
    plan = plan_90(tmp_path)
    now = [T0]
    path = tmp_path / "mob.json"
    timer = MobTimer(list(ROSTER), path=path, clock=lambda: now[0], tick=False, record=False,
                     schedule=plan.mob_schedule())
    try:
        timer.start()
        now[0] = T0 + 46 * 60
        assert timer.refresh().on_break and "Break! Back in 9:00, then Cy drives" in timer.banner.value
    finally:
        timer.close()
    again = MobTimer(list(ROSTER), path=path, clock=lambda: now[0], tick=False, record=False,
                     schedule=plan.mob_schedule())
    try:
        assert again.session.plan.schedule == plan.mob_schedule() and again.moment().on_break
    finally:
        again.close()
    saved = json.loads(path.read_text())
    assert saved["plan"]["schedule"] == [[30.0, False], [15.0, False], [10.0, True], [20.0, False], [15.0, False]]


@pytest.mark.parametrize(("schedule", "message"), [
    ([(10, True)], "schedule[0]: a break must follow a turn"),
    ([(10, False), (5, True), (5, True)], "schedule[2]: a break must follow a turn"),
    ([(0, False)], "schedule[0]: 0 is not allowed"),
    ([(10,)], "schedule[0]: (10,) is not a (minutes, on_break) pair"),
    ("10", "schedule: give a list of (minutes, on_break) pairs"),
])
def test_a_bad_schedule_names_the_stretch(schedule, message) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}"):
        MobPlan(ROSTER, schedule=schedule)
