"""Start, stop and inspect the sandbox: shop, payments, pager, Alertmanager, Prometheus, traffic.

Every process runs detached in its own process group and is recorded (pid and
start time) in ``<state>/sandbox.json``, so ``status`` tells the truth after a
kernel restart, ``up`` repairs what died and ``down`` stops everything,
whoever started it. Processes that only make sense while the sandbox runs (a
drill's watcher, a noisy neighbour's load) are recorded there too with
``attach``, and ``down`` stops them first. Configuration is rendered from the
files in ``sandbox/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import httpx

from . import binaries, localhttp, procs
from .config import Config, Profile, resolve
from .errors import InvalidInput, KitError, PortBusy, ProcessFailed, SandboxNotReady
from .promfiles import check_rules, read_yaml, write_yaml
from .timescale import MIN_SCRAPES_PER_WINDOW, format_duration, parse_duration, range_windows, scale_rule_groups

# Status and stop order (stopped in reverse: traffic first, payments last).
PROCESS_NAMES = ("payments", "shop", "pager", "alertmanager", "prometheus", "traffic")
# Start order: Prometheus first. Prometheus 2.42 applies its first target set only on its scrape
# manager's 5 s reload tick, counted from its own start, so `up` can return no sooner than that
# tick after Prometheus is spawned; everything else is healthy within ~1-4 s, well inside the tick.
START_ORDER = ("prometheus", "alertmanager", "pager", "payments", "shop", "traffic")
# Host names used in sandbox/*.yml (and by docker-compose) → the Config field holding their port.
HOST_PORTS = {
    "shop": "shop_port", "payments": "payments_port", "pager": "pager_port",
    "prometheus": "prometheus_port", "alertmanager": "alertmanager_port",
}
HEALTH_PATHS = {
    "shop": "/health", "payments": "/health", "pager": "/health",
    "alertmanager": "/-/ready", "prometheus": "/-/ready",
}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------- rendering


def _retarget(target: str, config: Config, compose: bool) -> str:
    host, _, port = target.rpartition(":")
    if compose or host not in HOST_PORTS:
        return target
    return f"{config.host}:{getattr(config, HOST_PORTS[host])}"


def render(config: Config, out: Path, *, compose: bool = False) -> Path:
    """Write prometheus.yml, alertmanager.yml and rules/ for ``config``'s profile into ``out``.

    ``compose=True`` keeps the container host names (docker-compose); otherwise
    every target points at the configured loopback ports.
    """
    source = Path(config.sandbox_dir)
    profile = config.profile_spec
    out.mkdir(parents=True, exist_ok=True)

    prom = _load_yaml(source / "prometheus.yml")
    prom["global"]["scrape_interval"] = profile.scrape_interval
    prom["global"]["evaluation_interval"] = profile.evaluation_interval
    for job in prom["scrape_configs"]:
        for static in job.get("static_configs", []):
            static["targets"] = [_retarget(t, config, compose) for t in static["targets"]]
    for am in prom["alerting"]["alertmanagers"]:
        for static in am.get("static_configs", []):
            static["targets"] = [_retarget(t, config, compose) for t in static["targets"]]
    write_yaml(out / "prometheus.yml", prom)

    am = _load_yaml(source / "alertmanager.yml")
    am["route"].update(
        group_wait=profile.group_wait, group_interval=profile.group_interval,
        repeat_interval=profile.repeat_interval,
    )
    for receiver in am["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            url = httpx.URL(hook["url"])
            target = _retarget(f"{url.host}:{url.port}", config, compose)
            hook["url"] = str(url.copy_with(netloc=target.encode()))
    write_yaml(out / "alertmanager.yml", am)

    rules_out = out / "rules"
    if rules_out.exists():
        shutil.rmtree(rules_out)
    rules_out.mkdir()
    for rule_file in sorted((source / "rules").glob("*.yml")):
        doc = scale_rule_groups(_load_yaml(rule_file), profile.time_scale)
        write_yaml(rules_out / rule_file.name, doc)
    loaded: set[bytes] = set()
    for rule_file in sorted(_extra_rules(config).glob("*.yml")):
        content = rule_file.read_bytes()
        if content in loaded:
            continue  # the same rules installed twice (by a learner and by a drill) are evaluated once
        loaded.add(content)
        shutil.copyfile(rule_file, rules_out / f"installed-{rule_file.name}")
    return out


def _extra_rules(config: Config) -> Path:
    """Rule files installed at run time (``install_rules``): already at the time scale they were made for."""
    return config.paths.installed_rules


def _load_yaml(path: Path) -> dict:
    try:
        return read_yaml(path)
    except FileNotFoundError:
        raise SandboxNotReady(f"sandbox configuration {path} is missing; set KIT_SANDBOX_DIR to the repo's sandbox/") from None


def rule_count(rendered: Path) -> int:
    return sum(len(g.get("rules", [])) for f in sorted((rendered / "rules").glob("*.yml"))
               for g in _load_yaml(f).get("groups", []))


# ---------------------------------------------------------------- state


@dataclass
class _State:
    config: dict = field(default_factory=dict)
    processes: dict[str, procs.ProcessRecord] = field(default_factory=dict)
    companions: dict[str, procs.ProcessRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "_State":
        try:
            data = json.loads(path.read_text())
            return cls(data.get("config", {}),
                       {n: procs.ProcessRecord.from_json(r) for n, r in data.get("processes", {}).items()},
                       {n: procs.ProcessRecord.from_json(r) for n, r in data.get("companions", {}).items()})
        except FileNotFoundError:
            return cls()
        except (ValueError, TypeError, KeyError):
            return cls()  # a state file cut short by a crash: rebuilt from what is actually running

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"config": self.config,
                                   "processes": {n: r.to_json() for n, r in self.processes.items()},
                                   "companions": {n: r.to_json() for n, r in self.companions.items()}}, indent=1))
        os.replace(tmp, path)


def _state_path(config: Config) -> Path:
    return config.paths.sandbox_record


@contextlib.contextmanager
def _locked(config: Config, doing: str = ""):
    """One `kit up`/`kit down` at a time per state folder; `kit status` reports ``doing`` ("starting") meanwhile."""
    config.state.mkdir(parents=True, exist_ok=True)
    with open(config.paths.lock, "a+") as fh:  # "a+": a caller waiting for the lock must not erase ``doing``
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.truncate(0)
            fh.write(doing)
            fh.flush()
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def _in_progress(config: Config) -> str:
    """What a `kit up` or `kit down` holding the lock is doing right now ("starting", "stopping"), else ""."""
    try:
        fh = open(config.paths.lock, "r")
    except FileNotFoundError:
        return ""
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return fh.read().strip()
        fcntl.flock(fh, fcntl.LOCK_UN)
        return ""


def _ensure_token(config: Config) -> None:
    if config.token_file.exists() and config.token_file.stat().st_size:
        return
    fd = os.open(config.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(24))
    os.chmod(config.token_file, 0o600)


# ---------------------------------------------------------------- processes


def _argv(name: str, config: Config, tools: dict[str, binaries.Found]) -> list[str]:
    py = [sys.executable, "-m"]
    rendered = config.paths.rendered
    host = config.host
    common = ["--host", host] + (["--allow-remote"] if config.allow_remote else [])
    if name == "payments":
        return py + ["kit.shop.service", "payments", *common, "--port", str(config.payments_port),
                     "--token-file", str(config.token_file), "--secret-file", str(config.secret_drill_file)]
    if name == "shop":
        return py + ["kit.shop.service", "shop", *common, "--port", str(config.shop_port),
                     "--payments-url", config.url("payments"), "--token-file", str(config.token_file),
                     "--secret-file", str(config.secret_drill_file), "--slots", str(config.shop_slots), "--queue", str(config.shop_queue)]
    if name == "pager":
        return py + ["kit.pager", *common, "--port", str(config.pager_port),
                     "--store", str(config.paths.pages)]
    if name == "alertmanager":
        return [str(tools["alertmanager"].path), f"--config.file={rendered / 'alertmanager.yml'}",
                f"--storage.path={config.paths.alertmanager_data}",
                f"--web.listen-address={host}:{config.alertmanager_port}",
                "--cluster.listen-address=", "--log.level=warn"]
    if name == "prometheus":
        return [str(tools["prometheus"].path), f"--config.file={rendered / 'prometheus.yml'}",
                f"--storage.tsdb.path={config.paths.prometheus_data}",
                f"--web.listen-address={host}:{config.prometheus_port}",
                "--web.enable-lifecycle", "--web.enable-admin-api",
                f"--rules.alert.resend-delay={config.profile_spec.resend_delay}",
                "--storage.tsdb.retention.time=90d", "--log.level=warn"]
    if name == "traffic":
        return py + ["kit.shop.traffic", "--shop", config.url("shop"), "--rps", str(config.traffic_rps)]
    raise KeyError(name)


def _wanted(config: Config) -> tuple[str, ...]:
    return tuple(n for n in PROCESS_NAMES if n != "traffic" or config.traffic_rps > 0)


def _port(name: str, config: Config) -> int | None:
    return getattr(config, HOST_PORTS[name]) if name in HOST_PORTS else None


def _probe(client: httpx.Client, name: str, config: Config) -> int | None:
    """The HTTP status of the process's health check, 200 for processes without one, None when it does not answer."""
    if name not in HEALTH_PATHS:
        return 200
    try:
        return client.get(f"{config.url(name)}{HEALTH_PATHS[name]}", timeout=localhttp.STATUS_TIMEOUT_S).status_code
    except httpx.HTTPError:
        return None


