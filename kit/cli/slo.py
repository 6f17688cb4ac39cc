"""`kit slo`: an SLO spec validated, turned into alert rules, tested, applied, and its budget reported."""

from __future__ import annotations

import argparse
import sys

from ..config import PROFILES
from . import command, config_from


def _slo_arguments(p: argparse.ArgumentParser) -> None:
    slo_sub = p.add_subparsers(dest="action", required=True)
    for name, text in (("validate", "check a spec (own YAML or OpenSLO v1) and show its error budget"),
                       ("generate", "print (or --out) the recording and burn-rate alert rules"),
                       ("test", "generate promtool unit tests for the rules and run them"),
                       ("apply", "install the rules into the running sandbox and reload Prometheus"),
                       ("report", "error budget over the data in Prometheus (e.g. loaded history), with a plot")):
        a = slo_sub.add_parser(name, help=text)
        a.add_argument("spec", help="SLO spec file")
        if name == "validate":
            a.add_argument("--live", action="store_true", help="also ask the sandbox's Prometheus to parse the queries")
        elif name == "report":
            a.add_argument("--days", type=float, default=None, help="period (default: the SLO's window)")
            a.add_argument("--step", default="1h", help="resolution of the burn-down (default 1h)")
            a.add_argument("--plot", default=None, help="PNG file for the burn-down chart")
        elif name == "apply":
            a.add_argument("--time-scale", type=float, default=None,
                           help="divide every window by this factor (default: the running sandbox profile's, "
                                "as for its own rules and drills)")
        else:
            a.add_argument("--time-scale", type=float, default=None,
                           help="divide every window by this factor (default 1: production timing; "
                                "60 turns 1h into 1m)")
            a.add_argument("--profile", choices=sorted(PROFILES), default=None,
                           help="the sandbox profile the rules are for: its scrape interval must fill every "
                                "compressed window (default lab, or KIT_PROFILE)")
        if name == "generate":
            a.add_argument("--out", default=None, help="file to write (default: stdout)")


@command("slo", "validate an SLO spec, generate its alert rules, test them, apply them, report its budget",
         _slo_arguments)
def _slo(args: argparse.Namespace) -> int:
    """validate / generate / test / apply an SLO spec."""
    from pathlib import Path

    from .. import slo
    if args.action == "validate":
        for spec in slo.load_specs(Path(args.spec)):  # an OpenSLO file may hold several
            warnings = slo.validate_queries(spec) if args.live else []
            budget = slo.budget_minutes(spec.objective, spec.window)
            factors = ", ".join(f"{bw.factor:.4g}× over {bw.long}" for bw in slo.burn_windows(spec.window))
            print(f"{spec.name}: valid ({spec.objective:.4%} over {spec.window}, budget {budget:.1f} min of errors); "
                  f"burn factors {factors}")
            for warning in warnings:
                print(f"warning: {spec.name}: {warning}", file=sys.stderr)
        return 0
    spec = slo.load_spec(Path(args.spec))
    if args.action == "report":
        report = slo.budget_report(spec, days=args.days, step=args.step)
        print(report)
        if args.plot:
            import matplotlib
            matplotlib.use("Agg")
            from .. import plots
            plots.budget_burndown(report).figure.savefig(args.plot, dpi=110, bbox_inches="tight")
            print(f"burn-down plot written to {args.plot}")
        return 0
    if args.action == "apply":
        from .. import sandbox
        config = sandbox.current_config(None)
        scale = config.profile_spec.time_scale if args.time_scale is None else args.time_scale
        current = slo.install(spec, time_scale=scale, config=config)
        origin = f"the {config.profile} profile's" if args.time_scale is None else "as asked"
        print(f"installed slo-{spec.name} at time scale {scale:g}× ({origin}; {current.rules_loaded} rules loaded)")
        for warning in slo.validate_queries(spec, config):
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    profile = config_from(args).profile_spec
    scale = 1.0 if args.time_scale is None else args.time_scale
    if args.action == "test":
        result = slo.test_rules(spec, time_scale=scale, profile=profile)
        print(result.output)
        return 0 if result.passed else 1
    text = slo.to_yaml(slo.generate_rules(spec, time_scale=scale, profile=profile))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0
