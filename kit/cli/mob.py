"""`kit mob`: the mob's shared JupyterLab (`kit lab --mob`): its members' join links."""

from __future__ import annotations

import argparse

from . import command, config_from


def _mob_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("links", help="print every member's join link (they survive a restart of `kit lab --mob`)")
    add = sub.add_parser("add", help="give a newcomer, or a member whose link was revoked, a new join link")
    add.add_argument("name")
    revoke = sub.add_parser("revoke", help="revoke a member's join link at once, and the login it gave their browser")
    revoke.add_argument("name")


@command("mob", "the mob's shared JupyterLab (kit lab --mob): {actions} join links", _mob_arguments)
def _mob(args: argparse.Namespace) -> int:
    return {"links": _links, "add": _add, "revoke": _revoke}[args.action](args)


def _links(args: argparse.Namespace) -> int:
    from .. import mobserver

    links = mobserver.load_links(config_from(args).paths.mob_links)
    if not links.names():
        print("no join links yet: `kit lab --mob --roster Ana,Ben,Cy` makes them")
        return 1
    print(links.listing())
    return 0


def _add(args: argparse.Namespace) -> int:
    from .. import mobserver

    config = config_from(args)
    link = mobserver.add_member(config.paths.mob_links, args.name)
    links = mobserver.load_links(config.paths.mob_links)
    print(f"{link.name}: {links.url(link)}" if links.base_url else
          f"{link.name} has a join link; `kit lab --mob` prints it once the server runs")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from .. import mobserver

    link = mobserver.revoke(config_from(args).paths.mob_links, args.name)
    print(f"{link.name}'s join link is revoked; their browser is refused from its next request")
    return 0
