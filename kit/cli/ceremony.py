"""`kit ceremony ...`: the community's ceremonies the kit runs. `kit ceremony alarming`: "What's alarming you", the
alert review of the sandbox's pages, alert history, drills and runbooks."""

from __future__ import annotations

import argparse
import json

from . import command


def _ceremony_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("alarming", help="What's alarming you: per alert, pages (outside drills, resolved quickly "
                                            "with no action), time firing, flapping, runbooks, and a suggested "
                                            "action (exit 1 when any alert has one)")
    a.add_argument("--since", default="7d", help="how far back the review looks (default 7d)")
    a.add_argument("--json", action="store_true", help="machine-readable: the window, the thresholds and the alerts")
    a.add_argument("--plot", metavar="FILE", help="also save the pages per alert over time to FILE (PNG, SVG or PDF)")


@command("ceremony", "run a community ceremony: {actions}", _ceremony_arguments)
def _ceremony(args: argparse.Namespace) -> int:
    from ..community import alertreview

    found = alertreview.alert_review(args.since)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        found.plot().figure.savefig(args.plot, dpi=110, bbox_inches="tight")
    if args.json:
        print(json.dumps(found.as_dict(), indent=2))
    else:
        print(found)
        if args.plot:
            print(f"plot: {args.plot}")
    return 1 if found.to_act_on else 0
