"""The DORA definitions of kit.releases.dora, pinned on a hand-computed fixture (see the timeline below)."""

from __future__ import annotations

import pytest

from kit.errors import InvalidInput
from kit.releases import deployhistory, dora
from kit.releases.deploylog import DeployEvent
from kit.releases.incidents import Incident, from_drill_results, from_pages

T = 1_700_000_000.0
M, H, D = 60.0, 3600.0, 86400.0


def ev(kind, version, at, commit_time=None, **extra):
    return DeployEvent(kind, version, f"c{version}", at - H if commit_time is None else commit_time, at, "tester",
                       **extra)


# A  1.0.1: committed T-2h, 1 % at T, 100 % at T+1h: healthy, lead time 3 h.
# B  1.0.2: committed T+1d-1h, 100 % at T+1d; incidents I1 (T+1d+30m..+90m) and I2 (+40m..+80m) and, by its
#    version label, I6 days later; rolled back at T+1d+1h: failed ONCE, recovery 30 min, lead time 1 h.
# C  1.0.3: 1 % at T+2d, rolled back at T+2d+20m by the canary: failed, recovery 20 min, no lead time.
# D  1.0.4: committed T+3d-2h, 100 % at T+3d; incident I3 at T+3d+1h; fixed by E at T+3d+2h: failed, recovery 1 h.
# E  1.0.5: committed T+3d+90m, 100 % at T+3d+2h, fixes 1.0.4: rework, healthy, lead time 30 min.
#    flag change at T+4d, incident I4 ten minutes later: the flag's, no deployment's.
# F  1.0.6: committed T+5d-4h, 100 % at T+5d: healthy, lead time 4 h; I6 (labelled 1.0.2) at T+5d+1h is B's.
#    incident I5 at T+6d+6h: no change in the day before it, nobody's.
EVENTS = [
    ev("deploy", "1.0.1", T, T - 2 * H, weight=1), ev("promote", "1.0.1", T + H, T - 2 * H, weight=100),
    ev("deploy", "1.0.2", T + D, weight=100), ev("rollback", "1.0.2", T + D + H, T + D - H),
    ev("deploy", "1.0.3", T + 2 * D, weight=1), ev("rollback", "1.0.3", T + 2 * D + 20 * M, T + 2 * D - H),
    ev("deploy", "1.0.4", T + 3 * D, T + 3 * D - 2 * H, weight=100),
    ev("deploy", "1.0.5", T + 3 * D + 2 * H, T + 3 * D + 90 * M, weight=100, fixes="1.0.4", exemption="P0"),
    ev("flag", "1.0.5", T + 4 * D, T + 3 * D + 90 * M, flag="recommendations", flag_state="on"),
    ev("deploy", "1.0.6", T + 5 * D, T + 5 * D - 4 * H, weight=100),
]
INCIDENTS = [
    Incident("recorded", "I1", T + D + 30 * M, T + D + 90 * M), Incident("page", "I2", T + D + 40 * M, T + D + 80 * M),
    Incident("recorded", "I3", T + 3 * D + H, T + 3 * D + 3 * H),
    Incident("drill", "I4", T + 4 * D + 10 * M, T + 4 * D + 30 * M),
    Incident("recorded", "I5", T + 6 * D + 6 * H, T + 6 * D + 7 * H),
    Incident("page", "I6", T + 5 * D + H, T + 5 * D + 2 * H, version="1.0.2"),
]


@pytest.fixture(scope="module")
def report():
    return dora.compute(EVENTS, INCIDENTS, T, T + 10 * D)


def test_deployment_frequency_counts_deploys_not_promotions_or_rollbacks(report):
    assert report.count == 6
    assert report.per_day == pytest.approx(0.6)
    assert report.mean_interval == pytest.approx(10 * D / 6)


def test_lead_time_runs_from_commit_to_full_traffic(report):
    assert sorted(report.lead_times) == [30 * M, H, 2 * H, 3 * H, 4 * H]  # C never reached 100 %
    assert report.lead_time == 2 * H


def test_a_deployment_fails_once_however_many_incidents_it_caused(report):
    assert report.failed == 3  # B (3 incidents and a rollback), C (rollback), D (incident and a fix)
    assert report.change_failure_rate == pytest.approx(0.5)  # counting incidents instead would say 4 of 6
    b = next(d for d in report.deployments if d.version == "1.0.2")
    assert b.incidents == ("I1", "I2", "I6") and b.failure_signals == ("rollback", "incident")


def test_recovery_runs_from_the_failure_to_the_first_remedy(report):
    by_version = {d.version: d.recovery_time for d in report.deployments if d.failed}
    assert by_version == {"1.0.2": 30 * M, "1.0.3": 20 * M, "1.0.4": H}
    assert report.recovery_time == 30 * M and report.unrecovered == 0


def test_rework_is_the_share_of_deployments_that_fix_a_failure(report):
    assert report.rework == 1 and report.rework_rate == pytest.approx(1 / 6)


