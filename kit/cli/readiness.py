"""`kit readiness review FILE`: what a release's readiness review leaves open for its class, as awareness.

The review never approves or blocks a release, so its exit code is 0 whatever it finds; `--strict` makes it 1
when something is open, for a CI job that wants to notice (and still approves nothing); 2 is a file that cannot
be read as a review. The bare `kit readiness`, for the live scorecard (`kit readiness [SERVICE]`), is not built
yet and says so in one line; the subcommands are optional so that it can be added beside `review`.
"""

from __future__ import annotations

import argparse

from ..errors import InvalidInput
from . import command


def _readiness_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    r = actions.add_parser("review", help="what a release's readiness review leaves open for its class: awareness, "
                                          "never an approval (exit 0; 1 with --strict when something is open; 2 when "
                                          "the file is not a review)")
    r.add_argument("file", metavar="FILE", help="a review made from readiness/review-template.md, such as "
                                                "readiness/shop-1.1.0.md")
    r.add_argument("--strict", action="store_true",
                   help="exit 1 when something the class needs is open, so that CI notices; it still approves nothing")


@command("readiness", "what a release's readiness review leaves open for its class (awareness, not approval)",
         _readiness_arguments)
def _readiness(args: argparse.Namespace) -> int:
    if args.action is None:
        raise InvalidInput("", "the live scorecard (`kit readiness [SERVICE]`) is not built yet; "
                               "`kit readiness review FILE` reads a release's readiness review")
    from ..ownership import review

    result = review.review(args.file)
    print(result)
    return 1 if args.strict and not result.ok else 0
