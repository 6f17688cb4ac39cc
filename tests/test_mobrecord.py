"""The mob's record: a log line per turn with its cells and exercises, and notebook snapshots that restore."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from kit import mobrecord
from kit.cli import main
from kit.errors import InvalidInput, KitError
from kit.mob import MobTimer, record_rotations, restore_snapshot, rotation_log, snapshots
from kit.mobrecord import CellRun, note_cell_run
from kit.polling import FakeClock

T0 = 1_700_000_000.0


def clock() -> FakeClock:
    return FakeClock(T0)


def now_clock() -> FakeClock:
    """A fake clock that starts at the real time, for a timer the CLI (on the real clock) reads too."""
    import time
    return FakeClock(time.time())


def write_notebook(path: Path, *cells: tuple[str, str | None, str]) -> Path:
    """A notebook of code cells given as (cell id, nbgrader grade_id or None, source)."""
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": cid, "source": src, "outputs": [], "execution_count": None,
                   "metadata": {"nbgrader": {"grade_id": grade, "grade": True}} if grade else {}}
                  for cid, grade, src in cells]}))
    return path


@pytest.fixture
def mob(tmp_path):
    """A started timer of Ana, Ben, Cy (1-minute turns, no breaks) over a graded notebook, on a fake clock."""
    notebook = write_notebook(tmp_path / "lab.ipynb", ("c-answer", "ex1-answer", "x = 1"), ("c-test", "ex1", "assert x"),
                              ("c-free", None, "print(x)"))
    time = clock()
    timer = MobTimer(["Ana", "Ben", "Cy"], turn_minutes=1, break_every=0, path=tmp_path / "mob.json", clock=time,
                     tick=False, notebook=notebook)
    timer.start()
    return timer, time, notebook


def run_cells(timer: MobTimer, time: FakeClock, notebook: Path, *ids: str) -> None:
    """Cell runs as the kernel's watcher notes them, a second apart."""
    for cid in ids:
        time.advance(1)
        note_cell_run(timer.path, CellRun(time(), cid, str(notebook)))


def test_each_turn_is_logged_once_with_its_roles_times_cells_and_exercises(mob, tmp_path):
    timer, time, notebook = mob
    run_cells(timer, time, notebook, "c-answer", "c-test", "c-answer")
    other_view = MobTimer(path=timer.path, clock=time, tick=False)
    time.advance(60)
    for view in (timer, other_view, timer):
        view.refresh()
    run_cells(timer, time, notebook, "c-free")
    time.advance(1)
    other_view.skip()
    timer.refresh()
    turns = mobrecord.read_turns(timer.path)
    assert [(t.turn, t.driver, t.navigator, t.how) for t in turns] == [(1, "Ana", "Ben", "time"), (2, "Ben", "Cy", "skip")]
    first, second = turns
    assert (first.started, first.ended, second.started) == (T0, T0 + 60, T0 + 60)
    assert first.cells == ("c-answer", "c-test") and first.runs == 3 and first.exercises == ("ex1-answer", "ex1")
    assert second.cells == ("c-free",) and second.runs == 1 and second.exercises == ()
    assert first.notebook == str(notebook) and first.session == T0

    restarted = MobTimer.resume(path=timer.path, clock=time, tick=False)  # a kernel restart catches up, adds nothing
    restarted.refresh()
    assert len(mobrecord.read_turns(timer.path)) == 2


def test_turns_that_ended_with_no_view_open_are_logged_by_the_next_read_and_a_reset_ends_the_turn_on(mob):
    timer, time, notebook = mob
    timer.close()
    time.advance(3 * 60 + 10)
    written = record_rotations(timer.path, time())
    assert [t.turn for t in written] == [1, 2, 3] and [t.snapshot for t in written] == [None, None, 1]
    assert record_rotations(timer.path, time()) == []
    timer.reset()
    turns = mobrecord.read_turns(timer.path)
    assert [(t.turn, t.driver, t.how, t.ended) for t in turns[3:]] == [(4, "Ana", "reset", T0 + 3 * 60 + 10)]
    timer.start()
    time.advance(61)
    timer.refresh()
    assert [(t.turn, t.session) for t in mobrecord.read_turns(timer.path)[4:]] == [(1, time() - 61)]


