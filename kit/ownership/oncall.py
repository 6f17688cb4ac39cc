"""On-call as a real schedule: a team's rotation is an iCalendar file (RFC 5545), the format paging products
export and every calendar imports, so the same file is read by people, calendars and the kit.

How the file says who is on call (the checks and ``on_call_at`` read nothing else):

- one ``VEVENT`` per shift, usually a weekly series (``RRULE:FREQ=WEEKLY;INTERVAL=8`` for eight engineers);
  a swap or a holiday is an override of one occurrence (``RECURRENCE-ID``) or a removed one (``EXDATE``);
- ``ATTENDEE;CN=Amara Okafor:mailto:amara@shop.example``: the one engineer on that shift (the address is who
  they are, the CN how they are shown), as paging products' calendar feeds name the person on call;
- ``CATEGORIES:PRIMARY`` or ``CATEGORIES:SECONDARY``: the escalation level the shift is on; products keep one
  schedule per level, one file here holds both levels of one team;
- ``DTSTART;TZID=Europe/Berlin:...`` with ``DTEND`` or ``DURATION``: the hand-over in the team's local time,
  so a weekly hand-over stays at 10:00 across a daylight-saving change; a floating time (no TZID, no Z) or a
  whole-day date is refused, as it means a different moment for each reader;
- on the ``VCALENDAR``: ``X-DOJO-ESCALATE-AFTER:PT15M`` (an RFC 5545 duration, a non-standard property as
  section 3.8.8.2 allows): a page not acknowledged by the primary in that time goes to the secondary;
  ``X-WR-CALNAME`` names the rotation in calendar apps.

The file is ``oncall/<team>.ics``, the team named as its Group in the service catalog, so a page routed to
the owning team finds its rotation. The numbers the checks apply are the Google SRE book's, chapter 11
"Being On-Call" (Beyer et al., O'Reilly 2016).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import icalendar
import recurring_ical_events

from ..config import CONTENT
from ..errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

ROLES = ("primary", "secondary")
"""The escalation levels a shift can be on, first paged first."""

CHECKS = ("coverage", "distinct", "engineers", "load", "escalation")
"""What ``check`` judges, in the order it reports: 24x7 coverage without overlaps per role, primary and
secondary never the same person, enough engineers, nobody on call too much, a sane escalation step."""

SINGLE_SITE_ENGINEERS = 8
"""The fewest engineers a single-site team's rotation needs: SRE book ch. 11 counts eight, with a primary and a
secondary at all times and week-long shifts, so each is on call (primary or secondary) one week in four."""

DUAL_SITE_ENGINEERS_PER_SITE = 6
"""SRE book ch. 11's minimum for each site of a dual-site (follow-the-sun) team: give ``min_engineers=12``."""

MAX_ON_CALL_SHARE = 0.25
"""SRE book ch. 11: at most 25 % of an SRE's time goes to on-call (and at least 50 % to engineering)."""

ESCALATION_RANGE = (timedelta(minutes=5), timedelta(minutes=30))
"""A sane escalation step: SRE book ch. 11 gives 5 minutes as the typical response time of user-facing
services and 30 minutes for less time-sensitive ones. Escalating sooner pages the secondary for pages the
primary is about to take; later leaves a page unanswered longer than any on-call response target."""

ESCALATION_PROPERTY = "X-DOJO-ESCALATE-AFTER"
"""The VCALENDAR property saying after how long an unacknowledged page goes from the primary to the secondary."""

DEFAULT_WEEKS = 12
"""How far ahead ``check`` looks by default: a quarter, the horizon a team plans its rotation for."""

MAX_CYCLE = timedelta(weeks=52)
"""The longest cycle load is measured over whole cycles of; a longer one (intervals of 7 and 9 weeks repeat
every 63) is measured over the checked window alone."""


@dataclass(frozen=True)
class Engineer:
    """A person on the rotation: ``email`` (lower case) is who they are, ``name`` how they are shown."""

    name: str
    email: str

    def __str__(self) -> str:
        return self.name


class OnCall(NamedTuple):
    """Who was on call at a moment, per level; None where nobody was (a gap)."""

    primary: Engineer | None
    secondary: Engineer | None


@dataclass(frozen=True)
class Shift:
    """One occurrence of a shift: ``start``/``end`` are aware datetimes in UTC, end exclusive."""

    role: str
    engineer: Engineer
    start: datetime
    end: datetime
    summary: str
    uid: str


