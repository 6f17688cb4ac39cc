"""The error-budget gate: the policy on numbers, then on a real sandbox's Prometheus.

The live tests run on a sandbox of this module's own, not the worker's shared one: the gate reads the SLO's
whole window, and on the shared sandbox that window holds whatever faults earlier tests injected, so "a healthy
sandbox lets a release through" could not be asserted there. They run in the order written (a fresh sandbox,
then history with an outage in it, then a live fault) and cost about 25 s together: the sandbox's start (~6 s),
the first 8 s of live data the budget needs, a 2-day backfill (~7 s, most of it Prometheus's restart) and a
fault until the fast burn pages (~3 s).
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from kit import polling, procs, sandbox, slo
from kit.cli import main
from kit.config import CONTENT, PORTS, Config
from kit.errors import InvalidInput
from kit.history import backfill
from kit.releases import deploylog, dora, gate, runner
from kit.releases.deploylog import DeployEvent
from kit.releases.gate import BurnAlert, decide
from kit.releases.plan import load_plan
from kit.shop import faults
from kit.slo.budget import percent

FAST = BurnAlert("page", "4m", "20s", 14.4, 30.0)
SLOW = BurnAlert("ticket", "1h36m", "8m", 3.0, 4.2)


def _decide(remaining, alerts=(), **given):
    return decide("checkout-availability", "1.1.0", "30d", remaining=remaining, alerts=alerts,
                  covered_seconds=30 * 86400, **given)


# ------------------------------------------------------------------ the policy on numbers


def test_budget_left_and_no_burn_is_allowed_and_says_how_much_is_left():
    decision = _decide(0.42)
    assert decision.allowed and not decision.exemption_used
    assert "42 % of the 30d error budget of checkout-availability remains" in decision.reason
    assert "all of its 30d window" in decision.reason


@pytest.mark.parametrize("remaining, used", [(0.0, "100 %"), (-0.2, "120 %")])
def test_a_spent_budget_blocks_and_names_how_much_was_spent(remaining, used):
    decision = _decide(remaining)
    assert not decision.allowed
    assert f"is spent: {used} of it used, {percent(remaining)} remaining" in decision.reason
    assert "P0 or security fix may pass" in decision.reason


def test_a_fast_burn_blocks_even_with_budget_left():
    decision = _decide(0.9, [FAST])
    assert not decision.allowed and decision.fast_burn and not decision.slow_burn
    assert "fast burn of checkout-availability is firing: 30.0× the sustainable rate over 4m (pages above 14.4×)" \
        in decision.reason


def test_a_slow_burn_alone_allows_with_a_warning():
    decision = _decide(0.9, [SLOW])
    assert decision.allowed and decision.slow_burn
    assert "warning: a slow burn is firing (4.2× the sustainable rate over 1h36m, a ticket above 3×)" in decision.reason
    assert not _decide(0.9, [SLOW, FAST]).allowed


def test_what_the_gate_cannot_see_closes_it():
    unread = _decide(None, missing="Prometheus is not reachable")
    assert not unread.allowed and "cannot see what it must (Prometheus is not reachable)" in unread.reason
    no_alerts = _decide(0.9, missing="no burn-rate alerts loaded")
    assert not no_alerts.allowed and no_alerts.remaining == 0.9
    with pytest.raises(InvalidInput) as refused:
        _decide(None)
    assert refused.value.field == "remaining"
    with pytest.raises(InvalidInput, match="NaN"):
        _decide(float("nan"))


def test_an_exemption_passes_a_closed_gate_and_is_not_used_on_an_open_one():
    passed = _decide(-0.5, [FAST], exemption="P0", reason="fixes the checkout outage")
    assert passed.allowed and passed.exemption_used and passed.exemption == "P0"
    assert "passes on a P0 exemption (fixes the checkout outage) although the gate is closed" in passed.reason
    unneeded = _decide(0.5, exemption="security", reason="CVE-2026-0001")
    assert unneeded.allowed and not unneeded.exemption_used
    assert "was not needed and is not recorded" in unneeded.reason
    blind = _decide(None, missing="Prometheus is down", exemption="security", reason="CVE-2026-0001")
    assert blind.allowed and blind.exemption_used


@pytest.mark.parametrize("exemption, reason, field", [("hotfix", "x", "exemption"), ("P0", "  ", "reason")])
def test_an_exemption_must_be_one_the_policy_names_and_say_why(exemption, reason, field):
    with pytest.raises(InvalidInput) as refused:
        _decide(-1.0, exemption=exemption, reason=reason)
    assert refused.value.field == field


def test_an_exempt_event_changes_no_dora_key():
    events = [DeployEvent("deploy", "1.1.0", "8e2f41c07d95", 100.0, 1000.0, "ci", weight=10),
              DeployEvent("promote", "1.1.0", "8e2f41c07d95", 100.0, 2000.0, "ci", weight=100)]
    exempt = DeployEvent("exempt", "1.1.0", "8e2f41c07d95", 100.0, 1500.0, "ci", "fixes INC-1", exemption="P0")
    plain = dora.compute(events, [], 0.0, 86400.0)
    assert dora.compute([*events, exempt], [], 0.0, 86400.0).as_json() == plain.as_json()
    with pytest.raises(InvalidInput) as refused:
        dataclasses.replace(exempt, exemption=None)
    assert refused.value.field == "exemption"


def test_an_slo_is_named_by_its_file_in_slos_or_given_loaded():
    spec = gate.load_slo("checkout-availability")
    assert gate.load_slo("checkout-availability.yml") == spec and gate.load_slo(spec) is spec
    with pytest.raises(InvalidInput, match="checkout-availability, shop-availability") as refused:
        gate.load_slo("checkout")
    assert refused.value.field == "slo"


def test_the_cli_refuses_an_exemption_without_a_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path))
    assert main(["release", "gate", "checkout-availability", "--version", "1.1.0", "--exempt", "P0"]) == 2
    assert "reason: a P0 exemption needs a reason" in capsys.readouterr().err
    assert not (tmp_path / "releases").exists()


def test_prometheus_down_is_a_refusal_not_an_error(tmp_path):
    nowhere = Config.from_env({}, state_dir=str(tmp_path), **dict(zip(PORTS, procs.free_ports(len(PORTS)))))
    decision = gate.evaluate("checkout-availability", version="1.1.0", config=nowhere)
    assert not decision.allowed and decision.remaining is None
    assert "Prometheus is not reachable" in decision.missing


# ------------------------------------------------------------------ on a real sandbox

CHECKOUT = gate.load_slo("checkout-availability")


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A sandbox of this module's own (lab profile) with checkout-availability's burn-rate alerts installed."""
    ports = dict(zip(PORTS, procs.free_ports(len(PORTS))))
    config = Config.from_env({}, state_dir=str(tmp_path_factory.mktemp("gate") / "state"), **ports)
    sandbox.up(config=config)
    try:
        slo.install(CHECKOUT, config=config)
        yield config
    finally:
        faults.clear_faults(config=config)
        sandbox.down(config)


