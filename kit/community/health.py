"""Community health: whether people keep coming, share the roles, share what they learn, experiment, and get
better, from the community's records (kit.community.records), the sandbox's drill results and the team pulse.

Every figure is a pure function of what it is given (kit.community.healthreport puts them together in one
report and shows it); the caller gathers the drill results (rows of kit.drills'
results file), which postmortems are complete (kit.drills.postmortem.missing_sections per run) and the pulse's
rounds (kit.community.pulse), as ``kit cop health`` does. Months are calendar months named ``YYYY-MM``, from the
first member's joining to ``today``; a month is counted up to ``today`` only.

Seed 000's community of practice measured itself by three families of metrics, and ``metric_families`` gives
them on one page: 1. shares and collaboration, 2. Kaizen experiments, 3. outcomes (drill response times and
results, and what judged experiments changed).

Rotation fairness compares each member's turns in a role with their fair share: a role's turns in a session are
shared out equally among the session's attendees, so someone who came to half the sessions is expected to hold
half as many turns. Two measures are reported per role: the Gini coefficient of turns over fair share (0 when
everyone held exactly their share, towards 1 when one person held them all; Gini 1912, as the mean absolute
difference over twice the mean), and Pearson's chi-square goodness-of-fit test of the turns against the fair
shares (Pearson 1900, ``scipy.stats.chisquare``), whose p-value is marked unreliable when a fair share is below
5 turns (Cochran 1954, "Some methods for strengthening the common chi-square tests", Biometrics 10(4):417-451):
a small community's test then says little, and the Gini and the "always" findings say more.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .pulse import DEFAULT_FLOOR, PulseRound, TeamPulse, latest, report
from .records import SHARE_KINDS, Records, Session

__all__ = ["Always", "Improvement", "MetricFamilies", "RoleFairness", "Rotations", "Skills", "TeamPractice",
           "activity", "gini", "membership", "metric_families", "month_of", "months", "outcomes", "retention",
           "rotation_fairness", "skills", "team_practice"]

MIN_EXPECTED = 5
"""Cochran's rule: the chi-square approximation holds when every expected count is at least 5."""


def month_of(day: date) -> str:
    """``date(2026, 9, 8)`` -> ``"2026-09"``."""
    return f"{day.year:04d}-{day.month:02d}"


def _month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


def _month_end(month: str) -> date:
    start = _month_start(month)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def months(first: date, last: date) -> list[str]:
    """Every calendar month from ``first``'s to ``last``'s, inclusive (empty when ``last`` is before ``first``)."""
    found, month = [], date(first.year, first.month, 1)
    while month <= last:
        found.append(month_of(month))
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return found


def _span(records: Records, today: date) -> list[str]:
    starts = [m.joined for m in records.members] + [s.date for s in records.sessions]
    return months(min(starts), today) if starts else []


def _frame(rows: list[tuple], columns: tuple[str, ...]):
    import pandas as pd

    return pd.DataFrame(rows, columns=list(columns))


# ---------------------------------------------------------------- members, attendance, retention

MEMBERSHIP_COLUMNS = ("month", "members", "joined", "left", "sessions", "attendance", "active", "active_share")


def membership(records: Records, today: date):
    """Members and attendance per month, as a DataFrame with ``MEMBERSHIP_COLUMNS``:

    ``members`` members at the month's end (or ``today``), ``joined``/``left`` how many joined and left in it,
    ``sessions`` sessions held, ``attendance`` person-sessions (each attendee of each session), ``active`` the
    distinct members who came to at least one, ``active_share`` active / members (NaN with no members).
    """
    rows = []
    for month in _span(records, today):
        end = min(_month_end(month), today)
        held = [s for s in records.sessions if month_of(s.date) == month and s.date <= today]
        members = sum(1 for m in records.members if m.active_on(end))
        active = len({h for s in held for h in s.attendees})
        rows.append((month, members, sum(1 for m in records.members if month_of(m.joined) == month),
                     sum(1 for m in records.members if m.left is not None and month_of(m.left) == month),
                     len(held), sum(len(s.attendees) for s in held), active,
                     active / members if members else float("nan")))
    return _frame(rows, MEMBERSHIP_COLUMNS)


RETENTION_COLUMNS = ("cohort", "size", "month", "members", "active", "retained")


