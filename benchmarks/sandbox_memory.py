"""Resident memory of every sandbox process, and the total, after the sandbox has run with background traffic.

Starts a private lab-profile sandbox (free ports, own state folder, the default 8 req/s
background traffic), samples each process (and any children) right after `kit up`
returns and again after --seconds (default 20), then stops everything. Reports RSS,
and USS/PSS where psutil can read them (Linux, same user or root). RSS counts shared
library pages once per process, so the RSS total overstates what the sandbox really
costs; PSS splits shared pages fairly and USS is what stopping a process would free.

Target: RSS total <= 400 MB.

Usage: .venv/bin/python benchmarks/sandbox_memory.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import _common as c
import psutil

from kit import procs, sandbox

TARGET_MB = 400.0
MB = 1024 * 1024


def _sample(config) -> dict[str, dict[str, float]]:
    data = json.loads((config.state / "sandbox.json").read_text())
    out: dict[str, dict[str, float]] = {}
    for name, raw in data["processes"].items():
        record = procs.ProcessRecord.from_json(raw)
        if not procs.alive(record):
            out[name] = {"rss": float("nan"), "uss": float("nan"), "pss": float("nan"), "procs": 0}
            continue
        root = psutil.Process(record.pid)
        members = [root, *root.children(recursive=True)]
        totals = {"rss": 0.0, "uss": 0.0, "pss": 0.0, "procs": len(members)}
        for proc in members:
            try:
                full = proc.memory_full_info()
                totals["rss"] += full.rss / MB
                totals["uss"] += getattr(full, "uss", float("nan")) / MB
                totals["pss"] += getattr(full, "pss", float("nan")) / MB
            except psutil.AccessDenied:
                info = proc.memory_info()
                totals["rss"] += info.rss / MB
                totals["uss"] = totals["pss"] = float("nan")
            except psutil.NoSuchProcess:
                continue
        out[name] = totals
    return out


def _total(sample: dict[str, dict[str, float]], key: str) -> float:
    return sum(v[key] for v in sample.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the sandbox runs before the sample")
    args = parser.parse_args(argv)

    config = c.sandbox_config("memory", "lab")
    with c.sandbox_running(config):
        first = _sample(config)
        time.sleep(args.seconds)
        last = _sample(config)

    total_rss, total_uss, total_pss = _total(last, "rss"), _total(last, "uss"), _total(last, "pss")
    ok = total_rss <= TARGET_MB
    rows = []
    for name in sandbox.PROCESS_NAMES:
        if name not in last:
            continue
        a, b = first[name], last[name]
        rows.append([name, f"{b['rss']:.1f}", f"{b['uss']:.1f}", f"{b['pss']:.1f}", f"{a['rss']:.1f}",
                     f"{b['rss'] - a['rss']:+.1f}"])
        print(f"{name:<13} RSS {b['rss']:6.1f} MB  USS {b['uss']:6.1f} MB  PSS {b['pss']:6.1f} MB  "
              f"(RSS right after up {a['rss']:.1f} MB)")
    rows.append(["**total**", f"**{total_rss:.1f}**", f"**{total_uss:.1f}**", f"**{total_pss:.1f}**",
                 f"{_total(first, 'rss'):.1f}", f"{total_rss - _total(first, 'rss'):+.1f}"])
    print(f"total         RSS {total_rss:6.1f} MB  USS {total_uss:6.1f} MB  PSS {total_pss:6.1f} MB  "
          f"(target RSS <= {TARGET_MB:.0f} MB: {c.verdict(ok)})")

    summary = c.table(["figure", "measured", "target", "result"], [
        [f"RSS of all sandbox processes after {args.seconds:.0f} s", f"{total_rss:.0f} MB", f"≤ {TARGET_MB:.0f} MB",
         c.verdict(ok)],
        ["USS total (memory freed by `kit down`)", f"{total_uss:.0f} MB", "-", "-"],
        ["PSS total (shared pages split fairly)", f"{total_pss:.0f} MB", "-", "-"],
    ])
    detail = c.table([f"process (MB, after {args.seconds:.0f} s)", "RSS", "USS", "PSS", "RSS right after up",
                      "RSS growth"], rows)
    body = f"""{summary}

Lab profile, background traffic {config.traffic_rps:g} req/s, Prometheus scraping every 1 s; each
process counted with its children (psutil `memory_full_info`).

{detail}
"""
    c.write_section("sandbox_memory", "sandbox_memory: resident memory of the sandbox", body)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
