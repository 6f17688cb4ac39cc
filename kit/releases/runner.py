"""Walk a release plan's rings with a real canary: judge it at every step, then promote, pause or roll it back.

``run`` is the plan runner behind `kit release run`. In order:

1. Refuse, before anything starts, a plan the sandbox cannot carry out: a ``sample_interval`` shorter than two
   scrapes (at one scrape an interval, scrape jitter empties one interval and doubles the next), or a ring
   too short to see the plan's regression (``kit.releases.power.require_step_power``, with the live request
   rate plus the traffic the plan adds, the stable track's error ratio, and the judge's own margin,
   ``ReleasePlan.margin``). A sandbox just started is given ``LIVE_WAIT_SCRAPES`` scrapes to show a rate.
2. Start the plan's extra traffic (``kit.shop.traffic`` through the proxy, stopped when the run ends, and by
   itself ``TRAFFIC_SPARE_S`` after the rings would have ended should the runner die), deploy the canary at
   0 %, and wait until Prometheus scrapes it, so the first ring's requests are all seen.
3. Per ring: consult the gate, raise the weight, and judge every ``judge_every`` on the canary against the
   stable baseline over the same interval, from the ring's start (``kit.releases.query``). A ROLLBACK at any
   judgment rolls back at once (weight 0, the canary process stopped); at the end of the ring PAUSE holds the
   canary where it is (logged as a pause) and PROMOTE goes on to the next ring.
4. After the last ring: consult the gate for 100 %, then promote.

A judgment at mark ``t`` seconds into a ring covers ``(ring start, ring start + ⌊t / sample⌋·sample]`` and runs
once Prometheus holds every scrape up to that end (``query.wait_scraped_through``: the next scrape after it, half
a scrape interval on average), or 1.5 scrape intervals after the mark at the latest.

Exposure is measured from HAProxy's own per-server counters (``canary.request_counts``), read every
``WATCH_INTERVAL_S`` in a thread from before the deploy: when the canary got its first request, and, for a
rollback, the reading at which its count last rose, confirmed by ``CONFIRM_REQUESTS`` requests to the stable
shop after the rollback with none to the canary. Both are upper bounds at the reading's resolution.

An exception or Ctrl-C after the deploy rolls the canary back before it propagates: nobody's traffic stays on
a version no one is judging.
"""

from __future__ import annotations

import getpass
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import polling, procs, sandbox
from ..config import Config, resolve
from ..errors import InvalidInput, KitError, NothingMeasured, SandboxNotReady
from ..shop.versions import shop_version
from ..timescale import parse_duration
from . import canary, query
from .plan import JudgeResult, ReleasePlan, load_plan
from .power import StepPower, require_step_power
from .query import LiveTraffic
from .series import TrackSeries, Verdict
from .split import SplitMeasurement

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CONFIRM_REQUESTS", "OUTCOMES", "Exposure", "ExtraTraffic", "Gate", "Judgment", "Observation", "ReleaseRun",
           "Step", "budget_gate", "check_power", "extra_traffic", "live_window_s", "observe", "run"]

OUTCOMES: tuple[str, ...] = ("promoted", "paused", "rolled_back")
Gate = Callable[[int], str | None]
"""Asked before every weight increase with the weight about to be set (percent; 100 for the promotion): a
reason to refuse it, or None to let it pass."""

TRAFFIC = "release-traffic"
"""The plan's extra traffic as a sandbox companion (so `kit down` stops it) and its log's name."""
TRAFFIC_SPARE_S = 120.0
WATCH_INTERVAL_S = 0.05
CONFIRM_REQUESTS = 20
"""Requests the stable shop must get after a rollback, with none to the canary, before zero traffic is taken as
measured: at the lab's rates, well under a second."""
CONFIRM_TIMEOUT_S = 30.0
LIVE_WAIT_SCRAPES = 10
LIVE_WINDOW_SCRAPES = 30
"""The live rate and baseline are read over this many scrape intervals, at least 30 s: long enough for a steady
rate, short enough that a previous run's extra traffic has mostly left the window."""