def _until(config: Config, holds, timeout: float = 30.0, **given) -> gate.GateDecision:
    """Ask the gate until its decision ``holds``; that decision."""
    decisions = []

    def asked() -> bool:
        decisions.append(gate.evaluate(CHECKOUT, version="1.1.0", config=config, **given))
        return holds(decisions[-1])

    polling.wait_for(asked, timeout, 0.5, describe=lambda: f"the gate kept deciding: {decisions[-1]}")
    return decisions[-1]


def test_a_healthy_sandbox_lets_a_release_through(own):
    decision = _until(own, lambda d: not d.missing)  # the budget needs two steps of live data
    assert decision.allowed and decision.alerts == () and decision.remaining > 0, decision.reason
    assert f"{percent(decision.remaining)} of the 30d error budget of checkout-availability remains" in decision.reason
    unneeded = gate.evaluate(CHECKOUT, version="1.1.0", config=own, exemption="security", reason="CVE-2026-0001")
    assert unneeded.allowed and not unneeded.exemption_used
    assert deploylog.read(config=own) == []


def test_absent_series_and_alerts_not_loaded_are_refusals(own):
    nowhere = dataclasses.replace(CHECKOUT, name="nowhere", sli=slo.AvailabilitySLI(
        total='http_requests_total{job="shop", route="/nowhere"}',
        bad='http_requests_total{job="shop", route="/nowhere", code=~"5.."}'))
    absent = gate.evaluate(nowhere, version="1.1.0", config=own)
    assert not absent.allowed and absent.remaining is None
    assert "its SLI counted no request in its 30d window" in absent.missing
    unloaded = gate.evaluate("catalog-latency", version="1.1.0", config=own)
    assert not unloaded.allowed and unloaded.remaining is not None
    assert "install them with `kit slo apply slos/catalog-latency.yml`" in unloaded.reason


