"""`kit history backfill`: weeks of metric history, with known incidents, backfilled into the sandbox."""

from __future__ import annotations

import argparse

from . import command


def _history_arguments(p: argparse.ArgumentParser) -> None:
    history_sub = p.add_subparsers(dest="action", required=True)
    h = history_sub.add_parser("backfill", aliases=["load"],
                               help="generate history and backfill it; backfilling again replaces it (alias: load)")
    h.add_argument("--days", type=float, default=30, help="how many days, ending now (default 30)")
    h.add_argument("--seed", type=int, default=None, help="random seed (default: the kit's fixed one)")


@command("history", "backfill weeks of metric history (with known incidents) into the sandbox", _history_arguments)
def _history(args: argparse.Namespace) -> int:
    from .. import history

    seed = {} if args.seed is None else {"seed": args.seed}
    result = history.backfill(args.days, progress=print, **seed)
    print(f"backfilled {result.samples:,} samples of {result.series} series, {result.start:%Y-%m-%d %H:%M} to "
          f"{result.end:%Y-%m-%d %H:%M} UTC, in {result.seconds:.1f} s")
    for incident in result.incidents:
        print(f"  incident {incident.name}: {incident.shape} on {incident.route}, "
              f"{incident.start:%Y-%m-%d %H:%M} to {incident.end:%Y-%m-%d %H:%M} UTC")
    return 0
