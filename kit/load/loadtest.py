"""Load tests: locust (closed loop, realistic journeys) and an open-model generator (honest percentiles).

Both run as subprocesses: locust monkey-patches the standard library with gevent at
import, so it is never imported here; the open-model generator gets its own event
loop and core. Every run is checked before anything starts (loopback targets only
unless ``allow_remote=True``, bounded duration, rate and users), is bounded in time
(duration plus a grace period, then the process group is killed) and in requests,
and stops cleanly on Ctrl-C: the process group is terminated, waited for and killed,
then KeyboardInterrupt goes on up.

    result = kit.load.run(users=20, spawn_rate=10, duration=30)        # locust, shop journeys
    result.stats          # per route: requests, failures, p50/p95/p99 ms, rps
    result.history        # time series from locust's _stats_history.csv
    honest = kit.load.open_model(rate=200, duration=10, route="product")
    honest.p99_ms
    demo = kit.load.coordinated_omission()                            # closed vs open vs truth

Several machines: start ``locust -f kit/load/locustfile.py --master --headless -u U -r R -t T
--expect-workers N --host http://SHOP --csv out`` on one, and ``locust -f kit/load/locustfile.py
--worker --master-host MASTER`` on each of the N others (the master's port 5557 must be
reachable); ``run(workers=N)`` does exactly that on this machine.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union
from urllib.parse import urlsplit

import pandas as pd
import psutil

from .. import polling, procs, shop
from ..config import Config, resolve
from ..errors import InvalidInput, KitError, NothingMeasured, ProcessFailed
from ..procs import free_port, log_tail
from .openmodel import Histogram

__all__ = [
    "ROUTES", "Step", "Ramp", "LoadResult", "OpenModelResult", "CoordinatedOmission",
    "run", "open_model", "coordinated_omission", "validate_target", "require_measured", "stages",
]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")

ROUTES: dict[str, tuple[str, str, dict | None]] = shop.REQUESTS
"""Routes a single-route run can target: (method, path, JSON body). ``health`` is outside simulated capacity."""

MAX_DURATION_S = 600.0
MAX_RATE = 20_000.0
MAX_USERS = 10_000
MAX_WORKERS = 64
GRACE_S = 15.0
"""Seconds a run may take beyond its duration (start-up, workers joining, last answers) before it is killed."""

Progress = Callable[[str], None]


# --------------------------------------------------------------------------- shapes and checks


@dataclass(frozen=True)
class Step:
    """Add ``users`` users every ``seconds`` seconds, up to the run's ``users`` (then hold)."""

    users: int
    seconds: float
    spawn_rate: float | None = None  # users per second within a step; default: reach the step at once


@dataclass(frozen=True)
class Ramp:
    """Go linearly from ``start`` users to the run's ``users`` over the whole duration."""

    start: int = 0


Shape = Union[Step, Ramp]


