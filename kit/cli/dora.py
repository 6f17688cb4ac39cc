"""`kit dora`: the DORA keys of the deploy log and the incidents, and their tier in a report year's table."""

from __future__ import annotations

import argparse
import json

from . import command, config_from, text_table


def _dora_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--days", type=float, default=90, help="the window, in days ending now (default 90)")
    p.add_argument("--year", type=int, default=None, help="the report year whose tiers to use (default: the newest)")
    p.add_argument("--json", action="store_true", help="print the keys and tiers as JSON")
    p.add_argument("--plot", metavar="FILE", help="also save the four charts to FILE (PNG, SVG or PDF)")
    p.add_argument("--backfill", action="store_true",
                   help="first write a generated deploy history of --days days, with known answers, to the deploy log")
    p.add_argument("--seed", type=int, default=None, help="with --backfill: its random seed (default: the kit's)")
    p.add_argument("--replace", action="store_true", help="with --backfill: replace a deploy log that holds events")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _shown(key: str, report) -> str:
    if key == "deployment_frequency":
        return f"{report.per_day:.2f}/day ({report.count} in {report.days:g} d)"
    if key == "lead_time":
        return f"{_duration(report.lead_time)} median of {len(report.lead_times)}"
    if key == "change_failure_rate":
        rate = "-" if report.change_failure_rate is None else f"{report.change_failure_rate:.1%}"
        return f"{rate} ({report.failed} of {report.count})"
    if key == "recovery_time":
        return f"{_duration(report.recovery_time)} median of {len(report.recovery_times)}" + (
            f", {report.unrecovered} unrecovered" if report.unrecovered else "")
    rate = "-" if report.rework_rate is None else f"{report.rework_rate:.1%}"
    return f"{rate} ({report.rework} of {report.count})"


@command("dora", "the DORA keys of the deploy log and incidents, and their performance tier", _dora_arguments)
def _dora(args: argparse.Namespace) -> int:
    import time

    from ..errors import InvalidInput
    from ..releases import deploylog, deployhistory, dora, incidents, tiers

    if args.days <= 0:
        raise InvalidInput("--days", f"{args.days:g} must be more than 0")
    config = config_from(args)
    if args.backfill:
        seed = {} if args.seed is None else {"seed": args.seed}
        done = deployhistory.backfill(args.days, replace=args.replace, config=config, **seed)
        if not args.json:
            print(f"backfilled {len(done.history.events)} deploy events and {len(done.history.incidents)} incidents "
                  f"over {args.days:g} days (seed {done.history.seed}) into {done.log}")
    table = tiers.table(args.year)
    end = time.time()
    report = dora.compute(deploylog.read(config=config), incidents.gather(config), end - args.days * 86400, end)
    placements = {p.key: p for p in tiers.place(report.figures(), table)}
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from .. import doraplots

        doraplots.dashboard(report).savefig(args.plot)
    if args.json:
        keys = {key: {"value": p.value, "tier": p.tier, "exact": p.exact, "band": p.text, "why": p.why}
                for key, p in placements.items()}
        print(json.dumps({**report.as_json(), "year": table.year, "report": table.report, "source": table.url,
                          "tiers": keys}, indent=2))
        return 0
    rows = []
    for key in (*tiers.KEYS, "rework_rate"):
        p = placements.get(key)
        tier = "-" if p is None else (p.tier or p.why) if p.exact or p.tier is None else f"{p.tier} ({p.why})"
        rows.append((key.replace("_", " "), _shown(key, report), tier))
    print(text_table(("key", "value", f"tier ({table.year})"), rows))
    print(f"tiers: {table.report}, {table.url}")
    if report.unattributed:
        print(f"{len(report.unattributed)} of {len(report.attributions)} incidents belong to no deployment "
              "(a flag change, or no change in the day before them)")
    if args.plot:
        print(f"charts: {args.plot}")
    return 0
