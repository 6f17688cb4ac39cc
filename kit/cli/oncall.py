"""`kit oncall check|now`: judge a team's on-call rotation (oncall/<team>.ics), or say who is on call."""

from __future__ import annotations

import argparse
from datetime import datetime

from ..config import CONTENT
from . import command, listing


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time (2026-12-01T09:30+01:00)") from None
    return moment if moment.tzinfo else moment.astimezone()


def _weeks(text: str) -> float:
    try:
        weeks = float(text)
    except ValueError:
        weeks = 0.0
    if not 0 < weeks <= 104:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of weeks from more than 0 to 104")
    return weeks


def _headcount(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of engineers, 1 or more")
    return int(text)


def _oncall_arguments(p: argparse.ArgumentParser) -> None:
    teams = sorted(path.stem for path in CONTENT.oncall.glob("*.ics"))
    where = f"a team in oncall/ ({listing(teams)}) or an .ics file (default: the only rotation in oncall/)"
    actions = p.add_subparsers(dest="action", required=True)
    c = actions.add_parser("check", help="24x7 coverage per level without gaps or overlaps, primary and secondary "
                                         "never the same, enough engineers, nobody on call over 25 %%, a sane "
                                         "escalation step (exit 1 with one line per finding)")
    c.add_argument("file", metavar="FILE", nargs="?", help=where)
    # The defaults are kit.ownership.oncall's (its import would slow every `kit` command): the help names them.
    c.add_argument("--weeks", type=_weeks, metavar="N", help="check the next N weeks (default 12, a quarter)")
    c.add_argument("--min-engineers", type=_headcount, metavar="N",
                   help="fewest engineers taking shifts (default 8, the SRE book's minimum for a single-site team; "
                        "12 for two sites of 6)")
    c.add_argument("--from", dest="start", type=_moment, metavar="TIME",
                   help="start the window at TIME (ISO, e.g. 2027-01-04T10:00+01:00; default now)")
    n = actions.add_parser("now", help="who is primary and who secondary now (or at --at TIME, e.g. when a page "
                                       "fired)")
    n.add_argument("file", metavar="FILE", nargs="?", help=where)
    n.add_argument("--at", type=_moment, metavar="TIME", help="ask about TIME instead (ISO; local time if no offset)")


@command("oncall", "check a team's on-call rotation (iCalendar), or say who is on call now", _oncall_arguments)
def _oncall(args: argparse.Namespace) -> int:
    from datetime import timezone

    from ..ownership import oncall

    rotation = oncall.load(oncall.rotation_path(args.file))
    if args.action == "check":
        given = {"weeks": args.weeks, "min_engineers": args.min_engineers}
        report = oncall.check(rotation, start=args.start, **{k: v for k, v in given.items() if v is not None})
        print(report)
        return 0 if report.ok else 1
    when = args.at or datetime.now(timezone.utc)
    on_call = rotation.on_call_at(when)
    print(f"{rotation.name} at {when.astimezone(rotation.zone):%a %Y-%m-%d %H:%M %Z}:")
    for role, engineer in zip(oncall.ROLES, on_call):
        print(f"  {role:<10}{f'{engineer.name} <{engineer.email}>' if engineer else 'nobody (a gap in the rotation)'}")
    if rotation.escalate_after is not None:
        print(f"  a page not acknowledged within {rotation.escalate_after.total_seconds() / 60:g} min goes to the "
              "secondary")
    return 0
