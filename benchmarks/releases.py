"""The three canary judges on real canaries in a sandbox, and the time to zero canary traffic: rollback vs kill switch.

Usage: .venv/bin/python benchmarks/releases.py [--count 20] [--versions 1.1.0 2.0.0 1.2.0] [--runs 5]

Starts a private lab-profile sandbox. Part one, the judges: --count canaries of each version, in turn (one of
each, then the next round, so a busier machine affects every version alike). Each canary runs the way
`kit release run` runs a ring: the release plan's extra traffic (``runner.extra_traffic``, EXTRA_RPS requests a
second through HAProxy on top of the background traffic), the version deployed and waited for until Prometheus
scrapes it, the weight set to WEIGHT %, one step, both tracks queried once over it (``kit.releases.query``), and
the canary rolled back. The three judges judge the same series: once over the whole step, and, as the runner
judges every ``judge_every``, on every growing prefix of it (the first ROLLBACK among those is the decision
time, and whether the runner would have rolled the canary back). The step is the one
``kit.releases.power.step_duration`` asks for to see 1.2.0's extra errors at that traffic and weight, with the
lab plan's alpha and power and the statistical judge's tolerance as the margin.

Part two, time to zero canary traffic (issue 14, part 7), --runs rounds, each: ``kit.releases.runner.run`` with
the lab plan and 2.0.0 (its conditions judge), a kill switch timed by benchmarks/killswitch.py's ``one_kill``,
then the runner again with the thresholds judge and with the statistical judge, so each judge's decision time is
also measured at the lab plan's own traffic (10 % of the background plus 80 requests a second).

Targets (issue 14): the statistical judge rolls back at most 1 in 20 healthy canaries and catches the subtle
regression in at least 18 of 20 at the step its power calculation asks for; 2.0.0 is rolled back before its
weight passes 10 %, within 60 s of the canary starting; a kill switch reaches zero exposure within 2 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time

import _common as c
import killswitch

from kit import polling, prom
from kit.errors import KitError
from kit.releases import canary, query, runner
from kit.releases.checks import Thresholds
from kit.releases.plan import ReleasePlan, Ring, load_plan
from kit.releases.power import StepPower, step_duration
from kit.releases.series import TrackSeries, Verdict
from kit.releases.statistical import StatisticalSettings
from kit.shop.versions import shop_version
from kit.timescale import format_duration, parse_duration

PLAN = "lab"
EXTRA_RPS = 200.0
"""The plan's extra traffic during part one: the most a plan may ask for (``kit.releases.plan.MAX_TRAFFIC_RPS``)."""
WEIGHT = 50
"""The canary's weight in part one: the weight at which a step sees a given regression soonest (``w·(1 − w)``
is largest)."""
HEALTHY, BAD, SUBTLE, SLOW = "1.1.0", "2.0.0", "1.2.0", "1.3.0"
VERSIONS = (HEALTHY, BAD, SUBTLE)
ROLLBACK_WEIGHT_MAX = 10
ROLLBACK_WITHIN_S = 60.0
KILL_TARGET_S = killswitch.TARGET_S
KILL_CLIENTS = 4
LIVE_WINDOW_S = 30.0


def judge_plans(lab: ReleasePlan) -> dict[str, ReleasePlan]:
    """The lab plan with each judge: conditions as releases/lab.yml sets it, thresholds and statistical with
    their defaults; the statistical one's rings are long enough for its ``min_samples`` intervals."""
    statistical = StatisticalSettings()
    least = (statistical.min_samples + 2) * lab.sample_interval_s
    return {
        "thresholds": dataclasses.replace(lab, judge="thresholds", settings=Thresholds()),
        "conditions": lab,
        "statistical": dataclasses.replace(lab, judge="statistical", settings=statistical, rings=tuple(
            Ring(ring.weight, max(ring.duration_s, least)) for ring in lab.rings)),
    }


