"""The drill lifecycle against the live sandbox, and the pure parts (response times, change detection, postmortem)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys

import psutil
import pytest

from kit import drills, pager, procs, sandbox
from kit.config import PORTS, Config
from kit.drillconsole import DrillConsole
from kit.drills import lifecycle, mitigations, postmortem
from kit.drills.scenarios import load as load_scenario
from kit.drills.watch import describe_changes
from kit.errors import CheckFailed, InvalidInput, KitError, SandboxNotReady
from kit.procs import wait_until
from kit.shop import faults
from kit.timeline import Event, response_times


def _events(*pairs: tuple[float, str, dict]) -> list[Event]:
    return [Event(t, kind, kind, data) for t, kind, data in pairs]


FIRING = {"status": "firing"}


def test_response_times_measure_from_the_first_injection():
    found = response_times(_events(
        (100, "started", {}), (101, "injected", {}), (104, "alert_firing", FIRING), (106, "page", FIRING),
        (110, "acknowledged", {}), (120, "action", {}), (125, "action", {}), (131, "resolved", {}),
    ))
    assert (found.ttd, found.tta, found.ttm, found.ttr) == (3, 4, 24, 30)


def test_response_times_of_a_running_drill_leave_the_future_empty():
    found = response_times(_events((100, "started", {}), (101, "injected", {}), (103, "page", FIRING)))
    assert found.ttd == 2 and found.tta is None and found.ttm is None and found.ttr is None


def test_actions_after_the_resolution_do_not_count_as_the_mitigation():
    found = response_times(_events((0, "injected", {}), (5, "action", {}), (9, "resolved", {}), (12, "action", {})))
    assert found.ttm == 5


def test_the_page_not_an_earlier_ticket_is_what_gets_acknowledged():
    found = response_times(_events((0, "injected", {}), (2, "page", {"status": "firing", "severity": "ticket"}),
                            (5, "page", {"status": "firing", "severity": "page"}), (8, "acknowledged", {})))
    assert (found.ttd, found.tta) == (2, 3)


def test_alerts_that_resolve_do_not_count_as_detection():
    found = response_times(_events((0, "injected", {}), (2, "page", {"status": "resolved"}), (7, "page", FIRING)))
    assert found.ttd == 7


def test_the_older_names_of_the_response_times_still_work():
    """Lab 06 once read ``drills.figures(result.events)``; notebooks saved with it keep working."""
    events = _events((0, "injected", {}), (2, "page", FIRING), (5, "acknowledged", {}))
    assert drills.figures is response_times and drills.Figures is drills.ResponseTimes
    assert drills.figures(events) == response_times(events) == drills.ResponseTimes(0, 2, 2, 5)


def test_check_is_the_older_name_of_verify_steady_state(monkeypatch):
    """The drill console and facilitators' notes once called ``drills.check()``."""
    scenario = load_scenario("payments-down")
    current = drills.DrillStatus("r1", scenario, False, 0.0, [], {}, 1)
    recorded = []
    monkeypatch.setattr(sandbox, "current_config", lambda config=None: config)
    monkeypatch.setattr(lifecycle, "status", lambda config=None: current)
    monkeypatch.setattr(lifecycle, "steady_state", lambda s, config=None: [drills.ProbeResult(p, None)
                                                                          for p in s.steady_state])
    monkeypatch.setattr(lifecycle, "record", lambda run, kind, text, config, **data: recorded.append((kind, data)))
    results = drills.check()
    assert [r.probe for r in results] == list(scenario.steady_state) and not any(r.holds for r in results)
    assert recorded == [("resolution_check", {"passed": False})]


