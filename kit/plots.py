"""The standard charts, so notebooks show results with one call instead of plotting code."""

from __future__ import annotations

import math

import pandas as pd


def _series_name(row: pd.Series, labels: list[str]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in labels) or "value"


def timeseries(frame: pd.DataFrame, *, title: str = "", ylabel: str = "", ax=None):
    """Plot a long-form range-query frame (label columns, timestamp, value): one line per series."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5))
    labels = [c for c in frame.columns if c not in ("timestamp", "value", "__name__")]
    if frame.empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    elif labels:
        for _, group in frame.groupby(labels, sort=True):
            name = _series_name(group.iloc[0], labels)
            ax.plot(group["timestamp"], group["value"], label=name)
        ax.legend(loc="upper left", fontsize="small")
    else:
        ax.plot(frame["timestamp"], frame["value"])
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.figure.autofmt_xdate()
    return ax


def budget_burndown(report, *, ax=None):
    """Error budget remaining over the period of a ``slo.BudgetReport``: the line a team watches fall."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5))
    frame = report.frame
    ax.plot(frame["timestamp"], 100 * frame["remaining"], color="tab:blue")
    ax.axhline(0, color="crimson", linewidth=1)
    ax.fill_between(frame["timestamp"], 100 * frame["remaining"], 0, where=frame["remaining"] < 0,
                    color="crimson", alpha=0.2)
    ax.set_title(f"{report.spec.name}: error budget remaining ({report.spec.objective:.2%} objective)")
    ax.set_ylabel("% of budget left")
    ax.grid(True, alpha=0.3)
    ax.figure.autofmt_xdate()
    return ax


def capacity_search(result, axes=None):
    """Throughput, p99 latency and error ratio against offered load of a ``capacity.search``, knee marked."""
    import math

    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    frame = result.steps.sort_values("offered_rps")
    x = frame["offered_rps"]
    ax = axes[0]
    ax.plot(x, frame["throughput_rps"], "o-", label="throughput")
    ax.plot(x, x, ":", color="grey", label="offered = served")
    ax.axhline(result.expected_rps, color="tab:green", linestyle="--", linewidth=1, label="slots ÷ mean service")
    ax.set_ylabel("successful req/s")
    ax.legend(fontsize="small")
    axes[1].plot(x, frame["p99_ms"], "o-", color="tab:orange", label="p99")
    axes[1].plot(x, frame["p50_ms"], "o-", color="tab:blue", alpha=0.6, label="p50")
    axes[1].axhline(result.slo.p99_ms, color="crimson", linewidth=1, label="SLO p99")
    axes[1].set_ylabel("latency ms (from intended start)")
    axes[1].legend(fontsize="small")
    axes[2].plot(x, 100 * frame["error_ratio"], "o-", color="crimson")
    axes[2].axhline(100 * result.slo.max_error_ratio, color="grey", linewidth=1)
    axes[2].set_ylabel("% shed or failed")
    for ax in axes:
        if not math.isnan(result.knee_rps):
            ax.axvline(result.knee_rps, color="black", linestyle="--", linewidth=1)
        ax.set_xlabel("offered req/s")
        ax.grid(True, alpha=0.3)
    axes[0].set_title(f"{result.route}: knee {result.knee_rps:.0f} req/s")
    axes[0].figure.tight_layout()
    return axes


_SPAN_COLOURS = {"TTD": "tab:orange", "TTA": "tab:purple", "TTM": "tab:blue", "TTR": "tab:green"}
_DRILL_ROWS = ("started", "roles", "steady_state", "injected", "alert_firing", "page", "acknowledged", "note", "hint",
               "action", "resolution_check", "resolved", "abandoned", "ended", "watcher")
_ALWAYS_SHOWN = ("injected", "alert_firing", "page", "acknowledged", "note", "hint", "action", "resolution_check",
                 "resolved")
_KIND_COLOURS = {"injected": "black", "alert_firing": "tab:orange", "page": "crimson", "acknowledged": "tab:purple",
                 "note": "tab:gray", "hint": "goldenrod", "action": "tab:blue", "resolved": "tab:green",
                 "abandoned": "crimson"}


def _event_colour(event) -> str:
    """Red for what hurts, green for what heals: a resolved page or a passed check reads as good news."""
    if event.data.get("status") == "resolved" or event.data.get("passed") is True:
        return "tab:green"
    if event.data.get("passed") is False or event.data.get("severity") == "page":
        return "crimson"
    if event.data.get("severity") == "ticket":
        return "tab:orange"
    return _KIND_COLOURS.get(event.kind, "tab:gray")


def _tick_step(seconds: float) -> float:
    """A round tick spacing (5 s, 10 s, … 30 min, then whole hours) that gives at most about ten m:ss ticks."""
    return next((s for s in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800) if seconds / s <= 10),
                3600 * max(1, math.ceil(seconds / 36000)))


