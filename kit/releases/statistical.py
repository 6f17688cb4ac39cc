"""The statistical canary judge: canary against baseline, metric by metric, over the same interval (Kayenta's idea).

Each metric's per-interval values on the two tracks (``kit.releases.series``) are compared with the
Mann–Whitney U test (``scipy.stats.mannwhitneyu``). The size of the change is the Hodges–Lehmann
estimate, the median of all canary − baseline differences, with the distribution-free confidence interval
that inverts the same test (Hollander, Wolfe & Chicken, *Nonparametric Statistical Methods*, 3rd ed.,
2014, §4.3; Bauer, JASA 67, 1972): with ``m`` and ``n`` values on the two tracks, the ``m·n`` differences
sorted, and ``C = ⌊m·n/2 − z·√(m·n·(m+n+1)/12)⌋`` where ``z`` is the standard normal quantile of
``(1 + confidence)/2`` (the large-sample critical value of U), the interval runs from the ``C``-th smallest
to the ``C``-th largest difference. ``min_samples`` keeps ``m`` and ``n`` where that approximation holds.

Every metric is worse when it grows. Its *limit* is ``allowed_increase × baseline level + tolerance``:
the relative part follows the baseline, the absolute part keeps a zero baseline from allowing nothing.
A metric is scored

- **fail** when the whole interval lies above the limit: worse than allowed, with confidence;
- **marginal** when the interval lies above 0 and reaches past the limit: a real increase that may or may
  not be more than allowed;
- **pass** otherwise: no increase the data can show, or one shown to stay within the limit.

The score is ``100 × Σ weight × (1, ½, 0) / Σ weight``. ROLLBACK when a critical metric fails or the score
is below ``marginal_score``; PROMOTE at ``pass_score`` or above; PAUSE between.

A pass means "no increase seen at this sample size", so the step must be long enough to see the increase
that matters: ``kit.releases.power`` says how long, with the judge's own one-sided significance
``(1 − confidence)/2`` and its tolerance as the margin.

Edge cases, each an explicit verdict:

- either track empty, all NaN, without traffic, or with fewer than ``min_samples`` intervals with traffic:
  PAUSE, the reason names the track (so a canary without traffic, or a missing baseline, never passes);
- NaN values inside a series: that interval is left out of that metric, and counted in ``dropped``;
  a latency metric left with fewer than ``min_samples`` values is *no-data*, and any no-data metric
  makes the verdict PAUSE unless a critical metric fails;
- a zero baseline (level 0, e.g. no errors at all): the limit is the tolerance alone, ``zero_baseline``
  says so;
- sparse, zero-inflated error counts (at least ``sparse_share`` of a track's intervals without a single
  error): per-interval error ratios are then mostly tied at 0, their medians and Hodges–Lehmann shift
  are 0 whatever the canary does, and a per-interval test passes a real regression silently. The
  ``error_ratio`` metric is then judged on the pooled counts instead: the Newcombe hybrid-score interval
  for the difference of two proportions (``statsmodels.stats.proportion.confint_proportions_2indep``,
  Newcombe, Stat. Med. 17, 1998) and a one-sided Fisher exact test (``scipy.stats.fisher_exact``), with
  the same limit and scoring. ``method`` says which was used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput
from .series import TrackSeries, Verdict, describe_problem, usable_intervals

# scipy and statsmodels are imported in the functions that use them: together they cost about a second of CPU,
# which every process importing kit.releases (each `kit` command, kernel and test worker) would otherwise pay
# whether it judges or not.

__all__ = [
    "DEFAULT_METRICS", "METRICS", "MetricScore", "MetricSpec", "StatisticalResult", "StatisticalSettings",
    "judge_statistically",
]

METRICS: dict[str, str] = {
    "error_ratio": "errors / requests per interval (a share); pooled counts when sparse",
    "latency_p50": "per-interval p50 latency, seconds",
    "latency_p99": "per-interval p99 latency, seconds",
}
"""The metrics the judge can compare, with their unit."""


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is judged.

    ``tolerance`` is absolute, in the metric's unit (a share for ``error_ratio``, seconds for latencies);
    ``allowed_increase`` is relative to the baseline's level (0.1 = 10 % worse is fine). A ``critical``
    metric that fails rolls back whatever the score. Raises ``InvalidInput`` naming the field.
    """

    name: str
    tolerance: float
    allowed_increase: float = 0.0
    weight: float = 1.0
    critical: bool = False

    def __post_init__(self) -> None:
        if self.name not in METRICS:
            raise InvalidInput("name", f"unknown metric {self.name!r}; one of {', '.join(METRICS)}")
        for field in ("tolerance", "allowed_increase"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise InvalidInput(field, f"must be a number, 0 or more, got {value!r}")
        if not (isinstance(self.weight, (int, float)) and math.isfinite(self.weight) and self.weight > 0):
            raise InvalidInput("weight", f"must be a positive number, got {self.weight!r}")
        if not isinstance(self.critical, bool):
            raise InvalidInput("critical", f"must be true or false, got {self.critical!r}")


DEFAULT_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("error_ratio", tolerance=0.001, allowed_increase=0.1, critical=True),
    MetricSpec("latency_p50", tolerance=0.010, allowed_increase=0.1),
    MetricSpec("latency_p99", tolerance=0.025, allowed_increase=0.2),
)
"""Errors may grow by 0.1 percentage point plus 10 %, p50 by 10 ms plus 10 %, p99 by 25 ms plus 20 %."""


