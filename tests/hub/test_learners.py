"""What the hub gives each server by role: learners' servers run without nbgrader's instructor tools."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from types import SimpleNamespace

from kit.hub import PORT_SETTINGS, Exchange, PortRange, pre_spawn_hook
from kit.hub.learners import (
    INSTRUCTOR_LAB_PLUGINS, INSTRUCTOR_SERVER_EXTENSIONS, ROLE_ENV, singleuser_argv, write_jupyter_config,
)


def _spawner(name: str, admin: bool) -> SimpleNamespace:
    """The two things the hook reads of JupyterHub's Spawner, and the environment it replaces."""
    return SimpleNamespace(user=SimpleNamespace(name=name, admin=admin), environment={"KEPT": "yes"}, port=0)


def test_each_role_gets_its_own_config_folder_and_role(tmp_path: Path):
    exchange = Exchange(tmp_path / "exchange", "dojo")
    folder = write_jupyter_config(tmp_path / "jupyter", exchange)
    hook = pre_spawn_hook(tmp_path / "ports.json", exchange=exchange, port_range=PortRange(first=41000, last=41999),
                          jupyter_config=folder)
    learner, facilitator = _spawner("ada", admin=False), _spawner("grace", admin=True)
    hook(learner), hook(facilitator)
    assert learner.environment[ROLE_ENV] == "learner" and facilitator.environment[ROLE_ENV] == "facilitator"
    assert learner.environment["JUPYTER_CONFIG_PATH"] == str(folder / "learner")
    assert facilitator.environment["JUPYTER_CONFIG_PATH"] == str(folder / "facilitator")
    assert learner.environment["KEPT"] == "yes" and learner.environment["KIT_PROMETHEUS_PORT"]
    # each server listens just after its learner's block, inside its stride: in nobody else's block
    for spawner in (learner, facilitator):
        block = [int(v) for k, v in spawner.environment.items() if k.startswith("KIT_") and k.endswith("_PORT")]
        assert len(block) == len(PORT_SETTINGS) and spawner.port == min(block) + len(PORT_SETTINGS)
    assert abs(learner.port - facilitator.port) >= 10

    for role in ("learner", "facilitator"):
        config = folder / role / "nbgrader_config.json"
        assert json.loads(config.read_text()) == exchange.nbgrader_config()
        assert stat.S_IMODE(config.stat().st_mode) == 0o644  # every learner's server reads it
    hidden = json.loads((folder / "learner" / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert set(hidden) == set(INSTRUCTOR_LAB_PLUGINS) and all(hidden.values())
    assert not (folder / "facilitator" / "labconfig").exists()


def test_a_learners_server_runs_without_the_instructor_extensions_a_facilitators_with_them(monkeypatch):
    monkeypatch.setenv(ROLE_ENV, "learner")
    learner = singleuser_argv(["--port=9000"])
    monkeypatch.setenv(ROLE_ENV, "facilitator")
    facilitator = singleuser_argv(["--port=9000"])
    monkeypatch.delenv(ROLE_ENV)
    unnamed = singleuser_argv(["--port=9000"])  # a server the hook did not see: the smaller one
    off = {f"--ServerApp.jpserver_extensions={name}=False" for name in INSTRUCTOR_SERVER_EXTENSIONS}
    assert off <= set(learner) and off <= set(unnamed) and not off & set(facilitator)
    assert learner[:3] == facilitator[:3] and "--port=9000" in learner


def test_a_stride_without_room_leaves_the_servers_port_to_jupyterhub(tmp_path: Path):
    hook = pre_spawn_hook(tmp_path / "ports.json", port_range=PortRange(first=41000, last=41999,
                                                                        stride=len(PORT_SETTINGS)))
    learner = _spawner("ada", admin=False)
    hook(learner)
    assert learner.port == 0 and learner.environment["KIT_SHOP_PORT"]
