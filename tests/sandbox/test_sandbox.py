"""The real sandbox: health, idempotence, fault survival and clean shutdown.

The shared ``live`` sandbox is only read here; tests that kill processes or
interrupt a start get a sandbox of their own on other free ports.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from dataclasses import replace

import httpx
import psutil
import pytest

from kit import procs, sandbox
from kit.config import PORTS, Config
from kit.errors import BinaryMissing, PortBusy

pytestmark = pytest.mark.long  # sandboxes of its own started, killed and restarted, one after another


def _own_config(tmp_path, **extra) -> Config:
    ports = dict(zip(PORTS, procs.free_ports(len(PORTS))))
    return Config.from_env({}, state_dir=str(tmp_path / "state"), **ports, **extra)


def _pids(status: sandbox.SandboxStatus) -> dict[str, int]:
    return {p.name: p.pid for p in status.processes}


def _running(pid: int) -> bool:
    """Still running: a zombie has stopped (whoever adopted it reaps it when it gets to it, later on a busy machine)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_live_sandbox_is_healthy_and_verified(live):
    current = sandbox.status(live)
    assert current.healthy, current.problems()
    assert set(current.targets) == {"shop", "payments", "pager", "alertmanager", "prometheus", "proxy"}
    assert current.rules_loaded == current.rules_expected >= 3


def test_status_links_what_a_person_opens_at_the_running_ports(live):
    current = sandbox.status()  # no config given: the running sandbox's own, whatever the shell says
    wanted = {"Prometheus": f"http://127.0.0.1:{live.prometheus_port}",
              "Alertmanager": f"http://127.0.0.1:{live.alertmanager_port}",
              "shop API docs": f"http://127.0.0.1:{live.shop_port}/docs"}
    html = current._repr_html_()
    for name, url in wanted.items():
        assert f"{name}: {url}" in str(current)
        assert f"<a href='{url}' target='_blank' rel='noopener'>{name}</a>" in html
        assert httpx.get(url, timeout=5.0, follow_redirects=True).status_code == 200, url


def test_every_listener_binds_loopback_only(live):
    for proc in sandbox.status(live).processes:
        for conn in psutil.Process(proc.pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                assert conn.laddr.ip in ("127.0.0.1", "::1"), f"{proc.name} listens on {conn.laddr}"


def test_admin_token_is_private(live):
    mode = stat.S_IMODE(os.stat(live.token_file).st_mode)
    assert mode == 0o600 and live.token_file.read_text().strip()


def test_up_twice_keeps_the_same_processes(live):
    before = _pids(sandbox.status(live))
    after = sandbox.up(config=live)
    assert after.healthy and _pids(after) == before


@pytest.fixture
def own(tmp_path):
    """A second sandbox this test may break; always stopped afterwards."""
    config = _own_config(tmp_path, traffic_rps=2.0)
    yield config
    sandbox.down(config)
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if str(config.state) in " ".join(p.info["cmdline"] or [])]
    assert not leftovers, f"processes left running: {leftovers}"


def test_killed_process_is_reported_and_repaired(own):
    first = sandbox.up(config=own)
    os.kill(_pids(first)["shop"], signal.SIGKILL)
    assert procs.wait_until(lambda: not sandbox.status(own).healthy, timeout=30)
    broken = sandbox.status(own)
    assert any("shop is stopped" in p for p in broken.problems())
    repaired = sandbox.up(config=own)
    assert repaired.healthy
    old, new = _pids(first), _pids(repaired)
    assert new["shop"] != old["shop"]
    assert {k: v for k, v in new.items() if k != "shop"} == {k: v for k, v in old.items() if k != "shop"}
    stopped = sandbox.down(own)
    assert set(stopped) == set(new)
    assert not [pid for pid in new.values() if _running(pid)], "kit down left processes running"
    assert sandbox.down(own) == []


def test_stale_pid_file_is_not_trusted_and_unrelated_process_survives(own):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        own.state.mkdir(parents=True)
        stale = {"config": {}, "processes": {"shop": {
            "name": "shop", "pid": bystander.pid, "create_time": 1.0, "argv": [], "log": "", "port": own.shop_port}}}
        (own.state / "sandbox.json").write_text(json.dumps(stale))
        assert not sandbox.status(own).healthy
        assert sandbox.up(config=own).healthy
        sandbox.down(own)
        assert bystander.poll() is None, "kit down killed a process it did not start"
    finally:
        bystander.kill()
        bystander.wait()


