"""Every scenario end to end: steady state, inject, the expected alert pages in time, the documented fix works."""

from __future__ import annotations

from kit import drills
from kit.config import Config
from kit.drills import lifecycle, scenarios
from kit.shop import faults


def rehearse_and_check(name: str, live: Config) -> drills.Rehearsal:
    rehearsal = drills.rehearse(name, config=live)
    result, scenario = rehearsal.result, scenarios.load(name)
    # The expected alert paged (rehearse gives up after twice the scenario's page_within, time-compressed, plus
    # 30 s). Whether it paged within page_within is a speed figure on a busy machine: benchmarks/drill_time_to_page.py.
    assert rehearsal.severity == scenario.expect_severity
    assert result.outcome == "resolved"
    kinds = [e.kind for e in result.events]
    for milestone in ("steady_state", "injected", "page", "acknowledged", "action", "resolution_check", "resolved"):
        assert milestone in kinds, f"{name}: no {milestone} on the timeline"
    assert result.events[kinds.index("steady_state")].data["passed"]
    if scenario.expect_severity == "ticket":
        start = result.response_times.injected_at
        fixing = next(e.t for e in result.events if e.kind == "note" and e.data.get("by") == "rehearsal")
        before_fix = drills.new_notifications(start, live)
        began = before_fix["starts_at"].map(lambda text: lifecycle._parse_time(text))
        before_fix = before_fix[began < fixing]  # a restart may page ServiceDown: the fix's doing, not the fault's
        paged = before_fix[(before_fix["severity"] == "page") & (before_fix["status"] == "firing")]
        assert not len(paged), f"{name} should only raise a ticket, but paged: {sorted(set(paged['alertname']))}"
    assert faults.list_faults(live) == {"shop": {}, "payments": {}}, "the drill must leave no fault behind"
    assert not drills.running(live)
    return rehearsal
