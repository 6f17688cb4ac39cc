"""`kit pages`: what the pager received, newest first."""

from __future__ import annotations

import argparse
import json

from . import _add_limit, _columns, _local_time, _more, _newest, command


def _pages_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable, the same pages")
    _add_limit(p, "pages")


@command("pages", "pages the pager received", _pages_arguments)
def _pages(args: argparse.Namespace) -> int:
    from .. import pager
    frame = pager.pages()
    shown = _newest(frame, args)
    if args.json:
        records = shown.drop(columns=["labels"]).assign(received_at=shown["received_at"].map(lambda t: t.isoformat()))
        print(json.dumps(records.to_dict(orient="records"), indent=2))
    elif frame.empty:
        print("no pages yet")
    else:
        columns = ("received_at", "status", "alertname", "severity", "summary")
        print(_columns(("received", *columns[1:]), [(_local_time(row[0]), *row[1:])
                                                     for row in shown[list(columns)].itertuples(index=False)]))
        _more(len(frame) - len(shown), "pages")
    return 0