def retention(records: Records, today: date):
    """Cohort retention by month joined, as a long DataFrame with ``RETENTION_COLUMNS``, one row per cohort and
    month since joining:

    ``cohort`` the month its members joined, ``size`` how many joined then, ``month`` months since (0 is the
    joining month itself), ``members`` how many of them are still members at that month's end, ``active`` how
    many came to at least one session in that month, ``retained`` active / size. Months after ``today``'s are
    left out. ``frame.pivot(index="cohort", columns="month", values="retained")`` is the usual triangle.
    """
    cohorts: dict[str, list] = defaultdict(list)
    for member in records.members:
        if member.joined <= today:
            cohorts[month_of(member.joined)].append(member)
    rows = []
    for cohort in sorted(cohorts):
        people = cohorts[cohort]
        for k, month in enumerate(months(_month_start(cohort), today)):
            end = min(_month_end(month), today)
            came = {h for s in records.sessions if month_of(s.date) == month and s.date <= today
                    for h in s.attendees}
            active = sum(1 for m in people if m.handle in came)
            rows.append((cohort, len(people), k, sum(1 for m in people if m.active_on(end)), active,
                         active / len(people)))
    return _frame(rows, RETENTION_COLUMNS)


# ---------------------------------------------------------------- rotation fairness


def gini(values: Sequence[float]) -> float:
    """The Gini coefficient of ``values`` (non-negative): sum over all pairs of |x_i - x_j|, over 2 n^2 mean.
    0 when all are equal; (n - 1) / n when one holds everything. Raises ValueError for no values or a zero sum."""
    if not values or sum(values) <= 0:
        raise ValueError("the Gini coefficient needs values with a positive sum")
    n, mean = len(values), statistics.fmean(values)
    return sum(abs(a - b) for a in values for b in values) / (2 * n * n * mean)


TURN_COLUMNS = ("member", "role", "turns", "sessions", "expected", "share")


@dataclass(frozen=True)
class RoleFairness:
    """How evenly one role went round: ``turns`` held in all (a turn with two researchers counts two),
    ``members`` who could have held it (came to a session where it rotated), ``gini`` of turns over fair share,
    ``chi2``/``p_value`` Pearson's test against the fair shares (None with one member), ``reliable`` whether every
    fair share is at least 5 turns (Cochran's rule), ``most`` the member with the most turns over fair share."""

    role: str
    turns: int
    members: int
    gini: float
    chi2: float | None
    p_value: float | None
    reliable: bool
    most: str


@dataclass(frozen=True)
class Always:
    """A rotation that did not rotate, over at least two sessions: ``kind`` "only-role" (``member`` held no other
    role in any turn: "always drives") or "sole-holder" (nobody but ``member`` ever held ``role``: "always the
    scribe"); ``sessions`` counts the sessions it held through."""

    kind: str
    member: str
    role: str
    sessions: int

    def __str__(self) -> str:
        if self.kind == "only-role":
            return f"{self.member} held no role but {self.role} in {self.sessions} sessions"
        return f"{self.member} was the only {self.role} in {self.sessions} sessions"


@dataclass(frozen=True)
class Rotations:
    """``turns``: a DataFrame with ``TURN_COLUMNS``, one row per member and role they could have held: ``turns``
    held, ``sessions`` attended where the role rotated, ``expected`` their fair share of its turns, ``share`` of
    the role's turns; ``roles``: each role's fairness; ``always``: rotations that did not rotate."""

    turns: Any
    roles: tuple[RoleFairness, ...]
    always: tuple[Always, ...]


def _slots(session: Session) -> Counter:
    """Turns per role in one session (a turn's every holder counts)."""
    return Counter(role for turn in session.rotations for role, holders in turn.roles.items() for _ in holders)


