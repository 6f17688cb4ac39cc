"""A canary shop process beside the stable one, behind the sandbox's HAProxy: deploy, weight, promote, roll back.

Process management only; the judging is elsewhere. The canary is a real shop process (``--track canary``) on
KIT_SHOP_CANARY_PORT, recorded as a sandbox companion so `kit down` stops it. Weights change through HAProxy's
runtime API (the ``haproxy.sock`` socket in the state folder) and take effect on the next request, without a
restart; Prometheus scrapes the canary's port as a fixed target (``shop-targets.json`` lists it always), so it
finds a canary that starts or stops at its next scrape. What is
deployed is kept in ``release.json`` (``kit.sandbox.record.ReleaseRecord``), so a `kit up` that repairs HAProxy
or the shop starts the same versions and weights again.
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from .. import localhttp, polling, procs, sandbox
from ..config import Config, resolve
from ..errors import InvalidInput, KitError, ProcessFailed, SandboxNotReady
from ..metrics import VERSION
from ..sandbox.processes import require_free, shop_argv
from ..sandbox.record import ReleaseRecord, SandboxRecord, record_path
from ..shop.versions import shop_version
from ..timescale import parse_duration
from . import deploylog
from .deploylog import DeployEvent
from .split import SplitMeasurement

__all__ = ["CanaryStatus", "deploy", "measure_split", "pause", "promote", "request_counts", "restore", "rollback",
           "set_weight", "status", "wait_scraped"]

CANARY = "canary"
"""The canary's name as a sandbox companion, its log's name, and its server's name in HAProxy's backend."""
BACKEND = "shop"
START_TIMEOUT_S = 30.0
RUNTIME_TIMEOUT_S = 5.0
SCRAPE_WAIT = 5
"""Scrape intervals to wait for Prometheus to scrape a shop slot after a process started or stopped in it. The
slots are fixed targets (``kit.sandbox.render.write_shop_targets``), so the next scrape sees the change: no
service discovery is involved, which in Prometheus 2.42 acts on a changed target list only after two 5 s ticks."""


@dataclass(frozen=True)
class CanaryStatus:
    """What runs: the stable version, the canary's version, pid and weight (percent of requests), HAProxy's weights."""

    stable: str
    canary: str | None
    canary_pid: int | None
    weight_percent: int
    proxy_weights: dict[str, int]
    """The weights HAProxy applies right now, by server (stable, canary): what the split really follows."""

    def __str__(self) -> str:
        if self.canary is None:
            return f"stable {self.stable}; no canary"
        return (f"stable {self.stable}; canary {self.canary} (pid {self.canary_pid}) at {self.weight_percent} % "
                f"of requests")


def deploy(version: str, *, config: Config | None = None) -> CanaryStatus:
    """Start ``version`` as the canary beside the stable shop, at weight 0: it takes no traffic until ``set_weight``.

    Returns once the canary answers its health check, Prometheus has scraped it (a judge that follows reads its
    series from its first request on) and HAProxy has it ready. Raises InvalidInput (field
    ``version``) for an unknown version, one the stable shop already runs, or while another canary runs;
    SandboxNotReady when the sandbox, HAProxy or Prometheus does not answer; PortBusy when something else holds the
    canary's port; ProcessFailed when the canary does not start.
    """
    config = resolve(config)
    shop_version(version)
    sandbox.require(config)
    release = ReleaseRecord.load(config)
    running = _canary_record(config)
    if running is not None:
        raise InvalidInput("version", f"a canary of {release.canary} is running already (pid {running.pid}); "
                                      "`kit release promote` or `kit release rollback` it first")
    if version == release.stable:
        raise InvalidInput("version", f"the stable shop runs {version} already; deploy another version")
    require_free(CANARY, "shop_canary_port", config)  # else a stranger's server there could answer its health check
    _runtime(config, f"set weight {BACKEND}/{CANARY} 0")  # HAProxy answers before anything is started
    record = procs.spawn(CANARY, shop_argv(config, config.shop_canary_port, version, CANARY),
                         config.paths.log(CANARY), port=config.shop_canary_port)
    try:
        _wait_healthy(config, record)
        if not sandbox.attach(record, config):
            raise SandboxNotReady("the sandbox stopped while the canary started; `kit up`, then deploy again")
        _wait_slots(config, {CANARY: True}, time.time(), f"Prometheus has not scraped the canary {version}")
    except BaseException:
        procs.stop(record)
        sandbox.detach(CANARY, config)
        raise
    _changed(config, release, ReleaseRecord(release.stable, version, 0))
    _runtime(config, f"set server {BACKEND}/{CANARY} state ready")
    return status(config)


def set_weight(percent: int, *, config: Config | None = None) -> CanaryStatus:
    """Send ``percent`` (0-100) of the shop's requests to the canary from the next request on; the rest to stable.

    Raises InvalidInput (field ``weight``) for a weight out of range or when no canary runs; SandboxNotReady when
    HAProxy does not answer.
    """
    config = resolve(config)
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise InvalidInput("weight", f"{percent!r} is not a whole percentage from 0 to 100")
    release = ReleaseRecord.load(config)
    if _canary_record(config) is None:
        raise InvalidInput("weight", "no canary is running; `kit release deploy VERSION` starts one")
    _apply_weight(config, release.canary_weight, percent)
    _changed(config, release, ReleaseRecord(release.stable, release.canary, percent, release.exposed or percent > 0))
    return status(config)


def promote(*, config: Config | None = None) -> CanaryStatus:
    """Make the canary's version the stable one: the stable process restarts on it and the canary stops.

    No request is dropped: the canary takes every request while the stable shop restarts, then stable takes
    them all again before the canary stops. Returns once Prometheus has scraped the restarted stable shop and the
    empty canary slot (as ``rollback``): a judge or `kit status` that follows sees the promoted shop and no canary.
    Raises InvalidInput (field ``canary``) when no canary runs; SandboxNotReady when Prometheus has not scraped
    them within ``SCRAPE_WAIT`` scrape intervals.
    """
    config = resolve(config)
    release = ReleaseRecord.load(config)
    record = _canary_record(config)
    if record is None:
        raise InvalidInput("canary", "no canary is running to promote; `kit release deploy VERSION` starts one")
    _apply_weight(config, release.canary_weight, 100)
    promoted = ReleaseRecord(release.canary, release.canary, 100)
    promoted.save(config)  # the stable shop restarts from this record, on the canary's version
    sandbox.restart("shop", config=config)
    _apply_weight(config, 100, 0)
    _stop_canary(config, record)
    _changed(config, release, ReleaseRecord(promoted.stable))
    _wait_slots(config, {"stable": True, CANARY: False}, time.time(),
                f"Prometheus has not scraped the stable shop on {promoted.stable} and the empty canary slot")
    return status(config)


def rollback(*, config: Config | None = None) -> CanaryStatus:
    """Take every request off the canary, then stop it; a no-op when no canary runs.

    Afterwards no canary process is left and HAProxy sends the canary nothing (weight 0, maintenance). Returns once
    Prometheus has found the canary's slot empty: that failed scrape marks every series of the stopped canary stale,
    so no query that follows counts it. Raises SandboxNotReady, the rollback done, when Prometheus has not scraped
    the slot within ``SCRAPE_WAIT`` scrape intervals.
    """
    config = resolve(config)
    release = ReleaseRecord.load(config)
    record = _canary_record(config)
    if record is None and release.canary is None:
        return status(config)
    _apply_weight(config, release.canary_weight, 0)
    _runtime(config, f"set server {BACKEND}/{CANARY} state maint")
    if record is not None:
        _stop_canary(config, record)
    _changed(config, release, ReleaseRecord(release.stable))
    _wait_slots(config, {CANARY: False}, time.time(), "Prometheus still finds the stopped canary")
    return status(config)


def pause(reason: str, *, config: Config | None = None) -> CanaryStatus:
    """Hold the canary where it is and log a pause with ``reason`` (an inconclusive judgment, a closed gate).

    Nothing changes in HAProxy: the canary keeps its weight until a person (or a later run) raises it, promotes
    it or rolls it back. Raises InvalidInput (field ``canary``) when no canary runs.
    """
    config = resolve(config)
    release = ReleaseRecord.load(config)
    if _canary_record(config) is None or release.canary is None:
        raise InvalidInput("canary", "no canary is running to pause; `kit release deploy VERSION` starts one")
    version = shop_version(release.canary)
    deploylog.append([DeployEvent("pause", version.version, version.commit, version.committed_at.timestamp(),
                                  time.time(), f"{getpass.getuser()} (kit release)",
                                  f"held at {release.canary_weight} %: {reason}")], config=config)
    return status(config)


def restore(config: Config | None = None) -> tuple[str, ...]:
    """Back to the release every sandbox starts with: no canary, the stable shop on 1.0.0; what was undone, a
    sentence each (``kit.lab.reset``)."""
    config = resolve(config)
    undone = []
    if _canary_record(config) is not None:
        undone.append(f"rolled back the canary of {ReleaseRecord.load(config).canary}")
        rollback(config=config)
    stable = ReleaseRecord.load(config).stable
    if stable != VERSION:
        deploy(VERSION, config=config)
        promote(config=config)
        undone.append(f"put the stable shop back on {VERSION} from {stable}")
    return tuple(undone)


def status(config: Config | None = None) -> CanaryStatus:
    """The release as recorded, the canary's pid when it runs, and HAProxy's weights (empty when it does not answer)."""
    config = resolve(config)
    release = ReleaseRecord.load(config)
    record = _canary_record(config)
    try:
        weights = {server: int(_runtime(config, f"get weight {BACKEND}/{server}").split()[0])
                   for server in ("stable", CANARY)}
    except (SandboxNotReady, ValueError, IndexError):
        weights = {}
    return CanaryStatus(release.stable, release.canary if record else None, record.pid if record else None,
                        release.canary_weight if record else 0, weights)


def measure_split(requests: int, *, timeout: float = 60.0, config: Config | None = None) -> SplitMeasurement:
    """Count the requests HAProxy hands the stable shop and the canary until ``requests`` more have passed.

    Read from HAProxy's own per-server counters (the runtime API's ``show stat``, ``stot``: every request
    the balancer assigned to the server, answered or not), so it is the split as the proxy made it, with no
    scrape interval in between. The weight is the canary's at the start. Raises KitError when fewer than
    ``requests`` requests came within ``timeout`` seconds (nothing drives traffic: is the traffic process
    running?), SandboxNotReady when HAProxy does not answer.
    """
    config = resolve(config)
    weight = ReleaseRecord.load(config).canary_weight if _canary_record(config) else 0
    before = _server_requests(config)

    def counted() -> dict[str, int] | None:
        now = _server_requests(config)
        return now if sum(now.values()) - sum(before.values()) >= requests else None

    after = polling.wait_until(counted, timeout, 0.05)
    if after is None:
        raise KitError(f"fewer than {requests} requests reached the shop in {timeout:g} s; is traffic running "
                       "(`kit status`)?")
    return SplitMeasurement(after["stable"] - before["stable"], after[CANARY] - before[CANARY], weight)


def request_counts(config: Config | None = None) -> dict[str, int]:
    """Requests HAProxy has handed each server since it started, ``{"stable": n, "canary": m}`` (``show stat``'s
    ``stot``, as ``measure_split`` reads them); the difference of two readings is the traffic between them.
    SandboxNotReady when HAProxy does not answer."""
    return _server_requests(resolve(config))


def wait_scraped(track: str, version: str, *, config: Config | None = None) -> None:
    """Until Prometheus's last scrape of the shop's ``track`` found it up and serving ``version`` (its
    ``build_info``). SandboxNotReady when it has not within ``SCRAPE_WAIT`` scrape intervals."""
    query = f'build_info{{job="shop", track="{track}", version="{version}"}} and on(track) (up{{job="shop"}} == 1)'
    _wait_query(resolve(config), query, bool, f"Prometheus has not scraped the {track} shop as version {version}")


def _server_requests(config: Config) -> dict[str, int]:
    lines = _runtime(config, "show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
    return {row["svname"]: int(row["stot"] or 0) for row in rows
            if row["pxname"] == BACKEND and row["svname"] in ("stable", CANARY)}


def _apply_weight(config: Config, old: int, new: int) -> None:
    """Set HAProxy's weights for ``new`` percent to the canary, in the order that never leaves both at 0."""
    commands = [f"set weight {BACKEND}/{CANARY} {new}", f"set weight {BACKEND}/stable {100 - new}"]
    for command in commands if new >= old else reversed(commands):
        _runtime(config, command)


