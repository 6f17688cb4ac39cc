"""`kit runbooks lint|notebook`: check the runbooks against the alert rules, or open one as a notebook."""

from __future__ import annotations

import argparse

from ..config import REPO_ROOT
from . import command


def _runbooks_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("lint", help="every paging alert links to a complete runbook whose queries run "
                                        "(exit 1 with one line per problem)")
    a.add_argument("--offline", action="store_true",
                   help="read sandbox/rules and slos/ instead of the running Prometheus; do not run the queries")
    a.add_argument("--root", default=str(REPO_ROOT), help="repository whose runbooks and rules to lint")
    a = actions.add_parser("notebook", help="write a runbook as an executable Jupyter notebook")
    a.add_argument("runbook", help="a runbook name (checkout-errors) or a Markdown file")
    a.add_argument("--out", default=None, help="notebook file to write (default: <state>/runbooks/NAME.ipynb)")


@command("runbooks", "lint the runbooks against the alert rules, or open one as a notebook", _runbooks_arguments)
def _runbooks(args: argparse.Namespace) -> int:
    from .. import runbooks
    if args.action == "lint":
        report = runbooks.lint(live=not args.offline, root=args.root)
        print(report)
        return 0 if report.ok else 1
    print(f"wrote {runbooks.to_notebook(args.runbook, args.out)}")
    return 0