def rotation_fairness(records: Records, min_sessions: int = 2) -> Rotations:
    """Who held which role, against their fair share (see the module's docstring for the measures). A member or
    role is reported as "always" only after ``min_sessions`` sessions, so one session's split is not a pattern."""
    from scipy.stats import chisquare

    held: Counter = Counter()
    held_in: dict[tuple[str, str], set[str]] = defaultdict(set)
    exposure: Counter = Counter()
    expected: dict[tuple[str, str], float] = defaultdict(float)
    for session in records.sessions:
        slots = _slots(session)
        for role, n in slots.items():
            for handle in session.attendees:
                exposure[handle, role] += 1
                expected[handle, role] += n / len(session.attendees)
        for turn in session.rotations:
            for role, holders in turn.roles.items():
                for handle in holders:
                    held[handle, role] += 1
                    held_in[handle, role].add(session.id)
    by_role: dict[str, int] = Counter()
    for (_, role), n in held.items():
        by_role[role] += n
    rows = sorted(((h, r, held[h, r], exposure[h, r], expected[h, r], held[h, r] / by_role[r])
                   for (h, r) in expected), key=lambda row: (row[1], row[0]))
    roles = []
    for role in sorted(by_role):
        mine = [row for row in rows if row[1] == role]
        ratios = [row[2] / row[4] for row in mine]
        observed, fair = [row[2] for row in mine], [row[4] for row in mine]
        test = chisquare(observed, fair) if len(mine) > 1 else None
        roles.append(RoleFairness(role, by_role[role], len(mine), gini(ratios),
                                  None if test is None else float(test.statistic),
                                  None if test is None else float(test.pvalue),
                                  test is not None and min(fair) >= MIN_EXPECTED,
                                  mine[max(range(len(mine)), key=lambda i: (ratios[i], -i))][0]))
    always = []
    roles_of: dict[str, set[str]] = defaultdict(set)
    sessions_of: dict[str, set[str]] = defaultdict(set)
    holders_of: dict[str, set[str]] = defaultdict(set)
    role_sessions: dict[str, set[str]] = defaultdict(set)
    for (handle, role), ids in held_in.items():
        roles_of[handle].add(role)
        sessions_of[handle] |= ids
        holders_of[role].add(handle)
        role_sessions[role] |= ids
    for handle in sorted(roles_of):
        if len(roles_of[handle]) == 1 and len(sessions_of[handle]) >= min_sessions:
            always.append(Always("only-role", handle, next(iter(roles_of[handle])), len(sessions_of[handle])))
    for role in sorted(holders_of):
        if len(holders_of[role]) == 1 and len(role_sessions[role]) >= min_sessions:
            always.append(Always("sole-holder", next(iter(holders_of[role])), role, len(role_sessions[role])))
    return Rotations(_frame(rows, TURN_COLUMNS), tuple(roles), tuple(always))


# ---------------------------------------------------------------- shares, experiments, outcomes per month

ACTIVITY_COLUMNS = ("month", "sessions", "attendance", "mixed_sessions", "shares", *SHARE_KINDS,
                    "experiments_started", "experiments_judged", "experiments_adopted", "experiments_improved",
                    "experiments_running")


def activity(records: Records, today: date):
    """Shares and experiments per month, as a DataFrame with ``ACTIVITY_COLUMNS``: sessions held, attendance
    (person-sessions), ``mixed_sessions`` (a newcomer and an experienced member both came: the pairing seed 000
    asks for), shares in all and of each kind (talk, write-up, runbook, demo), and Kaizen experiments started,
    judged (ended), adopted, improved (judged, and ``after`` beat ``before``) and running at the month's end."""
    rows = []
    experience = {m.handle: m.experience for m in records.members}
    for month in _span(records, today):
        end = min(_month_end(month), today)
        held = [s for s in records.sessions if month_of(s.date) == month and s.date <= today]
        shares = [s for s in records.shares if month_of(s.date) == month and s.date <= today]
        judged = [e for e in records.experiments if e.ended is not None and month_of(e.ended) == month
                  and e.ended <= today]
        rows.append((month, len(held), sum(len(s.attendees) for s in held),
                     sum(1 for s in held if {experience[h] for h in s.attendees} >= {"newcomer", "experienced"}),
                     len(shares), *(sum(1 for s in shares if s.kind == kind) for kind in SHARE_KINDS),
                     sum(1 for e in records.experiments if month_of(e.started) == month and e.started <= today),
                     len(judged), sum(1 for e in judged if e.outcome == "adopted"),
                     sum(1 for e in judged if e.improved),
                     sum(1 for e in records.experiments if e.started <= end and (e.ended is None or e.ended > end))))
    return _frame(rows, ACTIVITY_COLUMNS)


OUTCOME_COLUMNS = ("month", "drills", "resolved", "median_ttd_s", "median_tta_s", "median_ttr_s", "hints_per_drill")


