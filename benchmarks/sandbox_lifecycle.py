"""`kit up` from a fresh state against its floor, a bare Prometheus of the same configuration, in one run.

Pairs of runs, interleaved (floor then kit, kit then floor, ...), each pair on its own
fresh ports and state folders:

- **floor**: the same Prometheus binary with the same argv, rendered configuration and
  rules as the kit's, on an empty data folder and nothing else running; the figure is the
  time from spawning it until every configured target has had its first scrape (each
  target's health is no longer "unknown"; the targets are not there, so those scrapes
  fail, which takes no longer than a successful one). The first scrape of any target is
  shown too.
- **kit**: `kit.sandbox.up(config=...)` on a fresh state folder, until it returns (every
  process healthy, every target up, every rule loaded); then `kit.sandbox.down`, checking
  that no recorded pid, no member of their process groups and no process naming the state
  folder is alive, and that every port is free again.

Phases of each kit run, from the start of the call: each process spawned and first
healthy (the `progress` messages), Prometheus ready, its first scrape, each target's first
scrape and first "up" (a side thread polls /api/v1/targets every 20 ms), rules loaded and
`up` returned. Each pair's excess over its floor is split into: Prometheus spawned late
(everything `up` does before spawning it), Prometheus's own first-scrape delay compared
with the floor's, targets that were not up at their first scrape (a process slower to
start than Prometheus's 5 s scrape-manager tick), and the kit's wait after the last target
came up.

Target (issue 10): `kit up` <= 1.1x the floor: the median of the pairs' ratios, and the slowest
`up` against the slowest floor (the tail).

Usage: .venv/bin/python benchmarks/sandbox_lifecycle.py [--pairs 6]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time

import _common as c
import httpx
import psutil

from kit import binaries, procs, sandbox
from kit.promfiles import read_yaml
from kit.sandbox.processes import argv_for

RATIO_TARGET = 1.1
DOWN_TARGET_S = 2.0


class TargetWatch(threading.Thread):
    """Polls one Prometheus: when it was first ready, when each job was first scraped, first up, rules loaded."""

    def __init__(self, url: str, t0: float, rules_expected: int = 0) -> None:
        super().__init__(daemon=True)
        self.url, self.t0, self.rules_expected = url, t0, rules_expected
        self.ready: float | None = None
        self.rules_loaded: float | None = None
        self.first_scrape: dict[str, float] = {}
        self.first_up: dict[str, float] = {}
        self.first_health: dict[str, str] = {}
        self.first_error: dict[str, str] = {}
        self.stop_event = threading.Event()
        self.go = threading.Event()
        """Set once Prometheus is spawned: polling earlier would only take CPU from the `up` it measures."""

    def run(self) -> None:
        while not self.go.wait(0.01):
            if self.stop_event.is_set():
                return
        with httpx.Client(timeout=0.5) as client:
            while not self.stop_event.is_set():
                self._poll(client)
                self.stop_event.wait(0.02)
            self._poll(client)

    def _poll(self, client: httpx.Client) -> None:
        try:
            if self.ready is None:
                if client.get(f"{self.url}/-/ready").status_code != 200:
                    return
                self.ready = time.monotonic() - self.t0
            data = client.get(f"{self.url}/api/v1/targets", params={"state": "active"}).json()
            if self.rules_expected and self.rules_loaded is None:
                groups = client.get(f"{self.url}/api/v1/rules").json()["data"]["groups"]
                if sum(len(g["rules"]) for g in groups) >= self.rules_expected:
                    self.rules_loaded = time.monotonic() - self.t0
        except (httpx.HTTPError, ValueError, KeyError):
            return
        now = time.monotonic() - self.t0
        for t in data.get("data", {}).get("activeTargets", []):
            job, health = t["labels"]["job"], t["health"]
            if health != "unknown" and job not in self.first_scrape:
                self.first_scrape[job] = now
                self.first_health[job] = health
                self.first_error[job] = t.get("lastError", "")
            if health == "up" and job not in self.first_up:
                self.first_up[job] = now

    def everything_scraped(self, jobs: int) -> bool:
        return len(self.first_scrape) >= jobs


def _watching(url: str, t0: float, rules_expected: int = 0) -> TargetWatch:
    watch = TargetWatch(url, t0, rules_expected)
    watch.start()
    return watch


def floor_run(config, tools) -> dict:
    """A bare Prometheus with the kit's argv and rendered configuration, on its own port and empty data."""
    (port,) = c.free_ports(1)
    bare = config.with_(state_dir=str(c.state_dir("floor")), prometheus_port=port)
    sandbox.render(bare, bare.state / "rendered")
    jobs = len(read_yaml(bare.state / "rendered" / "prometheus.yml")["scrape_configs"])
    busy0 = _busy_cpu()
    t0 = time.monotonic()
    watch = _watching(bare.url("prometheus"), t0)
    record = procs.spawn("prometheus", argv_for("prometheus", bare, tools), bare.state / "prometheus.log",
                         port=port)
    watch.go.set()
    try:
        if not procs.wait_until(lambda: watch.everything_scraped(jobs), 30, 0.01):
            raise RuntimeError("bare Prometheus scraped nothing in 30 s: " + procs.log_tail(record.log))
    finally:
        watch.stop_event.set()
        watch.join()
        procs.stop(record)
        c.remove(bare.state)
    return {"ready": watch.ready, "first": min(watch.first_scrape.values()),
            "machine_cores": (_busy_cpu() - busy0) / (time.monotonic() - t0),
            "all": max(watch.first_scrape.values()), "scrapes": dict(watch.first_scrape)}


