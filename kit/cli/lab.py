"""`kit lab`: the sandbox and JupyterLab together, for as long as JupyterLab runs."""

from __future__ import annotations

import argparse

from ..config import PROFILES
from ..errors import InvalidInput
from . import command, config_from, ignore_stop_signals


def _lab_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)
    p.add_argument("--port", type=int, default=8888, help="JupyterLab port")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument("--lan", nargs="?", const="", metavar="ADDRESS",
                   help="let a mob on your network join this JupyterLab (token auth stays on); with --mob, the "
                        "join links carry ADDRESS, one of this machine's (default: its default route's)")
    p.add_argument("--facilitator", action="store_true",
                   help="open the repository with nbgrader's authoring and grading tools, not your working copies")
    p.add_argument("--mob", action="store_true",
                   help="one notebook for the whole mob: real-time collaboration on, a join link per member "
                        "(reprint them with `kit mob links`)")
    p.add_argument("--roster", metavar="NAMES",
                   help="with --mob: the members, comma-separated (default: the mob timer's roster), e.g. Ana,Ben,Cy")


@command("lab", "start the sandbox and open JupyterLab on your copy of lab 00; Ctrl-C, SIGTERM or SIGHUP stops both",
         _lab_arguments)
def _lab(args: argparse.Namespace) -> int:
    """Sandbox up, JupyterLab in the foreground; both stopped on Ctrl-C, SIGTERM, SIGHUP or when Jupyter exits.

    A learner's JupyterLab opens their working copies of the labs (made or updated
    first, see kit.grading.workcopy); ``--facilitator`` opens the repository with nbgrader's tools.
    ``--mob`` makes it the mob's shared server (kit.mobserver): collaboration on, a join link per member.
    JupyterLab runs in its own session, so a terminal's Ctrl-C or hang-up reaches this
    process only and the stop always goes one way: SIGTERM to Jupyter (which shuts its
    kernels down), then the sandbox. The sandbox and Jupyter are tethered to this
    process, so even a SIGKILL here stops them (on Linux).
    """
    from .. import lan, labserver, mobserver, procs, sandbox
    from ..grading import workcopy

    config = config_from(args)
    if args.roster is not None and not args.mob:
        raise InvalidInput("--roster", "names a mob's members; add --mob")
    if args.lan and not args.mob:
        raise InvalidInput("--lan", "ADDRESS is the address a mob's join links carry; add --mob, "
                                    "or give --lan without one")
    if args.mob:  # refused before anything starts: a busy port must not stop the sandbox another server uses
        roster = mobserver.roster(config, args.roster)
        where = lan.listening(args.port, args.lan)
        mobserver.check_port(where.bind, args.port)
    else:
        labserver.check_port("0.0.0.0" if args.lan is not None else "127.0.0.1", args.port)
    if not args.facilitator:
        print(workcopy.report(workcopy.ensure(config), config))
    launch = labserver.settings(config, port=args.port, lan=args.lan is not None, facilitator=args.facilitator,
                                browser=not args.no_browser, collaborate=args.mob)
    labserver.write_page_config(launch)
    if args.mob:
        links = mobserver.ensure_links(config.paths.mob_links, roster, base_url=where.base_url, opens=launch.opens)
        print(links.listing())
        if where.hint():
            print(where.hint())
        launch = mobserver.collaborative(launch, config)
    jupyter = None
    try:
        running = sandbox.up(args.profile, progress=print, tether=True)
        print("\n".join(f"{name}: {url}" for name, url in running.urls.items()))
        if args.lan is not None:
            print("JupyterLab is reachable from your network (token required); the sandbox stays on 127.0.0.1")
        jupyter = procs.start(launch.argv, log=None, cwd=launch.root_dir, env=launch.env)
        return jupyter.wait()
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM or SIGHUP (see main): a request to stop, done cleanly
        return 0
    finally:
        ignore_stop_signals()  # a second Ctrl-C or SIGTERM must not cut the stopping short
        if jupyter is not None:
            jupyter.stop(timeout=15)  # Jupyter shuts its kernels down on SIGTERM
        sandbox.down(progress=print)
        print("sandbox and JupyterLab stopped")

