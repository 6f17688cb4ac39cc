"""A mob-programming timer: who drives, who navigates, and when to rotate.

The schedule is pure arithmetic over a saved session (plan, start time,
paused intervals, skips, members stepping away and back), so the same file
gives the same driver and the same remaining seconds after a kernel restart.
``MobTimer`` is a thin ipywidgets view over that arithmetic. The file is the
one state: every change (a button or a call, from any timer on the file)
reads it, changes it and writes it back under a lock, and every view redraws
from it. A turn ends by time, so whichever view or command first reads the
session after it ended writes the mob's record of it (``record_rotations``:
the rotation log and a notebook snapshot, once per turn; the files are
kit.mobrecord's).
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import math
import os
import struct
import threading
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from numbers import Integral, Real
from pathlib import Path

import ipywidgets as widgets

from . import mobrecord, polling
from .atomicfile import folder_locked, write_atomically
from .config import Config
from .errors import InvalidInput, KitError

CUE_SECONDS = 15.0
"""How long the "Rotate!" banner stays up after a rotation, in active seconds."""

FILE_VERSION = 1

Clock = Callable[[], float]
Pause = tuple[float, float | None]
Stretch = tuple[float, bool]
"""(minutes, on_break): one stretch of a schedule a session plan sets (kit.community.sessionplan)."""


def _check_minutes(name: str, value: object, *, allow_zero: bool) -> float:
    bound = "0 or more" if allow_zero else "more than 0"
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidInput(name, f"{value!r} is not a number of minutes; use a number {bound}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(name, f"{value!r} is not allowed; use a number of minutes {bound}")
    return float(value)


@dataclass(frozen=True)
class MobPlan:
    """Who is in the mob and how long turns and breaks last; checked once, here.

    ``schedule`` is followed first, stretch by stretch: turns and breaks of their own lengths, as a session plan
    from the facilitator's guide sets them (``SessionPlan.mob_schedule``). After it, or without one, turns last
    ``turn_minutes`` with a break of ``break_minutes`` after every ``break_every`` turns.
    """

    roster: tuple[str, ...]
    turn_minutes: float = 7.0
    break_every: int = 5
    break_minutes: float = 10.0
    schedule: tuple[Stretch, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.roster, str) or not isinstance(self.roster, Iterable):
            raise InvalidInput("roster", "give a list of at least 2 names, e.g. ['Ana', 'Ben']")
        names = tuple(self.roster)
        if any(not isinstance(name, str) or not name.strip() for name in names):
            raise InvalidInput("roster", f"every name must be non-empty text; got {list(names)!r}")
        names = tuple(name.strip() for name in names)
        if len(names) < 2:
            raise InvalidInput("roster", f"a mob needs at least 2 people; got {len(names)}")
        seen: set[str] = set()
        for name in names:
            if name.casefold() in seen:
                raise InvalidInput("roster", f"names must be distinct; {name!r} appears twice")
            seen.add(name.casefold())
        object.__setattr__(self, "roster", names)
        object.__setattr__(self, "turn_minutes", _check_minutes("turn_minutes", self.turn_minutes, allow_zero=False))
        object.__setattr__(self, "break_minutes", _check_minutes("break_minutes", self.break_minutes, allow_zero=True))
        if isinstance(self.break_every, bool) or not isinstance(self.break_every, Integral) or self.break_every < 0:
            raise InvalidInput(
                "break_every", f"{self.break_every!r} is not allowed; use a whole number of turns, 0 or more (0 = no breaks)"
            )
        object.__setattr__(self, "break_every", int(self.break_every))
        object.__setattr__(self, "schedule", _check_schedule(self.schedule))

    @property
    def has_breaks(self) -> bool:
        return self.break_every > 0 and self.break_minutes > 0

    def segment(self, index: int) -> tuple[int, bool, float]:
        """(turn, on_break, seconds) of the index-th stretch; during a break, turn is the one after it."""
        head = len(self.schedule)
        if index < head:
            minutes, on_break = self.schedule[index]
            return sum(not b for _, b in self.schedule[:index]), on_break, minutes * 60
        turn, on_break, seconds = self._cycle(index - head)
        return turn + sum(not b for _, b in self.schedule), on_break, seconds

    def _cycle(self, index: int) -> tuple[int, bool, float]:
        """``segment`` of the regular turns and breaks, counted from the end of the schedule."""
        if not self.has_breaks:
            return index, False, self.turn_minutes * 60
        cycle, position = divmod(index, self.break_every + 1)
        if position == self.break_every:
            return (cycle + 1) * self.break_every, True, self.break_minutes * 60
        return cycle * self.break_every + position, False, self.turn_minutes * 60


def _check_schedule(schedule: object) -> tuple[Stretch, ...]:
    """The schedule as (minutes, on_break) pairs; it opens with a turn and never has two breaks in a row."""
    if isinstance(schedule, (str, bytes)) or not isinstance(schedule, Iterable):
        raise InvalidInput("schedule", "give a list of (minutes, on_break) pairs, e.g. [(15, False), (5, True)]")
    stretches: list[Stretch] = []
    for i, item in enumerate(schedule):
        if isinstance(item, (str, bytes)) or not isinstance(item, Iterable) or len(pair := tuple(item)) != 2 \
                or not isinstance(pair[1], bool):
            raise InvalidInput(f"schedule[{i}]", f"{item!r} is not a (minutes, on_break) pair")
        minutes = _check_minutes(f"schedule[{i}]", pair[0], allow_zero=False)
        if pair[1] and (not stretches or stretches[-1][1]):
            raise InvalidInput(f"schedule[{i}]", "a break must follow a turn: the schedule opens with a turn "
                                                 "and never has two breaks in a row")
        stretches.append((minutes, pair[1]))
    return tuple(stretches)


@dataclass(frozen=True)
class MobMoment:
    """Everything a view needs to draw the timer at one instant."""

    turn: int
    on_break: bool
    driver: str
    navigator: str
    researchers: tuple[str, ...]
    seconds_left: float
    rotated: bool
    started: bool
    paused: bool
    away: tuple[str, ...] = ()
    """Members who stepped away, in roster order: the rotation passes them over until they are back."""
    cycles: int = 0
    """Full cycles so far: a cycle ends with the turn after which every member present has driven once."""
    retro: bool = False
    """A retro is due: a cycle ended since the mob last dismissed the retro prompt."""

    @property
    def next_driver(self) -> str:
        """Who drives after this turn (after a break: after the turn that follows it): the navigator."""
        return self.navigator

    @property
    def cue(self) -> str:
        """Banner text: a rotation or a break must be impossible to miss; otherwise empty."""
        if self.on_break:
            return f"Break! Back in {format_seconds(self.seconds_left)}, then {self.driver} drives"
        if self.rotated:
            return f"Rotate! {self.driver} drives now, {self.navigator} navigates"
        return ""


def format_seconds(seconds: float) -> str:
    """m:ss (or h:mm:ss), rounded up so 0:00 only shows when time is really up."""
    total = max(0, math.ceil(seconds - 1e-9))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def active_seconds(started_at: float | None, now: float, pauses: Sequence[Pause] = ()) -> float:
    """Seconds the mob has actually been working: wall time since start minus paused time."""
    if started_at is None or now <= started_at:
        return 0.0
    total = now - started_at
    for begin, end in pauses:
        end = now if end is None else end
        total -= max(0.0, min(end, now) - max(begin, started_at))
    return max(0.0, total)


@dataclass(frozen=True)
class Presence:
    """A member stepping away (``away``) or coming back, ``at`` active seconds, after ``after_skips`` skips.

    The skip count orders a change against a skip made at the same active second (while paused, time stands
    still): whether the driver stepped away before or after Skip decides who drives next.
    """

    name: str
    at: float
    away: bool
    after_skips: int


@dataclass(frozen=True)
class Turn:
    """A driver's turn as the schedule has it: ``number`` from 0, ``start``/``end`` in active seconds.

    ``driver`` and ``navigator`` are those at the turn's end (a driver who steps away mid-turn hands over at
    once); ``skipped`` says Skip ended it rather than time; ``away`` who was away at its end, roster order.
    """

    number: int
    driver: str
    navigator: str
    start: float
    end: float
    skipped: bool
    away: tuple[str, ...]


@dataclass(frozen=True)
class _Place:
    """Where the walk stopped: the stretch holding ``elapsed`` and the rotation state there."""

    index: int
    start: float
    end: float
    order: tuple[str, ...]
    away: tuple[str, ...]
    cycles: int


def _order(roster: Sequence[str], present: set[str], cursor: int) -> tuple[str, ...]:
    """The members present, in rotation order from roster position ``cursor``: driver, navigator, researchers."""
    n = len(roster)
    return tuple(roster[(cursor + i) % n] for i in range(n) if roster[(cursor + i) % n] in present)


def _walk(plan: MobPlan, elapsed: float, skips: Sequence[float], presence: Sequence[Presence],
          keep_from: int | None = None) -> tuple[_Place, list[Turn]]:
    """Replay the session up to ``elapsed`` active seconds; the turns from number ``keep_from`` that ended.

    Each turn's driver is the first member present at or after the roster position following the previous
    driver, so a member away is passed over and, once back, takes their place in the order again. A turn's
    driver stays for the whole turn unless they step away (the next one present takes over). Skips and
    presence changes are replayed in the order they happened; once none is left and the rotation has settled
    (a full cycle since the last change), whole periods are skipped by arithmetic, so a long session costs
    no more than a short one.
    """
    events: list[tuple[tuple[float, int, int], Presence | None]] = [
        ((s, i, 1), None) for i, s in enumerate(skips) if s <= elapsed]
    events += [((p.at, p.after_skips, 0), p) for p in presence if p.at <= elapsed]
    events.sort(key=lambda e: e[0])
    roster = plan.roster
    present = set(roster)
    per_cycle = plan.break_every + 1 if plan.has_breaks else 1
    turns_per_cycle = plan.break_every if plan.has_breaks else 1
    head = len(plan.schedule)  # the scheduled stretches are replayed one by one; the arithmetic starts after them
    cycle_seconds = sum(plan.segment(head + i)[2] for i in range(per_cycle))
    index, start, j, cursor, cycles = 0, 0.0, 0, 0, 0
    drove: set[str] = set()
    settled = True
    finished: list[Turn] = []
    while True:
        if j == len(events) and settled and index >= head and (index - head) % per_cycle == 0:
            period = math.lcm(turns_per_cycle, len(present))  # turns after which the whole state repeats
            jumps = int((elapsed - start) // (period // turns_per_cycle * cycle_seconds))
            if keep_from is not None:
                jumps = min(jumps, max(0, (keep_from - plan.segment(index)[0]) // period))
            index += jumps * (period // turns_per_cycle) * per_cycle
            start += jumps * (period // turns_per_cycle) * cycle_seconds
            cycles += jumps * (period // len(present))
        turn, on_break, seconds = plan.segment(index)
        end, skipped = start + seconds, False
        driver = _order(roster, present, cursor)[0]
        while j < len(events) and events[j][0][0] < end:
            (at, _, _), change = events[j]
            j += 1
            if change is None:
                end, skipped = max(at, start), True
                break
            if change.away:
                present.discard(change.name)
                if change.name == driver:
                    driver = _order(roster, present, roster.index(driver) + 1)[0]
            else:
                present.add(change.name)
            settled = False
        order = _order(roster, present, cursor if on_break else roster.index(driver))
        away = tuple(name for name in roster if name not in present)
        if elapsed < end:
            return _Place(index, start, end, order, away, cycles), finished
        if not on_break:
            if keep_from is None or turn >= keep_from:
                finished.append(Turn(turn, order[0], order[1], start, end, skipped, away))
            drove.add(order[0])
            if drove >= present:
                cycles, drove, settled = cycles + 1, set(), True
            cursor = (roster.index(order[0]) + 1) % len(roster)
        index, start = index + 1, end


def moment_at(
    plan: MobPlan,
    started_at: float | None,
    now: float,
    pauses: Sequence[Pause] = (),
    skips: Sequence[float] = (),
    cue_seconds: float = CUE_SECONDS,
    *,
    presence: Sequence[Presence] = (),
    retro_seen: int = 0,
) -> MobMoment:
    """The timer's state at ``now``; ``skips`` are active-second offsets where someone pressed Skip.

    ``presence`` are the members' stepping away and coming back; ``retro_seen`` how many cycles' retro
    prompts the mob has dismissed.
    """
    elapsed = active_seconds(started_at, now, pauses)
    place, _ = _walk(plan, elapsed, skips, presence)
    turn, on_break, _ = plan.segment(place.index)
    return MobMoment(
        turn=turn,
        on_break=on_break,
        driver=place.order[0],
        navigator=place.order[1],
        researchers=place.order[2:],
        seconds_left=place.end - elapsed,
        rotated=not on_break and turn > 0 and elapsed - place.start < cue_seconds,
        started=started_at is not None,
        paused=started_at is not None and any(e is None and b <= now for b, e in pauses),
        away=place.away,
        cycles=place.cycles,
        retro=place.cycles > retro_seen,
    )


def wall_time(started_at: float, offset: float, pauses: Sequence[Pause] = ()) -> float:
    """The wall-clock moment (Unix seconds) the mob had worked ``offset`` active seconds: the inverse of
    ``active_seconds``, the earliest such moment (a skip made during a pause is at the pause's start)."""
    wall, left = started_at, offset
    for begin, end in sorted(pauses, key=lambda p: p[0]):
        begin = max(begin, wall)
        if wall + left <= begin:
            break
        left -= begin - wall
        if end is None:
            return begin
        wall = max(end, begin)
    return wall + left


@dataclass(frozen=True)
class MobSession:
    """The whole saved state of a timer; every change returns a new session so it can be written at once.

    ``presence`` records members stepping away and back, ``retro_seen`` how many cycles' retro prompts were
    dismissed, ``notebook`` the notebook the mob works in (absolute path; where snapshots copy from).
    """

    plan: MobPlan
    started_at: float | None = None
    pauses: tuple[Pause, ...] = ()
    skips: tuple[float, ...] = ()
    presence: tuple[Presence, ...] = ()
    retro_seen: int = 0
    notebook: str | None = None

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    @property
    def running(self) -> bool:
        return self.started_at is not None and not self.paused

    @property
    def away(self) -> tuple[str, ...]:
        """Who is away now, in roster order."""
        last = {p.name: p.away for p in self.presence}
        return tuple(name for name in self.plan.roster if last.get(name))

    def start(self, now: float) -> MobSession:
        """Start the clock, or continue it after a pause."""
        if self.started_at is None:
            return replace(self, started_at=now, pauses=())
        if self.paused:
            begin = self.pauses[-1][0]
            return replace(self, pauses=self.pauses[:-1] + ((begin, max(begin, now)),))
        return self

    def pause(self, now: float) -> MobSession:
        """Stop the clock without losing the turn; paused time never counts."""
        if not self.running:
            return self
        return replace(self, pauses=self.pauses + ((now, None),))

    def skip(self, now: float, turn: int | None = None) -> MobSession:
        """End the current turn (or break) now, so the navigator drives.

        With ``turn`` (0-based), only if that turn is still on: a second press of a
        view that showed turn ``turn`` does not skip the turn after it too.
        """
        if turn is not None and self.moment(now).turn != turn:
            return self
        offset = active_seconds(self.started_at, now, self.pauses)
        return replace(self, skips=self.skips + (offset,))

    def member(self, name: str) -> str:
        """The roster's spelling of ``name`` (any case); InvalidInput naming the roster if it is not in it."""
        for member in self.plan.roster:
            if member.casefold() == str(name).strip().casefold():
                return member
        raise InvalidInput("name", f"{name!r} is not in the mob; the roster is {', '.join(self.plan.roster)}")

    def step_away(self, name: str, now: float) -> MobSession:
        """``name`` steps away: the rotation passes them over until ``come_back``; a driver away hands over now.

        Raises InvalidInput for a name not in the roster, or if fewer than 2 people would be left to rotate.
        """
        member = self.member(name)
        if member in self.away:
            return self
        if len(self.plan.roster) - len(self.away) <= 2:
            raise InvalidInput("name", f"{member} cannot step away: a mob needs at least 2 people in the rotation "
                                       f"(away now: {', '.join(self.away) or 'nobody'}); bring someone back first")
        return self._presence(member, now, away=True)

    def come_back(self, name: str, now: float) -> MobSession:
        """``name`` is back: they take their place in the rotation order again from the next turn on."""
        member = self.member(name)
        return self._presence(member, now, away=False) if member in self.away else self

    def _presence(self, member: str, now: float, *, away: bool) -> MobSession:
        change = Presence(member, active_seconds(self.started_at, now, self.pauses), away, len(self.skips))
        return replace(self, presence=self.presence + (change,))

    def dismiss_retro(self, now: float) -> MobSession:
        """The mob had its retro: hide the prompt until the next cycle ends."""
        return replace(self, retro_seen=self.moment(now).cycles)

    def reset(self) -> MobSession:
        """Back to turn 1, not started, same plan; who is away stays away."""
        return MobSession(self.plan, presence=tuple(Presence(name, 0.0, True, 0) for name in self.away),
                          notebook=self.notebook)

    def moment(self, now: float, cue_seconds: float = CUE_SECONDS) -> MobMoment:
        return moment_at(self.plan, self.started_at, now, self.pauses, self.skips, cue_seconds,
                         presence=self.presence, retro_seen=self.retro_seen)

    def turns(self, now: float, since: int = 0) -> list[Turn]:
        """The turns numbered ``since`` (0-based) or later that have ended by ``now``, oldest first."""
        if self.started_at is None:
            return []
        elapsed = active_seconds(self.started_at, now, self.pauses)
        return _walk(self.plan, elapsed, self.skips, self.presence, keep_from=since)[1]

    def current_turn(self, now: float) -> Turn | None:
        """The turn on at ``now``, ending now (None before the start and during a break)."""
        if self.started_at is None:
            return None
        elapsed = active_seconds(self.started_at, now, self.pauses)
        place, _ = _walk(self.plan, elapsed, self.skips, self.presence)
        turn, on_break, _ = self.plan.segment(place.index)
        if on_break:
            return None
        return Turn(turn, place.order[0], place.order[1], place.start, elapsed, False, place.away)

    def to_json(self) -> dict:
        plan = {
            "roster": list(self.plan.roster),
            "turn_minutes": self.plan.turn_minutes,
            "break_every": self.plan.break_every,
            "break_minutes": self.plan.break_minutes,
        }
        if self.plan.schedule:
            plan["schedule"] = [list(stretch) for stretch in self.plan.schedule]
        return {
            "version": FILE_VERSION,
            "plan": plan,
            "started_at": self.started_at,
            "pauses": [list(p) for p in self.pauses],
            "skips": list(self.skips),
            "presence": [{"name": p.name, "at": p.at, "away": p.away, "after_skips": p.after_skips}
                         for p in self.presence],
            "retro_seen": self.retro_seen,
            "notebook": self.notebook,
        }

    @classmethod
    def from_json(cls, data: object) -> MobSession:
        """Rebuild a session, raising ValueError on anything a person could not have saved.

        ``presence``, ``retro_seen``, ``notebook`` and the plan's ``schedule`` may be missing (files saved
        before they existed).
        """
        if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
            raise ValueError(f"expected an object with \"version\": {FILE_VERSION}")
        plan_data = data.get("plan")
        if not isinstance(plan_data, dict) or not (
                {"roster", "turn_minutes", "break_every", "break_minutes"} <= set(plan_data)
                <= {"roster", "turn_minutes", "break_every", "break_minutes", "schedule"}):
            raise ValueError("\"plan\" must hold roster, turn_minutes, break_every and break_minutes "
                             "(and may hold schedule)")
        if not isinstance(plan_data["roster"], list):
            raise ValueError("\"plan.roster\" must be a list of names")
        plan = MobPlan(**plan_data)
        started_at = data.get("started_at")
        if started_at is not None and not _is_time(started_at):
            raise ValueError("\"started_at\" must be a number or null")
        pauses = data.get("pauses")
        if not isinstance(pauses, list) or not all(
            isinstance(p, list) and len(p) == 2 and _is_time(p[0]) and (p[1] is None or _is_time(p[1])) for p in pauses
        ):
            raise ValueError("\"pauses\" must be a list of [begin, end-or-null] pairs")
        if any(p[1] is None for p in pauses[:-1]):
            raise ValueError("only the last pause may still be open")
        skips = data.get("skips")
        if not isinstance(skips, list) or not all(_is_time(s) for s in skips):
            raise ValueError("\"skips\" must be a list of numbers")
        presence = _presence_from_json(data.get("presence", []), plan)
        retro_seen = data.get("retro_seen", 0)
        if isinstance(retro_seen, bool) or not isinstance(retro_seen, int) or retro_seen < 0:
            raise ValueError("\"retro_seen\" must be a whole number, 0 or more")
        notebook = data.get("notebook")
        if notebook is not None and not isinstance(notebook, str):
            raise ValueError("\"notebook\" must be a path or null")
        return cls(plan, started_at, tuple((p[0], p[1]) for p in pauses), tuple(skips), presence, retro_seen, notebook)


def _presence_from_json(items: object, plan: MobPlan) -> tuple[Presence, ...]:
    """Stepping away and back as saved: roster names, alternating per name, never fewer than 2 left to rotate."""
    if not isinstance(items, list) or not all(
        isinstance(p, dict) and set(p) == {"name", "at", "away", "after_skips"} and p["name"] in plan.roster
        and _is_time(p["at"]) and isinstance(p["away"], bool) and isinstance(p["after_skips"], int)
        and not isinstance(p["after_skips"], bool) for p in items
    ):
        raise ValueError("\"presence\" must be a list of {name, at, away, after_skips} for names in the roster")
    away: set[str] = set()
    for p in items:
        if p["away"] == (p["name"] in away):
            raise ValueError(f"\"presence\" has {p['name']} {'stepping away' if p['away'] else 'coming back'} twice in a row")
        (away.add if p["away"] else away.discard)(p["name"])
        if len(plan.roster) - len(away) < 2:
            raise ValueError("\"presence\" leaves fewer than 2 people in the rotation")
    return tuple(Presence(p["name"], p["at"], p["away"], p["after_skips"]) for p in items)


def _is_time(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def default_path() -> Path:
    """Where the session lives unless told otherwise: the per-user kit state directory."""
    return Config.from_env().paths.mob_session


def _reset_hint(path: Path) -> str:
    return f"To start over, delete it (rm '{path}') or pass fresh=True: MobTimer(roster=[...], path=..., fresh=True)."


def save_session(session: MobSession, path: Path) -> None:
    """Write atomically so a crash mid-write never leaves half a file behind."""
    text = json.dumps(session.to_json(), indent=2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)
    except OSError as error:
        raise KitError(f"cannot save the mob session to {path}: {error.strerror or error}; pass path= to a writable file") from None


def _session_lock(path: Path):
    """One change at a time to a session file, whichever kernel, timer or thread makes it."""
    return folder_locked(path.parent, lambda error: KitError(
        f"cannot save the mob session to {path}: {error.strerror or error}; pass path= to a writable file"))


def change_session(path: Path, update: Callable[[MobSession], MobSession], default: MobSession) -> MobSession:
    """Read the session on disk (``default`` if there is none), apply ``update`` and save it, under one lock."""
    with _session_lock(path):
        session = update(load_session(path) or default)
        save_session(session, path)
        return session


def _file_key(path: Path) -> tuple[int, int, int] | None:
    """Changes whenever the file is replaced (``save_session`` writes a new file each time)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@functools.cache
def chime_wav(seconds: float = 0.35, rate: int = 8000) -> bytes:
    """A short two-note chime (E6 then A5, 16-bit mono WAV) that says "rotate" to people not looking at the screen."""
    frames = bytearray()
    count = int(seconds * rate)
    for i in range(count):
        t = i / rate
        pitch = 1318.5 if i < count // 2 else 880.0
        fade = 1.0 - (i % (count // 2)) / (count // 2)
        frames += struct.pack("<h", int(12000 * fade * math.sin(2 * math.pi * pitch * t)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def cue_html(key: str) -> str:
    """An audio element that plays the chime once as the browser shows it; ``key`` makes each cue a new element."""
    data = base64.b64encode(chime_wav()).decode("ascii")
    return f"<audio class='kit-mob-chime' data-cue='{html.escape(key)}' autoplay src='data:audio/wav;base64,{data}'></audio>"


def load_session(path: Path) -> MobSession | None:
    """The saved session, or None if there is none; a damaged file is a KitError that says how to reset."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise KitError(f"cannot read the mob session file {path}: {error}. {_reset_hint(path)}") from None
    try:
        return MobSession.from_json(json.loads(text))
    except (ValueError, TypeError) as error:
        raise KitError(f"the mob session file {path} is damaged ({error}). {_reset_hint(path)}") from None


CATCH_UP_TURNS = 100
"""At most how many turns one catch-up logs: a session left running for days logs its last ones only (the
gap shows in the turn numbers); nobody had a timer open in the others, so no cell was run in them."""


def record_rotations(path: Path, now: float, *, closing: bool = False,
                     keep: int = mobrecord.SNAPSHOTS_KEPT) -> list[mobrecord.TurnRecord]:
    """Log every turn of ``path``'s session that ended since the last one logged, and snapshot its notebook.

    Any timer view, kernel or command may call this whenever it reads the session: under the session's lock
    it reads the log first, so each turn is written once however many views notice the rotation. The
    notebook (``MobSession.notebook``) is copied once per call that logs a turn, and that copy's number is
    put on the last turn logged. ``closing`` also ends the turn on now (a reset, a new plan): it is logged as
    ended by "reset". Returns the turns written (none before the start), at most ``CATCH_UP_TURNS`` + 1.
    Raises KitError if a file cannot be read or written.
    """
    with _session_lock(path):
        session = load_session(path)
        if session is None or session.started_at is None:
            return []
        since = max(mobrecord.turns_logged(path, session.started_at), session.moment(now).turn - CATCH_UP_TURNS)
        turns = [(t, "skip" if t.skipped else "time") for t in session.turns(now, since)]
        current = session.current_turn(now) if closing else None
        if current is not None and current.number >= since:
            turns.append((current, "reset"))
        if not turns:
            return []
        snapshot = None
        if session.notebook:
            snapshot = mobrecord.take_snapshot(mobrecord.snapshots_dir(path), session.notebook, at=now,
                                               reason=f"turn {turns[-1][0].number + 1} ended", keep=keep)
        records = _turn_records(path, session, turns, now)
        if snapshot is not None:
            records[-1] = replace(records[-1], snapshot=snapshot.number)
        mobrecord.append_turns(path, records)
        return records


def _turn_records(path: Path, session: MobSession, turns: Sequence[tuple[Turn, str]],
                  now: float) -> list[mobrecord.TurnRecord]:
    """The log lines of ``turns`` (each with how it ended, "" while on), their cell runs read from the file."""
    assert session.started_at is not None
    walls = [(wall_time(session.started_at, t.start, session.pauses),
              wall_time(session.started_at, t.end, session.pauses) if how else None) for t, how in turns]
    runs = mobrecord.read_runs(path, walls[0][0]) if walls else []
    records = []
    for (turn, how), (started, ended) in zip(turns, walls):
        mine = [r for r in runs if started <= r.at and (ended is None or r.at < ended)]
        cells, count, exercises = mobrecord.summarize(mine)
        notebooks = list(dict.fromkeys(r.notebook for r in mine if r.notebook)) or [session.notebook]
        records.append(mobrecord.TurnRecord(
            session.started_at, turn.number + 1, turn.driver, turn.navigator, started, ended, how, cells, count,
            exercises, turn.away, notebooks[-1], None))
    return records


def rotation_log(path: str | os.PathLike[str] | None = None, *, clock: Clock = time.time):
    """The mob's contribution record as a pandas DataFrame, one row per turn, oldest first.

    Logs any turn that ended unnoticed first (``record_rotations``), and adds the turn on now as a last row
    (``how`` "on", ``ended`` NaT). Columns: see ``kit.mobrecord.frame``. An empty frame with those columns
    when there is no log yet.
    """
    session_path = Path(path) if path is not None else default_path()
    now = clock()
    record_rotations(session_path, now)
    turns = mobrecord.read_turns(session_path)
    session = load_session(session_path)
    current = session.current_turn(now) if session is not None else None
    if session is not None and current is not None and current.number >= mobrecord.turns_logged(session_path, session.started_at):
        turns += _turn_records(session_path, session, [(current, "")], now)
    return mobrecord.frame(turns, now)


def snapshots(path: str | os.PathLike[str] | None = None) -> list[mobrecord.Snapshot]:
    """The notebook snapshots of the session at ``path`` (the default session if None), oldest first."""
    return mobrecord.list_snapshots(mobrecord.snapshots_dir(Path(path) if path is not None else default_path()))


def restore_snapshot(number: int, path: str | os.PathLike[str] | None = None, *, clock: Clock = time.time,
                     keep: int = mobrecord.SNAPSHOTS_KEPT) -> mobrecord.Restored:
    """Put snapshot ``number`` back over its notebook; the notebook as it was becomes a snapshot first.

    Under the session's lock, so a rotation's snapshot never takes the same number. Raises InvalidInput for
    an unknown number (naming those there are), KitError if a file cannot be read or written.
    """
    session_path = Path(path) if path is not None else default_path()
    with _session_lock(session_path):
        return mobrecord.restore_snapshot(mobrecord.snapshots_dir(session_path), number, at=clock(), keep=keep)


RETRO_QUESTIONS = (
    "What helped us most this round?",
    "What slowed us down or confused us?",
    "Did everyone get to think aloud? Who should we hear more from?",
    "What one thing do we try differently next round?",
)
"""The short retro a mob holds after a full cycle (every member present has driven once)."""


_STYLES = {
    "idle": ("#57606a", "#f6f8fa"),
    "running": ("#0a3069", "#ddf4ff"),
    "paused": ("#57606a", "#eaeef2"),
    "rotate": ("#ffffff", "#bf3989"),
    "break": ("#ffffff", "#1a7f37"),
}


class MobTimer(widgets.VBox):
    """The timer as a notebook widget; all timing comes from ``MobSession``, this only draws and saves.

    Passing the same roster and timings again (e.g. re-running the cell after a
    kernel restart) continues the saved session; a different plan starts a new one.
    ``clock`` returns wall-clock seconds, because a session must outlive the kernel.
    Every timer on the same file shows and changes the same session. A rotation
    or a break is also heard: a short chime, unless ``sound`` is False or the
    widget's sound toggle is off.

    Unless ``record`` is False, the timer keeps the mob's record beside the session file
    (see kit.mobrecord): the cells this kernel runs, a log line per turn, and a snapshot of
    ``notebook`` (by default the kernel's own notebook) at every rotation, the newest
    ``keep_snapshots`` kept. After a full cycle it shows a short retro until dismissed.

    ``schedule`` makes the timer follow a session plan's turns and breaks first (see ``MobPlan``), e.g.
    ``schedule=kit.community.sessionplan.session_plan("00-mob-and-sandbox", 90).mob_schedule()``.
    """

    def __init__(
        self,
        roster: Sequence[str] | None = None,
        turn_minutes: float = 7,
        break_every: int = 5,
        break_minutes: float = 10,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock = time.time,
        fresh: bool = False,
        tick: bool = True,
        sound: bool = True,
        notebook: str | os.PathLike[str] | None = None,
        record: bool = True,
        keep_snapshots: int = mobrecord.SNAPSHOTS_KEPT,
        schedule: Iterable[Stretch] = (),
    ) -> None:
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._path = Path(path) if path is not None else default_path()
        self._clock = clock
        self._lock = threading.RLock()
        self._segment: tuple[int, bool] | None = None
        self._shown_turn: int | None = None
        self._record_turns = record
        self._keep = keep_snapshots
        self._logged: tuple | None = None
        self.cues = 0
        """How many rotation or break cues this timer has sounded."""
        saved = None if fresh else load_session(self._path)
        if roster is None:
            if saved is None:
                raise InvalidInput("roster", f"no saved mob session at {self._path}; start one with MobTimer(roster=['Ana', 'Ben', ...])")
            self._session = saved
        else:
            plan = MobPlan(roster, turn_minutes, break_every, break_minutes, tuple(schedule))
            self._session = saved if saved is not None and saved.plan == plan else MobSession(plan)
            if self._session is not saved:
                if record and saved is not None:
                    record_rotations(self._path, clock(), closing=True, keep=keep_snapshots)
                with _session_lock(self._path):
                    save_session(self._session, self._path)
        where = str(Path(notebook).resolve()) if notebook is not None else mobrecord.kernel_notebook()
        if record and where is not None:
            mobrecord.watch_cells(self._path, where, clock)
            if self._session.notebook != where:
                self._session = change_session(self._path, lambda s: replace(s, notebook=where), self._session)
        self._seen = _file_key(self._path)
        self._build()
        self.sound.value = bool(sound)
        self.refresh()
        if tick:
            self._ticker = threading.Thread(target=self._tick, name="mob-timer", daemon=True)
            self._ticker.start()

    @classmethod
    def resume(cls, path: str | os.PathLike[str] | None = None, *, clock: Clock = time.time, tick: bool = True) -> MobTimer:
        """Bring back the saved session, e.g. after a kernel restart."""
        return cls(path=path, clock=clock, tick=tick)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def session(self) -> MobSession:
        """The session as it is in the file now, whoever changed it last."""
        with self._lock:
            self._reload()
            return self._session

    def moment(self) -> MobMoment:
        """Who drives and how long is left, right now."""
        return self.session.moment(self._clock())

    def start(self) -> None:
        """Start, or continue after Pause."""
        self._change(lambda s, now: s.start(now))

    def pause(self) -> None:
        self._change(lambda s, now: s.pause(now))

    def skip(self, turn: int | None = None) -> None:
        """Rotate now: the navigator drives. With ``turn`` (0-based), only if that turn is still on."""
        self._change(lambda s, now: s.skip(now, turn))

    def reset(self) -> None:
        """Back to the first driver with a full turn, stopped; the turn on is logged as ended by the reset."""
        if self._record_turns:
            record_rotations(self._path, self._clock(), closing=True, keep=self._keep)
        self._change(lambda s, now: s.reset())

    def step_away(self, name: str) -> None:
        """``name`` steps away: passed over by the rotation until ``come_back``. InvalidInput as MobSession's."""
        self._change(lambda s, now: s.step_away(name, now))

    def come_back(self, name: str) -> None:
        """``name`` is back in the rotation from the next turn on."""
        self._change(lambda s, now: s.come_back(name, now))

    def dismiss_retro(self) -> None:
        """The mob had its retro: hide the prompt until the next full cycle."""
        self._change(lambda s, now: s.dismiss_retro(now))

    def log(self):
        """The rotation log as a DataFrame (see ``rotation_log``), the turn on now included."""
        return rotation_log(self._path, clock=self._clock)

    def snapshots(self) -> list[mobrecord.Snapshot]:
        """The notebook snapshots taken at rotations, oldest first."""
        return snapshots(self._path)

    def close(self) -> None:
        """Stop ticking, then close the widgets."""
        self._stop.set()
        close_children(self)
        super().close()

    def refresh(self) -> MobMoment:
        """Redraw from the clock and the session file; the ticker calls this every second."""
        with self._lock:
            self._reload()
            session = self._session
            m = session.moment(self._clock())
            plan = session.plan
            kind = "break" if m.on_break else "rotate" if m.rotated else "paused" if m.paused else "running" if m.started else "idle"
            color, background = _STYLES[kind]
            label = "Break" if m.on_break else f"Turn {m.turn + 1}"
            state = " (paused)" if m.paused else "" if m.started else " (press Start)"
            self.countdown.value = (
                # the widget's own line height is one line of small text; the digits need their own
                f"<div style='font-size:3.5em;line-height:1.2;font-weight:bold;padding:0.1em 0.4em;border-radius:8px;"
                f"color:{color};background:{background}'>{format_seconds(m.seconds_left)}</div>"
                f"<div>{label}{state}</div>"
            )
            self.banner.value = (
                f"<div style='font-size:1.6em;line-height:1.3;font-weight:bold;padding:0.3em 0.6em;border-radius:6px;"
                f"color:{color};background:{background}'>{html.escape(m.cue)}</div>"
                if m.cue
                else ""
            )
            self.driver_label.value = f"Driver: <b>{html.escape(m.driver)}</b>"
            self.navigator_label.value = f"Navigator: <b>{html.escape(m.navigator)}</b> (drives next)"
            self.researchers_label.value = "Researchers: " + (html.escape(", ".join(m.researchers)) or "(nobody)")
            self.order_label.value = "Order: " + " → ".join(
                f"<b>{html.escape(n)}</b>" if n == m.driver else html.escape(n) for n in plan.roster if n not in m.away
            ) + " → …" + (f" (away: {html.escape(', '.join(m.away))})" if m.away else "")
            self.retro_box.layout.display = "" if m.retro else "none"
            self._show_presence(m)
            self._cue(m)
            self._record(session, m)
            self._shown_turn = m.turn
            self.start_button.description = "Resume" if m.paused else "Start"
            self.start_button.disabled = session.running
            self.pause_button.disabled = not session.running
            return m

    def _reload(self) -> None:
        """Take the session from its file if anyone (another timer, kernel or button) changed it."""
        key = _file_key(self._path)
        if key is None or key == self._seen:
            return
        try:
            saved = load_session(self._path)
        except KitError as error:
            self.problem.value = f"<span style='color:#cf222e'>{html.escape(str(error))}</span>"
            return
        if saved is not None:
            self._session = saved
        self._seen = key

    def _record(self, session: MobSession, m: MobMoment) -> None:
        """Log the turns that ended and snapshot the notebook, once per turn this view sees begin."""
        key = (session.started_at, m.turn, m.on_break)
        if not self._record_turns or not m.started or key == self._logged:
            return
        self._logged = key
        try:
            record_rotations(self._path, self._clock(), keep=self._keep)
        except KitError as error:
            self.problem.value = f"<span style='color:#cf222e'>{html.escape(str(error))}</span>"

    def _show_presence(self, m: MobMoment) -> None:
        """The away button says what pressing it does to the member picked."""
        away = self.member_pick.value in m.away
        self.away_button.description = "Back" if away else "Step away"
        self.away_button.icon = "sign-in" if away else "sign-out"

    def _toggle_presence(self) -> None:
        name = self.member_pick.value
        if name in self.session.away:
            self.come_back(name)
        else:
            self.step_away(name)

    def _cue(self, m: MobMoment) -> None:
        """Chime once when a new turn (after the first) or a break begins; never for the one on show at start."""
        segment = (m.turn, m.on_break) if m.started else None
        if segment != self._segment and self._segment is not None and (m.rotated or m.on_break):
            if self.sound.value:
                self.chime.value = cue_html(f"{m.turn}-{'break' if m.on_break else 'turn'}")
                self.cues += 1
        elif not m.cue:
            self.chime.value = ""
        self._segment = segment

    def _build(self) -> None:
        self.banner = widgets.HTML()
        self.chime = widgets.HTML(layout=widgets.Layout(height="0px", overflow="hidden"))
        self.sound = widgets.ToggleButton(value=True, description="Sound", icon="bell",
                                          tooltip="chime when it is time to rotate or take a break",
                                          layout=widgets.Layout(width="auto"))
        self.countdown = widgets.HTML(layout=widgets.Layout(width="auto"))
        self.driver_label = widgets.HTML()
        self.navigator_label = widgets.HTML()
        self.researchers_label = widgets.HTML()
        self.order_label = widgets.HTML()
        self.problem = widgets.HTML()
        # width auto: a fixed-width button cuts its label off with an ellipsis
        fits = widgets.Layout(width="auto")
        self.start_button = widgets.Button(description="Start", button_style="success", icon="play", layout=fits)
        self.pause_button = widgets.Button(description="Pause", icon="pause", layout=fits)
        self.skip_button = widgets.Button(description="Skip (rotate now)", button_style="warning", icon="forward",
                                          layout=fits)
        self.reset_button = widgets.Button(description="Reset", button_style="danger", icon="undo", layout=fits)
        self.member_pick = widgets.Dropdown(options=list(self._session.plan.roster), description="Member",
                                            layout=widgets.Layout(width="auto"))
        self.away_button = widgets.Button(description="Step away", icon="sign-out", layout=fits,
                                          tooltip="the rotation passes a member who stepped away over until they are back")
        self.retro_text = widgets.HTML(
            "<b>Retro: every one of you has driven.</b> Take two minutes:<ul>"
            + "".join(f"<li>{html.escape(q)}</li>" for q in RETRO_QUESTIONS) + "</ul>")
        self.retro_button = widgets.Button(description="Retro done", icon="check", layout=fits)
        self.retro_box = widgets.VBox([self.retro_text, self.retro_button],
                                      layout=widgets.Layout(display="none", border="1px solid #bf8700", padding="0 0.5em"))
        for button, action in (
            (self.start_button, self.start),
            (self.pause_button, self.pause),
            (self.skip_button, lambda: self.skip(self._shown_turn)),
            (self.reset_button, self.reset),
            (self.away_button, self._toggle_presence),
            (self.retro_button, self.dismiss_retro),
        ):
            button.on_click(self._handler(action))
        self.member_pick.observe(lambda _: self._show_presence(self.moment()), names="value")
        buttons = widgets.HBox([self.start_button, self.pause_button, self.skip_button, self.reset_button,
                                self.sound], layout=widgets.Layout(flex_flow="row wrap"))
        presence = widgets.HBox([self.member_pick, self.away_button], layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__(
            children=[
                self.banner,
                self.countdown,
                self.driver_label,
                self.navigator_label,
                self.researchers_label,
                self.order_label,
                self.retro_box,
                buttons,
                presence,
                self.problem,
                self.chime,
            ]
        )
        # class names a browser (a test, a custom stylesheet) can find the parts by
        self.add_class("kit-mob-timer")
        self.countdown.add_class("kit-mob-countdown")

    def _handler(self, action: Callable[[], None]) -> Callable[[widgets.Button], None]:
        """Button callbacks have nowhere to raise to, so kit errors are shown under the buttons."""

        def on_click(_: widgets.Button) -> None:
            try:
                action()
            except KitError as error:
                self.problem.value = f"<span style='color:#cf222e'>{html.escape(str(error))}</span>"

        return on_click

    def _change(self, update: Callable[[MobSession, float], MobSession]) -> None:
        with self._lock:
            self._session = change_session(self._path, lambda s: update(s, self._clock()), self._session)
            self._seen = _file_key(self._path)
            self.problem.value = ""
            self.refresh()

    def _tick(self) -> None:
        polling.every(1.0, self.refresh, stop=self._stop)


def close_children(root: widgets.Widget) -> None:
    """Close every widget below ``root``: closing a box alone would leave its children's comms open."""
    pending = list(root.children)
    while pending:
        child = pending.pop()
        pending.extend(getattr(child, "children", ()))
        child.close()
