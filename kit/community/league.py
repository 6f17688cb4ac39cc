"""The Reliability League: teams (mobs) scored over a season from the results the kit and the community keep.

Seed 000's community kept people coming with a game, the "Reliability League"; this module is its scoring. It is
pure: ``score`` takes the season's rules (``Rules``, read from ``community/league.yaml`` by
kit.community.leaguesources) and its results (``Results``: the community's records, gradebook rows, drill
results, alert reviews, releases and readiness reviews, each already read and tied to the file it came from) and
returns a ``League``. Nothing here reads a file, so the tests feed it hand-computed seasons.

What earns points (each rule's points are the ``points`` of league.yaml, keyed as in ``POINTS``; a result counts
when its date lies in the season, ends included):

- **labs**: every gradebook row of a team's, ``lab-point`` per autograded point, plus ``lab-full-marks`` for full
  marks with no note. A row's student is a team's id (the mob handed in one notebook) or a member's handle (each of
  that member's teams earns it).
- **drills**: every drill session of a team's whose ``drill_run`` is in the drill results (the sandbox's, or the
  file its ``drill_results`` names, as a Chaos Day mob's session does): ``drill-resolved`` or
  ``drill-abandoned``; ``drill-faster`` for each of TTD, TTA and TTR of a resolved drill below the median of the
  same time over the team's own earlier resolved drills (any scenario, before the season too: improvement is
  against the team itself, never against other teams); ``drill-hint`` per hint used (a negative number costs).
- **alerts**: in each saved alert review ("What's alarming you", `kit ceremony alarming --json`), an alert whose
  receiving team ``alert_teams`` gives to a league team earns that team ``alert-kept`` when it paged and needs no
  action, and ``alert-fixed`` when the team's previous review asked for an action on it and this one does not.
- **releases**: a version deployed by a member (the deploy log's ``actor``, a member's handle or catalog user)
  earns their teams ``release-promoted`` once it serves all traffic with no rollback and no later deploy fixing
  it, or ``change-failure`` (usually negative) when it was rolled back or fixed; ``readiness-review`` when the
  release's readiness review leaves nothing open for its class.
- **experiments**: ``experiment-completed`` for a Kaizen experiment judged (ended) in the season, and
  ``experiment-adopted`` on top when it was adopted; to its team, else to its owners' teams.
- **shares**: ``share-talk``, ``share-write-up``, ``share-runbook`` or ``share-demo``, to each team of its authors
  (once per team however many of its members wrote it).
- **pairing**: ``pairing`` once per team session in which a newcomer and an experienced member (Member.experience)
  held roles in the same rotation, or came together when the session recorded no rotation.

Every ``Award`` names the record that earned it: its file relative to the repository and the entry in that file
(a session's drill run, a gradebook row's student, a review's alert, the deploy log's version, a record's id).
A result that earns no team anything because it cannot be tied to one (a student who is no member, an actor
who is no member, a review team with no league team) is listed in ``League.unscored``, never dropped silently.

**Team size.** A mob's ``raw`` points are the sum of its awards; its ``points`` are ``raw * factor``, with the
factor from the rules' ``normalise`` method and the team's size (its members who were members at some time in
the season, at least 1):

- ``sqrt`` (the shipped choice): ``factor = sqrt(reference_size / size)``. Some results grow with headcount
  (shares, experiments, gradebook rows handed in one per person), others are earned by the mob as one (a drill,
  a release, a review). Dividing by size (``per-member``) would make a large mob's drill worth less than a small
  one's; not dividing (``none``) lets the biggest mob win on headcount. The square root sits between: a mob four
  times as large needs twice the raw points to tie. A team of ``reference_size`` keeps its raw points, so points
  stay in the units the rules file states.
- ``per-member``: ``factor = reference_size / size``; ``none``: ``factor = 1``.

**Ties.** Teams are ranked by points rounded to two decimals, highest first. Teams with equal rounded points
share a rank and the next rank is skipped (1, 1, 3: standard competition ranking), and are listed by team id.
A league is a game between colleagues: a tiebreak on some other figure would pretend one team did better.

**Badges** carry no points (so no point is counted twice): a team earns a badge when it has at least the number
of awards its ``requires`` names for each kind; the badge lists the awards that earned it.
"""

from __future__ import annotations

import html as _html
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..errors import InvalidInput
from .records import Records, Session

