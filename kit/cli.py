"""The `kit` command: parses, calls the modules, prints. One line and an exit code on error."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Callable

from . import __version__
from .config import PROFILES, Config
from .errors import InvalidInput, KitError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn
    return register


def _config(args: argparse.Namespace) -> Config:
    return Config.from_env(profile=getattr(args, "profile", None))


@command("up")
def _up(args) -> int:
    from . import sandbox
    result = sandbox.up(args.profile, timeout=args.timeout, progress=print)
    print(result)
    return 0


@command("down")
def _down(args) -> int:
    from . import sandbox
    stopped = sandbox.down(progress=print)
    print(f"sandbox down ({len(stopped)} processes stopped)" if stopped else "sandbox was not running")
    return 0


@command("status")
def _status(args) -> int:
    from . import sandbox
    current = sandbox.status()
    print(json.dumps(current.to_json(), indent=2) if args.json else current)
    return 0 if current.healthy else 1


@command("logs")
def _logs(args) -> int:
    from . import sandbox
    print(sandbox.logs(args.name, lines=args.lines))
    return 0


@command("fault")
def _fault(args) -> int:
    from . import faults
    if args.action == "set":
        params = {k: getattr(args, k) for k in _fault_params() if getattr(args, k) is not None}
        applied = faults.set_fault(args.kind, service=args.service, **params)
        print(f"fault {args.kind} set: {_params_text(applied)}")
    elif args.action == "clear":
        faults.clear_faults(args.kind, service=args.service)
        print(f"cleared {args.kind or 'all faults'}")
    elif args.json:
        print(json.dumps(faults.list_faults(reveal=args.reveal), indent=2))
    else:
        print(_faults_table(faults.list_faults(reveal=args.reveal)))
    return 0


def _faults_table(active: dict[str, dict[str, dict]]) -> str:
    """Active faults as a table, one row per service and kind, its parameters as name=value."""
    rows = [(service, kind, _params_text(params)) for service, kinds in active.items() for kind, params in kinds.items()]
    if not rows:
        return "no faults active"
    return _columns(("service", "fault", "parameters"), rows)


def _params_text(params: dict) -> str:
    """A fault's parameters as name=value; a route of None is every route."""
    return ", ".join(f"{k}={'every route' if v is None and k == 'route' else _number(v)}"
                     for k, v in params.items()) or "-"


def _number(value) -> str:
    """A number as a person writes it (250.0 -> 250, never in e-notation); other values as they are."""
    if not isinstance(value, float):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return f"{value:.12f}".rstrip("0") if "e" in text else text


