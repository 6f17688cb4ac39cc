"""A second machine for tests: a Linux network namespace cabled to this one by a veth pair.

The namespace has its own interfaces, routes and loopback; only a point-to-point /30 joins it to this machine
(no default route, no forwarding), like a laptop plugged into the host's second network card. A program run
there (``SecondMachine.launcher``: a browser Playwright drives from the test) sees only that network.

Making one needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2's ``ip``; ``unavailable`` says why a test
cannot, for a skip. Everything made is removed when the context ends, however it ends.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

IP = shutil.which("ip", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
PRIVATE = ipaddress.ip_network("10.0.0.0/8")


@dataclass(frozen=True)
class SecondMachine:
    """A namespace (``name``) whose ``address`` reaches this machine at ``host_address``, over the cable whose end
    here is the interface ``interface``."""

    name: str
    interface: str
    host_address: str
    address: str

    def launcher(self, program: str, folder: Path) -> Path:
        """An executable in ``folder`` that runs ``program`` with its arguments on the second machine (`ip netns
        exec`), for whatever takes a program's path: Playwright's ``executable_path``, say. The program keeps the
        files it was handed (a browser's pipes to Playwright), and it is the process its starter waits for."""
        path = folder / f"{Path(program).name}-on-{self.name}"
        path.write_text(f"#!/bin/sh\nexec {shlex.quote(IP)} netns exec {shlex.quote(self.name)} "
                        f"{shlex.quote(program)} \"$@\"\n")
        path.chmod(0o755)
        return path


def unavailable() -> str | None:
    """Why no second machine can be made here (for a skip), or None when one can."""
    if not hasattr(os, "geteuid") or not os.path.isdir("/proc/self/ns"):
        return "a second machine is a Linux network namespace"
    if os.geteuid() != 0:
        return "making a network namespace and a veth pair needs root"
    if IP is None:
        return "iproute2's `ip` is missing (scripts/system-packages.sh --test installs it)"
    return None


def free_subnet(taken: Iterable[str], choose: random.Random) -> ipaddress.IPv4Network:
    """A /30 in 10.0.0.0/8 that overlaps none of the networks in ``taken`` (route destinations as `ip route`
    prints them: "192.0.2.0/24", a host "192.0.2.2", or "default", which overlaps nothing more specific)."""
    busy = [ipaddress.ip_network(dst, strict=False) for dst in taken if dst != "default"]
    for _ in range(1000):
        candidate = ipaddress.ip_network((PRIVATE.network_address + choose.randrange(2 ** 22) * 4, 30))
        if not any(candidate.overlaps(network) for network in busy if network.version == 4):
            return candidate
    raise RuntimeError(f"every /30 tried in {PRIVATE} is routed here already: {sorted(map(str, busy))}")


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([IP, *args], capture_output=True, text=True, timeout=30)


def _must(*args: str) -> str:
    run = _ip(*args)
    if run.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {run.stderr.strip()}")
    return run.stdout


@contextlib.contextmanager
def second_machine() -> Iterator[SecondMachine]:
    """A new namespace and veth pair on a /30 no route of this machine uses, both ends up; removed at the end.

    Raises PermissionError when this system does not let even root make a namespace (a container without
    CAP_SYS_ADMIN, say), RuntimeError when another `ip` step fails.
    """
    tag = secrets.token_hex(4)
    name, here = f"kit-test-{os.getpid()}-{tag}", f"kitlan{tag}"  # an interface name has at most 15 characters
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        problem = made.stderr.strip()
        if "not permitted" in problem or "Permission denied" in problem:
            raise PermissionError(f"`ip netns add` is refused here: {problem}")
        raise RuntimeError(f"`ip netns add {name}` failed: {problem}")
    try:
        routes = json.loads(_must("-j", "-4", "route", "show", "table", "all") or "[]")
        subnet = free_subnet((route["dst"] for route in routes), random.Random())
        host_address, address = (str(a) for a in subnet.hosts())
        _must("link", "add", here, "type", "veth", "peer", "name", "eth0", "netns", name)
        _must("address", "add", f"{host_address}/30", "dev", here)
        _must("link", "set", here, "up")
        _must("-n", name, "address", "add", f"{address}/30", "dev", "eth0")
        _must("-n", name, "link", "set", "eth0", "up")
        _must("-n", name, "link", "set", "lo", "up")
        yield SecondMachine(name, here, host_address, address)
    finally:
        if _ip("link", "show", here).returncode == 0:  # absent if the pair was never made
            _must("link", "delete", here)  # and its peer in the namespace with it
        _must("netns", "delete", name)