def stages(shape: Shape, users: int, spawn_rate: float, duration: float) -> list[list[float]]:
    """The shape as locust stages [end_second, users, spawn_rate], the last one ending at ``duration``."""
    if isinstance(shape, Step):
        if not isinstance(shape.users, int) or shape.users < 1:
            raise InvalidInput("shape.users", f"must be a whole number of users of at least 1, got {shape.users!r}")
        if not _positive(shape.seconds):
            raise InvalidInput("shape.seconds", f"must be more than 0 seconds, got {shape.seconds!r}")
        rate = shape.spawn_rate or max(spawn_rate, float(shape.users))
        out, level, end = [], 0, 0.0
        while end < duration:
            level = min(users, level + shape.users)
            end = min(duration, end + shape.seconds) if level < users else duration
            out.append([end, level, rate])
        return out
    if isinstance(shape, Ramp):
        if not isinstance(shape.start, int) or not 0 <= shape.start <= users:
            raise InvalidInput("shape.start", f"must be a whole number between 0 and users ({users}), got {shape.start!r}")
        rate = max((users - shape.start) / duration, 0.01)
        return [[min(1.0, duration), shape.start or 1, 100.0], [duration, users, rate]] if shape.start else \
            [[duration, users, rate]]
    raise InvalidInput("shape", f"must be kit.load.Step(...) or kit.load.Ramp(...), got {shape!r}")


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def validate_target(host: str, allow_remote: bool = False) -> str:
    """The base URL of a load test target, refused unless loopback (or ``allow_remote`` is True)."""
    if not isinstance(host, str) or not host:
        raise InvalidInput("host", f"must be a URL such as http://127.0.0.1:18080, got {host!r}")
    parts = urlsplit(host if "://" in host else f"http://{host}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("host", f"must be an http:// URL with a host name, got {host!r}")
    try:
        parts.port
    except ValueError:
        raise InvalidInput("host", f"has an invalid port: {host!r}") from None
    if not allow_remote and not _loopback(parts.hostname):
        raise InvalidInput(
            "host", f"{parts.hostname} is not a loopback address (127.0.0.0/8, ::1, localhost); "
            "load-testing another machine needs allow_remote=True and its owner's consent",
        )
    return f"{parts.scheme}://{parts.netloc}"


def _loopback(name: str) -> bool:
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _validate_duration(duration) -> float:
    if not _positive(duration) or duration > MAX_DURATION_S:
        raise InvalidInput("duration", f"must be more than 0 and at most {MAX_DURATION_S:g} seconds, got {duration!r}")
    return float(duration)


def _validate_route(route: str | None, allow_none: bool) -> None:
    if route is None and allow_none:
        return
    if route not in ROUTES:
        raise InvalidInput("route", f"{route!r} is not a route; choose one of {', '.join(ROUTES)}")


def _target(host: str | None, config: Config | None, allow_remote: bool) -> str:
    return validate_target(host or resolve(config).url("shop"), allow_remote)


# --------------------------------------------------------------------------- process supervision


class _Group:
    """Child processes, each leading its own process group; stopped together, terminate → wait → kill.

    Each is tethered to this process (``kit.procs.tethered``): if it dies without running
    ``stop`` (SIGKILL, a kernel killed on restart), the children get SIGTERM from the kernel.
    """

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.cpu_seconds = 0.0
        self.returncodes: dict[int, int] = {}

    def start(self, argv: list[str], log: Path, env: dict) -> subprocess.Popen:
        proc = procs.start(argv, log=log, env=env).popen
        self.procs.append(proc)
        return proc

    def poll(self) -> bool:
        """Reap the children that exited (with their CPU time); True when all have."""
        for proc in self.procs:
            if proc.pid in self.returncodes:
                continue
            try:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncodes[proc.pid] = proc.returncode if proc.returncode is not None else -1
                continue
            if pid:
                code = os.waitstatus_to_exitcode(status)
                proc.returncode = code
                self.returncodes[proc.pid] = code
                self.cpu_seconds += usage.ru_utime + usage.ru_stime
        return len(self.returncodes) == len(self.procs)

    def members(self) -> list[psutil.Process]:
        """Every live process in one of our groups (children of locust included)."""
        groups = {proc.pid for proc in self.procs}
        found = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) in groups and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        return found

    def signal(self, sig: int) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM every group (locust then writes its final CSV), wait, SIGKILL what is left, reap."""
        if not self.procs or (self.poll() and not self.members()):
            return
        self.signal(signal.SIGTERM)
        polling.wait_until(self.poll, timeout, 0.05)
        if not self.poll() or self.members():
            self.signal(signal.SIGKILL)
            polling.wait_until(self.poll, timeout, 0.02)
        psutil.wait_procs(self.members(), timeout=timeout)


def _supervise(group: _Group, timeout: float, stop: threading.Event | None,
               tick: Callable[[], None], interval: float = 0.25) -> str:
    """Wait until the group exits ('done'), ``timeout`` seconds pass ('timeout') or ``stop`` is set ('stopped').

    ``tick`` runs between looks. Ctrl-C (KeyboardInterrupt) stops the group and is raised again.
    """

    def ended() -> str | None:
        if group.poll():
            return "done"
        if stop is not None and stop.is_set():
            return "stopped"
        tick()
        return None

    try:
        outcome = polling.wait_until(ended, timeout, interval) or "timeout"
    except BaseException:
        group.stop()
        raise
    if outcome != "done":
        group.stop()
    return outcome


class _LineFollower:
    """New complete lines of a growing text file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        return data[: end + 1].decode(errors="replace").splitlines()


