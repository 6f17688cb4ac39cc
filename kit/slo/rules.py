"""Prometheus rules for an SLO: its error ratio recorded over every window, and multi-window, multi-burn-rate
alerts on top.

An alert fires when the error ratio over a long window *and* over a short
window (1/12 of it) both exceed factor × budget (Google SRE workbook, ch. 5);
the windows and factors come from ``kit.slo.burnrate``. Rules are rendered for
a sandbox profile (``kit.config.PROFILES``), whose scrape interval must fill
every window once compressed by the time scale. Pure: the result is a rule
file as a dict; ``kit.promfiles.to_yaml`` writes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import InvalidInput
from ..timescale import MIN_SCRAPES_PER_WINDOW, format_duration, parse_duration
from .budget import percent
from .burnrate import BurnWindow, burn_windows, validate_slo_window, factor_label
from .sli import sli_error_expr
from .spec import SLOSpec

if TYPE_CHECKING:
    from ..config import Profile

__all__ = ["ALERT_VALUE", "record_name", "resolve_profile", "scaled_window", "validated_windows", "generate_rules"]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def record_name(window: str) -> str:
    """The recording rule holding the SLI's error ratio over ``window``: ``slo:sli_error:ratio_rate5m``."""
    return f"slo:sli_error:ratio_rate{window}"


def resolve_profile(profile: str | Profile) -> Profile:
    """The sandbox profile named ``profile`` (a key of ``kit.config.PROFILES``), or ``profile`` itself if it is
    a ``Profile``; InvalidInput on ``profile`` for an unknown name."""
    from ..config import PROFILES

    if isinstance(profile, str):
        if profile not in PROFILES:
            raise InvalidInput("profile", f"{profile!r} is not a profile; choose one of {', '.join(PROFILES)}")
        return PROFILES[profile]
    return profile


def scaled_window(window: str, time_scale: float, profile: Profile) -> str:
    """``window`` compressed ``time_scale``×; InvalidInput when the profile's scrapes cannot fill it."""
    seconds = parse_duration(window) / time_scale
    scrape = parse_duration(profile.scrape_interval)
    if seconds < MIN_SCRAPES_PER_WINDOW * scrape:
        most = parse_duration(window) / (MIN_SCRAPES_PER_WINDOW * scrape)
        raise InvalidInput("time_scale", (
            f"{time_scale:g}× turns the {window} window into {seconds:.3g} s, shorter than {MIN_SCRAPES_PER_WINDOW} "
            f"scrapes at the {profile.name} profile's {profile.scrape_interval} scrape interval: rate() needs two "
            f"samples in its window (four intervals leave room for a missed scrape), so the alerts reading it could "
            f"never fire reliably. With the {profile.name} profile use a time scale of at most {math.floor(most):g}"
            + (" (its own is 1: production timing)" if profile.time_scale == 1 else f" (its own is {profile.time_scale})")))
    return format_duration(seconds)


ALERT_VALUE = '{{ printf "%.1f" $value }}'
"""The alert's value (its long window's burn rate) with one decimal, as the annotations' templates write it."""


def _factor_expr(factor: float) -> str:
    """A burn factor at full precision for the alert expression (0.933333333, not 0.9333)."""
    return f"{factor:.10g}"


def _annotations(spec: SLOSpec, bw: BurnWindow, long: str, short: str, time_scale: float) -> dict[str, str]:
    runway = format_duration(round(spec.window_seconds / bw.factor / 60) * 60)
    threshold = percent(bw.factor * spec.budget)
    factor = factor_label(bw.factor)
    summary = (f"{spec.name} ({spec.service}): errors are spending the {spec.window} error budget {ALERT_VALUE}× faster "
               f"than it allows; at {factor}× or more the whole budget is gone within {runway}")
    description = (f"The error ratio of SLO {spec.name} (objective {percent(spec.objective)} over {spec.window}) has been "
                   f"above {threshold} over both the last {long} and the last {short}: {factor}× the rate the "
                   f"budget allows, which spends {percent(bw.budget_spent(spec.window))} of the budget per {bw.long}. "
                   + ("Act now: follow the runbook." if bw.severity == "page" else
                      "Not an emergency; look at it during working hours."))
    if time_scale != 1:
        summary += f" [time-compressed {time_scale:g}×]"
        description += (f" These rules are time-compressed {time_scale:g}×: the {bw.long}/{bw.short} windows run as "
                        f"{long}/{short}, so everything happens {time_scale:g}× sooner; the math is unchanged.")
    return {"summary": summary, "description": description,
            "runbook_url": spec.runbook_url or f"runbooks/slo-{spec.name}.md"}


