"""The query layer between Prometheus and the judges: per-track series over an interval, and the live traffic.

``track_series`` runs the range queries ``kit.releases.series`` documents, one per field, with the same
``start``, ``end`` and ``step``, and maps the answers onto a ``TrackSeries`` with ``on_grid`` as that
docstring says: no series at all is an empty tuple, a timestamp missing from an answer is NaN, and errors
without any 5xx series are zeros (``or on() vector(0)``). A scrape gap is a gap on every series of the track,
so an interval whose request count is missing has a NaN error count too, whatever ``vector(0)`` filled in.
A negative count is a counter reset (the process restarted within the interval): NaN as well, a gap.

``live_traffic`` reads what the power check needs before a release starts: the service's request rate over
both tracks and the stable track's error ratio, over a recent window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .. import polling, prom
from ..config import Config, resolve
from ..errors import InvalidInput, SandboxNotReady
from ..shop.model import ROUTES, SHOP_ROUTES
from ..timescale import format_duration
from .series import TRACKS, TrackSeries

__all__ = ["BUSINESS_ROUTES", "FIELDS", "LiveTraffic", "expressions", "grid", "live_traffic", "on_grid",
           "series_from_answers", "track_series", "tracks", "wait_scraped_through"]

BUSINESS_ROUTES = "|".join(ROUTES[name].path for name in SHOP_ROUTES)
"""The ``route`` label values of the shop's business routes, as a PromQL regex (``/health`` and ``/metrics`` left out)."""

FIELDS: tuple[str, ...] = ("requests", "errors", "latency_p50_s", "latency_p99_s")
"""The ``TrackSeries`` fields, one range query each."""


def _selector(track: str | None, errors: bool = False, metric: str = "http_requests_total") -> str:
    labels = ['job="shop"'] + ([f'track="{track}"'] if track else []) + [f'route=~"{BUSINESS_ROUTES}"']
    if errors:
        labels.append('code=~"5.."')
    return f"{metric}{{{', '.join(labels)}}}"


def _delta(selector: str, step: str, by: str = "") -> str:
    """The counters' growth over the ``step`` up to each timestamp: the sum now minus the sum one step before, or
    minus nothing when there was no series yet (a canary's first request, its first 5xx)."""
    now, before = f"sum{by} ({selector})", f"sum{by} ({selector} offset {step})"
    return f"({now} - ({before} or {now} * 0))"


def expressions(track: str, step: str) -> dict[str, str]:
    """The PromQL of each field for ``track`` with ``step`` as a Prometheus duration (``2s``): see
    ``kit.releases.series``. Raises InvalidInput for a track other than stable or canary."""
    if track not in TRACKS:
        raise InvalidInput("track", f"must be one of {', '.join(TRACKS)}, got {track!r}")
    buckets = _delta(_selector(track, metric="http_request_duration_seconds_bucket"), step, " by (le)")
    return {
        "requests": _delta(_selector(track), step),
        "errors": f"{_delta(_selector(track, errors=True), step)} or on() vector(0)",
        "latency_p50_s": f"histogram_quantile(0.5, {buckets})",
        "latency_p99_s": f"histogram_quantile(0.99, {buckets})",
    }


def grid(start: float, end: float, step_s: float) -> tuple[float, ...]:
    """The timestamps (Unix seconds) a range query over [``start``, ``end``] at ``step_s`` evaluates: ``start``,
    ``start + step_s``, … up to ``end``. Value ``i`` covers the ``step_s`` seconds up to timestamp ``i``."""
    if not (math.isfinite(step_s) and step_s > 0):
        raise InvalidInput("step_s", f"must be a positive number of seconds, got {step_s!r}")
    if end < start:
        raise InvalidInput("end", f"{end} is before start {start}")
    count = math.floor((end - start) / step_s + 1e-9) + 1
    return tuple(start + i * step_s for i in range(count))


def on_grid(answer: pd.DataFrame, timestamps: tuple[float, ...]) -> tuple[float, ...]:
    """One value per timestamp from a range query's answer (``kit.prom.query_range``'s long frame holding one
    series): NaN where the answer has no value; an empty tuple when it holds no series at all.

    Raises InvalidInput when the answer holds several series (the expression must aggregate to one).
    """
    if answer.empty:
        return ()
    labels = [c for c in answer.columns if c not in ("timestamp", "value")]
    if labels and len(answer.drop_duplicates(subset=labels)) > 1:
        raise InvalidInput("answer", f"holds {len(answer.drop_duplicates(subset=labels))} series; aggregate to one")
    position = {round(stamp * 1000): i for i, stamp in enumerate(timestamps)}  # Prometheus keeps milliseconds
    values = [math.nan] * len(timestamps)
    for stamp, value in zip(answer["timestamp"], answer["value"]):
        i = position.get(round(pd.Timestamp(stamp).timestamp() * 1000))
        if i is not None:
            values[i] = float(value)
    return tuple(values)