# --------------------------------------------------------------------------- locust


@dataclass(frozen=True)
class LoadResult:
    """What a locust run measured. Times in milliseconds, rates per second."""

    stats: pd.DataFrame  # index: route name; requests, failures, p50_ms, p95_ms, p99_ms, rps, ...
    history: pd.DataFrame  # one row per second and route (plus "Aggregated"): t_s, users, rps, p50_ms, ...
    failures: pd.DataFrame
    users: int
    duration: float
    workers: int
    host: str
    outcome: str  # done, stopped (stop event), timeout (killed after duration + grace)
    exit_code: int | None
    cpu_seconds: float  # CPU used by locust (master and workers)
    argv: list[str] = field(default_factory=list)
    answered: int | None = None  # requests that got an HTTP answer of any status (None: locust did not say)

    @property
    def total(self) -> pd.Series:
        """The aggregated row of ``stats``."""
        return self.stats.loc["Aggregated"]

    def summary(self) -> str:
        t = self.total
        return (f"{int(t.requests)} requests, {int(t.failures)} failures, {t.rps:.1f}/s, "
                f"p50 {t.p50_ms:g} ms, p95 {t.p95_ms:g} ms, p99 {t.p99_ms:g} ms")


_STAT_COLUMNS = {
    "Type": "method", "Name": "route", "Request Count": "requests", "Failure Count": "failures",
    "Median Response Time": "median_ms", "Average Response Time": "mean_ms", "Min Response Time": "min_ms",
    "Max Response Time": "max_ms", "Requests/s": "rps", "Failures/s": "failures_per_s",
    "50%": "p50_ms", "90%": "p90_ms", "95%": "p95_ms", "99%": "p99_ms", "99.9%": "p999_ms",
}
_HISTORY_COLUMNS = {
    "Timestamp": "timestamp", "User Count": "users", "Type": "method", "Name": "route", "Requests/s": "rps",
    "Failures/s": "failures_per_s", "50%": "p50_ms", "95%": "p95_ms", "99%": "p99_ms",
    "Total Request Count": "requests", "Total Failure Count": "failures",
}


def parse_stats(path: Path) -> pd.DataFrame:
    """locust's ``_stats.csv`` as a DataFrame indexed by route ("Aggregated" last)."""
    frame = pd.read_csv(path, keep_default_na=False, na_values=["N/A"])
    frame = frame[[c for c in _STAT_COLUMNS if c in frame.columns]].rename(columns=_STAT_COLUMNS)
    return frame.set_index("route")


def parse_history(path: Path) -> pd.DataFrame:
    """locust's ``_stats_history.csv`` (full history): t_s since the first row, per route and aggregated."""
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=["N/A"])
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame(columns=["t_s", *_HISTORY_COLUMNS.values()])
    frame = frame[[c for c in _HISTORY_COLUMNS if c in frame.columns]].rename(columns=_HISTORY_COLUMNS)
    if len(frame):
        frame.insert(0, "t_s", frame["timestamp"] - frame["timestamp"].iloc[0])
    return frame.reset_index(drop=True)


