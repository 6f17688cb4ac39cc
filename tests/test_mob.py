"""The mob timer: schedule arithmetic, the saved session, and the widget over both."""

from __future__ import annotations

import json

import pytest

from kit.errors import InvalidInput, KitError
from kit.mob import MobMoment, MobPlan, MobSession, MobTimer, default_path, format_seconds, load_session, moment_at

ROSTER = ("Ana", "Ben", "Cy", "Dee")
T0 = 1_700_000_000.0


class FakeClock:
    """Wall time that only moves when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def plan(**changes) -> MobPlan:
    values = {"roster": ROSTER, "turn_minutes": 7, "break_every": 0, "break_minutes": 0}
    values.update(changes)
    return MobPlan(**values)


def texts(widget) -> str:
    """Every value and description in a widget tree, so tests read what people see."""
    parts = [str(getattr(widget, "value", "")), str(getattr(widget, "description", ""))]
    for child in getattr(widget, "children", ()):
        parts.append(texts(child))
    return "\n".join(parts)


# --- pure logic -------------------------------------------------------------


def test_rotation_follows_the_roster_for_many_turns() -> None:
    p = plan()
    for turn in range(40):
        m = moment_at(p, T0, T0 + turn * 420 + 30)
        assert m.turn == turn
        assert m.driver == ROSTER[turn % 4]
        assert m.navigator == ROSTER[(turn + 1) % 4]
        assert set(m.researchers) == set(ROSTER) - {m.driver, m.navigator}
        assert m.seconds_left == pytest.approx(390)


def test_the_navigator_drives_next() -> None:
    p = plan()
    before = moment_at(p, T0, T0 + 419)
    after = moment_at(p, T0, T0 + 420)
    assert after.driver == before.navigator
    assert after.navigator == before.researchers[0]
    assert after.rotated and after.cue == "Rotate! Ben drives now, Cy navigates"
    assert not before.rotated and before.cue == ""
    assert not moment_at(p, T0, T0 + 420 + 60).rotated


def test_two_people_swap_and_have_no_researchers() -> None:
    p = MobPlan(("Ana", "Ben"), turn_minutes=5, break_every=0, break_minutes=0)
    drivers = [moment_at(p, T0, T0 + t * 300 + 1).driver for t in range(4)]
    assert drivers == ["Ana", "Ben", "Ana", "Ben"]
    assert moment_at(p, T0, T0).researchers == ()


def test_breaks_come_every_n_turns_and_last_break_minutes() -> None:
    p = plan(turn_minutes=5, break_every=3, break_minutes=10)
    turn_s, break_s = 300, 600
    cycle = 3 * turn_s + break_s
    for k in range(5):
        start = T0 + k * cycle
        for i in range(3):
            m = moment_at(p, T0, start + i * turn_s + 1)
            assert not m.on_break and m.turn == 3 * k + i
        on_break = moment_at(p, T0, start + 3 * turn_s + 1)
        assert on_break.on_break
        assert on_break.seconds_left == pytest.approx(break_s - 1)
        assert on_break.driver == ROSTER[(3 * k + 3) % 4], "a break shows who drives after it"
        assert on_break.cue.startswith("Break! Back in 9:59, then ")
        assert moment_at(p, T0, start + 3 * turn_s + break_s - 0.5).turn == 3 * k + 3
        after = moment_at(p, T0, start + cycle)
        assert not after.on_break and after.turn == 3 * (k + 1) and after.rotated


def test_no_breaks_when_break_every_or_break_minutes_is_zero() -> None:
    for p in (plan(break_every=0, break_minutes=10), plan(break_every=2, break_minutes=0)):
        assert not any(moment_at(p, T0, T0 + s).on_break for s in range(0, 420 * 10, 60))


def test_pause_and_resume_exclude_paused_time() -> None:
    s = MobSession(plan()).start(T0)
    s = s.pause(T0 + 100)
    paused = s.moment(T0 + 5000)
    assert paused.paused and paused.turn == 0 and paused.seconds_left == pytest.approx(320)
    s = s.start(T0 + 5000)
    resumed = s.moment(T0 + 5000)
    assert not resumed.paused and resumed.seconds_left == pytest.approx(320)
    assert s.moment(T0 + 5000 + 320).turn == 1
    assert s.pause(T0 + 6000).start(T0 + 7000).moment(T0 + 7000 + 100).turn == 2


def test_not_started_shows_the_first_turn_in_full() -> None:
    m = MobSession(plan()).moment(T0 + 10_000)
    assert (m.started, m.turn, m.driver, m.seconds_left) == (False, 0, "Ana", 420)


def test_skip_rotates_immediately_and_the_next_turn_is_full_length() -> None:
    s = MobSession(plan()).start(T0).skip(T0 + 60)
    m = s.moment(T0 + 60)
    assert (m.turn, m.driver, m.navigator, m.rotated) == (1, "Ben", "Cy", True)
    assert m.seconds_left == pytest.approx(420)
    assert s.moment(T0 + 60 + 420).driver == "Cy"
    assert s.moment(T0 + 30).driver == "Ana", "a skip does not rewrite what came before it"


def test_skip_while_paused_rotates_and_stays_paused() -> None:
    s = MobSession(plan()).start(T0).pause(T0 + 100).skip(T0 + 200)
    m = s.moment(T0 + 300)
    assert m.driver == "Ben" and m.paused and m.seconds_left == pytest.approx(420)


def test_two_skips_rotate_twice() -> None:
    s = MobSession(plan()).start(T0).skip(T0 + 10).skip(T0 + 10)
    assert s.moment(T0 + 10).driver == "Cy"


def test_skip_during_a_break_ends_it() -> None:
    s = MobSession(plan(turn_minutes=1, break_every=1, break_minutes=10)).start(T0)
    assert s.moment(T0 + 61).on_break
    s = s.skip(T0 + 61)
    m = s.moment(T0 + 61)
    assert not m.on_break and m.driver == "Ben" and m.seconds_left == pytest.approx(60)


def test_reset_goes_back_to_the_start() -> None:
    s = MobSession(plan()).start(T0).skip(T0 + 5).reset()
    assert s == MobSession(plan())


def test_a_long_session_is_computed_without_walking_every_turn() -> None:
    p = plan(turn_minutes=1 / 60, break_every=0)
    m = moment_at(p, T0, T0 + 10_000_000 + 0.5)
    assert m.turn == 10_000_000 and m.driver == ROSTER[10_000_000 % 4]


@pytest.mark.parametrize(
    ("changes", "field", "hint"),
    [
        ({"roster": ("Ana",)}, "roster", "at least 2"),
        ({"roster": ()}, "roster", "at least 2"),
        ({"roster": ("Ana", "ana")}, "roster", "distinct"),
        ({"roster": ("Ana", " ")}, "roster", "non-empty"),
        ({"roster": ("Ana", 3)}, "roster", "non-empty"),
        ({"roster": "Ana,Ben"}, "roster", "list"),
        ({"turn_minutes": 0}, "turn_minutes", "more than 0"),
        ({"turn_minutes": -1}, "turn_minutes", "more than 0"),
        ({"turn_minutes": float("nan")}, "turn_minutes", "number"),
        ({"turn_minutes": "7"}, "turn_minutes", "number"),
        ({"break_every": -1}, "break_every", "0 or more"),
        ({"break_every": 2.5}, "break_every", "whole number"),
        ({"break_every": True}, "break_every", "whole number"),
        ({"break_minutes": -5}, "break_minutes", "0 or more"),
    ],
)
def test_bad_plans_name_the_field_and_what_is_allowed(changes: dict, field: str, hint: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        plan(**changes)
    assert caught.value.field == field
    assert hint in caught.value.problem
    assert str(caught.value).startswith(f"{field}: ")


def test_plan_normalises_names_and_numbers() -> None:
    p = MobPlan([" Ana", "Ben "], turn_minutes=7, break_every=5, break_minutes=10)
    assert p.roster == ("Ana", "Ben") and isinstance(p.turn_minutes, float)
    assert p == MobPlan(("Ana", "Ben"), 7.0, 5, 10.0)


def test_format_seconds_rounds_up() -> None:
    assert [format_seconds(s) for s in (0, 0.2, 59.5, 60, 420, 3725)] == ["0:00", "0:01", "1:00", "1:00", "7:00", "1:02:05"]


# --- persistence ------------------------------------------------------------


def test_default_path_is_in_the_kit_state_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path))
    assert default_path() == tmp_path / "mob.json"


def test_every_change_is_saved_atomically(tmp_path) -> None:
    path = tmp_path / "deep" / "mob.json"
    clock = FakeClock()
    timer = MobTimer(list(ROSTER), turn_minutes=7, break_every=5, break_minutes=10, path=path, clock=clock, tick=False)
    assert load_session(path) == timer.session
    for action in (timer.start, timer.pause, timer.start, timer.skip, timer.reset):
        clock.advance(30)
        action()
        assert load_session(path) == timer.session
    assert sorted(p.name for p in path.parent.iterdir()) == ["mob.json", "mob.log.jsonl"], "no temp files left behind"


def test_a_new_timer_on_the_same_file_continues_after_a_kernel_restart(tmp_path) -> None:
    path = tmp_path / "mob.json"
    clock = FakeClock()
    timer = MobTimer(list(ROSTER), turn_minutes=7, break_every=2, break_minutes=5, path=path, clock=clock, tick=False)
    timer.start()
    clock.advance(500)
    timer.skip()
    clock.advance(100)
    timer.pause()
    clock.advance(1000)
    timer.start()
    clock.advance(45)
    before = timer.moment()
    timer.close()

    restored = MobTimer.resume(path=path, clock=clock, tick=False)
    assert restored.moment() == before
    assert restored.session == timer.session
    assert MobTimer(path=path, clock=clock, tick=False).moment() == before
    same_cell_rerun = MobTimer(list(ROSTER), turn_minutes=7, break_every=2, break_minutes=5, path=path, clock=clock, tick=False)
    assert same_cell_rerun.moment() == before


def test_a_different_plan_starts_a_new_session(tmp_path) -> None:
    path = tmp_path / "mob.json"
    clock = FakeClock()
    MobTimer(["Ana", "Ben"], path=path, clock=clock, tick=False).skip()
    other = MobTimer(["Ana", "Ben", "Cy"], path=path, clock=clock, tick=False)
    assert other.moment().driver == "Ana"
    assert load_session(path).plan.roster == ("Ana", "Ben", "Cy")


def test_fresh_ignores_the_saved_session(tmp_path) -> None:
    path = tmp_path / "mob.json"
    clock = FakeClock()
    MobTimer(["Ana", "Ben"], path=path, clock=clock, tick=False).skip()
    assert MobTimer(["Ana", "Ben"], path=path, clock=clock, tick=False, fresh=True).moment().driver == "Ana"


def test_resume_without_a_saved_session_says_how_to_start(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="no saved mob session") as caught:
        MobTimer.resume(path=tmp_path / "mob.json", tick=False)
    assert caught.value.field == "roster"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 99}',
        json.dumps({"version": 1, "plan": {"roster": ["Ana"], "turn_minutes": 7, "break_every": 0, "break_minutes": 0},
                    "started_at": None, "pauses": [], "skips": []}),
        json.dumps({"version": 1, "plan": {"roster": ["Ana", "Ben"], "turn_minutes": 7, "break_every": 0, "break_minutes": 0},
                    "started_at": "yesterday", "pauses": [], "skips": []}),
        json.dumps({"version": 1, "plan": {"roster": ["Ana", "Ben"], "turn_minutes": 7, "break_every": 0, "break_minutes": 0},
                    "started_at": 1.0, "pauses": [[2.0, None], [3.0, None]], "skips": []}),
    ],
)
def test_a_corrupt_file_is_one_clear_error(tmp_path, content: str) -> None:
    path = tmp_path / "mob.json"
    path.write_text(content)
    with pytest.raises(KitError) as caught:
        MobTimer.resume(path=path, tick=False)
    message = str(caught.value)
    assert str(path) in message and "damaged" in message and "fresh=True" in message and "rm " in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert MobTimer(["Ana", "Ben"], path=path, tick=False, fresh=True).moment().driver == "Ana"
    assert load_session(path) is not None


def test_an_unwritable_path_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(KitError, match="cannot save the mob session"):
        MobTimer(["Ana", "Ben"], path=blocker / "mob.json", tick=False, fresh=True)


# --- widget -----------------------------------------------------------------


def test_the_widget_shows_roles_and_rotates_with_the_clock(tmp_path) -> None:
    clock = FakeClock()
    timer = MobTimer(list(ROSTER), turn_minutes=7, break_every=0, break_minutes=0, path=tmp_path / "m.json", clock=clock, tick=False)
    shown = texts(timer)
    assert "Driver: <b>Ana</b>" in shown and "Navigator: <b>Ben</b>" in shown
    assert "Researchers: Cy, Dee" in shown and "7:00" in shown
    assert all(name in timer.order_label.value for name in ROSTER)

    timer.start_button.click()
    clock.advance(421)
    timer.refresh()
    shown = texts(timer)
    assert "Driver: <b>Ben</b>" in shown and "Navigator: <b>Cy</b>" in shown
    assert "Rotate! Ben drives now" in timer.banner.value
    assert "#bf3989" in timer.countdown.value, "the countdown changes colour to cue the rotation"

    clock.advance(60)
    timer.refresh()
    assert timer.banner.value == ""


def test_the_buttons_drive_the_session(tmp_path) -> None:
    clock = FakeClock()
    timer = MobTimer(["Ana", "Ben", "Cy"], path=tmp_path / "m.json", clock=clock, tick=False)
    assert timer.pause_button.disabled and not timer.start_button.disabled
    timer.start_button.click()
    clock.advance(10)
    timer.pause_button.click()
    assert timer.start_button.description == "Resume" and "paused" in timer.countdown.value
    clock.advance(1000)
    timer.start_button.click()
    assert timer.moment().seconds_left == pytest.approx(410)
    timer.skip_button.click()
    assert timer.moment().driver == "Ben" and "Driver: <b>Ben</b>" in timer.driver_label.value
    timer.reset_button.click()
    assert timer.moment() == MobSession(timer.session.plan).moment(clock())
    assert isinstance(timer.moment(), MobMoment)


def test_the_widget_shows_breaks(tmp_path) -> None:
    clock = FakeClock()
    timer = MobTimer(["Ana", "Ben"], turn_minutes=1, break_every=1, break_minutes=10, path=tmp_path / "m.json", clock=clock, tick=False)
    timer.start()
    clock.advance(61)
    timer.refresh()
    assert "Break! Back in 9:59, then Ben drives" in timer.banner.value
    assert "Break" in timer.countdown.value and "#1a7f37" in timer.countdown.value


def test_a_save_failure_from_a_button_is_shown_not_lost(tmp_path) -> None:
    path = tmp_path / "dir" / "m.json"
    timer = MobTimer(["Ana", "Ben"], path=path, clock=FakeClock(), tick=False)
    path.unlink()
    path.parent.rmdir()
    path.parent.parent.joinpath("dir").write_text("")
    timer.skip_button.click()
    assert "cannot save the mob session" in timer.problem.value


def test_closing_the_widget_stops_the_ticker(tmp_path) -> None:
    timer = MobTimer(["Ana", "Ben"], path=tmp_path / "m.json", clock=FakeClock())
    assert timer._ticker is not None and timer._ticker.is_alive()
    timer.close()
    timer._ticker.join(timeout=5)
    assert not timer._ticker.is_alive()


# --- one state for buttons and code ------------------------------------------


def test_buttons_and_calls_on_two_timers_change_one_session_in_any_order(tmp_path) -> None:
    """A re-run cell makes a second timer on the same file; the first one's buttons must not undo its calls."""
    clock = FakeClock()
    path = tmp_path / "m.json"
    shown = MobTimer(list(ROSTER), path=path, clock=clock, tick=False)
    code = MobTimer(list(ROSTER), path=path, clock=clock, tick=False)
    for press, call in ((shown.start_button.click, code.start), (code.start, shown.start_button.click)):
        press()
        call()
        press()
        assert load_session(path).running and shown.session == code.session == load_session(path)
        clock.advance(30)
        for pause in ((shown.pause_button.click, code.pause) if press == shown.start_button.click
                      else (code.pause, shown.pause_button.click)):
            pause()
            pause()
        assert load_session(path).paused and len(load_session(path).pauses) == 1
        code.refresh()
        shown.refresh()
        assert shown.session == code.session == load_session(path)
        assert shown.start_button.description == code.start_button.description == "Resume"
        code.reset()

    code.start()
    clock.advance(10)
    shown.refresh()
    assert "Driver: <b>Ana</b>" in shown.driver_label.value
    shown.skip_button.click()  # the button skips the turn it shows…
    code.skip(turn=0)          # …so does a call that names that turn, once
    shown.skip_button.click()  # a view refreshed since shows turn 2 and skips it
    assert code.moment().driver == "Cy" and load_session(path).skips == (10.0, 10.0)
    code.refresh()
    assert "Driver: <b>Cy</b>" in code.driver_label.value and "Driver: <b>Cy</b>" in shown.driver_label.value


