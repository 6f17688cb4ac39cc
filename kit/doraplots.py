"""The DORA keys as charts: deployments and failures per week, lead times, change failure rate per week,
recovery times; each takes a ``kit.releases.dora.DoraReport`` and returns its matplotlib axes."""

from __future__ import annotations

import math

DAY = 86400.0
WEEK = 7 * DAY


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2))
    return ax


def _weeks(report) -> list[tuple[float, int, int]]:
    """(week start, deployments, failed) for each whole or partial week of the report's window."""
    count = max(1, math.ceil((report.end - report.start) / WEEK))
    weeks = [[report.start + i * WEEK, 0, 0] for i in range(count)]
    for d in report.deployments:
        week = weeks[min(count - 1, int((d.deployed_at - report.start) // WEEK))]
        week[1] += 1
        week[2] += d.failed
    return [tuple(w) for w in weeks]


def _dates(seconds):
    import pandas as pd

    return pd.to_datetime(list(seconds), unit="s", utc=True)


def deployment_frequency(report, *, ax=None):
    """Deployments per week, the failed ones in red: how often the team ships, and what broke."""
    ax = _axes(ax)
    weeks = _weeks(report)
    when = _dates(w[0] for w in weeks)
    ax.bar(when, [w[1] - w[2] for w in weeks], width=6, align="edge", color="tab:blue", label="deployments")
    ax.bar(when, [w[2] for w in weeks], width=6, align="edge", bottom=[w[1] - w[2] for w in weeks],
           color="crimson", label="failed")
    ax.set_title(f"deployment frequency: {report.per_day:.2f} per day over {report.days:.0f} days")
    ax.set_ylabel("deployments per week")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(True, alpha=0.3)
    ax.figure.autofmt_xdate()
    return ax


def lead_times(report, *, ax=None):
    """The distribution of lead times (commit to 100 % of traffic), in hours, median marked."""
    ax = _axes(ax)
    hours = [t / 3600 for t in report.lead_times]
    if not hours:
        ax.text(0.5, 0.5, "no deployment reached 100 %", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.hist(hours, bins=min(30, max(5, len(hours) // 3)), color="tab:blue")
        ax.axvline(report.lead_time / 3600, color="black", linestyle="--", label=f"median {report.lead_time / 3600:.1f} h")
        ax.legend(fontsize="small")
    ax.set_title("lead time for changes")
    ax.set_xlabel("hours from commit to 100 % of traffic")
    ax.set_ylabel("deployments")
    ax.grid(True, alpha=0.3)
    return ax


def change_failure_rate(report, *, ax=None):
    """Change failure rate per week (failed deployments / deployments), the whole window's rate as a line."""
    ax = _axes(ax)
    weeks = [w for w in _weeks(report) if w[1]]
    ax.plot(_dates(w[0] for w in weeks), [100 * w[2] / w[1] for w in weeks], marker="o", color="crimson")
    if report.change_failure_rate is not None:
        ax.axhline(100 * report.change_failure_rate, color="black", linestyle="--",
                   label=f"{report.days:.0f}-day rate {report.change_failure_rate:.0%}")
        ax.legend(fontsize="small")
    ax.set_title("change failure rate (each failed deployment counted once)")
    ax.set_ylabel("% of deployments")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.figure.autofmt_xdate()
    return ax


def recovery_times(report, *, ax=None):
    """Each failed deployment's recovery time in minutes, by when it failed, median marked."""
    ax = _axes(ax)
    failed = [d for d in report.deployments if d.recovery_time is not None]
    if not failed:
        ax.text(0.5, 0.5, "no failed deployment recovered", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.scatter(_dates(d.failure_start for d in failed), [d.recovery_time / 60 for d in failed], color="crimson")
        ax.axhline(report.recovery_time / 60, color="black", linestyle="--",
                   label=f"median {report.recovery_time / 60:.0f} min")
        ax.legend(fontsize="small")
        ax.figure.autofmt_xdate()
    ax.set_title("failed deployment recovery time")
    ax.set_ylabel("minutes")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    return ax


def dashboard(report):
    """The four charts in one figure (2 × 2); returns the figure."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(12, 7))
    deployment_frequency(report, ax=axes[0][0])
    change_failure_rate(report, ax=axes[0][1])
    lead_times(report, ax=axes[1][0])
    recovery_times(report, ax=axes[1][1])
    figure.tight_layout()
    return figure