SHIFT_COLUMNS = ["role", "engineer", "email", "start", "end", "hours", "summary", "uid"]
"""Columns of ``shift_frame``: role (primary/secondary), engineer (shown name), email, start and end (UTC
Timestamps, end exclusive), hours (real elapsed hours: 167 for a week over the spring DST change), summary, uid
(the VEVENT's UID, shared by every occurrence of a series)."""


def shift_frame(shifts: list[Shift]) -> pd.DataFrame:
    """Shifts as a DataFrame with ``SHIFT_COLUMNS``, one row per shift, ordered by role then start."""
    import pandas as pd  # not at import: the pager process loads this module and needs no pandas

    rows = [(s.role, s.engineer.name, s.engineer.email, pd.Timestamp(s.start), pd.Timestamp(s.end),
             (s.end - s.start) / timedelta(hours=1), s.summary, s.uid)
            for s in sorted(shifts, key=lambda s: (ROLES.index(s.role), s.start))]
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


@dataclass(frozen=True)
class Rotation:
    """A team's rotation as loaded from its file: expand it with ``shifts``, ask it with ``on_call_at``.

    ``escalate_after`` is None when the file does not say; ``cycle`` is how often the schedule repeats (the
    least common multiple of its recurrence periods), None when it cannot be told (a monthly rule, no rule).
    ``zone`` is the time zone of its first shift, the one its findings are shown in.
    """

    source: str
    team: str
    name: str
    escalate_after: timedelta | None
    cycle: timedelta | None
    zone: tzinfo
    calendar: icalendar.Calendar = field(repr=False, compare=False)

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """Every shift overlapping [start, end) (aware datetimes), overrides and exclusions applied."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        try:
            occurrences = recurring_ical_events.of(self.calendar).between(start, end)
        except ValueError as exc:
            raise InvalidInput("VEVENT", f"cannot expand the recurrences: {exc}", source=self.source) from None
        return [Shift(_role(event, self.source), _engineer(event, self.source),
                      event.start.astimezone(timezone.utc), event.end.astimezone(timezone.utc),
                      str(event.get("SUMMARY", "")), str(event.get("UID", "")))
                for event in occurrences]

    def on_call_at(self, when: datetime) -> OnCall:
        """Who was primary and secondary at ``when`` (aware), e.g. when a page fired.

        Where two shifts of a level overlap (a ``coverage`` finding), the one that began last answers: the
        hand-over that came early. Raises InvalidInput for a naive ``when``.
        """
        _require_aware(when, "when")
        at = when.astimezone(timezone.utc)
        current = [s for s in self.shifts(at, at + timedelta(seconds=1)) if s.start <= at < s.end]
        latest = {role: max((s for s in current if s.role == role), key=lambda s: s.start, default=None)
                  for role in ROLES}
        return OnCall(*(shift.engineer if shift else None for shift in latest.values()))


def rotation_path(team_or_file: str | Path | None = None) -> Path:
    """The file of a team's rotation: ``oncall/<team>.ics``, a path as given, or with None the only rotation in
    ``oncall/``. Raises InvalidInput when there is no such file or None is ambiguous."""
    if team_or_file is None:
        found = sorted(CONTENT.oncall.glob("*.ics"))
        if len(found) != 1:
            raise InvalidInput("FILE", f"oncall/ holds {len(found)} rotations "
                                       f"({', '.join(p.stem for p in found) or 'none'}); name a team or a file")
        return found[0]
    path = Path(team_or_file)
    if path.suffix != ".ics" and not path.exists():
        path = CONTENT.oncall / f"{team_or_file}.ics"
    if not path.is_file():
        teams = ", ".join(sorted(p.stem for p in CONTENT.oncall.glob("*.ics"))) or "none"
        raise InvalidInput("FILE", f"{team_or_file}: no such rotation (teams in oncall/: {teams})")
    return path


def load(path: str | Path) -> Rotation:
    """Read and validate a rotation file; the team is the file's name without .ics.

    Raises InvalidInput naming the file, the event (its SUMMARY or UID) and the property at fault.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InvalidInput("FILE", f"cannot read it: {exc.strerror}", source=str(path)) from None
    return parse(text, source=CONTENT.shown(path), team=path.stem)


