"""`kit hub`: a cohort on one JupyterHub host: learners' ports, their servers, and the nbgrader exchange."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from . import command

REGISTRY_ENV = "KIT_HUB_PORTS"
DEFAULT_REGISTRY = "/srv/jupyterhub/kit-ports.json"
FIREWALL_ENV = "KIT_HUB_FIREWALL"


def _exchange_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("lab", help="the lab's full name, e.g. 00-mob-and-sandbox")
    p.add_argument("--exchange", default=None,
                   help="the exchange folder (default: $KIT_HUB_EXCHANGE, else /srv/nbgrader/exchange)")
    p.add_argument("--course", default=None, help="the nbgrader course id (default: $KIT_HUB_COURSE, else reliability-dojo)")


def _hub_arguments(p: argparse.ArgumentParser) -> None:
    steps = p.add_subparsers(dest="action", required=True)
    s = steps.add_parser("serve", help="run a learner's Jupyter server with their sandbox (JupyterHub's Spawner.cmd)")
    s.add_argument("server_args", nargs=argparse.REMAINDER, help="arguments for jupyterhub-singleuser")
    s = steps.add_parser("ports", help="show the learners' port blocks; with USER, that learner's (allocated if new)")
    s.add_argument("user", nargs="?")
    s.add_argument("--registry", default=os.environ.get(REGISTRY_ENV, DEFAULT_REGISTRY),
                   help=f"the hub's port registry (default: ${REGISTRY_ENV}, else {DEFAULT_REGISTRY})")
    change = s.add_mutually_exclusive_group()
    change.add_argument("--reassign", action="store_true", help="give USER a new block (theirs is taken)")
    change.add_argument("--forget", action="store_true", help="drop USER's block (a learner who left)")
    s = steps.add_parser("firewall", help="print the nftables rules that open each learner's ports on loopback only "
                                          "to them; --apply or --remove them (as root)")
    s.add_argument("--registry", default=os.environ.get(REGISTRY_ENV, DEFAULT_REGISTRY),
                   help=f"the hub's port registry (default: ${REGISTRY_ENV}, else {DEFAULT_REGISTRY})")
    s.add_argument("--table", default=os.environ.get(FIREWALL_ENV) or None,
                   help=f"the nftables table (inet) of the rules (default: ${FIREWALL_ENV}, else reliability_dojo)")
    change = s.add_mutually_exclusive_group()
    change.add_argument("--apply", action="store_true", help="replace the table with these rules (the hub does so "
                                                             "at every spawn)")
    change.add_argument("--remove", action="store_true", help="delete the table: every port open to every user again")
    _exchange_options(steps.add_parser("release", help="facilitator: put labs/LAB into the exchange"))
    s = steps.add_parser("fetch", help="learner: copy the released LAB into a folder")
    _exchange_options(s)
    s.add_argument("--into", default=".", help="the folder to put LAB/ in (default: here)")
    s = steps.add_parser("submit", help="learner: hand in LAB/ from a folder")
    _exchange_options(s)
    s.add_argument("--work", default=".", help="the folder holding LAB/ (default: here)")
    s.add_argument("--as", dest="learner", default=None,
                   help="the learner's name (default: the hub's name for you, else your system user)")
    s = steps.add_parser("collect", help="facilitator: copy every learner's newest submission, for `kit grade`")
    _exchange_options(s)
    s.add_argument("--into", default="submitted", help="the folder to collect into (default: ./submitted)")


@command("hub", "a cohort on one JupyterHub host (learners' ports and servers, the nbgrader exchange): {actions}",
         _hub_arguments)
def _hub(args: argparse.Namespace) -> int:
    if args.action == "serve":
        return _serve(args.server_args)
    if args.action == "ports":
        return _ports(args)
    if args.action == "firewall":
        return _firewall(args)
    from ..hub import exchange

    where = exchange.Exchange.from_env(root=args.exchange, course=args.course)
    if args.action == "release":
        print(f"released {args.lab} to {exchange.release(args.lab, where, warn=_warn)}")
    elif args.action == "fetch":
        print(f"fetched {args.lab} into {exchange.fetch(args.lab, where, into=args.into, warn=_warn)}")
    elif args.action == "submit":
        learner = exchange.submit(args.lab, where, work=args.work, learner=args.learner, warn=_warn)
        print(f"submitted {args.lab} as {learner}")
    else:
        into = exchange.collect(args.lab, where, into=args.into, warn=_warn)
        print(f"collected {args.lab} into {into}; grade the cohort with: kit grade {into} --lab {args.lab}")
    return 0


def _warn(message: str) -> None:
    """nbgrader's warnings from an exchange step, for the person who ran it."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _ports(args: argparse.Namespace) -> int:
    from ..errors import InvalidInput
    from ..hub.ports import PortRegistry

    registry = PortRegistry(args.registry)
    if args.user is None:
        if args.reassign or args.forget:
            raise InvalidInput("user", "name the learner whose block to change")
        blocks = registry.blocks()
        print("\n".join(block.describe() for block in blocks) or f"no learner has ports yet in {args.registry}")
        return 0
    if args.forget:
        print(f"forgot {args.user}'s ports" if registry.forget(args.user) else f"{args.user} had no ports")
        return 0
    block = registry.reassign(args.user) if args.reassign else registry.assign(args.user)
    print(block.describe())
    return 0


def _firewall(args: argparse.Namespace) -> int:
    from ..hub import firewall
    from ..hub.ports import PortRegistry

    table = args.table or firewall.TABLE
    if args.remove:
        firewall.remove(table)
        print(f"removed the nftables table inet {table}: every learner's ports are open to every user")
        return 0
    registry = PortRegistry(args.registry)
    if args.apply:
        firewall.protect(registry, table=table)
        print(f"applied the nftables table inet {table} for {len(registry.blocks())} learners; "
              f"see it with: nft list table inet {table}")
        return 0
    print(firewall.registry_ruleset(registry, table=table), end="")
    return 0


def _serve(server_args: list[str]) -> NoReturn:
    """Become JupyterHub's single-user server with the sandbox's UIs and the learner's sandbox
    (``kit.hub.serversandbox``): the same process, so the hub's signals reach the server itself."""
    from ..hub.learners import singleuser_argv

    argv = singleuser_argv(server_args)
    sys.stdout.flush()
    os.execv(argv[0], argv)
