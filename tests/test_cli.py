"""The `kit` command as a person runs it: output, one-line errors and honest exit codes."""

import json
import os
import subprocess
import sys
import time

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


def test_load_slo_command_judges_the_latency_slo(live):
    from kit import prom

    spec = str(REPO_ROOT / "slos" / "catalog-latency.yml")
    prom.wait_for('sum(rate(http_request_duration_seconds_count{job="shop", route="/catalog"}[5m])) > 0',
                  timeout=30, config=live)  # the budget is measured against the usual traffic
    result = kit("load", "slo", spec, "--rate", "40", "--duration", "2")
    assert result.returncode == 0 and "the SLO holds" in result.stdout, result.stdout + result.stderr
