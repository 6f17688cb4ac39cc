"""Session plans from the facilitator's guide: how a mob spends 60, 90 or 120 minutes on one lab.

Each lab has one YAML file, ``guide/plans/<lab>.yml`` (``kit.config.CONTENT.guide``), read once into frozen
``SessionPlan``s. Every problem is reported with the file and the field as the file spells it
(``guide/plans/00-mob-and-sandbox.yml: variants[1].rotate_at[0]: ...``). The fields:

``lab``
    the lab's folder name, the same as the file's name (``00-mob-and-sandbox``).
``title``
    the lab's title as the agenda heads it.
``variants``
    exactly three, one each of ``minutes`` 60, 90 and 120 (``VARIANTS``), each with:

    ``segments``
        what the mob does, in order: ``title``, whole ``minutes``, the notebook ``sections`` it covers (the
        ``##`` headings of the lab's notebook, as written there), an optional ``note`` for the facilitator,
        and ``break: true`` for a break. The minutes add up to exactly the variant's length. A break is
        neither first nor last, and never follows another break.
    ``rotate_at``
        the minutes from the start at which the mob rotates (the navigator takes the keyboard), rising; each
        falls between two segments, never inside one. The mob timer rotates across a break (``kit.mob``), so
        the start of every break is a rotation point and its end is not another.
    ``debrief``
        the questions the facilitator asks in the closing debrief, at least one.
    ``afterwards``
        the notebook sections the variant leaves for the mob to do after the session (a short session cannot
        fit everything); optional.

``check_guide`` looks across the files: every lab named has a plan, and the sections each variant covers or
leaves for afterwards are exactly the notebook's, so a plan cannot drift from the lab it times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from .. import yamldocs
from ..config import CONTENT
from ..errors import InvalidInput
from ..validation import Document, validated

__all__ = ["VARIANTS", "AgendaRow", "Segment", "SessionPlan", "check_guide", "lab_sections", "load_plans",
           "plan_labs", "session_plan"]

VARIANTS: tuple[int, ...] = (60, 90, 120)
"""The lengths of session, in minutes, every lab has a plan for."""

PLANS = "plans"
"""The folder of guide/ the session plans live in, one <lab>.yml each."""


@dataclass(frozen=True)
class Segment:
    """One stretch of a session: ``minutes`` long, covering the notebook's ``sections`` (headings, maybe none)."""

    title: str
    minutes: int
    sections: tuple[str, ...] = ()
    on_break: bool = False
    note: str = ""


@dataclass(frozen=True)
class AgendaRow:
    """A segment placed in time: ``start`` and ``end`` in minutes from the session's start; ``rotate``: the mob
    rotates at its end."""

    start: int
    end: int
    segment: Segment
    rotate: bool


@dataclass(frozen=True)
class SessionPlan:
    """One variant of a lab's plan, validated (see the module docstring); ``source`` the file it came from."""

    lab: str
    title: str
    minutes: int
    segments: tuple[Segment, ...]
    rotate_at: tuple[int, ...]
    """Minutes from the start at which the mob rotates, rising, each between two segments."""
    debrief: tuple[str, ...]
    afterwards: tuple[str, ...] = ()
    source: str = ""

    def agenda(self) -> list[AgendaRow]:
        """The segments with their start and end minute, and whether the mob rotates after each."""
        rows, start = [], 0
        for segment in self.segments:
            end = start + segment.minutes
            rows.append(AgendaRow(start, end, segment, end in self.rotate_at))
            start = end
        return rows

    def mob_schedule(self) -> tuple[tuple[float, bool], ...]:
        """The plan as the mob timer follows it (``kit.mob.MobPlan.schedule``): (minutes, on_break) stretches.

        A turn runs from one rotation point to the next; a break is a stretch of its own between two turns.
        The stretches add up to the plan's length.
        """
        stretches: list[tuple[float, bool]] = []
        turn = 0
        for row in self.agenda():
            if row.segment.on_break:
                stretches += [(float(turn), False), (float(row.segment.minutes), True)]
                turn = 0
                continue
            turn += row.segment.minutes
            if (row.rotate and not self._break_at(row.end)) or row.end == self.minutes:
                stretches.append((float(turn), False))
                turn = 0
        return tuple(stretches)

    def _break_at(self, minute: int) -> bool:
        """A break starts at ``minute``: the rotation there is the break's own."""
        return any(row.segment.on_break and row.start == minute for row in self.agenda())

    def text(self, start: time | None = None) -> str:
        """The timed agenda as printed by `kit session plan`: minutes from the start, or clock times from ``start``."""
        def at(minute: int) -> str:
            if start is None:
                return f"{minute // 60}:{minute % 60:02d}"
            return (datetime.combine(datetime.min, start) + timedelta(minutes=minute)).strftime("%H:%M")

        lines = [f"{self.title} ({self.lab}): a {self.minutes}-minute session"]
        for row in self.agenda():
            covers = f"  [{'; '.join(row.segment.sections)}]" if row.segment.sections else ""
            lines.append(f"  {at(row.start):>5}-{at(row.end):<5} {row.segment.minutes:>3} min  "
                         f"{row.segment.title}{covers}")
            if row.segment.note:
                lines.append(f"{'':23}{row.segment.note}")
            if row.rotate:
                lines.append(f"  {at(row.end):>5}  rotate: the navigator takes the keyboard"
                             + (" after the break" if self._break_at(row.end) else ""))
        lines.append("Debrief questions:")
        lines += [f"  - {question}" for question in self.debrief]
        if self.afterwards:
            lines.append("Left for afterwards: " + "; ".join(self.afterwards))
        return "\n".join(lines)


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Minutes = Annotated[int, Field(ge=1, strict=True)]


