"""The DORA keys from the deploy log and the incidents: pure functions, every definition stated here and
pinned by tests on hand-computed fixtures (tests/releases/test_dora.py).

Definitions (over a window [start, end), times in Unix seconds):

- **Deployment**: one ``deploy`` event: a version starts serving production traffic at any weight. A canary
  at 1 % is in production for 1 % of users, so it counts, and it must: a deployment the canary caught is a
  failed deployment, and the failure rate needs it in its denominator. A rollback is not a deployment (it
  ships no change); promotions and flag changes are not either. Deploying a version again is a new deployment.
- **Deployment frequency**: deployments whose deploy falls in the window, per day (``count / days``); for the
  tiers, the mean interval between them (``days / count``), since the reports state frequency as "once per …".
- **Lead time for changes**: per deployment, its commit time to the moment it first serves 100 % of traffic
  (a deploy at 100, or the promotion to 100); deployments that never reached 100 % by ``end`` have none. The
  key is the median.
- **Incident attribution**: an incident that names a version belongs to that version's latest deployment made
  before the incident began. Otherwise it belongs to the newest change before it began, within
  ``ATTRIBUTION_WINDOW``: a deploy or promotion of a version still serving when the incident began (a version
  rolled back before it cannot be its cause) or a flag change. When that change is a flag change, the incident is
  the flag's, not a deployment's; with no change in the window it is nobody's. Unattributed incidents are listed,
  never dropped silently.
- **Failed deployment**: a deployment that was rolled back, or has an incident attributed to it, or was fixed by
  a later deployment (``fixes``). It counts once, however many of these happened and however many incidents it
  caused (Four Keys' users report rates above 100 % from counting incidents instead of deployments).
- **Change failure rate**: failed deployments / deployments, both over the deployments made in the window.
- **Failed deployment recovery time**: per failed deployment, from when its failure began (its first attributed
  incident's start; without an incident, its deploy: the release itself caught it) to the first remedy after that:
  its rollback, or a fixing deployment reaching 100 %; with neither, the end of its last incident (restored some
  other way). Unrecovered by ``end``: counted apart. The key is the median.
- **Rework rate**: deployments made to fix a failure in production (a deploy that names the version it ``fixes``:
  unplanned, as the DORA rework question asks) / deployments, over the window.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidInput
from .deploylog import DeployEvent, in_order
from .incidents import Incident

ATTRIBUTION_WINDOW = 24 * 3600.0
"""How long after a change an incident may still be blamed on it by time alone (seconds)."""

DAY = 86400.0


@dataclass(frozen=True)
class Deployment:
    """One deployment and what became of it (times in Unix seconds; None when it did not happen).

    ``full_at``: first moment it served 100 %; ``rolled_back_at``: its rollback; ``fixed_at``: when a deployment
    fixing it reached 100 %; ``incidents``: names of the incidents attributed to it; ``failure_start``,
    ``recovered_at``: its failure's start and end (failed deployments only); ``failure_signals``: why it counts as
    failed ("rollback", "incident", "fixed"), empty when it did not fail.
    """

    version: str
    commit: str
    commit_time: float
    deployed_at: float
    fixes: str | None
    exemption: str | None
    full_at: float | None = None
    rolled_back_at: float | None = None
    fixed_at: float | None = None
    incidents: tuple[str, ...] = ()
    failure_signals: tuple[str, ...] = ()
    failure_start: float | None = None
    recovered_at: float | None = None

    @property
    def failed(self) -> bool:
        return bool(self.failure_signals)

    @property
    def lead_time(self) -> float | None:
        """Seconds from commit to 100 % of traffic; None if it never got there."""
        return None if self.full_at is None else self.full_at - self.commit_time

    @property
    def recovery_time(self) -> float | None:
        """Seconds from the failure's start to its remedy; None if it did not fail or is not recovered."""
        if self.failure_start is None or self.recovered_at is None:
            return None
        return self.recovered_at - self.failure_start