def test_the_log_as_a_dataframe_with_the_turn_on_and_documented_columns(mob):
    timer, time, notebook = mob
    run_cells(timer, time, notebook, "c-test")
    time.advance(60)
    timer.step_away("Cy")
    run_cells(timer, time, notebook, "c-answer")
    table = timer.log()
    assert tuple(table.columns) == mobrecord.LOG_COLUMNS
    assert list(table["driver"]) == ["Ana", "Ben"] and list(table["how"]) == ["time", "on"]
    assert str(table["started"].dt.tz) == "UTC" and table["ended"].isna().tolist() == [False, True]
    assert table["exercises"].tolist() == [("ex1",), ("ex1-answer",)] and table["cell_count"].tolist() == [1, 1]
    assert table["navigator"].tolist() == ["Ben", "Ana"] and table["away"].tolist() == [(), ("Cy",)]
    assert table["minutes"].tolist() == pytest.approx([1, 2 / 60])
    assert str(table["snapshot"].dtype) == "Int64" and table["snapshot"].tolist()[0] == 1
    assert len(mobrecord.read_turns(timer.path)) == 1, "the turn on is shown, not written"
    empty = rotation_log(timer.path.with_name("none.json"))
    assert empty.empty and tuple(empty.columns) == mobrecord.LOG_COLUMNS


def test_a_snapshot_per_rotation_bounded_and_unchanged_notebooks_not_copied_again(tmp_path):
    notebook = write_notebook(tmp_path / "lab.ipynb", ("a", None, "1"))
    time = clock()
    timer = MobTimer(["Ana", "Ben"], turn_minutes=1, break_every=0, path=tmp_path / "mob.json", clock=time, tick=False,
                     notebook=notebook, keep_snapshots=3)
    timer.start()
    for turn in range(5):
        write_notebook(notebook, *[(f"c{i}", None, str(i)) for i in range(turn + 1)])
        timer.skip()
    timer.skip()  # nothing changed since the last copy
    kept = snapshots(timer.path)
    assert [s.number for s in kept] == [3, 4, 5] and [s.cells for s in kept] == [3, 4, 5]
    assert [t.snapshot for t in mobrecord.read_turns(timer.path)] == [1, 2, 3, 4, 5, 5]
    assert sorted(p.name for p in (tmp_path / "mob.snapshots").iterdir()) == [
        f"000{n}.{ext}" for n in (3, 4, 5) for ext in ("ipynb", "json")]
    assert kept[0].reason == "turn 3 ended" and kept[0].notebook == str(notebook)


def test_restore_puts_a_snapshot_back_and_keeps_what_it_replaced(mob):
    timer, time, notebook = mob
    timer.skip()
    write_notebook(notebook, ("dup", None, "x"), ("dup2", None, "x"))  # a long disconnect duplicated cells
    time.advance(5)
    done = restore_snapshot(1, timer.path, clock=time)
    assert (done.snapshot, done.notebook, done.kept) == (1, str(notebook), 2)
    assert [c["id"] for c in json.loads(notebook.read_text())["cells"]] == ["c-answer", "c-test", "c-free"]
    assert [c["id"] for c in json.loads(snapshots(timer.path)[-1].path.read_text())["cells"]] == ["dup", "dup2"]
    assert snapshots(timer.path)[-1].reason == "before restoring snapshot 1"
    with pytest.raises(InvalidInput, match=r"no snapshot 9; the snapshots are 1, 2 \(see `kit mob snapshots`\)"):
        restore_snapshot(9, timer.path, clock=time)
    notebook.unlink()
    assert restore_snapshot(2, timer.path, clock=time).kept is None, "a deleted notebook comes back"
    assert notebook.exists()


def test_a_damaged_log_line_is_one_clear_error_and_an_unfinished_last_line_is_not(mob):
    timer, time, notebook = mob
    log = mobrecord.log_path(timer.path)
    log.write_text('{"session": 1')  # a crash mid-append
    assert mobrecord.read_turns(timer.path) == []
    time.advance(61)
    timer.refresh()
    assert [t.turn for t in mobrecord.read_turns(timer.path)] == [1], "the next line starts on a line of its own"
    assert log.read_text().count("\n") == 1, "the cut line is dropped"
    log.write_text("garbage\n" + log.read_text())
    with pytest.raises(KitError, match=r"mob.log.jsonl:1 is not JSON .*the file is damaged"):
        mobrecord.read_turns(timer.path)


# --- kit mob ------------------------------------------------------------------------------------------------