def drill_timeline(events, *, started_at: float | None = None, now: float | None = None, ax=None):
    """A drill's timeline over elapsed m:ss: a marker row per event kind and TTD/TTA/TTM/TTR as labelled bars.

    ``now`` (unix seconds) is the moment a running drill is drawn at: its title
    says how long it has run so far, and a dashed line marks the present.
    Without it, a running drill is drawn up to its latest event.
    Drawn on a ``matplotlib.figure.Figure`` outside pyplot, so a console can redraw
    it from a background thread without leaking figures or showing them twice.
    Works on any prefix of a timeline: spans not reached yet read "not yet".
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    from .timeline import clock, response_times

    events = sorted(events, key=lambda e: e.t)
    origin = started_at if started_at is not None else next(
        (e.t for e in events if e.kind == "started"), events[0].t if events else 0.0)
    present = list(dict.fromkeys(e.kind for e in events))
    kinds = [k for k in _DRILL_ROWS if k in _ALWAYS_SHOWN or k in present]
    kinds += [k for k in present if k not in kinds]
    found = response_times(events)
    spans = {"TTD": (found.injected_at, found.detected_at), "TTA": (found.paged_at or found.detected_at,
             found.acknowledged_at), "TTM": (found.injected_at, found.mitigated_at),
             "TTR": (found.injected_at, found.resolved_at)}
    rows = list(spans) + kinds
    if ax is None:
        ax = Figure(figsize=(9, 1.4 + 0.3 * len(rows)), layout="constrained").add_subplot()
    ended = next((e for e in events if e.kind in ("resolved", "abandoned")), None)
    last = max((e.t - origin for e in events), default=0.0)
    if now is not None and ended is None:
        last = max(last, now - origin)
    right = max(30.0, last * 1.15)

    for y, (name, (begin, end)) in enumerate(spans.items()):
        if begin is not None and end is not None:
            ax.barh(y, max(end - begin, right / 400), left=begin - origin, height=0.6, color=_SPAN_COLOURS[name])
            ax.text(end - origin + right / 150, y, clock(end - begin), va="center", fontsize="small")
        else:
            ax.text((begin - origin) if begin is not None else 0, y, " not yet", va="center", fontsize="small",
                    color="tab:gray", style="italic")
    for y, kind in enumerate(kinds, start=len(spans)):
        mine = [e for e in events if e.kind == kind]
        ax.scatter([e.t - origin for e in mine], [y] * len(mine), c=[_event_colour(e) for e in mine], s=45,
                   edgecolors="white", linewidths=0.8, zorder=3)
    for moment in (found.injected_at, found.resolved_at):
        if moment is not None:
            ax.axvline(moment - origin, color="tab:gray", linewidth=0.8, linestyle=":")
    ax.axhline(len(spans) - 0.5, color="tab:gray", linewidth=0.8)
    if now is not None and ended is None:
        ax.axvline(now - origin, color="tab:red", linewidth=0.8, linestyle="--")
    if not events:
        ax.text(0.5, 0.5, "no events yet", ha="center", va="center", transform=ax.transAxes, color="tab:gray")

    ax.set_yticks(range(len(rows)), [r.replace("_", " ") for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(-right / 100, right)
    ax.xaxis.set_major_locator(MultipleLocator(_tick_step(right)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: clock(x)))
    ax.set_xlabel("elapsed since the drill started (m:ss)")
    ax.grid(True, axis="x", alpha=0.3)
    state = ("no events yet" if not events and now is None else f"{ended.kind} at {clock(ended.t - origin)}" if ended
             else f"running, {clock(last)} so far")
    ax.set_title(f"Drill timeline: {state}")
    return ax.figure


def oncall_timeline(report, *, ax=None):
    """Who is on call when, from a ``kit.ownership.oncall.RotationReport``: a row per engineer, primary shifts
    solid, secondary ones hatched, in the team's time zone over the checked window; coverage gaps and overlaps
    shaded red, so the stretch a finding names is where the eye lands."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(11, 3.8))
    zone = report.zone
    begin, end = (pd.Timestamp(t).tz_convert(zone) for t in (report.start, report.end))
    shifts = report.shifts[(report.shifts["start"] < end) & (report.shifts["end"] > begin)]
    people = sorted(set(shifts["engineer"]))
    for y, person in enumerate(people):
        for row in shifts[shifts["engineer"] == person].itertuples():
            left, right = max(row.start.tz_convert(zone), begin), min(row.end.tz_convert(zone), end)
            primary = row.role == "primary"
            ax.barh(y, right - left, left=left, height=0.6 if primary else 0.4, color="tab:blue",
                    alpha=1 if primary else 0.35, hatch=None if primary else "//", edgecolor="white")
    least = (end - begin) / 300  # an hour's gap in a quarter would be thinner than a pixel
    for finding in report.failed("coverage"):
        middle, half = finding.start + (finding.end - finding.start) / 2, max(finding.end - finding.start, least) / 2
        ax.axvspan(pd.Timestamp(middle - half).tz_convert(zone), pd.Timestamp(middle + half).tz_convert(zone),
                   color="crimson", alpha=0.25, linewidth=0)
    ax.set_yticks(range(len(people)), people)
    ax.set_ylim(len(people) - 0.5, -0.5)
    ax.set_xlim(begin, end)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b", tz=zone))
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(f"{report.team} on call (solid primary, hatched secondary, red a gap or overlap)")
    return ax
