"""`kit release`: a canary shop beside the stable one, behind HAProxy: deploy, weight, promote, roll back, status;
and the error-budget gate a release passes before taking more traffic."""

from __future__ import annotations

import argparse

from ..releases.deploylog import EXEMPTIONS
from ..shop.versions import VERSIONS
from . import command, listing


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


@command("release", "a canary shop beside the stable one: deploy, weight, promote, rollback, status or gate",
         _release_arguments)
def _release(args: argparse.Namespace) -> int:
    from ..releases import canary
    if args.action == "gate":
        return _gate(args)
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
