"""`kit query`: a PromQL instant query against the sandbox, as a table."""

from __future__ import annotations

import argparse

from . import command, local_time, plain_number


def _query_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr")


@command("query", "run a PromQL instant query against the sandbox", _query_arguments)
def _query(args: argparse.Namespace) -> int:
    from .. import prom
    frame = prom.query(args.expr)
    if frame.empty:
        print("(no series)")
    else:
        print(frame.assign(timestamp=frame["timestamp"].map(local_time), value=frame["value"].map(plain_number))
              .to_string(index=False))
    return 0
