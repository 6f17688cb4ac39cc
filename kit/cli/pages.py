"""`kit pages`: every notification the pager received (pages, tickets, resolved ones), newest first, with the team
it was routed to and who was on call for that team when the alert fired."""

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
        header = ("received", "status", "alertname", "severity", "team", "on call (primary / secondary)", "summary")
        print(text_table(header, [(local_time(row.received_at), row.status, row.alertname, row.severity,
                                   row.team or "-", _on_call(row, pager.NOT_RECORDED), row.summary)
                                  for row in shown.itertuples(index=False)]))
        more(len(frame) - len(shown), "notifications")
    return 0


def _on_call(row, not_recorded: str) -> str:
    """Who was on call when the alert fired, and why nobody was when someone is missing."""
    if not row.team or row.on_call_note == not_recorded:
        return "-" if not row.team else "not recorded"
    who = f"{row.primary or 'NOBODY'} / {row.secondary or 'NOBODY'}"
    return f"{who} ({row.on_call_note})" if row.on_call_note else who