def _median(values: Iterable[Any]) -> float:
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(numbers) if numbers else float("nan")


def _ended(row: Mapping[str, Any]) -> date | None:
    at = row.get("ended_at")
    return datetime.fromtimestamp(at).date() if isinstance(at, (int, float)) else None


def outcomes(drills: Iterable[Mapping[str, Any]], first: date, today: date):
    """Drill outcomes per month from rows of kit.drills' results file, as a DataFrame with ``OUTCOME_COLUMNS``:
    drills finished (by the local day they ended), how many were resolved, the median time to detect,
    acknowledge and resolve (seconds; NaN when none was measured) and hints used per drill. Months from
    ``first``'s to ``today``'s; rows without an end time are left out."""
    dated = [(d, row) for row in drills if (d := _ended(row)) is not None and d <= today]
    rows = []
    for month in months(first, today):
        mine = [row for d, row in dated if month_of(d) == month]
        rows.append((month, len(mine), sum(1 for r in mine if r.get("outcome") == "resolved"),
                     _median(r.get("ttd_s") for r in mine), _median(r.get("tta_s") for r in mine),
                     _median(r.get("ttr_s") for r in mine),
                     statistics.fmean(float(r.get("hints_used") or 0) for r in mine) if mine else float("nan")))
    return _frame(rows, OUTCOME_COLUMNS)


@dataclass(frozen=True)
class Improvement:
    """A judged experiment's outcome: its metric ``before`` and ``after`` in ``unit``, and whether it improved."""

    experiment: str
    title: str
    metric: str
    unit: str
    before: float
    after: float | None
    improved: bool | None
    outcome: str
    ended: date


@dataclass(frozen=True)
class MetricFamilies:
    """Seed 000's three metric families: ``shares`` (month, sessions, attendance, mixed_sessions, shares and each
    share kind), ``experiments`` (month, started, judged, adopted, improved, running) and ``outcomes`` (drills per
    month with ``OUTCOME_COLUMNS``, and the judged experiments' ``improvements``)."""

    shares: Any
    experiments: Any
    outcomes: Any
    improvements: tuple[Improvement, ...]


def metric_families(records: Records, drills: Iterable[Mapping[str, Any]], today: date) -> MetricFamilies:
    """The three families over the community's months (see ``MetricFamilies``)."""
    frame = activity(records, today)
    shares = frame[["month", "sessions", "attendance", "mixed_sessions", "shares", *SHARE_KINDS]]
    experiments = frame[["month", *(c for c in frame.columns if c.startswith("experiments_"))]].rename(
        columns=lambda c: c.removeprefix("experiments_"))
    span = _span(records, today)
    first = _month_start(span[0]) if span else today
    improvements = tuple(Improvement(e.id, e.title, e.metric, e.unit, e.before, e.after, e.improved, e.outcome,
                                     e.ended) for e in records.experiments if e.ended is not None
                         and e.ended <= today)
    return MetricFamilies(shares.reset_index(drop=True), experiments.reset_index(drop=True),
                          outcomes(drills, first, today), tuple(sorted(improvements, key=lambda i: (i.ended, i.experiment))))


# ---------------------------------------------------------------- skills


@dataclass(frozen=True)
class Skills:
    """What each member has practised, from the sessions they came to.

    ``frame``: one row per member: ``member``, ``labs`` and ``drills`` (subjects, sorted), ``drill_modes``
    ("announced", "secret": how the drills they came to ran, from the drill results), ``ceremonies``,
    ``labs_done`` and ``labs_missing`` (of ``labs``, when the caller gave the labs there are; else empty).
    ``matrix``: members by subject (``lab:00-mob-and-sandbox``, ``drill:payments-down``), sessions attended.
    """

    frame: Any
    matrix: Any


def drill_key(results: str | None, run: str) -> str:
    """How the figures below tell drills apart: the ``run`` id for a drill of the sandbox's own results file,
    ``<results>#<run>`` for one in another file (``Session.drill_results``: a Chaos Day mob's sandbox, whose run
    ids can repeat another mob's). A row of ``drills`` names its file under ``results`` (absent: the own)."""
    return f"{results}#{run}" if results else run


def _row_key(row: Mapping[str, Any]) -> str:
    return drill_key(row.get("results"), str(row.get("run")))


