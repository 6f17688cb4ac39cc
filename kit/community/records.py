"""The community of practice's records: members, teams (mobs), sessions held, shares, Kaizen experiments, OKRs
and the community canvas, kept as plain YAML in ``community/`` and read into frozen dataclasses.

The layout is a folder per kind with one file per entry, named by the entry's id::

    community/
      canvas.yaml                     the minimum viable community canvas (one per community)
      members/amara.yaml              one member; the file name is the handle others refer to
      teams/mob-a.yaml                one mob: its name and members
      sessions/2026-03-03-mob-a-00-mob-and-sandbox.yaml
      shares/2026-03-10-amara-slo-burn-rates.yaml
      experiments/rotate-every-7-minutes.yaml
      okrs/2026-q1.yaml               one OKR set per period

Why not one file per kind: a community keeps its records in git, and several people add sessions and shares
in the same week, each on a branch. Appends to one shared list all touch the same end of the same file, so
every second merge conflicts; new files never do. One file per entry also means adding never rewrites a file
someone wrote by hand, so their comments stay as they were without a comment-preserving YAML writer, and
``git log community/members/amara.yaml`` is that member's history. The canvas and each OKR period are
single documents edited by hand, as a community edits them together.

Everything is validated up front, each problem an ``InvalidInput`` that names the file and the field
(``community/sessions/2026-03-03-mob-a-00-mob-and-sandbox.yaml: attendees[2]: 'zed' is not a member``);
cross-references are checked after every file reads cleanly: a team's members, a session's team, attendees and
roles, a share's authors and session, an experiment's owners and team, the canvas's lead and core team.
``add`` writes one new entry through the same checks, atomically, and refuses to overwrite one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints, field_validator, model_validator

from .. import yamldocs
from ..atomicfile import folder_locked, write_atomically
from ..config import CONTENT
from ..errors import InvalidInput, KitError
from ..validation import Document, validated

__all__ = ["CEREMONIES", "EXPERIENCE", "KINDS", "METRICS", "OUTCOMES", "ROLES", "SESSION_KINDS", "SHARE_KINDS", "Canvas",
           "CanvasRole", "Experiment", "KeyResult", "Member", "Objective", "OKRSet", "RecordExists", "Records", "Rotation",
           "Session", "Share", "Team", "add", "check", "load", "session_id", "slug"]

KINDS = ("members", "teams", "sessions", "shares", "experiments", "okrs")
"""The record folders in ``community/``, in the order they are read (later kinds refer to earlier ones)."""

ROLES = ("driver", "navigator", "researcher", "scribe", "facilitator", "incident commander", "communications",
         "game master")
"""The roles a session rotates: the mob timer's (driver, navigator, researcher), a drill's (kit.drills' roles),
and those who run the session."""

SESSION_KINDS = ("lab", "drill", "ceremony")
CEREMONIES = ("whats-alarming-you", "chaos-day", "incident-lunch", "retrospective", "kickoff")
"""The ceremonies a session of kind ``ceremony`` may be (seed 003's, and a community's own beginnings and ends)."""
SHARE_KINDS = ("talk", "write-up", "runbook", "demo")
OUTCOMES = ("running", "adopted", "abandoned", "inconclusive")
"""An experiment is ``running`` until it is judged: kept (adopted), dropped (abandoned), or not decided by its
metric (inconclusive)."""
EXPERIENCE = ("newcomer", "experienced")

METRICS: dict[str, str] = {
    "sessions": "sessions held in the period (community/sessions)",
    "drill-sessions": "sessions of kind drill held in the period (community/sessions)",
    "active-members": "members who came to at least one session in the period (community/sessions)",
    "shares": "talks, write-ups, runbooks and demos shared in the period (community/shares)",
    "runbook-shares": "runbooks contributed in the period (community/shares)",
    "experiments-completed": "Kaizen experiments judged (ended) in the period (community/experiments)",
    "drills-per-month": "drills finished in the sandbox per 30-day month of the period so far (kit.drills' results)",
    "runbook-problems": "problems kit.runbooks' lint finds now: alerts that page without a complete runbook (target 0)",
}
"""The key-result metrics the kit computes (kit.community.keyresults), each with where its figure comes from.
Any other key result gives its ``current`` value by hand."""

CANVAS = "canvas.yaml"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


# ---------------------------------------------------------------- the records


@dataclass(frozen=True)
class Member:
    """A member of the community; ``handle`` is the file's name and how every other record names them.

    ``catalog``: their User in the service catalog (catalog/), when they are on a team there; ``left``: the day
    they left, for retention (None while they are a member).
    """

    handle: str
    name: str
    joined: date
    experience: str
    catalog: str | None
    email: str | None
    left: date | None
    source: str

    def active_on(self, day: date) -> bool:
        """Whether they were a member on ``day``."""
        return self.joined <= day and (self.left is None or day < self.left)


@dataclass(frozen=True)
class Team:
    """A mob: ``members`` are handles, in the order the mob rotates."""

    id: str
    name: str
    members: tuple[str, ...]
    formed: date
    source: str


@dataclass(frozen=True)
class Rotation:
    """Who held which role for one turn of a session: role -> handles (a mob may have several researchers)."""

    roles: Mapping[str, tuple[str, ...]]

    def holders(self) -> set[str]:
        return {handle for handles in self.roles.values() for handle in handles}


@dataclass(frozen=True)
class Session:
    """A session held: a lab (its folder in solutions/), a drill (its scenario in drills/) or a ceremony.

    ``rotations`` in the order they happened; ``drill_run`` is the run id in the sandbox's drill results when
    the session was a drill and its result was kept; ``minutes`` is the session's planned length.
    ``drill_results`` is the drill results file (kit.drills' results.jsonl) that holds ``drill_run`` when it is
    not the sandbox's own, as a Chaos Day mob's sandbox is not: relative to the repository when it lies inside
    it, else absolute; None for the sandbox's own. Run ids are unique within one file only (two mobs that start
    the same scenario in the same second get the same id), so a drill is (``drill_results``, ``drill_run``).
    """

    id: str
    date: date
    kind: str
    subject: str
    team: str | None
    minutes: int
    attendees: tuple[str, ...]
    rotations: tuple[Rotation, ...]
    drill_run: str | None
    notes: str
    source: str
    drill_results: str | None = None

    def results_file(self, repository: Path, own: Path) -> Path:
        """The drill results file holding ``drill_run``: ``drill_results`` under ``repository`` (an absolute one as
        it is), else ``own`` (the sandbox's own results file)."""
        return repository / self.drill_results if self.drill_results else own


@dataclass(frozen=True)
class Share:
    """Something a member gave the community: a talk, a write-up, a runbook contributed, a demo.

    ``link`` is a URL or a path in the repository (a runbook share must link its runbook, which must exist).
    """

    id: str
    date: date
    kind: str
    title: str
    by: tuple[str, ...]
    session: str | None
    link: str | None
    source: str


@dataclass(frozen=True)
class Experiment:
    """A Kaizen experiment: the change tried, the hypothesis about it, and the metric that judges it.

    ``before``/``after`` are the metric's values in ``unit``; ``better`` says which way is an improvement.
    ``after`` and ``ended`` are given once the experiment is judged (any outcome but ``running``).
    """

    id: str
    title: str
    owners: tuple[str, ...]
    team: str | None
    hypothesis: str
    change: str
    metric: str
    unit: str
    better: str
    before: float
    after: float | None
    started: date
    ended: date | None
    outcome: str
    source: str

    @property
    def improved(self) -> bool | None:
        """Whether ``after`` beat ``before`` in the ``better`` direction; None while not measured."""
        if self.after is None:
            return None
        return self.after < self.before if self.better == "lower" else self.after > self.before


@dataclass(frozen=True)
class KeyResult:
    """A key result: ``metric`` names one the kit computes (kit.community.keyresults.METRICS); otherwise
    ``current`` is entered by hand. Progress runs from ``baseline`` (0 %) to ``target`` (100 %), either way up.
    """

    title: str
    target: float
    baseline: float
    metric: str | None
    current: float | None


@dataclass(frozen=True)
class Objective:
    objective: str
    key_results: tuple[KeyResult, ...]


@dataclass(frozen=True)
class OKRSet:
    """The objectives of one period (``id`` is the file's name, e.g. 2026-q1), from ``start`` to ``end`` inclusive."""

    id: str
    start: date
    end: date
    objectives: tuple[Objective, ...]
    source: str


@dataclass(frozen=True)
class CanvasRole:
    """A role members can play (seed 000's canvas, section 6): what it gives and what it gets."""

    name: str
    gives: str
    gets: str


@dataclass(frozen=True)
class Canvas:
    """The minimum viable community canvas (seed 000): why the community exists, for whom, its values and
    goals, its roles and rules, how it decides (governance), how it meets (rhythm, channels, onboarding), and
    its lead and rotating core team (handles)."""

    purpose: str
    audience: tuple[str, ...]
    values: tuple[str, ...]
    goals: tuple[str, ...]
    roles: tuple[CanvasRole, ...]
    rules: tuple[str, ...]
    governance: str
    rhythm: str
    channels: tuple[str, ...]
    onboarding: str
    lead: str
    core_team: tuple[str, ...]
    core_team_rotates: str
    source: str


@dataclass(frozen=True)
class Records:
    """Everything in one ``community/`` folder, validated and cross-checked; each kind sorted by id (sessions and
    shares by date, then id)."""

    folder: Path
    members: tuple[Member, ...]
    teams: tuple[Team, ...]
    sessions: tuple[Session, ...]
    shares: tuple[Share, ...]
    experiments: tuple[Experiment, ...]
    okrs: tuple[OKRSet, ...]
    canvas: Canvas | None

    def member(self, handle: str) -> Member:
        """The member with ``handle``; KeyError if there is none."""
        for member in self.members:
            if member.handle == handle:
                return member
        raise KeyError(handle)

    def of_kind(self, kind: str) -> tuple:
        """The records of one of ``KINDS``."""
        return getattr(self, kind)


# ---------------------------------------------------------------- the files' models


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Handle = Annotated[str, StringConstraints(pattern=_ID.pattern)]
_Day = date  # a field named ``date`` would hide the type inside its model


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise InvalidInput(f"[{i}]", f"{value!r} is named twice")
        seen.add(value)
    return values


class _Member(Document):
    name: _Text = Field(description="the name people know them by")
    joined: date = Field(description="the day they joined, e.g. 2026-01-12")
    experience: Literal[EXPERIENCE] = Field(description="newcomer or experienced")  # type: ignore[valid-type]
    catalog: _Handle | None = None
    email: _Text | None = None
    left: date | None = None

    @model_validator(mode="after")
    def _dates(self) -> "_Member":
        if self.left is not None and self.left < self.joined:
            raise InvalidInput("left", f"{self.left} is before joined ({self.joined})")
        return self


class _Team(Document):
    name: _Text = Field(description="the mob's name, e.g. Mob A")
    members: list[_Handle] = Field(min_length=1, description="member handles, e.g. [amara, bruno]")
    formed: date = Field(description="the day the mob first met, e.g. 2026-03-03")

    _members_unique = field_validator("members")(_unique)


class _Session(Document):
    date: _Day = Field(description="the day it was held, e.g. 2026-03-03")
    kind: Literal[SESSION_KINDS] = Field(description="lab, drill or ceremony")  # type: ignore[valid-type]
    subject: _Text = Field(description="the lab's folder in solutions/, the drill scenario, or the ceremony")
    team: _Handle | None = None
    minutes: int = Field(gt=0, le=600, description="how long it ran, e.g. 90")
    attendees: list[_Handle] = Field(min_length=1, description="member handles, e.g. [amara, bruno]")
    rotations: list[dict[str, _Handle | list[_Handle]]] = Field(default_factory=list)
    drill_run: _Text | None = None
    drill_results: _Text | None = None
    notes: str = ""

    _attendees_unique = field_validator("attendees")(_unique)

    @model_validator(mode="after")
    def _consistent(self) -> "_Session":
        for i, rotation in enumerate(self.rotations):
            if not rotation:
                raise InvalidInput(f"rotations[{i}]", "names no role; e.g. {driver: amara, navigator: bruno}")
            for role, holders in rotation.items():
                if role not in ROLES:
                    raise InvalidInput(f"rotations[{i}].{role}", f"is not a role; the roles are {', '.join(ROLES)}")
                for handle in [holders] if isinstance(holders, str) else holders:
                    if handle not in self.attendees:
                        raise InvalidInput(f"rotations[{i}].{role}", f"{handle!r} is not among the attendees")
        if self.drill_run is not None and self.kind != "drill":
            raise InvalidInput("drill_run", f"is given, but the session is a {self.kind}, not a drill")
        if self.drill_results is not None and self.kind != "drill":
            raise InvalidInput("drill_results", f"is given, but the session is a {self.kind}, not a drill")
        if self.drill_results is not None and self.drill_run is None:
            raise InvalidInput("drill_results", "names the file holding drill_run, but drill_run is not given")
        if self.kind == "ceremony" and self.subject not in CEREMONIES:
            raise InvalidInput("subject", f"{self.subject!r} is not a ceremony; the ceremonies are "
                                          f"{', '.join(CEREMONIES)}")
        return self


class _Share(Document):
    date: _Day = Field(description="the day it was shared, e.g. 2026-03-10")
    kind: Literal[SHARE_KINDS] = Field(description="talk, write-up, runbook or demo")  # type: ignore[valid-type]
    title: _Text = Field(description="what it is called")
    by: list[_Handle] = Field(min_length=1, description="member handles, e.g. [amara]")
    session: _Text | None = None
    link: _Text | None = None

    _by_unique = field_validator("by")(_unique)

    @model_validator(mode="after")
    def _runbook_linked(self) -> "_Share":
        if self.kind == "runbook" and self.link is None:
            raise InvalidInput("link", "is required for a runbook share: the runbook's path, e.g. runbooks/x.md")
        return self


class _Experiment(Document):
    title: _Text = Field(description="the experiment in a few words")
    owners: list[_Handle] = Field(min_length=1, description="member handles, e.g. [dana]")
    team: _Handle | None = None
    hypothesis: _Text = Field(description="what we believe the change will do, and why")
    change: _Text = Field(description="what we change")
    metric: _Text = Field(description="what we measure to judge it, e.g. median TTA in drills")
    unit: _Text = Field(description="the metric's unit, e.g. s")
    better: Literal["lower", "higher"] = Field(description="lower or higher")
    before: float = Field(description="the metric before the change")
    after: float | None = None
    started: date = Field(description="the day the change began, e.g. 2026-03-03")
    ended: date | None = None
    outcome: Literal[OUTCOMES] = Field(description="running, adopted, abandoned or inconclusive")  # type: ignore[valid-type]

    _owners_unique = field_validator("owners")(_unique)

    @model_validator(mode="after")
    def _judged(self) -> "_Experiment":
        if self.ended is not None and self.ended < self.started:
            raise InvalidInput("ended", f"{self.ended} is before started ({self.started})")
        if self.outcome != "running":
            for name in ("after", "ended"):
                if getattr(self, name) is None:
                    raise InvalidInput(name, f"is required once the outcome is {self.outcome}: an experiment is "
                                             "judged on its measured result")
        elif self.ended is not None:
            raise InvalidInput("outcome", "is running, but ended is given: say how it came out")
        return self


class _KeyResult(Document):
    title: _Text = Field(description="the key result as a sentence")
    target: float = Field(description="the value that is 100 %")
    baseline: float = 0.0
    metric: _Text | None = None
    current: float | None = None

    @model_validator(mode="after")
    def _source(self) -> "_KeyResult":
        if self.metric is not None and self.metric not in METRICS:
            raise InvalidInput("metric", f"{self.metric!r} is not one the kit computes; they are "
                                         f"{', '.join(METRICS)} (or leave metric out and give current)")
        if self.target == self.baseline:
            raise InvalidInput("target", f"equals the baseline ({self.baseline:g}): progress would have no length")
        if self.metric is not None and self.current is not None:
            raise InvalidInput("current", f"is given, but metric {self.metric} computes it: give one of the two")
        if self.metric is None and self.current is None:
            raise InvalidInput("current", "is required when no metric computes it (or give metric: one the kit "
                                          "computes, see `kit cop list okrs`)")
        return self


class _Objective(Document):
    objective: _Text = Field(description="what the community wants, in words")
    key_results: list[_KeyResult] = Field(min_length=1, description="how it will know: title, target, ...")


class _OKRSet(Document):
    start: date = Field(description="the period's first day, e.g. 2026-01-01")
    end: date = Field(description="the period's last day, e.g. 2026-03-31")
    objectives: list[_Objective] = Field(min_length=1, description="objective and key_results")

    @model_validator(mode="after")
    def _period(self) -> "_OKRSet":
        if self.end < self.start:
            raise InvalidInput("end", f"{self.end} is before start ({self.start})")
        return self


class _CanvasRole(Document):
    name: _Text
    gives: _Text
    gets: _Text


class _Canvas(Document):
    purpose: _Text = Field(description="why the community exists")
    audience: list[_Text] = Field(min_length=1, description="who it is for")
    values: list[_Text] = Field(min_length=1, max_length=5, description="the few principles that matter to it")
    goals: list[_Text] = Field(min_length=1, description="what will define success in the next 12 months")
    roles: list[_CanvasRole] = Field(min_length=1, description="name, gives, gets")
    rules: list[_Text] = Field(min_length=1, description="the guidelines members keep")
    governance: _Text = Field(description="how decisions are made, and who makes which")
    rhythm: _Text = Field(description="what happens when, e.g. a lab every second Tuesday")
    channels: list[_Text] = Field(min_length=1, description="where members talk")
    onboarding: _Text = Field(description="how a newcomer's first weeks go")
    lead: _Handle = Field(description="the CoP lead's handle")
    core_team: list[_Handle] = Field(min_length=1, description="the organising team's handles")
    core_team_rotates: _Text = Field(description="how often the core team rotates, e.g. every quarter")


_MODELS: dict[str, type[Document]] = {"members": _Member, "teams": _Team, "sessions": _Session, "shares": _Share,
                                      "experiments": _Experiment, "okrs": _OKRSet}


# ---------------------------------------------------------------- reading


def _where(path: Path, folder: Path) -> str:
    """The file as a message names it: relative to the folder above ``community/`` (the repository)."""
    try:
        return str(path.relative_to(folder.parent))
    except ValueError:
        return str(path)


def _documents(path: Path, where: str) -> list[yamldocs.Document]:
    """The file's YAML documents; a syntax error names the file as ``where`` does (``...:line:column``)."""
    try:
        documents = yamldocs.read(path)
    except InvalidInput as error:
        raise InvalidInput(error.field, error.problem, source=error.source.replace(str(path), where, 1)) from None
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; a record is one", source=where)
    return documents


def _read(path: Path, folder: Path, kind: str) -> Any:
    where = _where(path, folder)
    documents = _documents(path, where)
    if not _ID.match(path.stem):
        raise InvalidInput("", f"the file name {path.stem!r} is not an id: lowercase letters, digits and dashes",
                           source=where)
    return validated(_MODELS[kind], documents[0].data, source=where)


def _build(kind: str, ident: str, model: Any, where: str) -> Any:
    if kind == "members":
        return Member(ident, model.name, model.joined, model.experience, model.catalog, model.email, model.left,
                      where)
    if kind == "teams":
        return Team(ident, model.name, tuple(model.members), model.formed, where)
    if kind == "sessions":
        rotations = tuple(Rotation({role: (held,) if isinstance(held, str) else tuple(held)
                                    for role, held in rotation.items()}) for rotation in model.rotations)
        return Session(ident, model.date, model.kind, model.subject, model.team, model.minutes,
                       tuple(model.attendees), rotations, model.drill_run, model.notes, where,
                       model.drill_results)
    if kind == "shares":
        return Share(ident, model.date, model.kind, model.title, tuple(model.by), model.session, model.link, where)
    if kind == "experiments":
        return Experiment(ident, model.title, tuple(model.owners), model.team, model.hypothesis, model.change,
                          model.metric, model.unit, model.better, model.before, model.after, model.started,
                          model.ended, model.outcome, where)
    return OKRSet(ident, model.start, model.end, tuple(
        Objective(o.objective, tuple(KeyResult(k.title, k.target, k.baseline, k.metric, k.current)
                                     for k in o.key_results)) for o in model.objectives), where)


def _canvas(folder: Path) -> Canvas | None:
    path = folder / CANVAS
    if not path.is_file():
        return None
    where = _where(path, folder)
    m = validated(_Canvas, _documents(path, where)[0].data, source=where)
    return Canvas(m.purpose, tuple(m.audience), tuple(m.values), tuple(m.goals),
                  tuple(CanvasRole(r.name, r.gives, r.gets) for r in m.roles), tuple(m.rules), m.governance,
                  m.rhythm, tuple(m.channels), m.onboarding, m.lead, tuple(m.core_team), m.core_team_rotates, where)


def _order(kind: str) -> Callable[[Any], Any]:
    if kind in ("sessions", "shares"):
        return lambda record: (record.date, record.id)
    return lambda record: record.handle if kind == "members" else record.id


def load(folder: str | Path | None = None, *, labs: Iterable[str] | None = None,
         drills: Iterable[str] | None = None) -> Records:
    """The records in ``folder`` (default: the repository's ``community/``), validated and cross-checked.

    ``labs`` and ``drills`` are the names a session's subject may take (default: the folders of solutions/ and
    the scenario files of drills/ beside ``folder``; a folder without them does not check subjects).
    A runbook share's link that is a path must exist beside ``folder`` (in the repository).
    Raises InvalidInput naming the file and the field: ``community/teams/mob-a.yaml: members[1]: 'zed' is not a
    member (no community/members/zed.yaml)``; InvalidInput("folder") when ``folder`` is not a folder.
    """
    folder = Path(folder) if folder is not None else CONTENT.community
    if not folder.is_dir():
        raise InvalidInput("folder", f"{folder} is not a folder of community records; `kit cop add member` "
                                     "starts one")
    found: dict[str, tuple] = {}
    for kind in KINDS:
        paths = sorted((folder / kind).glob("*.yaml")) + sorted((folder / kind).glob("*.yml"))
        built = [_build(kind, path.stem, _read(path, folder, kind), _where(path, folder)) for path in paths]
        seen: dict[str, str] = {}
        for record in built:
            ident = record.handle if kind == "members" else record.id
            if ident in seen:
                raise InvalidInput("", f"{kind[:-1]} {ident!r} is also in {seen[ident]}: keep one",
                                   source=record.source)
            seen[ident] = record.source
        found[kind] = tuple(sorted(built, key=_order(kind)))
    records = Records(folder, canvas=_canvas(folder), **found)
    _cross_check(records, _names(labs, folder.parent / "solutions", "dir"),
                 _names(drills, folder.parent / "drills", "yml"))
    return records


def _names(given: Iterable[str] | None, where: Path, kind: str) -> frozenset[str] | None:
    if given is not None:
        return frozenset(given)
    if not where.is_dir():
        return None
    if kind == "dir":
        return frozenset(p.name for p in where.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    return frozenset(p.stem for p in where.glob("*.yml"))


def _refs(source: str, field: str, handles: str | tuple[str, ...], known: Mapping[str, Any], what: str,
          folder: str) -> None:
    """Each of ``handles`` (one, or a list the field holds) must be in ``known``."""
    for i, handle in enumerate([handles] if isinstance(handles, str) else handles):
        if handle not in known:
            at = field if isinstance(handles, str) else f"{field}[{i}]"
            raise InvalidInput(at, f"{handle!r} is not a {what} (no {folder}/{handle}.yaml)", source=source)


def _cross_check(records: Records, labs: frozenset[str] | None, drills: frozenset[str] | None) -> None:
    members = {m.handle: m for m in records.members}
    teams = {t.id: t for t in records.teams}
    sessions = {s.id: s for s in records.sessions}
    base = records.folder.name
    for team in records.teams:
        _refs(team.source, "members", team.members, members, "member", f"{base}/members")
    for session in records.sessions:
        if session.team is not None:
            _refs(session.source, "team", session.team, teams, "team", f"{base}/teams")
        _refs(session.source, "attendees", session.attendees, members, "member", f"{base}/members")
        for i, handle in enumerate(session.attendees):
            if not members[handle].active_on(session.date):
                raise InvalidInput(f"attendees[{i}]", f"{handle!r} was not a member on {session.date} (joined "
                                   f"{members[handle].joined}" + (f", left {members[handle].left}"
                                                                  if members[handle].left else "") + ")",
                                   source=session.source)
        known = {"lab": labs, "drill": drills}.get(session.kind)
        if known is not None and session.subject not in known:
            place = "a lab folder in solutions/" if session.kind == "lab" else "a scenario in drills/"
            raise InvalidInput("subject", f"{session.subject!r} is not {place}; they are {', '.join(sorted(known))}",
                               source=session.source)
    for share in records.shares:
        _refs(share.source, "by", share.by, members, "member", f"{base}/members")
        if share.session is not None:
            _refs(share.source, "session", share.session, sessions, "session", f"{base}/sessions")
        if share.kind == "runbook" and share.link and "://" not in share.link:
            if not (records.folder.parent / share.link).is_file():
                raise InvalidInput("link", f"{share.link} does not exist in the repository", source=share.source)
    for experiment in records.experiments:
        _refs(experiment.source, "owners", experiment.owners, members, "member", f"{base}/members")
        if experiment.team is not None:
            _refs(experiment.source, "team", experiment.team, teams, "team", f"{base}/teams")
    canvas = records.canvas
    if canvas is not None:
        _refs(canvas.source, "lead", canvas.lead, members, "member", f"{base}/members")
        _refs(canvas.source, "core_team", canvas.core_team, members, "member", f"{base}/members")


def check(records: Records, catalog_users: Iterable[str] | None = None) -> list[str]:
    """What a valid community still lacks, one line each (empty when nothing): no canvas, a member whose
    ``catalog`` user is not among ``catalog_users`` (the service catalog's User names; not checked when None),
    a member in no team, a team member who has left."""
    findings = []
    if records.canvas is None:
        findings.append(f"{records.folder.name}/{CANVAS}: missing: write the community canvas (purpose, audience, "
                        "values, goals, roles, rules, governance, rhythm)")
    users = None if catalog_users is None else frozenset(catalog_users)
    in_teams = {handle for team in records.teams for handle in team.members}
    for member in records.members:
        if users is not None and member.catalog is not None and member.catalog not in users:
            findings.append(f"{member.source}: catalog: {member.catalog!r} is not a User in the service catalog")
        if member.left is None and member.handle not in in_teams:
            findings.append(f"{member.source}: {member.handle} is in no team: add them to a mob")
    for team in records.teams:
        for i, handle in enumerate(team.members):
            left = next(m.left for m in records.members if m.handle == handle)
            if left is not None:
                findings.append(f"{team.source}: members[{i}]: {handle} left on {left}")
    return findings


# ---------------------------------------------------------------- adding


def slug(text: str) -> str:
    """``text`` as an id: lowercase words joined by dashes ("SLO burn rates!" -> "slo-burn-rates")."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))[:60].strip("-")


def session_id(day: date, subject: str, team: str | None) -> str:
    """The id ``add`` gives a session: its date, its team (or ``community``) and its subject."""
    return f"{day.isoformat()}-{team or 'community'}-{slug(subject)}"


class RecordExists(KitError):
    """``add`` was asked for an entry whose file already exists."""

    exit_code = 2


def add(kind: str, ident: str, data: Mapping[str, Any], folder: str | Path | None = None, *,
        labs: Iterable[str] | None = None, drills: Iterable[str] | None = None) -> Any:
    """Write one new record of ``kind`` (one of ``KINDS``) as ``folder/kind/ident.yaml`` and return it as loaded.

    ``data`` is the record as its file holds it (``{"name": ..., "joined": date(...), ...}``). The new file is
    checked with every other record (its references must resolve) before it is written, atomically, while the
    folder is locked against another ``add``. Raises InvalidInput naming the field, RecordExists when the entry is
    already there (the file is never overwritten), KitError when the folder cannot be written.
    """
    if kind not in KINDS:
        raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    folder = Path(folder) if folder is not None else CONTENT.community
    if not _ID.match(ident):
        raise InvalidInput("id", f"{ident!r} is not an id: lowercase letters, digits and dashes, e.g. mob-a")
    target = folder / kind / f"{ident}.yaml"
    where = _where(target, folder)
    model = validated(_MODELS[kind], dict(data), source=where)
    text = f"# {kind[:-1]} {ident}, added by `kit cop add`\n" + yaml.safe_dump(
        dict(data), sort_keys=False, allow_unicode=True, default_flow_style=False, width=110)

    def refused(error: OSError) -> KitError:
        return KitError(f"{folder}: cannot write community records: {error.strerror}")

    with folder_locked(folder, refused):
        if target.exists():
            raise RecordExists(f"{where}: already exists; a record is added once (edit the file to change it)")
        records = load(folder, labs=labs, drills=drills)
        new = _build(kind, ident, model, where)
        combined = dataclasses.replace(records, **{kind: tuple(sorted((*records.of_kind(kind), new),
                                                                      key=_order(kind)))})
        _cross_check(combined, _names(labs, folder.parent / "solutions", "dir"),
                     _names(drills, folder.parent / "drills", "yml"))
        (folder / kind).mkdir(exist_ok=True)
        write_atomically(target, text, mode=0o644)
    return new