def test_history_that_spent_the_budget_blocks_with_the_numbers(own):
    history = backfill(2, config=own)  # holds the 20-minute checkout outage of 1 d 14 h before its end
    decision = _until(own, lambda d: not d.missing)  # Prometheus restarted: its rules evaluate again
    assert not decision.allowed and not decision.fast_burn and decision.remaining < 0
    assert f"{percent(1 - decision.remaining)} of it used" in decision.reason
    assert decision.covered_seconds > 1.9 * 86400
    # the gate weights its few seconds of live data 15× (the lab profile's time scale); they are healthy, so
    # they barely dilute what `kit slo report` reads over the history alone
    report = slo.budget_report(CHECKOUT, days=2, step="1h", end=history.end.timestamp(), config=own)
    assert 1 - decision.remaining == pytest.approx(report.consumed, rel=0.1)


def test_a_fast_burn_blocks_and_an_exemption_passes_it_once(own, monkeypatch, capsys):
    try:
        faults.set_fault("errors", ratio=1.0, route="checkout", config=own)
        blocked = _until(own, lambda d: d.fast_burn)
        assert not blocked.allowed and blocked.alerts[0].burn_rate > 14.4
        assert "a fast burn of checkout-availability is firing" in blocked.reason

        for name, value in own.environment().items():
            monkeypatch.setenv(name, value)
        assert main(["release", "gate", "checkout-availability", "--version", "1.1.0"]) == 1
        assert capsys.readouterr().out.startswith("BLOCKED: 1.1.0 must not take more traffic")

        before = deploylog.read(config=own)
        passed = gate.evaluate(CHECKOUT, version="1.1.0", config=own, exemption="P0", reason="fixes INC-7")
        assert passed.allowed and passed.exemption_used
        added = deploylog.read(config=own)[len(before):]
        assert [(e.kind, e.version, e.exemption) for e in added] == [("exempt", "1.1.0", "P0")]
        assert added[0].reason.startswith("fixes INC-7; gate of checkout-availability: ")
        assert added[0].commit == "8e2f41c07d95" and added[0].at == passed.at

        plan = load_plan({**yaml.safe_load((CONTENT.releases / "lab.yml").read_text()), "slo": "checkout-availability"})
        heard: list[str] = []
        assert "a fast burn of checkout-availability is firing" in runner.budget_gate(
            plan, "1.1.0", config=own, progress=heard.append)(10)
        assert heard[0].startswith("gate before 10 %: ")
        before = deploylog.read(config=own)
        exempted = runner.budget_gate(plan, "1.1.0", config=own, exemption="security", reason="CVE-2026-0001")
        assert exempted(10) is None and exempted(50) is None  # a run records its exemption once, not per ring
        assert [e.kind for e in deploylog.read(config=own)[len(before):]] == ["exempt"]
    finally:
        faults.clear_faults(config=own)