@dataclass(frozen=True)
class Judgment:
    """One judgment within a ring: the judged interval ``(start, end]`` (Unix seconds), when it ran (``at``),
    the verdict and reason, the judge's result object with every number it used, and the canary's requests
    and 5xx errors over the judged sample intervals (Prometheus's counts, gaps left out): what a verdict
    rested on, so a promotion on a handful of requests shows."""

    ring: int
    weight: int
    start: float
    end: float
    at: float
    verdict: Verdict
    reason: str
    result: JudgeResult
    canary_requests: float
    canary_errors: float


@dataclass(frozen=True)
class Step:
    """One ring as it ran: ``ring`` is its index in the plan, ``weight`` percent, from ``started_at`` (the weight
    set) to ``ended_at``; ``verdict`` the judgment that ended it (the last one)."""

    ring: int
    weight: int
    started_at: float
    ended_at: float
    judgments: tuple[Judgment, ...]
    split: SplitMeasurement
    """The requests HAProxy handed each shop from the weight set to the step's end: the split the step ran on."""

    @property
    def verdict(self) -> Verdict:
        return self.judgments[-1].verdict

    @property
    def result(self) -> JudgeResult:
        """The judge's result at the end of the step."""
        return self.judgments[-1].result


@dataclass(frozen=True)
class Exposure:
    """When the canary started, got traffic, failed its judgment and got its last request (Unix seconds).

    ``first_traffic_at`` and ``zero_traffic_at`` come from HAProxy's counters (see the module docstring); None
    when the canary never got a request, or (``zero_traffic_at``) when it was not rolled back.
    ``confirming_requests``: requests the stable shop got after the canary's last one, while the runner watched.
    """

    canary_started_at: float
    first_traffic_at: float | None = None
    failed_at: float | None = None
    rolled_back_at: float | None = None
    zero_traffic_at: float | None = None
    confirming_requests: int = 0

    def seconds(self, moment: float | None, since: float | None = None) -> float:
        """Seconds from ``since`` (default: the canary's start) to ``moment``; NaN when either is unknown."""
        since = self.canary_started_at if since is None else since
        return math.nan if moment is None else moment - since

    @property
    def failure_to_zero_s(self) -> float:
        """From the failed judgment to the canary's last request."""
        return self.seconds(self.zero_traffic_at, self.failed_at) if self.failed_at is not None else math.nan

    @property
    def exposed_s(self) -> float:
        """From the canary's first request to its last: how long users met it."""
        if self.first_traffic_at is None:
            return math.nan
        return self.seconds(self.zero_traffic_at, self.first_traffic_at)


@dataclass(frozen=True)
class ReleaseRun:
    """What a run did: ``outcome`` (one of ``OUTCOMES``) and why, every step with its judgments, the exposure
    timings, the live traffic the power check used and each ring's ``StepPower``."""

    plan: ReleasePlan
    version: str
    outcome: str
    reason: str
    steps: tuple[Step, ...]
    exposure: Exposure
    traffic: LiveTraffic
    request_rate: float
    """The rate the power check assumed: the live rate plus the plan's extra traffic, requests a second."""
    power: tuple[StepPower, ...]
    started_at: float
    ended_at: float

    @property
    def weight(self) -> int:
        """The canary's weight when the run ended (percent): 100 when promoted, 0 when rolled back."""
        if self.outcome == "promoted":
            return 100
        if self.outcome == "rolled_back" or not self.steps:
            return 0
        return self.steps[-1].weight

    def table(self) -> "pd.DataFrame":
        """One row per judgment, in order: ``ring`` (1 for the first), ``weight`` (%), ``judged_s`` (the seconds
        of the ring the judgment covered), ``canary_requests`` and ``canary_errors`` (over those seconds, as
        Prometheus counted them), ``verdict`` and ``reason``; empty when no ring ran."""
        import pandas as pd

        rows = [(step.ring + 1, j.weight, round(j.end - j.start, 1), j.canary_requests,
                 j.canary_errors, j.verdict.value, j.reason)
                for step in self.steps for j in step.judgments]
        return pd.DataFrame(rows, columns=["ring", "weight", "judged_s", "canary_requests", "canary_errors",
                                           "verdict", "reason"])