def test_attribution_names_its_cause(report):
    causes = {a.incident.name: (a.version, a.cause) for a in report.attributions}
    assert causes == {
        "I1": ("1.0.2", "latest change"), "I2": ("1.0.2", "latest change"), "I3": ("1.0.4", "latest change"),
        "I4": (None, "flag change"), "I6": ("1.0.2", "version label"), "I5": (None, "no change before it"),
    }


def test_a_rolled_back_version_is_never_blamed_for_what_came_after():
    events = [ev("deploy", "1.0.1", T, weight=100), ev("deploy", "1.0.2", T + H, weight=1),
              ev("rollback", "1.0.2", T + 2 * H, T)]
    late = dora.compute(events, [Incident("page", "late", T + 3 * H, T + 4 * H)], T - D, T + D)
    assert [(a.version, a.cause) for a in late.attributions] == [("1.0.1", "latest change")]


def test_only_what_happened_before_the_end_counts():
    cut = dora.compute(EVENTS, INCIDENTS, T, T + 3 * D + 90 * M)  # before E's fix and I3's end
    d = next(x for x in cut.deployments if x.version == "1.0.4")
    assert d.failure_signals == ("incident",) and d.recovered_at is None
    assert cut.count == 4 and cut.failed == 3 and cut.unrecovered == 1 and cut.rework == 0


def test_an_earlier_deployment_owns_an_incident_in_the_window_without_being_counted_in_it():
    window = dora.compute(EVENTS, INCIDENTS, T + D + 35 * M, T + 10 * D)
    assert "1.0.2" not in {d.version for d in window.deployments}
    assert window.count == 4 and window.failed == 2  # C and D
    assert any(a.incident.name == "I2" and a.version == "1.0.2" for a in window.attributions)


def test_no_deployments_gives_no_rates_not_zeros():
    empty = dora.compute([], [], T, T + D)
    assert (empty.count, empty.change_failure_rate, empty.rework_rate, empty.lead_time, empty.mean_interval) == \
        (0, None, None, None, None)
    with pytest.raises(InvalidInput, match="end"):
        dora.compute([], [], T, T)


def test_incidents_from_drill_results_and_merged_overlapping_pages():
    drills = from_drill_results([{"run": "r1", "scenario": "bad-deploy", "started_at": T, "ended_at": T + 900,
                                  "ttr_s": 300.0}, {"run": "r2", "scenario": "x", "started_at": T + H, "ttr_s": None,
                                                    "ended_at": T + 2 * H}])
    assert [(i.start, i.end) for i in drills] == [(T, T + 300), (T + H, T + 2 * H)]

    def row(name, status, starts, ends="0001-01-01T00:00:00Z", **labels):
        return {"severity": "page", "alertname": name, "status": status, "fingerprint": name, "starts_at": starts,
                "ends_at": ends, "labels": labels}

    pages = from_pages([
        row("A", "firing", "2023-11-14T22:13:20Z"), row("B", "firing", "2023-11-14T22:20:00Z", version="2.0.0"),
        row("A", "resolved", "2023-11-14T22:13:20Z", "2023-11-14T22:40:00Z"),
        row("B", "resolved", "2023-11-14T22:20:00Z", "2023-11-14T22:50:00Z"),
        row("C", "firing", "2023-11-15T10:00:00Z"),
        {**row("T", "firing", "2023-11-14T22:00:00Z"), "severity": "ticket"},
    ])
    # A (22:13:20, resolved 22:40) and B (22:20..22:50) overlap: one incident, 22:13:20 to 22:50; the ticket is none
    assert [(p.name, p.end - p.start if p.end else None, p.version) for p in pages] == [
        ("page A", 36 * M + 40, "2.0.0"), ("page C", None, None)]


def test_the_backfilled_history_gives_its_known_answers():
    history = deployhistory.generate(90, end=1_767_225_600.0)  # 2026-01-01 00:00 UTC, the default seed
    got = dora.compute(history.events, history.incidents, history.start, history.end)
    known = history.answers
    assert (got.count, got.failed, got.rework, len(got.attributions), len(got.unattributed), got.unrecovered) == \
        (known.deployments, known.failed, known.rework, known.incidents, known.unattributed, 0)
    assert sorted(got.lead_times) == pytest.approx(sorted(known.lead_times))
    assert sorted(got.recovery_times) == pytest.approx(sorted(known.recovery_times))
    assert (known.deployments, known.failed, known.rework, known.incidents, known.unattributed) == (100, 14, 6, 19, 6)
    assert got.change_failure_rate == known.change_failure_rate == 0.14
    assert deployhistory.generate(90, end=1_767_225_600.0).events == history.events
    assert deployhistory.generate(90, end=1_767_225_600.0, seed=1).events != history.events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_seeds_keep_their_answers_too(seed):
    history = deployhistory.generate(60, end=1_767_225_600.0, seed=seed)
    got = dora.compute(history.events, history.incidents, history.start, history.end)
    assert (got.count, got.failed, got.rework, len(got.unattributed)) == (
        history.answers.deployments, history.answers.failed, history.answers.rework, history.answers.unattributed)
    assert got.recovery_time == pytest.approx(history.answers.recovery_time)