@dataclasses.dataclass(frozen=True)
class Canary:
    """One canary of part one: its series' totals, each judge's verdict over the whole step, and the first prefix
    (seconds of judged data) at which each judge said ROLLBACK (NaN: none did)."""

    version: str
    seconds: float
    baseline_requests: float
    baseline_errors: float
    canary_requests: float
    canary_errors: float
    verdicts: dict[str, Verdict]
    first_rollback_s: dict[str, float]
    errors_by_code: dict[tuple[str, str], float]
    """5xx answers over the step by (track, status code), from Prometheus's ``increase`` (so approximate)."""


def _prefix(series: TrackSeries, n: int) -> TrackSeries:
    return dataclasses.replace(series, requests=series.requests[:n], errors=series.errors[:n],
                               latency_p50_s=series.latency_p50_s[:n], latency_p99_s=series.latency_p99_s[:n])


def errors_by_code(start: float, end: float, config) -> dict[tuple[str, str], float]:
    """5xx answers of the business routes between ``start`` and ``end`` by (track, code): load shed (503) or not."""
    expr = (f'sum by (track, code) (increase(http_requests_total{{job="shop", code=~"5..", '
            f'route=~"{query.BUSINESS_ROUTES}"}}[{format_duration(end - start)}]))')
    answer = prom.query(expr, at=end, config=config)
    return {(row.track, row.code): float(row.value) for row in answer.itertuples()} if not answer.empty else {}


def judge_canary(version: str, plans: dict[str, ReleasePlan], baseline: TrackSeries, series: TrackSeries,
                 codes: dict[tuple[str, str], float]) -> Canary:
    """Every judge on the whole step and on each growing prefix of it, as the runner judges every interval."""
    verdicts = {name: plan.judge_tracks(baseline, series).verdict for name, plan in plans.items()}
    first = {}
    for name, plan in plans.items():
        first[name] = next((n * series.step_s for n in range(1, len(series.requests) + 1)
                            if plan.judge_tracks(_prefix(baseline, n), _prefix(series, n)).verdict is Verdict.ROLLBACK),
                           math.nan)
    return Canary(version, len(series.requests) * series.step_s, baseline.total_requests, baseline.total_errors,
                  series.total_requests, series.total_errors, verdicts, first, codes)


def one_canary(version: str, plan: ReleasePlan, plans: dict[str, ReleasePlan], config) -> Canary:
    """Deploy ``version``, give it WEIGHT % for ``plan``'s one ring while the plan's traffic runs, query both tracks
    over the ring, roll it back, and judge the series."""
    sample = plan.sample_interval_s
    ring = plan.rings[0]
    lag = 1.5 * parse_duration(config.profile_spec.scrape_interval)  # as the runner: the last interval scraped
    with runner.extra_traffic(plan.traffic_rps, plan.seconds + runner.TRAFFIC_SPARE_S, config=config):
        canary.deploy(version, config=config)
        try:
            canary.wait_scraped("canary", version, config=config)
            canary.set_weight(ring.weight, config=config)
            begun = time.time()
            time.sleep(max(0.0, begun + ring.duration_s + lag - time.time()))  # a moment, not a condition
            intervals = math.floor(ring.duration_s / sample + 1e-9)
            end = begun + intervals * sample
            baseline, series = query.tracks(begun + sample, end, sample, config=config)
            codes = errors_by_code(begun, end, config)
        finally:
            canary.rollback(config=config)
    return judge_canary(version, plans, baseline, series, codes)


@dataclasses.dataclass(frozen=True)
class RunTiming:
    """One ``runner.run`` of 2.0.0: its outcome, the weight it ended the canary's exposure at, and the seconds
    from the canary's first request to the failed judgment and to its last request, from the deploy to the
    last request, and from the failed judgment to the last request (NaN when not rolled back)."""

    judge: str
    outcome: str
    weight: int
    decision_s: float
    exposed_s: float
    since_start_s: float
    failure_to_zero_s: float


