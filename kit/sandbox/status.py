"""What runs right now: each process checked against the record, its health check and Prometheus."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, replace

import httpx

from .. import localhttp, procs
from ..config import Config, resolve
from ..errors import SandboxNotReady
from .processes import port_of, probe, wanted
from .record import SandboxRecord, in_progress, record_path
from .render import expected_rules


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int | None
    port: int | None
    running: bool
    healthy: bool
    answering: bool = False
    """Up and answering its health check, though not with 200 (a service reporting an injected fault)."""

    @property
    def state(self) -> str:
        if not self.running:
            return "stopped"
        if self.healthy:
            return "healthy"
        return "unhealthy (it answers, but reports a fault)" if self.answering else "unhealthy"


@dataclass(frozen=True)
class SandboxStatus:
    profile: str | None
    processes: list[ProcessStatus]
    targets: dict[str, str]
    rules_loaded: int
    rules_expected: int
    urls: dict[str, str]
    in_progress: str = ""
    """"starting" while a `kit up` runs, "stopping" while a `kit down` runs, else ""."""

    @property
    def running(self) -> bool:
        return any(p.running for p in self.processes)

    @property
    def state(self) -> str:
        """One of: not running, starting, stopping, healthy, unhealthy (what `kit status` leads with)."""
        if self.in_progress in ("starting", "stopping"):
            return self.in_progress
        if not self.running:
            return "not running"
        return "healthy" if self.healthy else "unhealthy"

    @property
    def verdict(self) -> str:
        """The state in a sentence, with what to do about it."""
        return {
            "not running": "not running; start it with `kit up`",
            "starting": "starting: `kit up` is bringing it up; ask again in a few seconds",
            "stopping": "stopping: `kit down` is taking it down",
            "healthy": "healthy",
        }.get(self.state) or "unhealthy: " + "; ".join(self.problems())

    @property
    def healthy(self) -> bool:
        return self.started and all(p.healthy for p in self.processes)

    @property
    def started(self) -> bool:
        """Every process runs and answers, every target is up, every rule is loaded.

        Weaker than healthy: a service whose health check reports an injected
        fault (payments "down" in a drill) is started. `kit up` waits for this,
        so it can repair Prometheus in the middle of a drill.
        """
        return (bool(self.processes) and all(p.running and (p.healthy or p.answering) for p in self.processes)
                and bool(self.targets) and all(h == "up" for h in self.targets.values())
                and self.rules_loaded >= self.rules_expected > 0)

    def problems(self) -> list[str]:
        found = [f"{p.name} is {p.state}" for p in self.processes if not (p.running and p.healthy)]
        found += [f"Prometheus target {job} is {h}" for job, h in sorted(self.targets.items()) if h != "up"]
        if not self.targets and any(p.name == "prometheus" and p.healthy for p in self.processes):
            found.append("Prometheus has no targets yet (it takes them up about 5 s after it starts)")
        if self.rules_loaded < self.rules_expected:
            found.append(f"Prometheus has loaded {self.rules_loaded} of {self.rules_expected} rules")
        return found

    def to_json(self) -> dict:
        data = asdict(self)
        data["healthy"] = self.healthy
        data["state"] = self.state
        for proc in data["processes"]:
            proc["state"] = ProcessStatus(**proc).state
        return data

    def __str__(self) -> str:
        head = f"sandbox: {self.verdict}" + (f" (profile {self.profile})" if self.profile else "")
        if not self.processes:
            return head
        lines = [head, f"{'process':<14}{'pid':>8}  {'port':>6}  state"]
        for p in self.processes:
            lines.append(f"{p.name:<14}{p.pid or '-':>8}  {p.port or '-':>6}  {p.state}")
        if self.targets:
            lines.append("targets: " + ", ".join(f"{job}={h}" for job, h in sorted(self.targets.items())))
        lines.append(f"rules loaded: {self.rules_loaded}/{self.rules_expected}")
        lines += [f"  {name}: {url}" for name, url in self.urls.items()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{p.name}</td><td>{p.pid or '-'}</td><td>{p.port or '-'}</td>"
            f"<td style='color:{'green' if p.healthy and p.running else 'crimson'}'>{p.state}</td></tr>"
            for p in self.processes)
        targets = ", ".join(f"{job}={h}" for job, h in sorted(self.targets.items())) or "-"
        verdict = self.verdict
        return (f"<b>sandbox {verdict}</b> (profile {self.profile or '-'})<table>"
                f"<tr><th>process</th><th>pid</th><th>port</th><th>state</th></tr>{rows}</table>"
                f"<p>targets: {targets}; rules loaded {self.rules_loaded}/{self.rules_expected}</p>"
                + _html_links(self.urls))


def _html_links(urls: dict[str, str]) -> str:
    if not urls:
        return ""
    items = " · ".join(f"<a href='{html.escape(url)}' target='_blank' rel='noopener'>{html.escape(name)}</a>"
                       for name, url in urls.items())
    return f"<p>open: {items}</p>"


def _prometheus_view(client: httpx.Client, config: Config) -> tuple[dict[str, str], int]:
    base = config.url("prometheus")
    try:
        targets = client.get(f"{base}/api/v1/targets", params={"state": "active"},
                             timeout=localhttp.STATUS_TIMEOUT_S).json()["data"]["activeTargets"]
        groups = client.get(f"{base}/api/v1/rules", timeout=localhttp.STATUS_TIMEOUT_S).json()["data"]["groups"]
    except (httpx.HTTPError, ValueError, KeyError):
        return {}, 0
    # A canary (kit.releases.canary) comes and goes within the shop job; its health is the release's business.
    return ({t["labels"]["job"]: t["health"] for t in targets if t["labels"].get("track") != "canary"},
            sum(len(g["rules"]) for g in groups))


def collect(config: Config, state: SandboxRecord, client: httpx.Client, expected_rules: int) -> SandboxStatus:
    names = wanted(config) if state.processes else ()
    rows = []
    for name in names:
        record = state.processes.get(name)
        running = record is not None and procs.alive(record)
        code = probe(client, name, config) if running else None
        rows.append(ProcessStatus(name, record.pid if record else None, port_of(name, config), running,
                                  code == 200, code is not None and code != 200))
    prom_up = any(r.name == "prometheus" and r.healthy for r in rows)
    targets, loaded = _prometheus_view(client, config) if prom_up else ({}, 0)
    expected = expected_rules if rows else 0
    urls = links(config) if rows else {}
    return SandboxStatus(config.profile if rows else None, rows, targets, loaded, expected, urls)


def links(config: Config) -> dict[str, str]:
    """What a person opens in a browser while the sandbox runs, at the ports of ``config``."""
    return {"Prometheus": config.url("prometheus"), "Alertmanager": config.url("alertmanager"),
            "shop API docs": config.url("shop") + "/docs", "shop": config.url("shop")}


current_config = resolve
"""The config the running sandbox was started with, so status/down find it whatever the shell says (kit.config owns
this; the name stays because notebooks and modules call it)."""


def status(config: Config | None = None) -> SandboxStatus:
    """What is running right now, checked against the real processes and Prometheus."""
    config = current_config(config)
    current = collect(config, SandboxRecord.load(record_path(config)), localhttp.client(), expected_rules(config))
    return replace(current, in_progress=in_progress(config))


def is_up(config: Config | None = None) -> bool:
    """True from ``up`` until ``down``, even while a process has crashed and waits for ``up`` to repair it."""
    config = current_config(config)
    return bool(SandboxRecord.load(record_path(config)).processes)


def pids(config: Config | None = None) -> dict[str, int]:
    """The pid of every sandbox process that is running now (a changed pid means a restart)."""
    config = current_config(config)
    state = SandboxRecord.load(record_path(config))
    return {name: record.pid for name, record in state.processes.items() if procs.alive(record)}


def require(config: Config | None = None) -> SandboxStatus:
    """The status if the sandbox is healthy, else SandboxNotReady listing what is wrong."""
    current = status(config)
    if not current.running:
        raise SandboxNotReady("the sandbox is not running; start it with `kit up` (or kit.up() in a notebook)")
    if not current.healthy:
        raise SandboxNotReady("the sandbox is not healthy: " + "; ".join(current.problems())
                              + ". `kit up` repairs it; `kit logs NAME` shows why.")
    return current