def test_kit_mob_commands_share_the_timer_session(tmp_path, capsys):
    notebook = write_notebook(tmp_path / "lab.ipynb", ("c", None, "1"))
    timer = MobTimer(["Ana", "Ben", "Cy"], turn_minutes=60, break_every=0, path=tmp_path / "mob.json",
                     clock=now_clock(), tick=False, notebook=notebook)
    timer.start()
    path = str(timer.path)
    assert main(["mob", "away", "cy", "--path", path]) == 0
    assert "Cy is away" in capsys.readouterr().out and timer.session.away == ("Cy",)
    assert main(["mob", "status", "--path", path]) == 0
    out = capsys.readouterr().out
    assert "driver: Ana" in out and "away: Cy" in out
    assert main(["mob", "away", "Ben", "--path", path]) == 2
    assert "at least 2 people" in capsys.readouterr().err
    assert main(["mob", "back", "Cy", "--path", path]) == 0 and timer.session.away == ()
    capsys.readouterr()

    assert main(["mob", "retro", "--path", path]) == 0
    out = capsys.readouterr().out
    assert "no retro due" in out and "What slowed us down" in out
    assert main(["mob", "log", "--path", path]) == 0
    assert "(on)" in capsys.readouterr().out
    timer.skip()
    assert main(["mob", "log", "--json", "--path", path]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["driver"] for r in rows] == ["Ana", "Ben"] and rows[0]["snapshot"] == 1 and rows[1]["ended"] is None
    assert main(["mob", "snapshots", "--path", path]) == 0
    assert "turn 1 ended" in capsys.readouterr().out
    assert main(["mob", "restore", "7", "--path", path]) == 2
    assert "no snapshot 7; the snapshots are 1" in capsys.readouterr().err
    assert main(["mob", "restore", "1", "--path", path]) == 0
    assert "restored snapshot 1 to " in capsys.readouterr().out


def test_kit_mob_without_a_session_says_how_to_start_one(tmp_path, capsys):
    assert main(["mob", "status", "--path", str(tmp_path / "mob.json")]) == 1
    assert "start the timer in a notebook" in capsys.readouterr().err
    assert main(["mob", "snapshots", "--path", str(tmp_path / "mob.json")]) == 0
    assert "no snapshots yet" in capsys.readouterr().out


# --- a real kernel ------------------------------------------------------------------------------------------


def test_a_real_kernel_notes_the_cells_jupyterlab_runs_and_the_rotation_logs_them(tmp_path):
    """The kernel learns its notebook from Jupyter Server's JPY_SESSION_NAME and each cell's id from the
    execute request's metadata, as JupyterLab 4 sends them; a skip then logs the turn."""
    from jupyter_client.manager import start_new_kernel

    notebook = write_notebook(tmp_path / "lab.ipynb", ("timer", None, ""), ("answer", "ex1-answer", "x = 1"),
                              ("check", "ex1", "assert x == 1"))
    env = {**os.environ, "JPY_SESSION_NAME": str(notebook),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), *sys.path])}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        def run(cell_id: str, code: str) -> None:
            request = client.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                             "user_expressions": {}, "allow_stdin": False},
                                         metadata={"cellId": cell_id})
            client.shell_channel.send(request)
            reply = client.get_shell_msg(timeout=60)
            while reply["parent_header"].get("msg_id") != request["header"]["msg_id"]:
                reply = client.get_shell_msg(timeout=60)
            assert reply["content"]["status"] == "ok", reply["content"]

        run("timer", "from kit.mob import MobTimer\n"
                     "timer = MobTimer(['Ana', 'Ben'], path='mob.json', tick=False)\ntimer.start()")
        run("answer", "x = 1")
        run("check", "assert x == 1")
        run("timer", "timer.skip()")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    [turn] = mobrecord.read_turns(tmp_path / "mob.json")
    assert (turn.driver, turn.how, turn.notebook) == ("Ana", "skip", str(notebook))
    assert turn.cells == ("answer", "check", "timer") and turn.runs == 3
    assert turn.exercises == ("ex1-answer", "ex1") and turn.snapshot == 1
    assert snapshots(tmp_path / "mob.json")[0].cells == 3


def test_a_session_left_running_for_weeks_logs_only_its_last_turns(mob):
    from kit.mob import CATCH_UP_TURNS

    timer, time, notebook = mob
    time.advance(60)
    timer.refresh()
    time.advance(3 * 7 * 24 * 3600)
    timer.refresh()
    turns = [t.turn for t in mobrecord.read_turns(timer.path)]
    assert len(turns) == 1 + CATCH_UP_TURNS and turns[0] == 1 and turns[-1] == 3 * 7 * 24 * 60 + 1
    assert turns[1:] == list(range(turns[-1] - CATCH_UP_TURNS + 1, turns[-1] + 1))


def test_views_racing_at_a_rotation_log_each_turn_once(mob):
    from concurrent.futures import ThreadPoolExecutor

    timer, time, notebook = mob
    time.advance(2 * 60 + 5)
    with ThreadPoolExecutor(8) as pool:  # each call opens and flocks the folder itself, as another process would
        written = list(pool.map(lambda _: record_rotations(timer.path, time()), range(8)))
    assert sorted(len(w) for w in written) == [0] * 7 + [2]
    assert [t.turn for t in mobrecord.read_turns(timer.path)] == [1, 2] and len(snapshots(timer.path)) == 1
