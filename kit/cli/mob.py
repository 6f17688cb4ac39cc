"""`kit mob`: the mob from a terminal: the timer's session (who drives, who is away, the rotation log,
snapshots) and the join links of the mob's shared JupyterLab (`kit lab --mob`).

Each action is a function of its own registered with ``action``, so actions can be added without touching
the others. The session's actions work on the file the notebook's timer uses (the kit state folder's
mob.json unless ``--path``), so the terminal and every timer view agree; the links' actions work on the
state folder's links file.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Callable

from . import add_limit, command, config_from, local_time, more, text_table


@dataclass(frozen=True)
class Action:
    """A `kit mob` action: its help, its own arguments, and what runs it."""

    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None
    session: bool


ACTIONS: dict[str, Action] = {}


def action(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] | None = None, *,
           session: bool = True):
    """Register the decorated handler as `kit mob NAME`; ``session``: it works on the timer's session file."""
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        ACTIONS[name] = Action(help, run, arguments, session)
        return run
    return register


def _mob_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    for name, entry in ACTIONS.items():
        a = actions.add_parser(name, help=entry.help)
        if entry.session:
            a.add_argument("--path", default=None, metavar="FILE",
                           help="the session file (default: mob.json in the kit state folder, as the timer's)")
        if entry.arguments is not None:
            entry.arguments(a)


@command("mob", "the mob timer's session and the shared JupyterLab's join links: {actions}", _mob_arguments)
def _mob(args: argparse.Namespace) -> int:
    return ACTIONS[args.action].run(args)


def _session_path(args: argparse.Namespace):
    from pathlib import Path

    from .. import mob
    return Path(args.path) if args.path else mob.default_path()


def _saved(args: argparse.Namespace):
    """The saved session, or a KitError saying how to start one."""
    from .. import mob
    from ..errors import KitError
    path = _session_path(args)
    session = mob.load_session(path)
    if session is None:
        raise KitError(f"no mob session at {path}; start the timer in a notebook: kit.MobTimer(roster=[...])")
    return path, session


@action("status", "who drives, navigates and is away now, the time left, and whether a retro is due")
def _status(args: argparse.Namespace) -> int:
    import time

    from .. import mob
    path, session = _saved(args)
    mob.record_rotations(path, time.time())
    m = session.moment(time.time())
    state = "not started" if not m.started else "paused" if m.paused else "running"
    print(f"{'break' if m.on_break else f'turn {m.turn + 1}'} ({state}), {mob.format_seconds(m.seconds_left)} left")
    print(f"driver: {m.driver}\nnavigator: {m.navigator} (drives next)")
    print(f"researchers: {', '.join(m.researchers) or '(nobody)'}\naway: {', '.join(m.away) or '(nobody)'}")
    if m.retro:
        print("a retro is due: `kit mob retro`")
    return 0


def _name_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="a name from the roster (any case)")


@action("away", "a member steps away: the rotation passes them over until `kit mob back`", _name_argument)
def _away(args: argparse.Namespace) -> int:
    return _presence(args, away=True)


@action("back", "a member is back in the rotation from the next turn on", _name_argument)
def _back(args: argparse.Namespace) -> int:
    return _presence(args, away=False)


def _presence(args: argparse.Namespace, *, away: bool) -> int:
    import time

    from .. import mob
    path, session = _saved(args)
    change = (lambda s: s.step_away(args.name, time.time())) if away else (lambda s: s.come_back(args.name, time.time()))
    m = mob.change_session(path, change, session).moment(time.time())
    print(f"{session.member(args.name)} {'is away' if away else 'is back'}; driver: {m.driver}, navigator: {m.navigator}"
          f"{'; away: ' + ', '.join(m.away) if m.away else ''}")
    return 0


def _retro_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--done", action="store_true", help="the mob had its retro: hide the prompt until the next cycle")


@action("retro", "the retro questions for after a full cycle, and whether one is due", _retro_arguments)
def _retro(args: argparse.Namespace) -> int:
    import time

    from .. import mob
    if args.done:
        path, session = _saved(args)
        mob.change_session(path, lambda s: s.dismiss_retro(time.time()), session)
        print("retro done; the next prompt comes after the next full cycle")
        return 0
    session = mob.load_session(_session_path(args))
    m = session.moment(time.time()) if session is not None else None
    if m is not None:
        print(f"full cycles so far: {m.cycles}; " + ("a retro is due" if m.retro else "no retro due"))
    print("\n".join(f"- {q}" for q in mob.RETRO_QUESTIONS))
    return 0


