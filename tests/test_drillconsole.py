"""The drill console and the timeline chart, against a real drill in the live sandbox."""

from __future__ import annotations

import html
from dataclasses import replace

import pytest
from matplotlib.figure import Figure

from kit import drills, procs
from kit.config import Config
from kit.drillconsole import START_HINT, DrillConsole, console
from kit.drills import mitigations
from kit.drills.scenarios import load as load_scenario
from kit.errors import InvalidInput
from kit.plots import drill_timeline
from kit.timeline import Event

SPANS = ("TTD", "TTA", "TTM", "TTR")
T0 = 1_700_000_000.0


def texts(widget) -> str:
    """Every value and description in a widget tree, unescaped, so tests read what people see."""
    parts = [html.unescape(str(getattr(widget, "value", ""))), str(getattr(widget, "description", ""))]
    for child in getattr(widget, "children", ()):
        parts.append(texts(child))
    return "\n".join(parts)


def abandon(config: Config) -> None:
    if drills.active_record(config) is not None:
        drills.end(abandon=True, config=config)


@pytest.fixture
def no_drill(live: Config):
    """No drill before or after, so a test that fails mid-drill leaves none running for the next."""
    abandon(live)
    yield live
    abandon(live)


def full_timeline() -> list[Event]:
    raw = [(0, "started", {}), (0.1, "injected", {}), (3.1, "alert_firing", {"status": "firing"}),
           (4.0, "page", {"status": "firing", "severity": "page"}), (6.2, "acknowledged", {}), (7, "note", {}),
           (8, "hint", {}), (9, "resolution_check", {"passed": False}), (10, "action", {}),
           (14, "page", {"status": "resolved", "severity": "page"}), (20, "resolution_check", {"passed": True}),
           (20, "resolved", {}), (21, "ended", {})]
    return [Event(T0 + t, kind, kind, data) for t, kind, data in raw]


def labels(figure: Figure) -> tuple[list[str], str]:
    ax = figure.axes[0]
    return [t.get_text() for t in ax.get_yticklabels()], " ".join(t.get_text() for t in ax.texts)


# --- the chart --------------------------------------------------------------


def test_the_timeline_chart_labels_the_four_spans() -> None:
    figure = drill_timeline(full_timeline())
    rows, written = labels(figure)
    assert isinstance(figure, Figure)
    assert rows[:4] == list(SPANS)
    assert {"injected", "alert firing", "page", "acknowledged", "note", "hint", "action", "resolution check",
            "resolved", "ended"} <= set(rows)
    assert "0:03" in written and "0:02" in written and "0:10" in written and "0:20" in written
    assert "resolved at 0:20" in figure.axes[0].get_title()


def test_the_timeline_chart_draws_empty_and_unfinished_timelines() -> None:
    rows, written = labels(drill_timeline([]))
    assert rows[:4] == list(SPANS) and "no events yet" in written and written.count("not yet") == 4

    running = drill_timeline(full_timeline()[:5], started_at=T0 - 60)
    rows, written = labels(running)
    assert rows[:4] == list(SPANS) and written.count("not yet") == 2
    assert "running, 1:06 so far" in running.axes[0].get_title()


def test_a_running_drill_is_charted_up_to_now_and_an_ended_one_up_to_its_end() -> None:
    ax = drill_timeline(full_timeline()[:5], started_at=T0, now=T0 + 95).axes[0]
    assert "running, 1:35 so far" in ax.get_title() and ax.get_xlim()[1] >= 95
    assert "resolved at 0:20" in drill_timeline(full_timeline(), started_at=T0, now=T0 + 95).axes[0].get_title()
    years = drill_timeline(full_timeline()[:5], started_at=T0, now=T0 + 3 * 365 * 86400).axes[0]
    assert len(years.get_xticks()) <= 12, "a drill left running for years still gets a handful of ticks"


# --- the console ------------------------------------------------------------


def test_without_a_drill_the_console_says_how_to_start_one(no_drill: Config) -> None:
    view = console(no_drill)
    shown = texts(view)
    assert "No drill is running" in shown and START_HINT in shown and "payments-down" in shown
    assert view.status is None and not view.refreshing
    assert view.ack_button.disabled and view.end_button.disabled and not view.refresh_button.disabled
    view.start(interval=0.05)
    assert procs.wait_until(lambda: not view.refreshing, 30), "auto-refresh stops when there is no drill"
    for bad in (0, -1, float("inf"), "2", True):
        with pytest.raises(InvalidInput, match="interval"):
            view.start(interval=bad)
    view.end_button.click()
    assert "no drill is running" in view.problem.value
    view.close()


def test_a_secret_drill_keeps_its_scenario_hidden(no_drill: Config, monkeypatch) -> None:
    events = [replace(e, text="fault payments_down") if e.kind == "injected" else e for e in full_timeline()[:6]]
    secret = drills.DrillStatus("run-x", load_scenario("payments-down"), True, T0, events, {}, 15)
    monkeypatch.setattr(drills, "status", lambda config=None: secret)
    view = DrillConsole(no_drill)
    shown = texts(view)
    assert "a secret scenario" in shown and "the game master injected something" in shown
    assert "Customers cannot pay" not in shown and "payments_down" not in shown and "lunch rush" not in shown
    assert "elapsed" in shown and not view.refreshing
    failing = [drills.ProbeResult(probe, None) for probe in secret.scenario.steady_state]
    monkeypatch.setattr(drills, "verify_steady_state", lambda config=None: failing)
    view.verify_button.click()
    shown = texts(view)
    assert "the steady state does not hold yet" in shown
    assert not any(probe.name in shown for probe in secret.scenario.steady_state)


