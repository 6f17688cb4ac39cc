"""Capacity: find the throughput knee with an open-model step search, and plan worker slots.

A closed-loop tool cannot offer more load than it gets back, so the search steps the
*offered* load up with the constant-arrival-rate generator (``kit.load.open_model``):
each step sends ``rate`` requests per second whatever the shop answers, and records
throughput (successful answers per second, steady state), p50/p99 latency from the
intended start, and the error (shed) ratio. The knee is the highest offered rate the
shop still serves within the SLO; past it throughput stays flat, the queue fills
(latency jumps) and the shop sheds with 503.

    result = kit.load.capacity.search(route="product", expected=200, config=config)
    result.knee_rps, result.steps; kit.plots.capacity_search(result)
    kit.load.capacity.expected_capacity(slots=2, mean_service_ms=10)      # 200 req/s
    kit.load.capacity.slots_needed(1500, 10, headroom=0.3, n_plus_one=3)   # slots per instance
    kit.load.capacity.littles_law(config, route="product", window="10s")  # L = λ·W on live data

The shop's service times are lognormal with the route's *mean* as their mean (the
location is log(mean) − σ²/2), so ``slots / mean`` is the capacity, not ``slots / median``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from .. import localhttp, polling, prom, shop
from ..config import Config, resolve
from ..errors import InvalidInput, NothingMeasured
from ..timescale import parse_duration
from . import loadtest as load

__all__ = [
    "SearchSLO", "Step", "CapacitySearch", "LittlesLaw",
    "expected_capacity", "slots_needed", "search", "littles_law", "SERVICE_ROUTES",
]

SERVICE_ROUTES: dict[str, str] = {name: shop.ROUTES[name].path for name in shop.SHOP_ROUTES}
"""Routes under simulated capacity, by short name, with the route template Prometheus labels them with."""

MAX_STEPS = 40
MAX_SEARCH_S = 300.0


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _validate_positive(name: str, value, *, integer: bool = False) -> None:
    if integer:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput(name, f"must be a whole number of at least 1, got {value!r}")
    elif not _number(value) or value <= 0:
        raise InvalidInput(name, f"must be a number more than 0, got {value!r}")


def _validate_route(route: str) -> None:
    if route not in SERVICE_ROUTES:
        raise InvalidInput("route", f"{route!r} is not a route under simulated capacity; "
                                    f"choose one of {', '.join(SERVICE_ROUTES)}")


# --------------------------------------------------------------------------- pure arithmetic


def expected_capacity(slots: int, mean_service_ms: float) -> float:
    """Requests per second ``slots`` workers serve at full utilisation: slots ÷ mean service time."""
    _validate_positive("slots", slots, integer=True)
    _validate_positive("mean_service_ms", mean_service_ms)
    return slots / (mean_service_ms / 1000.0)


def slots_needed(target_rps: float, mean_service_ms: float, *, headroom: float = 0.25,
                 n_plus_one: int = 1) -> int:
    """Worker slots *per instance* so that ``target_rps`` runs at most at ``1 - headroom`` utilisation
    on the instances left after losing one of ``n_plus_one`` (1 means a single instance, no spare).

    Busy slots on average are target × mean service time (Little's law); the survivors must hold
    that with ``headroom`` to spare, since queueing delay explodes as utilisation nears 1.
    """
    _validate_positive("target_rps", target_rps)
    _validate_positive("mean_service_ms", mean_service_ms)
    if not _number(headroom) or not 0 <= headroom < 1:
        raise InvalidInput("headroom", f"must be a fraction from 0 up to (not including) 1, got {headroom!r}")
    _validate_positive("n_plus_one", n_plus_one, integer=True)
    survivors = max(1, n_plus_one - 1)
    busy = target_rps * mean_service_ms / 1000.0  # average busy slots in total
    per_instance = busy / (1.0 - headroom) / survivors
    return max(1, math.ceil(per_instance - 1e-9))


# --------------------------------------------------------------------------- the search


@dataclass(frozen=True)
class SearchSLO:
    """What a step must meet to count as served: the knee is the highest offered rate that meets it."""

    p99_ms: float = 250.0
    max_error_ratio: float = 0.01
    min_throughput_ratio: float = 0.95  # successful answers per second ÷ offered rate

    def validate(self) -> None:
        """Raise InvalidInput naming the field (``slo.p99_ms``, ...) that is out of its range."""
        _validate_positive("slo.p99_ms", self.p99_ms)
        if not _number(self.max_error_ratio) or not 0 <= self.max_error_ratio < 1:
            raise InvalidInput("slo.max_error_ratio", f"must be a fraction from 0 to 1, got {self.max_error_ratio!r}")
        if not _number(self.min_throughput_ratio) or not 0 < self.min_throughput_ratio <= 1:
            raise InvalidInput("slo.min_throughput_ratio",
                               f"must be a fraction above 0, at most 1, got {self.min_throughput_ratio!r}")


@dataclass(frozen=True)
class Step:
    """One step of offered load and what came back."""

    offered_rps: float
    throughput_rps: float  # successful answers per second over the step's steady seconds
    p50_ms: float
    p99_ms: float
    error_ratio: float
    sent: int
    ok: bool
    phase: str  # "coarse" or "refine"


def _measure(result: load.OpenModelResult, duration: float, slo: SearchSLO, phase: str) -> Step:
    per = result.per_second
    whole = int(duration)
    # Second 0 fills the queue (its successes overstate the rate); the rest is steady state.
    steady = per[(per["second"] >= 1) & (per["second"] < whole)] if whole >= 2 else per[per["second"] < max(whole, 1)]
    if steady.empty:
        throughput = (result.completed - result.errors) / max(result.send_span, 1e-9)
    else:
        throughput = float((steady["requests"] - steady["errors"]).sum()) / len(steady)
    errors = result.errors + result.transport_errors + result.unanswered
    error_ratio = errors / result.sent if result.sent else 1.0
    p50, p99 = result.p50_ms, result.p99_ms
    ok = (throughput >= slo.min_throughput_ratio * result.rate and error_ratio <= slo.max_error_ratio
          and not (p99 > slo.p99_ms))
    return Step(float(result.rate), throughput, p50, p99, error_ratio, result.sent, bool(ok), phase)


@dataclass(frozen=True)
class CapacitySearch:
    """The knee of one route: the highest offered rate served within the SLO, and every step taken."""

    route: str
    expected_rps: float
    knee_rps: float  # highest offered rate that met the SLO (nan if none did)
    max_throughput_rps: float  # the ceiling: highest steady throughput of any step
    slo: SearchSLO
    steps: pd.DataFrame = field(repr=False)
    seconds: float

    @property
    def knee_error(self) -> float:
        """Relative distance of the knee from the expected capacity (0.05 = 5 %)."""
        return abs(self.knee_rps - self.expected_rps) / self.expected_rps

    def summary(self) -> str:
        return (f"{self.route}: knee {self.knee_rps:.0f} req/s (expected {self.expected_rps:.0f}, "
                f"off by {self.knee_error:.1%}), ceiling {self.max_throughput_rps:.0f} req/s, "
                f"{len(self.steps)} steps in {self.seconds:.0f} s")


def search(route: str = "product", *, expected: float, start: float = 0.4, stop: float = 1.6,
           steps: int = 7, refine: int = 3, step_seconds: float = 3.0, slo: SearchSLO | None = None,
           config: Config | None = None, progress: Callable[[str], None] | None = None,
           settle_s: float = 0.3) -> CapacitySearch:
    """Step the offered load geometrically from ``start``× to ``stop``× ``expected`` req/s, then bisect
    ``refine`` times between the last step that met the SLO and the first that did not.

    Stops going up after two steps in a row miss the SLO. Every step is bounded (``step_seconds``
    of sending plus a drain); the whole search is refused if it could exceed 300 s of sending. Between
    steps it waits, at most ``settle_s`` seconds, for the shop to have worked off the step (see ``_settle``).
    """
    _validate_route(route)
    if not _number(expected) or expected <= 0 or expected > load.MAX_RATE:
        raise InvalidInput("expected", f"must be a rate more than 0, at most {load.MAX_RATE:g} req/s, got {expected!r}")
    _validate_positive("start", start)
    if not _number(stop) or stop <= start:
        raise InvalidInput("stop", f"must be a number above start ({start!r}), got {stop!r}")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 2 <= steps <= MAX_STEPS:
        raise InvalidInput("steps", f"must be a whole number from 2 to {MAX_STEPS}, got {steps!r}")
    if not isinstance(refine, int) or isinstance(refine, bool) or not 0 <= refine <= 10:
        raise InvalidInput("refine", f"must be a whole number from 0 to 10, got {refine!r}")
    if not _number(step_seconds) or not 1 <= step_seconds <= 30:
        raise InvalidInput("step_seconds", f"must be from 1 to 30 seconds, got {step_seconds!r}")
    if (steps + refine) * step_seconds > MAX_SEARCH_S:
        raise InvalidInput("steps", f"{steps + refine} steps of {step_seconds:g} s exceed {MAX_SEARCH_S:g} s")
    if expected * stop > load.MAX_RATE:
        raise InvalidInput("stop", f"would offer more than {load.MAX_RATE:g} req/s")
    slo = slo or SearchSLO()
    slo.validate()
    say = progress or (lambda _: None)
    started = time.monotonic()
    taken: list[Step] = []

    def step(rate: float, phase: str) -> Step:
        result = load.open_model(rate, step_seconds, route=route, config=config)
        measured = _measure(result, step_seconds, slo, phase)
        taken.append(measured)
        say(f"{phase} {rate:7.1f} req/s offered → {measured.throughput_rps:7.1f} served, p99 "
            f"{measured.p99_ms:6.1f} ms, errors {measured.error_ratio:6.2%} {'ok' if measured.ok else 'OVER'}")
        _settle(config, settle_s)
        return measured

    ratio = (stop / start) ** (1 / (steps - 1))
    lo, hi, misses = math.nan, math.nan, 0
    for i in range(steps):
        rate = expected * start * ratio**i
        if step(rate, "coarse").ok:
            if math.isnan(hi):
                lo = rate
            misses = 0
        else:
            hi = rate if math.isnan(hi) else hi
            misses += 1
            if misses >= 2:
                break
    if not math.isnan(lo) and not math.isnan(hi):
        for _ in range(refine):
            mid = (lo + hi) / 2
            if step(mid, "refine").ok:
                lo = mid
            else:
                hi = mid
    frame = pd.DataFrame([s.__dict__ for s in taken]).sort_values("offered_rps").reset_index(drop=True)
    passed = frame[frame["ok"]]
    knee = float(passed["offered_rps"].max()) if not passed.empty else math.nan
    result = CapacitySearch(route, float(expected), knee, float(frame["throughput_rps"].max()), slo, frame,
                            time.monotonic() - started)
    say(result.summary())
    return result


def _settle(config: Config | None, ceiling: float) -> None:
    """Wait until the shop has worked off the last step, at most ``ceiling`` seconds: queue empty, nothing in flight.

    Read from the shop's own /metrics (gauges ``shop_queue_depth`` and ``http_requests_in_flight``), not from
    Prometheus, which would show them a scrape interval late. Requests still queued from an overloaded step
    would otherwise be served during the next one and count against it. The background traffic keeps a
    request in flight now and then; asked every 20 ms, the shop is soon seen idle between two of them.
    """
    url = resolve(config).url("shop_stable") + "/metrics"

    def idle() -> bool:
        try:
            response = localhttp.client().get(url, timeout=localhttp.STATUS_TIMEOUT_S)
            response.raise_for_status()
            gauges = {family.name: family.samples[0].value for family in text_string_to_metric_families(response.text)
                      if family.name in ("shop_queue_depth", "http_requests_in_flight") and family.samples}
        except (httpx.HTTPError, ValueError):
            return False  # a shop that does not answer, or a broken_metrics fault: the ceiling still bounds the wait
        return gauges.get("shop_queue_depth") == 0 and gauges.get("http_requests_in_flight") == 0

    polling.wait_until(idle, ceiling, 0.02)


# --------------------------------------------------------------------------- Little's law


@dataclass(frozen=True)
class LittlesLaw:
    """L = λ·W on the shop's own metrics over one window, checked against the in-flight gauge."""

    route: str | None
    window: str
    arrival_rps: float  # λ of the route (all routes when None)
    mean_latency_s: float  # W of the route
    predicted_in_flight: float  # λ·W of the route
    total_predicted_in_flight: float  # Σ λ·W over every route: what the gauge (not per route) should show
    measured_in_flight: float  # avg_over_time of http_requests_in_flight

    @property
    def relative_error(self) -> float:
        """|measured − predicted| ÷ measured, on the totals the gauge can be compared with."""
        if not self.measured_in_flight:
            return math.nan
        return abs(self.measured_in_flight - self.total_predicted_in_flight) / self.measured_in_flight

    def summary(self) -> str:
        who = self.route or "all routes"
        return (f"{who}: λ {self.arrival_rps:.1f} req/s × W {1000 * self.mean_latency_s:.1f} ms = "
                f"{self.predicted_in_flight:.2f} in flight; all routes λ·W {self.total_predicted_in_flight:.2f} "
                f"vs gauge {self.measured_in_flight:.2f} ({self.relative_error:.1%} apart)")


def littles_law(config: Config | None = None, *, route: str | None = None, window: str = "10s",
                at: prom.TimeLike = None) -> LittlesLaw:
    """Little's law from Prometheus over ``window`` ending ``at`` (now by default), shop job only.

    Raises NothingMeasured when the window holds no requests or no samples of the
    in-flight gauge: the law then has nothing to compare.
    """
    if route is not None:
        _validate_route(route)
    seconds = parse_duration(window, "window")
    if seconds < 2:
        raise InvalidInput("window", f"must be at least 2s (two scrapes), got {window!r}")
    sel = 'job="shop"' + (f',route="{SERVICE_ROUTES[route]}"' if route else "")
    arrival = prom.scalar(f"sum(rate(http_requests_total{{{sel}}}[{window}]))", at, config=config)
    busy = prom.scalar(f"sum(rate(http_request_duration_seconds_sum{{{sel}}}[{window}]))", at, config=config)
    total = prom.scalar(f'sum(rate(http_request_duration_seconds_sum{{job="shop"}}[{window}]))', at, config=config)
    gauge = prom.scalar(f'avg_over_time(http_requests_in_flight{{job="shop"}}[{window}])', at, config=config)
    where = f"the shop ({route or 'all routes'}) over the {window} ending {'now' if at is None else at}"
    if math.isnan(arrival) or arrival <= 0:
        raise NothingMeasured("Little's law", where, "no requests arrived in the window; send some load first "
                                                    "(the sandbox's traffic, or kit.load.open_model)")
    if math.isnan(gauge):
        raise NothingMeasured("Little's law", where, "the gauge http_requests_in_flight has no samples in the window")
    latency = busy / arrival if arrival else math.nan
    return LittlesLaw(route, window, arrival, latency, busy, total, gauge)


# --------------------------------------------------------------------------- load tests against the SLO


@dataclass(frozen=True)
class SLOAtLoad:
    """Whether a latency SLO held while a load test offered ``rate`` req/s, and what the test cost in budget."""

    spec: str
    route: str
    rate: float
    duration: float
    threshold_ms: float
    objective: float
    requests: int
    bad: int
    window_events: float

    @property
    def good_ratio(self) -> float:
        return 1 - self.bad / self.requests if self.requests else math.nan

    @property
    def holds(self) -> bool:
        return self.good_ratio >= self.objective

    @property
    def budget_burned(self) -> float:
        """Share of the SLO window's error budget the test's bad requests used up."""
        allowed = (1 - self.objective) * self.window_events
        return self.bad / allowed if allowed > 0 else math.inf

    def summary(self) -> str:
        verdict = "holds" if self.holds else "is broken"
        return (f"{self.spec} at {self.rate:g} req/s on {self.route}: {self.good_ratio:.3%} within "
                f"{self.threshold_ms:g} ms (objective {self.objective:.2%}), so the SLO {verdict}; "
                f"the test spent {self.budget_burned:.2%} of the window's error budget")


def slo_at_load(spec, rate: float, duration: float, *, route: str, window_events: float | None = None,
                config: Config | None = None, progress: Callable[[str], None] | None = None) -> SLOAtLoad:
    """Offer ``rate`` req/s to ``route`` and judge a latency SLO by the generator's own measurements.

    A request is bad when it failed or took longer than the SLO threshold, measured
    from its intended start (so queueing counts). The budget is the SLO's share of
    ``window_events``: by default the SLI's traffic rate before the test, as if
    normal traffic filled the rest of the window.
    """
    from ..slo import LatencySLI, sli_total_expr

    if not isinstance(spec.sli, LatencySLI):
        raise InvalidInput("spec", f"{spec.name} is not a latency SLO; give one with an sli.latency threshold")
    if window_events is None:
        expr = sli_total_expr(spec, "5m")
        usual = prom.scalar(expr, config=config)
        if math.isnan(usual) or usual <= 0:
            where = f"Prometheus {resolve(config).url('prometheus')}"
            raise NothingMeasured(f"{spec.name}'s usual traffic", where,
                                  f"{expr} is empty or 0 over the last 5 minutes, so there is no budget to measure the "
                                  "test against; let the sandbox's traffic run first, or give window_events")
        window_events = usual * spec.window_seconds
    if not _number(window_events) or window_events <= 0:
        raise InvalidInput("window_events", f"must be a number of events more than 0, got {window_events!r}")
    result = load.open_model(rate, duration, route=route, config=config, progress=progress)
    within = result.histogram.count_at_most(spec.sli.threshold * 1e6)
    good = min(within, result.completed - result.errors - result.transport_errors)
    return SLOAtLoad(spec.name, route, rate, duration, spec.sli.threshold * 1000, spec.objective,
                     result.sent, result.sent - good, window_events)