def one_run(plan: ReleasePlan, config) -> RunTiming:
    """The release runner with ``plan`` and 2.0.0, the gate left out (this is not about the error budget)."""
    release = runner.run(plan, BAD, config=config, progress=None, gate=lambda weight: None)
    if release.outcome == "paused":
        canary.rollback(config=config)
    elif release.outcome == "promoted":
        canary.restore(config)
    exposure = release.exposure
    weight = release.steps[-1].weight if release.steps else 0
    decision = exposure.seconds(exposure.failed_at, exposure.first_traffic_at) if exposure.first_traffic_at else math.nan
    return RunTiming(plan.judge, release.outcome, weight, decision, exposure.exposed_s,
                     exposure.seconds(exposure.zero_traffic_at), exposure.failure_to_zero_s)


def live_traffic(config) -> query.LiveTraffic:
    """The background traffic's rate and the stable error ratio over the last LIVE_WINDOW_S, once Prometheus has
    that long a window of it (a sandbox just started has none, and a short one underestimates the rate)."""
    polling.wait_until(lambda: query.live_traffic(LIVE_WINDOW_S, config=config).request_rate > 0, LIVE_WINDOW_S, 1.0)
    time.sleep(LIVE_WINDOW_S)  # a moment, not a condition: the window must fill
    return query.live_traffic(LIVE_WINDOW_S, config=config)


def _tally(canaries: list[Canary], version: str, judge: str) -> dict[Verdict, int]:
    mine = [k for k in canaries if k.version == version]
    return {v: sum(k.verdicts[judge] is v for k in mine) for v in Verdict}


def _s(values: list[float]) -> str:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "-"
    return f"{c.median(finite):.2f} s / {max(finite):.2f} s"