def parse(text: str | bytes, *, source: str = "<rotation>", team: str = "") -> Rotation:
    """A rotation from iCalendar text; ``source`` names it in errors. Raises InvalidInput as ``load`` does."""
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise InvalidInput("VCALENDAR", f"not an iCalendar file: {exc}", source=source) from None
    if calendar.name != "VCALENDAR":
        raise InvalidInput("VCALENDAR", f"the file holds a {calendar.name}, not a VCALENDAR", source=source)
    for prop, problem in calendar.errors:
        raise InvalidInput(prop, problem, source=source)
    events = calendar.walk("VEVENT")
    if not events:
        raise InvalidInput("VEVENT", "no shifts: add one VEVENT per shift (see oncall/ for an example)",
                           source=source)
    for event in events:
        _validate(event, source)
    return Rotation(source=source, team=team, name=str(calendar.get("X-WR-CALNAME", team)),
                    escalate_after=_escalation(calendar, source), cycle=_cycle(events),
                    zone=events[0].start.tzinfo, calendar=calendar)


def _where(event: icalendar.Event, prop: str) -> str:
    name = event.get("SUMMARY") or event.get("UID") or "without SUMMARY or UID"
    return f'event "{name}" {prop}'


def _validate(event: icalendar.Event, source: str) -> None:
    for prop, problem in event.errors:
        raise InvalidInput(_where(event, prop), problem, source=source)
    for prop in ("DTSTART", "RECURRENCE-ID", "DTEND"):
        if prop in event:
            _require_moment(event, prop, source)
    if "DTSTART" not in event:
        raise InvalidInput(_where(event, "DTSTART"), "missing: a shift needs its start", source=source)
    if "DTEND" not in event and "DURATION" not in event:
        raise InvalidInput(_where(event, "DTEND"), "missing: give the shift's end as DTEND or DURATION",
                           source=source)
    if event.end.astimezone(timezone.utc) <= event.start.astimezone(timezone.utc):
        raise InvalidInput(_where(event, "DTEND" if "DTEND" in event else "DURATION"),
                           "the shift ends before it starts", source=source)
    _role(event, source)
    _engineer(event, source)


def _require_moment(event: icalendar.Event, prop: str, source: str) -> None:
    value = event[prop].dt
    if not isinstance(value, datetime):
        raise InvalidInput(_where(event, prop), "a whole day is a different moment in each time zone: give a "
                                                "time with TZID=Area/City or in UTC (…T090000Z)", source=source)
    if value.tzinfo is None:
        zone = event[prop].params.get("TZID")
        problem = (f"unknown time zone {zone!r}: use an IANA name (Europe/Berlin) or add its VTIMEZONE" if zone
                   else "a floating time is a different moment for each reader: add TZID=Area/City or end in Z")
        raise InvalidInput(_where(event, prop), problem, source=source)


def _role(event: icalendar.Event, source: str) -> str:
    named = {str(category).strip().lower() for category in event.categories} & set(ROLES)
    if len(named) != 1:
        problem = "names both levels" if named else "names no level"
        raise InvalidInput(_where(event, "CATEGORIES"), f"{problem}: write CATEGORIES:PRIMARY or "
                                                        "CATEGORIES:SECONDARY", source=source)
    return named.pop()


def _engineer(event: icalendar.Event, source: str) -> Engineer:
    attendees = event.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    if len(attendees) != 1:
        problem = "missing" if not attendees else f"{len(attendees)} engineers on one shift"
        raise InvalidInput(_where(event, "ATTENDEE"), f"{problem}: a shift has one engineer, as "
                                                      "ATTENDEE;CN=Name:mailto:address", source=source)
    address = str(attendees[0])
    if not address.lower().startswith("mailto:") or "@" not in address:
        raise InvalidInput(_where(event, "ATTENDEE"), f"{address!r} is not a mailto: address", source=source)
    email = address[len("mailto:"):].strip().lower()
    return Engineer(str(attendees[0].params.get("CN", email)), email)


def _escalation(calendar: icalendar.Calendar, source: str) -> timedelta | None:
    if ESCALATION_PROPERTY not in calendar:
        return None
    text = str(calendar[ESCALATION_PROPERTY])
    try:
        value = icalendar.vDuration.from_ical(text)
    except ValueError:
        raise InvalidInput(ESCALATION_PROPERTY, f"{text!r} is not an iCalendar duration (PT15M is 15 minutes)",
                           source=source) from None
    if not isinstance(value, timedelta):
        raise InvalidInput(ESCALATION_PROPERTY, f"{text!r} is a period, not a duration (PT15M)", source=source)
    return value


