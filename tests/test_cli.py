"""The `kit` command as a person runs it: output, one-line errors and honest exit codes."""

import contextlib
import json
import os
import subprocess
import sys
import time

import pytest

from kit import faults, pager
from kit.config import REPO_ROOT


def kit(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "kit.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_status_json_lists_every_process_and_target(live):
    result = kit("status", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["healthy"] is True
    assert {p["name"] for p in data["processes"]} == {"shop", "payments", "pager", "alertmanager", "prometheus", "traffic"}
    assert all(p["state"] == "healthy" and p["pid"] for p in data["processes"])
    assert data["targets"]["shop"] == "up"


def test_fault_set_list_clear_round_trip(clean_faults):
    result = kit("fault", "set", "latency", "--ms", "250", "--route", "product")
    assert result.returncode == 0, result.stderr
    listed = json.loads(kit("fault", "list").stdout)
    assert listed["shop"]["latency"]["ms"] == 250
    assert kit("fault", "clear").returncode == 0
    assert faults.list_faults(config=clean_faults) == {"shop": {}, "payments": {}}


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
    result = kit("labs", "check")
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
    result = kit("slo", "validate", str(REPO_ROOT / "tests/slo_specs/bad/empty-query.yml"))
    assert result.returncode == 2 and "sli.availability.total" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


OPENSLO = REPO_ROOT / "tests" / "slo_specs"


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
    spec = str(REPO_ROOT / "tests/slo_specs/bad/window-one-day.yml")
    results = [kit("slo", action, spec) for action in ("validate", "generate")]
    assert [r.returncode for r in results] == [2, 2]
    assert len({r.stderr.split(": ", 1)[1] for r in results}) == 1
    assert "window: 1d is shorter than the longest alert window (3d" in results[0].stderr


def test_slo_time_scale_is_checked_against_the_profiles_scrape_interval():
    result = kit("slo", "generate", SPEC, "--time-scale", "60", "--profile", "realistic")
    assert result.returncode == 2
    assert "15s scrape interval" in result.stderr and "at most 5" in result.stderr


def test_slo_apply_uses_the_profile_scale_and_a_drill_never_removes_it(live):
    from kit import drills, prom, sandbox, slo

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
        drills._reset(drills.load_scenario("bad-deploy"), live)  # what ending the drill does
        assert "CheckoutAvailabilityErrorBudgetBurn" in set(prom.rules(config=live)["name"])
        result = kit("slo", "apply", SPEC, "--time-scale", "60")
        assert result.returncode == 0 and "time scale 60× (as asked" in result.stdout, result.stderr
        assert "slo:sli_error:ratio_rate5s" in set(prom.rules(config=live)["name"])
    finally:
        sandbox.remove_rules("drill-slo-checkout-availability", config=live)
        sandbox.remove_rules("slo-checkout-availability", config=live)


def test_history_load_reports_incidents(live):
    result = kit("history", "load", "--days", "2")
    assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout and "incident checkout-outage" in result.stdout
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


def test_load_commands_against_a_closed_port_fail_with_the_target_and_the_reason():
    from kit import procs

    closed = procs.free_port()  # nothing listens there
    target = f"http://127.0.0.1:{closed}"
    for args in (("run", "--users", "2", "--duration", "2", "--route", "catalog"),
                 ("open", "--rate", "20", "--duration", "1", "--route", "catalog"),
                 ("search", "--expected", "50", "--route", "catalog")):
        result = kit("load", *args, env={"KIT_SHOP_PORT": str(closed)})
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
    for var in ("KIT_SHOP_PORT", "KIT_PAYMENTS_PORT", "KIT_PAGER_PORT", "KIT_PROMETHEUS_PORT", "KIT_ALERTMANAGER_PORT"):
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


@pytest.mark.parametrize("how", ["SIGTERM to the process", "SIGHUP to its process group, terminal closed"])
def test_kit_lab_stops_everything_it_started_on_sigterm_and_sighup(tmp_path, how):
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
    lab = subprocess.Popen([sys.executable, "-m", "kit.cli", "lab", "--no-browser", "--port", str(port)],
                           cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=terminal.slave,
                           stderr=terminal.slave, start_new_session=True)
    os.close(terminal.slave)
    started: list[psutil.Process] = []
    try:
        def serving() -> bool:
            assert lab.poll() is None, f"kit lab exited early with {lab.returncode}:\n{terminal.text()}"
            try:
                return httpx.get(f"{base}/api/status", headers=auth, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        assert procs.wait_until(serving, timeout=90, interval=0.2), f"JupyterLab never answered:\n{terminal.text()}"
        kernel = httpx.post(f"{base}/api/kernels", headers=auth, json={"name": "python3"}, timeout=30).json()
        parent = psutil.Process(lab.pid)

        def kernel_started() -> bool:
            return any(kernel["id"] in " ".join(p.cmdline()) for p in parent.children(recursive=True))

        assert procs.wait_until(kernel_started, timeout=60, interval=0.2), "the kernel never started"
        started = parent.children(recursive=True)
        assert set(sandbox.pids(config).values()) <= {p.pid for p in started}

        if how.startswith("SIGTERM"):
            lab.send_signal(signal.SIGTERM)  # a service manager or a hub stopping the server
        else:
            terminal.hang_up()
            os.killpg(lab.pid, signal.SIGHUP)  # the shell passes a closed terminal's hang-up on to its jobs
        assert lab.wait(timeout=90) == 0, terminal.text()
        left = procs.wait_stopped(started, timeout=10)
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
