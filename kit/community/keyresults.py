"""Key results whose progress the kit computes: the figures behind ``records.METRICS``, and each key result's
progress from its baseline to its target.

The community's own figures (sessions, shares, experiments, active members) come from its records; two come
from the rest of the kit and are handed in as ``Evidence`` by the caller, which may read them (this package
sits beside kit.drills and kit.runbooks and does not import them): when each drill finished, from kit.drills'
results file, and how many problems kit.runbooks' lint finds. A figure the kit cannot know (no evidence given,
or a period that has not begun) is None, never a zero: "not measured" and "none happened" differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .records import METRICS, KeyResult, OKRSet, Records

__all__ = ["DAYS_PER_MONTH", "Evidence", "KeyResultProgress", "drill_days", "measure", "progress"]

DAYS_PER_MONTH = 30.4375
"""A month for "per month" rates: the Gregorian year's 365.25 days over 12."""


@dataclass(frozen=True)
class Evidence:
    """What the kit measured outside the community's records, gathered by the caller.

    ``drill_days``: the local day each finished drill ended (see ``drill_days``); ``runbook_problems``: how many
    problems kit.runbooks' lint reported. None: not gathered, so key results on it show no figure.
    """

    drill_days: tuple[date, ...] | None = None
    runbook_problems: int | None = None


@dataclass(frozen=True)
class KeyResultProgress:
    """One key result measured: ``current`` in the key result's own units, ``progress`` the fraction of the way
    from baseline to target (0 to 1, clipped), both None when there is no figure; ``source`` says where the
    figure came from (the metric's description, or "entered by hand")."""

    okrs: str
    objective: str
    key_result: KeyResult
    current: float | None
    progress: float | None
    source: str


def drill_days(rows: Iterable[Mapping[str, Any]]) -> tuple[date, ...]:
    """The local day each drill ended, from rows of kit.drills' results file (``ended_at``, Unix seconds);
    rows without a number there (an unfinished last line, an older format) are left out."""
    return tuple(datetime.fromtimestamp(row["ended_at"]).date() for row in rows
                 if isinstance(row.get("ended_at"), (int, float)))


def _within(day: date, start: date, end: date) -> bool:
    return start <= day <= end


def measure(metric: str, records: Records, evidence: Evidence, start: date, end: date, today: date) -> float | None:
    """The figure of ``metric`` (one of ``records.METRICS``) over the days ``start`` to ``end`` inclusive, as far
    as ``today`` reaches into it; None before the period begins or when its evidence was not gathered.
    Raises KeyError for a metric the kit does not compute."""
    if metric not in METRICS:
        raise KeyError(metric)
    last = min(end, today)
    if last < start:
        return None
    sessions = [s for s in records.sessions if _within(s.date, start, last)]
    shares = [s for s in records.shares if _within(s.date, start, last)]
    if metric == "sessions":
        return float(len(sessions))
    if metric == "drill-sessions":
        return float(sum(1 for s in sessions if s.kind == "drill"))
    if metric == "active-members":
        return float(len({handle for s in sessions for handle in s.attendees}))
    if metric == "shares":
        return float(len(shares))
    if metric == "runbook-shares":
        return float(sum(1 for s in shares if s.kind == "runbook"))
    if metric == "experiments-completed":
        return float(sum(1 for e in records.experiments if e.ended is not None and _within(e.ended, start, last)))
    if metric == "drills-per-month":
        if evidence.drill_days is None:
            return None
        days = (last - start).days + 1
        return sum(1 for day in evidence.drill_days if _within(day, start, last)) / (days / DAYS_PER_MONTH)
    return None if evidence.runbook_problems is None else float(evidence.runbook_problems)


def _fraction(current: float, baseline: float, target: float) -> float:
    return min(1.0, max(0.0, (current - baseline) / (target - baseline)))


def progress(okrs: OKRSet, records: Records, evidence: Evidence, today: date) -> list[KeyResultProgress]:
    """Every key result of ``okrs`` measured on ``today``, in the file's order. A key result going down (target
    below baseline, e.g. runbook problems from 6 to 0) progresses as its figure falls."""
    measured = []
    for objective in okrs.objectives:
        for result in objective.key_results:
            if result.metric is None:
                current, source = result.current, "entered by hand"
            else:
                current = measure(result.metric, records, evidence, okrs.start, okrs.end, today)
                source = METRICS[result.metric]
            fraction = None if current is None else _fraction(current, result.baseline, result.target)
            measured.append(KeyResultProgress(okrs.id, objective.objective, result, current, fraction, source))
    return measured