_PERIODS = {"WEEKLY": timedelta(weeks=1), "DAILY": timedelta(days=1), "HOURLY": timedelta(hours=1),
            "MINUTELY": timedelta(minutes=1), "SECONDLY": timedelta(seconds=1)}


def _cycle(events: list[icalendar.Event]) -> timedelta | None:
    """The least common multiple of the series' periods; None when one has no fixed length (monthly, yearly)."""
    seconds = 1
    for event in events:
        rules = event.get("RRULE", [])
        for rule in rules if isinstance(rules, list) else [rules]:
            unit = _PERIODS.get(rule["FREQ"][0])
            if unit is None:
                return None
            seconds = math.lcm(seconds, int(unit.total_seconds()) * int(rule.get("INTERVAL", [1])[0]))
    return timedelta(seconds=seconds) if seconds > 1 else None


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(name, f"{moment} has no time zone: give an aware datetime (e.g. in UTC)")


@dataclass(frozen=True)
class Finding:
    """One problem a check found: which check, the thing at fault (a level, an engineer, a property), what is
    wrong, a one-line fix, and the stretch of time it concerns when it has one (UTC)."""

    check: str
    subject: str
    problem: str
    fix: str
    start: datetime | None = None
    end: datetime | None = None

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.problem}. Fix: {self.fix}"


LOAD_COLUMNS = ["engineer", "email", "primary_hours", "secondary_hours", "share"]
"""Columns of ``RotationReport.load``: per engineer the hours on each level within the load window and the
share of that window they are on call (0.25 is SRE book ch. 11's ceiling), most loaded first. Hours are counted
by the team's clock (the rotation's ``zone``): a week is 168 h across a DST change too, so that the hour a
change takes from one engineer's week does not tip the others of a fair rotation over 25 %."""


@dataclass(frozen=True)
class RotationReport:
    """What ``check`` found for one rotation.

    ``start``/``end`` bound the window coverage was checked over; ``load_end`` ends the window the load and the
    head count were measured over (whole cycles of the rotation, so a window that cuts a cycle does not count
    someone's two weeks in eight as two in twelve). ``shifts`` is ``shift_frame`` over the longer window;
    ``load`` has ``LOAD_COLUMNS``. ``findings`` is empty when every check passed.
    """

    source: str
    team: str
    start: datetime
    end: datetime
    load_end: datetime
    escalate_after: timedelta | None
    shifts: pd.DataFrame = field(repr=False, compare=False)
    load: pd.DataFrame = field(repr=False, compare=False)
    findings: tuple[Finding, ...]
    zone: tzinfo = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.findings

    def failed(self, check_name: str) -> tuple[Finding, ...]:
        """The findings of one of ``CHECKS``: empty when it passed."""
        return tuple(f for f in self.findings if f.check == check_name)

    def __str__(self) -> str:
        weeks, load_weeks = (_clock(self.start, end, self.zone) / timedelta(weeks=1) for end in (self.end,
                                                                                                  self.load_end))
        escalation = _minutes(self.escalate_after) if self.escalate_after is not None else "not set"
        lines = [f"{self.source}: {self.team}, {len(self.load)} engineers, escalation after {escalation}",
                 f"checked {_at(self.start, self.zone)} to {_at(self.end, self.zone)} ({weeks:g} weeks; load over "
                 f"{load_weeks:g} weeks)"]
        lines += [f"  {name:<11}{'ok' if not self.failed(name) else f'{len(self.failed(name))} finding(s)'}"
                  for name in CHECKS]
        lines += [f"- {finding}" for finding in self.findings]
        return "\n".join(lines)


