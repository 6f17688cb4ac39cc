"""`kit drill`: run an incident drill, from verifying the steady state to the postmortem draft."""

from __future__ import annotations

import argparse

from . import add_limit, command, local_time, more, newest_first


def _drill_arguments(p: argparse.ArgumentParser) -> None:
    drill = p.add_subparsers(dest="action", required=True)
    drill.add_parser("list", help="every scenario in drills/")
    d = drill.add_parser("start", help="verify the steady state and inject a scenario (the wheel of misfortune with --random)")
    d.add_argument("name", nargs="?", help="scenario id (see `kit drill list`)")
    d.add_argument("--random", action="store_true", help="pick a scenario at random")
    d.add_argument("--secret", action="store_true", help="hide the scenario and its injections from the mob")
    for flag, role in (("--ic", "incident commander"), ("--driver", "driver"), ("--comms", "communications"),
                       ("--scribe", "scribe")):
        d.add_argument(flag, help=f"who is the {role}")
    d = drill.add_parser("status", help="the timeline so far, newest first, and the response times")
    add_limit(d, "events")
    d.add_argument("--reveal", action="store_true", help="the game master's view: show a secret drill's scenario")
    d = drill.add_parser("ack", help="acknowledge the page")
    d.add_argument("--by", help="who acknowledges")
    d = drill.add_parser("note", help="add a note to the timeline")
    d.add_argument("text", nargs="+")
    d.add_argument("--by", help="who writes it")
    drill.add_parser("hint", help="reveal the next hint")
    drill.add_parser("verify", aliases=["check"],
                     help="verify the steady-state hypothesis now, on the timeline (`check` is its older name)")
    d = drill.add_parser("end", help="resolve once the steady state holds; writes the postmortem draft")
    d.add_argument("--abandon", action="store_true", help="end without resolving")
    d.add_argument("--wait", type=float, default=None, help="seconds to wait for the steady state")
    d = drill.add_parser("results", help="finished drills, newest first")
    d.add_argument("--json", action="store_true", help="machine-readable, the same drills")
    add_limit(d, "drills")
    d = drill.add_parser("rehearse", help="run a scenario unattended with its documented mitigation (for facilitators)")
    d.add_argument("name")


@command("drill", "incident drills: {actions}", _drill_arguments)
def _drill(args: argparse.Namespace) -> int:
    from .. import drills
    if args.action == "list":
        for scenario in drills.list_drills():
            print(f"{scenario.id:<24} {scenario.difficulty:<7} {scenario.title}")
        return 0
    if args.action == "start":
        roles = dict(zip(drills.ROLES, (args.ic, args.driver, args.comms, args.scribe)))
        current = drills.start(args.name, random=args.random, secret=args.secret,
                               roles={k: v for k, v in roles.items() if v}, progress=print)
        print(current)
        print("the drill is on: watch `kit pages`, follow the runbook, `kit drill ack` when paged")
    elif args.action == "status":
        from dataclasses import replace
        current = drills.status()
        print(_drill_status(replace(current, secret=False) if args.reveal else current, args))
    elif args.action == "ack":
        print(drills.ack(by=args.by or "").text)
    elif args.action == "note":
        print("noted: " + drills.note(" ".join(args.text), by=args.by or "").text)
    elif args.action == "hint":
        print(drills.hint())
    elif args.action in ("verify", "check"):
        results = drills.verify_steady_state()
        if drills.status().secret:
            print("the steady state holds" if all(r.holds for r in results) else "the steady state does not hold yet")
        else:
            print("\n".join(str(r) for r in results))
        return 0 if all(r.holds for r in results) else 1
    elif args.action == "end":
        print(drills.end(abandon=args.abandon, wait=args.wait))
    elif args.action == "rehearse":
        rehearsal = drills.rehearse(args.name, progress=print)
        print(f"{rehearsal.severity} after {rehearsal.page_after:.1f} s (bound {rehearsal.page_bound:.0f} s)")
        print(rehearsal.result)
    elif args.action == "results":
        frame = drills.results()
        shown = newest_first(frame, args)
        if args.json:
            print(shown.to_json(orient="records", indent=2))
        elif len(frame):
            print(_drill_results_table(shown))
            more(len(frame) - len(shown), "drills")
        else:
            print("no drill has ended yet")
    return 0


def _drill_status(current, args: argparse.Namespace) -> str:
    """The drill as ``kit drill status`` shows it: the newest events first, at most --limit unless --all."""
    from ..timeline import clock

    lines = [f"drill {current.run}: {current.title} ({'running' if current.active else 'ended'}, "
             f"{clock(current.elapsed)} elapsed)"]
    if current.roles:
        lines.append("roles: " + ", ".join(f"{role}: {who}" for role, who in current.roles.items()))
    events = current.visible_events()[::-1]
    shown = events if args.all else events[:args.limit]
    lines += [f"  {'+' + clock(e.t - current.started_at):>7}  {e.kind:<17} {e.text}" for e in shown]
    if len(events) > len(shown):
        lines.append(f"  ({len(events) - len(shown)} older events not shown: --limit N or --all)")
    times = {k: v for k, v in current.response_times.as_dict().items() if v is not None}
    if times:
        lines.append("response times: " + ", ".join(f"{k[:-2].upper()} {clock(v)}" for k, v in times.items()))
    return "\n".join(lines)


def _drill_results_table(frame) -> str:
    """Finished drills with local start and end times and the response times as m:ss."""
    from ..timeline import clock

    view = frame.drop(columns=["actions", "roles"], errors="ignore").copy()
    for column in ("started_at", "ended_at"):
        if column in view:
            view[column] = view[column].map(local_time)
    for column in [c for c in view.columns if c.startswith("tt") and c.endswith("_s")]:
        view[column] = view[column].map(lambda s: "-" if s is None or s != s else clock(s))
        view = view.rename(columns={column: column[:-2]})
    return view.to_string(index=False)
