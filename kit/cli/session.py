"""`kit session plan|check`: the facilitator's guide's session plans (guide/plans/<lab>.yml) as a timed agenda,
and the guide checked against the labs it times."""

from __future__ import annotations

import argparse
from datetime import datetime, time

from . import command

VARIANTS = (60, 90, 120)
"""kit.community.sessionplan's VARIANTS, repeated so `kit --help` need not import it; a test keeps them equal."""


def _clock(text: str) -> time:
    try:
        return datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time of day as HH:MM (e.g. 14:30)") from None


def _session_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("plan", help="print a lab's session plan as a timed agenda: segments, where the mob "
                                        "rotates, the debrief's questions")
    a.add_argument("lab", metavar="LAB", help="the lab's folder name or just its number (03)")
    a.add_argument("--minutes", type=int, choices=VARIANTS, default=90, help="how long the session is (default 90)")
    a.add_argument("--start", type=_clock, metavar="HH:MM", help="show clock times from this start instead of "
                                                                  "minutes from the start")
    a.add_argument("--guide", metavar="DIR", help="a guide folder of your own (default: the repository's guide/)")
    c = actions.add_parser("check", help="validate every plan and match it to its lab: every lab has a plan, and "
                                         "every variant covers the notebook's sections or leaves them for afterwards "
                                         "(exit 1 with one line per finding, 2 when a plan file is invalid)")
    c.add_argument("--guide", metavar="DIR", help="a guide folder of your own (default: the repository's guide/)")


@command("session", "the facilitator's guide: a lab's session plan as a timed agenda, or the guide checked",
         _session_arguments)
def _session(args: argparse.Namespace) -> int:
    from ..community import sessionplan

    if args.action == "check":
        return _check(args.guide)
    plan = sessionplan.session_plan(args.lab, args.minutes, args.guide)
    print(plan.text(args.start))
    print(f"The mob timer follows it in a notebook: from kit.community.sessionplan import session_plan; "
          f"kit.MobTimer(roster=[...], schedule=session_plan({plan.lab!r}, {plan.minutes}).mob_schedule())")
    return 0


def _check(guide: str | None) -> int:
    from ..community import sessionplan
    from ..config import CONTENT
    from ..lab import LABS

    labs = sorted(set(LABS) | {p.name for p in CONTENT.solutions.iterdir() if (p / f"{p.name}.ipynb").is_file()})
    findings = sessionplan.check_guide(labs, guide)
    for finding in findings:
        print(finding)
    planned = sessionplan.plan_labs(guide)
    print(f"{len(planned)} labs with plans of {', '.join(map(str, VARIANTS))} minutes, {len(labs)} labs in the kit: "
          f"{len(findings)} finding{'' if len(findings) == 1 else 's'}")
    return 1 if findings else 0
