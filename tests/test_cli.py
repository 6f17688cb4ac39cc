"""The `kit` command as a person runs it: output, one-line errors and honest exit codes."""

import contextlib
import json
import os
import subprocess
import sys
import time

import pytest

from kit import localhttp, pager
from kit.config import REPO_ROOT
from kit.drills import lifecycle, scenarios
from kit.sandbox.record import locked
from kit.shop import faults
from kit.timeline import Event

pytestmark = pytest.mark.long  # thirty-odd commands, each a new process, some starting JupyterLab or a sandbox


def kit(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "kit.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_status_json_lists_every_process_and_target(live):
    result = kit("status", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["healthy"] is True
    assert {p["name"] for p in data["processes"]} == {"shop", "proxy", "payments", "pager", "alertmanager", "prometheus",
                                                      "traffic"}
    assert all(p["state"] == "healthy" and p["pid"] for p in data["processes"])
    assert data["targets"]["shop"] == "up"


def test_release_status_and_refusals_speak_in_one_line(live):
    status = kit("release", "status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == ["stable 1.0.0; no canary", "HAProxy weights: stable 100, canary 0"]
    promote = kit("release", "promote")
    assert promote.returncode != 0 and promote.stderr.strip() == (
        "kit release: canary: no canary is running to promote; `kit release deploy VERSION` starts one")
    weight = kit("release", "weight", "101")
    assert weight.returncode == 2 and "not a whole percentage from 0 to 100" in weight.stderr


def test_fault_set_list_clear_round_trip(clean_faults, capsys):
    from kit.cli import main

    assert main(["fault", "set", "latency", "--ms", "250", "--route", "product"]) == 0
    assert capsys.readouterr().out.strip() == "fault latency set: ms=250, percent=100, route=product"
    assert main(["fault", "set", "payments_slow", "--ms", "1500"]) == 0
    capsys.readouterr()
    assert main(["fault", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [  # a table a person reads, not JSON
        "service   fault    parameters",
        "shop      latency  ms=250, percent=100, route=product",
        "payments  latency  ms=1500, percent=100, route=every route",
    ]
    assert main(["fault", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shop"]["latency"]["ms"] == 250
    assert main(["fault", "clear"]) == 0
    assert faults.list_faults(config=clean_faults) == {"shop": {}, "payments": {}}
    assert main(["fault", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no faults active"


def test_bad_fault_input_is_one_line_naming_the_field_and_changes_nothing(clean_faults):
    faults.set_fault("latency", ms=100, config=clean_faults)
    result = kit("fault", "set", "errors", "--ratio", "1.5")
    assert result.returncode == 2
    assert "ratio" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert faults.list_faults(config=clean_faults)["shop"] == {"latency": {"ms": 100.0, "percent": 100.0, "route": None}}


def test_pages_json(clean_faults):
    since = time.time()
    faults.set_fault("errors", ratio=1.0, route="checkout", config=clean_faults)
    pager.wait_for_page("CheckoutErrorRatioHigh", since=since, timeout=30, config=clean_faults)
    pages = json.loads(kit("pages", "--json").stdout)
    assert any(p["alertname"] == "CheckoutErrorRatioHigh" and p["status"] == "firing" for p in pages)


def test_unknown_log_name_and_missing_binaries_fail_with_advice(live, tmp_path):
    result = kit("logs", "grafana")
    assert result.returncode == 1 and "choose one of" in result.stderr
    result = kit("up", env={"PATH": str(tmp_path), "KIT_STATE_DIR": str(tmp_path / "s")})
    assert result.returncode == 3 and "install" in result.stderr.lower()


def test_labs_are_in_sync_with_solutions():
    result = kit("labs", "verify")
    assert result.returncode == 0, result.stdout + result.stderr


SPEC = str(REPO_ROOT / "slos" / "checkout-availability.yml")


def test_slo_validate_generate_and_test():
    result = kit("slo", "validate", SPEC)
    assert result.returncode == 0 and "budget 43.2 min" in result.stdout, result.stderr
    result = kit("slo", "generate", SPEC, "--time-scale", "60")
    assert result.returncode == 0 and "slo:sli_error:ratio_rate5s" in result.stdout
    result = kit("slo", "test", SPEC)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout


def test_slo_bad_spec_names_the_field():
    result = kit("slo", "validate", str(REPO_ROOT / "tests/slo/specs/bad/empty-query.yml"))
    assert result.returncode == 2 and "sli.availability.total" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


OPENSLO = REPO_ROOT / "tests" / "slo" / "specs"


def test_slo_validate_lists_every_openslo_objective_and_other_actions_need_one(capsys):
    from kit.cli import main  # in-process: the same code path as the command, without a Python start-up

    assert main(["slo", "validate", str(OPENSLO / "good" / "checkout-openslo-multidoc.yml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["checkout-internal", "checkout-customer-promise"]
    assert "budget 40.3 min" in lines[0]  # 0.1 % of 28 days
    assert main(["slo", "generate", str(OPENSLO / "good" / "checkout-openslo-multidoc.yml")]) == 2
    err = capsys.readouterr().err
    assert "holds 2 SLOs (checkout-internal, checkout-customer-promise)" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("name,expected", [
    ("openslo-not-yaml.yml", "openslo-not-yaml.yml:17:1: not valid YAML: found character"),
    ("openslo-calendar-window.yml", "spec.timeWindow[0].isRolling: not supported: "
                                    "spec.timeWindow[0].isRolling=false (calendar-aligned windows)"),
    ("openslo-missing-indicator-ref.yml", "openslo-missing-indicator-ref.yml (document 2): spec.indicatorRef: "),
])
def test_slo_validate_shows_a_bad_openslo_file_in_one_line(capsys, name, expected):
    from kit.cli import main

    assert main(["slo", "validate", str(OPENSLO / "bad" / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kit slo: {OPENSLO / 'bad' / name}") and expected in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_slo_window_verdict_is_the_same_for_validate_and_generate():
    spec = str(REPO_ROOT / "tests/slo/specs/bad/window-one-day.yml")
    results = [kit("slo", action, spec) for action in ("validate", "generate")]
    assert [r.returncode for r in results] == [2, 2]
    assert len({r.stderr.split(": ", 1)[1] for r in results}) == 1
    assert "window: 1d is shorter than the longest alert window (3d" in results[0].stderr


def test_slo_time_scale_is_checked_against_the_profiles_scrape_interval():
    result = kit("slo", "generate", SPEC, "--time-scale", "60", "--profile", "realistic")
    assert result.returncode == 2
    assert "15s scrape interval" in result.stderr and "at most 5" in result.stderr


def test_slo_apply_uses_the_profile_scale_and_a_drill_never_removes_it(live):
    from kit import prom, sandbox, slo

    try:
        result = kit("slo", "apply", SPEC)
        assert result.returncode == 0, result.stderr
        assert "time scale 15× (the lab profile's" in result.stdout
        names = set(prom.rules(config=live)["name"])
        assert {"slo:sli_error:ratio_rate20s", "CheckoutAvailabilityErrorBudgetBurn"} <= names
        loaded = sandbox.status(live).rules_loaded
        # a drill that uses the same SLO installs the same rules under its own name: evaluated once
        slo.install(slo.load_spec(SPEC), name="drill-slo-checkout-availability", config=live)
        assert sandbox.status(live).rules_loaded == loaded
        lifecycle._reset(scenarios.load("bad-deploy"), live)  # what ending the drill does
        assert "CheckoutAvailabilityErrorBudgetBurn" in set(prom.rules(config=live)["name"])
        result = kit("slo", "apply", SPEC, "--time-scale", "60")
        assert result.returncode == 0 and "time scale 60× (as asked" in result.stdout, result.stderr
        assert "slo:sli_error:ratio_rate5s" in set(prom.rules(config=live)["name"])
    finally:
        sandbox.remove_rules("drill-slo-checkout-availability", config=live)
        sandbox.remove_rules("slo-checkout-availability", config=live)


def test_history_backfill_reports_incidents_and_load_is_its_old_name(live):
    result = kit("history", "backfill", "--days", "2")
    assert result.returncode == 0, result.stderr
    assert "backfilled" in result.stdout and "incident checkout-outage" in result.stdout
    result = kit("history", "load", "--days", "0")
    assert result.returncode == 2 and "days" in result.stderr


def test_load_commands_run_and_refuse_bad_input(live):
    result = kit("load", "run", "--users", "2", "--duration", "3", "--route", "catalog")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/catalog" in result.stdout
    result = kit("load", "open", "--rate", "50", "--duration", "2", "--route", "health")
    assert result.returncode == 0 and "answered" in result.stdout, result.stdout + result.stderr
    result = kit("load", "open", "--rate", "-5")
    assert result.returncode == 2 and "rate" in result.stderr


def test_load_commands_against_a_closed_port_fail_with_the_target_and_the_reason(tmp_path):
    from kit import procs

    closed = procs.free_port()  # nothing listens there
    target = f"http://127.0.0.1:{closed}"
    # A state folder of its own: with none recorded there, the sandbox to load is the one the environment names
    # (in the shared one, the test sandbox a session started would be loaded instead).
    env = {"KIT_SHOP_PORT": str(closed), "KIT_STATE_DIR": str(tmp_path)}
    for args in (("run", "--users", "2", "--duration", "2", "--route", "catalog"),
                 ("open", "--rate", "20", "--duration", "1", "--route", "catalog"),
                 ("search", "--expected", "50", "--route", "catalog")):
        result = kit("load", *args, env=env)
        assert result.returncode == 9, f"kit load {args[0]}: {result.stdout}{result.stderr}"
        assert f"measured nothing at {target}" in result.stderr and "refused" in result.stderr.lower(), result.stderr
        assert "Aggregated" not in result.stdout and "p99" not in result.stdout, "a statistics table of nothing"


def test_load_slo_command_judges_the_latency_slo(live):
    from kit import prom

    spec = str(REPO_ROOT / "slos" / "catalog-latency.yml")
    prom.wait_for('sum(rate(http_request_duration_seconds_count{job="shop", route="/catalog"}[5m])) > 0',
                  timeout=30, config=live)  # the budget is measured against the usual traffic
    result = kit("load", "slo", spec, "--rate", "40", "--duration", "2")
    assert result.returncode == 0 and "the SLO holds" in result.stdout, result.stdout + result.stderr


def _own_sandbox_env(tmp_path, token: str) -> dict[str, str]:
    """`kit lab` stops its sandbox on exit, so it gets its own state folder, ports and Jupyter folders."""
    from kit import procs

    env = {**os.environ, "KIT_STATE_DIR": str(tmp_path / "kit-state"), "KIT_PROFILE": "lab", "JUPYTER_TOKEN": token,
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"), "IPYTHONDIR": str(tmp_path / "ipython"),
           "PYTHONUNBUFFERED": "1"}
    env.pop("KIT_TEST_SESSION", None)
    taken = {int(os.environ[v]) for v in os.environ if v.startswith("KIT_") and v.endswith("_PORT")}
    from kit.config import PORTS, Config

    for var in (Config.__dataclass_fields__[setting].metadata["env"] for setting in PORTS):
        port = procs.free_port()
        while port in taken:
            port = procs.free_port()
        taken.add(port)
        env[var] = str(port)
    return env


class _Terminal:
    """A pseudo-terminal for a child's output, read as it comes (a full one would block the child); closable."""

    def __init__(self) -> None:
        import threading

        self.master, self.slave = os.openpty()
        self.output = bytearray()
        self.closing = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        import select

        while not self.closing.is_set():
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break
        os.close(self.master)

    def hang_up(self) -> None:
        """Close the terminal, as when its window is closed: the child's writes fail from now on."""
        self.closing.set()
        self.reader.join(5)

    def text(self) -> str:
        return self.output.decode(errors="replace")


@pytest.mark.parametrize("how", ["SIGTERM to the process", "SIGHUP to its process group, terminal closed, a mob's"])
def test_kit_lab_stops_everything_it_started_on_sigterm_and_sighup(tmp_path, how):
    """The second run is a mob's shared server (`kit lab --mob`): before it stops, a member's join link logs
    them in under their name, and the sandbox's Prometheus answers them through the JupyterLab URL."""
    import secrets
    import signal

    import httpx
    import psutil

    from kit import procs, sandbox
    from kit.config import Config

    token = secrets.token_hex(16)
    env = _own_sandbox_env(tmp_path, token)
    config = Config.from_env(env)
    port = procs.free_port()
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    terminal = _Terminal()
    # As a shell starts a job in a terminal: hang-ups at their default, even when this test run was started
    # with nohup (whose ignored SIGHUP `kit lab` would rightly keep ignoring).
    mob = ["--mob", "--roster", "Ana,Ben"] if how.endswith("a mob's") else []
    lab = subprocess.Popen([sys.executable, "-m", "kit.cli", "lab", "--no-browser", "--port", str(port), *mob],
                           cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=terminal.slave,
                           stderr=terminal.slave, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    os.close(terminal.slave)
    started: list[psutil.Process] = []
    try:
        def serving() -> bool:
            assert lab.poll() is None, f"kit lab exited early with {lab.returncode}:\n{terminal.text()}"
            try:
                return localhttp.client().get(f"{base}/api/status", headers=auth, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        assert procs.wait_until(serving, timeout=90, interval=0.2), f"JupyterLab never answered:\n{terminal.text()}"
        kernel = httpx.post(f"{base}/api/kernels", headers=auth, json={"name": "python3"}, timeout=30).json()
        parent = psutil.Process(lab.pid)

        def command_line(proc: psutil.Process) -> str:
            try:
                return " ".join(proc.cmdline())
            except psutil.Error:  # a short-lived helper of Jupyter's that has just exited (or is a zombie)
                return ""

        def kernel_started() -> bool:
            return any(kernel["id"] in command_line(p) for p in parent.children(recursive=True))

        assert procs.wait_until(kernel_started, timeout=60, interval=0.2), "the kernel never started"
        started = parent.children(recursive=True)
        assert set(sandbox.pids(config).values()) <= {p.pid for p in started}
        if mob:
            _a_member_joins_and_reaches_prometheus(terminal.text(), base)

        if how.startswith("SIGTERM"):
            lab.send_signal(signal.SIGTERM)  # a service manager or a hub stopping the server
        else:
            terminal.hang_up()
            os.killpg(lab.pid, signal.SIGHUP)  # the shell passes a closed terminal's hang-up on to its jobs
        assert lab.wait(timeout=90) == 0, terminal.text()
        left = procs.wait_stopped(started, timeout=30)
        assert not left, f"still running after {how}: {[' '.join(p.cmdline())[:120] for p in left]}"
        assert not sandbox.status(config).running
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()
        for proc in started:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        terminal.hang_up()
        sandbox.down(config)


def _a_member_joins_and_reaches_prometheus(printed: str, base: str) -> None:
    import re

    import httpx

    link = re.search(r"^Ana: (\S+)", printed, re.M)  # a terminal ends its lines with \r\n
    assert link and link.group(1).startswith(f"{base}/lab"), printed
    with httpx.Client(follow_redirects=True, timeout=30) as member:
        assert member.get(link.group(1)).status_code == 200
        assert member.get(f"{base}/api/me").json()["identity"]["name"] == "Ana"
        up = member.get(f"{base}/prometheus/api/v1/query", params={"query": "up"}).json()
        assert up["status"] == "success" and up["data"]["result"], up


# ------------------------------------------------------------------ the command line itself, in-process


def _parsers(parser=None, prefix=()):
    """Every (sub)command parser of `kit`, with the words that reach it (its name, not an older name kept as an
    alias: that reaches the same parser)."""
    import argparse

    from kit.cli import build_parser

    parser = parser or build_parser()
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for entry in action._choices_actions:
                yield from _parsers(action.choices[entry.dest], (*prefix, entry.dest))


def test_every_command_refuses_abbreviations_and_shows_its_own_usage_for_a_bad_option(capsys):
    from kit.cli import KitParser, main

    parsers = list(_parsers())
    assert len(parsers) > 50
    for words, parser in parsers:
        assert isinstance(parser, KitParser) and parser.allow_abbrev is False, parser.prog
        with pytest.raises(SystemExit) as exit_:
            main([*words, "--no-such-option"])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"usage: {parser.prog} ") or err.startswith(f"usage: {parser.prog}\n"), err
        assert f"{parser.prog}: error: " in err, err


def test_an_abbreviated_option_injects_nothing(capsys):
    from kit.cli import main

    with pytest.raises(SystemExit) as exit_:  # parsing fails before any request: no sandbox needed
        main(["fault", "set", "latency", "--ms", "100", "--rout", "product"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: kit fault set ") and "unrecognized arguments: --rout product" in err


def test_help_lists_what_the_validation_accepts():
    import re

    from kit import binaries, load
    from kit.cli.faults import _fault_params
    from kit.drills import mitigations
    from kit.load import capacity

    helps = {words: parser.format_help() for words, parser in _parsers()}
    fault_set = helps[("fault", "set")]
    for kind in [*faults.FAULT_KINDS, *faults.ALIASES]:
        assert re.search(rf"^  {kind} ", fault_set, re.M), f"kit fault set --help does not explain {kind}"
        assert kind in helps[("fault", "clear")].replace("\n", " ").replace("  ", ""), kind
    params = {p.name for k in faults.FAULT_KINDS.values() for p in k.params}
    assert set(_fault_params()) == params
    for name in params:
        assert f"--{name.replace('_', '-')} " in fault_set, name
    route_help = " ".join(fault_set.split("\n  --route ROUTE", 1)[1].split("\n  --", 1)[0].split())
    for service, routes in faults.ROUTES.items():
        assert f"{service}: {', '.join(routes[:-1])}{' or ' if len(routes) > 1 else ''}{routes[-1]}" in route_help

    def choices(words, dest):
        parser = dict(_parsers())[words]
        return set(next(a.choices for a in parser._actions if a.dest == dest))

    assert choices(("load", "run"), "route") == choices(("load", "open"), "route") == set(load.ROUTES)
    assert choices(("load", "slo"), "route") == choices(("load", "search"), "route") == set(capacity.SERVICE_ROUTES)
    assert choices(("fault", "set"), "service") == choices(("mitigate", "restart"), "service") == set(faults.SERVICES)
    assert {w[1] for w in helps if len(w) == 2 and w[0] == "mitigate"} == set(mitigations.ACTIONS)
    assert all(name in helps[("flag",)] for name in faults.FLAGS)
    summaries = _command_summaries()
    assert all(name in summaries["binaries"] for name in binaries.TOOLS)
    for command, summary in summaries.items():  # a command's help naming two or more subcommands names them all
        subcommands = {w[1] for w in helps if len(w) == 2 and w[0] == command}
        named = {name for name in subcommands if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", summary)}
        assert len(named) < 2 or named == subcommands, f"kit {command}: help names {sorted(named)} of {sorted(subcommands)}"


def _command_summaries() -> dict[str, str]:
    """Each command's one-line help, as `kit --help` lists it."""
    import argparse

    from kit.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {entry.dest: entry.help for entry in commands._choices_actions}


def _write_pages(state, count: int, start: float) -> None:
    """``count`` notifications as Alertmanager posts them, one a minute from ``start``: firing, then resolved."""
    path = state / "pages.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(count):
            status = "firing" if i % 2 == 0 else "resolved"
            alert = {"status": status, "labels": {"alertname": f"Alert{i // 2}", "severity": "page", "job": "shop"},
                     "annotations": {"summary": "100% of checkouts are failing"},
                     "startsAt": "2026-11-30T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"f{i // 2}"}
            notification = {"version": "4", "status": status, "receiver": "pager", "alerts": [alert]}
            fh.write(json.dumps({"received_at": start + 60 * i, "notification": notification}) + "\n")


TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def test_pages_newest_first_limited_with_human_times(tmp_path, monkeypatch, capsys):
    import re
    from datetime import datetime

    from kit.cli import main

    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path))
    start = 1796030000.0  # the kind of number that printed as 1.796030e+09
    _write_pages(tmp_path, 25, start)
    assert main(["pages"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if re.match(TIME, line.strip())]
    assert len(rows) == 20 and lines[-1] == "(5 older notifications not shown: --limit N or --all)"
    newest = datetime.fromtimestamp(start + 60 * 24).strftime("%Y-%m-%d %H:%M:%S")
    assert rows[0].split()[:4] == [*newest.split(), "firing", "Alert12"]
    assert rows[1].split()[2:4] == ["resolved", "Alert11"]
    assert rows[1].endswith("was firing: 100% of checkouts are failing")
    assert not any("e+" in line for line in lines)
    assert main(["pages", "--limit", "3"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if re.match(TIME, line.strip())]) == 3
    assert main(["pages", "--all"]) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if re.match(TIME, line.strip())]) == 25 and "not shown" not in out
    assert main(["pages", "--json", "--limit", "2"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["alertname"] for r in records] == ["Alert12", "Alert11"]
    assert records[1]["status"] == "resolved" and records[1]["summary"].startswith("was firing: ")
    assert datetime.fromisoformat(records[0]["received_at"]).timestamp() == start + 60 * 24


def test_drill_results_newest_first_limited_with_human_times(tmp_path, monkeypatch, capsys):
    import re

    from kit.cli import main

    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path))
    (tmp_path / "drills").mkdir()
    start = 1796030000.0
    with open(tmp_path / "drills" / "results.jsonl", "w", encoding="utf-8") as fh:
        for i in range(25):
            fh.write(json.dumps({"run": f"run-{i:02d}", "scenario": "bad-deploy", "outcome": "resolved",
                                 "started_at": start + 600 * i, "ended_at": start + 600 * i + 400.5,
                                 "ttd_s": 6.2, "tta_s": None, "ttm_s": 125.0, "ttr_s": 3725.4,
                                 "actions": ["rollback"], "roles": {}}) + "\n")
    assert main(["drill", "results"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = lines[1:-1]
    assert len(rows) == 20 and rows[0].split()[0] == "run-24" and rows[-1].split()[0] == "run-05"
    assert lines[-1] == "(5 older drills not shown: --limit N or --all)"
    assert re.search(rf"{TIME} +{TIME}", rows[0]) and not any("e+" in line for line in lines)
    assert rows[0].split()[-4:] == ["0:06", "-", "2:05", "1:02:05"]
    assert main(["drill", "results", "--json", "--limit", "1"]) == 0
    assert [r["run"] for r in json.loads(capsys.readouterr().out)] == ["run-24"]


def test_drill_status_timeline_is_newest_first_and_limited():
    import argparse

    from kit import drills
    from kit.cli.drills import _drill_status

    t0 = 1796030000.0
    events = [Event(t0 + 10 * i, "note", f"note {i}") for i in range(30)]
    current = drills.DrillStatus("r1", drills.list_drills()[0], False, t0, events, {}, 1, active=False)
    lines = _drill_status(current, argparse.Namespace(limit=5, all=False)).splitlines()
    assert [line.split()[-1] for line in lines[1:6]] == ["29", "28", "27", "26", "25"]
    assert lines[1].split()[0] == "+4:50" and lines[6] == "  (25 older events not shown: --limit N or --all)"
    assert len(_drill_status(current, argparse.Namespace(limit=5, all=True)).splitlines()) == 31


def test_the_older_names_of_drill_verify_and_labs_verify_still_run_them(monkeypatch, capsys):
    """`kit drill check` and `kit labs check` were the commands' names; facilitators' notes may use them."""
    from kit import drills, grading
    from kit.cli import main
    from kit.grading import LabsVerification

    holds = [drills.ProbeResult(probe, probe.bound + (1 if probe.comparison == "above" else -1))
             for probe in drills.list_drills()[0].steady_state]
    current = drills.DrillStatus("r1", drills.list_drills()[0], False, 0.0, [], {}, 1)
    monkeypatch.setattr(drills, "verify_steady_state", lambda: holds)
    monkeypatch.setattr(drills, "status", lambda: current)
    monkeypatch.setattr(grading, "verify_labs", lambda: LabsVerification(["00-x"], ["labs/00-x is missing"]))
    for words in (["drill", "verify"], ["drill", "check"]):
        assert main(words) == 0
        assert capsys.readouterr().out.startswith("ok ")
    for words in (["labs", "verify"], ["labs", "check"]):
        assert main(words) == 1
        assert "labs/00-x is missing" in capsys.readouterr().out


def test_numbers_never_print_in_e_notation():
    from kit.cli import plain_number

    assert [plain_number(v) for v in (250.0, 1796030000.25, 0.5, 1e-7, 3, "x")] == \
        ["250", "1796030000.25", "0.5", "0.0000001", "3", "x"]


def test_status_says_not_running_and_starting(tmp_path, monkeypatch, capsys):
    from kit.cli import main
    from kit.config import Config

    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path))
    assert main(["status"]) == 1
    assert capsys.readouterr().out.strip() == "sandbox: not running; start it with `kit up`"
    with locked(Config.from_env(), "starting"):  # what `kit up` holds while it starts the processes
        assert main(["status", "--json"]) == 1
        assert json.loads(capsys.readouterr().out)["state"] == "starting"
        assert main(["status"]) == 1
        assert capsys.readouterr().out.startswith("sandbox: starting: `kit up` is bringing it up")
    assert main(["status"]) == 1
    assert "not running" in capsys.readouterr().out


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    _write_pages(tmp_path, 1500, time.time() - 1500 * 60)  # about 130 kB: more than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "kit.cli", "pages", "--all"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "KIT_STATE_DIR": str(tmp_path)})
    assert proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 0 and err == b"", err.decode()