class _Segment(Document):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    title: _Text = "Break"
    minutes: _Minutes
    sections: list[_Text] = []
    on_break: bool = Field(False, alias="break", strict=True)
    note: str = ""


class _Variant(Document):
    minutes: int = Field(description="60, 90 or 120")
    segments: list[_Segment] = Field(min_length=1)
    rotate_at: list[Annotated[int, Field(strict=True)]] = Field(description="the minutes at which the mob rotates")
    debrief: list[_Text] = Field(min_length=1, description="the debrief's questions")
    afterwards: list[_Text] = []

    @model_validator(mode="after")
    def _timed(self) -> "_Variant":
        if self.minutes not in VARIANTS:
            raise InvalidInput("minutes", f"{self.minutes} is not a variant; use one of {', '.join(map(str, VARIANTS))}")
        total = sum(segment.minutes for segment in self.segments)
        if total != self.minutes:
            raise InvalidInput("segments", f"add up to {total} minutes, not the variant's {self.minutes}; "
                                           f"{'cut' if total > self.minutes else 'add'} {abs(total - self.minutes)}")
        starts, start = {}, 0
        for i, segment in enumerate(self.segments):
            starts[start] = i
            start += segment.minutes
            if segment.on_break and (i == 0 or i == len(self.segments) - 1 or self.segments[i - 1].on_break):
                raise InvalidInput(f"segments[{i}]", "a break comes between two working segments: never first, "
                                                     "last or straight after another break")
        if not self.rotate_at:
            raise InvalidInput("rotate_at", "name at least one minute to rotate at: a mob that never rotates is "
                                            "one driver and an audience")
        for j, minute in enumerate(self.rotate_at):
            if j and minute <= self.rotate_at[j - 1]:
                raise InvalidInput(f"rotate_at[{j}]", f"{minute} does not come after {self.rotate_at[j - 1]}; "
                                                      "list the rotation points in order, each once")
            if not 0 < minute < self.minutes:
                raise InvalidInput(f"rotate_at[{j}]", f"{minute} is not inside the session (0 to {self.minutes})")
            if minute not in starts:
                before = max(s for s in starts if s < minute)
                inside = self.segments[starts[before]]
                raise InvalidInput(f"rotate_at[{j}]", f"minute {minute} falls inside segment {inside.title!r} "
                                                      f"({before}-{before + inside.minutes}); rotate between segments, "
                                                      f"at {before} or {before + inside.minutes}")
        start = 0
        for i, segment in enumerate(self.segments):
            end = start + segment.minutes
            if segment.on_break and start not in self.rotate_at:
                raise InvalidInput("rotate_at", f"has no rotation at minute {start}, where break segments[{i}] "
                                                "starts: the mob timer rotates across every break")
            if segment.on_break and end in self.rotate_at:
                raise InvalidInput("rotate_at", f"rotates at minute {end}, as break segments[{i}] ends: the mob "
                                                f"already rotated across the break at {start}; drop {end}")
            start = end
        return self


class _PlanFile(Document):
    lab: _Text
    title: _Text
    variants: list[_Variant]

    @model_validator(mode="after")
    def _all_three(self) -> "_PlanFile":
        lengths = [variant.minutes for variant in self.variants]
        for i, minutes in enumerate(lengths):
            if minutes in lengths[:i]:
                raise InvalidInput(f"variants[{i}].minutes", f"a second {minutes}-minute variant; one of each")
            if i and minutes < lengths[i - 1]:
                raise InvalidInput(f"variants[{i}].minutes", f"{minutes} comes after {lengths[i - 1]}; list the "
                                                             f"variants shortest first")
        missing = [str(m) for m in VARIANTS if m not in lengths]
        if missing:
            raise InvalidInput("variants", f"no {' or '.join(missing)}-minute variant; every lab has one of each "
                                           f"of {', '.join(map(str, VARIANTS))}")
        return self


