"""History backfilled into the sandbox's Prometheus, ending where its live data begins.

``backfill`` writes the simulated history (``kit.history.generate``) as OpenMetrics text, turns it into
TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``, removes any history backfilled before
(admin API ``delete_series`` + ``clean_tombstones``), moves the blocks into the sandbox Prometheus's data
folder and has Prometheus open them: through a TSDB reload where it can (``kit.sandbox.tsdb``), with no
gap in the scrapes, else by restarting it. History ends where live data begins: at backfill time,
or just before the first live scrape of the shop if the sandbox has been scraping for a while, aligned to
a whole step, so backfilling twice gives the same samples once.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import httpx

from .. import localhttp, procs
from ..atomicfile import write_atomically
from ..config import Config, resolve
from ..errors import ProcessFailed, SandboxNotReady
from .simulation import (
    DEFAULT_SEED, JOBS, MAX_DAYS, PROMTOOL_BLOCK, History, Incident, Progress, generate, to_unix, utc,
    validate_days, validate_seed, validate_step,
)


@dataclass(frozen=True)
class BackfillResult:
    start: datetime
    end: datetime
    step: int
    seed: int
    series: int
    samples: int
    blocks: list[str]
    bytes_written: int
    seconds: float
    timings: dict[str, float]
    incidents: list[Incident]

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{i.name}</td><td>{i.shape}</td><td>{i.route}</td><td>{i.start:%Y-%m-%d %H:%M}</td>"
                       f"<td>{i.end:%Y-%m-%d %H:%M}</td></tr>" for i in self.incidents)
        return (f"<p>Backfilled {self.samples:,} samples of {self.series} series, {self.start:%Y-%m-%d %H:%M} → "
                f"{self.end:%Y-%m-%d %H:%M} UTC, in {self.seconds:.1f} s.</p>"
                f"<table><tr><th>incident</th><th>shape</th><th>route</th><th>start</th><th>end</th></tr>{rows}</table>")


def _quiet(_: str) -> None:
    pass


def covers(marker: dict, history: History) -> bool:
    """Whether the history a backfill recorded (``marker``: the JSON of its result) holds every sample ``history``
    would write, or finer ones: the same seed, a step no longer, a span no shorter. False for a marker that is
    not one."""
    try:
        start, end = datetime.fromisoformat(marker["start"]), datetime.fromisoformat(marker["end"])
        return (marker["seed"] == history.seed and marker["step"] <= history.step
                and start <= history.start and end >= history.end)
    except (KeyError, TypeError, ValueError):
        return False


def _holds(start: datetime, step: float, config: Config) -> bool:
    """Whether Prometheus answers with the history that begins at ``start``: its first step's shop series."""
    from .. import prom

    return not prom.query('count(http_requests_total{job="shop"})', at=start.timestamp() + step, config=config).empty


def _already_backfilled(history: History, config: Config) -> BackfillResult | None:
    """The previous load's result when it covers ``history`` and Prometheus still holds it.

    Inside one sandbox the history ends where live data begins, so loading again
    regenerates identical samples: there is nothing to write, and a lab that
    loads history in its first cell starts at once the second time. A history of the
    same seed at a finer step over at least the same span serves too (lab 07 asks for
    5-minute steps and is content with lab 02's 1-minute ones); a coarser one does not.
    """
    try:
        marker = json.loads(config.paths.history_marker.read_text())
    except (OSError, ValueError):
        return None
    if not covers(marker, history):
        return None
    start, end = datetime.fromisoformat(marker["start"]), datetime.fromisoformat(marker["end"])
    if not _holds(start, marker["step"], config):
        return None
    incidents = [Incident(**{**i, "start": datetime.fromisoformat(i["start"]), "end": datetime.fromisoformat(i["end"])})
                 for i in marker["incidents"]]
    return BackfillResult(**{**marker, "start": start, "end": end, "incidents": incidents})