def _columns(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A plain text table, left-aligned, as wide as its widest cell per column."""
    cells = [tuple(str(c) for c in row) for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def _local_time(value) -> str:
    """A moment (Unix seconds or a datetime) as local time to the second, e.g. 2026-11-30 10:55:01; "-" if none."""
    from datetime import datetime

    if value is None or (isinstance(value, float) and value != value):  # NaN: a row without that moment
        return "-"
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)  # an aware datetime is a moment
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


@command("flag")
def _flag(args) -> int:
    from . import faults
    faults.set_flag(args.name, args.value == "on")
    print(f"flag {args.name} {args.value}")
    return 0


@command("pages")
def _pages(args) -> int:
    from . import pager
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


def _newest(frame, args: argparse.Namespace):
    """The newest rows first (a frame stored oldest first), at most --limit of them unless --all."""
    newest = frame.iloc[::-1].reset_index(drop=True)
    return newest if args.all else newest.head(args.limit)


def _more(hidden: int, what: str) -> None:
    if hidden > 0:
        print(f"({hidden} older {what} not shown: --limit N or --all)")


@command("drill")
def _drill(args) -> int:
    from . import drills
    if args.action == "list":
        for scenario in drills.list_drills():
            print(f"{scenario.id:<24} {scenario.difficulty:<7} {scenario.title}")
        return 0
    if args.action == "start":
        roles = dict(zip(drills.ROLES, (args.ic, args.driver, args.comms, args.scribe)))
        current = drills.start(args.name, random=args.random, secret=args.secret,
                               roles={k: v for k, v in roles.items() if v}, progress=print)
        print(current)
        print("the drill is on: watch `kit pages`, follow the runbook, `kit drill ack` when paged")
    elif args.action == "status":
        from dataclasses import replace
        current = drills.status()
        print(_drill_status(replace(current, secret=False) if args.reveal else current, args))
    elif args.action == "ack":
        print(drills.ack(by=args.by or "").text)
    elif args.action == "note":
        print("noted: " + drills.note(" ".join(args.text), by=args.by or "").text)
    elif args.action == "hint":
        print(drills.hint())
    elif args.action == "check":
        results = drills.check()
        if drills.status().secret:
            print("the steady state holds" if all(r.holds for r in results) else "the steady state does not hold yet")
        else:
            print("\n".join(str(r) for r in results))
        return 0 if all(r.holds for r in results) else 1
    elif args.action == "end":
        print(drills.end(abandon=args.abandon, wait=args.wait))
    elif args.action == "rehearse":
        rehearsal = drills.rehearse(args.name, progress=print)
        print(f"{rehearsal.severity} after {rehearsal.page_after:.1f} s (bound {rehearsal.page_bound:.0f} s)")
        print(rehearsal.result)
    elif args.action == "results":
        frame = drills.results()
        shown = _newest(frame, args)
        if args.json:
            print(shown.to_json(orient="records", indent=2))
        elif len(frame):
            print(_drill_results_table(shown))
            _more(len(frame) - len(shown), "drills")
        else:
            print("no drill has ended yet")
    return 0


def _drill_status(current, args: argparse.Namespace) -> str:
    """The drill as ``kit drill status`` shows it: the newest events first, at most --limit unless --all."""
    from .postmortem import clock

    lines = [f"drill {current.run}: {current.title} ({'running' if current.active else 'ended'}, "
             f"{clock(current.elapsed)} elapsed)"]
    if current.roles:
        lines.append("roles: " + ", ".join(f"{role}: {who}" for role, who in current.roles.items()))
    events = current.visible_events()[::-1]
    shown = events if args.all else events[:args.limit]
    lines += [f"  {'+' + clock(e.t - current.started_at):>7}  {e.kind:<17} {e.text}" for e in shown]
    if len(events) > len(shown):
        lines.append(f"  ({len(events) - len(shown)} older events not shown: --limit N or --all)")
    figures = {k: v for k, v in current.figures.as_dict().items() if v is not None}
    if figures:
        lines.append("figures: " + ", ".join(f"{k[:-2].upper()} {clock(v)}" for k, v in figures.items()))
    return "\n".join(lines)


def _drill_results_table(frame) -> str:
    """Finished drills with local start and end times and the response times as m:ss."""
    from .postmortem import clock

    view = frame.drop(columns=["actions", "roles"], errors="ignore").copy()
    for column in ("started_at", "ended_at"):
        if column in view:
            view[column] = view[column].map(_local_time)
    for column in [c for c in view.columns if c.startswith("tt") and c.endswith("_s")]:
        view[column] = view[column].map(lambda s: "-" if s is None or s != s else clock(s))
        view = view.rename(columns={column: column[:-2]})
    return view.to_string(index=False)


@command("mitigate")
def _mitigate(args) -> int:
    from . import mitigations
    if args.action == "restart":
        print(mitigations.restart(args.service))
    else:
        print({"rollback": mitigations.rollback, "restore-capacity": mitigations.restore_capacity,
               "shed-load": mitigations.shed_load}[args.action]())
    return 0


@command("runbooks")
def _runbooks(args) -> int:
    return args.func(args)


@command("query")
def _query(args) -> int:
    from . import prom
    frame = prom.query(args.expr)
    if frame.empty:
        print("(no series)")
    else:
        print(frame.assign(timestamp=frame["timestamp"].map(_local_time), value=frame["value"].map(_number))
              .to_string(index=False))
    return 0


@command("slo")
def _slo(args) -> int:
    """validate / generate / test / apply an SLO spec."""
    from pathlib import Path

    from . import slo
    if args.action == "validate":
        for spec in slo.load_specs(Path(args.spec)):  # an OpenSLO file may hold several
            warnings = slo.validate_queries(spec) if args.live else []
            budget = slo.budget_minutes(spec.objective, spec.window)
            factors = ", ".join(f"{bw.factor:.4g}× over {bw.long}" for bw in slo.burn_windows(spec.window))
            print(f"{spec.name}: valid ({spec.objective:.4%} over {spec.window}, budget {budget:.1f} min of errors); "
                  f"burn factors {factors}")
            for warning in warnings:
                print(f"warning: {spec.name}: {warning}", file=sys.stderr)
        return 0
    spec = slo.load_spec(Path(args.spec))
    if args.action == "report":
        report = slo.budget_report(spec, days=args.days, step=args.step)
        print(report)
        if args.plot:
            import matplotlib
            matplotlib.use("Agg")
            from . import plots
            plots.budget_burndown(report).figure.savefig(args.plot, dpi=110, bbox_inches="tight")
            print(f"burn-down plot written to {args.plot}")
        return 0
    if args.action == "apply":
        from . import sandbox
        config = sandbox.current_config(None)
        scale = config.profile_spec.time_scale if args.time_scale is None else args.time_scale
        current = slo.install(spec, time_scale=scale, config=config)
        origin = f"the {config.profile} profile's" if args.time_scale is None else "as asked"
        print(f"installed slo-{spec.name} at time scale {scale:g}× ({origin}; {current.rules_loaded} rules loaded)")
        for warning in slo.validate_queries(spec, config):
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    profile = _config(args).profile_spec
    scale = 1.0 if args.time_scale is None else args.time_scale
    if args.action == "test":
        result = slo.test_rules(spec, time_scale=scale, profile=profile)
        print(result.output)
        return 0 if result.passed else 1
    text = slo.to_yaml(slo.generate_rules(spec, time_scale=scale, profile=profile))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


@command("history")
def _history(args) -> int:
    from . import history
    seed = {} if args.seed is None else {"seed": args.seed}
    result = history.load(args.days, progress=print, **seed)
    print(f"loaded {result.samples:,} samples of {result.series} series, {result.start:%Y-%m-%d %H:%M} to "
          f"{result.end:%Y-%m-%d %H:%M} UTC, in {result.seconds:.1f} s")
    for incident in result.incidents:
        print(f"  incident {incident.name}: {incident.shape} on {incident.route}, "
              f"{incident.start:%Y-%m-%d %H:%M} to {incident.end:%Y-%m-%d %H:%M} UTC")
    return 0


@command("load")
def _load(args) -> int:
    from . import load
    if args.action == "run":
        shape = load.Step(args.step_users, args.step_seconds) if args.step_users else None
        result = load.run(args.users, args.spawn_rate, args.duration, shape=shape, workers=args.workers,
                          route=args.route, progress=print)
        print(result.stats.to_string())
        return 0 if result.outcome == "done" else 1
    if args.action == "slo":
        from pathlib import Path

        from . import capacity, slo
        check = capacity.slo_at_load(slo.load_spec(Path(args.spec)), args.rate, args.duration,
                                     route=args.route or "catalog", progress=print)
        print(check.summary())
        return 0 if check.holds else 1
    if args.action == "search":
        from . import capacity
        found = capacity.search(args.route or "catalog", expected=args.expected, progress=print)
        print(found.summary())
        if args.plot:
            import matplotlib
            matplotlib.use("Agg")
            from . import plots
            plots.capacity_search(found)[0].figure.savefig(args.plot, dpi=110, bbox_inches="tight")
            print(f"plot written to {args.plot}")
        return 0
    result = load.open_model(args.rate, args.duration, route=args.route or "product", progress=print)
    print(result.summary())
    return 0 if result.outcome == "done" else 1


@command("render")
def _render(args) -> int:
    from pathlib import Path

    from . import sandbox
    out = sandbox.render(_config(args), Path(args.out), compose=args.compose)
    print(f"rendered the {_config(args).profile} profile into {out}")
    return 0


@command("config")
def _show_config(args) -> int:
    for name, env, value, help_text in _config(args).describe():
        print(f"{env:<24} {value:<40} {help_text}")
    return 0


@command("binaries")
def _binaries(args) -> int:
    from . import binaries
    found = binaries.install(progress=print) if args.install else binaries.find_all()
    for tool in found.values():
        print(f"{tool.name:<14} {tool.version:<10} {tool.path}")
    return 0


@command("labs")
def _labs(args) -> int:
    from . import grading
    if args.action == "copy":
        from . import workcopy
        config = _config(args)
        if args.fresh:
            if not args.lab:
                raise InvalidInput("lab", "--fresh replaces one lab's copy; name it: kit labs copy 00 --fresh")
            results = workcopy.fresh(args.lab, config)
        else:
            results = workcopy.ensure(config, [workcopy.find_lab(args.lab)] if args.lab else None)
        print(workcopy.report(results, config))
        return 0
    if args.action == "build":
        for path in grading.build_labs(args.lab):
            print(f"built {path}")
        return 0
    result = grading.check_labs()
    print(result)
    return 0 if result.ok else 1


@command("check")
def _check(args) -> int:
    from . import grading, workcopy
    report = grading.grade_notebook(workcopy.resolve(args.notebook, _config(args)), lab=args.lab, progress=print)
    print(report)
    return 0 if report.passed else 1


@command("grade")
def _grade(args) -> int:
    from . import grading
    book = grading.grade_cohort(args.submissions, args.lab, args.out, progress=print)
    print(book)
    return 0


@command("lab")
def _lab(args) -> int:
    """Sandbox up, JupyterLab in the foreground; both stopped on Ctrl-C, SIGTERM, SIGHUP or when Jupyter exits.

    A learner's JupyterLab opens their working copies of the labs (made or updated
    first, see kit.workcopy); ``--facilitator`` opens the repository with nbgrader's tools.
    JupyterLab runs in its own session, so a terminal's Ctrl-C or hang-up reaches this
    process only and the stop always goes one way: SIGTERM to Jupyter (which shuts its
    kernels down), then the sandbox. The sandbox and Jupyter are tethered to this
    process, so even a SIGKILL here stops them (on Linux).
    """
    import subprocess

    from . import labserver, procs, sandbox, workcopy

    config = _config(args)
    if not args.facilitator:
        print(workcopy.report(workcopy.ensure(config), config))
    launch = labserver.settings(config, port=args.port, lan=args.lan, facilitator=args.facilitator,
                                browser=not args.no_browser)
    labserver.write_page_config(launch)
    jupyter = None
    try:
        running = sandbox.up(args.profile, progress=print, tether=True)
        print("\n".join(f"{name}: {url}" for name, url in running.urls.items()))
        if args.lan:
            print("JupyterLab is reachable from your network (token required); the sandbox stays on 127.0.0.1")
        jupyter = subprocess.Popen(procs.tethered(launch.argv), cwd=launch.root_dir, env=launch.env,
                                   start_new_session=True)
        return jupyter.wait()
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM or SIGHUP (see main): a request to stop, done cleanly
        return 0
    finally:
        _ignore_stop_signals()  # a second Ctrl-C or SIGTERM must not cut the stopping short
        if jupyter is not None and jupyter.poll() is None:
            jupyter.terminate()  # Jupyter shuts its kernels down on SIGTERM
            try:
                jupyter.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(jupyter.pid, signal.SIGKILL)
                jupyter.wait()
        sandbox.down(progress=print)
        print("sandbox and JupyterLab stopped")


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


def _listing(names) -> str:
    """Names as a sentence lists them: "a, b or c"."""
    names = list(names)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _fault_params() -> dict[str, list[str]]:
    """Every parameter of the fault model and the kinds (aliases included) that take it, from kit.faults."""
    from .faults import ALIASES, FAULT_KINDS

    takers: dict[str, list[str]] = {}
    for name, kind in [*((k, k) for k in FAULT_KINDS), *((alias, real) for alias, (_, real) in ALIASES.items())]:
        for param in FAULT_KINDS[kind].params:
            takers.setdefault(param.name, []).append(name)
    return takers


def _add_fault_commands(sub) -> None:
    """`kit fault set|clear|list`: kinds, parameters, services and routes all from kit.faults' tables."""
    from .faults import ALIASES, FAULT_KINDS, ROUTES, SERVICES

    p = sub.add_parser("fault", help="inject or clear faults through the admin API")
    fault = p.add_subparsers(dest="action", required=True)
    kinds = [*FAULT_KINDS, *ALIASES]
    epilog = "fault kinds:\n" + "\n".join(
        [f"  {k.name:<22}{k.help} ({' or '.join(k.services)})" for k in FAULT_KINDS.values()]
        + [f"  {alias:<22}{kind} on {service}" for alias, (service, kind) in ALIASES.items()])
    s = fault.add_parser("set", help=f"inject a fault: {_listing(kinds)}", epilog=epilog,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("kind", metavar="KIND", help=f"{_listing(kinds)} (see below)")
    s.add_argument("--service", choices=SERVICES, default=None, help="where to inject (default: the shop)")
    params: dict = {}
    for kind in FAULT_KINDS.values():
        for param in kind.params:
            params.setdefault(param.name, param)  # the first kind's wording; the range is checked per kind
    for name, takers in _fault_params().items():
        param = params[name]
        text = param.help
        if param.minimum is not None and param.maximum is not None:
            text += f", {'over' if param.exclusive_minimum else 'from'} {param.minimum:g} to {param.maximum:g}"
        if name == "route":
            text += " (" + "; ".join(f"{service}: {_listing(routes)}" for service, routes in ROUTES.items()) + ")"
        s.add_argument(f"--{name.replace('_', '-')}", dest=name, type=param.type, choices=param.choices or None,
                       help=f"{text} [{', '.join(takers)}]")
    c = fault.add_parser("clear", help="clear one fault kind, or all")
    c.add_argument("kind", nargs="?", metavar="KIND", help=f"{_listing(kinds)}; every fault when omitted")
    c.add_argument("--service", choices=SERVICES, default=None)
    f = fault.add_parser("list", help="active faults on every service, as a table (hidden while a secret drill runs)")
    f.add_argument("--json", action="store_true", help="machine-readable: {service: {kind: parameters}}")
    f.add_argument("--reveal", action="store_true", help="the game master's view: list them during a secret drill too")


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def _add_limit(parser: argparse.ArgumentParser, what: str, default: int = 20) -> None:
    """--limit/--all for a list that grows, shown newest first."""
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--limit", type=_at_least_one, default=default, metavar="N",
                       help=f"show the newest N {what} (default {default})")
    shown.add_argument("--all", action="store_true", help=f"show every {what.rstrip('s')}")


