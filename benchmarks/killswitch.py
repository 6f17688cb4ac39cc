"""Kill switch: time from writing the flag file to the last request served with the flag on, on real requests.

Starts a private lab-profile sandbox, turns ``recommendations`` on for every user, and sends catalog requests
through HAProxy from --clients threads, each naming a user key, while `kit.releases.flags.change_flag` kills the
flag. Each answer says in its ``X-Feature-Flags`` header whether it was served with the flag; the time to zero
exposure is from just before the kill was written to the arrival of the last answer served with the flag on
(an upper bound: the flag was evaluated when the request arrived, up to a service time earlier). Repeated
--repeats times (the flag turned on again in between); reports the median and the maximum.

Also measured, for the cost of the flags themselves: the stable shop's resident memory, the memory the flag
stack (OpenFeature SDK + flagd's evaluator core) adds to a process that already has the shop's other imports,
and flagd's own provider for comparison when it is installed; the CPU one poll of the file takes, and one
evaluation.

Target: kill switch to zero exposure <= 2 s.

Usage: .venv/bin/python benchmarks/killswitch.py [--repeats 10] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time

import _common as c
import psutil

from kit import localhttp, procs
from kit.releases import flags
from kit.shop.model import FLAGS_HEADER, USER_HEADER, user_key

TARGET_S = 2.0
FLAG = "recommendations"
AFTER_S = 1.0
"""How long requests keep going after the last answer with the flag on was expected, to see none comes later."""

_IMPORT_COST = """
import importlib, json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
for name in ("fastapi", "uvicorn", "prometheus_client", "httpx", "pydantic", "yaml"):
    importlib.import_module(name)
base = rss()
try:
    for name in sys.argv[1:]:
        importlib.import_module(name)
except ImportError:
    print(json.dumps(None))
else:
    print(json.dumps(rss() - base))
"""


def import_cost(*modules: str) -> float | None:
    """MB of resident memory importing ``modules`` adds to a process that has the shop's other libraries."""
    out = subprocess.run([sys.executable, "-c", _IMPORT_COST, *modules], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def shop_rss_mb(config) -> float:
    record = procs.ProcessRecord.from_json(json.loads(config.paths.sandbox_record.read_text())["processes"]["shop"])
    return psutil.Process(record.pid).memory_info().rss / 2**20


def one_kill(config, clients: int) -> tuple[float, int]:
    """Seconds from the kill's write to the last answer with the flag on, and how many answers came after it."""
    flags.change_flag(FLAG, percent=100, actor="benchmark", config=config)
    answers: list[tuple[float, bool]] = []
    lock, stop = threading.Lock(), threading.Event()

    def drive(worker: int) -> None:
        client, n = localhttp.client(), worker
        while not stop.is_set():
            response = client.get(config.url("shop") + "/catalog", headers={USER_HEADER: user_key(n)}, timeout=5.0)
            on = f"{FLAG}=on" in response.headers.get(FLAGS_HEADER, "").split(",")
            with lock:
                answers.append((time.time(), on))
            n += clients

    threads = [threading.Thread(target=drive, args=(w,)) for w in range(clients)]
    for thread in threads:
        thread.start()
    try:
        procs.wait_until(lambda: sum(on for _, on in answers) >= 20, timeout=10)  # the flag is being served
        written = time.time()
        flags.change_flag(FLAG, killed=True, actor="benchmark", reason="kill switch benchmark", config=config)
        time.sleep(AFTER_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    exposed = [at for at, on in answers if on and at >= written]
    after = [at for at, _ in answers if at >= written]
    return (max(exposed) - written if exposed else 0.0), len(after)


def poll_and_evaluation_cost(config) -> tuple[float, float]:
    """CPU µs of one look at the flag file (nothing changed), and of one evaluation through the OpenFeature API."""
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext

    from kit.flags.provider import FlagFileProvider
    from kit.shop.faults import FLAGS

    provider = FlagFileProvider(config.paths.flags, tuple(FLAGS), poll_s=3600)
    api.set_provider_and_wait(provider, "benchmark")
    client = api.get_client("benchmark")
    try:
        start, n = time.thread_time(), 20_000
        for _ in range(n):
            provider.check()
        poll = (time.thread_time() - start) / n * 1e6
        start = time.thread_time()
        for i in range(n):
            client.get_boolean_details(FLAG, False, EvaluationContext(user_key(i)))
        evaluation = (time.thread_time() - start) / n * 1e6
    finally:
        provider.shutdown()
    return poll, evaluation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="kills to time")
    parser.add_argument("--clients", type=int, default=4, help="threads sending requests while the flag is killed")
    args = parser.parse_args(argv)

    config = c.sandbox_config("killswitch", "lab")
    with c.sandbox_running(config):
        rss = shop_rss_mb(config)
        times, counts = [], []
        for repeat in range(args.repeats):
            seconds, after = one_kill(config, args.clients)
            times.append(seconds)
            counts.append(after)
            print(f"kill {repeat + 1}: last answer with the flag on {seconds:.3f} s after the write "
                  f"({after} answers after the write)")
        poll_us, evaluation_us = poll_and_evaluation_cost(config)
        rss_after = shop_rss_mb(config)
    stack = import_cost("openfeature.api", "openfeature.contrib.tools.flagd.core")
    provider = import_cost("openfeature.api", "openfeature.contrib.provider.flagd")
    from kit.flags.provider import POLL_S

    median, worst = c.median(times), max(times)
    ok = worst <= TARGET_S
    print(f"time to zero exposure: median {median:.3f} s, max {worst:.3f} s (target <= {TARGET_S:g} s: "
          f"{c.verdict(ok)}); shop RSS {rss:.1f} MB; flag stack +{stack:.1f} MB; poll {poll_us:.1f} µs")
    summary = c.table(["figure", "measured", "target", "result"], [
        [f"kill switch to zero exposure, median of {len(times)}", f"{median:.2f} s", "-", "-"],
        [f"kill switch to zero exposure, max of {len(times)}", f"{worst:.2f} s", f"≤ {TARGET_S:g} s", c.verdict(ok)],
        ["stable shop RSS (with its flag file provider)", f"{rss:.1f} MB (after the kills: {rss_after:.1f} MB)",
         "-", "-"],
        ["RSS the flag stack adds (OpenFeature SDK + flagd core)", f"+{stack:.1f} MB", "-", "-"],
        ["RSS flagd's own provider would add (imports gRPC, protobuf)",
         "not installed" if provider is None else f"+{provider:.1f} MB", "-", "-"],
        [f"CPU of one look at the file (every {POLL_S:g} s)",
         f"{poll_us:.1f} µs = {poll_us / POLL_S / 1e4:.4f} % of a core", "-", "-"],
        ["CPU of one flag evaluation (OpenFeature API, flagd core)", f"{evaluation_us:.0f} µs", "-", "-"],
    ])
    body = f"""{summary}

Lab profile, background traffic {config.traffic_rps:g} req/s, {args.clients} threads sending catalog requests through
HAProxy with user keys while `kit.releases.flags.change_flag` kills `{FLAG}` (on for every user before). The time
runs from just before the kill is written to the arrival of the last answer whose `{FLAGS_HEADER}` says the flag was
on; answers after the write per kill: {min(counts)} to {max(counts)}. The shop looks at the file every {POLL_S:g} s
(stat: inode, size, mtime), so a kill reaches every request within about that plus one request's time.
Per kill (s): {", ".join(f"{t:.3f}" for t in times)}.
"""
    c.write_section("killswitch", "killswitch: a flag killed to zero exposure", body)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
