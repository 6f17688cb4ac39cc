"""Burn-rate alert windows: the alerting policy's budget shares, the burn factors they give an SLO window, and
the check that an SLO window holds every alert window.

Multi-window, multi-burn-rate alerting as in the Google SRE workbook, ch. 5
("Alerting on SLOs"): page on 2 % of the budget in 1 h or 5 % in 6 h, ticket
on 10 % in 1 d or 3 d; the short window of each alert is 1/12 of its long one.
The policy is data, ``burn_rate_windows.yaml`` beside this module, read once.
A factor is ``share × SLO window / long window``, so it follows the SLO's own
window. Pure functions; durations are Prometheus durations or seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import yamldocs
from ..errors import InvalidInput
from ..timescale import format_duration, parse_duration
from ..validation import Document, validated
from .budget import Duration, duration_seconds

__all__ = ["burn_factor", "factor_label", "BurnWindow", "BudgetShare", "BUDGET_POLICY", "POLICY_FILE",
           "read_budget_policy", "burn_windows", "DEFAULT_WINDOWS", "validate_slo_window"]

POLICY_FILE = Path(__file__).with_name("burn_rate_windows.yaml")
"""The alerting policy's table, shipped with the package."""


def burn_factor(budget_spent: float, long: Duration, slo_window: Duration = "30d") -> float:
    """The burn rate that spends ``budget_spent`` of an ``slo_window`` budget within ``long`` (2 % in 1h of 30d: 14.4)."""
    return round(budget_spent * duration_seconds(slo_window, "slo_window") / duration_seconds(long, "long"), 9)


def factor_label(factor: float) -> str:
    """A burn factor as people read it: 14.4, 6, 13.44, 0.9333."""
    return f"{factor:.4g}"


@dataclass(frozen=True)
class BurnWindow:
    """One alert of the multi-window set: fire when both windows burn faster than ``factor``."""

    severity: str
    long: str
    short: str
    factor: float

    @classmethod
    def derive(cls, severity: str, long: str, budget_spent: float, slo_window: str = "30d",
               short: str | None = None) -> "BurnWindow":
        """The textbook way: factor from the budget share spent in ``long``; ``short`` defaults to long / 12."""
        return cls(severity, long, short or format_duration(parse_duration(long) / 12),
                   burn_factor(budget_spent, long, slo_window))

    def budget_spent(self, slo_window: Duration = "30d") -> float:
        """Share of the ``slo_window`` budget spent over ``long`` at exactly ``factor`` burn."""
        return self.factor * parse_duration(self.long) / duration_seconds(slo_window, "slo_window")


@dataclass(frozen=True)
class BudgetShare:
    """An alerting policy's row: alert at ``severity`` when ``spent`` of the SLO's budget burns within ``long``,
    confirmed over ``short`` (None: a twelfth of ``long``, the workbook's ratio)."""

    severity: str
    long: str
    spent: float
    short: str | None = None


class _Row(Document):
    severity: Literal["page", "ticket"]
    long: str
    short: str
    budget_spent: float = Field(gt=0, le=1)

    @field_validator("long", "short")
    @classmethod
    def _positive_duration(cls, value: str) -> str:
        if parse_duration(value, "") <= 0:
            raise ValueError(f"{value} must be a positive duration")
        return value

    @model_validator(mode="after")
    def _short_within_long(self) -> "_Row":
        if parse_duration(self.short) >= parse_duration(self.long):
            raise InvalidInput("short", f"{self.short} must be shorter than long ({self.long})")
        return self


class _Policy(Document):
    source: str
    windows: list[_Row] = Field(min_length=1)


def read_budget_policy(source: str | Path | Mapping[str, Any] = POLICY_FILE) -> tuple[BudgetShare, ...]:
    """The alerting policy's rows from a table file (path, YAML text or mapping) laid out as ``POLICY_FILE``.

    Raises InvalidInput naming the file and the entry (``windows[2].long``): a severity other than page or
    ticket, a duration that is not positive, a short window not shorter than its long one, a budget share
    outside (0, 1], a missing or unknown field.
    """
    documents = yamldocs.read(source)
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; the policy is one table",
                           source=documents[0].file)
    policy = validated(_Policy, documents[0].data, source=documents[0].where)
    return tuple(BudgetShare(row.severity, row.long, row.budget_spent, row.short) for row in policy.windows)


BUDGET_POLICY: tuple[BudgetShare, ...] = read_budget_policy()
"""Page on 2 % of the budget in 1 h or 5 % in 6 h; ticket on 10 % in 1 d or in 3 d (Google SRE workbook, ch. 5),
as ``POLICY_FILE`` says."""


def burn_windows(slo_window: Duration, policy: Sequence[BudgetShare] = BUDGET_POLICY) -> tuple[BurnWindow, ...]:
    """The policy's alert windows for an SLO over ``slo_window``: factor = spent × slo_window / long.

    Over 30 days: 14.4, 6, 3, 1. Over 28 days: 13.44, 5.6, 2.8, 0.933. The
    factors follow the SLO's own window, so every alert pages on the share of
    *its* budget the policy names.
    """
    window = format_duration(duration_seconds(slo_window, "slo_window"))
    return tuple(BurnWindow.derive(p.severity, p.long, p.spent, window, p.short) for p in policy)


DEFAULT_WINDOWS: tuple[BurnWindow, ...] = burn_windows("30d")
"""The policy's windows for a 30-day SLO (14.4×, 6×, 3×, 1×): what the alert-quality lab compares by default."""


def validate_slo_window(window: str, windows: Sequence[BurnWindow] = DEFAULT_WINDOWS, field: str = "window",
                     source: str = "") -> None:
    """InvalidInput on ``field`` (named as the input file spells it) unless the SLO window ``window`` holds
    every alert window: the one verdict the spec loader and the rule generator share."""
    longest = max(windows, key=lambda bw: parse_duration(bw.long))
    if parse_duration(window, field) < parse_duration(longest.long):
        raise InvalidInput(field, f"{window} is shorter than the longest alert window ({longest.long}, the "
                                  f"{longest.severity} on slow burns); an SLO window must be at least "
                                  f"{longest.long}: the usual ones are 28d, 30d or 4w", source=source)
