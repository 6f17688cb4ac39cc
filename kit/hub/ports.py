"""The port registry: a block of the sandbox's eight ports per learner, allocated once and remembered.

On a single host every learner's sandbox listens on the same loopback, so each needs ports of its own. The
hub keeps one JSON file (``{"users": {"alice": {"shop_port": 24000, …}}}``) and allocates under an
exclusive ``flock`` on a lock file beside it, so hub processes spawning at the same moment never hand out
one block twice. Blocks are ``PortRange.stride`` apart (alice 24000–24007, bob 24010–24017, …), which keeps
them readable in ``ss`` and in logs. A block is skipped when any of its ports is already held by another
program, and a learner keeps theirs across respawns, so a sandbox that outlived its server is found again;
should a stranger take one of a learner's ports meanwhile, `kit up` names it (``PortBusy``) and
``PortRegistry.reassign`` gives that learner a new block.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .. import procs
from ..atomicfile import write_atomically
from ..config import Config
from ..errors import InvalidInput

PORT_SETTINGS = ("shop_port", "payments_port", "pager_port", "prometheus_port", "alertmanager_port",
                 "shop_stable_port", "shop_canary_port", "proxy_port")
"""The Config settings a learner's block sets, in block order (the first port of a block is the shop's, as its users
reach it through HAProxy; the stable and canary shop processes and HAProxy's exporter follow). A registry written
before the last three joined gets them where this layout puts them (``_grown``); another layout is refused."""


@dataclass(frozen=True)
class PortRange:
    """Where blocks are drawn from: ``first``, ``first + stride``, … while a whole block fits below ``last``.

    The default stays below Linux's ephemeral range (32768–60999), where outgoing connections would take
    ports at random, and above the kit's own defaults (18080–19093), so a facilitator's `kit up` never
    collides with a learner's: 876 blocks.
    """

    first: int = 24000
    last: int = 32767
    stride: int = 10

    def __post_init__(self) -> None:
        if self.stride < len(PORT_SETTINGS):
            raise InvalidInput("stride", f"{self.stride} is less than the {len(PORT_SETTINGS)} ports of a block")
        if not 1024 <= self.first <= self.last - len(PORT_SETTINGS) + 1 <= 65535 - len(PORT_SETTINGS) + 1:
            raise InvalidInput("port range", f"{self.first}-{self.last} holds no block of {len(PORT_SETTINGS)} "
                                             "unprivileged ports")

    def starts(self) -> range:
        return range(self.first, self.last - len(PORT_SETTINGS) + 2, self.stride)


@dataclass(frozen=True)
class PortBlock:
    """One learner's ports, by Config setting (``shop_port`` → 24000, …)."""

    user: str
    ports: dict[str, int]

    def environment(self) -> dict[str, str]:
        """The KIT_*_PORT variables that make `kit up`, `kit lab` and the notebooks use this block."""
        variables = {f.name: f.metadata["env"] for f in Config.__dataclass_fields__.values()}
        return {variables[setting]: str(port) for setting, port in self.ports.items()}

    def describe(self) -> str:
        return f"{self.user}: " + ", ".join(f"{s.removesuffix('_port')} {p}" for s, p in self.ports.items())


def server_port(block: PortBlock, port_range: PortRange) -> int | None:
    """The port of the learner's Jupyter server: the first after the block's own, inside its stride, so in nobody
    else's block; None when the stride leaves no room. JupyterHub would otherwise pick a random port in the
    ephemeral range, which an outgoing connection can take in the seconds before the server binds it (seen on a
    busy host: the server then fails to start)."""
    port = min(block.ports.values()) + len(PORT_SETTINGS)
    return port if len(PORT_SETTINGS) < port_range.stride else None


