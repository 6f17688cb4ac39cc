"""`kit catalog check|show|routes`: the service catalog (Backstage descriptors in catalog/) validated, checked for
what an operable service needs, its declared dependencies compared with the calls Prometheus saw, and the
Alertmanager routes that page each owning team generated from it."""

from __future__ import annotations

import argparse

from . import command, text_table


def _catalog_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    c = actions.add_parser("check", help="validate the catalog, report dangling references and incomplete entries "
                                         "(exit 1 with one line per finding, 2 when a file is invalid)")
    c.add_argument("path", nargs="?", default=None, metavar="PATH",
                   help="a descriptor file or a folder of them (default: the repository's catalog/)")
    c.add_argument("--live", action="store_true",
                   help="also compare each component's dependsOn with the calls the running sandbox's Prometheus saw")
    c.add_argument("--window", default="15m", help="how far back --live looks for calls (default 15m)")
    c.add_argument("--root", default=None, help="folder the relative runbook links are read from (default: the one "
                                                "above the catalog folder, the repository root for catalog/)")
    s = actions.add_parser("show", help="a table of the components: owner, system, lifecycle, Prometheus job, "
                                        "dependencies")
    s.add_argument("path", nargs="?", default=None, metavar="PATH",
                   help="a descriptor file or a folder of them (default: the repository's catalog/)")
    r = actions.add_parser("routes", help="which team each job's pages go to, and whether the sandbox's "
                                          "alertmanager.yml routes them so (exit 1 when it does not)")
    r.add_argument("path", nargs="?", default=None, metavar="PATH",
                   help="a descriptor file or a folder of them (default: the repository's catalog/)")
    r.add_argument("--write", action="store_true", help="regenerate the routes and team receivers of the sandbox's "
                                                        "alertmanager.yml from the catalog (then `kit up` loads it)")


def _counted(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


@command("catalog", "check the service catalog (Backstage descriptors), show its components, or the routes that "
                    "page their owners", _catalog_arguments)
def _catalog(args: argparse.Namespace) -> int:
    from ..ownership import catalog

    loaded = catalog.load(args.path, root=getattr(args, "root", None))
    if args.action == "routes":
        return _routes(loaded, write=args.write)
    if args.action == "show":
        rows = [(c.name, str(c.owner), c.system.name if c.system else "-", c.lifecycle, c.prometheus_job or "-",
                 ", ".join(str(d) for d in c.depends_on) or "-") for c in loaded.components]
        print(text_table(("component", "owner", "system", "lifecycle", "job", "depends on"), rows))
        return 0
    calls = catalog.observed_calls(args.window) if args.live else None
    findings = catalog.check(loaded, calls, args.window if args.live else "")
    for finding in findings:
        print(finding)
    summary = (f"{_counted(len(loaded.entities), 'entity', 'entities')}, "
               f"{_counted(len(loaded.components), 'component')}: {_counted(len(findings), 'finding')}")
    if calls is not None:
        seen = ", ".join(f"{c.caller} -> {c.callee} ({c.requests:.0f})" for c in calls) or "none"
        summary += f"; calls seen over the last {args.window}: {seen}"
    print(summary)
    return 1 if findings else 0


def _routes(loaded, *, write: bool) -> int:
    from pathlib import Path

    from ..config import ALERTMANAGER_CONFIG, Config
    from ..ownership import routing
    from ..promfiles import read_yaml

    routes = routing.team_routes(loaded)
    print(text_table(("team (receiver)", "jobs", "components"),
                     [(r.team, ", ".join(r.jobs), ", ".join(r.components)) for r in routes]) if routes
          else "no team owns a component with a Prometheus job: every page goes to the default receiver")
    path = Path(Config.from_env().sandbox_dir) / ALERTMANAGER_CONFIG  # the sandbox `kit up` renders
    if write:
        print(f"{path}: {'routes rewritten; `kit up` loads them' if routing.write(path, loaded) else 'already in step'}")
        return 0
    findings = routing.drift(read_yaml(path), loaded, str(path))
    for finding in findings:
        print(finding)
    if not findings:
        print(f"{path} routes every page as the catalog says")
    return 1 if findings else 0
