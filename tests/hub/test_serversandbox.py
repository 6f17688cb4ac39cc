"""The learner's sandbox lives inside their Jupyter server (kit.hub.serversandbox), without a hub around it.

A real Jupyter server with the extension, on a private state folder and free ports: its sandbox comes up as its
children, and goes with it when the server is killed outright (no handler of the server's runs); a port someone
else holds leaves the server running and says why in its log. The hub's own stop (SIGINT, kernels first, then the
sandbox) is tested on a real hub in test_cohort.py.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from kit import polling, procs, sandbox
from kit.config import PORTS, Config


def _server(tmp_path: Path) -> tuple[list[str], dict[str, str], Config, int]:
    """A Jupyter server's command line with the extension, its environment (a sandbox of its own) and that
    sandbox's config, and the server's port."""
    ports = procs.free_ports(len(PORTS) + 1)
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIT_") and key != "GOGC"}
    env.update({Config.__dataclass_fields__[setting].metadata["env"]: str(port) for setting, port in zip(PORTS, ports)})
    env.update(KIT_STATE_DIR=str(tmp_path / "state"), KIT_PROFILE="lab", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    argv = [sys.executable, "-m", "jupyter", "server", f"--ServerApp.port={ports[-1]}", "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1", "--ServerApp.token=serversandbox", f"--ServerApp.root_dir={tmp_path}",
            "--no-browser", "--ServerApp.jpserver_extensions=kit.hub.serversandbox=True"]
    if os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")
    return argv, env, Config.from_env(env, state_dir=str(tmp_path / "state")), ports[-1]


def test_the_sandbox_runs_as_the_servers_children_and_goes_when_the_server_is_killed(tmp_path: Path):
    argv, env, config, _ = _server(tmp_path)
    server = procs.start(argv, log=tmp_path / "server.log", env=env, cwd=tmp_path)
    try:
        if not polling.wait_until(lambda: sandbox.status(config).state == "healthy", 60, 0.2):
            pytest.fail(f"the server's sandbox did not come up: {sandbox.status(config).problems()}\n{server.tail()}")
        members = [psutil.Process(pid) for pid in sandbox.pids(config).values()]
        assert {member.ppid() for member in members} == {server.pid}  # the server started them, nobody else
        assert {member.environ().get("GOGC") for member in members} == {"50"}  # Prometheus's, Alertmanager's heap

        os.kill(server.pid, signal.SIGKILL)
        left = procs.wait_stopped(members, 15)
        assert not left, f"the sandbox outlived its server: {[member.name() for member in left]}"
    finally:
        server.stop()
        sandbox.down(config)


def test_a_sandbox_that_cannot_start_leaves_the_server_running_and_says_why(tmp_path: Path):
    argv, env, config, port = _server(tmp_path)
    with socket.socket() as stranger:  # someone else's program on the learner's Prometheus port
        stranger.bind(("127.0.0.1", config.prometheus_port))
        stranger.listen()
        log = tmp_path / "server.log"
        server = procs.start(argv, log=log, env=env, cwd=tmp_path)
        try:
            said = lambda: "the sandbox did not start" in log.read_text(errors="replace")  # noqa: E731
            assert polling.wait_until(said, 60, 0.2), server.tail()
            assert str(config.prometheus_port) in log.read_text(errors="replace")

            def answers() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/api/status?token=serversandbox").status_code == 200
                except httpx.HTTPError:
                    return False

            assert polling.wait_until(answers, 60, 0.2), server.tail()
            assert sandbox.pids(config) == {}
            server.popen.send_signal(signal.SIGTERM)
            assert server.wait(30) is not None, "the server did not stop on SIGTERM"
        finally:
            server.stop()
            sandbox.down(config)