def run(users: int, spawn_rate: float, duration: float, *, host: str | None = None,
        shape: Shape | None = None, workers: int = 0, route: str | None = None,
        wait: tuple[float, float] | None = None, config: Config | None = None,
        progress: Progress | None = None, stop: threading.Event | None = None,
        allow_remote: bool = False, started: threading.Event | None = None) -> LoadResult:
    """Run locust headless against the shop and return its statistics.

    users, spawn_rate: peak users and users started per second; duration: seconds of load.
    shape: ``Step(users=.., seconds=..)`` or ``Ramp(start=..)`` instead of a flat load.
    workers: 0 runs one locust process; N runs a master and N local workers.
    route: None for the weighted shop journeys; a name of ``ROUTES`` for a closed loop on one route.
    wait: (min, max) seconds between a user's tasks (journeys default to 0.5-1.5 s, routes to 0).
    progress: called with a short line about once a second. stop: set it to end the run early.
    started: set once locust's statistics count its first request (they are written every second), for
    a measurement that must overlap this one.
    """
    if not isinstance(users, int) or isinstance(users, bool) or not 1 <= users <= MAX_USERS:
        raise InvalidInput("users", f"must be a whole number from 1 to {MAX_USERS}, got {users!r}")
    if not _positive(spawn_rate) or spawn_rate > MAX_USERS:
        raise InvalidInput("spawn_rate", f"must be more than 0 users per second, at most {MAX_USERS}, got {spawn_rate!r}")
    duration = _validate_duration(duration)
    if not isinstance(workers, int) or isinstance(workers, bool) or not 0 <= workers <= MAX_WORKERS:
        raise InvalidInput("workers", f"must be a whole number from 0 to {MAX_WORKERS}, got {workers!r}")
    _validate_route(route, allow_none=True)
    if wait is not None:
        if (not isinstance(wait, (tuple, list)) or len(wait) != 2
                or not all(isinstance(w, (int, float)) and w >= 0 for w in wait) or wait[0] > wait[1]):
            raise InvalidInput("wait", f"must be (min, max) seconds with 0 <= min <= max, got {wait!r}")
    plan = stages(shape, users, spawn_rate, duration) if shape is not None else None
    target = _target(host, config, allow_remote)

    work = Path(tempfile.mkdtemp(prefix="kit-load-"))
    prefix = work / "locust"
    env = dict(os.environ)
    env.update({"KIT_LOAD_ROUTE": route or "", "KIT_LOAD_STAGES": json.dumps(plan) if plan else "",
                "KIT_LOAD_WAIT": f"{wait[0]},{wait[1]}" if wait else "", "PYTHONUNBUFFERED": "1",
                "KIT_LOAD_ANSWERS": str(work)})
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--loglevel", "WARNING"]
    run_args = ["-u", str(users), "-r", f"{spawn_rate:g}", "-t", f"{math.ceil(duration)}s", "--host", target,
                "--csv", str(prefix), "--csv-full-history", "--stop-timeout", "1", "--exit-code-on-error", "0"]
    if plan:
        run_args = run_args[6:]  # the shape decides users, spawn rate and the end
    group = _Group()
    argv = [*base, *run_args]
    log = work / "locust.log"
    if workers:
        port = free_port()
        argv += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                 "--expect-workers", str(workers), "--expect-workers-max-wait", str(int(GRACE_S))]
    history = prefix.with_name(prefix.name + "_stats_history.csv")
    last_report = [0.0]

    def tick() -> None:
        if started is not None and not started.is_set() and history.exists():
            rows = parse_history(history)
            if (rows["requests"] > 0).any():
                started.set()
        if progress is None or time.monotonic() - last_report[0] < 1.0:
            return
        last_report[0] = time.monotonic()
        frame = parse_history(history) if history.exists() else None
        if frame is None or not len(frame):
            progress("locust starting…")
            return
        row = frame[frame.route == "Aggregated"].iloc[-1]
        progress(f"{row.t_s:>4.0f}s users {int(row.users)} {row.rps:.1f} req/s "
                 f"p95 {row.p95_ms} ms failures {int(row.failures)}/{int(row.requests)}")

    try:
        group.start(argv, log, env)
        for n in range(workers):
            group.start([*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                        work / f"worker-{n + 1}.log", env)
        outcome = _supervise(group, duration + GRACE_S + (GRACE_S if workers else 0), stop, tick)
        stats_file = prefix.with_name(prefix.name + "_stats.csv")
        if not stats_file.exists():
            raise ProcessFailed("locust", f"wrote no statistics ({outcome}, exit code {group.procs[0].returncode})",
                                log_tail(log))
        stats = parse_stats(stats_file)
        failures_file = prefix.with_name(prefix.name + "_failures.csv")
        failures = pd.read_csv(failures_file) if failures_file.exists() else pd.DataFrame()
        counts = [int(path.read_text() or 0) for path in work.glob("answered-*")]
        result = LoadResult(stats, parse_history(history), failures, users, duration, workers, target, outcome,
                            group.procs[0].returncode, group.cpu_seconds, argv, sum(counts) if counts else None)
        require_measured(result)
        if progress is not None:
            progress(f"locust {outcome}: {result.summary()}")
        return result
    finally:
        group.stop()
        for path in sorted(work.iterdir(), reverse=True):
            path.unlink(missing_ok=True)
        work.rmdir()


def require_measured(result: LoadResult) -> None:
    """Raise NothingMeasured when a locust run measured nothing: no request sent, or none answered.

    A run where every request was refused or reset has the statistics table of a
    run, latencies of failed connections included; it measured no service at all.
    """
    sent = int(result.total.requests) if "Aggregated" in result.stats.index else 0
    if sent and result.answered != 0:
        return
    if sent == 0:
        reason = f"no request completed (the run ended: {result.outcome})"
    else:
        reason = f"none of {sent} requests got an HTTP answer"
        if len(result.failures) and "Error" in result.failures:
            worst = result.failures.sort_values("Occurrences", ascending=False).iloc[0]
            reason += f"; {int(worst['Occurrences'])} failed with {worst['Error']}"
    unreachable = _unreachable(result.host)
    if unreachable:
        reason += f"; connecting to it fails with {unreachable}"
    raise NothingMeasured("locust", result.host, reason + ". Is the shop running there (`kit status`)?")


def _unreachable(base_url: str) -> str | None:
    """Why a TCP connection to the URL's host and port fails, or None when it opens."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=2.0).close()
    except OSError as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None


# --------------------------------------------------------------------------- open model


@dataclass(frozen=True)
class OpenModelResult:
    """What the open-model generator measured; latency from each request's intended start, in ms."""

    rate: float
    duration: float
    route: str
    sent: int
    completed: int
    errors: int  # answers with a status of 400 or more
    transport_errors: int  # refused connections, resets, no answer
    unanswered: int
    elapsed: float
    cpu_seconds: float
    histogram: Histogram
    send_lag: Histogram  # how late requests left compared with their schedule, microseconds
    per_second: pd.DataFrame  # by intended second: requests, errors, max_ms
    status: dict[str, int]
    outcome: str
    send_span: float = math.nan  # seconds from the first scheduled send to the end of sending

    @property
    def achieved_rate(self) -> float:
        """Requests sent per second of sending (the offered rate the generator really held)."""
        return self.sent / self.send_span if self.send_span and self.send_span > 0 else 0.0

    def percentile(self, q: float) -> float:
        return self.histogram.percentile(q) / 1000

    p50_ms = property(lambda self: self.percentile(50))
    p90_ms = property(lambda self: self.percentile(90))
    p99_ms = property(lambda self: self.percentile(99))
    p999_ms = property(lambda self: self.percentile(99.9))
    max_ms = property(lambda self: self.histogram.max / 1000 if self.histogram.total else math.nan)

    def percentiles(self) -> dict[str, float]:
        return {"p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "p99_ms": self.p99_ms,
                "p99.9_ms": self.p999_ms, "max_ms": self.max_ms}

    def summary(self) -> str:
        return (f"{self.completed}/{self.sent} answered at {self.achieved_rate:.0f}/s (target {self.rate:g}/s), "
                f"errors {self.errors + self.transport_errors}, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
                f"max {self.max_ms:.1f} ms")


def open_model(rate: float, duration: float, *, route: str = "product", host: str | None = None,
               connections: int = 16, max_connections: int = 1024, config: Config | None = None,
               progress: Progress | None = None, stop: threading.Event | None = None,
               allow_remote: bool = False) -> OpenModelResult:
    """Send ``rate`` requests per second to ``route`` for ``duration`` seconds, on schedule, from a subprocess."""
    if not _positive(rate) or rate > MAX_RATE:
        raise InvalidInput("rate", f"must be more than 0 and at most {MAX_RATE:g} requests per second, got {rate!r}")
    duration = _validate_duration(duration)
    _validate_route(route, allow_none=False)
    for name, value in (("connections", connections), ("max_connections", max_connections)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 20_000:
            raise InvalidInput(name, f"must be a whole number from 1 to 20000, got {value!r}")
    target = _target(host, config, allow_remote)
    method, path, body = ROUTES[route]
    work = Path(tempfile.mkdtemp(prefix="kit-openmodel-"))
    out, log = work / "result.json", work / "openmodel.log"
    drain = 5.0
    argv = [sys.executable, "-m", "kit.load.openmodel", "--url", target + path, "--method", method,
            "--rate", f"{rate:g}", "--duration", f"{duration:g}", "--connections", str(min(connections, max_connections)),
            "--max-connections", str(max_connections), "--drain", f"{drain:g}", "--out", str(out)]
    if body is not None:
        argv += ["--body", json.dumps(body)]
    group = _Group()
    follower = _LineFollower(log)

    def tick() -> None:
        for line in follower.lines():
            if progress is not None:
                progress(line)

    env = dict(os.environ)
    kit_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = kit_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        group.start(argv, log, env)
        outcome = _supervise(group, duration + drain + GRACE_S, stop, tick, interval=0.1)
        tick()
        if not out.exists():
            raise ProcessFailed("open-model generator", f"wrote no result ({outcome})", log_tail(log))
        data = json.loads(out.read_text())
        if data.get("error"):
            raise NothingMeasured("the open-model generator", target + path,
                                  f"{data['error']}. Is the shop running there (`kit status`)?")
        per_second = pd.DataFrame(
            [(int(k), *v) for k, v in data["per_second"].items()], columns=["second", "requests", "errors", "max_us"]
        )
        per_second["max_ms"] = per_second.pop("max_us") / 1000
        result = OpenModelResult(
            rate, duration, route, data["sent"], data["completed"], data["errors"], data["transport_errors"],
            data["unanswered"] + data["backlog"], data["elapsed"], data.get("cpu_seconds", math.nan),
            Histogram.from_json(data["histogram"]), Histogram.from_json(data["send_lag"]),
            per_second, data["status"], outcome, data.get("send_span", math.nan),
        )
        if not result.histogram.total:
            raise NothingMeasured("the open-model generator", target + path,
                                  f"none of {result.sent} requests got an HTTP answer ({result.transport_errors} "
                                  f"refused or reset, {result.unanswered} unanswered after {drain:g} s)")
        if progress is not None:
            progress(f"open model {outcome}: {result.summary()}")
        return result
    finally:
        group.stop()
        for path in work.iterdir():
            path.unlink(missing_ok=True)
        work.rmdir()


# --------------------------------------------------------------------------- coordinated omission


@dataclass(frozen=True)
class CoordinatedOmission:
    """Closed-loop (locust) and open-model percentiles measured under the same periodic stall."""

    table: pd.DataFrame  # rows: closed loop (locust), open model, expected; columns p50/p90/p99/p99.9/max ms
    stall_ms: float
    stall_every_s: float
    stall_share: float  # share of the time during which arriving requests were stalled
    closed: LoadResult
    open: OpenModelResult

    @property
    def gap_p99_ms(self) -> float:
        """How much better than the truth the closed loop's p99 looks."""
        return float(self.table.loc["open model", "p99_ms"] - self.table.loc["closed loop (locust)", "p99_ms"])


def expected_percentiles(route: str, stall_ms: float, stall_share: float, samples: int = 200_000,
                         seed: int = 7) -> dict[str, float]:
    """What an arriving request truly experiences: the route's service time, plus the stall for ``stall_share``.

    Uses the shop's own service-time model (lognormal, mean SERVICE_TIME_MS, sigma SERVICE_TIME_SIGMA),
    without network time; a deterministic sample, no I/O.
    """
    key = {"health": None}.get(route, route)
    rng = random.Random(seed)
    hist = Histogram()
    for _ in range(samples):
        ms = 0.0
        if key is not None:
            mean = shop.SERVICE_TIME_MS[key]
            ms = rng.lognormvariate(math.log(mean) - shop.SERVICE_TIME_SIGMA**2 / 2, shop.SERVICE_TIME_SIGMA)
        if rng.random() < stall_share:
            ms += stall_ms
        hist.record(ms * 1000)
    return {"p50_ms": hist.percentile(50) / 1000, "p90_ms": hist.percentile(90) / 1000,
            "p99_ms": hist.percentile(99) / 1000, "p99.9_ms": hist.percentile(99.9) / 1000,
            "max_ms": hist.max / 1000}


def coordinated_omission(*, route: str = "product", duration: float = 8.0, users: int = 4, rate: float = 200.0,
                         stall_ms: float = 400.0, stall_every_s: float = 4.0, slots: int = 256,
                         config: Config | None = None, progress: Progress | None = None) -> CoordinatedOmission:
    """Measure one route with locust (``users`` back-to-back users) and the open model at ``rate``, together,
    while every ``stall_every_s`` seconds the shop stalls: for ``stall_ms`` every arriving request on the route
    takes ``stall_ms`` longer (a latency fault switched on and off). The shop gets ``slots`` worker slots for
    the demonstration so that queueing does not blur the stall; every fault is cleared at the end.
    """
    from ..shop import faults

    config = resolve(config)
    _validate_route(route, allow_none=False)
    if route == "health":
        raise InvalidInput("route", "health is outside the fault model; choose catalog, product or checkout")
    duration = _validate_duration(duration)
    if not _positive(stall_ms) or not _positive(stall_every_s) or stall_ms / 1000 >= stall_every_s:
        raise InvalidInput("stall_ms", f"must be more than 0 and shorter than stall_every_s, got {stall_ms!r}")
    share = (stall_ms / 1000) / stall_every_s
    done = threading.Event()

    def stall() -> None:
        while not done.wait(stall_every_s - stall_ms / 1000):
            faults.set_fault("latency", ms=stall_ms, route=route, config=config)
            done.wait(stall_ms / 1000)
            faults.clear_faults("latency", config=config)

    faults.set_fault("capacity", slots=slots, config=config)
    stalls = threading.Thread(target=stall, name="kit-load-stall", daemon=True)
    opened: dict[str, OpenModelResult | BaseException] = {}
    locust_sends, locust_ended = threading.Event(), threading.Event()

    def open_side() -> None:
        try:
            # Overlap the two measurements: start once locust sends (its statistics show it about a second
            # after it starts, hence the shorter run), unless the locust run ends first.
            polling.wait_until(lambda: locust_sends.is_set() or locust_ended.is_set(), GRACE_S, 0.05)
            if not locust_sends.is_set():
                raise ProcessFailed("locust", f"its statistics showed no request within {GRACE_S:g} s or before "
                                    "it ended, so the open model did not start beside it")
            opened["result"] = open_model(rate, duration - 1.0, route=route, config=config,
                                          connections=min(256, int(rate * (stall_ms / 1000 + 0.05)) + 8))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            opened["result"] = exc

    open_thread = threading.Thread(target=open_side, name="kit-load-open", daemon=True)
    try:
        stalls.start()
        open_thread.start()
        try:
            closed = run(users, users, duration, route=route, config=config, progress=progress,
                         started=locust_sends)
        finally:
            locust_ended.set()
        open_thread.join(duration + 30)
    finally:
        done.set()
        stalls.join(5)
        faults.clear_faults("latency", config=config)
        faults.clear_faults("capacity", config=config)
    measured = opened.get("result")
    if not isinstance(measured, OpenModelResult):
        raise measured if isinstance(measured, BaseException) else KitError("open-model generator did not finish")
    t = closed.total
    rows = {
        "closed loop (locust)": {"p50_ms": t.p50_ms, "p90_ms": t.p90_ms, "p99_ms": t.p99_ms,
                                 "p99.9_ms": t.p999_ms, "max_ms": t.max_ms},
        "open model": measured.percentiles(),
        "expected": expected_percentiles(route, stall_ms, share),
    }
    table = pd.DataFrame(rows).T
    table["requests"] = [int(t.requests), measured.completed, math.nan]
    return CoordinatedOmission(table, stall_ms, stall_every_s, share, closed, measured)
