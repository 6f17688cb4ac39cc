"""`kit league`: the Reliability League's table for a season (kit.community.league), with every award traceable
to its record: ``--team`` lists one team's awards, ``--html`` writes the league page, ``--plot`` the trend."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import command, text_table


def _league_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--season", metavar="FILE", help="the season's rules (default community/league.yaml); the "
                                                     "records are those in the same folder")
    p.add_argument("--team", metavar="TEAM", help="also list every award of TEAM (its id) with the record it came from")
    p.add_argument("--html", metavar="OUT", help="write the league page to OUT: every point links to its record")
    p.add_argument("--plot", metavar="OUT", help="save each team's points over the season to OUT (PNG, SVG or PDF)")
    p.add_argument("--json", action="store_true", help="machine-readable: every team with its awards and records")


@command("league", "the Reliability League: teams scored over a season, every point traced to its record",
         _league_arguments)
def _league(args: argparse.Namespace) -> int:
    from ..community import leaguesources
    from ..errors import InvalidInput

    found = leaguesources.season(args.season)
    if args.team is not None:
        try:
            standing = found.standing(args.team)
        except KeyError as error:
            raise InvalidInput("--team", error.args[0]) from None
    if args.html:
        root = Path(args.season).resolve().parent.parent if args.season else None
        base = (root or _repository()).as_uri() + "/"
        Path(args.html).write_text(found.html(base), encoding="utf-8")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        found.plot().figure.savefig(args.plot, dpi=110, bbox_inches="tight")
    if args.json:
        print(json.dumps(found.as_dict(), indent=2))
        return 0
    print(found)
    if args.team is not None:
        print(f"\n{standing.name}: {len(standing.awards)} awards")
        print(text_table(("date", "kind", "points", "record", "entry", "why"),
                         [(a.day, a.kind, f"{a.points:+g}", a.source, a.entry, a.why) for a in standing.awards]))
    for name, path in (("page", args.html), ("plot", args.plot)):
        if path:
            print(f"{name}: {path}")
    return 0


def _repository() -> Path:
    from ..config import CONTENT

    return Path(CONTENT.root).resolve()
