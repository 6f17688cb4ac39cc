"""`kit ceremony ...`: the community's ceremonies the kit runs. `kit ceremony alarming`: "What's alarming you", the
alert review of the sandbox's pages, alert history, drills and runbooks. `kit ceremony chaos-day ...`: several mobs
drilling at once on sandboxes of their own, one scoreboard, a joint debrief. `kit ceremony incident-lunch RUN`: a
past drill's timeline replayed in the minutes of a lunch."""

from __future__ import annotations

import argparse
import json

from . import command, text_table


def _ceremony_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("alarming", help="What's alarming you: per alert, pages (outside drills, resolved quickly "
                                            "with no action), time firing, flapping, runbooks, and a suggested "
                                            "action (exit 1 when any alert has one)")
    a.add_argument("--since", default="7d", help="how far back the review looks (default 7d)")
    a.add_argument("--json", action="store_true", help="machine-readable: the window, the thresholds and the alerts")
    a.add_argument("--plot", metavar="FILE", help="also save the pages per alert over time to FILE (PNG, SVG or PDF)")
    _chaos_day_arguments(actions.add_parser(
        "chaos-day", help="a Chaos Day from a plan file: {actions}"))
    lunch = actions.add_parser("incident-lunch", help="replay a past drill's timeline for the community, paced to "
                                                      "the minutes given, pausing before each decision the mob made")
    lunch.add_argument("run", help="the drill's run id (`kit drill results`), or last")
    lunch.add_argument("--minutes", type=float, default=20.0, help="how long the replay takes (default 20)")
    lunch.add_argument("--speed", type=float, default=None, metavar="N",
                       help="a fixed factor: N seconds of the drill per second (default: what fits the minutes)")
    lunch.add_argument("--agenda", action="store_true", help="print the paced agenda only, without replaying")


def _chaos_day_arguments(p: argparse.ArgumentParser) -> None:
    steps = p.add_subparsers(dest="step", required=True)

    def plan(name: str, help: str, community: bool = False) -> argparse.ArgumentParser:
        q = steps.add_parser(name, help=help)
        q.add_argument("plan", help="the Chaos Day's plan file (YAML; see guide/chaos-day.md)")
        if community:
            q.add_argument("--folder", default=None, metavar="DIR",
                           help="the community's records (default: the repository's community/)")
        return q

    plan("check", "validate the plan (exit 2 naming the field) and show each mob's rounds and sandbox", True)
    plan("up", "start every mob's sandbox, each with its own state folder and ports")
    e = plan("env", "the KIT_* variables for a mob's terminal: eval \"$(kit ceremony chaos-day env PLAN TEAM)\"")
    e.add_argument("team")
    r = plan("start", "start a round: every mob's planned drill at once, on its own sandbox")
    r.add_argument("round", type=int, help="the round, from 1")
    b = plan("board", "the scoreboard; --watch refreshes it until every round has ended")
    b.add_argument("--watch", type=float, default=None, metavar="SECONDS", help="refresh every SECONDS")
    b.add_argument("--html", default=None, metavar="FILE",
                   help="also write the scoreboard as a page (it reloads itself while drills run)")
    plan("debrief", "the joint debrief's agenda from the results (Markdown)")
    plan("record", "record every ended drill as a session of its mob in community/sessions", True)
    plan("down", "stop every mob's sandbox")


@command("ceremony", "run a community ceremony: {actions}", _ceremony_arguments)
def _ceremony(args: argparse.Namespace) -> int:
    if args.action == "chaos-day":
        return _chaos_day(args)
    if args.action == "incident-lunch":
        return _incident_lunch(args)
    from ..community import alertreview

    found = alertreview.alert_review(args.since)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        found.plot().figure.savefig(args.plot, dpi=110, bbox_inches="tight")
    if args.json:
        print(json.dumps(found.as_dict(), indent=2))
    else:
        print(found)
        if args.plot:
            print(f"plot: {args.plot}")
    return 1 if found.to_act_on else 0


def _chaos_day(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from ..community import chaosday, records
    from ..config import CONTENT

    folder = Path(args.folder) if getattr(args, "folder", None) else CONTENT.community
    known = records.load(folder) if args.step == "check" and folder.is_dir() else None
    plan = chaosday.load_plan(args.plan, records=known)
    if args.step == "check":
        print(f"{plan.title}: {len(plan.mobs)} mobs, {plan.rounds} rounds of {plan.round_minutes} minutes from "
              f"{plan.start:%Y-%m-%d %H:%M}" + (", secret" if plan.secret else ""))
        for mob in plan.mobs:
            print(f"  {mob.team}: {', '.join(mob.scenarios)}; game master {mob.game_master or '-'}; sandbox "
                  f"{plan.sandboxes / mob.team}")
    elif args.step == "up":
        configs = chaosday.up(plan, progress=print)
        for team, config in configs.items():
            print(f"{team}: sandbox up, shop {config.url('shop')}; its terminal: "
                  f'eval "$(kit ceremony chaos-day env {args.plan} {team})"')
    elif args.step == "env":
        for var, value in chaosday.mob_environment(plan, args.team).items():
            print(f"export {var}={value}")
    elif args.step == "start":
        runs = chaosday.start_round(plan, args.round, progress=print)
        print(f"round {args.round} is on for {', '.join(runs)}: each mob drills in its own terminal; "
              f"the scoreboard: kit ceremony chaos-day board {args.plan} --watch 5")
    elif args.step == "board":
        page = Path(args.html) if args.html else None

        def show(board) -> None:
            print(text_table(board.HEADER, board.cells()))
            for line in board.highlights():
                print(line)
            if page is not None:
                print(f"page: {page}")
            if args.watch is not None and not board.finished:
                print(f"(refreshing every {args.watch:g} s until every round has ended; Ctrl-C stops)\n")

        if args.watch is not None:
            chaosday.watch(plan, show, every=args.watch, page=page)
        else:
            board = chaosday.scoreboard(plan, chaosday.gather(plan), time.time())
            if page is not None:
                from ..atomicfile import write_atomically

                write_atomically(page, board.html(), mode=0o644)
            show(board)
    elif args.step == "debrief":
        board = chaosday.scoreboard(plan, chaosday.gather(plan), time.time())
        print(chaosday.debrief(plan, board, chaosday.scenario_questions(board)), end="")
    elif args.step == "record":
        added = chaosday.record_sessions(plan, chaosday.gather(plan), folder)
        for session in added:
            print(f"recorded {session.source} (drill {session.drill_run})")
        print(f"{len(added)} sessions recorded")
    elif args.step == "down":
        stopped = chaosday.down(plan, progress=print)
        print(f"stopped {len(stopped)} processes of {len(plan.mobs)} sandboxes")
    return 0


def _incident_lunch(args: argparse.Namespace) -> int:
    from .. import drills
    from ..community import incidentlunch
    from ..timeline import clock

    run = drills.last_run() if args.run == "last" else args.run
    lunch = incidentlunch.load(run)
    pacing = lunch.pacing(args.minutes, args.speed)
    if args.agenda:
        for at, what in incidentlunch.agenda(lunch, pacing):
            print(f"{clock(at):>7}  {what}")
        return 0
    incidentlunch.replay(lunch, pacing, out=lambda line: print(line, flush=True))
    return 0