def test_interrupted_start_leaves_nothing_running(own):
    def interrupt(message: str) -> None:
        if message.startswith("starting traffic"):  # the last to start: every other process is running
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sandbox.up(config=own, progress=interrupt)
    current = sandbox.status(own)
    assert not current.running, current


def test_too_old_tool_refuses_the_start_and_stops_the_early_prometheus(own, monkeypatch, tmp_path):
    # Prometheus is spawned while the tools' versions are still being checked; a too old amtool that answers
    # only once that spawn is recorded makes its check end after it, and the refusal must stop what was started.
    fake = tmp_path / "amtool"
    recorded = own.state / "sandbox.json"
    fake.write_text("#!/bin/sh\n"
                    f"for _ in $(seq 300); do grep -qs '\"prometheus\"' '{recorded}' && break; sleep 0.05; done\n"
                    "echo 'amtool, version 0.10.0 (branch: x)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KIT_AMTOOL_BIN", str(fake))
    said: list[str] = []
    with pytest.raises(BinaryMissing, match="version 0.10.0"):
        sandbox.up(config=own, progress=said.append)
    assert any(line.startswith("starting prometheus") for line in said), said
    assert not sandbox.status(own).running


def test_busy_port_names_the_port_and_the_variable(own):
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no user
        blocker.bind(("127.0.0.1", own.prometheus_port))
        blocker.listen()
        with pytest.raises(PortBusy) as err:
            sandbox.up(config=own)
    assert str(own.prometheus_port) in str(err.value) and "KIT_PROMETHEUS_PORT" in str(err.value)
    assert not sandbox.status(own).running


def test_a_busy_port_late_in_the_start_stops_every_process_started_before_it(own):
    said: list[str] = []
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", own.proxy_port))  # HAProxy starts after Prometheus, Alertmanager and the shop
        blocker.listen()
        with pytest.raises(PortBusy, match="KIT_PROXY_PORT"):
            sandbox.up(config=own, progress=said.append)
    started = [line.split()[1] for line in said if line.startswith("starting ")]
    assert {"prometheus", "shop"} <= set(started), said
    assert not sandbox.status(own).running
    assert procs.stop_naming(own.state) == [], "a process started before the busy port is still running"


