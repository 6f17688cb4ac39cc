"""The published DORA performance levels, kept as data: one YAML file per report year beside this module
(``dora-tiers-YEAR.yaml``), each naming its report, URL, section and where its numbers were confirmed, with only
the keys that could be confirmed.

Every key is judged so that smaller is better: deployment frequency as the mean interval between deployments,
lead time and recovery time as durations (written ``1h``, ``7d``), change failure rate as a fraction. A band has a
best edge ``from`` and a worst edge ``to`` (either may be missing: open), both inclusive.

Placement of a figure: the first level, best first, whose band holds it (``exact``). The reports' bands leave
gaps (2021: nothing between one hour and one day of lead time); a figure in a gap is placed in the best level
whose worst edge it still meets, and is not ``exact`` (it is better than that band, short of the next). A figure
worse than every band is placed in the last level, not ``exact``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

from ..errors import InvalidInput
from ..timescale import parse_duration

KEYS = ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")
DURATION_KEYS = ("deployment_frequency", "lead_time", "recovery_time")


@dataclass(frozen=True)
class Band:
    """One level of one key: ``tier`` (elite, high, …), the report's words, and its edges (seconds, or a fraction
    for change failure rate; None: open)."""

    tier: str
    text: str
    best: float | None
    worst: float | None

    def holds(self, value: float) -> bool:
        return (self.best is None or value >= self.best) and (self.worst is None or value <= self.worst)


@dataclass(frozen=True)
class TierTable:
    """One report year's levels: ``bands`` per key (best level first) and where they come from."""

    year: int
    report: str
    url: str
    page: str
    confirmed_from: str
    notes: str
    bands: dict[str, tuple[Band, ...]]
    unconfirmed: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    """A team's figure for one key in one year's table: its ``tier`` (None when the table has no levels for the key
    or there is no figure; ``why`` then says which), whether the figure lies inside that band (``exact``), and the
    band's words."""

    key: str
    value: float | None
    tier: str | None
    exact: bool
    text: str
    why: str = ""


def _edge(value, key: str, where: str) -> float | None:
    if value is None:
        return None
    if key in DURATION_KEYS:
        return parse_duration(value, where)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InvalidInput(where, f"{value!r} must be a fraction from 0 to 1")
    return float(value)


def parse(data, source: str) -> TierTable:
    """A tier table from its parsed YAML; InvalidInput names the field and ``source``."""
    if not isinstance(data, dict):
        raise InvalidInput("", "must be a mapping", source=source)
    for name in ("report", "year", "url", "page", "confirmed_from", "keys"):
        if name not in data:
            raise InvalidInput(name, "is missing: every tier table names its report, year, url, page, "
                                     "where it was confirmed, and its keys", source=source)
    bands = {}
    for key, rows in (data["keys"] or {}).items():
        if key not in KEYS:
            raise InvalidInput(f"keys.{key}", f"is not one of {', '.join(KEYS)}", source=source)
        parsed = []
        for i, row in enumerate(rows):
            where = f"keys.{key}[{i}]"
            if not isinstance(row, dict) or "tier" not in row or "text" not in row:
                raise InvalidInput(where, "needs a tier and the report's text", source=source)
            try:
                parsed.append(Band(str(row["tier"]), str(row["text"]), _edge(row.get("from"), key, f"{where}.from"),
                                   _edge(row.get("to"), key, f"{where}.to")))
            except InvalidInput as error:
                raise InvalidInput(error.field, error.problem, source=source) from None
        bands[key] = tuple(parsed)
    return TierTable(int(data["year"]), str(data["report"]), str(data["url"]), str(data["page"]),
                     str(data["confirmed_from"]), str(data.get("notes", "")), bands,
                     tuple(data.get("unconfirmed", ())))


def years() -> list[int]:
    """The report years the kit has tables for, oldest first."""
    names = [p.name for p in resources.files(__package__).iterdir()]
    return sorted(int(n[len("dora-tiers-"):-len(".yaml")]) for n in names
                  if n.startswith("dora-tiers-") and n.endswith(".yaml"))


def table(year: int | None = None) -> TierTable:
    """The table of report ``year`` (default: the newest). Raises InvalidInput naming the years there are."""
    known = years()
    year = known[-1] if year is None else year
    if year not in known:
        raise InvalidInput("year", f"no tier table for {year}; the kit has {', '.join(map(str, known))}")
    name = f"dora-tiers-{year}.yaml"
    return parse(yaml.safe_load(resources.files(__package__).joinpath(name).read_text(encoding="utf-8")), name)


def place_one(key: str, value: float | None, tiers: TierTable) -> Placement:
    """Place one figure (seconds, or a fraction for change failure rate) by the rule in this module's docstring."""
    bands = tiers.bands.get(key)
    if not bands:
        why = "not confirmed for this year" if key in tiers.unconfirmed else "no levels published for this key"
        return Placement(key, value, None, False, "", why)
    if value is None:
        return Placement(key, None, None, False, "", "nothing to compute it from")
    for band in bands:
        if band.holds(value):
            return Placement(key, value, band.tier, True, band.text)
    for better, band in zip((None, *bands), bands):
        if band.worst is None or value <= band.worst:
            short = f", short of {better.tier}" if better else ""
            return Placement(key, value, band.tier, False, band.text, f"better than {band.tier}'s band{short}")
    return Placement(key, value, bands[-1].tier, False, bands[-1].text, f"worse than every band; {bands[-1].tier}")


def place(figures: dict[str, float | None], tiers: TierTable) -> tuple[Placement, ...]:
    """One placement per key of ``KEYS`` for a team's ``figures`` (``DoraReport.figures()``)."""
    return tuple(place_one(key, figures.get(key), tiers) for key in KEYS)
