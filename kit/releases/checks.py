"""Two canary judges that look at the canary alone, one check per sample interval.

``judge_thresholds`` is Flagger's analysis: each interval's success rate and p99 are held against fixed
bounds, failed checks are counted, and the canary is rolled back once ``failure_threshold`` checks have
failed (Flagger's ``analysis.threshold``). ``judge_conditions`` is an Argo Rollouts AnalysisRun: a
measurement is *successful* when the success condition holds, *failed* when the failure condition holds,
and *inconclusive* when neither does; more than ``failure_limit`` failures roll back, more than
``inconclusive_limit`` inconclusive measurements pause (Argo's ``failureLimit`` and ``inconclusiveLimit``).

Neither judge compares with the baseline, so neither sees a regression that stays inside its bounds;
that is what ``kit.releases.statistical`` is for. Both judges read a ``TrackSeries`` of the canary
(see ``kit.releases.series`` for the PromQL behind it) and return a result carrying every check.

Edge cases, the same for both: an interval with fewer than ``min_requests`` requests, or with a NaN
count, or whose p99 is NaN while its success rate is within bounds, is a *no-data* check: it is never
counted as a success. Failed checks decide first (evidence of harm is enough, whatever else is
missing); otherwise an empty vector, all-NaN series, a canary without traffic or fewer than
``min_checks`` successful checks give PAUSE with the reason, never PROMOTE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InvalidInput
from .series import TrackSeries, Verdict, describe_problem

__all__ = [
    "Check", "ConditionResult", "Conditions", "ThresholdResult", "Thresholds", "judge_conditions", "judge_thresholds",
]


def _require(field: str, ok: bool, problem: str) -> None:
    if not ok:
        raise InvalidInput(field, problem)


def _require_min_requests(value: object) -> None:
    _require("min_requests", isinstance(value, (int, float)) and value >= 0,
             f"must be a number of requests, 0 or more, got {value!r}")


def _share(value: float) -> bool:
    return isinstance(value, (int, float)) and 0 <= value <= 1


def _seconds(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _count(value: int, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


@dataclass(frozen=True)
class Check:
    """One sample interval of the canary as a judge saw it.

    ``success_rate`` is ``1 - errors / requests`` (NaN without requests); ``p99_s`` in seconds.
    ``outcome`` is ``pass``, ``fail``, ``inconclusive`` (conditions judge only) or ``no-data``; ``why``
    names the bound that decided it.
    """

    index: int
    requests: float
    errors: float
    success_rate: float
    p99_s: float
    outcome: str
    why: str


def _measure(canary: TrackSeries, index: int) -> tuple[float, float, float, float]:
    requests, errors = canary.requests[index], canary.errors[index]
    rate = 1 - errors / requests if requests > 0 and not math.isnan(errors) else math.nan
    p99 = canary.latency_p99_s[index] if canary.latency_p99_s else math.nan
    return requests, errors, rate, p99


def _too_thin(requests: float, errors: float, min_requests: float) -> str | None:
    if math.isnan(requests) or math.isnan(errors):
        return "no data: NaN count (scrape gap)"
    if requests < min_requests or requests == 0:
        return f"no data: {requests:g} requests, fewer than min_requests={min_requests:g}"
    return None


@dataclass(frozen=True)
class Thresholds:
    """Bounds for ``judge_thresholds``.

    ``min_success_rate`` is a share (0.99 = 99 %); ``max_p99_s`` seconds; ``failure_threshold`` the number
    of failed checks at which the canary is rolled back; ``min_checks`` the successful checks needed before
    promoting; ``min_requests`` the requests an interval needs to count as a check (one error among three
    requests is a 67 % success rate: small intervals make a threshold judge flap).
    Raises ``InvalidInput`` naming the field.
    """

    min_success_rate: float = 0.99
    max_p99_s: float = 0.5
    failure_threshold: int = 2
    min_checks: int = 5
    min_requests: float = 1.0

    def __post_init__(self) -> None:
        _require("min_success_rate", _share(self.min_success_rate),
                 f"must be a share between 0 and 1 (0.99 for 99 %), got {self.min_success_rate!r}")
        _require("max_p99_s", _seconds(self.max_p99_s), f"must be a positive number of seconds, got {self.max_p99_s!r}")
        _require("failure_threshold", _count(self.failure_threshold, 1),
                 f"must be a whole number of checks, at least 1, got {self.failure_threshold!r}")
        _require("min_checks", _count(self.min_checks, 1), f"must be a whole number, at least 1, got {self.min_checks!r}")
        _require_min_requests(self.min_requests)


@dataclass(frozen=True)
class ThresholdResult:
    """What ``judge_thresholds`` decided and every check it counted."""

    verdict: Verdict
    reason: str
    passed: int
    failed: int
    no_data: int
    checks: tuple[Check, ...]
    thresholds: Thresholds


def _failed_or_missing(requests: float, errors: float, rate: float, p99: float, min_requests: float,
                       min_rate: float, max_p99_s: float) -> tuple[str, str] | None:
    """One interval's check outcome when it fails a bound or cannot be judged; None when it may still pass."""
    thin = _too_thin(requests, errors, min_requests)
    if thin:
        return "no-data", thin
    if rate < min_rate:
        return "fail", f"success rate {rate:.4f} < {min_rate:g}"
    if p99 > max_p99_s:
        return "fail", f"p99 {p99:.3f} s > {max_p99_s:g} s"
    if math.isnan(p99):
        return "no-data", "no data: p99 is NaN"
    return None


