"""An SLO's error budget over recorded history: per-step error ratio, traffic and budget consumed, queried from
Prometheus (``budget_report``), and what a ``BudgetReport`` says about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from .budget import budget_burndown, duration_seconds
from .sli import sli_error_expr, sli_total_expr
from .spec import SLOSpec

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["BudgetReport", "budget_report"]


@dataclass(frozen=True)
class BudgetReport:
    """An SLO's budget over a period of recorded data: per-step error ratio, traffic and budget consumed."""

    spec: SLOSpec
    frame: Any  # pandas DataFrame: timestamp, error_ratio, traffic, consumed, remaining
    step: str

    @property
    def availability(self) -> float:
        """1 − the traffic-weighted error ratio over the whole period."""
        weights = self.frame["traffic"].sum()
        return 1 - float((self.frame["error_ratio"] * self.frame["traffic"]).sum() / weights)

    @property
    def consumed(self) -> float:
        return float(self.frame["consumed"].iloc[-1])

    def spent_between(self, start: Any, end: Any) -> float:
        """Share of the budget spent by the steps that overlap [start, end] (e.g. one incident)."""
        import pandas as pd

        start, end = pd.Timestamp(start), pd.Timestamp(end)
        step = pd.Timedelta(seconds=duration_seconds(self.step, "step"))
        spent = self.frame["consumed"].diff().fillna(self.frame["consumed"])
        # a row's timestamp closes the step it covers: (timestamp - step, timestamp]
        overlaps = (self.frame["timestamp"] > start) & (self.frame["timestamp"] - step < end)
        return float(spent[overlaps].sum())

    def worst(self, n: int = 5) -> Any:
        """The ``n`` steps that spent the most budget: where the incidents are."""
        spent = self.frame["consumed"].diff().fillna(self.frame["consumed"])
        return self.frame.assign(spent=spent).nlargest(n, "spent")[["timestamp", "error_ratio", "spent"]]

    def __str__(self) -> str:
        lines = [f"{self.spec.name}: objective {self.spec.objective:.3%}, "
                 f"{self.frame['timestamp'].iloc[0]:%Y-%m-%d %H:%M} to {self.frame['timestamp'].iloc[-1]:%Y-%m-%d %H:%M} UTC",
                 f"  availability {self.availability:.4%}; budget consumed {self.consumed:.1%}, "
                 f"remaining {1 - self.consumed:.1%}",
                 f"  steps ({self.step}) that spent the most budget:"]
        for row in self.worst().itertuples():
            lines.append(f"    {row.timestamp:%Y-%m-%d %H:%M}  error ratio {row.error_ratio:.2%}  spent {row.spent:.1%}")
        return "\n".join(lines)


def budget_report(spec: SLOSpec, *, days: float | None = None, step: str = "1h", end: Any = "now",
                  config: Config | None = None) -> BudgetReport:
    """The SLO's error budget over the last ``days`` (default: its whole window) of data in Prometheus."""
    import time as _time

    from .. import prom

    seconds = days * 86400 if days is not None else spec.window_seconds
    step_s = duration_seconds(step, "step")
    if seconds <= 0 or seconds < 2 * step_s:
        raise InvalidInput("days", f"the period must hold at least two steps of {step}")
    end_s = _time.time() if end == "now" else float(end)
    start_s = end_s - seconds + step_s
    ratios = prom.query_range(sli_error_expr(spec, step), start_s, end_s, step, config=config)
    traffic = prom.query_range(sli_total_expr(spec, step), start_s, end_s, step, config=config)
    frame = ratios[["timestamp", "value"]].rename(columns={"value": "error_ratio"}).merge(
        traffic[["timestamp", "value"]].rename(columns={"value": "traffic"}), on="timestamp")
    frame = frame.dropna()
    if frame.empty:
        raise InvalidInput("spec", f"Prometheus has no data for {spec.name} in that period; load history with "
                                   "`kit history backfill` or let the sandbox run")
    frame["consumed"] = budget_burndown(list(frame["error_ratio"]), list(frame["traffic"]), spec.objective)
    frame["remaining"] = 1 - frame["consumed"]
    return BudgetReport(spec, frame.reset_index(drop=True), step)
