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
from .errors import KitError

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
        params = {k: getattr(args, k) for k in ("ms", "percent", "route", "ratio", "code", "slots", "mb_per_s", "mode")
                  if getattr(args, k) is not None}
        applied = faults.set_fault(args.kind, service=args.service, **params)
        print(f"fault {args.kind} set: {json.dumps(applied)}")
    elif args.action == "clear":
        faults.clear_faults(args.kind, service=args.service)
        print(f"cleared {args.kind or 'all faults'}")
    else:
        active = faults.list_faults(reveal=args.reveal)
        print(json.dumps(active, indent=2))
    return 0


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
    if args.json:
        records = frame.drop(columns=["labels"]).assign(received_at=frame["received_at"].astype(str))
        print(json.dumps(records.to_dict(orient="records"), indent=2))
    elif frame.empty:
        print("no pages yet")
    else:
        view = frame[["received_at", "status", "alertname", "severity", "summary"]].tail(args.last)
        print(view.to_string(index=False))
    return 0


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
        print(replace(current, secret=False) if args.reveal else current)
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
        print(frame.drop(columns=["actions", "roles"], errors="ignore").to_string(index=False)
              if len(frame) else "no drill has ended yet")
    return 0


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
    print(frame.to_string(index=False) if not frame.empty else "(no series)")
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
    if args.action == "build":
        for path in grading.build_labs(args.lab):
            print(f"built {path}")
        return 0
    result = grading.check_labs()
    print(result)
    return 0 if result.ok else 1


@command("check")
def _check(args) -> int:
    from . import grading
    report = grading.grade_notebook(args.notebook, lab=args.lab)
    print(report)
    return 0 if report.passed else 1


@command("grade")
def _grade(args) -> int:
    from . import grading
    book = grading.grade_cohort(args.submissions, args.lab, args.out, progress=print)
    print(f"gradebook written to {book.csv} ({len(book.reports)} submissions)")
    return 0


FIRST_LAB = "labs/00-mob-and-sandbox/00-mob-and-sandbox.ipynb"


