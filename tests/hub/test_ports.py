"""kit.hub.ports: every learner a block of their own, remembered, never two learners on one port."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kit import procs, sandbox
from kit.config import Config
from kit.errors import InvalidInput, PortBusy
from kit.hub import PORT_SETTINGS, PortRange, PortRegistry, environment
from kit.hub.exchange import Exchange


def free_range(blocks: int) -> PortRange:
    """A range of ``blocks`` blocks whose ports are free now, drawn below the hub's range (24000 up, where
    tests/hub/test_cohort.py's learners get their blocks) and the sandboxes' (procs.free_port: 26000 up)."""
    for _ in range(50):
        first = procs.free_port(within=range(20000, 24000 - 10 * blocks)) // 10 * 10
        candidate = PortRange(first=first, last=first + 10 * blocks - 1)
        if not any(procs.port_in_use("127.0.0.1", p) for p in range(candidate.first, candidate.last + 1)):
            return candidate
    pytest.fail("no free range of ports found")


def test_blocks_are_disjoint_stable_and_remembered(tmp_path: Path):
    port_range = free_range(3)
    registry = PortRegistry(tmp_path / "ports.json", port_range)
    alice, bob = registry.assign("alice"), registry.assign("bob")
    assert list(alice.ports) == list(PORT_SETTINGS)
    assert alice.ports["shop_port"] == port_range.first and bob.ports["shop_port"] == port_range.first + 10
    assert set(alice.ports.values()).isdisjoint(bob.ports.values())
    assert PortRegistry(tmp_path / "ports.json", port_range).assign("alice") == alice  # a respawn, a new hub process
    assert alice.environment()["KIT_PROMETHEUS_PORT"] == str(alice.ports["prometheus_port"])
    assert [b.user for b in registry.blocks()] == ["alice", "bob"]


def test_a_block_with_a_port_in_use_is_skipped(tmp_path: Path):
    for _ in range(20):  # another test may take a port between the check and the bind; try another range then
        port_range = free_range(2)
        with socket.socket() as held:
            held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no user
            try:
                held.bind(("127.0.0.1", port_range.first + 3))  # the first block's Prometheus port
            except OSError:
                continue
            held.listen(1)
            block = PortRegistry(tmp_path / "ports.json", port_range).assign("alice")
        assert block.ports["shop_port"] == port_range.first + 10
        return
    pytest.fail("no port could be held for the test")


def test_learners_logging_in_at_once_never_share_a_port(tmp_path: Path):
    registry = PortRegistry(tmp_path / "ports.json", free_range(8))
    with ThreadPoolExecutor(8) as pool:
        blocks = list(pool.map(lambda i: PortRegistry(registry.path, registry.port_range).assign(f"u{i}"), range(8)))
    ports = [p for block in blocks for p in block.ports.values()]
    assert len(ports) == len(set(ports)) == 8 * len(PORT_SETTINGS)
    assert {b.user: b for b in registry.blocks()} == {b.user: b for b in blocks}


def test_reassign_forget_and_a_full_range(tmp_path: Path):
    port_range = free_range(2)
    registry = PortRegistry(tmp_path / "ports.json", port_range)
    old = registry.assign("alice")
    registry.assign("bob")
    with pytest.raises(InvalidInput, match=f"no free block of {len(PORT_SETTINGS)} ports") as refused:
        registry.assign("carol")
    assert refused.value.field == "port range"
    assert registry.forget("bob") and not registry.forget("bob")
    new = registry.reassign("alice")
    assert set(new.ports.values()).isdisjoint(old.ports.values())
    assert registry.assign("alice") == new


def test_bad_names_ranges_and_registries_are_refused(tmp_path: Path):
    with pytest.raises(InvalidInput, match="stride"):
        PortRange(stride=4)
    with pytest.raises(InvalidInput, match="unprivileged"):
        PortRange(first=80, last=200)
    path = tmp_path / "ports.json"
    with pytest.raises(InvalidInput, match="needs a name"):
        PortRegistry(path).assign("")
    path.write_text(json.dumps({"users": {"alice": {"shop_port": "24000"}}}))
    with pytest.raises(InvalidInput, match="integer ports") as refused:
        PortRegistry(path).assign("bob")
    assert refused.value.source == str(path)
    path.write_text("{")
    with pytest.raises(InvalidInput, match="not JSON"):
        PortRegistry(path).blocks()


def test_a_learners_environment_names_their_ports_and_the_exchange(tmp_path: Path):
    registry = PortRegistry(tmp_path / "ports.json", free_range(1))
    env = environment("alice", registry, Exchange(tmp_path / "exchange", "dojo"))
    assert env["KIT_SHOP_PORT"] == str(registry.port_range.first)
    assert env["KIT_HUB_EXCHANGE"] == str(tmp_path / "exchange") and env["KIT_HUB_COURSE"] == "dojo"


def test_a_busy_port_on_a_hub_tells_the_facilitators_way_out(tmp_path: Path, monkeypatch):
    registry = PortRegistry(tmp_path / "ports.json", free_range(1))
    config = Config.from_env(registry.assign("alice").environment(), state_dir=str(tmp_path / "state"))
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")  # what the hub sets in every learner's server
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", config.prometheus_port))  # Prometheus starts first: nothing else is started
        stranger.listen()
        with pytest.raises(PortBusy) as err:
            sandbox.up(config=config)
    assert str(config.prometheus_port) in str(err.value)
    assert "kit hub ports alice --reassign" in str(err.value) and "KIT_PROMETHEUS_PORT=" not in str(err.value)


def test_a_registry_from_before_the_release_ports_grows_its_blocks_in_place(tmp_path: Path):
    path = tmp_path / "ports.json"
    port_range = free_range(3)
    first = port_range.first
    older = ("shop_port", "payments_port", "pager_port", "prometheus_port", "alertmanager_port")
    path.write_text(json.dumps({"users": {"alice": {s: first + i for i, s in enumerate(older)},
                                          "bob": {s: first + 10 + i for i, s in enumerate(older)}}}))
    registry = PortRegistry(path, port_range)
    alice = registry.assign("alice")
    assert alice.ports == {s: first + i for i, s in enumerate(PORT_SETTINGS)}
    assert registry.assign("carol").ports["shop_port"] == first + 20
    path.write_text(json.dumps({"users": {"dave": {s: first + 2 * i for i, s in enumerate(older)}}}))
    with pytest.raises(InvalidInput, match="with integer ports"):  # not this layout: judged, never guessed
        registry.assign("dave")