def series_from_answers(track: str, step_s: float, timestamps: tuple[float, ...],
                        answers: Mapping[str, pd.DataFrame]) -> TrackSeries:
    """A ``TrackSeries`` from the four answers (by field, ``FIELDS``) of one track's range queries over
    ``timestamps``, mapped as the module docstring says."""
    requests = tuple(math.nan if value < 0 else value for value in on_grid(answers["requests"], timestamps))
    if not requests:
        return TrackSeries(track, step_s, (), ())
    errors = on_grid(answers["errors"], timestamps) or tuple(0.0 for _ in requests)
    errors = tuple(math.nan if math.isnan(r) or e < 0 else e for r, e in zip(requests, errors))
    latency = {name: on_grid(answers[name], timestamps) or tuple(math.nan for _ in requests)
               for name in ("latency_p50_s", "latency_p99_s")}
    return TrackSeries(track, step_s, requests, errors, **latency)


def track_series(track: str, start: float, end: float, step_s: float, *,
                 config: Config | None = None) -> TrackSeries:
    """``track``'s series over [``start``, ``end``] (Unix seconds) at ``step_s`` seconds: one range query per field.

    Value ``i`` covers the ``step_s`` seconds up to ``start + i·step_s``, so give ``start`` one step after
    the moment the judged interval begins. Raises InvalidInput for a bad track, step or interval;
    SandboxNotReady when Prometheus does not answer; PromQLError when it refuses a query.
    """
    config = resolve(config)
    timestamps = grid(round(start, 3), round(end, 3), step_s)
    step = format_duration(step_s)
    # kit.prom wants end after start; half a step more evaluates no further timestamp
    last = timestamps[-1] + step_s / 2
    answers = {name: prom.query_range(expr, timestamps[0], last, step_s, config=config)
               for name, expr in expressions(track, step).items()}
    return series_from_answers(track, step_s, timestamps, answers)


def tracks(start: float, end: float, step_s: float, *, config: Config | None = None) -> tuple[TrackSeries, TrackSeries]:
    """(baseline, canary): both tracks over the same [``start``, ``end``] at ``step_s``, as ``track_series``."""
    config = resolve(config)
    return tuple(track_series(track, start, end, step_s, config=config) for track in TRACKS)  # type: ignore[return-value]


def wait_scraped_through(moment: float, timeout: float, *, config: Config | None = None) -> bool:
    """Until Prometheus holds every scrape of each shop slot that began at or before ``moment`` (Unix seconds, a
    moment already past), so that a query evaluated at ``moment`` reads all it ever will; whether that happened
    within ``timeout`` seconds.

    Prometheus scrapes each target in turn, one scrape after the other, and stamps the samples with the scrape's
    start: once every slot has a sample stamped after ``moment``, none of theirs up to ``moment`` can still
    arrive, however late a busy machine ran them. That is the next scrape after ``moment``, half a scrape
    interval later on average, rather than the interval and a half a fixed delay would need to be sure of it.
    """
    config = resolve(config)
    expr = 'min(timestamp(up{job="shop"}))'

    def scraped() -> bool:
        try:
            return prom.scalar(expr, config=config) > moment  # NaN (no slot scraped yet) is not
        except SandboxNotReady:
            return False

    return bool(polling.wait_until(scraped, timeout, 0.05))


@dataclass(frozen=True)
class LiveTraffic:
    """The shop's business traffic over the ``window_s`` seconds up to ``at`` (Unix seconds).

    ``request_rate``: requests a second over both tracks (NaN when Prometheus has none);
    ``baseline_error_ratio``: the stable track's share of 5xx answers (0.001 = 0.1 %; NaN without stable traffic).
    """

    request_rate: float
    baseline_error_ratio: float
    window_s: float
    at: float


def live_traffic(window_s: float, *, config: Config | None = None) -> LiveTraffic:
    """The request rate and the baseline error ratio over the last ``window_s`` seconds, from Prometheus.

    SandboxNotReady when Prometheus does not answer.
    """
    config = resolve(config)
    window = format_duration(window_s)
    now = time.time()
    rate = prom.scalar(f"sum(rate({_selector(None)}[{window}]))", at=now, config=config)
    ratio = prom.scalar(f"(sum(rate({_selector('stable', errors=True)}[{window}])) or on() vector(0)) / "
                        f"sum(rate({_selector('stable')}[{window}]))", at=now, config=config)
    return LiveTraffic(rate, ratio, window_s, now)