@dataclass(frozen=True)
class StatisticalSettings:
    """The statistical judge's settings; raises ``InvalidInput`` naming the field.

    ``confidence`` of each interval (0.90: each bound is a one-sided 5 % test); ``min_samples`` intervals
    with traffic per track; ``sparse_share`` of error-free intervals from which error counts are pooled;
    ``pass_score`` and ``marginal_score`` on the 0-100 scale.
    """

    metrics: Sequence[MetricSpec] = DEFAULT_METRICS
    confidence: float = 0.90
    min_samples: int = 10
    sparse_share: float = 0.5
    pass_score: float = 95.0
    marginal_score: float = 75.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        if not self.metrics:
            raise InvalidInput("metrics", "needs at least one metric")
        names = [spec.name for spec in self.metrics]
        for i, name in enumerate(names):
            if not isinstance(self.metrics[i], MetricSpec):
                raise InvalidInput(f"metrics[{i}]", f"must be a MetricSpec, got {type(self.metrics[i]).__name__}")
            if names.index(name) != i:
                raise InvalidInput(f"metrics[{i}].name", f"{name!r} is listed twice")
        if not (isinstance(self.confidence, float) and 0.5 <= self.confidence < 1):
            raise InvalidInput("confidence", f"must be between 0.5 and 1 (0.90 for 90 %), got {self.confidence!r}")
        if not (isinstance(self.min_samples, int) and self.min_samples >= 5):
            raise InvalidInput("min_samples", f"must be a whole number, at least 5, got {self.min_samples!r}")
        if not (isinstance(self.sparse_share, (int, float)) and 0 < self.sparse_share <= 1):
            raise InvalidInput("sparse_share", f"must be a share above 0 and at most 1, got {self.sparse_share!r}")
        if not (0 <= self.marginal_score <= self.pass_score <= 100):
            raise InvalidInput("marginal_score", f"needs 0 <= marginal_score ({self.marginal_score}) <= pass_score "
                               f"({self.pass_score}) <= 100")


@dataclass(frozen=True)
class MetricScore:
    """One metric's comparison: every number the score came from.

    ``classification`` is ``pass``, ``marginal``, ``fail`` or ``no-data``; ``method`` ``mann-whitney`` or
    ``pooled-proportions``. Levels, ``shift`` (canary − baseline), the interval and ``limit`` are in the
    metric's unit; ``p_value`` is the one-sided test that the canary is worse at all; ``n_baseline`` and
    ``n_canary`` count intervals (Mann–Whitney) or requests (pooled); ``dropped`` the NaN values left out.
    """

    name: str
    classification: str
    method: str
    reason: str
    baseline_level: float = math.nan
    canary_level: float = math.nan
    shift: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    limit: float = math.nan
    p_value: float = math.nan
    u_statistic: float = math.nan
    n_baseline: float = 0
    n_canary: float = 0
    dropped: int = 0
    zero_baseline: bool = False


