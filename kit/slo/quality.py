"""Alert quality: alerting strategies simulated against error profiles, scored on detection time, reset time,
precision and recall.

The comparison the Google SRE workbook makes in ch. 5 ("Alerting on SLOs"):
a plain threshold on the error ratio, one burn rate over one window, and the
multi-window, multi-burn-rate rules ``kit.slo.rules`` generates. Pure
computation (numpy and pandas, imported when first needed); times in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from ..timescale import format_duration, parse_duration
from .budget import Duration, duration_seconds, error_budget, percent
from .burnrate import BurnWindow, burn_windows, factor_label

__all__ = ["Strategy", "threshold_strategy", "burn_rate_strategy", "multiwindow_strategy", "ErrorProfile",
           "default_error_profiles", "Outcome", "simulate", "should_page", "AlertQuality", "alert_quality"]


@dataclass(frozen=True)
class Strategy:
    """An alerting rule set, simulated: it fires while any condition holds; a condition holds when the
    mean error ratio over each of its windows (seconds) exceeds its threshold."""

    name: str
    conditions: tuple[tuple[tuple[float, ...], float], ...]


def threshold_strategy(objective: float, window: Duration = "5m", threshold: float | None = None) -> Strategy:
    """The naive alert: error ratio over ``window`` above ``threshold`` (default: the budget itself)."""
    limit = error_budget(objective) if threshold is None else threshold
    return Strategy(f"error ratio > {percent(limit)} over {format_duration(duration_seconds(window, 'window'))}",
                    (((duration_seconds(window, "window"),), limit),))


def burn_rate_strategy(objective: float, window: Duration = "1h", factor: float = 14.4) -> Strategy:
    """One window, one burn rate: no short window to make it reset quickly."""
    seconds = duration_seconds(window, "window")
    return Strategy(f"burn > {factor:g}× over {format_duration(seconds)}",
                    (((seconds,), factor * error_budget(objective)),))


def multiwindow_strategy(objective: float, windows: Sequence[BurnWindow] | None = None,
                         severity: str | None = "page", *, slo_window: Duration = "30d") -> Strategy:
    """The generated rule set (its ``severity`` alerts, or all when None); ``windows`` defaults to the policy's
    windows for ``slo_window``."""
    windows = burn_windows(slo_window) if windows is None else windows
    chosen = [bw for bw in windows if severity is None or bw.severity == severity]
    if not chosen:
        raise InvalidInput("severity", f"no {severity} windows in the table")
    pairs = ", ".join(f"{factor_label(bw.factor)}×/{bw.long}+{bw.short}" for bw in chosen)
    return Strategy(f"multi-window multi-burn-rate ({pairs})",
                    tuple(((parse_duration(bw.long), parse_duration(bw.short)), bw.factor * error_budget(objective))
                          for bw in chosen))


@dataclass(frozen=True)
class ErrorProfile:
    """A synthetic pattern of errors to judge alerting strategies by: error ratio ``ratio(t)`` for
    ``0 ≤ t < duration`` seconds, a clean service before and after. (A drill's scenario, something injected
    into the live sandbox, is ``kit.drills.scenarios.Scenario``.)"""

    name: str
    duration: float
    ratio: Callable[[float], float]


def _constant(level: float) -> Callable[[float], float]:
    return lambda t: level


def default_error_profiles(objective: float) -> tuple[ErrorProfile, ...]:
    """Total outage (1 h), 10× burn (6 h), 2× slow burn (3 d), and a 30 s total spike (too small to page)."""
    budget = error_budget(objective)
    return (
        ErrorProfile("total outage for 1h", 3600, _constant(1.0)),
        ErrorProfile("10× burn for 6h", 6 * 3600, _constant(10 * budget)),
        ErrorProfile("2× slow burn for 3d", 3 * 86400, _constant(2 * budget)),
        ErrorProfile("100 % errors for 30s", 30, _constant(1.0)),
    )


@dataclass(frozen=True)
class Outcome:
    """One strategy against one error profile, in seconds since its errors started (reset: since they ended)."""

    fired: bool
    detection: float | None
    reset: float | None


def _timeline(profile: ErrorProfile, before: float, after: float, step: float) -> tuple[Any, Any]:
    import numpy as np

    n_before, n_after = int(math.ceil(before / step)), int(math.ceil(after / step))
    n_during = int(math.ceil(profile.duration / step))
    during = np.array([profile.ratio(i * step) for i in range(n_during)], dtype=float)
    errors = np.concatenate([np.zeros(n_before), during, np.zeros(n_after)])
    times = (np.arange(len(errors) + 1) - n_before) * step  # evaluation instants; errors[i] spans [t_i, t_i+1)
    return times, np.concatenate([[0.0], np.cumsum(errors)])


def _window_mean(cum: Any, index: Any, window: float, step: float) -> Any:
    import numpy as np

    span = int(round(window / step))
    lo = np.clip(index - span, 0, None)
    return (cum[index] - cum[lo]) / span


def simulate(strategy: Strategy, profile: ErrorProfile, *, step: float = 1.0) -> Outcome:
    """Evaluate ``strategy`` every ``step`` seconds, as Prometheus would, against the error ``profile``."""
    import numpy as np

    longest = max(w for windows, _ in strategy.conditions for w in windows)
    times, cum = _timeline(profile, longest, longest + step, step)
    index = np.arange(len(times))
    firing = np.zeros(len(times), dtype=bool)
    for windows, threshold in strategy.conditions:
        holds = np.ones(len(times), dtype=bool)
        for window in windows:
            holds &= _window_mean(cum, index, window, step) > threshold
        firing |= holds
    if not firing.any():
        return Outcome(False, None, None)
    first = int(np.argmax(firing))
    end = int(np.searchsorted(times, profile.duration))
    after = np.nonzero(~firing[end:])[0]
    return Outcome(True, float(times[first]), float(after[0] * step) if len(after) else None)


def should_page(profile: ErrorProfile, objective: float, *, windows: Sequence[BurnWindow] | None = None,
                slo_window: Duration = "30d", step: float = 1.0) -> bool:
    """Ground truth: the error profile spends, within some page window's long window, at least the budget share that
    window pages on (defaults: ≥ 2 % of a 30-day budget within 1 h, or ≥ 5 % within 6 h)."""
    import numpy as np

    windows = burn_windows(slo_window) if windows is None else windows
    pages = [bw for bw in windows if bw.severity == "page"]
    longest = max(parse_duration(bw.long) for bw in pages)
    times, cum = _timeline(profile, longest, longest, step)
    index = np.arange(len(times))
    total = error_budget(objective) * duration_seconds(slo_window, "slo_window")
    for bw in pages:
        long = parse_duration(bw.long)
        spent = _window_mean(cum, index, long, step) * long / total
        if spent.max() >= bw.budget_spent(slo_window) - 1e-12:
            return True
    return False


@dataclass(frozen=True)
class AlertQuality:
    """``table``: one row per strategy × error profile (its ``scenario`` column names the profile: lab 03
    selects on that name); ``scores``: precision and recall per strategy."""

    table: Any
    scores: Any


def alert_quality(objective: float = 0.999, strategies: Sequence[Strategy] | None = None,
                  error_profiles: Sequence[ErrorProfile] | None = None, *, step: float = 1.0,
                  slo_window: Duration = "30d") -> AlertQuality:
    """Compare strategies on error profiles (default: ``default_error_profiles``): detection time, reset time,
    and precision/recall against ``should_page`` (for an SLO over ``slo_window``: its factors and budget)."""
    import pandas as pd

    strategies = strategies or (threshold_strategy(objective), burn_rate_strategy(objective),
                                multiwindow_strategy(objective, slo_window=slo_window))
    error_profiles = error_profiles or default_error_profiles(objective)
    truth = {p.name: should_page(p, objective, slo_window=slo_window, step=step) for p in error_profiles}
    rows = []
    for strategy in strategies:
        for profile in error_profiles:
            outcome = simulate(strategy, profile, step=step)
            rows.append({"strategy": strategy.name, "scenario": profile.name, "should_page": truth[profile.name],
                         "fired": outcome.fired, "detection_s": outcome.detection, "reset_s": outcome.reset})
    table = pd.DataFrame(rows)
    scores = []
    for name, group in table.groupby("strategy", sort=False):
        tp = int((group.fired & group.should_page).sum())
        fp = int((group.fired & ~group.should_page).sum())
        fn = int((~group.fired & group.should_page).sum())
        scores.append({"strategy": name, "precision": tp / (tp + fp) if tp + fp else math.nan,
                       "recall": tp / (tp + fn) if tp + fn else math.nan})
    return AlertQuality(table, pd.DataFrame(scores))
