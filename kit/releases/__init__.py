"""Safe releases: a canary behind HAProxy, canary judges, the power a ring step needs, the deploy log, the DORA keys.

Modules:

- ``canary``: deploy a version as a canary shop process, set its weight, promote or roll it back
  (``deploy``, ``set_weight``, ``promote``, ``rollback``), and ``measure_split`` (pure maths in ``split``)
- ``series``: the per-track input every judge reads (``TrackSeries``), its PromQL, and ``Verdict``
- ``checks``: the judges on the canary alone (``judge_thresholds``) and with success/failure conditions
  (``judge_conditions``)
- ``statistical``: canary against baseline per metric (``judge_statistically``)
- ``power``: how long a ring step must run to see a stated regression (``step_duration``)
- ``query``: the judges' per-track series and the live traffic, from Prometheus (``track_series``, ``live_traffic``)
- ``plan``: release plans from ``releases/*.yml`` (``load_plan``, ``ReleasePlan``)
- ``runner``: `kit release run`: a plan's rings walked with a real canary (``runner.run``, ``ReleaseRun``); a canary
  held at one weight and both tracks queried once (``observe``); a plan's extra traffic (``extra_traffic``)
- ``simulate``: synthetic per-track series shaped like the sandbox's traffic
- ``gate``: the error-budget gate a release passes before every weight increase (``evaluate``, ``GateDecision``)
- ``deploylog``: the durable log of deploys, promotions, rollbacks and flag changes
- ``flags``: change the sandbox's feature flags (on, off, a rollout, a kill switch), each change in the deploy log;
  time a kill switch on real requests (``time_kill``)
- ``incidents``: drill results, pages and recorded incidents as one list
- ``dora``: the DORA keys from the deploy log and the incidents; ``tiers``: the published performance tiers
- ``deployhistory``: a generated 90-day deploy history with known answers

Names are imported on first use, so ``kit dora`` does not load the statistics libraries the judges use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CanaryStatus": "canary", "deploy": "canary", "set_weight": "canary", "promote": "canary",
    "rollback": "canary", "measure_split": "canary", "pause": "canary", "request_counts": "canary",
    "SplitMeasurement": "split",
    "TrackSeries": "series", "Verdict": "series", "TRACKS": "series", "describe_problem": "series",
    "Thresholds": "checks", "ThresholdResult": "checks", "Conditions": "checks", "ConditionResult": "checks",
    "Check": "checks", "judge_thresholds": "checks", "judge_conditions": "checks",
    "MetricSpec": "statistical", "MetricScore": "statistical", "StatisticalSettings": "statistical",
    "StatisticalResult": "statistical", "DEFAULT_METRICS": "statistical", "judge_statistically": "statistical",
    "StepPower": "power", "step_duration": "power", "require_step_power": "power",
    "LiveTraffic": "query", "track_series": "query", "live_traffic": "query",
    "ReleasePlan": "plan", "Ring": "plan", "Detect": "plan", "load_plan": "plan",
    "ReleaseRun": "runner", "Step": "runner", "Judgment": "runner", "Exposure": "runner",
    "Observation": "runner", "observe": "runner", "ExtraTraffic": "runner", "extra_traffic": "runner",
    "simulate_track": "simulate", "SHAPES": "simulate", "VersionShape": "simulate",
    "GateDecision": "gate", "BurnAlert": "gate", "evaluate": "gate",
    "DeployEvent": "deploylog",
    "FlagChange": "flags", "change_flag": "flags", "set_flag": "flags", "reset_flags": "flags",
    "KillTiming": "flags", "time_kill": "flags",
    "Incident": "incidents",
    "DoraReport": "dora", "compute": "dora",
    "place": "tiers",
}
_MODULES = ("canary", "split", "series", "checks", "statistical", "power", "simulate", "deploylog", "incidents", "dora", "tiers",
            "deployhistory", "gate", "flags", "query", "plan", "runner")

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
