"""A cohort on one host: memory per learner, N learners' `kit up` at once, and fault → page as learners add up.

Each learner gets the ports the hub would give them (a ``kit.hub.PortRegistry`` in a temp file, blocks from a
free range) and a state folder of their own, as under JupyterHub. For N = 1, 2, … up to ``--max``:

1. N `kit up` processes start at the same moment, each with one learner's KIT_* variables; the figure is the
   time until the last one returns (every target up, every rule loaded).
2. Before that, alone on the host: one learner's idle footprint on a real JupyterHub (hub/jupyterhub_config.py,
   as the cohort test runs it): the resident memory of everything the learner's spawn runs: JupyterHub's
   single-user server with the sandbox's UIs (`kit hub serve` becomes it), one idle kernel (a notebook open) and
   the sandbox it starts.
   RSS counts a library shared by several processes once per process, so its sum overstates; PSS (each shared
   page split among the processes mapping it) adds up to what the learner's processes occupy, and is the
   figure held against the target; a table gives RSS, USS and PSS per process.
3. Every learner's checkout fails at the same moment (the worst case: a facilitator starts one drill for the
   whole cohort); the figure per learner is their pager's ``received_at`` minus the injection. N grows until
   the slowest learner's page takes longer than 5 s (the lab profile's target), or N reaches ``--max``.

Everything stays on loopback and is stopped (`kit down`, the server terminated) before the next N.

Usage: .venv/bin/python benchmarks/cohort.py [--max 4]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import _common as c
import httpx
import psutil

from kit import pager, polling, procs, sandbox
from kit.config import REPO_ROOT, Config
from kit.hub import PortRange, PortRegistry
from kit.shop import faults

ALERT = "CheckoutErrorRatioHigh"
PAGE_TARGET_S = 5.0
MEMORY_TARGET_MB = 400.0
MB = 1024 * 1024
LEARNER = "learner1"


def _learners(n: int, registry: PortRegistry) -> list[Config]:
    configs = []
    for i in range(n):
        block = registry.assign(f"learner{i + 1}")
        configs.append(Config.from_env(block.environment(), state_dir=str(c.state_dir(f"cohort-{i + 1}"))))
    return configs


def _up_at_once(configs: list[Config]) -> float:
    """Seconds from starting N `kit up` processes together to the last one returning; each must succeed."""
    began = time.monotonic()
    runs = [subprocess.Popen([sys.executable, "-m", "kit.cli", "up"], env={**os.environ, **config.environment()},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=c.REPO)
            for config in configs]
    outputs = [run.communicate()[0] for run in runs]
    took = time.monotonic() - began
    for run, output in zip(runs, outputs):
        if run.returncode != 0:
            raise RuntimeError(f"`kit up` failed:\n{output}")
    return took


@dataclass(frozen=True)
class Resident:
    """One process's memory in MB: RSS, USS (what stopping it frees) and PSS (shared pages split among their
    users, so the share of the host one more learner costs). RSS counts every shared page again in every
    process, so a sum of RSS is an upper bound."""

    name: str
    rss: float
    uss: float
    pss: float


def _resident(name: str, process: psutil.Process) -> Resident | None:
    try:
        full = process.memory_full_info()
    except psutil.NoSuchProcess:
        return None
    return Resident(name, full.rss / MB, full.uss / MB, full.pss / MB)


def _server_processes(root: psutil.Process, skip: set[int]) -> list[Resident]:
    """The learner's server processes: the single-user server, the kernel, each named by its role; the
    sandbox's processes (``skip``, with their children) are counted by ``_sandbox_processes``."""
    rows = []
    members = [root]
    while members:
        member = members.pop()
        if member.pid in skip:
            continue
        try:
            command = " ".join(member.cmdline())
            members += member.children()
        except psutil.NoSuchProcess:
            continue
        name = ("single-user server" if "singleuser" in command else "idle kernel" if "ipykernel" in command
                else command[:40])
        rows.append(_resident(name, member))
    return [row for row in rows if row is not None]


def _sandbox_processes(config: Config) -> list[Resident]:
    """Each sandbox process with its children, summed, named as `kit status` names it."""
    rows = []
    for name, pid in sandbox.pids(config).items():
        try:
            root = psutil.Process(pid)
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        parts = [part for part in (_resident(name, member) for member in members) if part is not None]
        rows.append(Resident(name, *(sum(getattr(part, key) for part in parts) for key in ("rss", "uss", "pss"))))
    return rows