def judge_thresholds(canary: TrackSeries, thresholds: Thresholds = Thresholds()) -> ThresholdResult:
    """Judge the canary alone against fixed bounds, one check per sample interval (Flagger's analysis).

    A check fails when its success rate is below ``min_success_rate`` or its p99 above ``max_p99_s``.
    ROLLBACK once ``failure_threshold`` checks have failed; otherwise PAUSE when the data cannot be judged
    (see the module docstring) or fewer than ``min_checks`` checks passed; otherwise PROMOTE.
    """
    checks = []
    for i in range(len(canary.requests)):
        requests, errors, rate, p99 = _measure(canary, i)
        outcome, why = _failed_or_missing(requests, errors, rate, p99, thresholds.min_requests,
                                          thresholds.min_success_rate, thresholds.max_p99_s) or ("pass", "within bounds")
        checks.append(Check(i, requests, errors, rate, p99, outcome, why))
    passed, failed = (sum(c.outcome == kind for c in checks) for kind in ("pass", "fail"))
    no_data = len(checks) - passed - failed
    problem = describe_problem(canary, thresholds.min_checks, thresholds.min_requests)
    if failed >= thresholds.failure_threshold:
        verdict = Verdict.ROLLBACK
        reason = f"{failed} failed checks reached failure_threshold={thresholds.failure_threshold}"
    elif problem:
        verdict, reason = Verdict.PAUSE, problem
    elif passed < thresholds.min_checks:
        verdict = Verdict.PAUSE
        reason = f"too few samples: {passed} checks passed ({no_data} without data), min_checks={thresholds.min_checks}"
    else:
        verdict = Verdict.PROMOTE
        reason = f"{passed} checks passed, {failed} failed (below failure_threshold={thresholds.failure_threshold})"
    return ThresholdResult(verdict, reason, passed, failed, no_data, tuple(checks), thresholds)