# ---------------------------------------------------------------- status


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
    return ({t["labels"]["job"]: t["health"] for t in targets},
            sum(len(g["rules"]) for g in groups))


def _expected_rules(config: Config) -> int:
    rendered = config.paths.rendered
    return rule_count(rendered) if (rendered / "rules").exists() else 0


def _collect(config: Config, state: _State, client: httpx.Client, expected_rules: int) -> SandboxStatus:
    names = _wanted(config) if state.processes else ()
    rows = []
    for name in names:
        record = state.processes.get(name)
        running = record is not None and procs.alive(record)
        code = _probe(client, name, config) if running else None
        rows.append(ProcessStatus(name, record.pid if record else None, _port(name, config), running,
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
    current = _collect(config, _State.load(_state_path(config)), localhttp.client(), _expected_rules(config))
    return replace(current, in_progress=_in_progress(config))


# ---------------------------------------------------------------- up / down


def up(profile: str | None = None, *, config: Config | None = None, timeout: float = 60.0,
       progress: Progress = _quiet, tether: bool = False) -> SandboxStatus:
    """Start (or repair) the sandbox; returns once every target is up and every rule is loaded.

    Idempotent: processes already running with the same configuration are kept.
    Ctrl-C or a failure during start stops what this call started. ``tether=True``
    makes the processes it starts die with the calling process (``kit lab``), even
    when that is killed with SIGKILL (Linux; see ``kit.procs.tethered``); by default
    they outlive it, until ``down``.
    """
    config = config or Config.from_env(profile=profile)
    if profile is not None and config.profile != profile:
        config = config.with_(profile=profile)
    # The version checks start four Go binaries; they run while Prometheus boots (see START_ORDER).
    with ThreadPoolExecutor(1) as pool, _locked(config, "starting"):
        probing = pool.submit(binaries.find_all)
        if any(binaries.locate(name) is None for name in binaries.TOOLS):
            probing.result()  # a tool not even on PATH: say how to install it before anything else is judged
        state_file = _state_path(config)
        state = _State.load(state_file)
        wanted_config = asdict(config)
        if state.processes and state.config and state.config != wanted_config:
            changed = sorted(k for k in wanted_config if state.config.get(k) != wanted_config[k])
            probing.result()  # never stop a working sandbox for a restart that cannot start
            progress(f"configuration changed ({', '.join(changed)}): restarting the sandbox")
            _stop_all(Config.from_saved(state.config), state, progress)
        state.config = wanted_config
        _ensure_token(config)
        render(config, config.paths.rendered)
        started: list[str] = []
        try:
            for name in sorted(_wanted(config), key=START_ORDER.index):
                record = state.processes.get(name)
                if record is not None and procs.alive(record):
                    continue
                port = _port(name, config)
                problem = procs.port_problem(config.host, port) if port is not None else None
                if problem is not None:
                    field_name = HOST_PORTS[name]
                    raise PortBusy(name, port, Config.__dataclass_fields__[field_name].metadata["env"], problem)
                log = config.paths.log(name)
                argv = _argv(name, config, _tools(name, probing))
                progress(f"starting {name}" + (f" on {config.host}:{port}" if port else ""))
                state.processes[name] = procs.spawn(name, argv, log, port=port, tether=tether)
                started.append(name)
                state.save(state_file)
            probing.result()  # a missing or too old tool stops what was started, Prometheus included
            if "prometheus" not in started:
                _reload(config)
            result = _wait_healthy(config, state, timeout, progress)
        except BaseException:
            for name in reversed(started):
                procs.stop(state.processes.pop(name))
            state.save(state_file)
            raise
        faulted = [p.name for p in result.processes if not p.healthy]
        progress(f"sandbox up: {len(result.processes) - len(faulted)} processes healthy, "
                 f"{result.rules_loaded} rules loaded, {len(result.targets)} targets up"
                 + (f"; {', '.join(faulted)} reports a fault" if faulted else ""))
        return result


def _tools(name: str, probing: Future) -> dict[str, binaries.Found]:
    """The tools for spawning ``name``: Prometheus may start on its located path before the version checks end."""
    if name == "prometheus" and not probing.done():
        path = binaries.locate("prometheus")
        if path is not None:
            return {"prometheus": binaries.Found("prometheus", path, "not checked yet")}
    return probing.result()


def _reload(config: Config) -> None:
    """Make already-running Prometheus and Alertmanager read the freshly rendered config."""
    for name in ("prometheus", "alertmanager"):
        with contextlib.suppress(httpx.HTTPError):
            localhttp.client().post(f"{config.url(name)}/-/reload", timeout=5.0)


def _wait_healthy(config: Config, state: _State, timeout: float, progress: Progress) -> SandboxStatus:
    deadline = time.monotonic() + timeout
    reported: set[str] = set()
    expected_rules = _expected_rules(config)  # rendered once before the wait; parsing it per poll is waste
    client = localhttp.client()
    while True:
        current = _collect(config, state, client, expected_rules)
        for proc in current.processes:
            if not proc.running:
                record = state.processes[proc.name]
                raise ProcessFailed(proc.name, "exited during start", procs.log_tail(record.log))
            if proc.healthy and proc.name not in reported:
                reported.add(proc.name)
                progress(f"  {proc.name} healthy")
        if current.started:
            return current
        if time.monotonic() >= deadline:
            problems = "; ".join(current.problems())
            logs = "\n".join(f"[{p.name}] {procs.log_tail(state.processes[p.name].log, 5)}"
                             for p in current.processes if not p.healthy)
            raise ProcessFailed("sandbox", f"not healthy after {timeout:.0f} s: {problems}", logs)
        time.sleep(0.1)


def _stop_all(config: Config, state: _State, progress: Progress) -> list[str]:
    stopped = []
    for name in reversed(PROCESS_NAMES):
        record = state.processes.pop(name, None)
        if record is not None and procs.alive(record):
            progress(f"stopping {name} (pid {record.pid})")
            procs.stop(record)
            stopped.append(name)
    return stopped


def down(config: Config | None = None, *, progress: Progress = _quiet) -> list[str]:
    """Stop every sandbox process and its companions; safe to run twice or after a crash. Returns what it stopped."""
    config = current_config(config)
    with _locked(config, "stopping"):
        state_file = _state_path(config)
        state = _State.load(state_file)
        stopped = []
        for name, record in state.companions.items():  # first: they would report the sandbox going away
            if procs.alive(record):
                progress(f"stopping {name} (pid {record.pid})")
                procs.stop(record)
                stopped.append(name)
        stopped += _stop_all(config, state, progress)
        state_file.unlink(missing_ok=True)
        config.token_file.unlink(missing_ok=True)
    return stopped


@contextlib.contextmanager
def throwaway(*, progress: Progress = _quiet) -> Iterator[Config]:
    """The Config of a sandbox of its own, for a job that must never touch anyone's (``kit check``, ``kit grade``).

    Its settings are the kit's defaults (the lab profile on 127.0.0.1, whatever the other KIT_* variables say,
    so a job runs the same for everyone; only KIT_SANDBOX_DIR, where the config files are, is honoured), with
    ports free right now and a new temp state folder, so pages, faults, drills, results and rules live apart
    from every other sandbox. Nothing is started here. When the block ends, normally, on an error or on
    Ctrl-C, whatever was started in it is stopped with ``down``, any process still naming its folder is
    stopped too, and the folder is removed.
    """
    state = tempfile.mkdtemp(prefix="kit-private-")
    ports: dict[str, int] = {}
    for field_name in HOST_PORTS.values():
        port = procs.free_port()
        while port in ports.values():
            port = procs.free_port()
        ports[field_name] = port
    config = Config.from_env({"KIT_SANDBOX_DIR": os.environ.get("KIT_SANDBOX_DIR", "")}, state_dir=state, **ports)
    try:
        yield config
    finally:
        if is_up(config):
            progress("stopping the private sandbox")
        stopped = down(config)
        strays = procs.stop_naming(state)
        shutil.rmtree(state, ignore_errors=True)
        if stopped or strays:
            progress(f"private sandbox stopped ({len(stopped) + len(strays)} processes) and its folder removed")


def attach(record: procs.ProcessRecord, config: Config | None = None) -> bool:
    """Record a process that must not outlive the sandbox, so ``down`` stops it (replaces one of the same name).

    Returns False, recording nothing, when the sandbox is not up (``down`` ran, or
    ``up`` never did): the caller should stop the process, as ``down`` would have.
    """
    config = current_config(config)
    with _locked(config):
        state = _State.load(_state_path(config))
        if not any(procs.alive(r) for r in state.processes.values()):
            return False
        state.companions[record.name] = record
        state.save(_state_path(config))
    return True


def detach(name: str, config: Config | None = None) -> None:
    """Forget a companion recorded with ``attach`` (it has been stopped by its owner)."""
    config = current_config(config)
    with _locked(config):
        state = _State.load(_state_path(config))
        if state.companions.pop(name, None) is not None:
            state.save(_state_path(config))


def is_up(config: Config | None = None) -> bool:
    """True from ``up`` until ``down``, even while a process has crashed and waits for ``up`` to repair it."""
    config = current_config(config)
    return bool(_State.load(_state_path(config)).processes)


def pids(config: Config | None = None) -> dict[str, int]:
    """The pid of every sandbox process that is running now (a changed pid means a restart)."""
    config = current_config(config)
    state = _State.load(_state_path(config))
    return {name: record.pid for name, record in state.processes.items() if procs.alive(record)}


def logs(name: str, config: Config | None = None, lines: int = 50) -> str:
    """The last lines of one process's log."""
    config = current_config(config)
    if name not in PROCESS_NAMES:
        raise KitError(f"no process called {name!r}; choose one of {', '.join(PROCESS_NAMES)}")
    path = config.paths.log(name)
    if not path.exists():
        raise SandboxNotReady(f"no log for {name} yet at {path}; has the sandbox been started with `kit up`?")
    return procs.log_tail(path, lines)


def require(config: Config | None = None) -> SandboxStatus:
    """The status if the sandbox is healthy, else SandboxNotReady listing what is wrong."""
    current = status(config)
    if not current.running:
        raise SandboxNotReady("the sandbox is not running; start it with `kit up` (or kit.up() in a notebook)")
    if not current.healthy:
        raise SandboxNotReady("the sandbox is not healthy: " + "; ".join(current.problems())
                              + ". `kit up` repairs it; `kit logs NAME` shows why.")
    return current


_RULE_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def install_rules(name: str, doc: dict, *, config: Config | None = None, timeout: float = 30.0) -> SandboxStatus:
    """Add or replace the rule file ``name`` in the running sandbox and wait until Prometheus has loaded it.

    The rules are checked with ``promtool check rules`` first; rules it rejects
    raise InvalidInput with promtool's message and change nothing.
    """
    config = current_config(config)
    if not _RULE_FILE_NAME.match(name):
        raise InvalidInput("name", f"{name!r}: use 1-64 letters, digits, '-' or '_'")
    require(config)
    target = _extra_rules(config) / f"{name}.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    check = check_rules(doc)
    if not check.passed:
        raise InvalidInput("rules", check.output)
    _check_windows(doc, config.profile_spec)
    write_yaml(target, doc)
    return _rerender(config, timeout)


def _check_windows(doc: dict, profile: Profile) -> None:
    """InvalidInput when a rule's range window is too short for the profile's scrapes to fill: such a rule reads
    nothing, and an alert on it can never fire."""
    scrape = parse_duration(profile.scrape_interval)
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            for window in range_windows(str(rule.get("expr", ""))):
                if window < MIN_SCRAPES_PER_WINDOW * scrape:
                    name = rule.get("alert") or rule.get("record")
                    raise InvalidInput("rules", (
                        f"{name}: its {format_duration(window)} window holds fewer than {MIN_SCRAPES_PER_WINDOW} "
                        f"scrapes at the {profile.name} profile's {profile.scrape_interval} scrape interval, so "
                        f"rate() over it has too few samples and whatever reads it cannot fire reliably; use windows "
                        f"of at least {format_duration(MIN_SCRAPES_PER_WINDOW * scrape)}, or a smaller time scale"))


def remove_rules(name: str, *, config: Config | None = None, timeout: float = 30.0) -> SandboxStatus:
    """Remove a rule file added with ``install_rules``; a no-op when it is not installed.

    With the sandbox down it only removes the file (the next ``up`` renders without
    it) and waits for nothing.
    """
    config = current_config(config)
    (_extra_rules(config) / f"{name}.yml").unlink(missing_ok=True)
    if not pids(config):
        return status(config)
    return _rerender(config, timeout)


def _rerender(config: Config, timeout: float) -> SandboxStatus:
    with _locked(config):
        render(config, config.paths.rendered)
        _reload(config)
        return _wait_healthy(config, _State.load(_state_path(config)), timeout, _quiet)


def restart(name: str, *, config: Config | None = None, timeout: float = 60.0,
            progress: Progress = _quiet) -> SandboxStatus:
    """Stop one process and start it again (a mitigation: "restart payments"); the rest keeps running."""
    config = current_config(config)
    if name not in PROCESS_NAMES:
        raise InvalidInput("name", f"no process called {name!r}; choose one of {', '.join(PROCESS_NAMES)}")
    with _locked(config):
        state = _State.load(_state_path(config))
        record = state.processes.get(name)
        if record is not None:
            progress(f"stopping {name} (pid {record.pid})")
            procs.stop(record)
    return up(config=config, timeout=timeout, progress=progress)