def _changed(config: Config, before: ReleaseRecord, after: ReleaseRecord) -> None:
    """Every completed change (deploy, weight, promote, rollback) ends here: kept and logged."""
    after.save(config)
    now = time.time()
    actor = f"{getpass.getuser()} (kit release)"
    deploylog.append([DeployEvent(kind, version, shop_version(version).commit,
                                  shop_version(version).committed_at.timestamp(), now, actor, reason, weight=weight)
                      for kind, version, weight, reason in log_entries(before, after)], config=config)


def log_entries(before: ReleaseRecord, after: ReleaseRecord) -> list[tuple[str, str, float | None, str]]:
    """The deploy log's view of one change, as (kind, version, weight %, reason): what production serves.

    A canary at 0 % serves nobody, so its start is not a deployment; the first weight above 0 is (a
    deployment counts at any weight, see kit.releases.dora), and a rise after that, or the promotion, is a
    promote. A lowered weight pauses the release; taking the last request off a canary that served some is a
    rollback, as is stopping it. A promotion straight from 0 % is a deployment at 100 %.
    """
    canary, old, new = before.canary, before.canary_weight, after.canary_weight
    if canary is None:
        return []
    if after.stable == canary and before.stable != canary:
        kind = "promote" if before.exposed else "deploy"
        return [(kind, canary, 100, f"promoted from {old} %")]
    if after.canary is None:
        return [("rollback", canary, 0, f"rolled back from {old} %")] if before.exposed else []
    if new > old:
        kind = "promote" if before.exposed else "deploy"
        return [(kind, canary, new, f"weight raised from {old} % to {new} %")]
    if new < old:
        if new == 0:
            return [("rollback", canary, 0, f"weight lowered from {old} % to 0 %")]
        return [("pause", canary, None, f"weight lowered from {old} % to {new} %")]
    return []


