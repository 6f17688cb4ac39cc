"""Error-budget arithmetic: the budget an objective allows and how fast, and how much of it, errors spend.

Pure functions of numbers and durations; a duration is a Prometheus duration
(``"30d"``) or seconds. The budget is ``1 - objective`` of all events in the
SLO window (Google SRE workbook, ch. 2 "Implementing SLOs"; burn rates: ch. 5
"Alerting on SLOs").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import InvalidInput
from ..timescale import parse_duration

__all__ = ["Duration", "duration_seconds", "percent", "error_budget", "budget_minutes", "burn_rate",
           "budget_consumed", "budget_remaining", "time_to_exhaustion", "budget_after_incident", "budget_burndown"]

Duration = str | float
"""A Prometheus duration (``"5m"``) or seconds."""


def duration_seconds(value: Duration, field: str) -> float:
    """``value`` in seconds: a number as it is, a string parsed as a Prometheus duration.

    Raises InvalidInput on ``field`` for a negative number or a string that is not a duration.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInput(field, f"{value} must not be negative")
        return float(value)
    return parse_duration(str(value), field)


def percent(fraction: float) -> str:
    """A fraction as a percentage with four significant digits: 0.001 → ``0.1 %``, 0.999 → ``99.9 %``."""
    return f"{fraction * 100:.4g} %"


def error_budget(objective: float) -> float:
    """The allowed bad fraction, 1 − objective (rounded so 0.999 gives 0.001, not 0.0010000000000000009)."""
    return round(1.0 - objective, 12)


def budget_minutes(objective: float, window: Duration) -> float:
    """Minutes of total outage the budget allows over ``window`` (99.9 % over 30d: 43.2)."""
    return error_budget(objective) * duration_seconds(window, "window") / 60


def burn_rate(error_ratio: float, objective: float) -> float:
    """How many times faster than sustainable the budget is spent (1 = exactly used up at the window's end)."""
    return error_ratio / error_budget(objective)


def budget_consumed(error_ratio: float, period: Duration, objective: float, window: Duration) -> float:
    """Fraction of the window's budget spent by ``error_ratio`` sustained for ``period`` (steady traffic assumed)."""
    return burn_rate(error_ratio, objective) * duration_seconds(period, "period") / duration_seconds(window, "window")


def budget_remaining(error_ratio: float, period: Duration, objective: float, window: Duration) -> float:
    """1 − consumed; negative when the budget is overspent."""
    return 1.0 - budget_consumed(error_ratio, period, objective, window)


def time_to_exhaustion(rate: float, window: Duration, remaining: float = 1.0) -> float:
    """Seconds until ``remaining`` budget is gone at burn ``rate`` (inf when nothing burns)."""
    if rate <= 0:
        return math.inf
    return max(remaining, 0.0) * duration_seconds(window, "window") / rate


def budget_after_incident(duration: Duration, error_ratio: float, objective: float, window: Duration,
                          remaining: float = 1.0) -> float:
    """Budget fraction left after an incident of ``duration`` at ``error_ratio``, starting from ``remaining``."""
    return remaining - budget_consumed(error_ratio, duration, objective, window)


def budget_burndown(error_ratios: Sequence[float], traffic: Sequence[float], objective: float) -> list[float]:
    """Share of the period's error budget consumed after each step (1.0 = all of it).

    Each step's error ratio is weighted by its traffic, because a bad hour at
    peak spends more budget than one at night; the budget is ``1 - objective``
    of all events in the whole period.
    """
    if len(error_ratios) != len(traffic):
        raise InvalidInput("traffic", f"needs one value per error ratio ({len(traffic)} != {len(error_ratios)})")
    allowed = error_budget(objective) * sum(traffic)
    if allowed <= 0:
        raise InvalidInput("traffic", "no events in the period: there is no budget to burn")
    consumed, spent = [], 0.0
    for ratio, weight in zip(error_ratios, traffic):
        spent += ratio * weight
        consumed.append(spent / allowed)
    return consumed