__all__ = ["COLUMNS", "FAMILIES", "NORMALISE", "POINTS", "TREND_COLUMNS", "AlertReviewFile", "Award", "Badge",
           "BadgeEarned", "DrillRow", "GradeRow", "League", "ReadinessResult", "Release", "Results", "ReviewedAlert",
           "Rules", "Sources", "Standing", "Unscored", "anchor", "factor", "score"]

POINTS: dict[str, str] = {
    "lab-point": "per autograded point of a gradebook row",
    "lab-full-marks": "a gradebook row with full marks and no note",
    "drill-resolved": "a team drill resolved (its steady state held again)",
    "drill-abandoned": "a team drill abandoned (still practice)",
    "drill-faster": "per response time (TTD, TTA, TTR) below the median of the team's earlier resolved drills",
    "drill-hint": "per hint used in a drill (a negative number costs)",
    "alert-kept": "an alert of the team's that paged in a review and needs no action",
    "alert-fixed": "an alert that needed an action in the team's previous review and needs none now",
    "release-promoted": "a release that reached all traffic with no rollback and no fix after it",
    "change-failure": "a release rolled back or fixed by a later deploy (a negative number costs)",
    "readiness-review": "a release whose readiness review leaves nothing open for its class",
    "experiment-completed": "a Kaizen experiment judged (ended) in the season",
    "experiment-adopted": "on top, when the experiment was adopted",
    "share-talk": "a talk", "share-write-up": "a write-up", "share-runbook": "a runbook contributed",
    "share-demo": "a demo",
    "pairing": "a team session where a newcomer and an experienced member worked in the same rotation",
}
"""Every kind of award, as league.yaml's ``points`` keys them, with what earns it; each is required there."""

FAMILIES: dict[str, tuple[str, ...]] = {
    "labs": ("lab-point", "lab-full-marks"),
    "drills": ("drill-resolved", "drill-abandoned", "drill-faster", "drill-hint"),
    "alerts": ("alert-kept", "alert-fixed"),
    "releases": ("release-promoted", "change-failure", "readiness-review"),
    "experiments": ("experiment-completed", "experiment-adopted"),
    "shares": ("share-talk", "share-write-up", "share-runbook", "share-demo"),
    "pairing": ("pairing",),
}
"""The award kinds grouped as the league table's columns show them."""

NORMALISE = ("sqrt", "per-member", "none")
"""The team-size normalisations (see the module's docstring)."""

_TIMES = (("ttd_s", "TTD"), ("tta_s", "TTA"), ("ttr_s", "TTR"))


# ---------------------------------------------------------------- the rules


@dataclass(frozen=True)
class Badge:
    """A badge: ``id`` (an id, as records are named), ``name``, ``description`` and ``requires``: award kind ->
    the least number of such awards in the season."""

    id: str
    name: str
    description: str
    requires: Mapping[str, int]


@dataclass(frozen=True)
class Sources:
    """Where the season's results are, as league.yaml's ``sources`` names them (paths relative to the repository;
    None: not kept, or for the drill results and the deploy log, the sandbox's own files).

    ``gradebooks``: (file, lab, day graded) per gradebook CSV `kit grade` wrote; ``alert_reviews``: a folder of
    saved `kit ceremony alarming --json` outputs; ``alert_teams``: a review's team (the Alertmanager receiver) ->
    the league team that answers for its alerts; ``readiness``: the folder of readiness reviews.
    """

    gradebooks: tuple[tuple[str, str, date], ...] = ()
    alert_reviews: str | None = None
    alert_teams: Mapping[str, str] = field(default_factory=dict)
    readiness: str | None = None
    drill_results: str | None = None
    deploy_log: str | None = None


@dataclass(frozen=True)
class Rules:
    """A season's rules: its ``name``, ``start`` and ``end`` (inclusive), ``points`` per award kind (every key of
    ``POINTS``), ``badges``, the team-size ``normalise`` method (one of ``NORMALISE``) and ``reference_size``
    (members), its ``sources``, and the file it was read from (``source``)."""

    name: str
    start: date
    end: date
    points: Mapping[str, float]
    badges: tuple[Badge, ...]
    normalise: str
    reference_size: int
    sources: Sources = Sources()
    source: str = ""

    def __post_init__(self) -> None:
        missing = [kind for kind in POINTS if kind not in self.points]
        if missing:
            raise InvalidInput(f"points.{missing[0]}", f"is missing; every kind needs its points ({POINTS[missing[0]]})",
                               source=self.source)
        if self.normalise not in NORMALISE:
            raise InvalidInput("normalise.method", f"{self.normalise!r} is not one of {', '.join(NORMALISE)}",
                               source=self.source)

    def in_season(self, day: date) -> bool:
        return self.start <= day <= self.end