def _busy_cpu() -> float:
    """CPU-seconds the whole machine has been busy (every process, steal included) since boot."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)


def _recorded(config) -> list[procs.ProcessRecord]:
    data = json.loads((config.state / "sandbox.json").read_text())
    return [procs.ProcessRecord.from_json(r) for r in data["processes"].values()]


def _group_members(pids: list[int]) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) in pids:
                found.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return found


def _still_running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _naming(text: str) -> list[psutil.Process]:
    hits = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.pid != os.getpid() and any(text in a for a in (proc.info["cmdline"] or [])):
                hits.append(proc)
        except psutil.Error:
            continue
    return hits


def kit_run(config) -> dict:
    events: list[tuple[float, str]] = []
    sandbox.render(config, config.state / "probe")  # only to count the rules `up` will wait for
    expected = sandbox.rule_count(config.state / "probe")
    c.remove(config.state / "probe")
    cpu_at_healthy: dict[str, float] = {}

    def progress(message: str) -> None:
        events.append((time.monotonic() - t0, message))
        if message.startswith("starting prometheus"):
            watch.go.set()
        if message.startswith("  ") and message.endswith(" healthy"):
            name = message.split()[0]
            with contextlib.suppress(psutil.Error, KeyError):
                cpu_at_healthy[name] = sum(psutil.Process(sandbox.pids(config)[name]).cpu_times()[:2])

    busy0 = _busy_cpu()
    t0 = time.monotonic()
    watch = _watching(config.url("prometheus"), t0, expected)
    try:
        sandbox.up(config=config, progress=progress)
        t_up = time.monotonic() - t0
    finally:
        watch.stop_event.set()
        watch.join()
    machine = (_busy_cpu() - busy0) / (time.monotonic() - t0)
    started = {m.split()[1]: t for t, m in events if m.startswith("starting ")}
    healthy = {m.split()[0]: t for t, m in events if m.endswith(" healthy") and m.startswith("  ")}

    records = _recorded(config)
    members = _group_members([r.pid for r in records])
    t1 = time.monotonic()
    sandbox.down(config)
    t_down = time.monotonic() - t1
    leftovers = [f"{r.name} (pid {r.pid})" for r in records if procs.alive(r)]
    leftovers += [f"group member pid {p.pid}" for p in members if _still_running(p)]
    leftovers += [f"pid {p.pid} naming the state folder" for p in _naming(str(config.state)) if _still_running(p)]
    busy = [name for name in sandbox.HOST_PORTS
            if procs.port_in_use(config.host, getattr(config, sandbox.HOST_PORTS[name]))]
    return {
        "up": t_up, "down": t_down, "started": started, "healthy": healthy,
        "prom_ready": watch.ready, "rules_loaded": watch.rules_loaded,
        "first_scrape": dict(watch.first_scrape), "first_up": dict(watch.first_up),
        "first_health": dict(watch.first_health), "first_error": dict(watch.first_error),
        "leftovers": sorted(set(leftovers)), "busy_ports": busy,
        "cpu_at_healthy": cpu_at_healthy, "machine_cores": machine,
    }


def excess(kit: dict, floor: dict) -> dict[str, float]:
    """Split ``kit up - floor`` (seconds) into where it went; the parts add up to the whole."""
    spawn = kit["started"]["prometheus"]
    first_kit = min(kit["first_scrape"].values()) - spawn
    all_scraped = max(kit["first_scrape"].values())
    all_up = max(kit["first_up"].values())
    return {
        "Prometheus spawned": spawn,
        "first scrape later than the floor's": first_kit - floor["first"],
        "scrape round spread vs the floor's": (all_scraped - spawn - first_kit) - (floor["all"] - floor["first"]),
        "targets down at their first scrape": all_up - all_scraped,
        "kit's wait after the last target up": kit["up"] - all_up,
    }


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--cores", type=int, default=None,
                        help="run everything on this many cores only (a busier machine, without adding load)")
    args = parser.parse_args(argv)
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[-args.cores:])  # children inherit it

    t = time.monotonic()
    tools = binaries.find_all()
    preflight = time.monotonic() - t

    pairs: list[tuple[dict, dict]] = []
    for n in range(args.pairs):
        config = c.sandbox_config("lifecycle")
        try:
            if n % 2 == 0:
                floor = floor_run(config, tools)
                kit = kit_run(config)
            else:
                kit = kit_run(config)
                floor = floor_run(config, tools)
        finally:
            sandbox.down(config)
            c.remove(config.state)
        pairs.append((kit, floor))
        parts = excess(kit, floor)
        late = {j: kit["first_error"][j][:70] for j, h in kit["first_health"].items() if h != "up"}
        print(f"pair {n + 1}: kit up {kit['up']:.2f} s, floor {floor['all']:.2f} s (first scrape "
              f"{floor['first']:.2f} s), ratio {kit['up'] / floor['all']:.3f}; machine busy {floor['machine_cores']:.2f} / {kit['machine_cores']:.2f} cores; down {kit['down']:.2f} s; "
              f"left running: {kit['leftovers'] or 'nothing'}", flush=True)
        print("   CPU-s until healthy: " + ", ".join(f"{k} {v:.2f}" for k, v in kit["cpu_at_healthy"].items())
              + "; healthy at: " + ", ".join(f"{k} {v:.2f}" for k, v in kit["healthy"].items()), flush=True)
        print("   excess: " + ", ".join(f"{k} {v:+.2f}" for k, v in parts.items())
              + (f"; down at first scrape: {late}" if late else ""), flush=True)

    ratios = [k["up"] / f["all"] for k, f in pairs]
    ratios_first = [k["up"] / f["first"] for k, f in pairs]
    # The tail compares tails: the slowest `up` with the slowest floor. Which second-phase Prometheus's
    # reload lands on spreads single runs by up to ~1 s on both sides, so one pair's ratio is mostly that.
    med, worst = c.median(ratios), max(k["up"] for k, _ in pairs) / max(f["all"] for _, f in pairs)
    down_med = c.median([k["down"] for k, _ in pairs])
    clean = all(not k["leftovers"] and not k["busy_ports"] for k, _ in pairs)
    ok_med, ok_tail = med <= RATIO_TARGET, worst <= RATIO_TARGET
    ok = ok_med and ok_tail and clean and down_med <= DOWN_TARGET_S
    slowest = max(range(len(pairs)), key=lambda i: ratios[i])

    summary = c.table(["figure", "measured", "target", "result"], [
        ["`kit up` / floor, median of %d pairs" % len(pairs), f"{med:.3f}× ({c.median([k['up'] for k, _ in pairs]):.2f} s"
         f" / {c.median([f['all'] for _, f in pairs]):.2f} s)", f"≤ {RATIO_TARGET}×", c.verdict(ok_med)],
        ["slowest `kit up` / slowest floor", f"{worst:.3f}× ({max(k['up'] for k, _ in pairs):.2f} s"
         f" / {max(f['all'] for _, f in pairs):.2f} s)", f"≤ {RATIO_TARGET}×", c.verdict(ok_tail)],
        ["`kit up` / floor, the pair with the highest ratio", f"{ratios[slowest]:.3f}× (pair {slowest + 1})", "-", "-"],
        ["`kit up` / the floor's first scrape of any target (median)", f"{c.median(ratios_first):.3f}×", "-", "-"],
        ["`kit down` (median)", c.fmt_s(down_med), f"≤ {DOWN_TARGET_S:g} s", c.verdict(down_med <= DOWN_TARGET_S)],
        ["processes left after down (pids, group members, cmdline, ports)",
         "none" if clean else "; ".join(sorted({x for k, _ in pairs for x in k["leftovers"] + k["busy_ports"]})),
         "none", c.verdict(clean)],
    ])
    cols = [f"pair {i + 1}{' (kit first)' if i % 2 else ''}" for i in range(len(pairs))]
    rows = [["**floor**: bare Prometheus, first scrape of any target", *(_f(f["first"]) for _, f in pairs)],
            ["**floor**: every target scraped once", *(f"**{f['all']:.2f}**" for _, f in pairs)]]
    names = sandbox.PROCESS_NAMES
    rows += [[f"kit: {n} spawned", *(_f(k["started"].get(n)) for k, _ in pairs)] for n in names]
    rows += [[f"kit: {n} healthy", *(_f(k["healthy"].get(n)) for k, _ in pairs)] for n in names]
    rows += [[f"kit: {n} CPU-seconds used until healthy", *(_f(k["cpu_at_healthy"].get(n)) for k, _ in pairs)]
             for n in names if n != "prometheus"]
    rows += [["kit: Prometheus ready", *(_f(k["prom_ready"]) for k, _ in pairs)],
             ["kit: every rule loaded", *(_f(k["rules_loaded"]) for k, _ in pairs)],
             ["kit: first scrape of any target", *(_f(min(k["first_scrape"].values())) for k, _ in pairs)]]
    jobs = sorted({j for k, _ in pairs for j in k["first_up"]})
    rows += [[f"kit: target `{j}` up", *(_f(k["first_up"].get(j)) + ("" if k["first_health"].get(j) == "up" else " (down at 1st scrape)")
                                        for k, _ in pairs)] for j in jobs]
    rows += [["**kit: `up` returned**", *(f"**{k['up']:.2f}**" for k, _ in pairs)],
             ["ratio kit / floor", *(f"{r:.3f}" for r in ratios)],
             ["machine busy during the floor run (cores)", *(f"{f['machine_cores']:.2f}" for _, f in pairs)],
             ["machine busy during `up` (cores, the kit's own included)", *(f"{k['machine_cores']:.2f}" for k, _ in pairs)],
             ["kit: `down` took", *(f"{k['down']:.2f}" for k, _ in pairs)]]
    detail = c.table(["seconds from spawn (floor) or from the `up` call (kit)", *cols], rows)
    split_names = list(excess(*pairs[0]).keys())
    split = c.table(["kit − floor, seconds", *cols, "median"],
                    [[name, *(f"{excess(k, f)[name]:+.2f}" for k, f in pairs),
                      f"{c.median([excess(k, f)[name] for k, f in pairs]):+.2f}"] for name in split_names]
                    + [["**total**", *(f"**{k['up'] - f['all']:+.2f}**" for k, f in pairs),
                        f"**{c.median([k['up'] - f['all'] for k, f in pairs]):+.2f}**"]])
    body = f"""{summary}