def validated_windows(spec: SLOSpec, windows: Sequence[BurnWindow] | None) -> Sequence[BurnWindow]:
    """``windows``, or the policy's windows for the SLO's own window when None, checked: each a page or ticket
    with short < long and a positive factor, and none longer than the SLO window. Raises InvalidInput on
    ``windows[i]``, or on the window field of the spec as its file spells it."""
    if windows is None:
        windows = burn_windows(spec.window)
        validate_slo_window(spec.window, windows, spec.field("window"), spec.source)
        return windows
    if not windows:
        raise InvalidInput("windows", "give at least one burn window")
    for i, bw in enumerate(windows):
        if bw.severity not in ("page", "ticket"):
            raise InvalidInput(f"windows[{i}].severity", f"{bw.severity!r} must be page or ticket")
        if parse_duration(bw.short) >= parse_duration(bw.long) or bw.factor <= 0:
            raise InvalidInput(f"windows[{i}]", "needs short < long and a positive factor")
    validate_slo_window(spec.window, windows, spec.field("window"), spec.source)
    return windows


def generate_rules(spec: SLOSpec, *, time_scale: float = 1, profile: str | Profile = "realistic",
                   windows: Sequence[BurnWindow] | None = None) -> dict:
    """A Prometheus rule file: the SLI error ratio over every window, then one burn alert per window pair.

    ``windows`` defaults to ``burn_windows(spec.window)``: the factors follow
    the SLO's own window. ``time_scale`` divides every window; ``profile``
    (a name or a ``Profile``; default the production-like ``realistic``) is
    the Prometheus the rules are meant for, and InvalidInput(time_scale) says
    when a compressed window would hold fewer than ``MIN_SCRAPES_PER_WINDOW``
    of its scrapes.
    """
    if time_scale <= 0:
        raise InvalidInput("time_scale", f"{time_scale} must be a positive number")
    windows = validated_windows(spec, windows)
    prof = resolve_profile(profile)
    needed = sorted({w for bw in windows for w in (bw.long, bw.short)}, key=parse_duration)
    labels = {"slo": spec.name, "service": spec.service}
    recordings = [{"record": record_name(scaled_window(w, time_scale, prof)),
                   "expr": sli_error_expr(spec, scaled_window(w, time_scale, prof)), "labels": dict(labels)}
                  for w in needed]
    match = f'{{slo="{spec.name}", service="{spec.service}"}}'
    alerts = []
    for bw in windows:
        long, short = scaled_window(bw.long, time_scale, prof), scaled_window(bw.short, time_scale, prof)
        factor = _factor_expr(bw.factor)
        expr = (f"(\n  {record_name(long)}{match} / {spec.budget!r} > {factor}\nand\n"
                f"  {record_name(short)}{match} / {spec.budget!r} > {factor}\n)")
        alerts.append({
            "alert": f"{_camel(spec.name)}ErrorBudgetBurn",
            "expr": expr,
            "labels": {"severity": bw.severity, "long_window": long, "short_window": short,
                       "burn_factor": factor_label(bw.factor), **labels},
            "annotations": _annotations(spec, bw, long, short, time_scale),
        })
    return {"groups": [{"name": f"slo-{spec.name}-sli", "rules": recordings},
                       {"name": f"slo-{spec.name}-alerts", "rules": alerts}]}
