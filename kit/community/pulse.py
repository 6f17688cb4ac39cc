"""The team pulse: an optional, anonymous psychological-safety questionnaire, reported per team and only when
enough people answered.

The questionnaire is the seven-item team psychological safety scale of Edmondson (1999), "Psychological Safety
and Learning Behavior in Work Teams", Administrative Science Quarterly 44(2):350-383 (doi:10.2307/2666999). Its
items, reworded in the kit's own words with each item's meaning and direction kept, are data
(``psychological-safety.yaml`` beside this module). Each is answered on a seven-point scale (1 strongly
disagree .. 7 strongly agree). Items 1 (a mistake is held against you), 3 (people are rejected for being
different) and 5 (it is hard to ask for help) are worded against safety, so they are reverse-scored (8 - answer)
and a higher score always means a safer team; a team's score is the mean of its answer sets' item means, on the
same 1..7 scale. The item order and which items are negatively worded were checked against the scale as the
paper gives it and as it is reproduced, item by item, in O'Donovan & McAuliffe (2020), "Measuring psychological
safety in healthcare teams", BMC Medical Research Methodology 20:203, Table 2.

Anonymity. Answers are kept without names or times, one answer set per entry, in
``community/pulse/<team>/<YYYY-MM-DD>.yaml`` (one file per team and round); ``add`` puts each new set at a
random place in its file, so the order of the entries does not say who answered when. A file with any other
field (a ``name:``, a ``by:``) is refused. A round is reported only when it holds at least ``floor`` answer sets
(default 5), and then only as the team's means, never an answer set: with k answers behind every figure, no
figure can be traced to fewer than k people, the guarantee of k-anonymity (Sweeney 2002, "k-anonymity: a model
for protecting privacy", International Journal of Uncertainty, Fuzziness and Knowledge-Based Systems
10(5):557-570). A floor below 3 is refused: with one answer the mean is that answer, and with two each person can
subtract their own to read the other's. Nothing pools rounds or teams, since a pooled mean minus a reported one
would reveal a round below the floor; and a round shown once should not grow afterwards (the difference between
its two reports would be the late answer): the guide (guide/team-pulse.md) says how to run a round.
"""

from __future__ import annotations

import functools
import re
import secrets
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import Field, StrictInt, StringConstraints

from .. import yamldocs
from ..atomicfile import folder_locked, write_atomically
from ..config import CONTENT
from ..errors import InvalidInput, KitError
from ..validation import Document, validated

__all__ = ["DEFAULT_FLOOR", "FOLDER", "MIN_FLOOR", "QUESTIONNAIRE", "Item", "PulseRound", "Questionnaire",
           "TeamPulse", "add", "latest", "load", "questionnaire", "report", "score", "scored"]

QUESTIONNAIRE = Path(__file__).with_name("psychological-safety.yaml")
FOLDER = "pulse"
"""The pulse's folder inside the community's records: ``community/pulse/<team>/<date>.yaml``."""
DEFAULT_FLOOR = 5
"""Answer sets a round needs before it is reported: the k of k-anonymity (see the module's docstring)."""
MIN_FLOOR = 3

_TEAM = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Item:
    """One statement, numbered from 1 as in the paper; ``reverse``: worded against safety, scored 8 - answer."""

    number: int
    text: str
    reverse: bool


@dataclass(frozen=True)
class Questionnaire:
    """The questionnaire as its data file gives it; answers run from ``low`` (``minimum``) to ``high``."""

    id: str
    title: str
    citation: str
    prompt: str
    minimum: int
    maximum: int
    low: str
    high: str
    items: tuple[Item, ...]

    @property
    def scale(self) -> str:
        return f"{self.minimum} ({self.low}) to {self.maximum} ({self.high})"


@dataclass(frozen=True)
class PulseRound:
    """One team's answer sets of one round, as answered (before reverse scoring), in the file's random order.

    ``answers`` are kept out of the repr, so that showing a round in a notebook shows no answer set.
    """

    team: str
    day: date
    answers: tuple[tuple[int, ...], ...] = field(repr=False)
    source: str


@dataclass(frozen=True)
class TeamPulse:
    """A round as reported: ``answers`` is how many answer sets it holds; ``score`` (1..7, higher is safer) and
    ``items`` (each item's mean after reverse scoring, in item order) are None unless ``answers >= floor``."""

    team: str
    day: date
    answers: int
    floor: int
    score: float | None
    items: tuple[float, ...] | None

    @property
    def reported(self) -> bool:
        return self.score is not None

    def __str__(self) -> str:
        if self.score is None:
            return f"{self.team}, {self.day}: not enough answers to report ({self.answers} of the {self.floor} needed)"
        return f"{self.team}, {self.day}: {self.score:.1f} of 7 ({self.answers} answers)"


