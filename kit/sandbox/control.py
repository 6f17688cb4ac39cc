"""Start, stop and repair the sandbox: shop, payments, pager, Alertmanager, Prometheus, traffic.

``up`` repairs what died and is idempotent, ``down`` stops everything, whoever started it. Processes that
only make sense while the sandbox runs (a drill's watcher, a noisy neighbour's load) are recorded with
``attach``, and ``down`` stops them first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from typing import Callable, Iterator

import httpx

from .. import binaries, localhttp, polling, procs
from ..config import PORTS, Config
from ..errors import InvalidInput, KitError, ProcessFailed, SandboxNotReady
from . import tsdb
from .processes import (
    BOUND_PORTS, PROCESS_NAMES, START_ORDER, argv_for, ensure_token, port_of, require_free, wanted,
)
from .record import SandboxRecord, locked, record_path
from .render import expected_rules, render
from .status import SandboxStatus, collect, current_config, is_up

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    pass


def up(profile: str | None = None, *, config: Config | None = None, timeout: float = 60.0,
       progress: Progress = quiet, tether: bool = False) -> SandboxStatus:
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
    with ThreadPoolExecutor(1) as pool, locked(config, "starting"):
        probing = pool.submit(binaries.find_all)
        if any(binaries.locate(name) is None for name in binaries.TOOLS):
            probing.result()  # a tool not even on PATH: say how to install it before anything else is judged
        state_file = record_path(config)
        state = SandboxRecord.load(state_file)
        wanted_config = asdict(config)
        if state.processes and state.config and state.config != wanted_config:
            changed = sorted(k for k in wanted_config if state.config.get(k) != wanted_config[k])
            probing.result()  # never stop a working sandbox for a restart that cannot start
            progress(f"configuration changed ({', '.join(changed)}): restarting the sandbox")
            _stop_all(Config.from_saved(state.config), state, progress)
        state.config = wanted_config
        ensure_token(config)
        render(config, config.paths.rendered)
        started: list[str] = []
        try:
            for name in sorted(wanted(config), key=START_ORDER.index):
                record = state.processes.get(name)
                if record is not None and procs.alive(record):
                    continue
                for field_name in BOUND_PORTS.get(name, ()):
                    require_free(name, field_name, config)
                port = port_of(name, config)
                log = config.paths.log(name)
                if name == "prometheus":
                    _seed_tsdb(config)
                argv = argv_for(name, config, _tools(name, probing))
                progress(f"starting {name}" + (f" on {config.host}:{port}" if port else ""))
                state.processes[name] = procs.spawn(name, argv, log, port=port, tether=tether)
                started.append(name)
                state.save(state_file)
            probing.result()  # a missing or too old tool stops what was started, Prometheus included
            if "prometheus" not in started:
                reload(config)
            result = wait_healthy(config, state, timeout, progress)
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


def _seed_tsdb(config: Config) -> None:
    """A reload marker in an empty TSDB (``kit.sandbox.tsdb``), so a later history loads without a restart; a
    promtool that is missing or fails costs only that (the version checks report a missing one)."""
    promtool = binaries.locate("promtool")
    if promtool is not None:
        with contextlib.suppress(ProcessFailed, OSError):
            tsdb.seed(config.paths.prometheus_data, str(promtool))


def _tools(name: str, probing: Future) -> dict[str, binaries.Found]:
    """The tools for spawning ``name``: Prometheus may start on its located path before the version checks end."""
    if name == "prometheus" and not probing.done():
        path = binaries.locate("prometheus")
        if path is not None:
            return {"prometheus": binaries.Found("prometheus", path, "not checked yet")}
    return probing.result()


def reload(config: Config) -> None:
    """Make already-running Prometheus and Alertmanager read the freshly rendered config."""
    for name in ("prometheus", "alertmanager"):
        with contextlib.suppress(httpx.HTTPError):
            localhttp.client().post(f"{config.url(name)}/-/reload", timeout=5.0)


def wait_healthy(config: Config, state: SandboxRecord, timeout: float, progress: Progress) -> SandboxStatus:
    reported: set[str] = set()
    expected = expected_rules(config)  # rendered once before the wait; parsing it per poll is waste
    client = localhttp.client()
    current: SandboxStatus | None = None

    def started() -> bool:
        nonlocal current
        current = collect(config, state, client, expected)
        for proc in current.processes:
            if not proc.running:
                record = state.processes[proc.name]
                raise ProcessFailed(proc.name, "exited during start", procs.log_tail(record.log))
            if proc.healthy and proc.name not in reported:
                reported.add(proc.name)
                progress(f"  {proc.name} healthy")
        return current.started

    if not polling.wait_until(started, timeout, 0.1):
        problems = "; ".join(current.problems())
        logs = "\n".join(f"[{p.name}] {procs.log_tail(state.processes[p.name].log, 5)}"
                         for p in current.processes if not p.healthy)
        raise ProcessFailed("sandbox", f"not healthy after {timeout:.0f} s: {problems}", logs)
    return current


def _stop_all(config: Config, state: SandboxRecord, progress: Progress) -> list[str]:
    stopped = []
    for name in reversed(PROCESS_NAMES):
        record = state.processes.pop(name, None)
        if record is not None and procs.alive(record):
            progress(f"stopping {name} (pid {record.pid})")
            procs.stop(record)
            stopped.append(name)
    return stopped


def down(config: Config | None = None, *, progress: Progress = quiet) -> list[str]:
    """Stop every sandbox process and its companions; safe to run twice or after a crash. Returns what it stopped."""
    config = current_config(config)
    with locked(config, "stopping"):
        state_file = record_path(config)
        state = SandboxRecord.load(state_file)
        stopped = []
        for name, record in state.companions.items():  # first: they would report the sandbox going away
            if procs.alive(record):
                progress(f"stopping {name} (pid {record.pid})")
                procs.stop(record)
                stopped.append(name)
        stopped += _stop_all(config, state, progress)
        state_file.unlink(missing_ok=True)
        config.token_file.unlink(missing_ok=True)
        _remove_socket_folder(config)
    return stopped


def _remove_socket_folder(config: Config) -> None:
    """The runtime socket's own folder, when the state folder was too deep for it (``StatePaths.proxy_socket``)."""
    socket = config.paths.proxy_socket
    if socket.parent != config.paths.root:
        socket.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            socket.parent.rmdir()