def test_a_stale_view_does_not_skip_a_turn_twice(tmp_path) -> None:
    clock = FakeClock()
    path = tmp_path / "m.json"
    stale = MobTimer(["Ana", "Ben", "Cy"], path=path, clock=clock, tick=False)
    other = MobTimer(["Ana", "Ben", "Cy"], path=path, clock=clock, tick=False)
    other.start()
    other.skip()
    stale.skip_button.click()  # it still shows Ana's turn, which has ended
    assert stale.moment().driver == other.moment().driver == "Ben"


# --- the rotation is heard, not only seen ------------------------------------


def test_a_rotation_and_a_break_chime_once_each_and_nothing_else_does(tmp_path) -> None:
    clock = FakeClock()
    timer = MobTimer(["Ana", "Ben"], turn_minutes=1, break_every=2, break_minutes=5, path=tmp_path / "m.json",
                     clock=clock, tick=False)
    timer.start()
    clock.advance(30)
    timer.refresh()
    assert timer.cues == 0 and timer.chime.value == "", "starting is no rotation"
    clock.advance(31)
    timer.refresh()
    assert timer.cues == 1 and "<audio" in timer.chime.value and "autoplay" in timer.chime.value
    assert "data:audio/wav;base64," in timer.chime.value and "data-cue='1-turn'" in timer.chime.value
    timer.refresh()
    assert timer.cues == 1, "one chime per rotation, however often the view redraws"
    clock.advance(60)
    timer.refresh()
    assert timer.cues == 2 and "data-cue='2-break'" in timer.chime.value
    timer.reset()
    assert timer.cues == 2 and timer.chime.value == ""

    after_restart = MobTimer(path=tmp_path / "m.json", clock=clock, tick=False)
    after_restart.start()
    after_restart.skip()
    assert after_restart.cues == 1, "a skip is a rotation too"
    assert MobTimer(path=tmp_path / "m.json", clock=clock, tick=False).cues == 0, "showing a turn is no rotation"