def test_changes_are_described_as_a_person_would():
    before = {"faults:shop": {"bad_deploy": {}, "capacity": {"slots": 1}}, "flags:shop": {"recommendations": "on",
                                                                                         "new_checkout": "25%"},
              "faults:payments": {"down": {}}, "flags:payments": {}, "pids": {"shop": 1, "payments": 2},
              "neighbour": True}
    after = {"faults:shop": {}, "flags:shop": {"recommendations": "off", "new_checkout": "killed"}, "faults:payments": None,
             "flags:payments": None, "pids": {"shop": 1, "payments": 3}, "neighbour": False}
    assert describe_changes(before, after) == [
        "rolled back to the previous version", "shop: capacity fault cleared", "flag new_checkout was killed",
        "flag recommendations turned off", "payments restarted", "the noisy neighbour's load stopped",
    ]
    assert describe_changes(before, before) == []


def test_missing_sections_sees_prompts_as_missing():
    text = "## Summary\nIt broke.\n## Impact\n_To complete: who._\n## Timeline\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert postmortem.missing_sections(text) == [
        "Impact", "Contributing factors", "What went well", "What was hard", "Action items",
    ]


def test_roles_must_be_the_drill_roles():
    with pytest.raises(InvalidInput) as caught:
        lifecycle._validate_roles({"captain": "ana"})
    assert "incident commander" in caught.value.problem


@pytest.fixture
def no_drill(clean_faults):
    """Whatever a test leaves running is abandoned, so the next test starts clean."""
    yield clean_faults
    if drills.running(clean_faults):
        drills.end(abandon=True, config=clean_faults)


def test_a_drill_from_start_to_resolved_survives_a_prometheus_crash(no_drill):
    live = no_drill
    with pytest.raises(InvalidInput):
        drills.start(config=live)
    current = drills.start("payments-down", roles={"incident commander": "ana", "scribe": "bo"}, config=live)
    assert [e.kind for e in current.events][:4] == ["started", "roles", "steady_state", "injected"]
    with pytest.raises(CheckFailed, match="no page"):
        drills.ack(config=live)
    with pytest.raises(KitError, match="still running"):
        drills.start("bad-deploy", config=live)
    with pytest.raises(InvalidInput):
        drills.note("   ", config=live)
    hints = [drills.hint(config=live) for _ in current.scenario.hints]
    assert hints == list(current.scenario.hints)
    assert drills.hint(config=live) == hints[-1], "asking again once all are shown repeats the last"
    assert sum(e.kind == "hint" for e in drills.status(live).events) == len(hints)

    pager.wait_for_page("CheckoutErrorRatioHigh", since=current.started_at, timeout=30, config=live)
    assert wait_until(lambda: any(e.kind == "page" for e in drills.status(live).events), 30)
    with pytest.raises(CheckFailed, match="does not hold"):
        drills.end(wait=1, config=live)
    assert drills.running(live), "an unresolved drill keeps running"

    before = drills.status(live).events
    os.kill(sandbox.pids(live)["prometheus"], signal.SIGKILL)
    assert wait_until(lambda: any("does not answer" in e.text for e in drills.status(live).events), 60)
    assert drills.status(live).events[:len(before)] == before, "the crash lost part of the timeline"
    sandbox.up(config=live)
    assert wait_until(lambda: any("answers again" in e.text for e in drills.status(live).events), 60)

    view = DrillConsole(live)  # a console that is not refreshing: it still shows no acknowledgement
    acked = drills.ack(by="ana", config=live)
    view.ack_button.click()
    assert view.problem.value == "" and "acknowledged by ana" in view.message.value
    assert drills.ack(by="bo", config=live) == acked == drills.ack(config=live), "one acknowledgement, the first"
    noted = drills.note("checkout answers 502; payments is down", by="bo", config=live)
    assert drills.note(" checkout answers 502; payments is down", by="bo", config=live) == noted
    drills.note("checkout answers 502; payments is down", by="ana", config=live)
    assert drills.set_roles({"driver": "cy"}, config=live).data["roles"] == {
        "incident commander": "ana", "driver": "cy", "scribe": "bo"}, "naming one role keeps the others"
    roles_events = sum(e.kind == "roles" for e in drills.status(live).events)
    assert drills.set_roles({"scribe": "bo"}, config=live).data["roles"]["driver"] == "cy"
    assert sum(e.kind == "roles" for e in drills.status(live).events) == roles_events, "nothing changed"
    mitigations.restart("payments", config=live)
    result = drills.end(wait=60, config=live)
    assert drills.end(config=live) == drills.end(abandon=True, config=live) == drills.end(run=result.run, config=live) \
        == result, "ending an ended drill returns how it ended"
    view.end_button.click()
    assert view.problem.value == "" and view.result == result and "Drill resolved" in view.message.value
    view.close()

    kinds = [e.kind for e in result.events]
    assert kinds.count("acknowledged") == 1 and kinds.count("note") == 2
    for milestone in ("injected", "page", "acknowledged", "note", "action", "resolution_check", "resolved"):
        assert milestone in kinds, milestone
    assert result.outcome == "resolved" and not drills.running(live)
    assert all(v is not None for v in result.response_times.as_dict().values())
    assert "payments restarted" in [e.text for e in result.events if e.kind == "action"]
    row = json.loads(result.results_file.read_text().splitlines()[-1])
    assert row["run"] == result.run and row["expected_alert_paged"] and row["hints_used"] == len(hints)
    assert [r for r in drills.results(live)["run"] if r == result.run] == [result.run], "ended once, one row"
    draft = result.postmortem.read_text()
    assert "incident commander: ana" in draft and "payments restarted" in draft
    assert postmortem.missing_sections(draft) == ["Contributing factors", "What went well", "What was hard",
                                                  "Action items"], "the draft fills in the facts, people the rest"