@dataclass(frozen=True)
class Attribution:
    """Where one incident was attributed: the ``version`` and ``deployed_at`` of the deployment it belongs to (both
    None when it is not a deployment's) and the ``cause`` of that verdict: "version label", "latest change",
    "flag change", "no change before it" or "no deployment of V before it"."""

    incident: Incident
    version: str | None
    deployed_at: float | None
    cause: str


@dataclass(frozen=True)
class DoraReport:
    """The five keys over [``start``, ``end``) (Unix seconds), with what they were computed from.

    Counts are whole numbers; rates are fractions (0.25 = 25 %); times are seconds. A key with nothing to compute
    it from is None (no deployments: no failure rate, not 0 %).
    """

    start: float
    end: float
    deployments: tuple[Deployment, ...]
    attributions: tuple[Attribution, ...]
    per_day: float
    mean_interval: float | None
    lead_times: tuple[float, ...]
    lead_time: float | None
    failed: int
    change_failure_rate: float | None
    recovery_times: tuple[float, ...]
    recovery_time: float | None
    unrecovered: int
    rework: int
    rework_rate: float | None

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    @property
    def count(self) -> int:
        return len(self.deployments)

    @property
    def unattributed(self) -> tuple[Attribution, ...]:
        return tuple(a for a in self.attributions if a.version is None)

    def figures(self) -> dict[str, float | None]:
        """The values the tier tables judge, by key: mean interval between deployments (s), median lead time (s),
        change failure rate (fraction), median recovery time (s)."""
        return {"deployment_frequency": self.mean_interval, "lead_time": self.lead_time,
                "change_failure_rate": self.change_failure_rate, "recovery_time": self.recovery_time}

    def as_json(self) -> dict:
        return {
            "start": self.start, "end": self.end, "days": self.days, "deployments": self.count,
            "per_day": self.per_day, "mean_interval_s": self.mean_interval, "lead_time_s": self.lead_time,
            "failed": self.failed, "change_failure_rate": self.change_failure_rate,
            "recovery_time_s": self.recovery_time, "recovered": len(self.recovery_times),
            "unrecovered": self.unrecovered, "rework": self.rework, "rework_rate": self.rework_rate,
            "incidents": len(self.attributions), "unattributed_incidents": len(self.unattributed),
        }


def _deployments(events: Sequence[DeployEvent]) -> tuple[list[dict], list[tuple[float, str, int | None]]]:
    """The deployments (as dicts, deploy order) and the changes ``(time, kind, deployment index)`` in time order.

    A promote or rollback applies to the latest deployment of its version made before it; one with no such
    deployment is ignored (a log that begins mid-release).
    """
    deployments: list[dict] = []
    latest: dict[str, int] = {}
    changes: list[tuple[float, str, int | None]] = []
    for event in in_order(events):
        if event.kind == "deploy":
            latest[event.version] = len(deployments)
            deployments.append({"version": event.version, "commit": event.commit, "commit_time": event.commit_time,
                                "deployed_at": event.at, "fixes": event.fixes, "exemption": event.exemption,
                                "full_at": event.at if event.weight == 100 else None, "rolled_back_at": None})
            changes.append((event.at, "deploy", latest[event.version]))
        elif event.kind == "flag":
            changes.append((event.at, "flag", None))
        elif event.version in latest:
            entry = deployments[latest[event.version]]
            if event.kind == "promote":
                if event.weight == 100 and entry["full_at"] is None:
                    entry["full_at"] = event.at
                changes.append((event.at, "promote", latest[event.version]))
            elif event.kind == "rollback" and entry["rolled_back_at"] is None:
                entry["rolled_back_at"] = event.at
    return deployments, changes