def load_plans(path: str | Path) -> dict[int, SessionPlan]:
    """The three variants of one lab's plan file, by minutes.

    Raises InvalidInput naming the file and the field: a file that cannot be read or is not YAML, a field
    missing or unknown, segments that do not add up to their variant's length, a rotation point inside a
    segment, a variant missing or doubled, or a ``lab`` that is not the file's name.
    """
    path = Path(path)
    documents = yamldocs.read(path)
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; a plan file holds one", source=str(path))
    document = documents[0]
    parsed = validated(_PlanFile, document.data, source=document.where)
    if parsed.lab != path.stem:
        raise InvalidInput("lab", f"{parsed.lab!r} is not the file's name; name the file {parsed.lab}.yml or the "
                                  f"lab {path.stem!r}", source=document.where)
    return {variant.minutes: SessionPlan(
        lab=parsed.lab, title=parsed.title, minutes=variant.minutes,
        segments=tuple(Segment(s.title, s.minutes, tuple(s.sections), s.on_break, s.note) for s in variant.segments),
        rotate_at=tuple(variant.rotate_at), debrief=tuple(variant.debrief), afterwards=tuple(variant.afterwards),
        source=document.where) for variant in sorted(parsed.variants, key=lambda v: v.minutes)}


def plan_labs(guide: str | Path | None = None) -> list[str]:
    """The labs the guide has a plan file for, sorted; ``guide`` defaults to the repository's guide/."""
    folder = Path(guide) if guide is not None else CONTENT.guide
    return sorted(p.stem for p in (folder / PLANS).glob("*.yml"))


def session_plan(lab: str, minutes: int = 90, guide: str | Path | None = None) -> SessionPlan:
    """The ``minutes`` variant of ``lab``'s plan; ``lab`` may be just its number (``"03"``).

    Raises InvalidInput: ``lab`` when no plan file matches (naming those there are), ``minutes`` when it is
    not one of ``VARIANTS``, or the plan file's own problem.
    """
    if minutes not in VARIANTS:
        raise InvalidInput("minutes", f"{minutes} is not a variant; use {', '.join(map(str, VARIANTS))}")
    labs = plan_labs(guide)
    matches = [name for name in labs if name == lab or name.split("-", 1)[0] == lab]
    if len(matches) != 1:
        raise InvalidInput("lab", f"no session plan for {lab!r}; the guide has plans for {', '.join(labs) or 'none'}")
    folder = Path(guide) if guide is not None else CONTENT.guide
    return load_plans(folder / PLANS / f"{matches[0]}.yml")[minutes]


_HEADING = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)


def lab_sections(lab: str, solutions: str | Path | None = None) -> tuple[str, ...] | None:
    """The ``##`` headings of ``lab``'s source notebook (solutions/<lab>/<lab>.ipynb), in order; None if it has none.

    Raises InvalidInput (``notebook``) when the notebook is there but not a notebook.
    """
    path = Path(solutions if solutions is not None else CONTENT.solutions) / lab / f"{lab}.ipynb"
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidInput("notebook", f"cannot read its cells: {error}", source=str(path)) from None
    text = "\n".join("".join(cell["source"]) for cell in cells if cell.get("cell_type") == "markdown")
    return tuple(_HEADING.findall(text))


def check_guide(labs: Iterable[str], guide: str | Path | None = None,
                solutions: str | Path | None = None) -> list[str]:
    """Findings across the guide's plans, one line each naming the file and field; empty when all is well.

    Every lab in ``labs`` (e.g. ``kit.lab.LABS``) needs a plan file; in every variant, each section named
    must be a ``##`` heading of the lab's notebook, and each heading must be covered by a segment or left
    ``afterwards``. A plan for a lab with no notebook here (a lab still being written) is checked on its own.
    Raises InvalidInput for the first plan file that is itself invalid (see ``load_plans``).
    """
    folder = Path(guide) if guide is not None else CONTENT.guide
    have = plan_labs(folder)
    findings = [f"{folder / PLANS / (lab + '.yml')}: no session plan for lab {lab}" for lab in labs if lab not in have]
    for lab in have:
        plans = load_plans(folder / PLANS / f"{lab}.yml")
        headings = lab_sections(lab, solutions)
        if headings is None:
            continue
        for index, plan in enumerate(plans.values()):  # the file lists its variants in this order
            where = f"{plan.source}: variants[{index}]"
            covered: list[str] = []
            for i, segment in enumerate(plan.segments):
                for k, section in enumerate(segment.sections):
                    if section not in headings:
                        findings.append(f"{where}.segments[{i}].sections[{k}]: {section!r} is not a section of "
                                        f"the notebook; its sections: {'; '.join(headings)}")
                covered += segment.sections
            for k, section in enumerate(plan.afterwards):
                if section not in headings:
                    findings.append(f"{where}.afterwards[{k}]: {section!r} is not a section of the notebook")
            left = [h for h in headings if h not in covered and h not in plan.afterwards]
            if left:
                findings.append(f"{where}: the {plan.minutes}-minute plan neither covers nor leaves for afterwards "
                                f"{'; '.join(left)}")
    return findings