def test_the_chime_can_be_turned_off(tmp_path) -> None:
    clock = FakeClock()
    quiet = MobTimer(["Ana", "Ben"], path=tmp_path / "m.json", clock=clock, tick=False, sound=False)
    assert quiet.sound.value is False
    quiet.start()
    quiet.skip()
    assert quiet.cues == 0 and quiet.chime.value == ""
    quiet.sound.value = True
    quiet.skip()
    assert quiet.cues == 1 and "<audio" in quiet.chime.value


def test_the_chime_is_a_short_valid_wav() -> None:
    import io
    import wave

    from kit.mob import chime_wav

    with wave.open(io.BytesIO(chime_wav())) as sound:
        assert (sound.getnchannels(), sound.getsampwidth(), sound.getframerate()) == (1, 2, 8000)
        assert 0.2 <= sound.getnframes() / sound.getframerate() <= 0.5
        frames = sound.readframes(sound.getnframes())
    assert max(frames) > 0, "not silence"


# --- stepping away, cycles and the retro --------------------------------------


def test_a_member_who_steps_away_is_passed_over_until_back_then_takes_their_place() -> None:
    s = MobSession(plan()).start(T0).step_away("cy", T0 + 10)  # any case
    drivers = [s.moment(T0 + k * 420 + 30) for k in range(4)]
    assert [(m.driver, m.navigator) for m in drivers] == [("Ana", "Ben"), ("Ben", "Dee"), ("Dee", "Ana"), ("Ana", "Ben")]
    assert all(m.away == ("Cy",) and "Cy" not in m.researchers for m in drivers)
    s = s.come_back("Cy", T0 + 3 * 420 + 30)
    assert s.moment(T0 + 3 * 420 + 31).navigator == "Ben", "back from the next turn on; the turn on is unchanged"
    assert [s.moment(T0 + k * 420 + 30).driver for k in range(4, 8)] == ["Ben", "Cy", "Dee", "Ana"]
    assert s.away == () and s.moment(T0 + 5 * 420).researchers == ("Ana", "Ben")


