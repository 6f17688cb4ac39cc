"""Histogram arithmetic as Prometheus does it: cumulative bucket counts and ``histogram_quantile``.

Pure functions with no I/O, so a lab can compare the quantile Prometheus would
estimate from a histogram's buckets with the exact quantile of the same sample.
A histogram here is a sequence of ``(le, cumulative_count)`` pairs sorted by
``le`` and ending with ``le = +Inf``, the shape of a ``*_bucket`` series set.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["Buckets", "bucket_counts", "bucket_of", "histogram_quantile"]

Buckets = Sequence[tuple[float, float]]
"""``(le, cumulative_count)`` pairs, ascending ``le``, the last one ``+Inf``."""


def bucket_counts(values: Iterable[float], edges: Iterable[float]) -> list[tuple[float, int]]:
    """Cumulative counts of ``values`` at or below each edge, plus ``+Inf``: what a Prometheus histogram exports.

    ``edges`` are the bucket upper bounds (``le``); like prometheus_client, a value equal to an
    edge counts in that edge's bucket.
    """
    les = sorted({float(edge) for edge in edges} - {math.inf})
    if any(math.isnan(le) for le in les):
        raise ValueError("bucket edges must be numbers, not NaN")
    data = np.sort(np.asarray(list(values), dtype=float))
    counts = np.searchsorted(data, les, side="right")
    return [(le, int(count)) for le, count in zip(les, counts)] + [(math.inf, int(data.size))]


def _checked(buckets: Buckets) -> list[tuple[float, float]]:
    pairs = sorted((float(le), float(count)) for le, count in buckets)
    if len(pairs) < 2 or not math.isinf(pairs[-1][0]):
        raise ValueError("a histogram needs at least two buckets, the last one le=+Inf")
    fixed, highest = [], 0.0
    for le, count in pairs:  # Prometheus repairs non-monotonic counts (scrapes racing observations)
        highest = max(highest, count)
        fixed.append((le, highest))
    return fixed


def histogram_quantile(q: float, buckets: Buckets) -> float:
    """The q-quantile Prometheus's ``histogram_quantile`` estimates from cumulative bucket counts.

    The rank ``q × total`` is located in its bucket and the value interpolated linearly
    between the bucket's bounds, assuming observations spread evenly inside it. The lowest
    bucket starts at 0 (or is returned as is when its bound is not positive); a rank in the
    ``+Inf`` bucket returns the highest finite bound. NaN when there are no observations.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    pairs = _checked(buckets)
    total = pairs[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next(i for i, (_, count) in enumerate(pairs) if count >= rank)
    if b == len(pairs) - 1:
        return pairs[-2][0]
    if b == 0 and pairs[0][0] <= 0:
        return pairs[0][0]
    start, end, count = 0.0, pairs[b][0], pairs[b][1]
    if b > 0:
        start = pairs[b - 1][0]
        count -= pairs[b - 1][1]
        rank -= pairs[b - 1][1]
    if count == 0:  # only when q = 0 and the lowest bucket is empty: Prometheus computes 0/0 too
        return math.nan
    return start + (end - start) * (rank / count)


def bucket_of(q: float, buckets: Buckets) -> tuple[float, float]:
    """``(lower, upper)`` bounds of the bucket holding the q-quantile's rank: the widest the estimate can be off."""
    if not 0 <= q <= 1:
        raise ValueError(f"q must be between 0 and 1, got {q}")
    pairs = _checked(buckets)
    rank = q * pairs[-1][1]
    b = next(i for i, (_, count) in enumerate(pairs) if count >= rank)
    return (pairs[b - 1][0] if b > 0 else 0.0, pairs[b][0])
