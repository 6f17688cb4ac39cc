"""The sandbox configuration renders for both profiles and passes the real promtool/amtool checks."""

import subprocess

import pytest
import yaml

from kit import binaries
from kit.config import Config
from kit.sandbox import render, rule_count


@pytest.fixture
def config(tmp_path):
    return Config.from_env({}, state_dir=str(tmp_path), shop_port=21080, prometheus_port=21090,
                           alertmanager_port=21093, pager_port=21082, payments_port=21081)


def _load(path):
    return yaml.safe_load(path.read_text())


def test_lab_profile_compresses_time_and_points_at_loopback(config, tmp_path):
    out = render(config, tmp_path / "lab")
    prom = _load(out / "prometheus.yml")
    assert prom["global"]["scrape_interval"] == "1s"
    targets = {j["job_name"]: j["static_configs"][0]["targets"] for j in prom["scrape_configs"]}
    assert targets["shop"] == ["127.0.0.1:21080"] and targets["prometheus"] == ["127.0.0.1:21090"]
    assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:21093"]
    am = _load(out / "alertmanager.yml")
    assert am["route"]["group_wait"] == "1s"
    assert am["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:21082/alerts"
    rules = {r["alert"]: r for g in _load(out / "rules" / "starter.yml")["groups"] for r in g["rules"]}
    assert rules["CheckoutErrorRatioHigh"]["for"] == "1s" and "[4s]" in rules["CheckoutErrorRatioHigh"]["expr"]


def test_realistic_profile_keeps_production_timing(config, tmp_path):
    out = render(config.with_(profile="realistic"), tmp_path / "real")
    assert _load(out / "prometheus.yml")["global"]["scrape_interval"] == "15s"
    assert _load(out / "alertmanager.yml")["route"]["group_wait"] == "30s"
    rules = {r["alert"]: r for g in _load(out / "rules" / "starter.yml")["groups"] for r in g["rules"]}
    assert rules["CheckoutErrorRatioHigh"]["for"] == "15s" and "[1m]" in rules["CheckoutErrorRatioHigh"]["expr"]


def test_compose_mode_keeps_container_host_names(config, tmp_path):
    out = render(config, tmp_path / "compose", compose=True)
    prom = _load(out / "prometheus.yml")
    targets = {j["job_name"]: j["static_configs"][0]["targets"] for j in prom["scrape_configs"]}
    assert targets["shop"] == ["shop:8080"]
    assert _load(out / "alertmanager.yml")["receivers"][0]["webhook_configs"][0]["url"] == "http://pager:8082/alerts"


@pytest.mark.parametrize("profile", ["lab", "realistic"])
def test_rendered_config_passes_promtool_and_amtool(config, tmp_path, profile):
    out = render(config.with_(profile=profile), tmp_path / profile)
    promtool, amtool = binaries.path("promtool"), binaries.path("amtool")
    check = subprocess.run([str(promtool), "check", "config", str(out / "prometheus.yml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{rule_count(out)} rules found" in check.stdout
    check = subprocess.run([str(amtool), "check-config", str(out / "alertmanager.yml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_paging_rule_has_severity_and_runbook(config, tmp_path):
    out = render(config, tmp_path / "lab")
    alerts = [r for f in (out / "rules").glob("*.yml") for g in _load(f)["groups"] for r in g["rules"] if "alert" in r]
    assert {"ServiceDown", "CheckoutErrorRatioHigh"} <= {a["alert"] for a in alerts}
    for alert in alerts:
        assert alert["labels"]["severity"] in ("page", "ticket"), alert["alert"]
        assert alert["annotations"]["runbook_url"].startswith("runbooks/"), alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]


def test_every_runbook_url_resolves_to_a_runbook_with_its_sections(config, tmp_path):
    from kit.config import REPO_ROOT

    out = render(config, tmp_path / "lab")
    sections = ("What the alert means", "User impact", "First checks", "Likely causes", "Mitigations", "Escalation")
    for rule_file in (out / "rules").glob("*.yml"):
        for group in _load(rule_file)["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                runbook = REPO_ROOT / rule["annotations"]["runbook_url"]
                assert runbook.is_file(), f"{rule['alert']}: {runbook} is missing"
                text = runbook.read_text()
                assert text.startswith(f"# {rule['alert']}"), runbook
                for section in sections:
                    assert f"## {section}" in text, f"{runbook} lacks '## {section}'"