def _name_subcommands(parser: argparse.ArgumentParser) -> None:
    """Fill "{actions}" in a command's help with its subcommands, so the list cannot fall behind the parser."""
    for commands in (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)):
        for entry in commands._choices_actions:
            child = commands.choices[entry.dest]
            if entry.help and "{actions}" in entry.help:
                names = next(a.choices for a in child._actions if isinstance(a, argparse._SubParsersAction))
                entry.help = entry.help.replace("{actions}", _listing(names))
            _name_subcommands(child)


def build_parser() -> argparse.ArgumentParser:
    from .binaries import TOOLS
    from .faults import FLAGS, ROUTES, SERVICES

    parser = KitParser(prog="kit", description="Reliability Dojo: the sandbox, faults, pages and grading.")
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    load_routes = (*ROUTES["shop"], "health")  # kit.load.ROUTES: the shop's business routes and its health check

    p = sub.add_parser("up", help="start the sandbox (or repair it) and wait until every target is healthy")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None, help="timing profile (default lab, or KIT_PROFILE)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for health")
    sub.add_parser("down", help="stop every sandbox process")
    p = sub.add_parser("lab", help="start the sandbox and open JupyterLab on your copy of lab 00; "
                                   "Ctrl-C, SIGTERM or SIGHUP stops both")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)
    p.add_argument("--port", type=int, default=8888, help="JupyterLab port")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument("--lan", action="store_true",
                   help="let a mob on your network join this JupyterLab (token auth stays on)")
    p.add_argument("--facilitator", action="store_true",
                   help="open the repository with nbgrader's authoring and grading tools, not your working copies")
    p = sub.add_parser("status", help="not running, starting, stopping, healthy or unhealthy: each process, its pid, "
                                      "port and health; Prometheus targets (exit 1 unless healthy)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("logs", help="the last lines of a process's log")
    p.add_argument("name", help="a sandbox process, as `kit status` lists them")
    p.add_argument("-n", "--lines", type=int, default=50)

    _add_fault_commands(sub)

    p = sub.add_parser("flag", help="turn a feature flag on or off")
    p.add_argument("name", metavar="NAME", help=_listing(FLAGS))
    p.add_argument("value", choices=["on", "off"])

    p = sub.add_parser("pages", help="pages the pager received")
    p.add_argument("--json", action="store_true", help="machine-readable, the same pages")
    _add_limit(p, "pages")

    p = sub.add_parser("drill", help="incident drills: {actions}")
    drill = p.add_subparsers(dest="action", required=True)
    drill.add_parser("list", help="every scenario in drills/")
    d = drill.add_parser("start", help="check the steady state and inject a scenario (the wheel of misfortune with --random)")
    d.add_argument("name", nargs="?", help="scenario id (see `kit drill list`)")
    d.add_argument("--random", action="store_true", help="pick a scenario at random")
    d.add_argument("--secret", action="store_true", help="hide the scenario and its injections from the mob")
    for flag, role in (("--ic", "incident commander"), ("--driver", "driver"), ("--comms", "communications"),
                       ("--scribe", "scribe")):
        d.add_argument(flag, help=f"who is the {role}")
    d = drill.add_parser("status", help="the timeline so far, newest first, and the response times")
    _add_limit(d, "events")
    d.add_argument("--reveal", action="store_true", help="the game master's view: show a secret drill's scenario")
    d = drill.add_parser("ack", help="acknowledge the page")
    d.add_argument("--by", help="who acknowledges")
    d = drill.add_parser("note", help="add a note to the timeline")
    d.add_argument("text", nargs="+")
    d.add_argument("--by", help="who writes it")
    drill.add_parser("hint", help="reveal the next hint")
    drill.add_parser("check", help="run the resolution check (the steady-state hypothesis) now")
    d = drill.add_parser("end", help="resolve once the steady state holds; writes the postmortem draft")
    d.add_argument("--abandon", action="store_true", help="end without resolving")
    d.add_argument("--wait", type=float, default=None, help="seconds to wait for the steady state")
    d = drill.add_parser("results", help="finished drills, newest first")
    d.add_argument("--json", action="store_true", help="machine-readable, the same drills")
    _add_limit(d, "drills")
    d = drill.add_parser("rehearse", help="run a scenario unattended with its documented mitigation (for facilitators)")
    d.add_argument("name")

    p = sub.add_parser("mitigate", help="real fixes: {actions}")
    mitigate = p.add_subparsers(dest="action", required=True)
    mitigate.add_parser("rollback", help="deploy the previous shop version")
    m = mitigate.add_parser("restart", help="restart shop or payments")
    m.add_argument("service", choices=SERVICES)
    mitigate.add_parser("restore-capacity", help="give the shop back its worker slots")
    mitigate.add_parser("shed-load", help="stop a noisy neighbour's extra load")

    from .runbooks import add_cli as _runbooks_cli
    _runbooks_cli(sub)

    p = sub.add_parser("query", help="run a PromQL instant query against the sandbox")
    p.add_argument("expr")
    p = sub.add_parser("labs", help="regenerate labs/ from solutions/, or check they are in sync")
    labs = p.add_subparsers(dest="action", required=True)
    b = labs.add_parser("build", help="regenerate labs/ (all labs, or one)")
    b.add_argument("lab", nargs="?")
    labs.add_parser("check", help="fail when labs/ is out of sync with solutions/ or leaks hidden tests")
    b = labs.add_parser("copy", help="make or update your working copies of the labs (KIT_WORK_DIR), as `kit lab` does")
    b.add_argument("lab", nargs="?", help="one lab: its name or number (default: every lab)")
    b.add_argument("--fresh", action="store_true",
                   help="replace your copy of LAB with the released version; yours is kept as a backup beside it")
    p = sub.add_parser("check", help="grade your own copy of a lab in a private sandbox (yours is left alone): "
                                     "points per exercise (exit 1 unless full marks)")
    p.add_argument("notebook", help="a lab's name or number (your working copy of it), or a notebook file")
    p.add_argument("--lab", default=None, help="which lab it is (default: from the file or folder name)")
    p = sub.add_parser("grade", help="autograde a folder of submissions into a CSV gradebook, in one private sandbox")
    p.add_argument("submissions", help="folder of <student>/<lab>/<lab>.ipynb or <student>.ipynb")
    p.add_argument("--lab", required=True)
    p.add_argument("--out", default="gradebook.csv", help="CSV file to write")
    p = sub.add_parser("slo", help="validate an SLO spec, generate its alert rules, test them, apply them, "
                                   "report its budget")
    slo_sub = p.add_subparsers(dest="action", required=True)
    for name, text in (("validate", "check a spec (own YAML or OpenSLO v1) and show its error budget"),
                       ("generate", "print (or --out) the recording and burn-rate alert rules"),
                       ("test", "generate promtool unit tests for the rules and run them"),
                       ("apply", "install the rules into the running sandbox and reload Prometheus"),
                       ("report", "error budget over the data in Prometheus (e.g. loaded history), with a plot")):
        a = slo_sub.add_parser(name, help=text)
        a.add_argument("spec", help="SLO spec file")
        if name == "validate":
            a.add_argument("--live", action="store_true", help="also ask the sandbox's Prometheus to parse the queries")
        elif name == "report":
            a.add_argument("--days", type=float, default=None, help="period (default: the SLO's window)")
            a.add_argument("--step", default="1h", help="resolution of the burn-down (default 1h)")
            a.add_argument("--plot", default=None, help="PNG file for the burn-down chart")
        elif name == "apply":
            a.add_argument("--time-scale", type=float, default=None,
                           help="divide every window by this factor (default: the running sandbox profile's, "
                                "as for its own rules and drills)")
        else:
            a.add_argument("--time-scale", type=float, default=None,
                           help="divide every window by this factor (default 1: production timing; "
                                "60 turns 1h into 1m)")
            a.add_argument("--profile", choices=sorted(PROFILES), default=None,
                           help="the sandbox profile the rules are for: its scrape interval must fill every "
                                "compressed window (default lab, or KIT_PROFILE)")
        if name == "generate":
            a.add_argument("--out", default=None, help="file to write (default: stdout)")
    p = sub.add_parser("history", help="backfill weeks of metric history (with known incidents) into the sandbox")
    history_sub = p.add_subparsers(dest="action", required=True)
    h = history_sub.add_parser("load", help="generate and load history; loading again replaces it")
    h.add_argument("--days", type=float, default=30, help="how many days, ending now (default 30)")
    h.add_argument("--seed", type=int, default=None, help="random seed (default: the kit's fixed one)")
    p = sub.add_parser("load", help="load-test the shop: locust (closed model) or a constant arrival rate (open model)")
    load_sub = p.add_subparsers(dest="action", required=True)
    r = load_sub.add_parser("run", help="run locust headless against the shop and print per-route statistics")
    r.add_argument("--users", type=int, default=10)
    r.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    r.add_argument("--duration", type=float, default=10.0, help="seconds (at most 600)")
    r.add_argument("--workers", type=int, default=0, help="locust worker processes on this machine (0: one process)")
    r.add_argument("--route", choices=load_routes, default=None,
                   help="hit one route only (default: weighted shop journeys)")
    r.add_argument("--step-users", type=int, default=0, help="step shape: add this many users every --step-seconds")
    r.add_argument("--step-seconds", type=float, default=5.0)
    o = load_sub.add_parser("open", help="send requests at a constant rate, latency measured from intended start")
    o.add_argument("--rate", type=float, required=True, help="requests per second")
    o.add_argument("--duration", type=float, default=10.0)
    o.add_argument("--route", choices=load_routes, default=None)
    v = load_sub.add_parser("slo", help="does a latency SLO hold at this load, and how much budget does the test burn")
    v.add_argument("spec", help="latency SLO spec, e.g. slos/catalog-latency.yml")
    v.add_argument("--rate", type=float, required=True, help="requests per second to offer")
    v.add_argument("--duration", type=float, default=10.0)
    v.add_argument("--route", choices=ROUTES["shop"], default=None)
    c = load_sub.add_parser("search", help="step the offered load up until the shop stops keeping up: the knee")
    c.add_argument("--expected", type=float, required=True,
                   help="expected capacity in req/s (worker slots / mean service time) to centre the steps on")
    c.add_argument("--route", choices=ROUTES["shop"], default=None)
    c.add_argument("--plot", default=None, help="PNG file for throughput, latency and errors against load")
    p = sub.add_parser("render", help="write the Prometheus/Alertmanager config for a profile into a folder")
    p.add_argument("--out", required=True, help="folder to write prometheus.yml, alertmanager.yml and rules/ into")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)
    p.add_argument("--compose", action="store_true", help="keep container host names (for docker-compose)")
    p = sub.add_parser("config", help="every setting, its KIT_* variable and current value")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)
    p = sub.add_parser("binaries", help=f"find (or --install) {_listing(TOOLS)}")
    p.add_argument("--install", action="store_true", help="install missing ones with the system package manager")
    _name_subcommands(parser)
    return parser


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""What asks the kit to stop: Ctrl-C, a service manager or hub (SIGTERM), a closed terminal (SIGHUP)."""


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so every cleanup that Ctrl-C runs runs for them too."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _raise_stopped(signum: int, _frame) -> None:
    _ignore_stop_signals()
    raise KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


def _ignore_stop_signals() -> None:
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

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    streams = sys.stdout, sys.stderr
    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    sys.stdout, sys.stderr = _Forgiving(sys.stdout), _Forgiving(sys.stderr)
    for signum, handler in handlers.items():
        if handler is not signal.SIG_IGN:  # nohup and background jobs ignore some on purpose
            signal.signal(signum, _raise_stopped)
    try:
        return COMMANDS[args.command](args)
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


if __name__ == "__main__":
    sys.exit(main())
