"""`kit release`: a canary shop beside the stable one, behind HAProxy: deploy, weight, promote, roll back, status;
a release plan walked ring by ring (`kit release run`); and the error-budget gate a release passes before taking
more traffic."""

from __future__ import annotations

import argparse

from ..config import CONTENT
from ..releases.deploylog import EXEMPTIONS
from ..shop.versions import VERSIONS
from . import command, listing, local_time, text_table


def _percent(text: str) -> int:
    if not text.isdigit() or int(text) > 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole percentage from 0 to 100")
    return int(text)


def _release_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    epilog = "versions:\n" + "\n".join(f"  {v.version:<8}{v.commit}  {v.committed_at:%Y-%m-%d %H:%M}  {v.summary}"
                                       for v in VERSIONS.values())
    d = actions.add_parser("deploy", help="start VERSION as the canary beside the stable shop, at weight 0",
                           epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("version", metavar="VERSION", help=listing(VERSIONS))
    w = actions.add_parser("weight", help="send PCT %% of the shop's requests to the canary, from the next one on")
    w.add_argument("percent", metavar="PCT", type=_percent, help="0 to 100")
    actions.add_parser("promote", help="the canary's version becomes stable; the canary stops")
    actions.add_parser("rollback", help="take every request off the canary and stop it")
    actions.add_parser("status", help="the stable version, the canary and the weights HAProxy applies")
    g = actions.add_parser("gate", help="may a release take more traffic? the SLO's error budget and burn-rate alerts "
                                        "decide (exit 0 allowed, 1 blocked)")
    g.add_argument("slo", metavar="SLO", help="an SLO in slos/ (checkout-availability) or an SLO file")
    g.add_argument("--version", help="the version being released (default: the running canary's)")
    g.add_argument("--exempt", choices=EXEMPTIONS, help="pass a closed gate: the release is a P0 or security fix "
                                                        "(recorded in the deploy log)")
    g.add_argument("--reason", default="", help="why the exemption applies (required with --exempt)")

    plans = sorted(path.stem for path in CONTENT.releases.glob("*.yml"))
    r = actions.add_parser("run", help="walk a release plan's rings with VERSION as the canary, judging every step: "
                                       "promote, pause or roll back", epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("plan", metavar="PLAN", help=f"a plan in releases/ ({listing(plans)}) or a plan file")
    r.add_argument("version", metavar="VERSION", help=listing(VERSIONS))
    r.add_argument("--exempt", choices=EXEMPTIONS, help="pass a closed error-budget gate: the release is a P0 or "
                                                        "security fix (recorded in the deploy log once)")
    r.add_argument("--reason", default="", help="why the exemption applies (required with --exempt)")


@command("release", "a canary shop beside the stable one: deploy, weight, promote, rollback, status, gate, or run a "
         "plan", _release_arguments)
def _release(args: argparse.Namespace) -> int:
    from ..releases import canary
    if args.action == "gate":
        return _gate(args)
    if args.action == "run":
        return _run(args)
    if args.action == "deploy":
        result = canary.deploy(args.version)
    elif args.action == "weight":
        result = canary.set_weight(args.percent)
    elif args.action == "promote":
        result = canary.promote()
    elif args.action == "rollback":
        result = canary.rollback()
    else:
        result = canary.status()
    print(result)
    if result.proxy_weights:
        print("HAProxy weights: " + ", ".join(f"{server} {weight}" for server, weight in result.proxy_weights.items()))
    return 0


def _gate(args: argparse.Namespace) -> int:
    from ..errors import InvalidInput
    from ..releases import canary, gate

    version = args.version or canary.status().canary
    if version is None:
        raise InvalidInput("version", "no canary is deployed; name the version being released with --version")
    decision = gate.evaluate(args.slo, version=version, exemption=args.exempt, reason=args.reason)
    print(decision)
    return 0 if decision.allowed else 1


def _run(args: argparse.Namespace) -> int:
    """Exit 0 when the canary was promoted, 1 when it was paused (the gate refused included) or rolled back; a
    refused plan is InvalidInput (2)."""
    from ..releases import runner

    result = runner.run(args.plan, args.version, exemption=args.exempt, reason=args.reason)
    print()
    print(run_summary(result))
    return 0 if result.outcome == "promoted" else 1


def run_summary(result) -> str:
    """A ``kit.releases.runner.ReleaseRun`` as `kit release run` ends: a row per ring, the outcome, the exposure."""
    rows = [(step.ring + 1, f"{step.weight} %", f"{step.judgments[-1].end - step.started_at:.0f} s",
             len(step.judgments), step.verdict.value, step.judgments[-1].reason) for step in result.steps]
    exposure = result.exposure
    lines = [text_table(("ring", "weight", "judged", "judgments", "verdict", "reason"), rows) if rows
             else "no ring started", "",
             f"{result.outcome.replace('_', ' ')}: {result.reason}",
             f"canary started {local_time(exposure.canary_started_at)}; first request "
             f"{_after(exposure.seconds(exposure.first_traffic_at))}"]
    if result.outcome == "rolled_back":
        lines.append(f"judge failed {_after(exposure.seconds(exposure.failed_at))}; last canary request "
                     f"{_after(exposure.seconds(exposure.zero_traffic_at))} ({exposure.failure_to_zero_s:+.2f} s from "
                     f"the failed judgment; then {exposure.confirming_requests} requests to stable, none to the canary)")
    return "\n".join(lines)


def _after(seconds: float) -> str:
    return "never" if seconds != seconds else f"{seconds:.2f} s after"
