"""A cohort on one host: memory per learner, N learners' `kit up` at once, and fault → page as learners add up.

Each learner gets the ports the hub would give them (a ``kit.hub.PortRegistry`` in a temp file, blocks from a
free range) and a state folder of their own, as under JupyterHub. For N = 1, 2, … up to ``--max``:

1. N `kit up` processes start at the same moment, each with one learner's KIT_* variables; the figure is the
   time until the last one returns (every target up, every rule loaded).
2. For N = 1 only: the learner's idle footprint, the resident memory (RSS, MB) summed over the process trees
   of their sandbox and of a Jupyter server like the hub's single-user server (JupyterLab with the sandbox's
   UIs, ``kit.uiproxy``) holding one idle kernel, as a learner with a notebook open has. RSS counts shared
   libraries once per process, so the sum is an upper bound; the proportional share (PSS) is shown beside it,
   and a table gives RSS, USS and PSS per process (the sandbox's, the server's and the kernel's).
3. Every learner's checkout fails at the same moment (the worst case: a facilitator starts one drill for the
   whole cohort); the figure per learner is their pager's ``received_at`` minus the injection. N grows until
   the slowest learner's page takes longer than 5 s (the lab profile's target), or N reaches ``--max``.

Everything stays on loopback and is stopped (`kit down`, the server terminated) before the next N.

Usage: .venv/bin/python benchmarks/cohort.py [--max 4]
"""

from __future__ import annotations

import argparse
import os
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

from kit import pager, polling, procs, sandbox, uiproxy
from kit.config import Config
from kit.hub import PortRange, PortRegistry
from kit.shop import faults

ALERT = "CheckoutErrorRatioHigh"
PAGE_TARGET_S = 5.0
MEMORY_TARGET_MB = 400.0
MB = 1024 * 1024


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


def _server_processes(pid: int) -> list[Resident]:
    """The Jupyter server and its children (the kernel), each named by its role."""
    rows = []
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return rows
    for member in members:
        try:
            command = " ".join(member.cmdline())
        except psutil.NoSuchProcess:
            continue
        name = "Jupyter server" if member.pid == pid else "idle kernel" if "ipykernel" in command else command[:40]
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


def _footprint(config: Config) -> tuple[list[Resident], list[Resident]]:
    """(the sandbox's processes, a Jupyter server's with one idle kernel), for ``config``'s learner."""
    port = procs.free_port()
    home = config.state / "home"  # removed with the learner's state folder
    home.mkdir()
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.port={port}", "--ServerApp.token=bench",
            "--no-browser", f"--ServerApp.root_dir={home}", *uiproxy.ARGUMENTS]
    if os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")
    env = {**os.environ, **config.environment(), "HOME": str(home)}
    with procs.start(argv, log=config.state / "jupyter.log", env=env, cwd=home) as server:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api", headers={"Authorization": "token bench"})

        def answers() -> bool:
            try:
                return api.get("/status").status_code == 200
            except httpx.HTTPError:
                return False

        if not polling.wait_until(answers, 60, 0.2):
            raise RuntimeError(f"JupyterLab did not start:\n{server.tail()}")
        api.post("/kernels", json={"name": "python3"}).raise_for_status()

        def kernel_running() -> bool:
            return any("ipykernel_launcher" in " ".join(child.cmdline())
                       for child in psutil.Process(server.pid).children(recursive=True))

        if not polling.wait_until(kernel_running, 60, 0.2):
            raise RuntimeError("the kernel did not start")
        # Let start-up work (imports, the first scrapes) settle, as it would on an idle learner's host.
        time.sleep(5)
        jupyter = _server_processes(server.pid)
        api.close()
    return _sandbox_processes(config), jupyter


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
    rows, memory = [], None
    for n in range(1, args.max + 1):
        for user in [b.user for b in registry.blocks()]:
            registry.forget(user)
        configs = _learners(n, registry)
        try:
            up = _up_at_once(configs)
            if n == 1:
                memory = _footprint(configs[0])
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
    sandbox_rows, jupyter_rows = memory
    sandbox_mb, jupyter_mb = _total(sandbox_rows, "rss"), _total(jupyter_rows, "rss")
    sandbox_pss, jupyter_pss = _total(sandbox_rows, "pss"), _total(jupyter_rows, "pss")
    body = c.table(["learners", "`kit up` at once (all returned)", "fault → page, median", "fault → page, slowest"],
                   rows)
    body += (f"\n\nPer learner, idle: sandbox {sandbox_mb:.0f} MB + Jupyter server with one idle kernel "
             f"{jupyter_mb:.0f} MB = {sandbox_mb + jupyter_mb:.0f} MB RSS (target ≤ {MEMORY_TARGET_MB:.0f} MB: "
             f"{c.verdict(sandbox_mb + jupyter_mb <= MEMORY_TARGET_MB)}); proportional (PSS): "
             f"{sandbox_pss:.0f} + {jupyter_pss:.0f} = {sandbox_pss + jupyter_pss:.0f} MB.\n"
             f"Learners whose sandboxes this host runs with every page within {PAGE_TARGET_S:.0f} s: "
             f"{max(within) if within else 0} of the {rows[-1][0]} tried (two learners: "
             f"{c.verdict(2 in within)}).\n\n")
    body += c.table(["process (idle, MB)", "RSS", "USS", "PSS"],
                    [[row.name, f"{row.rss:.1f}", f"{row.uss:.1f}", f"{row.pss:.1f}"]
                     for row in [*sandbox_rows, *jupyter_rows]]
                    + [["**total**", *(f"**{_total(sandbox_rows + jupyter_rows, key):.1f}**"
                                       for key in ("rss", "uss", "pss"))]])
    body += ("\n\nThe server here is `jupyter lab` with the sandbox's UIs and every installed server extension, as a hub's learner gets. "
             "On a hub the learner's server is `jupyterhub.singleuser`, which also imports JupyterHub's own "
             "modules (its database layer among them), under `kit hub serve`, which waits beside it to stop the "
             "sandbox; both are resident too and are not in this figure.\n")
    c.write_section("cohort", "A cohort on one host", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