@command("lab")
def _lab(args) -> int:
    """Sandbox up, JupyterLab in the foreground; both stopped on Ctrl-C, SIGTERM, SIGHUP or when Jupyter exits.

    JupyterLab runs in its own session, so a terminal's Ctrl-C or hang-up reaches this
    process only and the stop always goes one way: SIGTERM to Jupyter (which shuts its
    kernels down), then the sandbox. The sandbox and Jupyter are tethered to this
    process, so even a SIGKILL here stops them (on Linux).
    """
    import subprocess

    from . import procs, sandbox
    from .config import REPO_ROOT

    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={REPO_ROOT}",
            f"--ServerApp.ip={'0.0.0.0' if args.lan else '127.0.0.1'}", f"--ServerApp.port={args.port}",
            "--ServerApp.answer_yes=True", FIRST_LAB]
    if args.no_browser:
        argv.append("--no-browser")
    if os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")
    jupyter = None
    try:
        sandbox.up(args.profile, progress=print, tether=True)
        if args.lan:
            print("JupyterLab is reachable from your network (token required); the sandbox stays on 127.0.0.1")
        jupyter = subprocess.Popen(procs.tethered(argv), cwd=REPO_ROOT, start_new_session=True)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kit", description="Reliability Dojo: the sandbox, faults, pages and grading.")
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="start the sandbox (or repair it) and wait until every target is healthy")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None, help="timing profile (default lab, or KIT_PROFILE)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for health")
    sub.add_parser("down", help="stop every sandbox process")
    p = sub.add_parser("lab", help="start the sandbox and open JupyterLab on lab 00; Ctrl-C, SIGTERM or SIGHUP stops both")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)
    p.add_argument("--port", type=int, default=8888, help="JupyterLab port")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument("--lan", action="store_true",
                   help="let a mob on your network join this JupyterLab (token auth stays on)")
    p = sub.add_parser("status", help="each process, its pid, port and health; Prometheus targets (exit 1 if unhealthy)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("logs", help="the last lines of a process's log")
    p.add_argument("name", help="shop, payments, pager, alertmanager, prometheus or traffic")
    p.add_argument("-n", "--lines", type=int, default=50)

    p = sub.add_parser("fault", help="inject or clear faults through the admin API")
    fault = p.add_subparsers(dest="action", required=True)
    s = fault.add_parser("set", help="inject a fault: latency, errors, capacity, broken_metrics, bad_deploy, payments_down, payments_slow")
    s.add_argument("kind")
    s.add_argument("--service", choices=["shop", "payments"], default=None)
    s.add_argument("--ms", type=float, help="extra latency in milliseconds (latency, payments_slow)")
    s.add_argument("--percent", type=float, help="share of requests affected, 100 = all (latency)")
    s.add_argument("--route", help="catalog, product, checkout or pay (default: every route)")
    s.add_argument("--ratio", type=float, help="share of requests that fail, 0-1 (errors)")
    s.add_argument("--code", type=int, help="HTTP status of injected errors, 5xx (errors)")
    s.add_argument("--slots", type=int, help="worker slots left (capacity)")
    s.add_argument("--mb-per-s", type=float, help="megabytes leaked per second (memory_leak)")
    s.add_argument("--mode", choices=["error", "empty"], help="500 or an empty body (broken_metrics)")
    c = fault.add_parser("clear", help="clear one fault kind, or all")
    c.add_argument("kind", nargs="?")
    c.add_argument("--service", choices=["shop", "payments"], default=None)
    f = fault.add_parser("list", help="active faults on every service (hidden while a secret drill runs)")
    f.add_argument("--reveal", action="store_true", help="the game master's view: list them during a secret drill too")

    p = sub.add_parser("flag", help="turn a feature flag on or off")
    p.add_argument("name")
    p.add_argument("value", choices=["on", "off"])

    p = sub.add_parser("pages", help="pages the pager received")
    p.add_argument("--json", action="store_true")
    p.add_argument("--last", type=int, default=20, help="how many to show (table view)")

    p = sub.add_parser("drill", help="incident drills: list, start, status, ack, note, hint, check, end, results")
    drill = p.add_subparsers(dest="action", required=True)
    drill.add_parser("list", help="every scenario in drills/")
    d = drill.add_parser("start", help="check the steady state and inject a scenario (the wheel of misfortune with --random)")
    d.add_argument("name", nargs="?", help="scenario id (see `kit drill list`)")
    d.add_argument("--random", action="store_true", help="pick a scenario at random")
    d.add_argument("--secret", action="store_true", help="hide the scenario and its injections from the mob")
    for flag, role in (("--ic", "incident commander"), ("--driver", "driver"), ("--comms", "communications"),
                       ("--scribe", "scribe")):
        d.add_argument(flag, help=f"who is the {role}")
    d = drill.add_parser("status", help="the timeline so far and the response times")
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
    drill.add_parser("results", help="every finished drill")
    d = drill.add_parser("rehearse", help="run a scenario unattended with its documented mitigation (for facilitators)")
    d.add_argument("name")

    p = sub.add_parser("mitigate", help="real fixes: rollback, restart SERVICE, restore-capacity, shed-load")
    mitigate = p.add_subparsers(dest="action", required=True)
    mitigate.add_parser("rollback", help="deploy the previous shop version")
    m = mitigate.add_parser("restart", help="restart shop or payments")
    m.add_argument("service", choices=["shop", "payments"])
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
    p = sub.add_parser("check", help="grade your own copy of a lab: points per exercise (exit 1 unless full marks)")
    p.add_argument("notebook")
    p.add_argument("--lab", default=None, help="which lab it is (default: from the file or folder name)")
    p = sub.add_parser("grade", help="autograde a folder of submissions into a CSV gradebook")
    p.add_argument("submissions", help="folder of <student>/<lab>/<lab>.ipynb or <student>.ipynb")
    p.add_argument("--lab", required=True)
    p.add_argument("--out", default="gradebook.csv", help="CSV file to write")
    p = sub.add_parser("slo", help="validate an SLO spec, generate its alert rules, test them, apply them")
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
    r.add_argument("--route", choices=["catalog", "product", "checkout", "health"], default=None,
                   help="hit one route only (default: weighted shop journeys)")
    r.add_argument("--step-users", type=int, default=0, help="step shape: add this many users every --step-seconds")
    r.add_argument("--step-seconds", type=float, default=5.0)
    o = load_sub.add_parser("open", help="send requests at a constant rate, latency measured from intended start")
    o.add_argument("--rate", type=float, required=True, help="requests per second")
    o.add_argument("--duration", type=float, default=10.0)
    o.add_argument("--route", choices=["catalog", "product", "checkout", "health"], default=None)
    v = load_sub.add_parser("slo", help="does a latency SLO hold at this load, and how much budget does the test burn")
    v.add_argument("spec", help="latency SLO spec, e.g. slos/catalog-latency.yml")
    v.add_argument("--rate", type=float, required=True, help="requests per second to offer")
    v.add_argument("--duration", type=float, default=10.0)
    v.add_argument("--route", choices=["catalog", "product", "checkout"], default=None)
    c = load_sub.add_parser("search", help="step the offered load up until the shop stops keeping up: the knee")
    c.add_argument("--expected", type=float, required=True,
                   help="expected capacity in req/s (worker slots / mean service time) to centre the steps on")
    c.add_argument("--route", choices=["catalog", "product", "checkout"], default=None)
    c.add_argument("--plot", default=None, help="PNG file for throughput, latency and errors against load")
    p = sub.add_parser("render", help="write the Prometheus/Alertmanager config for a profile into a folder")
    p.add_argument("--out", required=True, help="folder to write prometheus.yml, alertmanager.yml and rules/ into")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)
    p.add_argument("--compose", action="store_true", help="keep container host names (for docker-compose)")
    p = sub.add_parser("config", help="every setting, its KIT_* variable and current value")
    p.add_argument("--profile", choices=sorted(PROFILES), default=None)
    p = sub.add_parser("binaries", help="find (or --install) prometheus, promtool, alertmanager, amtool")
    p.add_argument("--install", action="store_true", help="install missing ones with the system package manager")
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