class _Scale(Document):
    min: StrictInt
    max: StrictInt
    low: Annotated[str, StringConstraints(min_length=1)]
    high: Annotated[str, StringConstraints(min_length=1)]


class _Item(Document):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    reverse: bool


class _Questionnaire(Document):
    id: Annotated[str, StringConstraints(pattern=_TEAM.pattern)]
    title: str
    citation: str
    prompt: str
    scale: _Scale
    items: list[_Item] = Field(min_length=1)


class _Round(Document):
    questionnaire: str = Field(description="the questionnaire's id, e.g. edmondson-1999")
    answers: list[list[StrictInt]] = Field(default_factory=list, description="answer sets, e.g. [[2, 6, 1, 6, 2, 7, 6]]")


@functools.lru_cache(maxsize=4)
def questionnaire(path: Path = QUESTIONNAIRE) -> Questionnaire:
    """The questionnaire in ``path`` (default: the kit's psychological-safety.yaml), validated; InvalidInput
    naming the file and field when it is not one."""
    documents = yamldocs.read(path)
    m = validated(_Questionnaire, documents[0].data if documents else None, source=str(path))
    return Questionnaire(m.id, m.title, m.citation, m.prompt, m.scale.min, m.scale.max, m.scale.low, m.scale.high,
                         tuple(Item(i, item.text, item.reverse) for i, item in enumerate(m.items, 1)))


def _checked(answers: Sequence[int], q: Questionnaire, field: str, source: str = "") -> tuple[int, ...]:
    if len(answers) != len(q.items):
        raise InvalidInput(field, f"has {len(answers)} answers; the questionnaire has {len(q.items)} items, one answer "
                                  f"each", source=source)
    for i, value in enumerate(answers):
        if isinstance(value, bool) or not isinstance(value, int) or not q.minimum <= value <= q.maximum:
            raise InvalidInput(f"{field}[{i}]", f"{value!r} is not on the scale {q.scale} (item {i + 1})",
                               source=source)
    return tuple(answers)


def scored(answers: Sequence[int], q: Questionnaire | None = None) -> tuple[int, ...]:
    """One answer set with its reverse-worded items turned round (``minimum + maximum - answer``, 8 - x on a 1..7
    scale), so that a higher number is always safer. Raises InvalidInput("answers") for a set that does not fit
    the questionnaire."""
    q = q or questionnaire()
    checked = _checked(answers, q, "answers")
    return tuple(q.minimum + q.maximum - a if item.reverse else a for a, item in zip(checked, q.items))


def score(answers: Sequence[int], q: Questionnaire | None = None) -> float:
    """One answer set's score: the mean of its items after reverse scoring, on the questionnaire's scale."""
    return statistics.fmean(scored(answers, q))


def _where(path: Path, community: Path) -> str:
    try:
        return str(path.relative_to(community.parent))
    except ValueError:
        return str(path)


def _read(path: Path, team: str, community: Path, q: Questionnaire) -> PulseRound:
    where = _where(path, community)
    try:
        day = date.fromisoformat(path.stem)
    except ValueError:
        raise InvalidInput("", f"the file name {path.stem!r} is not the round's date, e.g. 2026-11-20.yaml",
                           source=where) from None
    try:
        documents = yamldocs.read(path)
    except InvalidInput as error:
        raise InvalidInput(error.field, error.problem, source=error.source.replace(str(path), where, 1)) from None
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; a round is one", source=where)
    model = validated(_Round, documents[0].data, source=where)
    if model.questionnaire != q.id:
        raise InvalidInput("questionnaire", f"{model.questionnaire!r} is not the questionnaire the kit asks "
                                            f"({q.id})", source=where)
    answers = tuple(_checked(a, q, f"answers[{i}]", where) for i, a in enumerate(model.answers))
    return PulseRound(team, day, answers, where)