def check(rotation: Rotation, *, start: datetime | None = None, weeks: float = DEFAULT_WEEKS,
          min_engineers: int = SINGLE_SITE_ENGINEERS, max_share: float = MAX_ON_CALL_SHARE,
          escalation_range: tuple[timedelta, timedelta] = ESCALATION_RANGE) -> RotationReport:
    """Run every check in ``CHECKS`` over ``weeks`` weeks from ``start`` (aware; default now).

    ``min_engineers`` defaults to SRE book ch. 11's eight for a single-site team (six per site for a dual-site
    one: 12); ``max_share`` to its 25 %. Load and head count are measured over whole cycles of the rotation
    (at least ``weeks``, at most a year further). Raises InvalidInput for a bad window or a recurrence the
    library cannot expand.
    """
    if weeks <= 0 or min_engineers < 1:
        raise InvalidInput("weeks" if weeks <= 0 else "min_engineers", "must be positive")
    if start is not None:
        _require_aware(start, "start")
    start = (start or datetime.now(timezone.utc)).astimezone(timezone.utc)
    span = timedelta(weeks=weeks)
    if rotation.cycle is not None and rotation.cycle <= MAX_CYCLE:
        load_span = rotation.cycle * math.ceil(span / rotation.cycle)
    else:
        load_span = span
    end, load_end = (_later(start, length, rotation.zone) for length in (span, load_span))
    shifts = rotation.shifts(start, load_end)
    in_window = [s for s in shifts if s.start < end]
    load = load_table(shifts, start, load_end, rotation.zone)
    findings = (coverage(in_window, start, end, rotation.zone) + distinct(in_window, start, end, rotation.zone)
                + engineers(load, min_engineers) + overload(load, max_share, load_span / timedelta(weeks=1))
                + escalation(rotation.escalate_after, escalation_range))
    return RotationReport(rotation.source, rotation.team, start, end, load_end, rotation.escalate_after,
                          shift_frame(shifts), load, tuple(findings), rotation.zone)


def _later(start: datetime, length: timedelta, zone: tzinfo) -> datetime:
    """``length`` after ``start`` by the team's clock (12 weeks from Monday 00:00 end on a Monday 00:00)."""
    return (start.astimezone(zone) + length).astimezone(timezone.utc)


def _clock(start: datetime, end: datetime, zone: tzinfo) -> timedelta:
    """How long [start, end) is by the team's clock: across a DST change a day is still 24 h."""
    return end.astimezone(zone).replace(tzinfo=None) - start.astimezone(zone).replace(tzinfo=None)


def _segments(shifts: list[Shift], start: datetime, end: datetime):
    """(from, to, shifts on during it) for each stretch of [start, end) where nobody comes or goes."""
    cuts = sorted({start, end, *(t for s in shifts for t in (s.start, s.end) if start < t < end)})
    for a, b in pairwise(cuts):
        yield a, b, [s for s in shifts if s.start <= a and b <= s.end]


def _merged(stretches):
    """Adjacent (from, to, key) stretches with the same key as one; keys of None dropped."""
    merged: list[list] = []
    for a, b, key in stretches:
        if merged and merged[-1][1] == a and merged[-1][2] == key:
            merged[-1][1] = b
        else:
            merged.append([a, b, key])
    return [(a, b, key) for a, b, key in merged if key is not None]


def coverage(shifts: list[Shift], start: datetime, end: datetime, zone: tzinfo = timezone.utc) -> list[Finding]:
    """Each stretch of [start, end) where a level has nobody on call (a gap) or more than one (an overlap)."""
    findings = []
    for role in ROLES:
        stretches = []
        for a, b, on in _segments([s for s in shifts if s.role == role], start, end):
            names = tuple(sorted({s.engineer.name for s in on}))
            stretches.append((a, b, names if len(on) != 1 else None))
        for a, b, names in _merged(stretches):
            span = f"from {_at(a, zone)} to {_at(b, zone)} ({_hours(b - a)})"
            if not names:
                findings.append(Finding("coverage", role, f"nobody is {role} {span}",
                                        f"extend a shift or add a {role} shift over that stretch", a, b))
            else:
                findings.append(Finding("coverage", role, f"{' and '.join(names)} are "
                                                          f"{'both' if len(names) == 2 else 'all'} {role} {span}",
                                        "end one shift where the next begins (same TZID, DTEND = next DTSTART)",
                                        a, b))
    return findings


