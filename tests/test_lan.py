"""kit.lan: the address a mob's join links carry. A second machine opening them is in tests/test_mobserver.py."""

from __future__ import annotations

import re

import pytest

from kit import lan
from kit.config import Config
from kit.errors import InvalidInput
from kit.lan import NetworkAddress

LAPTOP = {  # a laptop on wifi, with a cable to a classroom switch, Docker and libvirt, a dead card, a bare link
    "lo": ["127.0.0.1"],
    "enx00e04c680001": ["10.20.0.7"],
    "docker0": ["172.17.0.1"],
    "br-5f2a9c0d1e3b": ["172.18.0.1"],
    "virbr0": ["192.168.122.1"],
    "wlp2s0": ["192.168.1.23"],
    "enp3s0": ["10.99.0.2"],
    "usb0": ["169.254.12.9"],
}
RUNNING = set(LAPTOP) - {"enp3s0"}


def test_the_default_routes_address_comes_first_and_no_loopback_bridge_dead_card_or_bare_link_is_offered():
    found = lan.lan_addresses(LAPTOP, RUNNING, default="192.168.1.23")
    assert found == (NetworkAddress("192.168.1.23", "wlp2s0"), NetworkAddress("10.20.0.7", "enx00e04c680001"))
    assert lan.lan_addresses(LAPTOP, RUNNING, default=None)[0].address == "10.20.0.7", \
        "without a default route (a classroom network with no internet) the machine's address is still offered"
    own = lan.lan_addresses({"br0": ["10.1.1.4"]}, {"br0"}, default=None)
    assert own == (NetworkAddress("10.1.1.4", "br0"),), "a bridge of the user's own leads to a LAN"


def test_the_links_carry_the_default_routes_address_or_the_one_named_and_name_the_others():
    addresses = lan.lan_addresses(LAPTOP, RUNNING, default="192.168.1.23")
    assert lan.listening(8888, None, addresses) == lan.Listening("127.0.0.1", "127.0.0.1", 8888)
    assert lan.listening(8888, None, addresses).hint() is None

    chosen = lan.listening(8888, "", addresses)
    assert (chosen.bind, chosen.base_url) == ("0.0.0.0", "http://192.168.1.23:8888")
    assert "this machine is on other networks too: 10.20.0.7 (enx00e04c680001)" in chosen.hint()
    assert "--lan 10.20.0.7" in chosen.hint()

    named = lan.listening(9000, "10.20.0.7", addresses)
    assert (named.bind, named.base_url) == ("0.0.0.0", "http://10.20.0.7:9000")
    assert named.elsewhere == (NetworkAddress("192.168.1.23", "wlp2s0"),)
    assert lan.listening(8888, "", addresses[:1]).hint() is None


@pytest.mark.parametrize("wanted, message", [
    ("172.17.0.1", "172.17.0.1 is not an address of this machine on a network; its addresses: "
                   "192.168.1.23 (wlp2s0), 10.20.0.7 (enx00e04c680001)"),
    ("127.0.0.1", "127.0.0.1 is not an address of this machine on a network"),
    ("laptop.local", "laptop.local is not an address"),
])
def test_an_address_other_laptops_cannot_open_is_refused_with_the_ones_they_can(wanted, message):
    with pytest.raises(InvalidInput, match="^" + re.escape(f"--lan: {message}")) as refused:
        lan.listening(8888, wanted, lan.lan_addresses(LAPTOP, RUNNING, default="192.168.1.23"))
    assert refused.value.exit_code == 2


def test_a_machine_on_no_network_is_told_so_rather_than_given_links_nobody_can_open():
    offline = lan.lan_addresses({"lo": ["127.0.0.1"], "docker0": ["172.17.0.1"]}, {"lo", "docker0"}, default=None)
    with pytest.raises(InvalidInput, match="this machine is on no network .* leave --lan out"):
        lan.listening(8888, "", offline)


def test_kit_lab_refuses_an_address_it_cannot_advertise_before_starting_anything(tmp_path, monkeypatch, capsys):
    from kit.cli import main

    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path))
    assert main(["lab", "--lan", "10.20.0.7", "--no-browser"]) == 2
    assert "kit lab: --lan: ADDRESS is the address a mob's join links carry; add --mob" in capsys.readouterr().err
    assert main(["lab", "--mob", "--roster", "Ana,Ben", "--lan", "203.0.113.9", "--no-browser"]) == 2
    refused = capsys.readouterr()
    assert "kit lab: --lan: 203.0.113.9 is not an address of this machine" in refused.err
    assert refused.out == "", "nothing may start first"
    assert not Config.from_env({"KIT_STATE_DIR": str(tmp_path)}).paths.mob_links.exists(), "no links may be made"