class PortRegistry:
    """The hub's registry file of port blocks (``path``, JSON), allocating from ``port_range`` on 127.0.0.1.

    Every method takes the lock; the file is replaced atomically, so a crash leaves the old or the new one.
    """

    def __init__(self, path: Path | str, port_range: PortRange = PortRange(), host: str = "127.0.0.1") -> None:
        self.path = Path(path)
        self.port_range = port_range
        self.host = host

    def assign(self, user: str) -> PortBlock:
        """The learner's block: the remembered one, else the first block no one holds, saved before it is returned.

        Raises InvalidInput (field "user") for an empty name, or (field "port range") when no block is left.
        """
        if not user:
            raise InvalidInput("user", "a learner needs a name to get ports")
        with self._locked() as users:
            if user not in users:
                users[user] = self._free_block(users)
                self._save(users)
            return _block(user, users[user])

    def reassign(self, user: str) -> PortBlock:
        """A new block for ``user`` (their old ports are held by someone else); the old one is forgotten."""
        with self._locked() as users:
            old = users.pop(user, None)
            users[user] = self._free_block(users, avoid=set(old.values()) if old else set())
            self._save(users)
            return _block(user, users[user])

    def forget(self, user: str) -> bool:
        """Drop ``user``'s block (a learner who left); True when there was one."""
        with self._locked() as users:
            if users.pop(user, None) is None:
                return False
            self._save(users)
            return True

    def blocks(self) -> list[PortBlock]:
        """Every remembered block, by user name."""
        with self._locked() as users:
            return [_block(user, ports) for user, ports in sorted(users.items())]

    def _free_block(self, users: dict[str, dict[str, int]], avoid: set[int] = frozenset()) -> dict[str, int]:
        held = {port for ports in users.values() for port in ports.values()} | set(avoid)
        for start in self.port_range.starts():
            block = {setting: start + i for i, setting in enumerate(PORT_SETTINGS)}
            if held.isdisjoint(block.values()) and not any(procs.port_in_use(self.host, p) for p in block.values()):
                return block
        raise InvalidInput("port range", f"no free block of {len(PORT_SETTINGS)} ports is left in "
                                         f"{self.port_range.first}-{self.port_range.last} for {len(users)} learners; "
                                         "forget learners who left or widen the range", source=str(self.path))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, int]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self._load()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict[str, dict[str, int]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise InvalidInput("port registry", f"is not JSON ({exc}); restore it or remove it to start over",
                               source=str(self.path)) from None
        users = data.get("users") if isinstance(data, dict) else None
        if isinstance(users, dict):
            users = {name: _grown(p) for name, p in users.items()}
        if not isinstance(users, dict) or not all(
                isinstance(p, dict) and set(p) == set(PORT_SETTINGS) and all(isinstance(n, int) for n in p.values())
                for p in users.values()):
            raise InvalidInput("port registry", 'must be {"users": {NAME: {' + ", ".join(PORT_SETTINGS)
                               + "}}} with integer ports", source=str(self.path))
        return users

    def _save(self, users: dict[str, dict[str, int]]) -> None:
        write_atomically(self.path, json.dumps({"users": users}, indent=1, sort_keys=True) + "\n", mode=0o644)


def _grown(ports: object) -> object:
    """A block a registry recorded before the sandbox had its newer processes, with their ports added where this
    layout puts them (its start + their index, still inside the block's stride, so in nobody else's block);
    anything else as it is, for the validation to judge."""
    if not isinstance(ports, dict) or not ports or not set(ports) < set(PORT_SETTINGS):
        return ports
    known = list(PORT_SETTINGS[:len(ports)])
    start = ports.get("shop_port")
    if set(ports) != set(known) or not isinstance(start, int) or any(
            ports[setting] != start + i for i, setting in enumerate(known)):
        return ports
    return {setting: start + i for i, setting in enumerate(PORT_SETTINGS)}


def _block(user: str, ports: dict[str, int]) -> PortBlock:
    return PortBlock(user, {setting: ports[setting] for setting in PORT_SETTINGS})