def _session_key(session: Session) -> str:
    return drill_key(session.drill_results, session.drill_run or "")


SKILL_COLUMNS = ("member", "labs", "drills", "drill_modes", "ceremonies", "labs_done", "labs_missing")


def skills(records: Records, drills: Iterable[Mapping[str, Any]] = (), labs: Iterable[str] | None = None) -> Skills:
    """Labs, drill scenarios and drill modes each member has done (see ``Skills``); members who left are kept."""
    import pandas as pd

    modes = {_row_key(row): "secret" if row.get("secret") else "announced" for row in drills}
    catalogue = sorted(labs) if labs is not None else []
    counts: dict[str, Counter] = {m.handle: Counter() for m in records.members}
    mode_of: dict[str, set[str]] = defaultdict(set)
    for session in records.sessions:
        for handle in session.attendees:
            counts[handle][f"{session.kind}:{session.subject}"] += 1
            if session.drill_run is not None and _session_key(session) in modes:
                mode_of[handle].add(modes[_session_key(session)])
    rows = []
    for handle, done in counts.items():
        of = {kind: tuple(sorted(k.split(":", 1)[1] for k in done if k.startswith(f"{kind}:")))
              for kind in ("lab", "drill", "ceremony")}
        rows.append((handle, of["lab"], of["drill"], tuple(sorted(mode_of[handle])), of["ceremony"],
                     len(set(of["lab"]) & set(catalogue)) if catalogue else len(of["lab"]),
                     tuple(lab for lab in catalogue if lab not in of["lab"])))
    subjects = sorted({k for done in counts.values() for k in done if not k.startswith("ceremony:")})
    matrix = pd.DataFrame([[counts[h][s] for s in subjects] for h in counts], index=list(counts),
                          columns=subjects, dtype=int)
    matrix.index.name = "member"
    return Skills(_frame(rows, SKILL_COLUMNS), matrix)


# ---------------------------------------------------------------- per team: drills, postmortems, pulse


@dataclass(frozen=True)
class TeamPractice:
    """One team's blameless practice beside its pulse.

    ``drills`` sessions of kind drill it held, ``kept`` those whose ``drill_run`` is in the drill results,
    ``resolved`` of those, median ``ttd_s``/``tta_s``/``ttr_s`` (seconds, NaN when none), ``hints_per_drill``,
    ``postmortems_complete`` (every required section written) and ``postmortems_open`` (a draft with sections
    still to write, or missing), and ``pulse``: the team's latest round (reported or not), None without one.
    """

    team: str
    name: str
    drills: int
    kept: int
    resolved: int
    ttd_s: float
    tta_s: float
    ttr_s: float
    hints_per_drill: float
    postmortems_complete: int
    postmortems_open: int
    pulse: TeamPulse | None


def team_practice(records: Records, drills: Iterable[Mapping[str, Any]] = (),
                  postmortems: Mapping[str, Sequence[str] | None] | None = None,
                  pulse: Iterable[PulseRound] = (), floor: int = DEFAULT_FLOOR) -> tuple[TeamPractice, ...]:
    """Per team, its drills (sessions whose ``drill_run`` is a row of ``drills``), their postmortems
    (``postmortems``: ``drill_key`` -> the required sections still missing, () when complete, None when there is
    no postmortem file) and its team pulse (``pulse``'s rounds, reported only at ``floor`` answers or more)."""
    results = {_row_key(row): row for row in drills}
    written = postmortems or {}
    pulses = report(pulse, floor)
    teams = []
    for team in records.teams:
        held = [s for s in records.sessions if s.team == team.id and s.kind == "drill"]
        runs = [_session_key(s) for s in held if _session_key(s) in results]
        kept = [results[run] for run in runs]
        complete = sum(1 for run in runs if written.get(run) is not None and not written[run])
        teams.append(TeamPractice(team.id, team.name, len(held), len(kept),
                                  sum(1 for r in kept if r.get("outcome") == "resolved"),
                                  _median(r.get("ttd_s") for r in kept), _median(r.get("tta_s") for r in kept),
                                  _median(r.get("ttr_s") for r in kept),
                                  statistics.fmean(float(r.get("hints_used") or 0) for r in kept) if kept
                                  else float("nan"), complete, len(runs) - complete, latest(pulses, team.id)))
    return tuple(teams)