def _canary_record(config: Config) -> procs.ProcessRecord | None:
    state = SandboxRecord.load(record_path(config))
    record = state.companions.get(CANARY)
    return record if record is not None and procs.alive(record) else None


def _stop_canary(config: Config, record: procs.ProcessRecord) -> None:
    procs.stop(record)
    sandbox.detach(CANARY, config)


def _wait_healthy(config: Config, record: procs.ProcessRecord) -> None:
    url = config.url("shop_canary") + "/health"

    def healthy() -> bool:
        if not procs.alive(record):
            raise ProcessFailed(CANARY, "exited during start", procs.log_tail(record.log))
        try:
            return localhttp.client().get(url, timeout=localhttp.STATUS_TIMEOUT_S).status_code == 200
        except httpx.HTTPError:
            return False

    if not polling.wait_until(healthy, START_TIMEOUT_S, 0.1):
        raise ProcessFailed(CANARY, f"not healthy after {START_TIMEOUT_S:g} s", procs.log_tail(record.log))


def _wait_slots(config: Config, wanted: dict[str, bool], since: float, failure: str) -> None:
    """Until Prometheus's last scrape of each shop slot in ``wanted`` ({track: up}), taken after ``since`` (Unix
    seconds), found it up (True) or empty (False). A scrape that began after a change sees it: a started shop
    answering, or a stopped one gone, its series marked stale by that failed scrape."""
    query = f'up{{job="shop"}} and (timestamp(up{{job="shop"}}) > {since:.3f})'

    def reached(found: list[dict]) -> bool:
        seen = {row["metric"].get("track", ""): row["value"][1] == "1" for row in found}
        return all(seen.get(track) is up for track, up in wanted.items())

    _wait_query(config, query, reached, failure)