@dataclass(frozen=True)
class StatisticalResult:
    """The verdict, the score (0-100, NaN when nothing was scored), the reason and each metric's numbers."""

    verdict: Verdict
    score: float
    reason: str
    metrics: tuple[MetricScore, ...]
    settings: StatisticalSettings


def _classify(low: float, high: float, limit: float) -> str:
    if low > limit:
        return "fail"
    return "marginal" if low > 0 and high > limit else "pass"


def _limit(spec: MetricSpec, baseline_level: float) -> float:
    return spec.allowed_increase * max(baseline_level, 0.0) + spec.tolerance


def _hodges_lehmann(canary: np.ndarray, baseline: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(estimate, low, high) of the shift canary − baseline; see the module docstring for the source."""
    from scipy import stats

    differences = np.sort(np.subtract.outer(canary, baseline).ravel())
    m, n = len(canary), len(baseline)
    z = stats.norm.ppf((1 + confidence) / 2)
    c = math.floor(m * n / 2 - z * math.sqrt(m * n * (m + n + 1) / 12))
    if c < 1:
        return float(np.median(differences)), -math.inf, math.inf
    return float(np.median(differences)), float(differences[c - 1]), float(differences[m * n - c])


def _values(series: TrackSeries, name: str) -> tuple[np.ndarray, int]:
    """The metric's per-interval values on the usable intervals, and how many were NaN."""
    rows = usable_intervals(series)
    if name == "error_ratio":
        values = [series.errors[i] / series.requests[i] for i in rows]
    else:
        source = series.latency_p50_s if name == "latency_p50" else series.latency_p99_s
        values = [source[i] for i in rows] if source else [math.nan] * len(rows)
    kept = np.array([v for v in values if not math.isnan(v)], dtype=float)
    return kept, len(values) - len(kept)


def _sparse(series: TrackSeries, share: float) -> bool:
    rows = usable_intervals(series)
    return sum(series.errors[i] == 0 for i in rows) >= share * len(rows)


def _pooled(spec: MetricSpec, baseline: TrackSeries, canary: TrackSeries, settings: StatisticalSettings) -> MetricScore:
    from scipy import stats
    from statsmodels.stats.proportion import confint_proportions_2indep

    nb, eb = round(baseline.total_requests), round(baseline.total_errors)
    nc, ec = round(canary.total_requests), round(canary.total_errors)
    if min(nb, nc) == 0:
        return MetricScore(spec.name, "no-data", "pooled-proportions",
                           f"too few requests to pool: {nb} baseline, {nc} canary", n_baseline=nb, n_canary=nc)
    level_b, level_c = eb / nb, ec / nc
    low, high = confint_proportions_2indep(ec, nc, eb, nb, method="newcomb", compare="diff",
                                           alpha=1 - settings.confidence)
    p_value = stats.fisher_exact([[ec, nc - ec], [eb, nb - eb]], alternative="greater").pvalue
    limit = _limit(spec, level_b)
    classification = _classify(float(low), float(high), limit)
    reason = (f"sparse errors (at least {settings.sparse_share:.0%} of a track's intervals had none): pooled "
              f"{ec}/{nc} canary vs {eb}/{nb} baseline, difference in [{low:.5f}, {high:.5f}], limit {limit:.5f}")
    return MetricScore(spec.name, classification, "pooled-proportions", reason, level_b, level_c, level_c - level_b,
                       float(low), float(high), limit, float(p_value), math.nan, nb, nc, 0, level_b == 0)


def _score_metric(spec: MetricSpec, baseline: TrackSeries, canary: TrackSeries,
                  settings: StatisticalSettings) -> MetricScore:
    if spec.name == "error_ratio" and (_sparse(baseline, settings.sparse_share) or _sparse(canary, settings.sparse_share)):
        return _pooled(spec, baseline, canary, settings)
    base, dropped_b = _values(baseline, spec.name)
    can, dropped_c = _values(canary, spec.name)
    dropped = dropped_b + dropped_c
    if min(len(base), len(can)) < settings.min_samples:
        return MetricScore(spec.name, "no-data", "mann-whitney",
                           f"too few samples: {len(base)} baseline and {len(can)} canary values after leaving out "
                           f"{dropped} NaN, at least {settings.min_samples} each needed",
                           n_baseline=len(base), n_canary=len(can), dropped=dropped)
    from scipy import stats

    level_b, level_c = float(np.median(base)), float(np.median(can))
    test = stats.mannwhitneyu(can, base, alternative="greater")
    shift, low, high = _hodges_lehmann(can, base, settings.confidence)
    limit = _limit(spec, level_b)
    classification = _classify(low, high, limit)
    reason = f"shift {shift:+.5g} in [{low:.5g}, {high:.5g}], limit {limit:.5g}, one-sided p={test.pvalue:.3g}"
    return MetricScore(spec.name, classification, "mann-whitney", reason, level_b, level_c, shift, low, high, limit,
                       float(test.pvalue), float(test.statistic), len(base), len(can), dropped, level_b == 0)


def judge_statistically(baseline: TrackSeries, canary: TrackSeries,
                        settings: StatisticalSettings = StatisticalSettings()) -> StatisticalResult:
    """Compare the canary with the baseline over the same interval, metric by metric; see the module docstring.

    ``baseline`` must be the ``stable`` track and ``canary`` the ``canary`` track, at the same step and
    with as many intervals; otherwise ``InvalidInput`` names the field.
    """
    if baseline.track != "stable":
        raise InvalidInput("baseline.track", f"must be 'stable', got {baseline.track!r}")
    if canary.track != "canary":
        raise InvalidInput("canary.track", f"must be 'canary', got {canary.track!r}")
    if baseline.step_s != canary.step_s:
        raise InvalidInput("canary.step_s", f"{canary.step_s:g} s differs from the baseline's {baseline.step_s:g} s: "
                           "both tracks must be queried with the same step")
    if len(baseline.requests) and len(canary.requests) and len(baseline.requests) != len(canary.requests):
        raise InvalidInput("canary.requests", f"has {len(canary.requests)} intervals, the baseline "
                           f"{len(baseline.requests)}: both tracks must cover the same interval")
    for series in (canary, baseline):
        problem = describe_problem(series, settings.min_samples)
        if problem:
            return StatisticalResult(Verdict.PAUSE, math.nan, problem, (), settings)
    scores = tuple(_score_metric(spec, baseline, canary, settings) for spec in settings.metrics)
    weights = {spec.name: spec.weight for spec in settings.metrics}
    scored = [s for s in scores if s.classification != "no-data"]
    points = {"pass": 1.0, "marginal": 0.5, "fail": 0.0}
    total = sum(weights[s.name] for s in scored)
    score = 100 * sum(weights[s.name] * points[s.classification] for s in scored) / total if total else math.nan
    critical = [s.name for s, spec in zip(scores, settings.metrics) if spec.critical and s.classification == "fail"]
    missing = [s.name for s in scores if s.classification == "no-data"]
    if critical:
        verdict, reason = Verdict.ROLLBACK, f"critical metric failed: {', '.join(critical)}"
    elif missing:
        verdict, reason = Verdict.PAUSE, f"no data for {', '.join(missing)}: " + "; ".join(
            s.reason for s in scores if s.classification == "no-data")
    elif score < settings.marginal_score:
        verdict, reason = Verdict.ROLLBACK, f"score {score:.0f} below marginal_score={settings.marginal_score:g}"
    elif score >= settings.pass_score:
        verdict, reason = Verdict.PROMOTE, f"score {score:.0f} at or above pass_score={settings.pass_score:g}"
    else:
        verdict, reason = Verdict.PAUSE, (f"score {score:.0f} between marginal_score={settings.marginal_score:g} "
                                          f"and pass_score={settings.pass_score:g}")
    return StatisticalResult(verdict, score, reason, scores, settings)