def test_a_driver_who_steps_away_hands_over_at_once_and_the_rotation_goes_on_from_there() -> None:
    s = MobSession(plan()).start(T0).step_away("Ana", T0 + 100)
    m = s.moment(T0 + 100)
    assert (m.turn, m.driver, m.navigator, m.seconds_left) == (0, "Ben", "Cy", pytest.approx(320))
    assert s.moment(T0 + 420).driver == "Cy", "Ben drove turn 1's end, so Cy drives next, not Ben twice"


def test_stepping_away_and_skip_at_one_paused_instant_count_in_the_order_pressed() -> None:
    paused = MobSession(plan()).start(T0).pause(T0 + 100)
    away_then_skip = paused.step_away("Ana", T0 + 200).skip(T0 + 201)
    skip_then_away = paused.skip(T0 + 200).step_away("Ana", T0 + 201)
    assert away_then_skip.moment(T0 + 300).driver == "Cy", "Ben's turn (shown when Skip was pressed) is skipped"
    assert skip_then_away.moment(T0 + 300).driver == "Ben", "Skip ended Ana's turn; Ana leaving after changes nothing"


def test_a_mob_keeps_two_people_in_the_rotation_and_names_must_be_in_the_roster() -> None:
    s = MobSession(plan(roster=("Ana", "Ben", "Cy"))).step_away("Ana", T0)
    with pytest.raises(InvalidInput, match="at least 2 people") as caught:
        s.step_away("Ben", T0)
    assert caught.value.field == "name" and "Ana" in caught.value.problem
    with pytest.raises(InvalidInput, match="the roster is Ana, Ben, Cy"):
        s.step_away("Zoe", T0)
    assert s.step_away("Ana", T0) == s and s.come_back("Ben", T0) == s, "repeats change nothing"


