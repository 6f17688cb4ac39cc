"""Which of this machine's addresses a laptop on the same network can open (`kit lab --lan`).

A mob's server with ``--lan`` listens on every address, but each join link carries one. By default it is the
address of the network the default route leaves by, which is the right one on a laptop with one network (wifi,
say). A machine on several networks (wifi to the internet and a cable to the classroom's switch, a VPN, a second
card) may be on the mob's network by another address, and a machine without a default route at all (a
classroom network with no internet) has none to take by default; so the host can name the address
(``--lan ADDRESS``), and is told the others this server answers on.

Never advertised: loopback (another laptop's 127.0.0.1 is itself), link-local addresses (169.254.x.x: no
network handed one out, so nothing is known to route to them), interfaces without a carrier (an unplugged
cable, a switched-off wifi), and the bridges that lead into containers or virtual machines on this machine
(``BRIDGES``: Docker's, libvirt's, ...), which no other laptop reaches.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from .errors import InvalidInput

EVERY_ADDRESS = "0.0.0.0"
LOOPBACK = "127.0.0.1"
BRIDGES = re.compile(r"(docker\d+|br-[0-9a-f]{12}|virbr\d+|lxcbr\d+|lxdbr\d+|podman\d+|cni\d+|vboxnet\d+|vmnet\d+)")
"""Names of interfaces into this machine's containers and VMs: Docker's default bridge and its networks'
(``br-`` and the network's id), libvirt's, LXC's, LXD's, Podman's, CNI's, VirtualBox's and VMware's host-only ones."""
_PROBE = ("192.0.2.1", 9)
"""A documentation address (TEST-NET-1): "connecting" a UDP socket to it sends nothing, it only makes the
kernel pick the source address of the default route."""


@dataclass(frozen=True)
class NetworkAddress:
    """One of this machine's IPv4 addresses, and the interface (network card) that has it."""

    address: str
    interface: str

    def __str__(self) -> str:
        return f"{self.address} ({self.interface})"


@dataclass(frozen=True)
class Listening:
    """Where a server listens (``bind``: an IPv4 address, ``EVERY_ADDRESS`` with --lan) and the address the links
    it hands out carry (``advertised``); ``elsewhere`` are this machine's other addresses it answers on too."""

    bind: str
    advertised: str
    port: int
    elsewhere: tuple[NetworkAddress, ...] = ()

    @property
    def base_url(self) -> str:
        return f"http://{self.advertised}:{self.port}"

    def hint(self) -> str | None:
        """What to do if the mob is on another of this machine's networks; None if it is on no other."""
        if not self.elsewhere:
            return None
        others = ", ".join(map(str, self.elsewhere))
        return (f"the links carry {self.advertised}; this machine is on other networks too: {others}. "
                f"If the mob is on one of those, start again with --lan ADDRESS (e.g. --lan "
                f"{self.elsewhere[0].address}): the links keep their secrets and carry that address")


def lan_addresses(interfaces: Mapping[str, Iterable[str]], running: Collection[str],
                  default: str | None) -> tuple[NetworkAddress, ...]:
    """The addresses another laptop could open, from each interface's IPv4 addresses (``interfaces``, in the
    system's order), the interfaces that are up with a carrier (``running``) and the default route's source
    address (``default``, None without a default route), which comes first. See the module for what is left out."""
    found = []
    for interface, addresses in interfaces.items():
        if interface not in running or BRIDGES.fullmatch(interface):
            continue
        for text in addresses:
            address = ipaddress.ip_address(text)
            if address.version == 4 and not (address.is_loopback or address.is_link_local or address.is_unspecified):
                found.append(NetworkAddress(text, interface))
    return tuple(sorted(found, key=lambda a: a.address != default))


def listening(port: int, lan: str | None, addresses: tuple[NetworkAddress, ...] | None = None) -> Listening:
    """Where `kit lab` listens on ``port`` and what its join links carry.

    ``lan``: None keeps the server on loopback; "" listens on every address and advertises the first of
    ``addresses`` (default: ``network_addresses()``, the default route's first); an address advertises that one,
    which must be one of them. Raises InvalidInput (field ``--lan``) when the address is not this machine's or
    the machine is on no network.
    """
    if lan is None:
        return Listening(LOOPBACK, LOOPBACK, port)
    addresses = network_addresses() if addresses is None else addresses
    if not addresses:
        raise InvalidInput("--lan", "this machine is on no network (no connected interface has an address other "
                                    "laptops could open): connect it to the mob's network, or leave --lan out to "
                                    "mob on this machine only")
    chosen = next((a for a in addresses if a.address == lan), None) if lan else addresses[0]
    if chosen is None:
        raise InvalidInput("--lan", f"{lan} is not an address of this machine on a network; its addresses: "
                                    f"{', '.join(map(str, addresses))}")
    return Listening(EVERY_ADDRESS, chosen.address, port, tuple(a for a in addresses if a != chosen))


def network_addresses() -> tuple[NetworkAddress, ...]:
    """``lan_addresses`` of this machine's interfaces now (psutil), the default route's first."""
    import psutil

    stats = psutil.net_if_stats()  # isup: up with a carrier (IFF_RUNNING) on Linux
    interfaces = {name: [a.address for a in found if a.family == socket.AF_INET]
                  for name, found in psutil.net_if_addrs().items()}
    return lan_addresses(interfaces, {name for name, s in stats.items() if s.isup}, default_route_address())


def default_route_address() -> str | None:
    """The source address of this machine's default route (IPv4), or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_PROBE)
        except OSError:
            return None
        return probe.getsockname()[0]