def _describe(power: StepPower, step_s: float) -> str:
    return (f"{power.canary_requests:,.0f} canary and {power.baseline_requests:,.0f} baseline requests, "
            f"{power.seconds:.1f} s at {power.weight:.0%} of {power.request_rate:.1f} req/s (run as {step_s:g} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="canaries of each version (20 for the targets)")
    parser.add_argument("--versions", nargs="+", default=list(VERSIONS),
                        choices=[HEALTHY, BAD, SUBTLE, SLOW], help="versions to deploy as canaries")
    parser.add_argument("--runs", type=int, default=5, help="rounds of part two (a runner per judge, a kill switch)")
    args = parser.parse_args(argv)

    lab = load_plan(PLAN)
    plans = judge_plans(lab)
    regression = shop_version(SUBTLE).extra_error_ratio
    config = c.sandbox_config("releases", "lab")
    load_at_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    began = time.monotonic()
    with c.sandbox_running(config):
        live = live_traffic(config)
        statistical = plans["statistical"]
        rate = live.request_rate + EXTRA_RPS
        need = step_duration(live.baseline_error_ratio, rate, WEIGHT / 100, regression, alpha=lab.detect.alpha,
                             power=lab.detect.power, margin=statistical.margin(live.baseline_error_ratio))
        step_s = math.ceil(need.seconds / lab.sample_interval_s) * lab.sample_interval_s
        plan = dataclasses.replace(lab, rings=(Ring(WEIGHT, step_s),), traffic_rps=EXTRA_RPS)
        print(f"live {live.request_rate:.1f} req/s, stable errors {live.baseline_error_ratio:.3%}; step for "
              f"+{regression:.1%} errors: {_describe(need, step_s)}", flush=True)

        canaries: list[Canary] = []
        broken: list[str] = []
        order = [v for _ in range(args.count) for v in args.versions]
        for i, version in enumerate(order, 1):
            t0 = time.monotonic()
            try:
                k = one_canary(version, plan, plans, config)
            except KitError as error:
                broken.append(f"{version}: {error}")
                print(f"[{i}/{len(order)}] {version}: broke: {error}", flush=True)
                continue
            canaries.append(k)
            verdicts = ", ".join(f"{name} {v.value}" for name, v in k.verdicts.items())
            print(f"[{i}/{len(order)}] {version}: {k.canary_requests:,.0f} canary requests ({k.canary_errors:.0f} "
                  f"errors), {k.baseline_requests:,.0f} baseline ({k.baseline_errors:.0f}); {verdicts} "
                  f"({time.monotonic() - t0:.0f} s, {time.monotonic() - began:.0f} s in)", flush=True)

        timings: list[RunTiming] = []
        kills: list[float] = []
        for r in range(1, args.runs + 1):
            for name in ("conditions", "kill switch", "thresholds", "statistical"):
                try:
                    if name == "kill switch":
                        seconds, _ = killswitch.one_kill(config, KILL_CLIENTS)
                        kills.append(seconds)
                        print(f"round {r}: kill switch: last answer with the flag on {seconds:.3f} s after the write",
                              flush=True)
                        continue
                    t = one_run(plans[name], config)
                except KitError as error:
                    broken.append(f"{name} run: {error}")
                    print(f"round {r}: {name}: broke: {error}", flush=True)
                    continue
                timings.append(t)
                print(f"round {r}: runner, {name}: {t.outcome} at {t.weight} %, failed judgment "
                      f"{t.decision_s:.2f} s after the first canary request, last canary request {t.exposed_s:.2f} s "
                      f"after it ({t.since_start_s:.2f} s after the deploy began)", flush=True)
    took = time.monotonic() - began
    return report(args, lab, plans, config.traffic_rps, config.shop_queue, load_at_start, live, need, step_s, canaries, timings, kills, broken, took)


def report(args, lab: ReleasePlan, plans, background: float, config_queue: int, load_at_start: str, live, need: StepPower, step_s: float, canaries: list[Canary],
           timings: list[RunTiming], kills: list[float], broken: list[str], took: float) -> int:
    """Print the figures and write the RESULTS.md section; the exit code (0: every target met)."""
    versions = [v for v in args.versions if any(k.version == v for k in canaries)]
    n = {v: sum(k.version == v for k in canaries) for v in versions}

    def cell(version: str, judge: str) -> str:
        t = _tally(canaries, version, judge)
        anytime = sum(k.version == version and not math.isnan(k.first_rollback_s[judge]) for k in canaries)
        return f"{t[Verdict.ROLLBACK]} / {t[Verdict.PAUSE]} / {t[Verdict.PROMOTE]} ({anytime})"

    verdict_rows = [[judge] + [cell(v, judge) for v in versions] for judge in plans]
    bad = [k for k in canaries if k.version == BAD]
    decision_rows = []
    for judge in plans:
        prefix = [k.first_rollback_s[judge] for k in bad]
        mine = [t for t in timings if t.judge == judge]
        rolled = [t for t in mine if t.outcome == "rolled_back"]
        decision_rows.append([
            judge, _s(prefix), f"{sum(not math.isnan(x) for x in prefix)} of {len(prefix)}",
            _s([t.decision_s for t in rolled]), f"{len(rolled)} of {len(mine)}",
            ", ".join(sorted({f"{t.weight} %" for t in rolled})) or "-",
        ])

    def codes(version: str, track: str) -> str:
        totals: dict[str, float] = {}
        for k in canaries:
            if k.version == version:
                for (where, code), count in k.errors_by_code.items():
                    if where == track:
                        totals[code] = totals.get(code, 0.0) + count
        return ", ".join(f"{code}: {count:,.0f}" for code, count in sorted(totals.items()) if round(count)) or "none"

    def shed_canaries(version: str) -> int:
        return sum(k.version == version and any(code == "503" and round(count) for (_, code), count
                                                in k.errors_by_code.items()) for k in canaries)

    error_rows = [[v, f"{sum(k.baseline_requests for k in canaries if k.version == v):,.0f}", codes(v, "stable"),
                   f"{sum(k.canary_requests for k in canaries if k.version == v):,.0f}", codes(v, "canary"),
                   f"{shed_canaries(v)} of {n[v]}"] for v in versions]

    lab_runs = [t for t in timings if t.judge == lab.judge]
    exposure_rows = [
        [f"rollback by the runner ({lab.judge}, lab plan), first canary request → zero canary traffic",
         _s([t.exposed_s for t in lab_runs]), len(lab_runs)],
        ["the same, from the start of the deploy", _s([t.since_start_s for t in lab_runs]), len(lab_runs)],
        ["the same, from the failed judgment", _s([t.failure_to_zero_s for t in lab_runs]), len(lab_runs)],
        ["kill switch (killswitch.py's one_kill), kill written → last answer with the flag on", _s(kills), len(kills)],
    ]

    healthy, subtle = n.get(HEALTHY, 0), n.get(SUBTLE, 0)
    false_rollbacks = _tally(canaries, HEALTHY, "statistical")[Verdict.ROLLBACK] if healthy else 0
    caught = _tally(canaries, SUBTLE, "statistical")[Verdict.ROLLBACK] if subtle else 0
    in_time = [t for t in lab_runs if t.outcome == "rolled_back" and t.weight <= ROLLBACK_WEIGHT_MAX
               and t.since_start_s <= ROLLBACK_WITHIN_S]
    worst_kill = max(kills) if kills else math.nan
    targets = []
    if healthy:
        targets.append(["statistical: false rollbacks of 1.1.0 over the step", f"{false_rollbacks} of {healthy}",
                        "≤ 1 of 20", c.verdict(false_rollbacks * 20 <= healthy)])
    if subtle:
        targets.append([f"statistical: {SUBTLE} (+0.5 % errors) rolled back at the power step", f"{caught} of {subtle}",
                        "≥ 18 of 20", c.verdict(caught * 20 >= 18 * subtle)])
    targets += [
        [f"{BAD} rolled back at ≤ {ROLLBACK_WEIGHT_MAX} % within {ROLLBACK_WITHIN_S:g} s of the deploy (lab plan)",
         f"{len(in_time)} of {len(lab_runs)}", "every run", c.verdict(bool(lab_runs) and len(in_time) == len(lab_runs))],
        ["kill switch to zero exposure, max", f"{worst_kill:.2f} s", f"≤ {KILL_TARGET_S:g} s",
         c.verdict(bool(kills) and worst_kill <= KILL_TARGET_S)],
    ]

    rates = [(k.canary_requests + k.baseline_requests) / k.seconds for k in canaries]
    shares = [k.canary_requests / (k.canary_requests + k.baseline_requests) for k in canaries
              if k.canary_requests + k.baseline_requests]
    achieved = c.median(rates) if rates else math.nan
    stat = plans["statistical"]
    at_achieved = (step_duration(live.baseline_error_ratio, achieved, WEIGHT / 100, need.regression, alpha=need.alpha,
                                 power=need.power, margin=need.margin) if rates else None)
    conditions = lab.settings
    body = f"""
{c.table(["figure", "measured", "target", "result"], targets)}

Real canaries in a private lab-profile sandbox (1 s scrapes; the background traffic of {background:g}
req/s plus the plan's extra traffic of {EXTRA_RPS:g} req/s from `kit.releases.runner.extra_traffic`, the most a
plan may add), the canary at {WEIGHT} %: the weight at which a step sees a regression soonest. Each canary is
deployed (`kit.releases.canary.deploy`), waited for until Prometheus scrapes it, given {WEIGHT} %, and after one
step both tracks are queried once (`kit.releases.query.tracks`, {lab.sample_interval_s:g} s intervals) and the
canary rolled back. Versions in turn, {args.count} rounds: {", ".join(args.versions)}.

Step: `kit.releases.power.step_duration` for +{need.regression:.1%} errors (1.2.0's) over the stable error ratio
Prometheus measured before the run ({live.baseline_error_ratio:.3%} of {live.request_rate:.1f} req/s), at the lab
plan's one-sided alpha {need.alpha:g} and power {need.power:g}, with the statistical judge's limit at that
baseline as the margin ({need.margin:g}): {_describe(need, step_s)}. Measured over the steps: median
{achieved:.1f} req/s on both tracks, canary share {c.median(shares):.1%} (min {min(shares, default=math.nan):.1%},
max {max(shares, default=math.nan):.1%}); at that rate the power step would be
{at_achieved.seconds if at_achieved else math.nan:.1f} s.

Judges, all three on the same series: thresholds with `Thresholds()` defaults (success ≥ 99 %, p99 ≤ 0.5 s,
rollback at 2 failed checks, 5 checks to promote); conditions as releases/lab.yml sets them (success ≥
{conditions.success_min_rate:g} and p99 ≤ {conditions.success_max_p99_s:g} s, failure < {conditions.failure_below_rate:g}
or p99 > {conditions.failure_above_p99_s:g} s, failure limit {conditions.failure_limit}, inconclusive limit
{conditions.inconclusive_limit}); statistical with `StatisticalSettings()` defaults (confidence
{stat.settings.confidence:g}, min_samples {stat.settings.min_samples}, errors +0.1 percentage point + 10 %
critical, p50 +10 ms + 10 %, p99 +25 ms + 20 %).

Verdicts over the whole step, rollback / pause / promote; in brackets, the canaries a judge would have rolled back
at some judgment had it judged every {lab.sample_interval_s:g} s from the start, as `kit release run` does
(every growing prefix of the same series):

{c.table(["judge"] + [f"{v} ({n[v]})" for v in versions], verdict_rows)}

5xx answers over the steps, by status code (Prometheus's `increase`, so rounded), summed over each version's
canaries; 503 is the shop shedding load (its queue of {config_queue} full), which on this shared machine happens when
a shop process stalls for a few hundred milliseconds, on either track:

{c.table(["version", "baseline requests", "baseline 5xx", "canary requests", "canary 5xx", "canaries with a 503"],
         error_rows)}

Decision time for {BAD}, median / max. "Benchmark traffic": seconds of judged data until the first prefix
judged ROLLBACK, at {WEIGHT} % of ~{achieved:.0f} req/s (the runner adds the wait for the last scrape, at most 1.5 scrape intervals, and a query to each). "Lab
traffic": `kit.releases.runner.run` with the lab plan ({", ".join(f"{r.weight} % for {r.duration_s:g} s" for r in
lab.rings)}, {lab.traffic_rps:g} req/s added, judged every {lab.judge_every_s:g} s), the judge swapped in, the
error-budget gate left out (`gate=lambda weight: None`): from the canary's first request (HAProxy's counters) to the
failed judgment. The statistical judge's rings are {", ".join(f"{r.duration_s:g} s" for r in stat.rings)} there,
enough for its min_samples.

{c.table(["judge", "benchmark traffic", "rolled back", "lab traffic (runner)", "runs rolled back", "at weight"],
         decision_rows)}

Time to zero canary traffic, median / max (part 7 of issue 14); rollback runs and kills alternate, one of each per
round:

{c.table(["figure", "median / max", "runs"], exposure_rows)}

A negative "from the failed judgment" means the canary's last request came while the judgment was being queried
and computed: at 10 % of the lab plan's traffic the canary gets a request every ~0.1 s. The runner's times come
from HAProxy's per-server counters read every {runner.WATCH_INTERVAL_S * 1000:g} ms
(`ReleaseRun.exposure`); zero traffic is confirmed by {runner.CONFIRM_REQUESTS} stable requests with none to the
canary. A kill switch's clock starts at the kill, a person's or a tool's decision: the time from the start of a
flagged regression to that decision is not measured here (no automated judge watches flags); the rollback's
equivalent is "from the failed judgment". Runs: {len(canaries)} canaries, {len(timings)} runner runs, {len(kills)}
kills in {took / 60:.1f} min{'; broke: ' + '; '.join(broken) if broken else ''}.
"""
    body = f"_Load average at the start: {load_at_start}._\n" + body
    c.write_section("releases", "releases: the three judges on real canaries, rollback vs kill switch", body)
    print(c.table(["figure", "measured", "target", "result"], targets))
    print(c.table(["judge"] + [f"{v} ({n[v]})" for v in versions], verdict_rows))
    print(c.table(["judge", "benchmark traffic", "rolled back", "lab traffic (runner)", "runs rolled back",
                   "at weight"], decision_rows))
    print(c.table(["figure", "median / max", "runs"], exposure_rows))
    if broken:
        return 2
    return 0 if all(row[-1] == "PASS" for row in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