@contextlib.contextmanager
def throwaway(*, progress: Progress = quiet) -> Iterator[Config]:
    """The Config of a sandbox of its own, for a job that must never touch anyone's (``kit check``, ``kit grade``).

    Its settings are the kit's defaults (the lab profile on 127.0.0.1, whatever the other KIT_* variables say,
    so a job runs the same for everyone; only KIT_SANDBOX_DIR, where the config files are, is honoured), with
    ports free right now and a new temp state folder, so pages, faults, drills, results and rules live apart
    from every other sandbox. Nothing is started here. When the block ends, normally, on an error or on
    Ctrl-C, whatever was started in it is stopped with ``down``, any process still naming its folder is
    stopped too, and the folder is removed.
    """
    state = tempfile.mkdtemp(prefix="kit-private-")
    ports = dict(zip(PORTS, procs.free_ports(len(PORTS))))
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
    with locked(config):
        state = SandboxRecord.load(record_path(config))
        if not any(procs.alive(r) for r in state.processes.values()):
            return False
        state.companions[record.name] = record
        state.save(record_path(config))
    return True


def detach(name: str, config: Config | None = None) -> None:
    """Forget a companion recorded with ``attach`` (it has been stopped by its owner)."""
    config = current_config(config)
    with locked(config):
        state = SandboxRecord.load(record_path(config))
        if state.companions.pop(name, None) is not None:
            state.save(record_path(config))


def logs(name: str, config: Config | None = None, lines: int = 50) -> str:
    """The last lines of one process's log: a sandbox process, or a companion that writes one (the canary, a
    release's extra traffic, a drill's watcher) once it has run."""
    config = current_config(config)
    path = config.paths.log(name)
    companions = sorted({log.stem for log in path.parent.glob("*.log")} - set(PROCESS_NAMES))
    if name not in (*PROCESS_NAMES, *companions):
        raise KitError(f"no process called {name!r}; choose one of {', '.join((*PROCESS_NAMES, *companions))}")
    if not path.exists():
        raise SandboxNotReady(f"no log for {name} yet at {path}; has the sandbox been started with `kit up`?")
    return procs.log_tail(path, lines)


def restart(name: str, *, config: Config | None = None, timeout: float = 60.0,
            progress: Progress = quiet) -> SandboxStatus:
    """Stop one process and start it again (a mitigation: "restart payments"); the rest keeps running."""
    config = current_config(config)
    if name not in PROCESS_NAMES:
        raise InvalidInput("name", f"no process called {name!r}; choose one of {', '.join(PROCESS_NAMES)}")
    with locked(config):
        state = SandboxRecord.load(record_path(config))
        record = state.processes.get(name)
        if record is not None:
            progress(f"stopping {name} (pid {record.pid})")
            procs.stop(record)
    return up(config=config, timeout=timeout, progress=progress)