def test_a_mob_runs_a_drill_from_the_console(clean_faults: Config, no_drill: Config) -> None:
    live = no_drill
    started = drills.start("payments-down", config=live)
    view = DrillConsole(live)
    view.start(interval=0.2)
    assert "Drill: Customers cannot pay" in view.title.value and "running" in view.elapsed.value
    assert view.refreshing and not view.ack_button.disabled

    def paged() -> bool:
        status = view.refresh()
        return "CheckoutErrorRatioHigh" in view.pager_feed.value and any(e.kind == "page" for e in status.events)

    assert procs.wait_until(paged, 60, 0.2), texts(view)
    assert "firing" in view.pager_feed.value and "CheckoutErrorRatioHigh" in view.timeline.value

    # roles: a cell and the console each change only what they name, and a stale field never overwrites
    drills.set_roles({"incident commander": "Ana", "driver": "Bo"}, config=live)
    view.refresh()
    assert view.roles["incident commander"].value == "Ana" and view.roles["driver"].value == "Bo"
    view.roles["scribe"].value = " Cy "
    view.save_roles_button.click()
    assert "roles: incident commander Ana, driver Bo, scribe Cy" in view.message.value
    view.stop()  # no refresh between the cell and the click: the console's fields are stale
    drills.set_roles({"driver": "Dee"}, config=live)
    assert view.roles["driver"].value == "Bo"
    view.save_roles_button.click()
    assert view.problem.value == "" and drills.status(live).roles == {
        "incident commander": "Ana", "driver": "Dee", "scribe": "Cy"}
    assert view.roles["driver"].value == "Dee", "saving shows the roles as saved"
    view.roles["communications"].value = "Eve"
    drills.set_roles({"driver": "Bo"}, config=live)
    view.refresh()
    assert view.roles["communications"].value == "Eve" and view.roles["driver"].value == "Bo", \
        "a refresh keeps what someone is typing and shows what others saved"
    view.save_roles_button.click()
    assert drills.status(live).roles == {"incident commander": "Ana", "driver": "Bo", "communications": "Eve",
                                         "scribe": "Cy"}
    roles_saved = sum(e.kind == "roles" for e in drills.status(live).events)
    view.save_roles_button.click()
    assert sum(e.kind == "roles" for e in drills.status(live).events) == roles_saved, "nothing changed, nothing saved"
    view.start(interval=0.2)

    # the lab invites the mob to press Acknowledge, then its exercise acknowledges in code: both succeed
    view.who.value = "Ana"
    for _ in range(2):
        view.ack_button.click()
        assert "acknowledged by Ana" in view.message.value and view.problem.value == ""
        assert drills.ack(by="Bo", config=live).data["by"] == "Ana"
    view.note_text.value = "   "
    view.note_button.click()
    assert "a note needs some text" in view.problem.value
    for _ in range(2):
        view.note_text.value = "payments answers 503 to every charge"
        view.note_button.click()
        assert view.problem.value == "" and "noted: payments answers 503" in view.message.value
        assert view.note_text.value == ""
        drills.note("payments answers 503 to every charge", by="Ana", config=live)
    for number in range(len(started.scenario.hints) + 1):
        view.hint_button.click()
        shown_hint = started.scenario.hints[min(number, len(started.scenario.hints) - 1)]
        assert view.problem.value == "" and shown_hint in html.unescape(view.message.value)
    view.verify_button.click()
    assert "does not hold yet" in view.message.value and "FAIL" in view.message.value

    on_disk = drills.read_timeline(started.run, live)
    assert [e.data.get("by") for e in on_disk if e.kind in ("acknowledged", "note")] == ["Ana", "Ana"]
    assert sum(e.kind == "hint" for e in on_disk) == len(started.scenario.hints)
    assert {"roles", "acknowledged", "note", "hint", "resolution_check"} <= {e.kind for e in on_disk}
    assert view.plot.outputs and view.plot.outputs[0]["data"]["image/png"]

    shown_before = view.refresh().events
    after_restart = DrillConsole(live)  # a kernel restart: nothing but the files on disk
    assert after_restart.status.events[:len(shown_before)] == shown_before
    assert all(html.escape(e.text) in after_restart.timeline.value for e in shown_before)
    assert after_restart.roles["scribe"].value == "Cy" and after_restart.roles["driver"].value == "Bo"
    after_restart.close()

    mitigations.restart("payments", config=live)
    view.end_button.click()
    assert view.problem.value == "", view.problem.value
    assert view.result is not None and view.result.outcome == "resolved"
    assert drills.end(wait=30, config=live) == view.result, "exercise 4's cell after the End button"
    view.end_button.click()
    assert view.problem.value == "" and view.result == drills.end(config=live)
    assert "Drill resolved" in view.message.value and str(view.result.postmortem) in view.message.value
    assert view.result.postmortem.exists() and not drills.running(live)
    assert "resolved" in view.elapsed.value and view.end_button.disabled
    assert procs.wait_until(lambda: not view.refreshing, 30), "the auto-refresh ends with the drill"
    assert "resolved" in view.timeline.value and "running" not in view.elapsed.value
    view.close()