# ---------------------------------------------------------------- the results, as read


@dataclass(frozen=True)
class GradeRow:
    """One row of a gradebook CSV: the ``lab``, the ``student`` (a team id or a member handle), its autograded
    ``total`` of ``max_total`` points, the ``note`` column, the ``day`` graded, and ``source`` (the CSV)."""

    lab: str
    student: str
    total: float
    max_total: float
    note: str
    day: date
    source: str


@dataclass(frozen=True)
class DrillRow:
    """One finished drill of the drill results: its ``run``, ``scenario``, ``outcome`` (resolved or abandoned),
    response times in seconds (None when not reached), ``hints_used`` and ``where`` (``file:line``)."""

    run: str
    scenario: str
    outcome: str
    ttd_s: float | None
    tta_s: float | None
    ttr_s: float | None
    hints_used: int
    where: str


@dataclass(frozen=True)
class ReviewedAlert:
    """One alert of a saved alert review: its name, its ``team`` (the receiver; "" for none), its ``pages`` and
    the suggested ``action`` (``keep`` when it needs none)."""

    alertname: str
    team: str
    pages: int
    action: str


@dataclass(frozen=True)
class AlertReviewFile:
    """A saved alert review: its file (``source``), the ``day`` its window ended, and its alerts."""

    source: str
    day: date
    alerts: tuple[ReviewedAlert, ...]


@dataclass(frozen=True)
class Release:
    """A version in the deploy log: who deployed it (``actor``) and when (``deployed``), whether it reached all
    traffic (``promoted``) and whether it failed (rolled back, or fixed by a later deploy); ``day`` is when that
    was decided (the failure, else the full promotion; None while neither happened); ``source`` is the log."""

    version: str
    actor: str
    deployed: date
    promoted: bool
    failed: bool
    day: date | None
    source: str


@dataclass(frozen=True)
class ReadinessResult:
    """A readiness review: its file (``source``), the ``release`` it is for, and ``open``: what its class needs
    and it leaves open (0: nothing)."""

    source: str
    service: str
    release: str
    open: int


@dataclass(frozen=True)
class Results:
    """Everything a season is scored from. ``drills``: run id -> its row, of the sandbox's own drill results;
    ``drill_files``: the results of sessions that name their file (Session.drill_results): that name -> run id ->
    its row, kept apart because run ids are unique within one file only; ``excerpts``: (source, entry) -> the
    record's text as the league page shows it (optional: a record without one shows its file and entry only)."""

    records: Records
    grades: tuple[GradeRow, ...] = ()
    drills: Mapping[str, DrillRow] = field(default_factory=dict)
    reviews: tuple[AlertReviewFile, ...] = ()
    releases: tuple[Release, ...] = ()
    readiness: tuple[ReadinessResult, ...] = ()
    excerpts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    drill_files: Mapping[str, Mapping[str, DrillRow]] = field(default_factory=dict)

    def drill(self, session: Session) -> DrillRow | None:
        """The row of ``session``'s drill run in the results file it names (the sandbox's when it names none);
        None when the run is not there. InvalidInput naming the session's file and ``drill_results`` when that
        file's results were not read (not in ``drill_files``)."""
        if not session.drill_results:
            return self.drills.get(session.drill_run or "")
        if session.drill_results not in self.drill_files:
            raise InvalidInput("drill_results", f"{session.drill_results}: these drill results were not read",
                               source=session.source)
        return self.drill_files[session.drill_results].get(session.drill_run or "")


# ---------------------------------------------------------------- the league


@dataclass(frozen=True)
class Award:
    """Points one record earned one team: ``kind`` (a key of ``POINTS``), ``points`` (raw, before the team-size
    factor), the ``day`` it counts on, the record (``source``, its file relative to the repository, and ``entry``,
    the entry in it) and ``why`` (one line)."""

    team: str
    kind: str
    points: float
    day: date
    source: str
    entry: str
    why: str


@dataclass(frozen=True)
class BadgeEarned:
    """A badge a team earned and the awards that earned it (the first ones of each required kind)."""

    badge: Badge
    evidence: tuple[Award, ...]