def _attribute(incident: Incident, deployments: Sequence[dict], changes: Sequence[tuple[float, str, int | None]],
               window: float) -> tuple[int | None, str]:
    """(index of the deployment, cause) for one incident, by the rule in this module's docstring."""
    def serving(index: int) -> bool:
        gone = deployments[index]["rolled_back_at"]
        return gone is None or gone > incident.start

    if incident.version is not None:
        matches = [i for i, d in enumerate(deployments)
                   if d["version"] == incident.version and d["deployed_at"] <= incident.start]
        return (matches[-1], "version label") if matches else (None, f"no deployment of {incident.version} before it")
    for at, kind, index in reversed(changes):
        if at > incident.start:
            continue
        if incident.start - at > window:
            break
        if kind == "flag":
            return None, "flag change"
        if index is not None and serving(index):
            return index, "latest change"
    return None, "no change before it"


def compute(events: Sequence[DeployEvent], incidents: Sequence[Incident], start: float, end: float, *,
            window: float = ATTRIBUTION_WINDOW) -> DoraReport:
    """The DORA keys over [``start``, ``end``) from the deploy log's ``events`` and the ``incidents``.

    Events and incidents outside the window still matter (a deployment before the window can own an incident in
    it; a rollback after a deployment in the window makes it failed if it happened before ``end``); what happened
    after ``end`` is not known yet and is ignored. Raises InvalidInput when ``end`` is not after ``start``.
    """
    if not end > start:
        raise InvalidInput("end", f"{end} must be after the start {start}")
    known = [e for e in events if e.at < end]
    deployments, changes = _deployments(known)
    seen = [i for i in incidents if i.start < end]
    verdicts = [(i, *_attribute(i, deployments, changes, window)) for i in sorted(seen, key=lambda i: i.start)]
    owned: dict[int, list[Incident]] = {}
    for incident, index, _ in verdicts:
        if index is not None:
            owned.setdefault(index, []).append(incident)
    attributions = tuple(Attribution(incident, None if index is None else deployments[index]["version"],
                                     None if index is None else deployments[index]["deployed_at"], cause)
                         for incident, index, cause in verdicts)

    done = []
    for index, d in enumerate(deployments):
        mine = owned.get(index, [])
        fixes = [f["full_at"] for f in deployments if f["fixes"] == d["version"] and f["deployed_at"] > d["deployed_at"]
                 and f["full_at"] is not None]
        signals = tuple(name for name, present in (("rollback", d["rolled_back_at"] is not None),
                                                    ("incident", bool(mine)), ("fixed", bool(fixes))) if present)
        failure_start = recovered = None
        if signals:
            failure_start = min(i.start for i in mine) if mine else d["deployed_at"]
            remedies = [t for t in (d["rolled_back_at"], *fixes) if t is not None and t >= failure_start]
            if remedies:
                recovered = min(remedies)
            elif mine and all(i.end is not None and i.end < end for i in mine):
                recovered = max(i.end for i in mine)
        done.append(Deployment(
            d["version"], d["commit"], d["commit_time"], d["deployed_at"], d["fixes"], d["exemption"], d["full_at"],
            d["rolled_back_at"], min(fixes) if fixes else None, tuple(i.name for i in mine), signals, failure_start,
            recovered))

    chosen = tuple(d for d in done if start <= d.deployed_at < end)
    count, days = len(chosen), (end - start) / DAY
    lead_times = tuple(d.lead_time for d in chosen if d.lead_time is not None)
    failed = [d for d in chosen if d.failed]
    recovery_times = tuple(d.recovery_time for d in failed if d.recovery_time is not None)
    rework = sum(1 for d in chosen if d.fixes is not None)
    return DoraReport(
        start, end, chosen, attributions, count / days, (end - start) / count if count else None, lead_times,
        statistics.median(lead_times) if lead_times else None, len(failed), len(failed) / count if count else None,
        recovery_times, statistics.median(recovery_times) if recovery_times else None,
        len(failed) - len(recovery_times), rework, rework / count if count else None)