def load(community: str | Path | None = None, teams: Iterable[str] | None = None,
         q: Questionnaire | None = None) -> tuple[PulseRound, ...]:
    """Every round in ``community``/pulse (default: the repository's community/), by team then date; () when
    there is no pulse folder (the pulse is optional).

    ``teams``: the team ids a folder may be named for (a loaded Records' teams); not checked when None.
    Raises InvalidInput naming the file and field: ``community/pulse/mob-a/2026-11-20.yaml: answers[2][4]: 8 is
    not on the scale 1 (strongly disagree) to 7 (strongly agree) (item 5)``.
    """
    community = Path(community) if community is not None else CONTENT.community
    q = q or questionnaire()
    known = None if teams is None else frozenset(teams)
    rounds = []
    for folder in sorted(p for p in (community / FOLDER).glob("*") if p.is_dir()):
        if known is not None and folder.name not in known:
            raise InvalidInput("", f"{folder.name!r} is not a team (no {community.name}/teams/{folder.name}.yaml)",
                               source=_where(folder, community))
        for path in sorted(folder.glob("*.yaml")):
            rounds.append(_read(path, folder.name, community, q))
    return tuple(rounds)


def _text(team: str, day: date, answers: Sequence[Sequence[int]], q: Questionnaire) -> str:
    reversed_items = ", ".join(str(item.number) for item in q.items if item.reverse)
    lines = [f"# Team pulse of {team}, round of {day}: anonymous answer sets, one per entry, in random order.",
             f"# Each as answered on the scale {q.scale};",
             f"# items {reversed_items} are reverse-scored when reported. Added with `kit cop pulse add`: no names, no",
             "# times. See guide/team-pulse.md.",
             f"questionnaire: {q.id}", "answers:" if answers else "answers: []"]
    lines += [f"  - [{', '.join(map(str, a))}]" for a in answers]
    return "\n".join(lines) + "\n"


def add(team: str, answers: Sequence[int], day: date | None = None, community: str | Path | None = None, *,
        teams: Iterable[str] | None = None, q: Questionnaire | None = None) -> PulseRound:
    """Record one anonymous answer set (as answered, item 1 first) in ``team``'s round of ``day`` (default today)
    and return the round. The set goes at a random place among the round's others; the file is rewritten
    atomically while the folder is locked against another ``add``.

    ``teams``: the team ids that exist (checked when given). Raises InvalidInput("team") for an unknown team,
    InvalidInput("answers[i]") for an answer off the scale or a set of the wrong length, InvalidInput naming the
    file and field when the round's file is already invalid, KitError when the folder cannot be written.
    """
    q = q or questionnaire()
    community = Path(community) if community is not None else CONTENT.community
    if not _TEAM.match(team):
        raise InvalidInput("team", f"{team!r} is not a team id: lowercase letters, digits and dashes, e.g. mob-a")
    if teams is not None and team not in set(teams):
        raise InvalidInput("team", f"{team!r} is not a team (no {community.name}/teams/{team}.yaml)")
    answer_set = _checked(list(answers), q, "answers")
    day = day or date.today()
    folder = community / FOLDER / team
    path = folder / f"{day.isoformat()}.yaml"

    def refused(error: OSError) -> KitError:
        return KitError(f"{folder}: cannot write the team pulse: {error.strerror}")

    with folder_locked(folder, refused):
        kept = list(_read(path, team, community, q).answers) if path.exists() else []
        kept.insert(secrets.randbelow(len(kept) + 1), answer_set)
        write_atomically(path, _text(team, day, kept, q), mode=0o644)
    return PulseRound(team, day, tuple(kept), _where(path, community))


def report(rounds: Iterable[PulseRound], floor: int = DEFAULT_FLOOR,
           q: Questionnaire | None = None) -> tuple[TeamPulse, ...]:
    """Each round as it may be shown, by team then date: its means when it holds at least ``floor`` answer sets,
    otherwise only its count. Raises InvalidInput("floor") for a floor below ``MIN_FLOOR``."""
    if floor < MIN_FLOOR:
        raise InvalidInput("floor", f"{floor} would let answers be traced to a person; the floor is at least "
                                    f"{MIN_FLOOR} (default {DEFAULT_FLOOR})")
    q = q or questionnaire()
    shown = []
    for r in sorted(rounds, key=lambda r: (r.team, r.day)):
        if len(r.answers) < floor:
            shown.append(TeamPulse(r.team, r.day, len(r.answers), floor, None, None))
            continue
        sets = [scored(a, q) for a in r.answers]
        items = tuple(statistics.fmean(column) for column in zip(*sets))
        shown.append(TeamPulse(r.team, r.day, len(sets), floor, statistics.fmean(items), items))
    return tuple(shown)


def latest(pulses: Iterable[TeamPulse], team: str) -> TeamPulse | None:
    """The team's most recent round (reported or not), None when it has none."""
    return max((p for p in pulses if p.team == team), key=lambda p: p.day, default=None)
