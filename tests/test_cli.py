"""The `kit` command as a person runs it: output, one-line errors and honest exit codes."""

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


def test_slo_apply_installs_into_the_sandbox(live):
    from kit import prom, sandbox

    try:
        result = kit("slo", "apply", SPEC, "--time-scale", "60")
        assert result.returncode == 0, result.stderr
        names = set(prom.rules(config=live)["name"])
        assert {"slo:sli_error:ratio_rate5s", "CheckoutAvailabilityErrorBudgetBurn"} <= names
    finally:
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
