"""Weeks of synthetic but realistic metric history for shop and payments, with known incidents.

``generate`` simulates the shop and payments minute by minute (daily and weekly
traffic cycles, latency that drifts up over the month and with load, a small
baseline of errors) plus the incidents in ``INCIDENTS``, and renders it as
OpenMetrics text with exactly the metric names and labels the live services
export (and the ``job``/``instance`` labels Prometheus adds when it scrapes
them), so the same PromQL works on history and on live data.

Sampling: one sample per series per ``step`` (default 1 minute). PromQL over
history therefore needs range windows of at least two steps (``rate(x[2m])``;
``[5m]`` is comfortable); a ``[1m]`` window over 1-minute history returns
nothing. Each sample at time ``t`` counts the requests of ``(t - step, t]``,
and an incident ``[start, end)`` covers the samples ``start < t <= end``, so
``increase(x[20m])`` evaluated at the end of a 20-minute incident sees exactly
the incident.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

import numpy as np

from .. import shop
from ..config import Config, resolve
from ..errors import InvalidInput
from ..metrics import LATENCY_BUCKETS, PAYMENT_OUTCOMES, VERSION
from ..timescale import parse_duration

Progress = Callable[[str], None]

DEFAULT_SEED = 20240601
MAX_DAYS = 90
"""The sandbox Prometheus keeps 90 days (``--storage.tsdb.retention.time=90d``)."""
MIN_STEP, MAX_STEP = 10, 600
PROMTOOL_BLOCK = "1458h"
"""``--max-block-duration`` for promtool: its largest block size (2h × 3⁶), so a month is one or two blocks.
promtool re-reads its whole input once per block range, so fewer, larger blocks load much faster."""
PROMTOOL_BLOCK_MS = 1458 * 3600 * 1000


JOBS = shop.SERVICES
# Per route of the shop's model (kit.shop gives job, route and method): requests per second at the average
# daily load (pay: checkout's calls), median latency, baseline error ratio, status codes. Checkout's baseline
# is ~0.035 % in all (its own 0.01 % + payments 0.02 % + timeouts 0.005 %): about a third of a 99.9 % budget,
# so the incidents are what spends the rest.
_SYNTHETIC = {
    "catalog": (3.0, 0.030, 0.0002, ("200", "500")),
    "product": (5.0, 0.015, 0.0001, ("200", "500")),
    "checkout": (0.8, 0.060, 0.0001, ("200", "500", "503")),
    "pay": (None, 0.025, 0.0002, ("200", "500")),
}
ROUTES = {name: (shop.ROUTES[name].service, shop.ROUTES[name].path, shop.ROUTES[name].method, *figures)
          for name, figures in _SYNTHETIC.items()}
SIGMA = 0.45
"""Spread of the log-normal latency; p99 = median × exp(2.326 × SIGMA) ≈ 2.85 × median."""
TIMEOUT_RATIO = 0.00005
"""Share of checkout's calls to payments that time out (the shop answers 500)."""
DRIFT = 0.15
"""Latency grows by this fraction over the 30 days before the end of the history."""
REGRESSION_MEDIAN = 0.24
"""Catalog median latency during the latency regression (seconds)."""


@dataclass(frozen=True)
class IncidentSpec:
    """An incident relative to the end of the history: it starts ``ago`` seconds before the end."""

    name: str
    shape: str  # total_outage | slow_burn | latency_regression | spike
    job: str
    route: str
    ago: int
    duration: int
    error_ratio: float | None
    p99_seconds: float | None
    description: str


def _p99(median: float) -> float:
    return round(median * math.exp(2.3263478740408408 * SIGMA), 3)


