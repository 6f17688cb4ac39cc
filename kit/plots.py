"""The standard charts, so notebooks show results with one call instead of plotting code."""

from __future__ import annotations

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
