"""Shared helpers of the benchmarks: isolated sandbox configs, timing, and RESULTS.md sections.

Every benchmark gets its own state folder under ``benchmarks/.work/`` (git-ignored)
and fresh free ports, so it never touches a sandbox a person runs on the
default ports, and it removes the folder when it is done.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import platform
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kit import procs  # noqa: E402
from kit.config import Config  # noqa: E402

RESULTS = HERE / "RESULTS.md"
WORK = HERE / ".work"
HOST = "127.0.0.1"
DEFAULT_PORTS = {18080, 18081, 18082, 18083, 18084, 18085, 19090, 19093}

RESULTS_HEADER = """# Benchmark results

Written by the scripts in this folder (`.venv/bin/python benchmarks/run_all.py`);
each script replaces only its own section. See README.md for what each one measures.
"""


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports, never one of the sandbox defaults."""
    ports = procs.free_ports(n + len(DEFAULT_PORTS), HOST)
    return [port for port in ports if port not in DEFAULT_PORTS][:n]


def state_dir(name: str) -> Path:
    """A fresh, empty state folder for one benchmark run."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{name}-{os.getpid()}-{int(time.time() * 1000) % 10**8}"
    path.mkdir()
    return path


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def sandbox_config(name: str, profile: str = "lab", **overrides) -> Config:
    """A lab/realistic Config on fresh free ports and a fresh state folder, ignoring KIT_* variables."""
    shop, payments, pager, prom, am, stable, canary, proxy = free_ports(8)
    return Config.from_env(
        {}, profile=profile, state_dir=str(state_dir(name)), host=HOST,
        shop_port=shop, payments_port=payments, pager_port=pager,
        prometheus_port=prom, alertmanager_port=am, shop_stable_port=stable,
        shop_canary_port=canary, proxy_port=proxy, **overrides,
    )


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def machine_line() -> str:
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{_dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; "
            f"{cores} cores ({usable} usable); load average at end {load}; "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the section ``key`` of RESULTS.md, leaving the other benchmarks' sections alone."""
    begin, end = f"<!-- BEGIN {key} -->", f"<!-- END {key} -->"
    section = f"{begin}\n## {title}\n\n_Measured {machine_line()}._\n\n{body.strip()}\n{end}"
    RESULTS.touch()
    with open(RESULTS, "r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        text = fh.read() or RESULTS_HEADER
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: section, text)
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        text = re.sub(r"-->\n+<!-- BEGIN", "-->\n\n<!-- BEGIN", text)  # one blank line between sections
        fh.seek(0)
        fh.truncate()
        fh.write(text)
    print(f"wrote section '{title}' to {RESULTS}")


@contextlib.contextmanager
def sandbox_running(config: Config, progress=lambda _m: None, timeout: float = 60.0):
    """``kit up`` on ``config``; ``kit down`` and the state folder removed afterwards, whatever happens."""
    from kit import sandbox

    try:
        yield sandbox.up(config=config, timeout=timeout, progress=progress)
    finally:
        with contextlib.suppress(Exception):
            sandbox.down(config)
        remove(config.state)


def cores() -> tuple[int | None, int | None]:
    """(core for the load generator, core for the servers), or (None, None) without taskset or a second core."""
    usable = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(usable) < 2:
        return None, None
    return usable[0], usable[1]


def pin(core: int | None) -> list[str]:
    """argv prefix that pins a command to one core (nothing when pinning is impossible)."""
    return [] if core is None else ["taskset", "-c", str(core)]


def wait_healthy(url: str, timeout: float = 20.0) -> bool:
    """Poll ``url`` until it answers 200."""
    import httpx

    def ok() -> bool:
        try:
            return httpx.get(url, timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    return procs.wait_until(ok, timeout, 0.1)
