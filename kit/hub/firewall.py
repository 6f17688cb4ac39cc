"""The learners' firewall: each learner's sandbox ports on loopback open only to that learner and root.

Every learner's sandbox listens on the host's 127.0.0.1, which all users share: the hub's login keeps a
learner's UIs behind their own URL, but from a terminal anyone could connect to another learner's port. The
kernel knows who opens a connection, so one nftables table on the output hook (``TABLE``, family ``inet``)
refuses, with a TCP reset, every connection to 127.0.0.0/8 or ::1 on a learner's port block whose socket
belongs to neither that learner's uid nor root (``meta skuid``, see nft(8), "META EXPRESSIONS"). Nothing else
on the host is touched: the table holds these rules only, and other tables' verdicts still apply.

``ruleset`` writes the table from the port registry's blocks and the learners' uids (pure); the script
creates the table when missing, deletes it and writes it again, which `nft -f` runs as one transaction, so
applying it twice leaves one table and a half-applied one never exists. ``apply`` and ``remove`` run
``nft``, which needs root (CAP_NET_ADMIN); ``protect`` is what the hub runs after giving a learner ports.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from typing import Iterable, Mapping

from ..atomicfile import folder_locked
from ..errors import BinaryMissing, FirewallFailed, InvalidInput
from .ports import PortBlock, PortRegistry

TABLE = "reliability_dojo"
"""The nftables table (family inet) the learners' rules live in, unless the hub names another."""

LOOPBACK = (("ip", "127.0.0.0/8"), ("ip6", "::1"))
"""Where a sandbox listens: the address families and loopback networks the rules cover."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def ruleset(blocks: Iterable[PortBlock], uids: Mapping[str, int], *, table: str = TABLE) -> str:
    """The nft script that replaces ``table`` with one rule pair per learner: their ``blocks`` ports (TCP, on
    127.0.0.0/8 and ::1) refused to every uid but theirs (``uids[block.user]``) and root's.

    Raises InvalidInput (field "table") for a name nft would not take, or (field "user") for a block whose
    learner has no uid in ``uids``.
    """
    table = table_name(table)
    rules = []
    for block in blocks:
        if block.user not in uids:
            raise InvalidInput("user", f"{block.user} holds ports but has no uid to open them to")
        ports = ", ".join(str(port) for port in sorted(block.ports.values()))
        owners = ", ".join(str(uid) for uid in sorted({0, uids[block.user]}))
        rules.append(f"\t\t# {block.describe()} (uid {uids[block.user]})")
        rules += [f"\t\t{family} daddr {network} tcp dport {{ {ports} }} meta skuid != {{ {owners} }} "
                  "reject with tcp reset" for family, network in LOOPBACK]
    return "\n".join([
        "# Reliability Dojo: every learner's sandbox ports on loopback, open only to that learner and root.",
        "# Written by `kit hub firewall`; the whole table is replaced at once.",
        f"table inet {table}",
        f"delete table inet {table}",
        f"table inet {table} {{",
        "\tchain output {",
        "\t\ttype filter hook output priority filter; policy accept;",
        *rules,
        "\t}",
        "}",
        "",
    ])


def table_name(table: str) -> str:
    """``table`` when nft takes it as a table's name (letters, digits, underscores); else InvalidInput."""
    if not _NAME.fullmatch(table or ""):
        raise InvalidInput("table", f"{table!r} is not an nftables table name: use letters, digits and underscores")
    return table


def learner_uids(users: Iterable[str]) -> dict[str, int]:
    """Each hub user's uid, from the system's accounts (pwd); the hub's learners are system users (PAM).

    Raises InvalidInput (field "user") naming every user without a system account, and both ways out.
    """
    uids, missing = {}, []
    for user in users:
        try:
            uids[user] = pwd.getpwnam(user).pw_uid
        except KeyError:
            missing.append(user)
    if missing:
        name = missing[0] if len(missing) == 1 else "NAME"
        raise InvalidInput("user", f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no system "
                                   "account, so the firewall cannot open their ports to them: learners log in as "
                                   "system users (hub/README.md, Add learners); create the account with "
                                   f"`adduser {name}`, or drop a learner who left with `kit hub ports {name} --forget`")
    return uids


def registry_ruleset(registry: PortRegistry, *, table: str = TABLE) -> str:
    """``ruleset`` for every block of ``registry``, with each learner's uid from the system's accounts."""
    table_name(table)
    blocks = registry.blocks()
    return ruleset(blocks, learner_uids(block.user for block in blocks), table=table)


def protect(registry: PortRegistry, *, table: str = TABLE) -> str:
    """Apply ``registry_ruleset``; returns the script applied.

    The registry is read and the script applied under a lock on its folder, so when learners are given ports
    at the same moment the last script applied holds every block. Raises what ``learner_uids`` and ``apply``
    raise.
    """
    def refused(error: OSError) -> InvalidInput:
        return InvalidInput("port registry", f"its folder cannot be locked: {error.strerror}",
                            source=str(registry.path.parent))

    with folder_locked(registry.path.parent, refused):
        script = registry_ruleset(registry, table=table)
        apply(script)
    return script


def apply(script: str) -> None:
    """Run the nft ``script`` (``nft -f -``) as one transaction.

    Raises BinaryMissing when nft is not installed, FirewallFailed with nft's reason when it refuses (not
    root, a script it cannot parse).
    """
    _nft(["-f", "-"], script)


def remove(table: str = TABLE) -> None:
    """Delete ``table`` and its rules, if it is there (every learner's ports are then open to every user)."""
    table = table_name(table)
    _nft(["-f", "-"], f"table inet {table}\ndelete table inet {table}\n")


def _nft(arguments: list[str], script: str) -> None:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    nft = shutil.which("nft", path=search)
    if nft is None:
        raise BinaryMissing("nft is not installed: the learners' firewall needs nftables (`apt-get install "
                            "nftables`; scripts/system-packages.sh --test installs it with the hub's proxy)")
    done = subprocess.run([nft, *arguments], input=script, capture_output=True, text=True)
    if done.returncode != 0:
        reason = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        if "Operation not permitted" in done.stderr:
            raise FirewallFailed(f"nft was not permitted to change the firewall ({reason}): run it as root (the "
                                 "hub runs as root on a host whose learners are system users), or in a container "
                                 "give it CAP_NET_ADMIN; or start the hub with KIT_HUB_FIREWALL= (no firewall)")
        raise FirewallFailed(f"nft refused the learners' firewall: {reason}")
