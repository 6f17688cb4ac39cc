"""`kit load`: load-test the shop, closed model (locust) or open (a constant arrival rate), and find its knee."""

from __future__ import annotations

import argparse

from ..shop.faults import ROUTES
from . import command


def _load_arguments(p: argparse.ArgumentParser) -> None:
    load_routes = (*ROUTES["shop"], "health")  # kit.load.ROUTES: the shop's business routes and its health check
    load_sub = p.add_subparsers(dest="action", required=True)
    r = load_sub.add_parser("run", help="run locust headless against the shop and print per-route statistics")
    r.add_argument("--users", type=int, default=10)
    r.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    r.add_argument("--duration", type=float, default=10.0, help="seconds (at most 600)")
    r.add_argument("--workers", type=int, default=0, help="locust worker processes on this machine (0: one process)")
    r.add_argument("--route", choices=load_routes, default=None,
                   help="hit one route only (default: weighted shop journeys)")
    r.add_argument("--step-users", type=int, default=0, help="step shape: add this many users every --step-seconds")
    r.add_argument("--step-seconds", type=float, default=5.0)
    o = load_sub.add_parser("open", help="send requests at a constant rate, latency measured from intended start")
    o.add_argument("--rate", type=float, required=True, help="requests per second")
    o.add_argument("--duration", type=float, default=10.0)
    o.add_argument("--route", choices=load_routes, default=None)
    v = load_sub.add_parser("slo", help="does a latency SLO hold at this load, and how much budget does the test burn")
    v.add_argument("spec", help="latency SLO spec, e.g. slos/catalog-latency.yml")
    v.add_argument("--rate", type=float, required=True, help="requests per second to offer")
    v.add_argument("--duration", type=float, default=10.0)
    v.add_argument("--route", choices=ROUTES["shop"], default=None)
    c = load_sub.add_parser("search", help="step the offered load up until the shop stops keeping up: the knee")
    c.add_argument("--expected", type=float, required=True,
                   help="expected capacity in req/s (worker slots / mean service time) to centre the steps on")
    c.add_argument("--route", choices=ROUTES["shop"], default=None)
    c.add_argument("--plot", default=None, help="PNG file for throughput, latency and errors against load")


@command("load", "load-test the shop: locust (closed model) or a constant arrival rate (open model)", _load_arguments)
def _load(args: argparse.Namespace) -> int:
    from .. import load
    if args.action == "run":
        shape = load.Step(args.step_users, args.step_seconds) if args.step_users else None
        result = load.run(args.users, args.spawn_rate, args.duration, shape=shape, workers=args.workers,
                          route=args.route, progress=print)
        print(result.stats.to_string())
        return 0 if result.outcome == "done" else 1
    if args.action == "slo":
        from pathlib import Path

        from .. import slo
        from ..load import capacity
        check = capacity.slo_at_load(slo.load_spec(Path(args.spec)), args.rate, args.duration,
                                     route=args.route or "catalog", progress=print)
        print(check.summary())
        return 0 if check.holds else 1
    if args.action == "search":
        from ..load import capacity
        found = capacity.search(args.route or "catalog", expected=args.expected, progress=print)
        print(found.summary())
        if args.plot:
            import matplotlib
            matplotlib.use("Agg")
            from .. import plots
            plots.capacity_search(found)[0].figure.savefig(args.plot, dpi=110, bbox_inches="tight")
            print(f"plot written to {args.plot}")
        return 0
    result = load.open_model(args.rate, args.duration, route=args.route or "product", progress=print)
    print(result.summary())
    return 0 if result.outcome == "done" else 1
