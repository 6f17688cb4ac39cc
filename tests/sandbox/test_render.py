"""The sandbox configuration renders for both profiles and passes the real promtool/amtool checks."""

import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

from kit import binaries
from kit.config import SOCKET_PATH_LIMIT, Config
from kit.errors import InvalidInput
from kit.sandbox import render, rule_count
from kit.sandbox.record import ReleaseRecord
from kit.sandbox.render import proxy_config


@pytest.fixture
def config(tmp_path):
    return Config.from_env({}, state_dir=str(tmp_path), shop_port=21080, prometheus_port=21090,
                           alertmanager_port=21093, pager_port=21082, payments_port=21081, shop_stable_port=21083,
                           shop_canary_port=21084, proxy_port=21085)


def _load(path):
    return yaml.safe_load(path.read_text())


def _targets(out):
    """Scrape targets by job: static ones, and the shop's from the file_sd file beside prometheus.yml."""
    found = {}
    for job in _load(out / "prometheus.yml")["scrape_configs"]:
        found[job["job_name"]] = [t for s in job.get("static_configs", []) for t in s["targets"]] + [
            t for sd in job.get("file_sd_configs", []) for f in sd["files"]
            for group in json.loads((out / f).read_text()) for t in group["targets"]]
    return found


def test_lab_profile_compresses_time_and_points_at_loopback(config, tmp_path):
    out = render(config, tmp_path / "lab")
    prom = _load(out / "prometheus.yml")
    assert prom["global"]["scrape_interval"] == "1s"
    targets = _targets(out)
    assert targets["shop"] == ["127.0.0.1:21083", "127.0.0.1:21084"] and targets["prometheus"] == ["127.0.0.1:21090"]
    assert targets["proxy"] == ["127.0.0.1:21085"]
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
    targets = _targets(out)
    assert targets["shop"] == ["shop:8083"] and targets["proxy"] == ["proxy:8085"]
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


def test_shop_targets_are_both_slots_always_and_proxy_weights_follow_the_release(config, tmp_path):
    slots = [{"targets": ["127.0.0.1:21083"], "labels": {"track": "stable"}},
             {"targets": ["127.0.0.1:21084"], "labels": {"track": "canary"}}]
    out = render(config, tmp_path / "plain")
    assert json.loads((out / "shop-targets.json").read_text()) == slots
    proxy = (out / "haproxy.cfg").read_text()
    assert "bind 127.0.0.1:21080" in proxy and "bind 127.0.0.1:21085" in proxy
    assert "server stable 127.0.0.1:21083 weight 100\n" in proxy
    assert "server canary 127.0.0.1:21084 weight 0 disabled\n" in proxy
    assert f"stats socket {config.paths.proxy_socket} mode 600 level admin" in proxy
    ReleaseRecord("1.1.0", "1.2.0", 10).save(config)
    out = render(config, tmp_path / "canary")
    assert json.loads((out / "shop-targets.json").read_text()) == slots  # no discovery wait at a release
    proxy = (out / "haproxy.cfg").read_text()
    assert "server stable 127.0.0.1:21083 weight 90\n" in proxy and "server canary 127.0.0.1:21084 weight 10\n" in proxy


def test_rendered_proxy_config_passes_haproxys_check(config, tmp_path):
    out = render(config, tmp_path / "lab")
    check = subprocess.run([str(binaries.path("haproxy")), "-c", "-f", str(out / "haproxy.cfg")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "WARNING" not in check.stdout + check.stderr, check.stdout + check.stderr


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


def test_a_state_folder_too_deep_for_a_socket_gets_a_private_one_of_its_own(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    config = Config.from_env({}, state_dir=str(deep))
    short = Path(tempfile.mkdtemp(prefix="run-", dir="/tmp"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(short))
        socket = config.paths.proxy_socket
        assert socket.parent.parent == short and len(os.fsencode(socket)) < SOCKET_PATH_LIMIT
        assert Config.from_env({}, state_dir=str(deep)).paths.proxy_socket == socket  # the same folder every time
        assert f"stats socket {socket} " in proxy_config(config, ReleaseRecord())
        assert stat.S_IMODE(os.stat(socket.parent).st_mode) == 0o700
        os.chmod(socket.parent, 0o755)  # not private (someone else's, or opened up): refused, never used
        with pytest.raises(InvalidInput, match="not a private folder"):
            proxy_config(config, ReleaseRecord())
    finally:
        shutil.rmtree(short)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))  # itself too deep: the temporary folder then
    assert len(os.fsencode(config.paths.proxy_socket)) < SOCKET_PATH_LIMIT
    assert Config.from_env({}, state_dir=str(tmp_path)).paths.proxy_socket == tmp_path / "haproxy.sock"


def test_the_flag_file_is_copied_from_the_sandbox_default_once_and_then_kept(config, tmp_path):
    out = render(config, tmp_path / "out")
    default = (Path(config.sandbox_dir) / "flags.flagd.json").read_text()
    assert (out / "flags.flagd.json").read_text() == default
    (out / "flags.flagd.json").write_text(default.replace('"defaultVariant": "off"', '"defaultVariant": "on"', 1))
    render(config, out)  # `kit up` again: a flag someone changed stays changed
    assert (out / "flags.flagd.json").read_text() != default


def test_a_rule_count_while_the_rules_are_rendered_again_sees_whole_files_only(config, tmp_path):
    """`kit status` counts the rendered rules while `kit up` or a rule install renders them (another process,
    the learner's server starting its sandbox): it must never read a file half written or the folder emptied."""
    out = render(config, tmp_path / "rendered")
    expected = rule_count(out)
    stray = out / "rules" / "removed-since.yml"
    stray.write_text("groups: []\n")
    folder = os.stat(out / "rules").st_ino
    done = threading.Event()

    def again() -> None:
        for _ in range(50):
            render(config, out)
        done.set()

    renderer = threading.Thread(target=again)
    renderer.start()
    counts = set()
    while not done.is_set():
        counts.add(rule_count(out))
    renderer.join()
    assert counts <= {expected} and rule_count(out) == expected
    assert not stray.exists() and os.stat(out / "rules").st_ino == folder  # stale files go, the folder stays
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in (out / "rules").iterdir())  # Prometheus's container reads them
    assert not [p.name for p in out.rglob("*.tmp")]