def test_sandbox_outlives_the_kernel_that_started_it(own):
    env = {**os.environ, **own.environment(), "KIT_TRAFFIC_RPS": "2.0"}
    kernel = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time, kit
        kit.up()
        print("up", flush=True)
        time.sleep(120)
    """)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert kernel.stdout.readline().strip() == "up"
        before = _pids(sandbox.status(own))
        kernel.kill()
        kernel.wait()
        after = sandbox.status(own)
        assert after.healthy and _pids(after) == before
    finally:
        kernel.kill()
        kernel.wait()


GOOD_RULES = {"groups": [{"name": "extra", "rules": [
    {"record": "shop:requests:rate10s", "expr": 'sum(rate(http_requests_total{job="shop"}[10s]))'}]}]}


def test_installed_rules_are_loaded_and_removed(live):
    from kit import prom

    before = sandbox.status(live).rules_loaded
    after = sandbox.install_rules("extra-test", GOOD_RULES, config=live)
    assert after.rules_loaded == before + 1
    assert "shop:requests:rate10s" in set(prom.rules(config=live)["name"])
    assert sandbox.remove_rules("extra-test", config=live).rules_loaded == before


def test_rules_promtool_rejects_change_nothing(live):
    from kit.errors import InvalidInput

    before = sandbox.status(live).rules_loaded
    bad = {"groups": [{"name": "bad", "rules": [{"record": "x", "expr": "sum(rate(up[1m])"}]}]}
    with pytest.raises(InvalidInput) as err:
        sandbox.install_rules("bad-test", bad, config=live)
    assert "parse error" in str(err.value) or "unclosed" in str(err.value)
    assert sandbox.status(live).rules_loaded == before
    with pytest.raises(InvalidInput, match="name"):
        sandbox.install_rules("../escape", GOOD_RULES, config=live)
    squeezed = {"groups": [{"name": "squeezed", "rules": [
        {"alert": "NeverFires", "expr": 'sum(rate(http_requests_total{job="shop"}[3s])) > 0'}]}]}
    with pytest.raises(InvalidInput, match="^rules: NeverFires: its 3s window holds fewer than 4 scrapes at the lab "
                                           "profile's 1s scrape interval"):
        sandbox.install_rules("squeezed-test", squeezed, config=live)
    assert sandbox.status(live).rules_loaded == before


def test_restart_replaces_one_process_only(own):
    first = _pids(sandbox.up(config=own))
    again = _pids(sandbox.restart("payments", config=own))
    assert again["payments"] != first["payments"]
    assert {k: v for k, v in again.items() if k != "payments"} == {k: v for k, v in first.items() if k != "payments"}


def test_profile_change_restarts_with_the_new_timing(own):
    sandbox.up(config=own)
    said = []
    current = sandbox.up(config=own.with_(profile="realistic"), progress=said.append)
    assert current.profile == "realistic" and current.healthy
    assert any("configuration changed (profile)" in line for line in said), said
    # Prometheus's first scrape waits for a fixed tick counted from its own start: nothing may delay its spawn.
    started = [line.split()[1] for line in said if line.startswith("starting ")]
    assert started[0] == "prometheus" and len(started) == len(sandbox.PROCESS_NAMES), said


def test_status_tells_not_running_starting_stopping_healthy_and_unhealthy_apart():
    from kit.sandbox import ProcessStatus, SandboxStatus

    def status(*processes, in_progress=""):
        return SandboxStatus("lab", list(processes), {"shop": "up"}, 10, 10, {}, in_progress)

    healthy = ProcessStatus("shop", 11, 8000, True, True)
    faulted = ProcessStatus("payments", 12, 8001, True, False, answering=True)
    assert status().state == "not running" and str(status()).startswith("sandbox: not running; start it with `kit up`")
    assert status(in_progress="starting").state == "starting"
    assert status(healthy, in_progress="stopping").state == "stopping"
    assert status(healthy).state == "healthy" and str(status(healthy)).startswith("sandbox: healthy (profile lab)")
    assert status(healthy, faulted).state == "unhealthy"
    assert status(healthy, faulted).verdict == "unhealthy: payments is unhealthy (it answers, but reports a fault)"
    prometheus = ProcessStatus("prometheus", 13, 9090, True, True)
    unscraped = SandboxStatus("lab", [healthy, prometheus], {}, 10, 10, {}, "")  # Prometheus has just started
    assert unscraped.state == "unhealthy"
    assert unscraped.verdict == ("unhealthy: Prometheus has no targets yet (it takes them up about 5 s after it "
                                 "starts)")
    stopped = replace(prometheus, running=False, healthy=False)
    assert SandboxStatus("lab", [healthy, stopped], {}, 10, 10, {}, "").problems() == ["prometheus is stopped"]


def test_a_throwaway_sandbox_is_the_lab_default_on_its_own_ports_and_folder_and_leaves_nothing(monkeypatch):
    monkeypatch.setenv("KIT_PROFILE", "realistic")  # a learner's setting: a check runs the same for everyone
    monkeypatch.setenv("KIT_SHOP_SLOTS", "2")
    yours = Config.from_env()
    with sandbox.throwaway() as config:
        ports = [getattr(config, setting) for setting in PORTS]
        assert len(set(ports)) == len(ports)
        assert not set(ports) & {getattr(yours, setting) for setting in PORTS}
        assert (config.profile, config.shop_slots, config.host) == ("lab", Config().shop_slots, "127.0.0.1")
        assert config.state.is_dir() and config.state != yours.state and not sandbox.is_up(config)
        # What a notebook may start there without recording it, such as a process reading the token.
        code = "import time; print('ready', flush=True); time.sleep(60)"
        stray = subprocess.Popen([sys.executable, "-c", code, str(config.token_file)], stdout=subprocess.PIPE,
                                 text=True)
        assert stray.stdout.readline() == "ready\n"
    assert not config.state.exists()
    assert stray.wait(timeout=30) is not None