INCIDENTS: tuple[IncidentSpec, ...] = (
    IncidentSpec("checkout-outage", "total_outage", "shop", "/checkout", 86400 + 14 * 3600 + 20 * 60, 20 * 60,
                 1.0, None, "every checkout answered 503 for 20 minutes; payments saw no calls"),
    IncidentSpec("checkout-spike", "spike", "shop", "/checkout", 6 * 86400 + 9 * 3600 + 47 * 60, 4 * 60,
                 0.2, None, "a bad config push: 20 % of checkouts failed with 500 for 4 minutes"),
    IncidentSpec("payments-slow-burn", "slow_burn", "payments", "/pay", 12 * 86400 + 8 * 3600, 86400,
                 0.0052, None, "payments failed 0.5 % more calls for a day (0.52 % in all); "
                 "checkout failed with it"),
    IncidentSpec("catalog-latency-regression", "latency_regression", "shop", "/catalog",
                 19 * 86400 + 15 * 3600, 5 * 3600, None, _p99(REGRESSION_MEDIAN),
                 "a slow query shipped: catalog p99 rose from ~0.1 s to ~0.7 s for 5 hours"),
)
"""The known incidents, newest first; ``incidents()`` places them in a concrete history."""


@dataclass(frozen=True)
class Incident:
    name: str
    shape: str
    job: str
    route: str
    start: datetime
    end: datetime
    error_ratio: float | None
    """Expected share of the route's requests that failed during the incident (None: not an error incident)."""
    p99_seconds: float | None
    """Expected p99 latency of the route during the incident (None: not a latency incident)."""
    description: str

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


# ---------------------------------------------------------------- validation


def validate_days(days) -> float:
    if isinstance(days, bool) or not isinstance(days, (int, float, np.integer, np.floating)) or math.isnan(days):
        raise InvalidInput("days", f"{days!r} is not a number of days; give a number from more than 0 to {MAX_DAYS}")
    if days <= 0:
        raise InvalidInput("days", f"{days} must be more than 0")
    if days > MAX_DAYS:
        raise InvalidInput("days", f"{days} is more than {MAX_DAYS}, the sandbox Prometheus's retention")
    return float(days)


def validate_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidInput("seed", f"{seed!r} ({type(seed).__name__}) is not a seed; give a whole number of 0 or more")
    if seed < 0:
        raise InvalidInput("seed", f"{seed} must be 0 or more")
    return int(seed)


def validate_step(step) -> int:
    if isinstance(step, bool):
        raise InvalidInput("step", f"{step!r} is not a duration")
    seconds = step if isinstance(step, (int, float)) else parse_duration(step, "step")
    if seconds != int(seconds) or not MIN_STEP <= seconds <= MAX_STEP:
        raise InvalidInput("step", f"{step!r}: use whole seconds from {MIN_STEP} s to {MAX_STEP // 60} m, e.g. 1m")
    return int(seconds)


def to_unix(end) -> float:
    if end is None:
        return time.time()
    if isinstance(end, datetime):
        if end.tzinfo is None:
            raise InvalidInput("end", "give a timezone-aware datetime (e.g. datetime.now(timezone.utc))")
        return end.timestamp()
    if isinstance(end, (int, float)) and not isinstance(end, bool):
        return float(end)
    raise InvalidInput("end", f"{end!r} is not a time; give a timezone-aware datetime or unix seconds")


def _window(days, end, step) -> tuple[int, int, int]:
    """(first sample, last sample, step) in unix seconds; the last sample is ``end`` aligned down to the step."""
    days, step = validate_days(days), validate_step(step)
    last = int(to_unix(end)) // step * step
    n = int(days * 86400) // step
    if n < 2:
        raise InvalidInput("days", f"{days} days is fewer than two samples of {step} s")
    return last - (n - 1) * step, last, step


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def incidents(days: float = 30, end=None, *, step="1m") -> list[Incident]:
    """The incidents of ``INCIDENTS`` that fall inside a history of ``days`` ending at ``end``, oldest first."""
    first, last, step_s = _window(days, end, step)
    found = []
    for spec in INCIDENTS:
        start = last - spec.ago
        if start >= first and start + spec.duration <= last:
            found.append(Incident(spec.name, spec.shape, spec.job, spec.route, utc(start),
                                  utc(start + spec.duration), spec.error_ratio, spec.p99_seconds,
                                  spec.description))
    return sorted(found, key=lambda i: i.start)


