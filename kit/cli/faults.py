"""`kit fault`, `flag`, `mitigate`: break the sandbox as the game master, then mend it as the on-call.

Fault kinds, their parameters, services, routes and flags all come from kit.shop.faults' tables, so the
help and the choices cannot fall behind what the admin API accepts.
"""

from __future__ import annotations

import argparse
import json

from ..shop.faults import ALIASES, FAULT_KINDS, FLAGS, ROUTES, SERVICES
from . import command, listing, plain_number, text_table


def _fault_params() -> dict[str, list[str]]:
    """Every parameter of the fault model and the kinds (aliases included) that take it, from kit.shop.faults."""
    takers: dict[str, list[str]] = {}
    for name, kind in [*((k, k) for k in FAULT_KINDS), *((alias, real) for alias, (_, real) in ALIASES.items())]:
        for param in FAULT_KINDS[kind].params:
            takers.setdefault(param.name, []).append(name)
    return takers


def _fault_arguments(p: argparse.ArgumentParser) -> None:
    """`kit fault set|clear|list`: kinds, parameters, services and routes all from kit.shop.faults' tables."""
    fault = p.add_subparsers(dest="action", required=True)
    kinds = [*FAULT_KINDS, *ALIASES]
    epilog = "fault kinds:\n" + "\n".join(
        [f"  {k.name:<22}{k.help} ({' or '.join(k.services)})" for k in FAULT_KINDS.values()]
        + [f"  {alias:<22}{kind} on {service}" for alias, (service, kind) in ALIASES.items()])
    s = fault.add_parser("set", help=f"inject a fault: {listing(kinds)}", epilog=epilog,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("kind", metavar="KIND", help=f"{listing(kinds)} (see below)")
    s.add_argument("--service", choices=SERVICES, default=None, help="where to inject (default: the shop)")
    params: dict = {}
    for kind in FAULT_KINDS.values():
        for param in kind.params:
            params.setdefault(param.name, param)  # the first kind's wording; the range is checked per kind
    for name, takers in _fault_params().items():
        param = params[name]
        text = param.help
        if param.minimum is not None and param.maximum is not None:
            text += f", {'over' if param.exclusive_minimum else 'from'} {param.minimum:g} to {param.maximum:g}"
        if name == "route":
            text += " (" + "; ".join(f"{service}: {listing(routes)}" for service, routes in ROUTES.items()) + ")"
        s.add_argument(f"--{name.replace('_', '-')}", dest=name, type=param.type, choices=param.choices or None,
                       help=f"{text} [{', '.join(takers)}]")
    c = fault.add_parser("clear", help="clear one fault kind, or all")
    c.add_argument("kind", nargs="?", metavar="KIND", help=f"{listing(kinds)}; every fault when omitted")
    c.add_argument("--service", choices=SERVICES, default=None)
    f = fault.add_parser("list", help="active faults on every service, as a table (hidden while a secret drill runs)")
    f.add_argument("--json", action="store_true", help="machine-readable: {service: {kind: parameters}}")
    f.add_argument("--reveal", action="store_true", help="the game master's view: list them during a secret drill too")


@command("fault", "inject or clear faults through the admin API", _fault_arguments)
def _fault(args: argparse.Namespace) -> int:
    from ..shop import faults
    if args.action == "set":
        params = {k: getattr(args, k) for k in _fault_params() if getattr(args, k) is not None}
        applied = faults.set_fault(args.kind, service=args.service, **params)
        print(f"fault {args.kind} set: {_params_text(applied)}")
    elif args.action == "clear":
        faults.clear_faults(args.kind, service=args.service)
        print(f"cleared {args.kind or 'all faults'}")
    elif args.json:
        print(json.dumps(faults.list_faults(reveal=args.reveal), indent=2))
    else:
        print(_faults_table(faults.list_faults(reveal=args.reveal)))
    return 0


def _faults_table(active: dict[str, dict[str, dict]]) -> str:
    """Active faults as a table, one row per service and kind, its parameters as name=value."""
    rows = [(service, kind, _params_text(params)) for service, kinds in active.items() for kind, params in kinds.items()]
    if not rows:
        return "no faults active"
    return text_table(("service", "fault", "parameters"), rows)


def _params_text(params: dict) -> str:
    """A fault's parameters as name=value; a route of None is every route."""
    return ", ".join(f"{k}={'every route' if v is None and k == 'route' else plain_number(v)}"
                     for k, v in params.items()) or "-"


def _flag_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help=listing(FLAGS))
    p.add_argument("value", choices=["on", "off"])


@command("flag", "turn a feature flag on or off", _flag_arguments)
def _flag(args: argparse.Namespace) -> int:
    from ..shop import faults
    faults.set_flag(args.name, args.value == "on")
    print(f"flag {args.name} {args.value}")
    return 0


def _mitigate_arguments(p: argparse.ArgumentParser) -> None:
    mitigate = p.add_subparsers(dest="action", required=True)
    mitigate.add_parser("rollback", help="deploy the previous shop version")
    m = mitigate.add_parser("restart", help="restart shop or payments")
    m.add_argument("service", choices=SERVICES)
    mitigate.add_parser("restore-capacity", help="give the shop back its worker slots")
    mitigate.add_parser("shed-load", help="stop a noisy neighbour's extra load")


@command("mitigate", "real fixes: {actions}", _mitigate_arguments)
def _mitigate(args: argparse.Namespace) -> int:
    from ..drills import mitigations
    if args.action == "restart":
        print(mitigations.restart(args.service))
    else:
        print({"rollback": mitigations.rollback, "restore-capacity": mitigations.restore_capacity,
               "shed-load": mitigations.shed_load}[args.action]())
    return 0