def live_start(config: Config) -> float | None:
    """Unix time of the first live scrape of the shop that Prometheus still keeps; None if there is none.

    Narrowed down in steps, each cheap: the first hour over the retention that holds a sample, the first minute
    of that hour, then the raw samples of that minute. Each step's subquery counts the samples of every
    interval (``count_over_time``), so no sample falls between two evaluations, and takes the earliest over
    every series: the shop has one per process and version (a canary, a promotion). A subquery evaluates at
    whole multiples of its step only, so when none answers, the first sample came after the last one: within
    the step before the moment asked about. (One subquery over the retention at 1-minute steps took seconds,
    and the error-budget gate asks this before every weight increase.)
    """
    from .. import prom

    at = time.time()
    for window, step in ((f"{MAX_DAYS}d", "1h"), ("1h", "1m")):
        found = prom.scalar(f'min(min_over_time(timestamp(count_over_time(up{{job="shop"}}[{step}]))[{window}:{step}]))',
                            at=at, config=config)
        at = at if math.isnan(found) else found
    try:
        response = localhttp.client().get(f"{config.url('prometheus')}/api/v1/query",
                             params={"query": 'up{job="shop"}[1m]', "time": f"{at:.3f}"}, timeout=30.0)
        result = response.json()["data"]["result"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise SandboxNotReady(f"Prometheus did not answer at {config.url('prometheus')} ({exc}); run `kit status`") from None
    stamps = [float(ts) for series in result for ts, _ in series["values"]]
    return min(stamps) if stamps else None


def backfill(days: float = 30, *, end=None, seed: int = DEFAULT_SEED, step="1m", config: Config | None = None,
         progress: Progress = _quiet, workers: int | None = None) -> BackfillResult:
    """Backfill ``days`` of history into the running sandbox's Prometheus, replacing history backfilled before.

    The history ends at ``end`` (default now), but never after the first live
    scrape of the shop still kept by Prometheus: live data is not overwritten
    and history never overlaps it. ``progress`` receives short lines of text.
    """
    from .. import binaries, sandbox
    from ..sandbox import tsdb

    began = time.monotonic()
    timings: dict[str, float] = {}
    validate_days(days), validate_seed(seed), validate_step(step)
    config = resolve(config)
    sandbox.require(config)
    step_s = validate_step(step)

    end_s = to_unix(end)
    first_live = live_start(config)
    if first_live is not None and first_live <= end_s:
        end_s = first_live - 0.001  # the last history sample comes before the first live one
        progress(f"history ends at {utc(end_s):%Y-%m-%d %H:%M:%S} UTC, just before the first live data")

    mark = time.monotonic()
    history = generate(days, end_s, seed=seed, step=step_s, config=config)
    timings["simulate"] = time.monotonic() - mark
    progress(f"simulated {days:g} days at {step_s} s steps: {history.series} series, {history.samples:,} samples, "
             f"{len(history.incidents)} incidents")

    cached = _already_backfilled(history, config)
    if cached is not None:
        progress(f"a history covering this one is already loaded ({cached.step} s steps); nothing to do")
        return replace(cached, seconds=time.monotonic() - began, timings={"simulate": timings["simulate"]})

    work = config.paths.history_work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        # One OpenMetrics file per part, each turned into blocks by its own promtool, started as soon as
        # its file is written, so promtool runs in parallel with the writing and with itself.
        mark = time.monotonic()
        parts = history.parts(workers or max(1, min(4, os.cpu_count() or 1)))
        promtool = str(binaries.path("promtool"))
        running: list[procs.Child] = []
        size = 0
        try:
            for number, (lo, hi) in enumerate(parts, 1):
                source = work / f"history-{number}.om.txt"
                size += history.write(source, None, lo, hi)
                progress(f"  part {number}/{len(parts)} written ({size / 1e6:.0f} MB so far); promtool started on it")
                argv = [promtool, "tsdb", "create-blocks-from", "openmetrics",
                        f"--max-block-duration={PROMTOOL_BLOCK}", str(source), str(work / f"blocks-{number}")]
                # tethered: a kernel killed mid-load must not leave promtool writing blocks for minutes
                running.append(procs.start(argv, log=work / f"promtool-{number}.log"))
            timings["write"] = time.monotonic() - mark
            progress(f"waiting for promtool tsdb create-blocks-from openmetrics ({len(running)} run(s)) …")
            for child in running:
                code = child.wait()
                if code != 0:
                    raise ProcessFailed("promtool", f"`{' '.join(child.argv)}` failed with exit code {code}",
                                        child.tail())
        finally:
            for child in running:
                child.stop()
        made = sorted(p for p in work.glob("blocks-*/*") if (p / "meta.json").exists())
        blocks = [p.name for p in made]
        timings["promtool"] = time.monotonic() - mark - timings["write"]
        progress(f"promtool wrote {len(blocks)} block(s)")

        mark = time.monotonic()
        progress("removing history backfilled before (admin API delete_series, clean_tombstones)")
        history_end_ms = int(history.end.timestamp()) * 1000
        tsdb.admin(config, "delete_series", [("match[]", '{job=~"' + "|".join(JOBS) + '"}'),
                                             ("end", f"{history_end_ms / 1000:.3f}")])
        tsdb.admin(config, "clean_tombstones")
        timings["delete"] = time.monotonic() - mark

        mark = time.monotonic()
        # after the deletion above, which must not reach the new blocks: Prometheus has not opened them yet
        tsdb.open_blocks(config, made, promtool, marker_at=history_end_ms / 1000)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if _holds(history.start, history.step, config):
        progress("Prometheus opened the new blocks (a TSDB reload, no restart)")
    else:
        progress("restarting Prometheus so it opens the new blocks")
        sandbox.restart("prometheus", config=config, progress=progress)
    timings["open"] = time.monotonic() - mark

    result = BackfillResult(history.start, history.end, history.step, history.seed, history.series, history.samples,
                        blocks, size, time.monotonic() - began, timings, history.incidents)
    marker = {**asdict(result), "start": history.start.isoformat(), "end": history.end.isoformat(),
              "incidents": [{**asdict(i), "start": i.start.isoformat(), "end": i.end.isoformat()}
                            for i in history.incidents]}
    write_atomically(config.paths.history_marker, json.dumps(marker, indent=2))  # other kernels read it meanwhile
    progress(f"history backfilled: {result.samples:,} samples, {result.start:%Y-%m-%d %H:%M} → "
             f"{result.end:%Y-%m-%d %H:%M} UTC, {result.seconds:.1f} s")
    return result