def _total(rows: list[Resident], key: str) -> float:
    return sum(getattr(row, key) for row in rows)


def _hub_config(folder: Path, ports: list[int], token: str) -> Path:
    """A config that loads hub/jupyterhub_config.py as it is, on free ports, with the two changes the cohort test
    makes (a password instead of system logins, every server as this user) and a service token that may reach
    the learner's server, to start a kernel there as the learner's notebook would."""
    port, hub_port, api_port = ports
    path = folder / "jupyterhub_config.py"
    path.write_text(f"""
load_subconfig({str(REPO_ROOT / "hub" / "jupyterhub_config.py")!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
c.Authenticator.allowed_users = {{{LEARNER!r}}}
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = {str(folder / "home" / "{username}")!r}
c.JupyterHub.services = [{{"name": "bench", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "bench", "scopes": ["admin:users", "admin:servers", "access:servers"],
                            "services": ["bench"]}}]
""")
    return path


def _footprint() -> tuple[list[Resident], list[Resident]]:
    """(the sandbox's processes, the learner's server processes), idle, for one learner of a real JupyterHub.

    The hub runs hub/jupyterhub_config.py (without the firewall), spawns the learner's server as the hub does:
    `kit hub serve`, which becomes JupyterHub's single-user server with the sandbox's UIs and starts the learner's
    sandbox; a kernel is started through the hub's proxy, as opening a notebook does."""
    folder = Path(tempfile.mkdtemp(prefix="kit-cohort-hub-"))
    token = secrets.token_hex(16)
    ports = c.free_ports(3)
    config_file = _hub_config(folder, ports, token)
    (folder / "exchange").mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIT_")}
    env.update(KIT_HUB_STATE=str(folder / "state"), KIT_HUB_EXCHANGE=str(folder / "exchange"), KIT_HUB_FIREWALL="",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    url = f"http://127.0.0.1:{ports[0]}"
    api = httpx.Client(base_url=url, headers={"Authorization": f"token {token}"}, timeout=30)
    hub = procs.start([sys.executable, "-m", "jupyterhub", "-f", str(config_file)], log=folder / "hub.log", env=env,
                      cwd=folder)
    learner = None
    try:
        def answers() -> bool:
            try:
                return api.get("/hub/api/").status_code == 200
            except httpx.HTTPError:
                return False

        if not polling.wait_until(answers, 60, 0.2):
            raise RuntimeError(f"JupyterHub did not start:\n{hub.tail()}")
        api.post(f"/hub/api/users/{LEARNER}/server").raise_for_status()
        ready = lambda: (api.get(f"/hub/api/users/{LEARNER}").json()["servers"].get("") or {}).get("ready")  # noqa: E731
        if not polling.wait_until(ready, 90, 0.2):
            raise RuntimeError(f"the learner's server did not start:\n{hub.tail()}")
        block = PortRegistry(folder / "state" / "kit-ports.json").assign(LEARNER)
        state = folder / "home" / LEARNER / ".local" / "state" / "reliability-dojo"
        learner = Config.from_env(block.environment(), state_dir=str(state))
        if not polling.wait_until(lambda: sandbox.status(learner).state == "healthy", 60, 0.2):
            raise RuntimeError(f"the learner's sandbox did not come up: {sandbox.status(learner).problems()}")
        api.post(f"/user/{LEARNER}/api/kernels", json={"name": "python3"}).raise_for_status()
        servers = [p for p in psutil.Process(hub.pid).children() if "node" not in p.name()]

        def kernel_running() -> bool:
            return any("ipykernel_launcher" in " ".join(child.cmdline())
                       for server in servers for child in server.children(recursive=True))

        if not polling.wait_until(kernel_running, 60, 0.2):
            raise RuntimeError("the kernel did not start")
        # Let start-up work (imports, the first scrapes) settle, as it would on an idle learner's host.
        time.sleep(5)
        sandboxed = set(sandbox.pids(learner).values())
        return _sandbox_processes(learner), [row for server in servers for row in _server_processes(server, sandboxed)]
    finally:
        api.close()
        hub.popen.send_signal(signal.SIGTERM)  # the hub stops the learner's server, which stops the sandbox
        if hub.wait(30) is None:
            hub.stop()
        if learner is not None:
            sandbox.down(learner)
        procs.stop_naming(folder)
        c.remove(folder)


def _warm(config: Config) -> None:
    expr = 'sum(count_over_time(http_requests_total{job="shop",route="/checkout",code="200"}[4s]))'
    url = f"{config.url('prometheus')}/api/v1/query"

    def ready() -> bool:
        result = httpx.get(url, params={"query": expr}, timeout=2).json()["data"]["result"]
        return bool(result) and float(result[0]["value"][1]) >= 2

    if not polling.wait_until(ready, 60, 0.25):
        raise RuntimeError("no checkout traffic reached Prometheus")


def _pages_at_once(configs: list[Config]) -> list[float]:
    """Inject the checkout fault into every learner's shop at once; seconds to each learner's page."""
    pages: list[float] = [float("nan")] * len(configs)
    t0 = time.time()

    def one(i: int, config: Config) -> None:
        faults.set_fault("errors", ratio=1.0, route="checkout", config=config)
        try:
            rows = pager.wait_for_page(ALERT, since=t0, timeout=60, config=config)
        except Exception as exc:  # no page within a minute: counted as never, and said why
            print(f"learner {i + 1}: no page ({exc})", flush=True)
            pages[i] = float("inf")
        else:
            pages[i] = rows["received_at"].min().timestamp() - t0

    threads = [threading.Thread(target=one, args=(i, config)) for i, config in enumerate(configs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=4, help="the most learners to run at once (default 4)")
    args = parser.parse_args()
    registry_folder = Path(tempfile.mkdtemp(prefix="kit-cohort-ports-"))
    first = c.free_ports(1)[0] // 10 * 10
    registry = PortRegistry(registry_folder / "ports.json", PortRange(first=max(first, 20000), last=32767))
    rows = []
    memory = _footprint()
    for n in range(1, args.max + 1):
        for user in [b.user for b in registry.blocks()]:
            registry.forget(user)
        configs = _learners(n, registry)
        try:
            up = _up_at_once(configs)
            for config in configs:
                _warm(config)
            pages = _pages_at_once(configs)
        finally:
            for config in configs:
                sandbox.down(config)
                c.remove(config.state)
        rows.append([n, c.fmt_s(up), c.fmt_s(c.median(pages)), c.fmt_s(max(pages))])
        print(f"{n} learners: kit up at once {up:.1f} s; fault → page median {c.median(pages):.2f} s, "
              f"slowest {max(pages):.2f} s", flush=True)
        if max(pages) > PAGE_TARGET_S:
            break
    c.remove(registry_folder)
    within = [row[0] for row in rows if float(row[3].split()[0]) <= PAGE_TARGET_S]
    sandbox_rows, server_rows = memory
    sandbox_pss, server_pss = _total(sandbox_rows, "pss"), _total(server_rows, "pss")
    rss = _total(sandbox_rows + server_rows, "rss")
    body = c.table(["learners", "`kit up` at once (all returned)", "fault → page, median", "fault → page, slowest"],
                   rows)
    body += (f"\n\nPer learner, idle, on a real JupyterHub: sandbox {sandbox_pss:.0f} MB + the learner's server with "
             f"one idle kernel {server_pss:.0f} MB = {sandbox_pss + server_pss:.0f} MB resident, proportional (PSS) "
             f"(target ≤ {MEMORY_TARGET_MB:.0f} MB: {c.verdict(sandbox_pss + server_pss <= MEMORY_TARGET_MB)}); "
             f"RSS summed per process, shared libraries counted in every process: {rss:.0f} MB.\n"
             f"Learners whose sandboxes this host runs with every page within {PAGE_TARGET_S:.0f} s: "
             f"{max(within) if within else 0} of the {rows[-1][0]} tried (two learners: "
             f"{c.verdict(2 in within)}).\n\n")
    body += c.table(["process (idle, MB)", "RSS", "USS", "PSS"],
                    [[row.name, f"{row.rss:.1f}", f"{row.uss:.1f}", f"{row.pss:.1f}"]
                     for row in [*sandbox_rows, *server_rows]]
                    + [["**total**", *(f"**{_total(sandbox_rows + server_rows, key):.1f}**"
                                       for key in ("rss", "uss", "pss"))]])
    body += ("\n\nThe learner's server is spawned by the hub as on a real host, through `kit hub serve`, with the two "
             "changes the cohort test makes (a password login, and the server running as this user rather than "
             "the learner's); the figures are measured before the cohort runs, with nothing else started.\n")
    c.write_section("cohort", "A cohort on one host", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