def test_before_the_start_and_after_a_reset_who_is_away_stays_away() -> None:
    s = MobSession(plan()).step_away("Ana", T0)
    assert s.moment(T0).driver == "Ben"
    s = s.start(T0 + 5).skip(T0 + 30).reset()
    assert s.away == ("Ana",) and not s.moment(T0 + 40).started and s.moment(T0 + 40).driver == "Ben"


def test_a_full_cycle_is_every_member_present_driving_once_and_the_retro_waits_to_be_dismissed() -> None:
    s = MobSession(plan(roster=("Ana", "Ben", "Cy"))).start(T0)
    assert [(s.moment(T0 + k * 420 + 1).cycles, s.moment(T0 + k * 420 + 1).retro) for k in range(4)] == [
        (0, False), (0, False), (0, False), (1, True)]
    s = s.dismiss_retro(T0 + 3 * 420 + 60)
    assert not s.moment(T0 + 5 * 420 + 1).retro and s.moment(T0 + 6 * 420 + 1).retro
    two_left = MobSession(plan(roster=("Ana", "Ben", "Cy"))).step_away("Cy", T0).start(T0)
    assert two_left.moment(T0 + 2 * 420 + 1).cycles == 1, "a member away is not waited for"


@pytest.mark.parametrize("breaks", [(0, 0), (3, 5), (2, 1)])
def test_the_arithmetic_shortcut_agrees_with_replaying_turn_by_turn(breaks) -> None:
    """moment_at skips whole periods once nothing changes; ``turns`` replays every turn: they must agree."""
    every, minutes = breaks
    s = MobSession(plan(roster=("Ana", "Ben", "Cy", "Dee", "Eve"), turn_minutes=1, break_every=every,
                        break_minutes=minutes)).start(T0)
    s = s.skip(T0 + 30).step_away("Cy", T0 + 100).skip(T0 + 150).step_away("Ana", T0 + 400).come_back("Cy", T0 + 900)
    turns = s.turns(T0 + 20_000)
    assert len(turns) > 100 and [t.number for t in turns] == list(range(len(turns)))
    assert [t.number for t in turns if t.skipped][:1] == [0] and turns[0].end == 30
    drove: set[str] = set()
    cycles = 0
    for t in turns:
        if t.end > t.start:
            m = s.moment(T0 + (t.start + t.end) / 2)
            assert (m.turn, m.driver, m.navigator, m.away, m.on_break) == (t.number, t.driver, t.navigator, t.away, False)
            assert m.cycles == cycles
        drove.add(t.driver)
        if drove >= set(s.plan.roster) - set(t.away):
            cycles, drove = cycles + 1, set()
    assert s.turns(T0 + 20_000, since=150) == turns[150:]