def _log_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable, one object per turn")
    add_limit(p, "turns")


@action("log", "the rotation log: per turn the driver, navigator, times, cells run and exercises", _log_arguments)
def _log(args: argparse.Namespace) -> int:
    import pandas as pd

    from .. import mob
    table = mob.rotation_log(_session_path(args))
    shown = table if args.all else table.tail(args.limit)
    if args.json:
        def plain(value):
            if isinstance(value, tuple):
                return list(value)
            if pd.isna(value):
                return None
            return value.isoformat() if isinstance(value, pd.Timestamp) else value

        rows = [{k: plain(v) for k, v in row.items()} for row in shown.to_dict(orient="records")]
        print(json.dumps(rows, indent=2, default=int))
        return 0
    if table.empty:
        print("no turns yet: start the timer")
        return 0
    rows = [(t.turn, t.driver, t.navigator, local_time(t.started), local_time(t.ended) if t.how != "on" else "(on)",
             t.how, t.cell_count, t.runs, ", ".join(t.exercises) or "-", "-" if pd.isna(t.snapshot) else t.snapshot)
            for t in shown.itertuples(index=False)]
    print(text_table(("turn", "driver", "navigator", "started", "ended", "how", "cells", "runs", "exercises",
                      "snapshot"), rows))
    more(len(table) - len(shown), "turns")
    return 0


@action("snapshots", "the notebook copies taken at each rotation, to restore with `kit mob restore N`")
def _snapshots(args: argparse.Namespace) -> int:
    from .. import mob
    found = mob.snapshots(_session_path(args))
    if not found:
        print("no snapshots yet: one is taken at each rotation of a timer that knows its notebook")
        return 0
    print(text_table(("number", "taken", "reason", "cells", "KB", "notebook"),
                     [(s.number, local_time(s.taken_at), s.reason, s.cells, round(s.bytes / 1024), s.notebook)
                      for s in found]))
    return 0


def _restore_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("number", type=int, help="the snapshot's number (see `kit mob snapshots`)")


@action("restore", "put a snapshot back over its notebook; the notebook as it was is kept as a snapshot first",
        _restore_arguments)
def _restore(args: argparse.Namespace) -> int:
    from .. import mob
    done = mob.restore_snapshot(args.number, _session_path(args))
    kept = f"; what it replaced is snapshot {done.kept}" if done.kept is not None else ""
    print(f"restored snapshot {done.snapshot} to {done.notebook}{kept}")
    print("in JupyterLab, reopen the notebook (or File > Reload Notebook from Disk) to see it")
    return 0


@action("links", "print every member's join link to `kit lab --mob` (they survive a restart)", session=False)
def _links(args: argparse.Namespace) -> int:
    from .. import mobserver

    links = mobserver.load_links(config_from(args).paths.mob_links)
    if not links.names():
        print("no join links yet: `kit lab --mob --roster Ana,Ben,Cy` makes them")
        return 1
    print(links.listing())
    return 0


def _member_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the member's name as the links show it")


@action("add", "give a newcomer, or a member whose link was revoked, a new join link", _member_argument,
        session=False)
def _add(args: argparse.Namespace) -> int:
    from .. import mobserver

    config = config_from(args)
    link = mobserver.add_member(config.paths.mob_links, args.name)
    links = mobserver.load_links(config.paths.mob_links)
    print(f"{link.name}: {links.url(link)}" if links.base_url else
          f"{link.name} has a join link; `kit lab --mob` prints it once the server runs")
    return 0


@action("revoke", "revoke a member's join link at once, and the login it gave their browser", _member_argument,
        session=False)
def _revoke(args: argparse.Namespace) -> int:
    from .. import mobserver

    link = mobserver.revoke(config_from(args).paths.mob_links, args.name)
    print(f"{link.name}'s join link is revoked; their browser is refused from its next request")
    return 0
