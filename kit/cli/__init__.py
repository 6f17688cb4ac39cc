"""The `kit` command: parses, calls the modules, prints. One line and an exit code on error.

Each command group lives in a module of its own here (``sandbox``, ``faults``, ``drills``, …): its
parsers and its handlers, registered with ``command``. This module holds what they share: the
registry, the parser class, the formatting helpers, and ``main``, which turns signals and
``KitError`` into exit codes. The group modules are imported by ``build_parser`` only; at import
they read just the tables their parsers list (kit.shop.faults', kit.binaries'), and import the modules
that do the work inside their handlers, so ``kit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .. import __version__
from ..config import Config
from ..errors import KitError


@dataclass(frozen=True)
class Command:
    """A `kit` command: its line in `kit --help`, how its arguments are declared and what runs it."""

    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None


COMMANDS: dict[str, Command] = {}

GROUPS: tuple[str, ...] = ("sandbox", "lab", "mob", "faults", "pages", "drills", "runbooks", "query", "grading", "slo",
                           "history", "load", "hub", "dora", "releases", "catalog", "readiness", "oncall", "cop",
                           "session", "ceremony")
"""The modules of kit.cli that register commands, one per group."""

LISTING: tuple[str, ...] = ("up", "down", "lab", "mob", "status", "logs", "fault", "flag", "pages", "drill", "mitigate",
                            "release", "readiness", "runbooks", "catalog", "oncall", "cop", "ceremony", "query",
                            "labs", "check", "grade", "hub", "slo", "history", "load", "dora", "session", "render",
                            "config", "binaries")
"""The order `kit --help` lists the commands in: running the sandbox, breaking and mending it, then grading,
SLOs and load, and setup last. Groups interleave here, so the order is stated, not taken from the modules."""


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] | None = None
            ) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register the decorated handler as `kit NAME`; ``arguments`` adds its options to the command's parser."""
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = Command(help, run, arguments)
        return run
    return register


def config_from(args: argparse.Namespace) -> Config:
    """The environment's settings, with the command's ``--profile`` when it has one."""
    return Config.from_env(profile=getattr(args, "profile", None))


def plain_number(value) -> str:
    """A number as a person writes it (250.0 -> 250, never in e-notation); other values as they are."""
    if not isinstance(value, float):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return f"{value:.12f}".rstrip("0") if "e" in text else text


def text_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A plain text table, left-aligned, as wide as its widest cell per column."""
    cells = [tuple(str(c) for c in row) for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def local_time(value) -> str:
    """A moment (Unix seconds or a datetime) as local time to the second, e.g. 2026-11-30 10:55:01; "-" if none."""
    from datetime import datetime

    if value is None or (isinstance(value, float) and value != value):  # NaN: a row without that moment
        return "-"
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)  # an aware datetime is a moment
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def newest_first(frame, args: argparse.Namespace):
    """The newest rows first (a frame stored oldest first), at most --limit of them unless --all."""
    newest = frame.iloc[::-1].reset_index(drop=True)
    return newest if args.all else newest.head(args.limit)


def more(hidden: int, what: str) -> None:
    """Say how many older ``what`` a --limit left out, and how to see them."""
    if hidden > 0:
        print(f"({hidden} older {what} not shown: --limit N or --all)")


class KitParser(argparse.ArgumentParser):
    """The parser of `kit` and of every one of its (sub)commands.

    Options are never abbreviated (``--rout`` must not pass for ``--route``), and an
    option a command does not know is reported by that command with its own usage:
    argparse would hand it up to `kit` itself, whose usage does not show it. So
    ``parse_known_args`` leaves nothing unknown; subparsers inherit this class.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        parsed, unknown = super().parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)} (see `{self.prog} --help`)")
        return parsed, unknown


def listing(names: Iterable[str]) -> str:
    """Names as a sentence lists them: "a, b or c"."""
    names = list(names)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def add_limit(parser: argparse.ArgumentParser, what: str, default: int = 20) -> None:
    """--limit/--all for a list that grows, shown newest first."""
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--limit", type=_at_least_one, default=default, metavar="N",
                       help=f"show the newest N {what} (default {default})")
    shown.add_argument("--all", action="store_true", help=f"show every {what.rstrip('s')}")


def _name_subcommands(parser: argparse.ArgumentParser) -> None:
    """Fill "{actions}" in a command's help with its subcommands, so the list cannot fall behind the parser.

    An older name kept as an alias (`kit drill check`) is left out: the help names each action once.
    """
    for commands in (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)):
        for entry in commands._choices_actions:
            child = commands.choices[entry.dest]
            if entry.help and "{actions}" in entry.help:
                names = next([e.dest for e in a._choices_actions]
                             for a in child._actions if isinstance(a, argparse._SubParsersAction))
                entry.help = entry.help.replace("{actions}", listing(names))
            _name_subcommands(child)


def build_parser() -> argparse.ArgumentParser:
    """The parser of `kit` and every command, in ``LISTING`` order; a registered command missing there fails."""
    for group in GROUPS:
        importlib.import_module(f".{group}", __name__)
    parser = KitParser(prog="kit", description="Reliability Dojo: the sandbox, faults, the pager and grading.")
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in sorted(COMMANDS, key=LISTING.index):
        entry = COMMANDS[name]
        p = sub.add_parser(name, help=entry.help)
        if entry.arguments is not None:
            entry.arguments(p)
    _name_subcommands(parser)
    return parser


def refusal(args: Sequence[str]) -> str | None:
    """Why `kit ARGS` would be refused, as its parser says it on its last line; None when the parser accepts them.

    For checking a command written down somewhere (kit.runbooks's linter, through ``kit.command_refusal``)
    without running it: argparse's messages and exit go to a buffer instead of the terminal.
    """
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(list(args))
    except SystemExit as exit_:
        if exit_.code:
            reason = errors.getvalue().strip().splitlines()[-1:] or ["not a kit command"]
            return reason[0].removeprefix("kit: ")
    return None


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""What asks the kit to stop: Ctrl-C, a service manager or hub (SIGTERM), a closed terminal (SIGHUP)."""


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so every cleanup that Ctrl-C runs runs for them too."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _raise_stopped(signum: int, _frame) -> None:
    ignore_stop_signals()
    raise KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


def ignore_stop_signals() -> None:
    """Once stopping has begun, more stop signals are ignored: they would cut the cleanup short."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


class _Forgiving:
    """A text stream whose writes never raise: after a hang-up the terminal is gone, and the cleanup must go on."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    """Run one `kit` command; its exit code: a KitError's own, 128 + the signal that stopped it, 130 on Ctrl-C."""
    # Commands that read notebooks or run nbgrader (labs, grade, hub) import jsonschema, which would import the
    # optional rfc3987_syntax to check the ``iri`` string format: a few dozen Earley grammars compiled, about
    # 1.4 s of CPU per command. Nothing the kit validates uses that format; without the package it goes unchecked.
    sys.modules.setdefault("rfc3987_syntax", None)
    args = build_parser().parse_args(argv)
    streams = sys.stdout, sys.stderr
    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    sys.stdout, sys.stderr = _Forgiving(sys.stdout), _Forgiving(sys.stderr)
    for signum, handler in handlers.items():
        if handler is not signal.SIG_IGN:  # nohup and background jobs ignore some on purpose
            signal.signal(signum, _raise_stopped)
    try:
        return COMMANDS[args.command].run(args)
    except KitError as exc:
        print(f"kit {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except Stopped as stop:
        print(f"kit {args.command}: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print(f"kit {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