def test_a_long_session_with_someone_away_is_computed_without_walking_every_turn() -> None:
    s = MobSession(plan(turn_minutes=1 / 60)).step_away("Ben", T0).start(T0)
    m = s.moment(T0 + 9_000_000 + 0.5)
    assert (m.turn, m.driver, m.cycles) == (9_000_000, ("Ana", "Cy", "Dee")[9_000_000 % 3], 3_000_000)


def test_wall_time_is_the_inverse_of_active_seconds() -> None:
    from kit.mob import active_seconds, wall_time

    pauses = ((T0 + 100, T0 + 160), (T0 + 300, None))
    for offset in (0, 50, 100, 101, 200, 240):
        wall = wall_time(T0, offset, pauses)
        assert active_seconds(T0, wall, pauses) == pytest.approx(offset)
    assert wall_time(T0, 100, pauses) == T0 + 100, "the earliest moment: a skip during a pause is at its start"


def test_presence_and_the_retro_survive_the_file_and_older_files_still_load(tmp_path) -> None:
    from kit.mob import save_session

    path = tmp_path / "mob.json"
    s = MobSession(plan()).start(T0).step_away("Ben", T0 + 5).skip(T0 + 6).come_back("Ben", T0 + 7)
    s = s.dismiss_retro(T0 + 5000)
    save_session(s, path)
    assert load_session(path) == s and load_session(path).retro_seen == 2
    old = s.to_json()
    for key in ("presence", "retro_seen", "notebook"):
        del old[key]
    path.write_text(json.dumps(old))
    assert load_session(path) == MobSession(plan(), T0, (), s.skips)


