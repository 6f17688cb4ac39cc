"""`kit fault`, `flag`, `mitigate`: break the sandbox as the game master, then mend it as the on-call.

Fault kinds, their parameters, services, routes and flags all come from kit.shop.faults' tables, so the
help and the choices cannot fall behind what the admin API accepts.
"""

from __future__ import annotations

import argparse
import json

from ..errors import InvalidInput
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


def _flag_value(text: str) -> str | int:
    """on, off, kill, or a rollout's whole percentage (``25`` or ``25%``)."""
    if text in ("on", "off", "kill"):
        return text
    number = text.removesuffix("%")
    if number.isdigit() and 0 <= int(number) <= 100:
        return int(number)
    raise argparse.ArgumentTypeError(f"{text!r}: say on, off, kill, or a rollout percentage from 0 to 100")


def _flag_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Feature flags live in the sandbox's flag file (flagd's format), which the shop reloads within "
                     "a second. `kit flag list` shows them; `kit flag NAME on|off` sets one for every user; "
                     "`kit flag NAME 25` rolls it out to 25 % of user keys (1 % buckets, the same keys stay in "
                     "as it grows); `kit flag NAME kill` is the kill switch: every request gets the code's safe "
                     "default until the flag is set again; `kit flag reset` goes back to the sandbox's defaults. "
                     "Every change goes to the deploy log.")
    p.add_argument("name", metavar="NAME", choices=[*FLAGS, "list", "reset"],
                   help=f"{listing(FLAGS)}; or list, or reset")
    p.add_argument("value", metavar="VALUE", nargs="?", type=_flag_value,
                   help="on, off, kill, or a rollout percentage (0-100)")
    p.add_argument("--reason", default="", help="why, for the deploy log")
    p.add_argument("--json", action="store_true", help="list: machine-readable {flag: {file, served}}")


@command("flag", "feature flags: list, on/off, a rollout percentage, kill, reset", _flag_arguments)
def _flag(args: argparse.Namespace) -> int:
    from ..releases import flags
    if args.name in ("list", "reset"):
        if args.value is not None:
            raise InvalidInput("VALUE", f"`kit flag {args.name}` takes no value")
        if args.name == "reset":
            changes = flags.reset_flags(reason=args.reason or "back to the sandbox's default flags")
            print("\n".join(f"flag {c.name} {c.after.text} (was {c.before.text})" for c in changes)
                  or "flags already at their defaults")
            return 0
        in_file, served = flags.settings(), flags.flags()
        if args.json:
            print(json.dumps({name: {"file": setting.text, "served": served.get(name)}
                              for name, setting in in_file.items()}, indent=2))
        else:
            print(text_table(("flag", "file", "shop serves", "code default (killed)", "what it does"),
                             [(name, setting.text, served.get(name, "-"), "on" if FLAGS[name].default else "off",
                               FLAGS[name].help) for name, setting in in_file.items()]))
        return 0
    if args.value is None:
        raise InvalidInput("VALUE", f"say what to set {args.name} to: on, off, kill, or a rollout percentage")
    if args.value == "kill":
        change = flags.change_flag(args.name, killed=True, reason=args.reason)
    else:
        percent = {"on": 100, "off": 0}.get(args.value, args.value)
        change = flags.change_flag(args.name, percent=percent, reason=args.reason)
    if not change.changed:
        print(f"flag {args.name} is {change.after.text} already")
        return 0
    served = "" if change.served_after_s is None else f"; the shop serves it after {change.served_after_s:.2f} s"
    print(f"flag {args.name} {change.after.text} (was {change.before.text}){served}")
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