def check_power(plan: ReleasePlan, traffic: LiveTraffic) -> tuple[float, tuple[StepPower, ...]]:
    """(the request rate assumed, each ring's ``StepPower``) when every ring is long enough to see ``plan.detect``.

    The rate is the live one plus the plan's extra traffic. Raises NothingMeasured when Prometheus saw no
    business traffic in the window; InvalidInput naming the plan's file and the ring's ``rings[i].duration``
    (with the length needed) for a ring too short, or ``detect.error_ratio_increase`` when the judge's margin
    lets the regression pass whatever the length.
    """
    if not (traffic.request_rate > 0 and math.isfinite(traffic.baseline_error_ratio)):
        raise NothingMeasured("the shop's request rate", "Prometheus", (
            f"no business requests on the stable shop in the last {traffic.window_s:g} s; the power check needs the "
            "live rate and the stable error ratio: is the background traffic running (`kit status`, KIT_TRAFFIC_RPS)?"))
    rate = traffic.request_rate + plan.traffic_rps
    baseline = traffic.baseline_error_ratio
    margin = plan.margin(baseline)
    detect = plan.detect
    if detect.error_ratio_increase <= margin:
        raise InvalidInput("detect.error_ratio_increase", (
            f"{detect.error_ratio_increase:g} is within what the {plan.judge} judge lets pass ({margin:g} above a "
            f"baseline of {baseline:.2%}): no ring is long enough to see it; tighten the judge or detect more"),
            source=plan.source)
    powers = []
    for i, ring in enumerate(plan.rings):
        try:
            powers.append(require_step_power(f"rings[{i}].duration", ring.duration_s, baseline, rate,
                                             ring.weight / 100, detect.error_ratio_increase, alpha=detect.alpha,
                                             power=detect.power, margin=margin))
        except InvalidInput as error:
            raise InvalidInput(error.field, error.problem, source=plan.source) from None
    return rate, tuple(powers)


def budget_gate(plan: ReleasePlan, version: str, *, config: Config | None = None, exemption: str | None = None,
                reason: str = "", progress: Callable[[str], None] | None = None) -> Gate:
    """The error-budget gate of ``plan.slo`` as a ``Gate`` (``kit.releases.gate.evaluate``): a refusal's reason
    when the SLO's budget is spent, a fast burn fires, or the gate cannot read them; an ``exemption`` (P0 or
    security, with ``reason``) passes a closed gate and is recorded in the deploy log once for the run.
    ``progress`` hears every decision, so a slow-burn warning on an open gate is seen too.

    Raises InvalidInput for an exemption the policy does not name or one without a reason.
    """
    from . import gate as budget

    budget.check_exemption(exemption, reason)
    recorded = False

    def ask(weight: int) -> str | None:
        nonlocal recorded
        decision = budget.evaluate(plan.slo, version=version, config=config, exemption=exemption, reason=reason,
                                   actor=f"{getpass.getuser()} (kit release run)", record=not recorded)
        recorded = recorded or decision.exemption_used
        if progress is not None:
            progress(f"gate before {weight} %: {decision.reason}")
        return None if decision.allowed else decision.reason

    return ask


def _consult_gate(gate: Gate, weight: int) -> str | None:
    """The one place a release asks whether it may widen: before every weight increase, the promotion included;
    a refusal stops the run before the weight rises."""
    reason = gate(weight)
    return str(reason) if reason else None


