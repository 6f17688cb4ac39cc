"""`kit release run` on the worker's live sandbox: the lab plan with a real canary behind the real HAProxy.

2.0.0 fails a third of checkouts (about a tenth of requests): the lab plan must roll it back in its first ring
(10 %), with the canary's traffic measured at zero by HAProxy's own counters. 1.1.0 is healthy and is promoted
through both rings. A plan whose ring is too short is refused before anything starts, and a gate that refuses
stops the run before the weight rises. Together about 45 s (1.1.0's rings, promotion and reset are 32 s of it).
"""

from __future__ import annotations

import math
import re

import psutil
import pytest
import yaml

from kit import lab, polling
from kit.cli import main
from kit.cli.releases import run_summary
from kit.config import CONTENT
from kit.errors import InvalidInput
from kit.releases import canary, deploylog, query, runner
from kit.releases.checks import ConditionResult
from kit.releases.series import Verdict
from kit.sandbox.record import SandboxRecord, record_path
from kit.shop import faults


@pytest.fixture
def released(live):
    """No canary before the test; none after it, and the stable shop back on 1.0.0, whatever the test did.

    The runner's power check reads the stable shop's error ratio over its live window: an earlier test's fault
    (cleared here) would still raise it for up to that window and make the lab plan underpowered, rightly so.
    """
    canary.rollback(config=live)
    faults.clear_faults(config=live)
    window = runner.live_window_s(live)
    polling.wait_for(lambda: query.live_traffic(window, config=live).baseline_error_ratio < 0.01, 2 * window, 1.0,
                     describe=lambda: f"the stable shop's errors over {window:g} s stayed at 1 % or more")
    yield live
    lab.reset(live)


def _open(weight: int) -> None:
    """A gate that lets every weight pass: these tests are about the rings; tests/releases/test_gate.py tests the
    error-budget gate, which the worker's sandbox, with every earlier test's faults in its window, would close."""


def _no_extra_traffic(config) -> bool:
    return runner.TRAFFIC not in SandboxRecord.load(record_path(config)).companions


def test_2_0_0_is_rolled_back_in_its_first_ring_and_its_traffic_measured_at_zero(released):
    logged = len(deploylog.read(config=released))
    lines: list[str] = []
    result = runner.run("lab", "2.0.0", config=released, progress=lines.append, gate=_open)
    assert result.outcome == "rolled_back", result.reason
    assert [(step.ring, step.weight, step.verdict) for step in result.steps] == [(0, 10, Verdict.ROLLBACK)]
    failed = result.steps[0].result
    assert isinstance(failed, ConditionResult) and failed.failed >= 1
    assert any(check.outcome == "fail" and check.success_rate < 0.95 for check in failed.checks)
    exposure = result.exposure
    assert exposure.first_traffic_at is not None and exposure.first_traffic_at > exposure.canary_started_at
    assert exposure.zero_traffic_at is not None and exposure.zero_traffic_at <= exposure.rolled_back_at
    assert exposure.confirming_requests >= runner.CONFIRM_REQUESTS  # stable kept serving, the canary got none
    status = canary.status(released)
    assert status.canary is None and status.proxy_weights["canary"] == 0
    assert canary.measure_split(16, config=released).canary_requests == 0
    assert _no_extra_traffic(released)
    events = deploylog.read(config=released)[logged:]
    assert [(e.kind, e.version, e.weight) for e in events] == [("deploy", "2.0.0", 10), ("rollback", "2.0.0", 0)]
    assert len(lines) == 3 + len(result.steps[0].judgments) + 1  # power, deploy, ring, each judgment, rollback
    table = result.table()
    assert list(table.columns) == ["ring", "weight", "judged_s", "canary_requests", "canary_errors", "verdict",
                                   "reason"]
    assert table.iloc[-1][["ring", "weight", "verdict"]].tolist() == [1, 10, "rollback"]
    counted = [check for check in failed.checks if math.isfinite(check.requests)]  # what the judge was given
    assert table.iloc[-1]["canary_requests"] == pytest.approx(sum(check.requests for check in counted))
    assert table.iloc[-1]["canary_errors"] == pytest.approx(sum(check.errors for check in counted))
    assert table.iloc[-1]["canary_errors"] >= 1
    summary = run_summary(result)
    assert "rolled back: ring 1 (10 %)" in summary and "none to the canary" in summary
    print(f"\n2.0.0: first request {exposure.seconds(exposure.first_traffic_at):.2f} s after the canary started, "
          f"judge failed at {exposure.seconds(exposure.failed_at):.2f} s, zero canary traffic at "
          f"{exposure.seconds(exposure.zero_traffic_at):.2f} s ({exposure.failure_to_zero_s:+.2f} s from the failure)")


def test_1_1_0_is_promoted_through_both_rings(released):
    result = runner.run("lab", "1.1.0", config=released, progress=None, gate=_open)
    assert result.outcome == "promoted", result.reason
    assert [(step.weight, step.verdict) for step in result.steps] == [(10, Verdict.PROMOTE), (50, Verdict.PROMOTE)]
    for step, ring in zip(result.steps, result.plan.rings):
        assert step.judgments[-1].end - step.started_at == pytest.approx(ring.duration_s, abs=0.01)
        assert step.result.successful >= result.plan.settings.min_measurements
        assert step.split.weight_percent == ring.weight and step.split.agrees(), step.split
    assert result.weight == 100 and result.exposure.zero_traffic_at is None
    assert canary.status(released).stable == "1.1.0" and canary.status(released).canary is None
    assert _no_extra_traffic(released)
    print(f"\n1.1.0: promoted in {result.ended_at - result.started_at:.1f} s")


