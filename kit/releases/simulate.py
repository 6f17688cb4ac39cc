"""Synthetic track series drawn like the sandbox's lab traffic, for the judges' tests, benchmark and lab 07.

The background traffic's mix (``kit.shop.traffic.CYCLE``: catalog 40 %, product 30 %, checkout 30 %)
arrives as a Poisson stream; each request takes the shop's lognormal service time for its route
(``kit.shop.model``), a checkout also waits for payments; latencies are binned into the shop's histogram
buckets and each interval's p50/p99 read back with Prometheus's ``histogram_quantile``, so the series
have the shape, the bucket steps and the NaN gaps of the real queries in ``kit.releases.series``.
A ``VersionShape`` adds what a release changes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput
from ..histograms import bucket_counts, histogram_quantile
from ..metrics import LATENCY_BUCKETS
from ..shop.model import SERVICE_TIME_MS, SERVICE_TIME_SIGMA
from ..shop.versions import BAD_DEPLOY_CHECKOUT_FAILURES, BAD_DEPLOY_PRODUCT_MS
from ..shop.traffic import CYCLE
from .series import TrackSeries

__all__ = ["SHAPES", "VersionShape", "simulate_track"]

_MIX = {route: count / len(CYCLE) for route, count in Counter(CYCLE).items()}


@dataclass(frozen=True)
class VersionShape:
    """What a version does to the lab traffic: error shares (0.005 = 0.5 %) and added milliseconds."""

    name: str
    extra_error_ratio: float = 0.0
    checkout_failure_ratio: float = 0.0
    extra_ms: float = 0.0
    product_extra_ms: float = 0.0


SHAPES: dict[str, VersionShape] = {shape.name: shape for shape in (
    VersionShape("healthy"),
    VersionShape("known-bad", checkout_failure_ratio=BAD_DEPLOY_CHECKOUT_FAILURES, product_extra_ms=BAD_DEPLOY_PRODUCT_MS),
    VersionShape("subtle-errors", extra_error_ratio=0.005),
    VersionShape("subtle-latency", extra_ms=30.0),
)}
"""The failure shapes of issue 14: a healthy version, 2.0.0 (a third of checkouts fail, product pages
80 ms slower, as ``kit.shop.service`` does it), and the two subtle regressions (+0.5 % errors, +30 ms)."""


def _lognormal(rng: np.random.Generator, mean_ms: float, size: int) -> np.ndarray:
    return rng.lognormal(math.log(mean_ms) - SERVICE_TIME_SIGMA**2 / 2, SERVICE_TIME_SIGMA, size)


def simulate_track(track: str, shape: VersionShape, *, seconds: float, step_s: float, request_rate: float,
                   rng: np.random.Generator, baseline_error_ratio: float = 0.0) -> TrackSeries:
    """One track's series for ``seconds`` at ``step_s``, receiving ``request_rate`` requests a second.

    ``request_rate`` is this track's own rate (the service's rate times its weight); ``baseline_error_ratio``
    a share of requests failing in every version. Raises ``InvalidInput`` for a non-positive duration, step
    or rate.
    """
    for field, value in (("seconds", seconds), ("step_s", step_s), ("request_rate", request_rate)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InvalidInput(field, f"must be a positive number, got {value!r}")
    routes = list(_MIX)
    intervals = max(1, round(seconds / step_s))
    requests, errors, p50, p99 = [], [], [], []
    for _ in range(intervals):
        counts = rng.multinomial(rng.poisson(request_rate * step_s), [_MIX[r] for r in routes])
        latencies, failed = [], 0
        for route, n in zip(routes, counts):
            ms = _lognormal(rng, SERVICE_TIME_MS[route], n) + shape.extra_ms
            if route == "checkout":
                ms += _lognormal(rng, SERVICE_TIME_MS["pay"], n)
            if route == "product":
                ms += shape.product_extra_ms
            fail = baseline_error_ratio + shape.extra_error_ratio
            fail += shape.checkout_failure_ratio if route == "checkout" else 0.0
            failed += int(rng.binomial(n, min(fail, 1.0)))
            latencies.extend(ms / 1000)
        buckets = bucket_counts(latencies, LATENCY_BUCKETS)
        requests.append(float(len(latencies)))
        errors.append(float(failed))
        p50.append(histogram_quantile(0.5, buckets))
        p99.append(histogram_quantile(0.99, buckets))
    return TrackSeries(track, step_s, requests, errors, p50, p99)