def _wait_query(config: Config, query: str, done: Callable[[list[dict]], bool], failure: str) -> None:
    """Until ``done`` holds for the series (the API's ``result`` rows) an instant ``query`` returns."""
    url = config.url("prometheus") + "/api/v1/query"
    timeout = SCRAPE_WAIT * parse_duration(config.profile_spec.scrape_interval)

    def reached() -> bool:
        try:
            answer = localhttp.client().get(url, params={"query": query}, timeout=localhttp.STATUS_TIMEOUT_S)
            found = answer.json()["data"]["result"]
        except (httpx.HTTPError, ValueError, KeyError):
            return False
        return done(found)

    if not polling.wait_until(reached, timeout, 0.1):
        raise SandboxNotReady(f"{failure} within {timeout:g} s; `kit status` shows its targets, "
                              "`kit logs prometheus` why")


def _runtime(config: Config, command: str) -> str:
    """One command on HAProxy's runtime API; its answer. HAProxy answers an error in words, raised as KitError."""
    path = config.paths.proxy_socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(RUNTIME_TIMEOUT_S)
            conn.connect(str(path))
            conn.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
    except OSError as error:
        raise SandboxNotReady(f"HAProxy is not answering on its runtime API at {path} ({error.strerror or error}); "
                              "`kit status` shows whether the proxy runs, `kit up` starts it") from None
    answer = b"".join(chunks).decode().strip()
    if command.startswith("set ") and answer:
        raise KitError(f"HAProxy refused `{command}`: {answer}")
    return answer