# ---------------------------------------------------------------- simulation


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), vectorised."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
    return sign * y


def _bucket_counts(rng: np.random.Generator, n: np.ndarray, median: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step cumulative bucket counts (steps × buckets, without +Inf) and per-step latency sums."""
    mu = np.log(median)[:, None]
    edges = np.log(np.asarray(LATENCY_BUCKETS, dtype=float))[None, :]
    cdf = 0.5 * (1.0 + _erf((edges - mu) / (SIGMA * math.sqrt(2.0))))
    cdf = np.maximum.accumulate(np.clip(cdf, 0.0, 1.0), axis=1)
    counts = np.empty((len(n), len(LATENCY_BUCKETS)), dtype=np.int64)
    remaining = n.astype(np.int64)
    below = np.zeros(len(n))
    running = np.zeros(len(n), dtype=np.int64)
    for i in range(len(LATENCY_BUCKETS)):
        share = np.where(below < 1.0, (cdf[:, i] - below) / np.maximum(1.0 - below, 1e-12), 1.0)
        drawn = rng.binomial(remaining, np.clip(share, 0.0, 1.0))
        remaining -= drawn
        running += drawn
        counts[:, i] = running
        below = cdf[:, i]
    sums = n * median * math.exp(SIGMA * SIGMA / 2.0) * rng.lognormal(0.0, 0.02, len(n))
    return counts, sums


@dataclass
class _Series:
    name: str
    labels: dict[str, str]
    values: np.ndarray  # int64 or float64, one per step


def _simulate(first: int, last: int, step: int, seed: int) -> dict[str, list[_Series]]:
    """Per-step arrays of every series, grouped by metric family, without job/instance labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(first, last + 1, step, dtype=np.int64)
    n_steps = len(t)
    hour = (t % 86400) / 3600.0
    weekday = ((t // 86400) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    daily = 1.0 + 0.55 * np.sin(2 * np.pi * (hour - 8.0) / 24.0)  # quietest at 02:00, busiest at 14:00 UTC
    weekly = np.where(weekday >= 5, 0.65, 1.0)
    load = daily * weekly * rng.lognormal(0.0, 0.05, n_steps)
    age_days = (last - t) / 86400.0
    drift = 1.0 + DRIFT * np.clip(1.0 - age_days / 30.0, 0.0, 1.0)
    latency_load = 1.0 + 0.25 * (load - 1.0)

    def active(route: str, shape: str | None = None) -> np.ndarray:
        mask = np.zeros(n_steps, dtype=bool)
        for spec in INCIDENTS:
            if spec.route == route and (shape is None or spec.shape == shape):
                start = last - spec.ago
                mask |= (t > start) & (t <= start + spec.duration)
        return mask

    def median(key: str) -> np.ndarray:
        return ROUTES[key][4] * drift * latency_load * rng.lognormal(0.0, 0.03, n_steps)

    requests: dict[str, dict[str, np.ndarray]] = {}
    durations: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    for key in ("catalog", "product"):
        n = rng.poisson(ROUTES[key][3] * step * load)
        errors = rng.binomial(n, ROUTES[key][5])
        requests[key] = {"200": n - errors, "500": errors}
        med = median(key)
        if key == "catalog":
            med = np.where(active("/catalog", "latency_regression"), REGRESSION_MEDIAN * drift, med)
        durations[key] = (n, *_bucket_counts(rng, n, med))

    # checkout: outage (503, payments not called) → local failures (500) → payments errors/timeouts (500)
    n = rng.poisson(ROUTES["checkout"][3] * step * load)
    outage = active("/checkout", "total_outage")
    local_ratio = np.where(active("/checkout", "spike"), 0.2, ROUTES["checkout"][5])
    shed = np.where(outage, n, 0)
    local = rng.binomial(n - shed, local_ratio)
    calls = n - shed - local
    pay_ratio = np.where(active("/pay", "slow_burn"), ROUTES["pay"][5] + 0.005, ROUTES["pay"][5])
    pay_errors = rng.binomial(calls, pay_ratio)
    timeouts = rng.binomial(calls - pay_errors, TIMEOUT_RATIO)
    ok = calls - pay_errors - timeouts
    requests["checkout"] = {"200": ok, "500": local + pay_errors + timeouts, "503": shed}
    requests["pay"] = {"200": calls - pay_errors, "500": pay_errors}
    client = {"ok": ok, "error": pay_errors, "timeout": timeouts, "unreachable": np.zeros(n_steps, dtype=np.int64)}
    durations["checkout"] = (n, *_bucket_counts(rng, n, np.where(outage, 0.002, median("checkout"))))
    durations["pay"] = (calls, *_bucket_counts(rng, calls, median("pay")))

    families: dict[str, list[_Series]] = {"http_requests": [], "http_request_duration_seconds": [],
                                          "build_info": [], "payments_client_requests": []}
    for key, (job, route, method, *_rest, codes) in ROUTES.items():
        for code in codes:
            families["http_requests"].append(_Series(
                "http_requests_total", {"job": job, "route": route, "method": method, "code": code},
                np.cumsum(requests[key][code])))
    for key, (job, route, method, *_rest) in ROUTES.items():
        n, buckets, sums = durations[key]
        labels = {"job": job, "route": route, "method": method}
        cumulative = np.cumsum(buckets, axis=0)
        for i, le in enumerate(LATENCY_BUCKETS):
            families["http_request_duration_seconds"].append(_Series(
                "http_request_duration_seconds_bucket", {**labels, "le": _go_float(le)}, cumulative[:, i]))
        total = np.cumsum(n)
        families["http_request_duration_seconds"] += [
            _Series("http_request_duration_seconds_bucket", {**labels, "le": "+Inf"}, total),
            _Series("http_request_duration_seconds_count", labels, total),
            _Series("http_request_duration_seconds_sum", labels, np.round(np.cumsum(sums), 4)),
        ]
    for job in JOBS:
        families["build_info"].append(_Series("build_info", {"job": job, "version": VERSION, "service": job,
                                                              "track": "stable"},
                                              np.ones(n_steps, dtype=np.int64)))
    for outcome in PAYMENT_OUTCOMES:
        families["payments_client_requests"].append(_Series(
            "payments_client_requests_total", {"job": "shop", "outcome": outcome}, np.cumsum(client[outcome])))
    return families


def _go_float(value: float) -> str:
    """Bucket edges written the way prometheus_client writes them (1 → "1.0")."""
    return repr(float(value))


_TYPES = {"http_requests": "counter", "http_request_duration_seconds": "histogram",
          "build_info": "gauge", "payments_client_requests": "counter"}
_HELP = {
    "http_requests": "Requests answered, by route template, method and status code",
    "http_request_duration_seconds": "Time to answer a request, by route template and method",
    "build_info": "Version of the running service (always 1)",
    "payments_client_requests": "Calls from the shop to payments, by outcome",
}


@dataclass
class History:
    """A generated history: iterate it for OpenMetrics text chunks, or ``write`` it to a file."""

    start: datetime
    end: datetime
    step: int
    seed: int
    instances: dict[str, str]
    incidents: list[Incident]
    _families: dict[str, list[_Series]] = field(repr=False)

    @property
    def series(self) -> int:
        return sum(len(s) for s in self._families.values())

    @property
    def samples(self) -> int:
        return sum(len(s.values) for f in self._families.values() for s in f)

    @property
    def timestamps(self) -> np.ndarray:
        return np.arange(int(self.start.timestamp()), int(self.end.timestamp()) + 1, self.step, dtype=np.int64)

    def values(self, name: str, **labels: str) -> np.ndarray:
        """The per-step values of the one series ``name`` whose labels include ``labels`` (for tests and labs)."""
        found = [s for f in self._families.values() for s in f
                 if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        if len(found) != 1:
            raise InvalidInput("labels", f"{name}{labels} matches {len(found)} series, not one")
        return found[0].values

    def __iter__(self) -> Iterator[str]:
        """OpenMetrics text, one chunk per series; each metric family's series together; ends with ``# EOF``."""
        return self.chunks()

    def chunks(self, lo: int = 0, hi: int | None = None) -> Iterator[str]:
        """The OpenMetrics text of the steps ``lo:hi`` only (to write a long history as several files)."""
        stamps = self.timestamps[lo:hi].tolist()
        suffixes = [f" {ts}\n" for ts in stamps]
        for family, members in self._families.items():
            yield f"# TYPE {family} {_TYPES[family]}\n# HELP {family} {_HELP[family]}\n"
            for series in members:
                labels = {**series.labels, "instance": self.instances[series.labels["job"]],
                          **_TARGET_LABELS.get(series.labels["job"], {})}
                text = ",".join(f'{k}="{v}"' for k, v in labels.items())
                prefix = f"{series.name}{{{text}}} "
                values = map(str, series.values[lo:hi].tolist())
                yield prefix + prefix.join(map(str.__add__, values, suffixes))
        yield "# EOF\n"

    def text(self) -> str:
        """The whole OpenMetrics text in memory (fine for a few days; use ``write`` for weeks)."""
        return "".join(self)

    def write(self, path: str | os.PathLike, progress: Progress | None = None,
              lo: int = 0, hi: int | None = None) -> int:
        """Stream the OpenMetrics text (of the steps ``lo:hi``) to ``path``; returns the bytes written."""
        size, done, total = 0, 0, self.series
        with open(path, "w", encoding="utf-8", buffering=1 << 20) as fh:
            for chunk in self.chunks(lo, hi):
                fh.write(chunk)
                size += len(chunk)
                if chunk.startswith("# "):
                    continue
                done += 1
                if progress and (done == total or done % max(1, total // 5) == 0):
                    progress(f"  written {done}/{total} series ({size / 1e6:.0f} MB)")
        return size

    def parts(self, count: int) -> list[tuple[int, int]]:
        """Step ranges ``(lo, hi)`` cutting the history into about ``count`` equal parts, also cut wherever
        promtool would start a new block, so each part becomes its blocks in one pass of promtool."""
        stamps = self.timestamps
        cuts = {0, len(stamps)}
        cuts |= {round(len(stamps) * i / count) for i in range(1, count)}
        boundaries = np.nonzero(np.diff(stamps * 1000 // PROMTOOL_BLOCK_MS))[0] + 1
        cuts |= set(boundaries.tolist())
        ordered = sorted(cuts)
        return [(a, b) for a, b in zip(ordered, ordered[1:]) if b > a]


_TARGET_LABELS = {"shop": {"track": "stable"}}
"""The labels Prometheus gives the stable shop's series (kit.sandbox's shop targets), so history joins the live series."""


def _instances(config: Config | None) -> dict[str, str]:
    config = resolve(config)  # where Prometheus scrapes each process: the stable shop itself, not HAProxy
    return {"shop": f"{config.host}:{config.shop_stable_port}", "payments": f"{config.host}:{config.payments_port}"}


def generate(days: float = 30, end=None, *, seed: int = DEFAULT_SEED, step="1m",
             config: Config | None = None) -> History:
    """Simulate ``days`` of history ending at ``end`` (default now), deterministic from ``seed``.

    The ``instance`` labels are the shop's and payments' addresses in ``config``
    (default: from the environment), as Prometheus would have scraped them.
    """
    first, last, step_s = _window(days, end, step)
    seed = validate_seed(seed)
    families = _simulate(first, last, step_s, seed)
    return History(utc(first), utc(last), step_s, seed, _instances(config),
                   incidents(days, last, step=step_s), families)