class _Watch:
    """HAProxy's per-server request counters, read every ``WATCH_INTERVAL_S`` in a thread (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._stop = threading.Event()
        counts = canary.request_counts(config)
        self._canary, self._stable = counts["canary"], counts["stable"]
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.stable_since_canary = 0
        self._thread = threading.Thread(target=self._run, name="release-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            try:
                counts = canary.request_counts(self._config)
            except KitError:  # HAProxy restarting: the next reading tells
                continue
            now = time.time()
            with self._lock:
                if counts["canary"] < self._canary or counts["stable"] < self._stable:  # HAProxy restarted
                    self._canary, self._stable = counts["canary"], counts["stable"]
                    continue
                if counts["canary"] > self._canary:
                    self.first_at = self.first_at or now
                    self.last_at = now
                    self.stable_since_canary = 0
                else:
                    self.stable_since_canary += counts["stable"] - self._stable
                self._canary, self._stable = counts["canary"], counts["stable"]

    def confirmed_zero(self) -> bool:
        """True once the stable shop got ``CONFIRM_REQUESTS`` requests since the canary's last one."""
        with self._lock:
            return self.stable_since_canary >= CONFIRM_REQUESTS

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class ExtraTraffic:
    """Extra requests sent through the proxy (``kit.shop.traffic``) beside the background traffic, for a while.

    A sandbox companion, so `kit down` stops it, and it stops by itself after the seconds it was started for;
    ``stop`` (or leaving a with block) stops it sooner. Started by ``extra_traffic``.
    """

    def __init__(self, record: procs.ProcessRecord | None, rps: float, config: Config) -> None:
        self.rps, self._record, self._config = rps, record, config

    def stop(self) -> None:
        """Stop sending; harmless when stopped already."""
        if self._record is not None:
            procs.stop(self._record)
            sandbox.detach(TRAFFIC, self._config)
            self._record = None

    def __enter__(self) -> "ExtraTraffic":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def extra_traffic(rps: float, seconds: float, *, config: Config | None = None) -> ExtraTraffic:
    """Send ``rps`` more requests a second to the shop through the proxy for ``seconds`` (the journeys of the
    background traffic: catalog 40 %, product 30 %, checkout 30 %), as a release plan's ``traffic`` does, so a
    small canary weight gets enough requests in a short step. Returns at once; use it as a with block, or
    ``stop()`` it. Nothing is started at 0 requests a second.

    Raises InvalidInput (``rps``) outside 0 to ``kit.releases.plan.MAX_TRAFFIC_RPS`` or (``seconds``) for a
    duration that is not positive; SandboxNotReady when the sandbox is not running.
    """
    from .plan import MAX_TRAFFIC_RPS

    config = resolve(config)
    if isinstance(rps, bool) or not isinstance(rps, (int, float)) or not 0 <= rps <= MAX_TRAFFIC_RPS:
        raise InvalidInput("rps", f"{rps!r} must be a number of requests a second from 0 to {MAX_TRAFFIC_RPS:g}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise InvalidInput("seconds", f"{seconds!r} must be a positive number of seconds")
    if rps == 0:
        return ExtraTraffic(None, 0.0, config)
    argv = [sys.executable, "-m", "kit.shop.traffic", "--shop", config.url("shop"), "--rps", f"{rps:g}",
            "--duration", f"{seconds:g}"]
    record = procs.spawn(TRAFFIC, argv, config.paths.log(TRAFFIC))
    if not sandbox.attach(record, config):
        procs.stop(record)
        raise SandboxNotReady("the sandbox is not running; start it with `kit up`, then try again")
    return ExtraTraffic(record, float(rps), config)


def _marks(duration_s: float, every_s: float) -> list[float]:
    """Seconds into a ring at which it is judged: every ``every_s``, and at its end."""
    count = math.ceil(duration_s / every_s - 1e-9)
    return [min((k + 1) * every_s, duration_s) for k in range(count)]


class _Release:
    """One run's state while it walks the rings; ``run`` makes one and returns its ``ReleaseRun``."""

    def __init__(self, plan: ReleasePlan, version: str, config: Config, progress: Callable[[str], None] | None,
                 gate: Gate | None, exemption: str | None, reason: str) -> None:
        self.plan, self.version, self.config, self.progress = plan, version, config, progress
        self.gate = gate or budget_gate(plan, version, config=config, exemption=exemption, reason=reason,
                                        progress=self.say)
        self.lag_s = 1.5 * parse_duration(config.profile_spec.scrape_interval)
        self.steps: list[Step] = []
        self.begun = time.time()

    def say(self, line: str) -> None:
        """One line of progress, after the seconds since the run began."""
        if self.progress is not None:
            self.progress(f"[{time.time() - self.begun:5.1f} s] {line}")

    def walk(self, watch: _Watch, started_at: float) -> tuple[str, str, Exposure]:
        """Ring by ring to an outcome: (outcome, reason, exposure)."""
        plan, config = self.plan, self.config
        for i, ring in enumerate(plan.rings):
            refused = _consult_gate(self.gate, ring.weight)
            if refused:
                return self._pause(f"the gate refused {ring.weight} %: {refused}", watch, started_at)
            if i == 0:
                canary.wait_scraped("canary", self.version, config=config)
            canary.set_weight(ring.weight, config=config)
            self.say(f"ring {i + 1}/{len(plan.rings)}: {ring.weight} % of requests to "
                     f"{self.version} for {ring.duration_s:g} s")
            step = self._judge_ring(i)
            self.steps.append(step)
            where = f"ring {i + 1} ({ring.weight} %)"
            if step.verdict is Verdict.ROLLBACK:
                return self._rollback(f"{where}: {step.judgments[-1].reason}", watch, started_at, step)
            if step.verdict is Verdict.PAUSE:
                return self._pause(f"{where} ended inconclusive: {step.judgments[-1].reason}", watch, started_at)
        refused = _consult_gate(self.gate, 100)
        if refused:
            return self._pause(f"the gate refused the promotion to 100 %: {refused}", watch, started_at)
        canary.promote(config=config)
        self.say(f"promoted: {self.version} is the stable shop")
        return "promoted", f"every ring passed; {self.version} is stable", Exposure(started_at, watch.first_at)

    def _judge_ring(self, index: int) -> Step:
        ring, plan = self.plan.rings[index], self.plan
        begun = time.time()
        counted = canary.request_counts(self.config)
        judgments: list[Judgment] = []
        for mark in _marks(ring.duration_s, plan.judge_every_s):
            delay = begun + mark - time.time()
            if delay > 0:
                time.sleep(delay)  # waiting for a moment, not for a condition: the judgment's time
            intervals = math.floor(mark / plan.sample_interval_s + 1e-9)
            start = begun + plan.sample_interval_s
            end = begun + intervals * plan.sample_interval_s
            query.wait_scraped_through(end, self.lag_s, config=self.config)
            baseline, canary_series = query.tracks(start, end, plan.sample_interval_s, config=self.config)
            result = plan.judge_tracks(baseline, canary_series)
            requests = math.fsum(n for n in canary_series.requests if math.isfinite(n))
            errors = math.fsum(n for n in canary_series.errors if math.isfinite(n))
            judged = Judgment(index, ring.weight, begun, end, time.time(), result.verdict, result.reason, result,
                              requests, errors)
            judgments.append(judged)
            self.say(f"  {ring.weight:>3} % {end - begun:5.0f}/{ring.duration_s:g} s  {requests:5.0f} requests "
                     f"{errors:3.0f} 5xx  {result.verdict.value:<8} {result.reason}")
            if result.verdict is Verdict.ROLLBACK:
                break
        now = canary.request_counts(self.config)
        split = SplitMeasurement(now["stable"] - counted["stable"], now["canary"] - counted["canary"], ring.weight)
        return Step(index, ring.weight, begun, time.time(), tuple(judgments), split)

    def _pause(self, reason: str, watch: _Watch, started_at: float) -> tuple[str, str, Exposure]:
        canary.pause(reason, config=self.config)
        weight = canary.status(self.config).weight_percent
        self.say(f"paused at {weight} %: {reason}; `kit release weight|promote|rollback` decides")
        return "paused", reason, Exposure(started_at, watch.first_at)

    def _rollback(self, reason: str, watch: _Watch, started_at: float, step: Step) -> tuple[str, str, Exposure]:
        failed_at = step.judgments[-1].at
        canary.rollback(config=self.config)
        rolled_back_at = time.time()
        confirmed = polling.wait_until(watch.confirmed_zero, CONFIRM_TIMEOUT_S, WATCH_INTERVAL_S)
        exposure = Exposure(started_at, watch.first_at, failed_at, rolled_back_at, watch.last_at,
                            watch.stable_since_canary)
        shown = (f"last canary request {exposure.failure_to_zero_s:+.2f} s after the failed judgment, "
                 f"{exposure.seconds(exposure.zero_traffic_at):.1f} s after the canary started")
        if not confirmed:
            shown += (f" (unconfirmed: only {watch.stable_since_canary} stable requests followed in "
                      f"{CONFIRM_TIMEOUT_S:g} s)")
        self.say(f"rolled back: {reason}; {shown}")
        return "rolled_back", reason, exposure


def run(plan: ReleasePlan | str | Path, version: str, *, config: Config | None = None,
        progress: Callable[[str], None] | None = print, gate: Gate | None = None, exemption: str | None = None,
        reason: str = "") -> ReleaseRun:
    """Release ``version`` of the shop through ``plan``'s rings (a ``ReleasePlan``, or its name or file, as
    ``load_plan`` takes it); see the module docstring for the steps. One line per judgment goes to
    ``progress`` (None: silent). ``gate`` is asked before every weight increase (see ``Gate``); by default it is
    the error-budget gate of the plan's SLO (``budget_gate``), which ``exemption`` and ``reason`` go to.

    Returns the ``ReleaseRun`` whatever the outcome. Raises, before anything starts: InvalidInput for an unknown
    version, a plan that does not load, an exemption given with a ``gate`` of the caller's own or without a
    reason, a ``sample_interval`` shorter than two scrapes, or a ring too short to
    see the plan's regression (naming ``rings[i].duration`` and the length needed); NothingMeasured without live
    traffic. Then InvalidInput when a canary runs already; SandboxNotReady or ProcessFailed from the sandbox.
    """
    config = resolve(config)
    plan = plan if isinstance(plan, ReleasePlan) else load_plan(plan)
    shop_version(version)
    if gate is not None and exemption is not None:
        raise InvalidInput("exemption", "an exemption passes the error-budget gate; a gate of your own decides itself")
    scrape_s = parse_duration(config.profile_spec.scrape_interval)
    if plan.sample_interval_s < 2 * scrape_s:
        raise InvalidInput("sample_interval", (
            f"{plan.sample_interval_s:g} s holds fewer than two scrapes of the {config.profile} profile "
            f"({scrape_s:g} s each): at one scrape an interval, a late scrape empties one interval and doubles the "
            f"next; use at least {2 * scrape_s:g}s"), source=plan.source)
    traffic = _live_traffic(config, scrape_s)
    rate, powers = check_power(plan, traffic)
    release = _Release(plan, version, config, progress, gate, exemption, reason)
    needs = ", ".join(f"{ring.weight} % needs {power.seconds:.1f} s of {ring.duration_s:g}"
                      for ring, power in zip(plan.rings, powers))
    release.say(f"{plan.name}: {rate:.1f} req/s ({traffic.request_rate:.1f} live + {plan.traffic_rps:g} the plan "
                f"adds), stable errors {traffic.baseline_error_ratio:.2%}; to see +{plan.detect.error_ratio_increase:.2%} "
                f"errors {needs}")
    extra = extra_traffic(plan.traffic_rps, plan.seconds + TRAFFIC_SPARE_S, config=config)
    try:
        watch = _Watch(config)
        try:
            started_at = time.time()
            deployed = canary.deploy(version, config=config)
            release.say(f"deployed {version} as the canary (pid {deployed.canary_pid}) at 0 %")
            try:
                outcome, reason, exposure = release.walk(watch, started_at)
            except BaseException:
                _abandon(config, release.say)
                raise
        finally:
            watch.stop()
    finally:
        extra.stop()
    return ReleaseRun(plan, version, outcome, reason, tuple(release.steps), exposure, traffic, rate, powers,
                      release.begun, time.time())


@dataclass(frozen=True)
class Observation:
    """A canary held at one weight for whole sample intervals, and both tracks over them, queried once.

    ``weight`` percent from ``started_at`` (Unix seconds, the weight set) for ``intervals`` intervals of ``step_s``
    seconds; ``baseline`` and ``canary`` cover the same intervals (``kit.releases.query.tracks``), the input every
    judge takes.
    """

    version: str
    weight: int
    started_at: float
    step_s: float
    intervals: int
    baseline: TrackSeries
    canary: TrackSeries


def observe(version: str, weight: int, *, plan: ReleasePlan | str | Path = "lab", intervals: int = 10,
            config: Config | None = None, progress: Callable[[str], None] | None = print) -> Observation:
    """Deploy ``version`` as a canary at ``weight`` % beside the stable shop, with ``plan``'s extra traffic, for
    ``intervals`` of the plan's sample intervals; query both tracks over them once; roll the canary back.

    No judge runs and no gate is asked: the data is the caller's to judge, with every judge on the same series
    (``kit.releases.checks``, ``kit.releases.statistical``). The canary is rolled back whatever happens, an
    error or Ctrl-C included. One line per step goes to ``progress`` (None: silent).

    Raises InvalidInput for an unknown version, a ``weight`` outside 1-99, ``intervals`` below 1, a plan that does
    not load or whose ``sample_interval`` holds fewer than two scrapes, or while a canary runs; SandboxNotReady or
    ProcessFailed from the sandbox.
    """
    config = resolve(config)
    plan = plan if isinstance(plan, ReleasePlan) else load_plan(plan)
    shop_version(version)
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 99:
        raise InvalidInput("weight", f"{weight!r} must be a whole percentage from 1 to 99: the baseline needs traffic too")
    if isinstance(intervals, bool) or not isinstance(intervals, int) or intervals < 1:
        raise InvalidInput("intervals", f"{intervals!r} must be a whole number of sample intervals, at least 1")
    scrape_s = parse_duration(config.profile_spec.scrape_interval)
    step = plan.sample_interval_s
    if step < 2 * scrape_s:
        raise InvalidInput("sample_interval", f"{step:g} s holds fewer than two scrapes ({scrape_s:g} s each)",
                           source=plan.source)
    say = progress or (lambda line: None)
    lag = 1.5 * scrape_s
    with extra_traffic(plan.traffic_rps, intervals * step + TRAFFIC_SPARE_S, config=config):
        deployed = canary.deploy(version, config=config)
        try:
            say(f"deployed {version} as the canary (pid {deployed.canary_pid}); waiting for Prometheus to scrape it")
            canary.wait_scraped("canary", version, config=config)
            canary.set_weight(weight, config=config)
            started = time.time()
            say(f"{weight} % of requests to {version} for {intervals} intervals of {step:g} s "
                f"(+{plan.traffic_rps:g} req/s of extra traffic)")
            end = started + intervals * step
            delay = end - time.time()
            if delay > 0:
                time.sleep(delay)  # waiting for a moment, not a condition: the last interval's end
            query.wait_scraped_through(end, lag, config=config)
            baseline, canary_series = query.tracks(started + step, end, step, config=config)
        finally:
            canary.rollback(config=config)
    say(f"rolled {version} back; both tracks queried over {intervals * step:g} s")
    return Observation(version, weight, started, step, intervals, baseline, canary_series)


def live_window_s(config: Config) -> float:
    """Seconds of live traffic the power check reads (``LIVE_WINDOW_SCRAPES`` scrapes of the profile, at least 30)."""
    return max(30.0, LIVE_WINDOW_SCRAPES * parse_duration(config.profile_spec.scrape_interval))


def _live_traffic(config: Config, scrape_s: float) -> LiveTraffic:
    """The live traffic, waiting up to ``LIVE_WAIT_SCRAPES`` scrapes for a rate: a sandbox just started has none yet."""
    window = live_window_s(config)
    latest = query.live_traffic(window, config=config)

    def measured() -> LiveTraffic | None:
        nonlocal latest
        latest = query.live_traffic(window, config=config)
        return latest if latest.request_rate > 0 and math.isfinite(latest.baseline_error_ratio) else None

    return polling.wait_until(measured, LIVE_WAIT_SCRAPES * scrape_s, scrape_s / 2) or latest


def _abandon(config: Config, say: Callable[[str], None]) -> None:
    """Roll back a canary whose run stopped half-way; the error that stopped it is what the person needs to see."""
    try:
        canary.rollback(config=config)
        say("the run stopped half-way: the canary was rolled back")
    except KitError as error:
        say(f"the run stopped half-way and the canary could not be rolled back ({error}); `kit release rollback`")
