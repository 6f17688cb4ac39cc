"""`kit up`, `down`, `status`, `logs`: the sandbox's life; `kit render`, `config`, `binaries`: what it runs with."""

from __future__ import annotations

import argparse
import json
import sys

from ..binaries import TOOLS
from ..config import PROFILES
from . import command, config_from, listing


def _up_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=sorted(PROFILES), default=None, help="timing profile (default lab, or KIT_PROFILE)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for health")


@command("up", "start the sandbox (or repair it) and wait until every target is healthy", _up_arguments)
def _up(args: argparse.Namespace) -> int:
    from .. import sandbox
    from ..errors import KitError
    from ..ownership import routing

    result = sandbox.up(args.profile, timeout=args.timeout, progress=print)
    print(result)
    try:
        stale = [str(finding) for finding in routing.stale()]
    except KitError as error:  # the sandbox is up all the same; say why the routes could not be checked
        stale = [f"the page routes could not be checked against the catalog: {error}"]
    for line in stale:
        print(f"warning: {line}", file=sys.stderr)
    return 0


@command("down", "stop every sandbox process")
def _down(args: argparse.Namespace) -> int:
    from .. import sandbox
    stopped = sandbox.down(progress=print)
    print(f"sandbox down ({len(stopped)} processes stopped)" if stopped else "sandbox was not running")
    return 0


def _status_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")


@command("status", "not running, starting, stopping, healthy or unhealthy: each process, its pid, "
                   "port and health; Prometheus targets (exit 1 unless healthy)", _status_arguments)
def _status(args: argparse.Namespace) -> int:
    from .. import sandbox
    current = sandbox.status()
    print(json.dumps(current.to_json(), indent=2) if args.json else current)
    return 0 if current.healthy else 1


def _logs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="a sandbox process, as `kit status` lists them")
    p.add_argument("-n", "--lines", type=int, default=50)


@command("logs", "the last lines of a process's log", _logs_arguments)
def _logs(args: argparse.Namespace) -> int:
    from .. import sandbox
    print(sandbox.logs(args.name, lines=args.lines))
    return 0


def _render_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="folder to write prometheus.yml, alertmanager.yml and rules/ into")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)
    p.add_argument("--compose", action="store_true", help="keep container host names (for docker-compose)")


@command("render", "write the Prometheus/Alertmanager config for a profile into a folder", _render_arguments)
def _render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import sandbox
    out = sandbox.render(config_from(args), Path(args.out), compose=args.compose)
    print(f"rendered the {config_from(args).profile} profile into {out}")
    return 0


def _config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)


@command("config", "every setting, its KIT_* variable and current value", _config_arguments)
def _show_config(args: argparse.Namespace) -> int:
    for name, env, value, help_text in config_from(args).describe():
        print(f"{env:<24} {value:<40} {help_text}")
    return 0


def _binaries_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--install", action="store_true", help="install missing ones with the system package manager")


@command("binaries", f"find (or --install) {listing(TOOLS)}", _binaries_arguments)
def _binaries(args: argparse.Namespace) -> int:
    from .. import binaries
    found = binaries.install(progress=print) if args.install else binaries.find_all()
    for tool in found.values():
        print(f"{tool.name:<14} {tool.version:<10} {tool.path}")
    return 0
