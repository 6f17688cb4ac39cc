"""What every canary judge reads: one track's request, error and latency series over the judged interval.

A judge never talks to Prometheus. A query layer (``kit.releases.query``) runs one range query per series
and per track (``track="stable"`` for the baseline, ``track="canary"`` for the new version) with the same
``start``, ``end`` and ``step``, so that value ``i`` of every series, on both tracks, covers the same
``step`` seconds. With ``$T`` the track, ``$S`` the step as a PromQL duration (``10s``), ``$R`` the
business routes (``/catalog|/products/{product_id}|/checkout``; ``/health`` and ``/metrics`` would
dilute every ratio) and ``Δ(x)`` the growth of counters ``x`` over the step, ``(sum(x) - (sum(x offset $S)
or sum(x) * 0))``, the series are:

=================  =============================================================================================
field              PromQL (range query, ``step = $S``)
=================  =============================================================================================
``requests``       ``Δ(http_requests_total{job="shop", track="$T", route=~"$R"})``
``errors``         ``Δ(http_requests_total{job="shop", track="$T", route=~"$R", code=~"5.."}) or on() vector(0)``
``latency_p50_s``  ``histogram_quantile(0.5, Δ by (le) (http_request_duration_seconds_bucket{job="shop",
                   track="$T", route=~"$R"}))``, ``Δ by (le)`` summing ``by (le)``
``latency_p99_s``  the same with ``0.99``
=================  =============================================================================================

The difference of the sums at consecutive timestamps makes consecutive values cover consecutive,
non-overlapping intervals that leave nothing out: every request is counted in the interval of the first
scrape that saw it. ``increase(x[$S])`` would not: at two scrapes per window it sees only the growth
between the two samples inside the window, so the growth between windows (half of it at a 2 s step and
1 s scrapes) is never seen, and a series that first appears with its first error (a canary's first 5xx)
is never counted. ``or sum(x) * 0`` counts a series with no sample one step before from zero.
Prometheus's answer maps onto the fields like this: no series at all (the track is not
scraped yet, or its ``track`` label is missing) is an empty tuple; a timestamp missing from the answer
(a scrape gap) is NaN at that position, and so is a negative difference (a counter reset: the process
restarted); ``histogram_quantile`` of an interval without requests is NaN.
``errors`` with no 5xx series at all is a tuple of zeros as long as ``requests``
(``... or on() vector(0)``), not an empty one. The judges turn each of these into an explicit verdict;
see ``describe_problem``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from ..errors import InvalidInput

__all__ = ["TRACKS", "TrackSeries", "Verdict", "describe_problem", "usable_intervals"]

TRACKS: tuple[str, ...] = ("stable", "canary")
"""Values of the ``track`` label: the baseline (the version serving now) and the canary."""


class Verdict(str, Enum):
    """What a judge tells the plan runner to do with the canary."""

    PROMOTE = "promote"
    """The evidence says the canary is fine: move to the next ring."""
    PAUSE = "pause"
    """Inconclusive (no data, too little data, neither condition held): hold the weight, judge again later."""
    ROLLBACK = "rollback"
    """The evidence says the canary is worse than allowed: its weight goes to 0."""


def _floats(field: str, values: Sequence[float]) -> tuple[float, ...]:
    try:
        numbers = tuple(float(value) for value in values)
    except (TypeError, ValueError) as error:
        raise InvalidInput(field, f"must be a sequence of numbers, one per sample interval ({error})") from None
    return numbers


@dataclass(frozen=True)
class TrackSeries:
    """One track's series over the judged interval, one value per sample interval of ``step_s`` seconds.

    ``requests`` and ``errors`` are counts per interval (Prometheus's ``increase`` extrapolates, so they
    may be fractional); ``latency_p50_s`` and ``latency_p99_s`` are per-interval quantiles in seconds. Every
    series given must be as long as ``requests``; a latency series may be left empty when the judge
    does not use it. The module docstring gives the PromQL behind each field.

    Raises ``InvalidInput`` naming the field for a step that is not positive, a track other than
    ``stable``/``canary``, series of different lengths, negative counts, or more errors than requests
    in an interval: each is a bug in the query layer, not a property of the canary.
    """

    track: str
    step_s: float
    requests: Sequence[float]
    errors: Sequence[float]
    latency_p50_s: Sequence[float] = ()
    latency_p99_s: Sequence[float] = ()

    def __post_init__(self) -> None:
        if self.track not in TRACKS:
            raise InvalidInput("track", f"must be one of {', '.join(TRACKS)}, got {self.track!r}")
        if not (isinstance(self.step_s, (int, float)) and math.isfinite(self.step_s) and self.step_s > 0):
            raise InvalidInput("step_s", f"must be a positive number of seconds, got {self.step_s!r}")
        for name in ("requests", "errors", "latency_p50_s", "latency_p99_s"):
            object.__setattr__(self, name, _floats(f"{self.track}.{name}", getattr(self, name)))
        n = len(self.requests)
        for name in ("errors", "latency_p50_s", "latency_p99_s"):
            length = len(getattr(self, name))
            if length != n and not (name.startswith("latency") and length == 0):
                raise InvalidInput(f"{self.track}.{name}", f"has {length} values but requests has {n}: every "
                                   "series must come from one range query with the same start, end and step")
        for i, (req, err) in enumerate(zip(self.requests, self.errors)):
            if req < 0 or err < 0:
                raise InvalidInput(f"{self.track}.requests[{i}]" if req < 0 else f"{self.track}.errors[{i}]",
                                   "is negative: counts come from increase(), which never is")
            if err > req * (1 + 1e-9) + 1e-9:
                raise InvalidInput(f"{self.track}.errors[{i}]", f"{err:g} errors but only {req:g} requests: "
                                   "the two queries must select the same series (same job, track and routes)")

    @property
    def seconds(self) -> float:
        """The time the series cover, in seconds."""
        return self.step_s * len(self.requests)

    @property
    def total_requests(self) -> float:
        """Requests over the usable intervals (NaN intervals left out)."""
        return sum(self.requests[i] for i in usable_intervals(self))

    @property
    def total_errors(self) -> float:
        """Errors over the usable intervals."""
        return sum(self.errors[i] for i in usable_intervals(self))


def usable_intervals(series: TrackSeries, min_requests: float = 0.0) -> list[int]:
    """Indexes of the intervals whose request and error counts are known (not NaN), with requests, and at
    least ``min_requests`` of them."""
    return [i for i, (req, err) in enumerate(zip(series.requests, series.errors))
            if not math.isnan(req) and not math.isnan(err) and req > 0 and req >= min_requests]


def describe_problem(series: TrackSeries, min_intervals: int, min_requests: float = 0.0) -> str | None:
    """Why ``series`` cannot be judged, or None when it can; the reason becomes a PAUSE verdict's reason.

    In order: an empty vector (no series), only NaN (no data), no requests at all (no traffic), fewer than
    ``min_intervals`` intervals with at least ``min_requests`` requests (too few samples).
    """
    n = len(series.requests)
    if n == 0:
        return (f"empty: Prometheus returned no series for track={series.track} (not scraped yet, or its "
                "track label is missing)")
    known = [i for i, (req, err) in enumerate(zip(series.requests, series.errors))
             if not math.isnan(req) and not math.isnan(err)]
    if not known:
        return f"no data: all {n} intervals of track={series.track} are NaN (scrape gaps?)"
    if sum(series.requests[i] for i in known) == 0:
        return (f"no traffic: 0 requests on track={series.track} over {series.seconds:g} s (is its weight 0, "
                "or does the proxy not route to it?)")
    usable = len(usable_intervals(series, min_requests))
    if usable < min_intervals:
        which = f"with at least {min_requests:g} requests" if min_requests > 0 else "with traffic"
        return (f"too few samples: {usable} intervals {which} on track={series.track}, at least {min_intervals} needed "
                f"(run the step longer than {series.seconds:g} s)")
    return None