@dataclass(frozen=True)
class Conditions:
    """Success and failure conditions for ``judge_conditions``, as an Argo AnalysisTemplate would write them.

    Success: ``success_rate >= success_min_rate and p99 <= success_max_p99_s``. Failure:
    ``success_rate < failure_below_rate or p99 > failure_above_p99_s``. Between them lies the
    inconclusive band, so the failure bounds must be looser than the success bounds. Rates are shares,
    latencies seconds. ``failure_limit`` and ``inconclusive_limit`` are how many failed or inconclusive
    measurements are tolerated (Argo's defaults: 0 and 0). ``min_measurements`` successful ones are
    needed before promoting; ``min_requests`` as for ``Thresholds``. Raises ``InvalidInput`` naming the field.
    """

    success_min_rate: float = 0.995
    success_max_p99_s: float = 0.3
    failure_below_rate: float = 0.95
    failure_above_p99_s: float = 1.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    min_measurements: int = 5
    min_requests: float = 1.0

    def __post_init__(self) -> None:
        for name in ("success_min_rate", "failure_below_rate"):
            value = getattr(self, name)
            _require(name, _share(value), f"must be a share between 0 and 1 (0.99 for 99 %), got {value!r}")
        for name in ("success_max_p99_s", "failure_above_p99_s"):
            value = getattr(self, name)
            _require(name, _seconds(value), f"must be a positive number of seconds, got {value!r}")
        _require("failure_below_rate", self.failure_below_rate <= self.success_min_rate,
                 f"{self.failure_below_rate:g} is above success_min_rate={self.success_min_rate:g}: a measurement "
                 "could then both succeed and fail")
        _require("failure_above_p99_s", self.failure_above_p99_s >= self.success_max_p99_s,
                 f"{self.failure_above_p99_s:g} is below success_max_p99_s={self.success_max_p99_s:g}: a measurement "
                 "could then both succeed and fail")
        for name in ("failure_limit", "inconclusive_limit"):
            value = getattr(self, name)
            _require(name, _count(value), f"must be a whole number of measurements, 0 or more, got {value!r}")
        _require("min_measurements", _count(self.min_measurements, 1),
                 f"must be a whole number, at least 1, got {self.min_measurements!r}")
        _require_min_requests(self.min_requests)


@dataclass(frozen=True)
class ConditionResult:
    """What ``judge_conditions`` decided and every measurement it counted."""

    verdict: Verdict
    reason: str
    successful: int
    failed: int
    inconclusive: int
    no_data: int
    checks: tuple[Check, ...]
    conditions: Conditions


def judge_conditions(canary: TrackSeries, conditions: Conditions = Conditions()) -> ConditionResult:
    """Judge the canary alone with success and failure conditions (Argo Rollouts' analysis semantics).

    ROLLBACK when more than ``failure_limit`` measurements failed; else PAUSE when more than
    ``inconclusive_limit`` were inconclusive (neither condition held: the canary is not clearly good
    or bad, so a person or a longer step decides), when the data cannot be judged, or when fewer than
    ``min_measurements`` succeeded; else PROMOTE.
    """
    checks = []
    for i in range(len(canary.requests)):
        requests, errors, rate, p99 = _measure(canary, i)
        screened = _failed_or_missing(requests, errors, rate, p99, conditions.min_requests,
                                      conditions.failure_below_rate, conditions.failure_above_p99_s)
        if screened:
            outcome, why = screened
        elif rate >= conditions.success_min_rate and p99 <= conditions.success_max_p99_s:
            outcome, why = "pass", "success condition held"
        else:
            outcome, why = "inconclusive", (f"neither condition held: success rate {rate:.4f}, p99 {p99:.3f} s")
        checks.append(Check(i, requests, errors, rate, p99, outcome, why))
    counts = {kind: sum(c.outcome == kind for c in checks) for kind in ("pass", "fail", "inconclusive", "no-data")}
    problem = describe_problem(canary, conditions.min_measurements, conditions.min_requests)
    if counts["fail"] > conditions.failure_limit:
        verdict = Verdict.ROLLBACK
        reason = f"{counts['fail']} failed measurements, more than failure_limit={conditions.failure_limit}"
    elif counts["inconclusive"] > conditions.inconclusive_limit:
        verdict = Verdict.PAUSE
        reason = (f"inconclusive: {counts['inconclusive']} measurements met neither condition, more than "
                  f"inconclusive_limit={conditions.inconclusive_limit}")
    elif problem:
        verdict, reason = Verdict.PAUSE, problem
    elif counts["pass"] < conditions.min_measurements:
        verdict = Verdict.PAUSE
        reason = (f"too few samples: {counts['pass']} measurements succeeded ({counts['no-data']} without data), "
                  f"min_measurements={conditions.min_measurements}")
    else:
        verdict = Verdict.PROMOTE
        reason = f"{counts['pass']} measurements succeeded, none failed beyond failure_limit={conditions.failure_limit}"
    return ConditionResult(verdict, reason, counts["pass"], counts["fail"], counts["inconclusive"], counts["no-data"],
                           tuple(checks), conditions)
