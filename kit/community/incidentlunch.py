"""Incident lunch: a past drill's timeline replayed for the whole community in the minutes a lunch has
(guide/incident-lunch.md).

The replay is the drill's own timeline (kit.drills' events: the fault injected, alerts firing, pages, the
acknowledgement, notes, hints, the mitigation, the resolution), shown at a pace that fits the lunch: the
timeline is compressed (or stretched) by one factor, so the gaps between events keep their proportions and the
room feels where the mob waited. Before each decision the mob made (the first acknowledgement, the first
hypothesis noted, the first hint, the first mitigation, the resolution) the replay pauses with a question for
the room, and what the mob did is shown only after it. What was injected stays hidden until the summary.

``pace`` is the arithmetic (pure); ``replay`` prints and waits with a clock the caller gives, so a test replays
a lunch without waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import jsonlines
from ..config import Config
from ..errors import InvalidInput
from ..timeline import Event, ResponseTimes, clock, response_times

__all__ = ["DECISIONS", "SHARES", "Lunch", "Pacing", "Segment", "agenda", "decision_points", "load", "pace",
           "replay"]

DECISIONS: dict[str, str] = {
    "acknowledged": "The pager has gone off. Who owns the incident now, and what do you look at first?",
    "note": "What do you think is going on? Name one hypothesis and the signal that would confirm or refute it.",
    "hint": "The mob asked for a hint here. What would you have tried next?",
    "action": "What would you do now to stop the harm, and how will you know it worked?",
    "resolved": "Is it over? What tells you the steady state holds again?",
}
"""The decisions a mob makes in a drill, by the timeline event that records them, and the question the room is
asked just before the replay shows what the mob did. The replay pauses before the first event of each kind."""

SHARES: dict[str, float] = {"briefing": 0.10, "play": 0.30, "pauses": 0.45, "summary": 0.15}
"""How a lunch's minutes are spent when the pace is not fixed: the briefing, the timeline playing, the pauses
for the room (split evenly among the decision points) and the summary. With ``--speed`` the playing takes what
the factor makes it and the rest is shared in these proportions. Most of the time goes to the room: the point is
the discussion, not the screen."""

_SHOWN = ("started", "roles", "steady_state", "injected", "alert_firing", "page", "acknowledged", "note", "hint",
          "action", "resolution_check", "resolved", "abandoned")
"""The timeline events the room sees; the watcher's own messages and the sandbox's reset are left out."""


@dataclass(frozen=True)
class Segment:
    """One part of the lunch: ``kind`` briefing, play, pause or summary, lasting ``seconds`` (of the lunch).

    A play segment shows the events ``events`` (indices into the lunch's events) and covers ``drill_seconds``
    of the drill; a pause comes just before the decision event ``event`` and asks ``question``.
    """

    kind: str
    seconds: float
    events: tuple[int, ...] = ()
    drill_seconds: float = 0.0
    event: int | None = None
    question: str = ""


@dataclass(frozen=True)
class Pacing:
    """A lunch's timing: its segments in order and ``speed``, drill seconds shown per second of the lunch (above
    1 compresses the drill, below 1 stretches it)."""

    segments: tuple[Segment, ...]
    speed: float

    @property
    def total(self) -> float:
        """The lunch's length in seconds: every segment's."""
        return sum(s.seconds for s in self.segments)

    @property
    def playing(self) -> float:
        """The seconds the timeline plays (the rest is the briefing, the pauses and the summary)."""
        return sum(s.seconds for s in self.segments if s.kind == "play")


def decision_points(kinds: Sequence[str]) -> list[int]:
    """The indices of the events the replay pauses before: the first of each kind in ``DECISIONS``, in order."""
    seen: set[str] = set()
    points = []
    for i, kind in enumerate(kinds):
        if kind in DECISIONS and kind not in seen:
            seen.add(kind)
            points.append(i)
    return points


def pace(offsets: Sequence[float], kinds: Sequence[str], minutes: float, speed: float | None = None) -> Pacing:
    """The segments of a lunch of ``minutes`` replaying events at ``offsets`` (drill seconds from the first event,
    ascending) of ``kinds``. Pure.

    Without ``speed`` the timeline plays in ``SHARES["play"]`` of the minutes (and in the pauses' share too
    when the drill has no decision to pause at), so ``speed`` = the timeline's length / that time. With
    ``speed`` (drill seconds per lunch second) the timeline plays for its length / speed, and the briefing, the
    pauses and the summary share what is left in ``SHARES``' proportions. The segments always add up to
    ``minutes``. Raises InvalidInput("minutes") when not positive, InvalidInput("timeline") for fewer than two
    events or a timeline of no length, InvalidInput("speed") when not positive or so slow that the timeline
    alone would not fit the minutes.
    """
    if not minutes > 0:
        raise InvalidInput("minutes", f"{minutes} is not a length; give the lunch's minutes, e.g. 20")
    if len(offsets) != len(kinds):
        raise InvalidInput("timeline", f"{len(offsets)} offsets for {len(kinds)} events")
    if len(offsets) < 2 or offsets[-1] - offsets[0] <= 0:
        raise InvalidInput("timeline", "has nothing to replay: fewer than two events, or all at one moment")
    if list(offsets) != sorted(offsets):
        raise InvalidInput("timeline", "events must be in the order they happened")
    total = minutes * 60.0
    span = offsets[-1] - offsets[0]
    points = decision_points(kinds)
    rest = dict(SHARES)
    if not points:
        rest["play"] += rest.pop("pauses")
    if speed is None:
        play = total * rest.pop("play")
        speed = span / play
    else:
        if not speed > 0:
            raise InvalidInput("speed", f"{speed} is not a factor; give drill seconds per second, e.g. 2")
        play = span / speed
        if play >= total:
            raise InvalidInput("speed", f"at {speed:g}x the {clock(span)} timeline plays for {clock(play)}, the "
                                        f"whole {minutes:g} minutes or more: raise --speed above "
                                        f"{span / total:.3g} or give more --minutes")
        rest.pop("play")
    scale = (total - play) / sum(rest.values())
    pause = scale * rest.get("pauses", 0.0) / max(1, len(points))
    segments = [Segment("briefing", scale * rest["briefing"])]
    bounds = [0, *points, len(offsets)]
    for i, (first, stop) in enumerate(zip(bounds, bounds[1:])):
        if i > 0:
            segments.append(Segment("pause", pause, event=first, question=DECISIONS[kinds[first]]))
        end = offsets[stop] if stop < len(offsets) else offsets[-1]
        covered = end - offsets[first]
        if stop > first:
            segments.append(Segment("play", covered / speed, tuple(range(first, stop)), covered))
    segments.append(Segment("summary", scale * rest["summary"]))
    return Pacing(tuple(segments), speed)


@dataclass(frozen=True)
class Lunch:
    """What an incident lunch replays: a drill that ended, its scenario's briefing and answer, and the events the
    room sees (``events``, oldest first). ``time_scale``: how much faster than production the drill's profile
    ran (kit.config's profiles)."""

    run: str
    title: str
    briefing: str
    outcome: str
    events: tuple[Event, ...]
    times: ResponseTimes
    hints: int
    time_scale: int
    cause: str
    injected: tuple[str, ...]
    questions: tuple[str, ...]

    @property
    def offsets(self) -> list[float]:
        return [e.t - self.events[0].t for e in self.events]

    def pacing(self, minutes: float, speed: float | None = None) -> Pacing:
        """``pace`` for this drill's events."""
        return pace(self.offsets, [e.kind for e in self.events], minutes, speed)


def load(run: str, config: Config | None = None) -> Lunch:
    """The drill ``run`` of ``config``'s sandbox (default: the current one) as a lunch replays it. Raises
    CheckFailed when there is no such drill or it has not ended (kit.drills.result_of)."""
    from .. import drills, sandbox

    config = sandbox.current_config(config)
    result = drills.result_of(run, config)
    scenario = drills.scenario_of(run, config)
    row = next((r for _, r in jsonlines.read(drills.results_file(config))
                if isinstance(r, dict) and r.get("run") == run), {})
    events = tuple(e for e in result.events if e.kind in _SHOWN)
    return Lunch(run, scenario.title, scenario.briefing, result.outcome, events, response_times(list(result.events)),
                 sum(1 for e in events if e.kind == "hint"), int(row.get("time_scale") or 1),
                 str(scenario.diagnosis.get("cause", "")),
                 tuple(e.text for e in result.events if e.kind == "injected"), tuple(scenario.debrief))


def _shown(event: Event) -> str:
    """An event as the room sees it: the cause stays hidden until the summary."""
    if event.kind == "injected":
        return "the game master injects something (the summary tells what)"
    if event.kind in ("steady_state", "resolution_check"):
        return "the steady-state probes " + ("pass" if event.data.get("passed") else "fail")
    return event.text


def agenda(lunch: Lunch, pacing: Pacing) -> list[tuple[float, str]]:
    """The lunch's plan as (lunch seconds from the start, what happens), one line per segment, for the
    storyteller to prepare with (`--agenda`)."""
    at, lines = 0.0, []
    for segment in pacing.segments:
        if segment.kind == "play":
            first, last = lunch.events[segment.events[0]], lunch.events[segment.events[-1]]
            count = len(segment.events)
            what = (f"play {clock(segment.drill_seconds)} of the drill, {count} event{'s' if count != 1 else ''} "
                    f"(+{clock(first.t - lunch.events[0].t)} {first.kind} .. +{clock(last.t - lunch.events[0].t)} "
                    f"{last.kind})")
        elif segment.kind == "pause":
            what = f"pause before {lunch.events[segment.event].kind}: {segment.question}"
        else:
            what = segment.kind
        lines.append((at, f"{what} ({clock(segment.seconds)})"))
        at += segment.seconds
    return lines


def replay(lunch: Lunch, pacing: Pacing, out: Callable[[str], None] = print,
           sleep: Callable[[float], None] = time.sleep) -> None:
    """Replay the lunch: print each event when its time comes at the pacing's speed, each pause's question, then
    the summary; ``sleep`` waits (the real one by default; a test passes one that only adds up)."""
    span = lunch.offsets[-1]
    direction = "faster" if pacing.speed >= 1 else "slower"
    factor = pacing.speed if pacing.speed >= 1 else 1 / pacing.speed
    out(f"Incident lunch: drill {lunch.run}, {lunch.title} ({lunch.outcome})")
    out(f"scale: {clock(span)} of the drill plays in {clock(pacing.playing)}, {factor:.3g}x {direction} than it "
        f"happened" + (f"; the drill itself ran {lunch.time_scale}x faster than production, so this is "
                       f"{clock(span * lunch.time_scale)} of a real incident" if lunch.time_scale > 1 else ""))
    out(f"this lunch: {clock(pacing.total)}, {sum(1 for s in pacing.segments if s.kind == 'pause')} pauses for "
        "the room")
    for segment in pacing.segments:
        if segment.kind == "briefing":
            out("")
            out(f"BRIEFING ({clock(segment.seconds)}), as the mob heard it:")
            out(f"  {lunch.briefing}")
            sleep(segment.seconds)
        elif segment.kind == "play":
            shown_at = lunch.offsets[segment.events[0]]
            for i in segment.events:
                offset = lunch.offsets[i]
                sleep((offset - shown_at) / pacing.speed)
                shown_at = offset
                event = lunch.events[i]
                out(f"  +{clock(offset):>6}  {event.kind:<17} {_shown(event)}")
            sleep(segment.seconds - (shown_at - lunch.offsets[segment.events[0]]) / pacing.speed)
        elif segment.kind == "pause":
            out("")
            out(f"PAUSE ({clock(segment.seconds)}): {segment.question}")
            sleep(segment.seconds)
            out("")
        else:
            out("")
            out(f"SUMMARY ({clock(segment.seconds)})")
            for line in _summary(lunch):
                out(f"  {line}")
            sleep(segment.seconds)


def _summary(lunch: Lunch) -> list[str]:
    times = {k[:-2].upper(): v for k, v in lunch.times.as_dict().items() if v is not None}
    lines = [f"outcome: {lunch.outcome}; " + (", ".join(f"{k} {clock(v)}" for k, v in times.items()) or
                                             "no response times") + f"; {lunch.hints} hints used"]
    lines += [f"what was injected: {text}" for text in lunch.injected]
    if lunch.cause:
        lines.append(f"the cause: {lunch.cause}")
    lines += [f"to discuss: {q}" for q in lunch.questions]
    lines.append("one take-away, written down: record it as a share (`kit cop add share`), and a fix it suggests "
                 "as an experiment with an owner (`kit cop add experiment`)")
    return lines
