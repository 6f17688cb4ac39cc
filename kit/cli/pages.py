"""`kit pages`: every notification the pager received (pages, tickets, resolved ones), newest first."""

from __future__ import annotations

import argparse
import json

from . import add_limit, command, local_time, more, newest_first, text_table


def _pages_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable, the same notifications")
    add_limit(p, "notifications")


@command("pages", "the notifications the pager received: pages, tickets and resolved alerts", _pages_arguments)
def _pages(args: argparse.Namespace) -> int:
    from .. import pager
    frame = pager.notifications()
    shown = newest_first(frame, args)
    if args.json:
        records = shown.drop(columns=["labels"]).assign(received_at=shown["received_at"].map(lambda t: t.isoformat()))
        print(json.dumps(records.to_dict(orient="records"), indent=2))
    elif frame.empty:
        print("no notifications yet")
    else:
        columns = ("received_at", "status", "alertname", "severity", "summary")
        print(text_table(("received", *columns[1:]), [(local_time(row[0]), *row[1:])
                                                     for row in shown[list(columns)].itertuples(index=False)]))
        more(len(frame) - len(shown), "notifications")
    return 0