def test_a_ring_too_short_to_see_the_regression_is_refused_before_anything_starts(released, tmp_path, capsys):
    plan = yaml.safe_load((CONTENT.releases / "lab.yml").read_text())
    plan["rings"] = [{"weight": 10, "duration": "2s"}]
    plan["judge"]["conditions"]["min_measurements"] = 1
    path = tmp_path / "hasty.yml"
    path.write_text(yaml.safe_dump(plan))
    logged = len(deploylog.read(config=released))
    with pytest.raises(InvalidInput) as refused:
        runner.run(path, "1.1.0", config=released, progress=None, gate=_open)
    assert refused.value.field == "rings[0].duration" and refused.value.source == str(path)
    needed = int(re.search(r"needs (\d+) s at weight 0.1", refused.value.problem).group(1))
    assert needed > 2
    assert canary.status(released).canary is None and len(deploylog.read(config=released)) == logged
    assert _no_extra_traffic(released)
    assert main(["release", "run", str(path), "1.1.0"]) == InvalidInput.exit_code
    assert f"{path}: rings[0].duration: 2.0 s is too short" in capsys.readouterr().err


def test_an_exemption_needs_a_reason_and_the_error_budget_gate(released):
    with pytest.raises(InvalidInput, match="needs a reason a reviewer can check") as refused:
        runner.run("lab", "1.1.0", config=released, progress=None, exemption="P0")
    assert refused.value.field == "reason"
    with pytest.raises(InvalidInput, match="a gate of your own decides itself"):
        runner.run("lab", "1.1.0", config=released, progress=None, gate=_open, exemption="P0", reason="INC-7")
    assert canary.status(released).canary is None and _no_extra_traffic(released)


def test_a_sample_interval_shorter_than_two_scrapes_is_refused(released, tmp_path):
    plan = yaml.safe_load((CONTENT.releases / "lab.yml").read_text())
    plan.update(sample_interval="1s", judge_every="1s")
    path = tmp_path / "fine.yml"
    path.write_text(yaml.safe_dump(plan))
    with pytest.raises(InvalidInput, match="fewer than two scrapes of the lab profile") as refused:
        runner.run(path, "1.1.0", config=released, progress=None, gate=_open)
    assert refused.value.field == "sample_interval"


def test_a_gate_that_refuses_stops_the_run_before_the_weight_rises(released):
    asked: list[int] = []

    def budget_spent(weight: int) -> str | None:
        asked.append(weight)
        return "error budget of shop-availability spent (test)"

    logged = len(deploylog.read(config=released))
    result = runner.run("lab", "1.1.0", config=released, progress=None, gate=budget_spent)
    assert asked == [10]
    assert result.outcome == "paused" and result.steps == () and result.weight == 0
    assert result.reason == "the gate refused 10 %: error budget of shop-availability spent (test)"
    status = canary.status(released)
    assert status.canary == "1.1.0" and status.proxy_weights == {"stable": 100, "canary": 0}
    assert result.exposure.first_traffic_at is None  # HAProxy never handed the canary a request
    events = deploylog.read(config=released)[logged:]
    assert [(e.kind, e.version) for e in events] == [("pause", "1.1.0")] and "error budget" in events[0].reason
    pid = status.canary_pid
    canary.rollback(config=released)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_observe_holds_a_canary_at_one_weight_queries_both_tracks_once_and_rolls_it_back(released):
    logged = len(deploylog.read(config=released))
    seen = runner.observe("1.3.0", 50, plan="lab07", intervals=3, config=released, progress=None)
    assert (seen.version, seen.weight, seen.step_s, seen.intervals) == ("1.3.0", 50, 2.0, 3)
    assert len(seen.baseline.requests) == len(seen.canary.requests) == 3
    assert min(seen.canary.requests) > 0 and min(seen.baseline.requests) > 0
    assert sum(seen.canary.requests) == pytest.approx(sum(seen.baseline.requests), rel=0.5)  # 50 %, give or take
    assert canary.status(released).canary is None and _no_extra_traffic(released)
    events = deploylog.read(config=released)[logged:]
    assert [(e.kind, e.version, e.weight) for e in events] == [("deploy", "1.3.0", 50), ("rollback", "1.3.0", 0)]


@pytest.mark.parametrize(("call", "field"), [
    (lambda config: runner.observe("1.3.0", 100, config=config), "weight"),
    (lambda config: runner.observe("1.3.0", 50, intervals=0, config=config), "intervals"),
    (lambda config: runner.observe("9.9.9", 50, config=config), "version"),
    (lambda config: runner.extra_traffic(1000, 10, config=config), "rps"),
    (lambda config: runner.extra_traffic(10, 0, config=config), "seconds"),
])
def test_observe_and_extra_traffic_refuse_bad_input_before_anything_starts(released, call, field):
    with pytest.raises(InvalidInput) as refused:
        call(released)
    assert refused.value.field == field
    assert canary.status(released).canary is None and _no_extra_traffic(released)
