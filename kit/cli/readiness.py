"""`kit readiness [SERVICE]`: the live scorecard; `kit readiness review FILE`: a release's readiness review.

The scorecard (kit.ownership.scorecard) prints which level each service has reached and what to fix, as a
table, ``--json`` or an ``--html`` report; it exits 0, or 1 when ``--require LEVEL`` is not reached by every
service scored; 2 for a catalog that cannot be read or an unknown service.

The review never approves or blocks a release, so its exit code is 0 whatever it finds; `--strict` makes it 1
when something is open, for a CI job that wants to notice (and still approves nothing); 2 is a file that cannot
be read as a review.

argparse alone cannot tell `kit readiness shop` (a SERVICE) from `kit readiness review FILE` (an action): both
are a first word. ``_ServiceOrAction`` decides: a word that names an action runs it, any other word is the
SERVICE, and the options after it are read as the scorecard's.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from ..errors import InvalidInput
from . import command

_SCORECARD_OPTIONS = ("json", "html", "require")


class _AnyWord(Mapping):
    """The actions by name as argparse checks a choice: every word passes (it may be a SERVICE)."""

    def __init__(self, actions: dict) -> None:
        self._actions = actions

    def __contains__(self, word: object) -> bool:
        return True

    def __getitem__(self, name: str):
        return self._actions[name]

    def __iter__(self):
        return iter(self._actions)

    def __len__(self) -> int:
        return len(self._actions)


class _ServiceOrAction(argparse._SubParsersAction):
    """The subcommands of `kit readiness`, where a first word that is no action is the scorecard's SERVICE."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.choices = _AnyWord(self._name_parser_map)

    def __call__(self, parser, namespace, values, option_string=None):
        if values[0] in self._name_parser_map.keys():
            return super().__call__(parser, namespace, values, option_string)
        if getattr(namespace, "service", None) is not None:
            parser.error(f"unrecognized arguments: {' '.join(values)} (one SERVICE at most; see `{parser.prog} --help`)")
        namespace.service = values[0]
        parser.parse_args(values[1:], namespace)  # the scorecard's options, written after SERVICE


def _readiness_arguments(p: argparse.ArgumentParser) -> None:
    from ..ownership.scorecard import LEVELS

    levels = ", ".join(f"{lv.number} {lv.name}" for lv in LEVELS)
    p.description = (f"The live scorecard of SERVICE (default every component in catalog/): its checks against the "
                     f"running sandbox and the repository, the level reached ({levels}; each needs every check of "
                     "it and of the levels below) and what to fix. `kit readiness review FILE` reads a release's "
                     "readiness review instead.")
    p.add_argument("--json", action="store_true", help="print the scorecards as JSON (a list, one object per service)")
    p.add_argument("--html", metavar="FILE", type=Path, help="also write a self-contained HTML report to FILE")
    p.add_argument("--require", metavar="LEVEL",
                   help=f"exit 1 unless every service scored reached LEVEL ({levels}), by name or number")
    p.set_defaults(service=None)
    actions = p.add_subparsers(dest="action", metavar="SERVICE | review", action=_ServiceOrAction,
                               help="a component of the catalog (shop) to score, or `review FILE`")
    r = actions.add_parser("review", help="what a release's readiness review leaves open for its class: awareness, "
                                          "never an approval (exit 0; 1 with --strict when something is open; 2 when "
                                          "the file is not a review)")
    r.add_argument("file", metavar="FILE", help="a review made from readiness/review-template.md, such as "
                                                "readiness/shop-1.1.0.md")
    r.add_argument("--strict", action="store_true",
                   help="exit 1 when something the class needs is open, so that CI notices; it still approves nothing")


@command("readiness", "the live scorecard of a service's operational readiness, or a release's readiness review",
         _readiness_arguments)
def _readiness(args: argparse.Namespace) -> int:
    if args.action == "review":
        given = [f"--{name}" for name in _SCORECARD_OPTIONS if getattr(args, name)]
        if given:
            raise InvalidInput(given[0], "is an option of the scorecard, not of `kit readiness review`")
        from ..ownership import review

        result = review.review(args.file)
        print(result)
        return 1 if args.strict and not result.ok else 0
    from ..ownership import scorecard

    required = scorecard.level_number(args.require) if args.require is not None else None
    report = scorecard.readiness([args.service] if args.service else None)
    if args.html is not None:
        try:
            args.html.write_text(report.html(), encoding="utf-8")
        except OSError as exc:
            raise InvalidInput("--html", f"cannot write {args.html}: {exc.strerror}") from None
    print(report.as_json() if args.json else report)
    if args.html is not None and not args.json:
        print(f"\nHTML report: {args.html}")
    if required is not None and report.lowest < required:
        if not args.json:
            below = ", ".join(f"{c.service} ({c.level} {c.level_name})" for c in report.cards if c.level < required)
            print(f"\nbelow the required level {required} {scorecard.LEVELS[required - 1].name if required else 'none'}"
                  f": {below}")
        return 1
    return 0
