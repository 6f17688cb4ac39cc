"""Live measurements against the shop's model: the capacity knee, Little's law, coordinated omission.

The tests (tests/load/test_capacity.py, tests/load/test_loadtest.py) check only what holds on any machine: the
simulated slots cap throughput, a latency fault is a floor, Little's law holds. How close the live
figures come to the model depends on how busy the machine is, so that is measured here, each figure
against the model's own value in the same run.

1. Capacity search on /catalog (mean service time 20 ms) with 6 and with 3 worker slots (the capacity
   fault), with the tests' arguments: the knee and the ceiling over the capacity (slots / mean service
   time), the least-served step at or below 0.8x the capacity (throughput / offered), the search's time.
2. Little's law on /products/p01 with a 50 ms latency fault and 64 slots, 200 req/s for 10 s: the arrival
   rate over 200, the mean latency W against 50 ms + the route's 10 ms, the in-flight gauge against the
   sum of lambda*W over every route, and the background traffic's part of that sum.
3. Coordinated omission (``kit.load.coordinated_omission``, a 400 ms stall every 4 s): the open model's
   p99 minus the model's p99, and the closed loop's p99.

Targets: knee and ceiling within 10 % of the capacity; every step up to 0.8x served >= 97 %; a search
<= 60 s; arrival rate within 5 %; W <= 75 ms; |gauge - sum lambda*W| / gauge <= 15 %; the open model's
p99 within 30 ms of the model's; the closed loop's p99 < 100 ms. The injected latency as the open model
measures it is benchmarks/load_generators.py's.

Usage: .venv/bin/python benchmarks/measured_vs_model.py
Exit code: 0 every target met, 1 a target missed, 2 the benchmark broke.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import _common as c

from kit import load, prom, shop
from kit.load import capacity
from kit.shop import faults

ROUTE = "catalog"


def _row(figure: str, measured: str, target: str, ok: bool | None) -> list[str]:
    return [figure, measured, target, "-" if ok is None else c.verdict(ok)]


def knee(config: c.Config, slots: int, **arguments) -> list[list[str]]:
    """One capacity search with ``slots`` worker slots, as tests/load/test_capacity.py runs it."""
    expected = capacity.expected_capacity(slots, shop.SERVICE_TIME_MS[ROUTE])
    faults.set_fault("capacity", slots=slots, config=config)
    try:
        prom.wait_for(f'shop_capacity_slots{{job="shop"}} == {slots}', timeout=15, config=config)
        result = capacity.search(ROUTE, expected=expected, config=config, progress=print, **arguments)
    finally:
        faults.clear_faults(config=config)
    steps = result.steps
    under = steps[steps["offered_rps"] <= 0.8 * expected]
    served = float((under["throughput_rps"] / under["offered_rps"]).min()) if len(under) else math.nan
    name = f"{slots} slots ({expected:.0f} req/s)"
    return [
        _row(f"{name}: knee / capacity", f"{result.knee_rps / expected:.3f}", "0.90-1.10",
             abs(result.knee_rps / expected - 1) <= 0.10),
        _row(f"{name}: ceiling / capacity", f"{result.max_throughput_rps / expected:.3f}", "0.90-1.10",
             abs(result.max_throughput_rps / expected - 1) <= 0.10),
        _row(f"{name}: least served step up to 0.8x", f"{served:.3f}", ">= 0.97", served >= 0.97),
        _row(f"{name}: search time ({len(steps)} steps)", c.fmt_s(result.seconds), "<= 60 s", result.seconds <= 60),
    ]


def littles_law(config: c.Config) -> list[list[str]]:
    """The Little's law test's run, every figure against the model."""
    faults.set_fault("capacity", slots=64, config=config)
    faults.set_fault("latency", ms=50, route="product", config=config)
    try:
        started = time.time()
        load.open_model(200, 10, route="product", config=config)
    finally:
        faults.clear_faults(config=config)
    window_end = started + 9.5
    prom.wait_for(f'timestamp(up{{job="shop"}}) > {window_end}', timeout=30, config=config)
    law = capacity.littles_law(config, route="product", window="7s", at=window_end)
    print(law.summary())
    model_w = 50 + shop.SERVICE_TIME_MS["product"]
    background = law.total_predicted_in_flight - law.predicted_in_flight
    return [
        _row("Little's law: arrival rate / 200 req/s", f"{law.arrival_rps / 200:.3f}", "0.95-1.05",
             abs(law.arrival_rps / 200 - 1) <= 0.05),
        _row(f"Little's law: W (model {model_w:.0f} ms)", f"{1000 * law.mean_latency_s:.1f} ms", "<= 75 ms",
             law.mean_latency_s <= 0.075),
        _row("Little's law: gauge against sum lambda*W, relative difference", f"{law.relative_error:.1%}", "<= 15 %",
             law.relative_error <= 0.15),
        _row("Little's law: gauge, requests in flight", f"{law.measured_in_flight:.2f}", "-", None),
        _row("Little's law: background traffic's lambda*W", f"{background:.2f}", "-", None),
    ]


def coordinated_omission(config: c.Config) -> list[list[str]]:
    demo = load.coordinated_omission(config=config, duration=8, stall_ms=400, stall_every_s=4)
    table = demo.table
    print(table.to_string())
    honest = table.loc["open model", "p99_ms"] - table.loc["expected", "p99_ms"]
    closed = table.loc["closed loop (locust)", "p99_ms"]
    return [
        _row(f"coordinated omission: open model p99 - model p99 ({table.loc['expected', 'p99_ms']:.0f} ms)",
             f"{honest:+.1f} ms", "within 30 ms", abs(honest) <= 30),
        _row("coordinated omission: closed loop p99", f"{closed:.1f} ms", "< 100 ms", closed < 100),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    config = c.sandbox_config("model")
    try:
        with c.sandbox_running(config, progress=print):
            prom.wait_for(f'sum(rate(http_requests_total{{job="shop", route="/{ROUTE}"}}[10s])) > 0', timeout=60,
                          config=config)
            rows = knee(config, 6)
            rows += knee(config, 3, start=0.5, stop=1.5, steps=5, refine=3)
            rows += littles_law(config)
            rows += coordinated_omission(config)
    except Exception as error:  # noqa: BLE001 - a broken benchmark is reported, not a missed target
        print(f"the benchmark broke: {error!r}", file=sys.stderr)
        return 2
    body = (c.table(["figure", "measured", "target", "result"], rows)
            + "\n\nLab profile, one private sandbox with its background traffic; the capacity searches, the "
              "Little's law run and the coordinated-omission demonstration take the arguments of "
              "tests/load/test_capacity.py and tests/load/test_loadtest.py.")
    print(body)
    c.write_section("measured_vs_model", "measured_vs_model: live figures against the shop's model", body)
    return 0 if all(row[-1] != "FAIL" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