def distinct(shifts: list[Shift], start: datetime, end: datetime, zone: tzinfo = timezone.utc) -> list[Finding]:
    """Each stretch where one engineer is both primary and secondary: then a page has nowhere to escalate."""
    stretches = []
    for a, b, on in _segments(shifts, start, end):
        both = {s.engineer for s in on if s.role == "primary"} & {s.engineer for s in on if s.role == "secondary"}
        stretches.append((a, b, tuple(sorted(e.name for e in both)) or None))
    return [Finding("distinct", name, f"is primary and secondary from {_at(a, zone)} to {_at(b, zone)}",
                    "give one of the two shifts to another engineer (a RECURRENCE-ID override)", a, b)
            for a, b, names in _merged(stretches) for name in names]


def load_table(shifts: list[Shift], start: datetime, end: datetime, zone: tzinfo = timezone.utc) -> pd.DataFrame:
    """Per engineer, hours on each level within [start, end) and the share of it they are on call at all (being
    primary and secondary at once counts once), by the clock of ``zone``; ``LOAD_COLUMNS``, most loaded first."""
    import pandas as pd

    engineers_on: dict[Engineer, list[Shift]] = defaultdict(list)
    for s in shifts:
        engineers_on[s.engineer].append(s)
    rows = []
    for engineer, own in engineers_on.items():
        hours = {role: sum((_clock(max(s.start, start), min(s.end, end), zone) for s in own
                            if s.role == role and s.start < end and s.end > start), timedelta()) for role in ROLES}
        on_call = sum((_clock(a, b, zone) for a, b, on in _segments(own, start, end) if on), timedelta())
        if on_call:
            rows.append((engineer.name, engineer.email, hours["primary"] / timedelta(hours=1),
                         hours["secondary"] / timedelta(hours=1), on_call / _clock(start, end, zone)))
    frame = pd.DataFrame(rows, columns=LOAD_COLUMNS)
    return frame.sort_values(["share", "engineer"], ascending=[False, True], ignore_index=True)


def engineers(load: pd.DataFrame, min_engineers: int = SINGLE_SITE_ENGINEERS) -> list[Finding]:
    """A finding when fewer than ``min_engineers`` people take shifts (``load`` from ``load_table``)."""
    if len(load) >= min_engineers:
        return []
    return [Finding("engineers", "rotation", f"{len(load)} engineers take shifts, fewer than {min_engineers} "
                                             "(SRE book ch. 11: 8 for a single-site team, 6 per site for two sites)",
                    f"add {min_engineers - len(load)} engineer(s) to the rotation, a primary and a secondary "
                    "series each")]


def overload(load: pd.DataFrame, max_share: float = MAX_ON_CALL_SHARE, weeks: float | None = None) -> list[Finding]:
    """A finding per engineer on call more than ``max_share`` of the load window (``load`` from ``load_table``,
    ``weeks`` its length for the message); the fix names the least loaded engineer to hand shifts to."""
    if load.empty:
        return []
    lightest = load.iloc[-1]
    window = f"the {weeks:g} weeks" if weeks else "the time"
    return [Finding("load", row.engineer, f"on call {row.share:.1%} of {window}, more than "
                                          f"{max_share:.0%} (SRE book ch. 11)",
                    f"hand some of their shifts to {lightest.engineer} (on call {lightest.share:.1%})")
            for row in load.itertuples() if row.share > max_share]


def escalation(escalate_after: timedelta | None,
               allowed: tuple[timedelta, timedelta] = ESCALATION_RANGE) -> list[Finding]:
    """A finding when the rotation does not say when a page escalates, or says a time outside ``allowed``."""
    low, high = allowed
    if escalate_after is None:
        return [Finding("escalation", ESCALATION_PROPERTY, "the rotation does not say when an unacknowledged page "
                                                           "goes to the secondary",
                        f"add {ESCALATION_PROPERTY}:PT15M to the VCALENDAR")]
    if low <= escalate_after <= high:
        return []
    problem = (f"{_minutes(escalate_after)} is shorter than the {_minutes(low)} a primary has to respond"
               if escalate_after < low else
               f"{_minutes(escalate_after)} leaves a page unanswered longer than {_minutes(high)}")
    return [Finding("escalation", ESCALATION_PROPERTY, problem + " (SRE book ch. 11 response times)",
                    f"set {ESCALATION_PROPERTY} between PT{low // timedelta(minutes=1)}M and "
                    f"PT{high // timedelta(minutes=1)}M")]


def _at(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def _hours(span: timedelta) -> str:
    return f"{span / timedelta(hours=1):g} h"


def _minutes(span: timedelta) -> str:
    return f"{span / timedelta(minutes=1):g} min"