def test_the_timeline_survives_a_kernel_restart(no_drill):
    from jupyter_client.manager import start_new_kernel

    live = no_drill
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        def run(code: str) -> None:
            reply = client.execute_interactive(code, timeout=60)
            assert reply["content"]["status"] == "ok", reply["content"]

        run("import kit.drills\nkit.drills.start('broken-metrics')\nkit.drills.note('started from a kernel')")
        before = drills.status(live).events
        manager.restart_kernel(now=True)
        client.wait_for_ready(timeout=60)
        run("import kit.drills\nstatus = kit.drills.status()\n"
            "assert [e.text for e in status.events][:len(%r)] == %r" % ([e.text for e in before],
                                                                       [e.text for e in before]))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    mitigations.restart("shop", config=live)
    assert drills.end(wait=60, config=live).outcome == "resolved"


def test_a_secret_drill_hides_what_was_injected(no_drill):
    current = drills.start("payments-slow", secret=True, config=no_drill)
    assert current.title == "a secret scenario" and current.run.endswith("-secret")
    assert "payments" not in str(current) and "scenario" not in current.events[0].data
    assert "payments" not in repr(current) and "slow" not in repr(current)  # a bare `drill` in a notebook
    with pytest.raises(InvalidInput, match="secret drill"):
        faults.list_faults(config=no_drill)
    listed = subprocess.run([sys.executable, "-m", "kit.cli", "fault", "list"], env=lifecycle._env(no_drill),
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode != 0 and "secret drill" in listed.stdout + listed.stderr
    assert "latency" not in listed.stdout + listed.stderr
    assert faults.list_faults(config=no_drill, reveal=True)["payments"]["latency"]["ms"] == 1500
    revealed = subprocess.run([sys.executable, "-m", "kit.cli", "drill", "status", "--reveal"],
                              env=lifecycle._env(no_drill), capture_output=True, text=True, timeout=60)
    assert "payments_slow" in revealed.stdout, revealed.stdout
    faults.clear_faults("payments_slow", config=no_drill)  # a mitigation's clear works, and lists nothing back
    assert wait_until(lambda: "payments: a fault cleared" in str(drills.status(no_drill)), 30, 0.2)
    assert "latency fault" not in str(drills.status(no_drill))  # pages may speak of latency: the on-call sees them
    result = drills.end(abandon=True, config=no_drill)
    assert result.outcome == "abandoned"
    assert not drills.running(no_drill)
    assert faults.list_faults(config=no_drill) == {"shop": {}, "payments": {}}


def test_a_drill_in_a_with_block_is_given_up_when_the_block_fails_and_join_takes_over_a_running_one(no_drill):
    live = no_drill
    with pytest.raises(RuntimeError, match="laptop"):
        with drills.drill("memory-leak", config=live) as drill:
            assert drill.status().run == drill.run and drills.running(live)
            raise RuntimeError("the driver's laptop died")
    assert not drills.running(live)
    assert drill.close() == drills.result_of(drill.run, live) and drill.close().outcome == "abandoned"

    started = drills.start("memory-leak", secret=True, config=live)  # a facilitator's, from a terminal
    joined = drills.drill("payments-down", join=True, config=live)
    assert joined.run == started.run and repr(joined) == f"<drill {started.run}>"
    assert joined.close().outcome == "abandoned" and not drills.running(live)
    fresh = drills.drill("memory-leak", join=True, config=live)
    assert fresh.run != started.run and drills.running(live), "with no drill running, join starts one"
    assert fresh.close().outcome == "abandoned"


def test_a_secret_drill_shows_its_timeline_once_it_ends():
    scenario = load_scenario("payments-slow")
    cleared = describe_changes({"faults:payments": {"latency": {"ms": 1500}}}, {"faults:payments": {}})
    events = _events((100, "started", {}), (101, "injected", {}))
    events[1] = Event(101, "injected", scenario.injects[0].describe(), {"index": 0})
    events.append(Event(120, "action", cleared[0], {}))
    running = drills.DrillStatus("run-x", scenario, True, 100, events, {}, 1)
    shown = [e.text for e in running.visible_events()]
    assert shown[1:] == ["the game master injected something", "payments: a fault cleared"]
    assert not any("latency" in text or "1500" in text for text in shown)
    ended = dataclasses.replace(running, active=False)
    assert ended.visible_events() == events and ended.title == scenario.title


def test_kit_down_during_a_drill_stops_what_the_drill_started_and_the_drill_ends_at_once(tmp_path):
    ports = {name: procs.free_port() for name in PORTS}
    config = Config.from_env({}, state_dir=str(tmp_path / "state"), traffic_rps=2.0, **ports)
    try:
        sandbox.up(config=config)
        drills.start("bad-deploy", config=config)  # it installs an SLO's rules, which `end` removes again
        watcher = psutil.Process(drills.active_record(config)["watcher"]["pid"])
        neighbour = psutil.Process(mitigations.start_neighbour("catalog", 5, 600, config).pid)

        down = subprocess.run([sys.executable, "-m", "kit.cli", "down"], env=lifecycle._env(config),
                              capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
        assert procs.wait_stopped([watcher, neighbour], timeout=0) == [], "left running after `kit down`"

        assert drills.running(config)
        with pytest.raises(KitError, match="still running, though the sandbox was stopped.*--abandon"):
            drills.start("bad-deploy", config=config)
        with pytest.raises(SandboxNotReady, match="sandbox is down"):
            drills.end(config=config)
        assert procs.wait_stopped([watcher], timeout=0) == [], "looking at the drill restarted its watcher"
        result = drills.end(abandon=True, config=config)
        assert result.outcome == "abandoned" and not drills.running(config)
        assert "abandoned: the sandbox had been stopped" in [e.text for e in result.events]
        with pytest.raises(SandboxNotReady, match="not running"):  # not "drill ... is still running"
            drills.start("bad-deploy", config=config)
    finally:
        if drills.running(config):
            drills.end(abandon=True, config=config)
        sandbox.down(config)


def test_complete_fills_the_prompts_and_keeps_the_facts():
    draft = "## Summary\n_To complete: what broke._\n## Timeline\n| +0:00 | injected |\n## Action items\n| _To complete_ | | | |\n"
    done = postmortem.complete(draft, {"Summary": "Payments was slow.", "Action items": "| alert on it | detect | us | soon |"})
    assert done == "## Summary\nPayments was slow.\n## Timeline\n| +0:00 | injected |\n## Action items\n| alert on it | detect | us | soon |\n"
    with pytest.raises(InvalidInput) as caught:
        postmortem.complete(draft, {"Lessons": "none"})
    assert "Summary" in caught.value.problem