@dataclass(frozen=True)
class Standing:
    """One team's place: ``rank`` (shared on a tie), ``team`` id and ``name``, ``size`` (members in the season),
    ``raw`` (sum of its awards), ``factor`` (team-size normalisation) and ``points`` (raw * factor)."""

    rank: int
    team: str
    name: str
    size: int
    raw: float
    factor: float
    points: float
    awards: tuple[Award, ...]
    badges: tuple[BadgeEarned, ...]

    def family(self, name: str) -> float:
        """Raw points of one of ``FAMILIES``."""
        return sum(a.points for a in self.awards if a.kind in FAMILIES[name])


@dataclass(frozen=True)
class Unscored:
    """A result no team earned anything for, and why (``reason``)."""

    source: str
    entry: str
    reason: str


COLUMNS = ["rank", "team", "name", "members", "points", "raw", "factor", *FAMILIES, "badges"]
"""``League.frame``'s columns, one row per team in rank order: ``rank`` (shared on a tie), ``team`` (id),
``name``, ``members`` (team size in the season), ``points`` (normalised), ``raw`` (sum of awards), ``factor``
(points / raw), one column of raw points per family of ``FAMILIES`` (labs, drills, alerts, releases, experiments,
shares, pairing), and ``badges`` (the names earned, joined with ", ")."""

TREND_COLUMNS = ["date", "team", "points"]
"""``League.trend``'s columns: each team's cumulative normalised points on each day a session was held or an
award counts in the season (``date`` a datetime64 day)."""