@pytest.mark.parametrize("presence", [
    [{"name": "Zoe", "at": 1, "away": True, "after_skips": 0}],
    [{"name": "Ana", "at": 1, "away": False, "after_skips": 0}],
    [{"name": n, "at": 1, "away": True, "after_skips": 0} for n in ("Ana", "Ben", "Cy")],
    "Ana",
])
def test_a_damaged_presence_list_is_a_damaged_file(tmp_path, presence) -> None:
    path = tmp_path / "mob.json"
    path.write_text(json.dumps({**MobSession(plan()).to_json(), "presence": presence}))
    with pytest.raises(KitError, match="damaged"):
        load_session(path)


def test_the_widget_steps_members_away_and_shows_the_retro_until_dismissed(tmp_path) -> None:
    clock = FakeClock()
    timer = MobTimer(["Ana", "Ben", "Cy"], turn_minutes=1, break_every=0, path=tmp_path / "m.json", clock=clock,
                     tick=False)
    assert "Navigator: <b>Ben</b> (drives next)" in timer.navigator_label.value
    timer.member_pick.value = "Ben"
    assert timer.away_button.description == "Step away"
    timer.away_button.click()
    assert timer.away_button.description == "Back" and "Navigator: <b>Cy</b>" in timer.navigator_label.value
    assert "(away: Ben)" in timer.order_label.value and "Ben →" not in timer.order_label.value
    timer.member_pick.value = "Cy"
    timer.away_button.click()
    assert "at least 2 people" in timer.problem.value and timer.session.away == ("Ben",)
    timer.member_pick.value = "Ben"
    timer.away_button.click()
    assert timer.session.away == () and timer.away_button.description == "Step away"

    assert timer.retro_box.layout.display == "none"
    timer.start()
    clock.advance(3 * 60 + 1)
    timer.refresh()
    assert timer.retro_box.layout.display == "" and "What slowed us down" in timer.retro_text.value
    timer.retro_button.click()
    assert timer.retro_box.layout.display == "none" and not timer.moment().retro
