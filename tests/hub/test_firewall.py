"""kit.hub.firewall: the nftables script that opens each learner's ports on loopback only to them and root.

What the rules do to real connections between real users is tested in test_cohort.py, inside the hub.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kit.errors import FirewallFailed, InvalidInput
from kit.hub import PORT_SETTINGS, PortBlock, PortRegistry
from kit.hub.firewall import apply, learner_uids, registry_ruleset, ruleset

NFT = shutil.which("nft", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def block(user: str, first: int) -> PortBlock:
    return PortBlock(user, {setting: first + i for i, setting in enumerate(PORT_SETTINGS)})


def test_each_learners_block_is_refused_to_everyone_but_them_and_root():
    script = ruleset([block("alice", 24000), block("bob", 24010)], {"alice": 1001, "bob": 1002}, table="dojo")
    lines = [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]
    # Made if missing, then deleted and made again: one transaction that replaces the table, whatever was there.
    assert lines[:3] == ["table inet dojo", "delete table inet dojo", "table inet dojo {"]
    assert "type filter hook output priority filter; policy accept;" in lines
    alice = "tcp dport { 24000, 24001, 24002, 24003, 24004, 24005, 24006, 24007 } meta skuid != { 0, 1001 } reject with tcp reset"
    bob = "tcp dport { 24010, 24011, 24012, 24013, 24014, 24015, 24016, 24017 } meta skuid != { 0, 1002 } reject with tcp reset"
    rules = [line for line in lines if "reject" in line]
    assert rules == [f"ip daddr 127.0.0.0/8 {alice}", f"ip6 daddr ::1 {alice}",
                     f"ip daddr 127.0.0.0/8 {bob}", f"ip6 daddr ::1 {bob}"]
    assert "# alice: shop 24000, payments 24001" in script and "(uid 1001)" in script


def test_no_learners_is_an_empty_table_and_root_as_a_learner_is_named_once():
    empty = ruleset([], {}, table="dojo")
    assert "reject" not in empty and "table inet dojo {" in empty
    assert "meta skuid != { 0 } reject" in ruleset([block("root", 24000)], {"root": 0})


def test_bad_tables_and_learners_without_a_uid_are_refused():
    with pytest.raises(InvalidInput, match="table"):
        ruleset([], {}, table="dojo; flush ruleset")
    with pytest.raises(InvalidInput, match="carol holds ports but has no uid"):
        ruleset([block("carol", 24000)], {})


def test_hub_users_are_system_users():
    assert learner_uids(["root"]) == {"root": 0}
    with pytest.raises(InvalidInput) as err:
        learner_uids(["root", "no-such-learner-x9"])
    assert "no-such-learner-x9 has no system account" in str(err.value)
    assert "adduser no-such-learner-x9" in str(err.value) and "kit hub ports no-such-learner-x9 --forget" in str(err.value)


@pytest.mark.skipif(NFT is None or os.geteuid() != 0, reason="checking a script with nft needs nftables and root")
def test_nft_accepts_the_script_and_refuses_a_broken_one(tmp_path: Path):
    registry = PortRegistry(tmp_path / "ports.json")
    registry.assign("root")
    checked = subprocess.run([NFT, "--check", "-f", "-"], input=registry_ruleset(registry, table="dojo_check"),
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    with pytest.raises(FirewallFailed, match="nft refused"):
        apply("table inet dojo_check { chain output { type filter hook output priority filter; bogus } }")