Each pair: a fresh state folder and fresh ports; the floor is the kit's own Prometheus argv and
rendered configuration (same binary, flags, targets and rules, its own listening port, an empty
data folder) with nothing else running; order alternates within pairs. Lab profile, background
traffic on. `binaries.find_all()` (part of every `up`) took {preflight:.2f} s once before the pairs.

{detail}

Where each pair's excess over its floor went (these add up to the total):

{split}

{LIFECYCLE_NOTE}
"""
    c.write_section("sandbox_lifecycle", "sandbox_lifecycle: `kit up` against a bare Prometheus, `kit down`", body)
    return 0 if ok else 1


LIFECYCLE_NOTE = """\
Prometheus 2.42 applies its first target set only when its scrape manager's 5 s reload
ticker fires (started once its TSDB is open and its configuration loaded), then scrapes each
target at a fixed, hashed phase within the 1 s interval: the floor is ~5.1 s plus the spread
of those phases (up to 1 s), and the pairs differ mostly by that spread. The floor waits on
timers and uses almost no CPU; everything `up` must do before Prometheus is spawned is CPU
work, which a busy machine stretches and which moves Prometheus's whole tick later, one for
one. That was the tail (measured 2026-11-30 before the fix): with version probes of four Go
binaries, pure-Python YAML rendering and four other spawns ahead of Prometheus, it was
spawned 0.15-0.25 s after `up` was called on a quiet machine and 0.46-1.21 s on one fully
busy core (ratios 1.10-1.21 there). `up` now spawns Prometheus first, probes the tools'
versions in parallel while it boots, and renders with libyaml. The next tail, not seen in
these runs: the shop and payments each spend ~0.5 CPU-seconds importing FastAPI before they
listen, and a target not listening at its first scrape is retried only one scrape interval
later (1 s here, 15 s in the realistic profile). `--cores 1` runs the whole benchmark on one
core, to see a busier machine without adding load."""



if __name__ == "__main__":
    sys.exit(main())