@dataclass(frozen=True)
class League:
    """A scored season: ``rules``, ``standings`` in rank order, every ``award`` (by day), what stayed
    ``unscored``, the days sessions were held in the season (``session_days``) and the record ``excerpts``."""

    rules: Rules
    standings: tuple[Standing, ...]
    awards: tuple[Award, ...]
    unscored: tuple[Unscored, ...]
    session_days: tuple[date, ...]
    excerpts: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def standing(self, team: str) -> Standing:
        """The standing of ``team``; KeyError naming the teams when there is none."""
        for s in self.standings:
            if s.team == team:
                return s
        raise KeyError(f"no team {team!r}; teams: {', '.join(s.team for s in self.standings)}")

    def frame(self):
        """The league table as a DataFrame with ``COLUMNS``."""
        import pandas as pd

        return pd.DataFrame([(s.rank, s.team, s.name, s.size, round(s.points, 2), s.raw, round(s.factor, 4),
                              *(s.family(f) for f in FAMILIES), ", ".join(b.badge.name for b in s.badges))
                             for s in self.standings], columns=COLUMNS)

    def _repr_html_(self) -> str:
        return self.frame().to_html(index=False)

    def trend(self):
        """Cumulative normalised points per team over the season, as a DataFrame with ``TREND_COLUMNS``."""
        import pandas as pd

        days = sorted(set(self.session_days) | {a.day for a in self.awards})
        rows = []
        for s in self.standings:
            running, mine = 0.0, sorted(s.awards, key=lambda a: a.day)
            i = 0
            for day in days:
                while i < len(mine) and mine[i].day <= day:
                    running += mine[i].points
                    i += 1
                rows.append((pd.Timestamp(day), s.team, running * s.factor))
        return pd.DataFrame(rows, columns=TREND_COLUMNS)

    def plot(self, ax: Any = None) -> Any:
        """Each team's points over the season, a step line per team (points count on their day), a dot on each
        session day; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(9, 3.5))
        trend = self.trend()
        if trend.empty:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        held = {str(d) for d in self.session_days}
        for s in self.standings:
            mine = trend[trend["team"] == s.team]
            line, = ax.plot(mine["date"], mine["points"], drawstyle="steps-post", label=f"{s.rank}. {s.name}")
            dots = mine[mine["date"].dt.date.astype(str).isin(held)]
            ax.plot(dots["date"], dots["points"], "o", markersize=3, color=line.get_color())
        if self.standings:
            ax.legend(loc="upper left", fontsize="small")
        ax.set_title(f"Reliability League {self.rules.name}: points over the season")
        ax.set_ylabel("points (normalised)")
        ax.grid(True, alpha=0.3)
        ax.figure.autofmt_xdate()
        return ax

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: the season and every team with its points, badges and awards (each with its record)."""
        return {
            "season": {"name": self.rules.name, "start": str(self.rules.start), "end": str(self.rules.end),
                       "normalise": self.rules.normalise, "reference_size": self.rules.reference_size,
                       "rules": self.rules.source},
            "standings": [{
                "rank": s.rank, "team": s.team, "name": s.name, "members": s.size, "points": round(s.points, 4),
                "raw": s.raw, "factor": s.factor, "badges": [b.badge.id for b in s.badges],
                "awards": [{"kind": a.kind, "points": a.points, "date": str(a.day), "source": a.source,
                            "entry": a.entry, "why": a.why} for a in s.awards],
            } for s in self.standings],
            "unscored": [{"source": u.source, "entry": u.entry, "reason": u.reason} for u in self.unscored],
        }

    def __str__(self) -> str:
        return self.table()

    def table(self) -> str:
        """The league table as the terminal shows it."""
        header = ("rank", "team", "members", "points", "raw", *FAMILIES, "badges")
        rows = [(s.rank, s.name, s.size, f"{s.points:.2f}", _num(s.raw), *(_num(s.family(f)) for f in FAMILIES),
                 ", ".join(b.badge.name for b in s.badges) or "-") for s in self.standings]
        cells = [tuple(str(c) for c in row) for row in [header, *rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
        head = (f"Reliability League {self.rules.name} ({self.rules.start} to {self.rules.end}): "
                f"{len(self.awards)} awards; points = raw x {_factor_text(self.rules)}")
        tail = [f"{len(self.unscored)} results scored for no team (see --json or the page)"] if self.unscored else []
        return "\n".join([head, *lines, *tail])

    def html(self, file_base: str | None = None) -> str:
        """The static league page: the table, each team's awards, and a section per record.

        Every point links to its record's section on the page (``#rec-...``), which shows the record's file and
        entry, its text where known, and every award it earned; ``file_base`` (a URL ending in ``/``, e.g. the
        repository's ``file://`` URI) also links the section to the file itself.
        """
        return _page(self, file_base)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _factor_text(rules: Rules) -> str:
    return {"sqrt": f"sqrt({rules.reference_size} / members)", "per-member": f"{rules.reference_size} / members",
            "none": "1"}[rules.normalise]


def factor(rules: Rules, size: int) -> float:
    """The team-size factor of a team of ``size`` members under ``rules`` (see the module's docstring)."""
    size = max(size, 1)
    if rules.normalise == "sqrt":
        return math.sqrt(rules.reference_size / size)
    if rules.normalise == "per-member":
        return rules.reference_size / size
    return 1.0


# ---------------------------------------------------------------- scoring


class _Ledger:
    """The awards being made, and what could not be given to a team."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.awards: list[Award] = []
        self.unscored: list[Unscored] = []

    def give(self, teams: Sequence[str], kind: str, times: float, day: date, source: str, entry: str,
             why: str) -> None:
        points = self.rules.points[kind] * times
        if points == 0:
            return
        for team in dict.fromkeys(teams):
            self.awards.append(Award(team, kind, points, day, source, entry, why))

    def skip(self, source: str, entry: str, reason: str) -> None:
        self.unscored.append(Unscored(source, entry, reason))


def score(rules: Rules, results: Results) -> League:
    """The season's league: every award, each team's raw and normalised points, rank and badges.

    Pure. ``rules`` as kit.community.leaguesources.load_rules reads them; ``results`` the season's records and
    results. Raises InvalidInput (naming the rules file and ``sources.alert_teams``) when the rules give alerts to a
    team the records do not have.
    """
    records = results.records
    teams = {t.id: t for t in records.teams}
    for receiver, team in rules.sources.alert_teams.items():
        if team not in teams:
            raise InvalidInput(f"sources.alert_teams.{receiver}", f"{team!r} is not a team (no "
                               f"{records.folder.name}/teams/{team}.yaml)", source=rules.source)
    member_teams: dict[str, list[str]] = defaultdict(list)
    for team in records.teams:
        for handle in team.members:
            member_teams[handle].append(team.id)
    by_catalog = {m.catalog: m.handle for m in records.members if m.catalog}
    ledger = _Ledger(rules)
    _labs(ledger, results, teams, member_teams)
    _drills(ledger, results)
    _alerts(ledger, results)
    _releases(ledger, results, member_teams, by_catalog)
    _experiments(ledger, records, member_teams)
    _shares(ledger, records, member_teams)
    _pairing(ledger, records)
    awards = sorted(ledger.awards, key=lambda a: (a.day, a.team, a.source, a.entry, a.kind))
    standings = _rank(rules, records, awards)
    days = tuple(sorted({s.date for s in records.sessions if rules.in_season(s.date)}))
    return League(rules, standings, tuple(awards), tuple(ledger.unscored), days, dict(results.excerpts))


def _labs(ledger: _Ledger, results: Results, teams: Mapping[str, Any], member_teams: Mapping[str, list[str]]
          ) -> None:
    for row in results.grades:
        if not ledger.rules.in_season(row.day):
            continue
        owners = [row.student] if row.student in teams else member_teams.get(row.student, [])
        if not owners:
            ledger.skip(row.source, row.student, "the student is neither a team nor a member of one")
            continue
        ledger.give(owners, "lab-point", row.total, row.day, row.source, row.student,
                    f"{row.lab}: {_num(row.total)} of {_num(row.max_total)} points")
        if row.max_total > 0 and row.total >= row.max_total and not row.note:
            ledger.give(owners, "lab-full-marks", 1, row.day, row.source, row.student, f"{row.lab}: full marks")


def _drills(ledger: _Ledger, results: Results) -> None:
    earlier: dict[str, list[DrillRow]] = defaultdict(list)
    for session in sorted(results.records.sessions, key=lambda s: (s.date, s.id)):
        if session.kind != "drill" or session.team is None or session.drill_run is None:
            continue
        row = results.drill(session)
        if row is None:
            if ledger.rules.in_season(session.date):
                ledger.skip(session.source, session.drill_run, "the drill run is not in the drill results")
            continue
        before = earlier[session.team]
        if ledger.rules.in_season(session.date):
            _drill(ledger, session, row, before)
        if row.outcome == "resolved":
            before.append(row)


def _drill(ledger: _Ledger, session: Session, row: DrillRow, before: Sequence[DrillRow]) -> None:
    team, day, source, run = [session.team or ""], session.date, session.source, row.run
    if row.outcome == "resolved":
        ledger.give(team, "drill-resolved", 1, day, source, run, f"{row.scenario}: resolved")
        for name, label in _TIMES:
            now = getattr(row, name)
            past = [getattr(r, name) for r in before if getattr(r, name) is not None]
            if now is not None and past and now < statistics.median(past):
                ledger.give(team, "drill-faster", 1, day, source, run,
                            f"{row.scenario}: {label} {_num(now)} s, below the median of the team's "
                            f"{len(past)} earlier drills ({_num(statistics.median(past))} s)")
    else:
        ledger.give(team, "drill-abandoned", 1, day, source, run, f"{row.scenario}: {row.outcome}")
    if row.hints_used:
        ledger.give(team, "drill-hint", row.hints_used, day, source, run,
                    f"{row.scenario}: {row.hints_used} hint{'' if row.hints_used == 1 else 's'} used")


def _alerts(ledger: _Ledger, results: Results) -> None:
    owners = ledger.rules.sources.alert_teams
    needed: dict[tuple[str, str], bool] = {}  # (team, alert) -> did the team's last review ask for an action
    for review in sorted(results.reviews, key=lambda r: (r.day, r.source)):
        seen: dict[tuple[str, str], bool] = {}
        for alert in review.alerts:
            team = owners.get(alert.team)
            if team is None:
                if alert.pages and ledger.rules.in_season(review.day):
                    ledger.skip(review.source, alert.alertname, f"its team {alert.team or '(none)'!r} is given to "
                                                                "no league team (sources.alert_teams)")
                continue
            acted = alert.action != "keep"
            if ledger.rules.in_season(review.day) and not acted:
                if alert.pages:
                    ledger.give([team], "alert-kept", 1, review.day, review.source, alert.alertname,
                                f"{alert.alertname}: {alert.pages} page{'' if alert.pages == 1 else 's'}, "
                                "no action needed")
                if needed.get((team, alert.alertname)):
                    ledger.give([team], "alert-fixed", 1, review.day, review.source, alert.alertname,
                                f"{alert.alertname}: needed an action in the previous review, none now")
            seen[(team, alert.alertname)] = acted
        for team in {t for t, _ in seen}:
            for key in [k for k in needed if k[0] == team]:
                needed.pop(key)
        needed.update(seen)


def _member_of(actor: str, member_teams: Mapping[str, list[str]], by_catalog: Mapping[str, str]) -> list[str]:
    return member_teams.get(actor) or member_teams.get(by_catalog.get(actor, ""), [])


def _releases(ledger: _Ledger, results: Results, member_teams: Mapping[str, list[str]],
              by_catalog: Mapping[str, str]) -> None:
    deployed: dict[str, tuple[list[str], Release]] = {}
    for release in results.releases:
        owners = _member_of(release.actor, member_teams, by_catalog)
        deployed[release.version] = (owners, release)
        if release.day is None or not ledger.rules.in_season(release.day):
            continue
        if not owners:
            ledger.skip(release.source, release.version, f"deployed by {release.actor!r}, who is no member of a team")
        elif release.failed:
            ledger.give(owners, "change-failure", 1, release.day, release.source, release.version,
                        f"{release.version}: rolled back or fixed by a later deploy")
        elif release.promoted:
            ledger.give(owners, "release-promoted", 1, release.day, release.source, release.version,
                        f"{release.version}: serves all traffic, no rollback")
    for review in results.readiness:
        found = deployed.get(review.release)
        if found is None or not found[0]:
            if review.open == 0:
                ledger.skip(review.source, review.release, "no member of a team deployed this release")
            continue
        owners, release = found
        if review.open == 0 and ledger.rules.in_season(release.deployed):
            ledger.give(owners, "readiness-review", 1, release.deployed, review.source, review.release,
                        f"{review.service} {review.release}: nothing open for its class")


def _experiments(ledger: _Ledger, records: Records, member_teams: Mapping[str, list[str]]) -> None:
    for e in records.experiments:
        if e.ended is None or not ledger.rules.in_season(e.ended):
            continue
        owners = [e.team] if e.team else [t for handle in e.owners for t in member_teams.get(handle, [])]
        if not owners:
            ledger.skip(e.source, e.id, "no team, and none of its owners is in a team")
            continue
        ledger.give(owners, "experiment-completed", 1, e.ended, e.source, e.id, f"{e.title}: {e.outcome}")
        if e.outcome == "adopted":
            ledger.give(owners, "experiment-adopted", 1, e.ended, e.source, e.id, f"{e.title}: adopted")


def _shares(ledger: _Ledger, records: Records, member_teams: Mapping[str, list[str]]) -> None:
    for share in records.shares:
        if not ledger.rules.in_season(share.date):
            continue
        owners = [t for handle in share.by for t in member_teams.get(handle, [])]
        if not owners:
            ledger.skip(share.source, share.id, "none of its authors is in a team")
            continue
        ledger.give(owners, f"share-{share.kind}", 1, share.date, share.source, share.id,
                    f"{share.kind}: {share.title}")


def _pairing(ledger: _Ledger, records: Records) -> None:
    experience = {m.handle: m.experience for m in records.members}
    for session in records.sessions:
        if session.team is None or not ledger.rules.in_season(session.date):
            continue
        groups = [r.holders() for r in session.rotations] or [set(session.attendees)]
        for i, group in enumerate(groups):
            new = sorted(h for h in group if experience[h] == "newcomer")
            old = sorted(h for h in group if experience[h] == "experienced")
            if new and old:
                where = f"rotation {i + 1}" if session.rotations else "the session"
                ledger.give([session.team], "pairing", 1, session.date, session.source, session.id,
                            f"{where}: newcomer {', '.join(new)} with {', '.join(old)}")
                break


def _rank(rules: Rules, records: Records, awards: Sequence[Award]) -> tuple[Standing, ...]:
    mine: dict[str, list[Award]] = defaultdict(list)
    for award in awards:
        mine[award.team].append(award)
    present = {m.handle for m in records.members
               if m.joined <= rules.end and (m.left is None or m.left > rules.start)}
    unranked = []
    for team in records.teams:
        size = max(1, sum(1 for h in team.members if h in present))
        raw = sum(a.points for a in mine[team.id])
        f = factor(rules, size)
        badges = tuple(b for b in (_badge(badge, mine[team.id]) for badge in rules.badges) if b is not None)
        unranked.append((team, size, raw, f, raw * f, tuple(mine[team.id]), badges))
    unranked.sort(key=lambda t: (-round(t[4], 2), t[0].id))
    standings, rank = [], 0
    for i, (team, size, raw, f, points, won, badges) in enumerate(unranked):
        if i == 0 or round(points, 2) != round(unranked[i - 1][4], 2):
            rank = i + 1
        standings.append(Standing(rank, team.id, team.name, size, raw, f, points, won, badges))
    return tuple(standings)


def _badge(badge: Badge, awards: Sequence[Award]) -> BadgeEarned | None:
    evidence: list[Award] = []
    for kind, least in badge.requires.items():
        found = [a for a in awards if a.kind == kind]
        if len(found) < least:
            return None
        evidence += found[:least]
    return BadgeEarned(badge, tuple(evidence))


# ---------------------------------------------------------------- the page


def anchor(source: str, entry: str) -> str:
    """The id of a record's section on the league page: its file and entry, in the characters an id keeps."""
    return "rec-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{source}--{entry}").strip("-")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
a.point { font-weight: 600; text-decoration: none; }
section.record { border-left: 3px solid #bbb; margin: 1em 0; padding: 0.2em 1em; }
section.record:target { border-left-color: #c60; background: #fff6ec; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.badge { display: inline-block; border: 1px solid #c60; border-radius: 1em; padding: 0 0.6em; margin: 0 0.2em; }
"""


def _page(league: League, file_base: str | None) -> str:
    e = _html.escape
    rules = league.rules
    ids: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for award in league.awards:
        key = (award.source, award.entry)
        if key not in ids:
            ident, n = anchor(*key), 2
            while ident in taken:
                ident, n = f"{anchor(*key)}-{n}", n + 1
            ids[key] = ident
            taken.add(ident)
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Reliability League "
           f"{e(rules.name)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>Reliability League {e(rules.name)}</h1>",
           f"<p>{rules.start} to {rules.end}. Points are raw points x {e(_factor_text(rules))} (team size "
           f"normalised, {e(rules.normalise)}); equal points share a rank. Rules: <code>{e(rules.source)}</code>. "
           "Every point links to the record that earned it.</p>",
           "<table id='standings'><thead><tr><th class='n'>rank</th><th>team</th><th class='n'>members</th>"
           "<th class='n'>points</th><th class='n'>raw</th>"
           + "".join(f"<th class='n'>{f}</th>" for f in FAMILIES) + "<th>badges</th></tr></thead><tbody>"]
    for s in league.standings:
        badges = "".join(f"<span class='badge' title='{e(b.badge.description)}'>{e(b.badge.name)}</span>"
                         for b in s.badges)
        out.append(f"<tr><td class='n'>{s.rank}</td><td><a href='#team-{e(s.team)}'>{e(s.name)}</a></td>"
                   f"<td class='n'>{s.size}</td><td class='n'>{s.points:.2f}</td><td class='n'>{_num(s.raw)}</td>"
                   + "".join(f"<td class='n'>{_num(s.family(f))}</td>" for f in FAMILIES)
                   + f"<td>{badges}</td></tr>")
    out.append("</tbody></table>")
    for s in league.standings:
        out.append(f"<section class='team' id='team-{e(s.team)}'><h2>{s.rank}. {e(s.name)}: {s.points:.2f} "
                   f"points</h2><p>{_num(s.raw)} raw points x {s.factor:.4f} ({s.size} members).</p>")
        for b in s.badges:
            links = ", ".join(f"<a href='#{ids[(a.source, a.entry)]}'>{e(a.entry)}</a>" for a in b.evidence)
            out.append(f"<p><span class='badge'>{e(b.badge.name)}</span> {e(b.badge.description)}: {links}</p>")
        out.append("<table class='awards'><thead><tr><th>date</th><th>kind</th><th class='n'>points</th><th>why</th>"
                   "<th>record</th></tr></thead><tbody>")
        for a in s.awards:
            ident = ids[(a.source, a.entry)]
            out.append(f"<tr><td>{a.day}</td><td>{e(a.kind)}</td><td class='n'><a class='point' href='#{ident}' "
                       f"data-points='{a.points!r}'>{'+' if a.points > 0 else ''}{_num(a.points)}</a></td>"
                       f"<td>{e(a.why)}</td><td><code>{e(a.source)}</code> {e(a.entry)}</td></tr>")
        out.append("</tbody></table></section>")
    out.append("<h2>Records</h2>")
    by_record: dict[tuple[str, str], list[Award]] = defaultdict(list)
    for a in league.awards:
        by_record[(a.source, a.entry)].append(a)
    for key, ident in ids.items():
        source, entry = key
        link = (f" (<a href='{e(file_base + source)}'>open the file</a>)"
                if file_base and "://" not in source and not source.startswith("/") else "")
        text = league.excerpts.get(key)
        earned = "".join(f"<li>{e(a.team)}: {e(a.kind)} {_num(a.points)} ({e(a.why)})</li>" for a in by_record[key])
        out.append(f"<section class='record' id='{ident}' data-source='{e(source)}' data-entry='{e(entry)}'>"
                   f"<h3><code>{e(source)}</code>: {e(entry)}</h3><p>The file, relative to the repository{link}.</p>"
                   + (f"<pre>{e(text)}</pre>" if text else "") + f"<ul>{earned}</ul></section>")
    if league.unscored:
        out.append("<h2>Scored for no team</h2><ul>" + "".join(
            f"<li><code>{e(u.source)}</code> {e(u.entry)}: {e(u.reason)}</li>" for u in league.unscored) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out)
