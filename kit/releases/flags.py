"""Flag changes in the sandbox: the flag file changed (kit.flags), the change in the deploy log, and a wait until
the shop serves it.

Every change the kit makes to a flag (``kit flag``, ``kit.set_flag``, a drill's inject, a lab's reset) goes
through ``change_flag``, so each one is a ``flag`` event of the deploy log (kit.releases.deploylog) with the
flag's new state, on the version the stable shop runs: a flag change is a change, and an incident after it is
the flag's (kit.releases.dora). A write that changes nothing is not logged.
"""

from __future__ import annotations

import getpass
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from .. import localhttp, polling
from ..config import FLAGS_FILE, Config, resolve
from ..errors import InvalidInput, KitError, SandboxNotReady
from ..flags import FlagSetting, change_flag as change_file, read_flags
from ..flags import reset_flags as reset_file
from ..sandbox.record import ReleaseRecord
from ..shop import faults
from ..shop.model import FLAGS_HEADER, USER_HEADER, user_key
from ..shop.versions import shop_version
from . import deploylog
from .deploylog import DeployEvent

LOAD_TIMEOUT_S = 5.0
"""How long a change waits for the shop to serve the new file: it looks every 0.25 s (kit.flags.provider.POLL_S)."""


@dataclass(frozen=True)
class FlagChange:
    """One flag change: ``name``, its setting ``before`` and ``after``, ``at`` (Unix seconds) when the new file
    was in place, and ``served_after_s``, seconds from then until the stable shop served it (None when no shop
    was running to ask, or nothing changed)."""

    name: str
    before: FlagSetting
    after: FlagSetting
    at: float
    served_after_s: float | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def known_flags() -> tuple[str, ...]:
    """The shop's flags (kit.shop.faults.FLAGS), in their order."""
    return tuple(name for name, flag in faults.FLAGS.items() if flag.service == "shop")


def change_flag(name: str, *, percent: int | None = None, killed: bool | None = None, actor: str | None = None,
                reason: str = "", config: Config | None = None) -> FlagChange:
    """Change one flag in the sandbox's flag file (see kit.flags.change_flag for ``percent`` and ``killed``), log
    it in the deploy log, and wait until the stable shop serves the new file (when a shop is running).

    ``actor`` defaults to the user with ``(kit flag)``. Raises InvalidInput (``name``, ``percent``, or the field of
    an invalid file on disk), SandboxNotReady when the sandbox never wrote its flag file (`kit up`), KitError when
    the shop does not serve the new file within ``LOAD_TIMEOUT_S`` (its log says why).
    """
    config = resolve(config)
    path = config.paths.flags
    if not path.exists():
        raise SandboxNotReady(f"no flag file at {path}: start the sandbox with `kit up`, which writes it")
    before, after, digest = change_file(path, name, known_flags(), percent=percent, killed=killed)
    at = time.time()
    change = FlagChange(name, before, after, at, None)
    if not change.changed:
        return change
    _log([change], actor or f"{getpass.getuser()} (kit flag)", reason, config)
    return replace(change, served_after_s=_served_after(digest, at, config))


def _log(changes: list[FlagChange], actor: str, reason: str, config: Config) -> None:
    """Each change as a flag event of the deploy log, on the version the stable shop runs."""
    version = ReleaseRecord.load(config).stable
    release = shop_version(version)
    deploylog.append([DeployEvent("flag", version, release.commit, release.committed_at.timestamp(), change.at,
                                  actor, reason, flag=change.name, flag_state=change.after.text)
                      for change in changes], config=config)


def _served_after(digest: str, written: float, config: Config) -> float | None:
    """Seconds until the stable shop reports serving the file with ``digest``; None when no shop answers."""
    seen: dict[str, object] = {}

    def served() -> bool:
        seen.update(faults.flag_file_of("shop", config))
        return seen["digest"] == digest

    try:
        if polling.wait_until(served, LOAD_TIMEOUT_S, interval=0.02):
            return time.time() - written
    except SandboxNotReady:
        return None
    raise KitError(f"the shop did not serve the new flag file within {LOAD_TIMEOUT_S:g} s"
                   + (f": {seen['problem']}" if seen.get("problem") else "; see `kit logs shop`"))


def set_flag(name: str, enabled: bool, config: Config | None = None) -> dict[str, str]:
    """Turn a feature flag on or off for every user (reviving it if killed), logged as a flag change; returns
    every flag as the shop serves it now (see ``kit.shop.faults.flags_of``), or as the file says when the shop is
    not running. Raises InvalidInput for an unknown flag or an ``enabled`` that is not a boolean."""
    faults.validate_flag(name, enabled)
    change_flag(name, percent=100 if enabled else 0, config=config)
    return flags(config)


def flags(config: Config | None = None) -> dict[str, str]:
    """Every flag as the stable shop serves it ("on", "off", "25%", "killed"); from the file when it is down."""
    config = resolve(config)
    try:
        return faults.flags_of("shop", config)
    except SandboxNotReady:
        settings = read_flags(config.paths.flags, known_flags()).settings
        return {name: settings.get(name, FlagSetting(0.0)).text for name in known_flags()}


def settings(config: Config | None = None) -> dict[str, FlagSetting]:
    """Every flag's setting in the sandbox's flag file (a flag the file leaves out: off, its code default)."""
    found = read_flags(resolve(config).paths.flags, known_flags()).settings
    return {name: found.get(name, FlagSetting(0.0)) for name in known_flags()}


def reset_flags(*, actor: str | None = None, reason: str = "back to the sandbox's default flags",
                config: Config | None = None) -> list[FlagChange]:
    """Every flag back to the sandbox's default file (``sandbox/flags.flagd.json``), which also mends a damaged
    flag file; returns the flags that changed, each logged as a flag change. A file whose flags are already the
    default's is left alone. Waits until the stable shop serves the default file when a shop is running. Raises
    InvalidInput naming the field when the default is invalid."""
    config = resolve(config)
    default_path = Path(config.sandbox_dir) / FLAGS_FILE
    try:
        before = settings(config)
    except (InvalidInput, KitError):
        before = {}  # a damaged or missing file: every flag the default sets is a change
    wanted = read_flags(default_path, known_flags()).settings
    after = {name: wanted.get(name, FlagSetting(0.0)) for name in known_flags()}
    if before == after:
        return []
    default = reset_file(config.paths.flags, default_path, known_flags())
    at = time.time()
    changes = [FlagChange(name, before.get(name, FlagSetting(0.0)), after[name], at, None)
               for name in known_flags() if before.get(name) != after[name]]
    _log(changes, actor or f"{getpass.getuser()} (kit flag reset)", reason, config)
    served = _served_after(default.digest, at, config)
    return [replace(change, served_after_s=served) for change in changes]


KILL_CONFIRM_ANSWERS = 20
"""Answers to requests sent after the shop served the kill, with none of them exposed, before ``time_kill`` stops
looking: at 4 clients, a fraction of a second."""


@dataclass(frozen=True)
class KillTiming:
    """A kill switch timed on real requests: ``flag`` was on for every user and killed at ``killed_at`` (Unix
    seconds, just before the kill was written); ``served_after_s``: seconds until the shop said it serves the
    killed file; ``last_exposed_at``: when the last answer served with the flag on arrived (None: none came
    after the kill); ``answers``: answers that arrived after the kill, ``exposed`` of them with the flag on."""

    flag: str
    killed_at: float
    served_after_s: float | None
    last_exposed_at: float | None
    answers: int
    exposed: int

    @property
    def seconds(self) -> float:
        """From the kill to zero exposure: the arrival of the last answer served with the flag on (0 when none came
        after the kill). An upper bound: that request's flag was evaluated when it arrived, a service time earlier."""
        return 0.0 if self.last_exposed_at is None else self.last_exposed_at - self.killed_at


def time_kill(name: str = "recommendations", *, clients: int = 4, timeout: float = 15.0,
              config: Config | None = None) -> KillTiming:
    """Time a kill switch on real requests: turn flag ``name`` on for every user, send requests through the proxy
    from ``clients`` threads, each naming a user, kill the flag, and read on every answer (``FLAGS_HEADER``)
    whether it was served with the flag on, until ``KILL_CONFIRM_ANSWERS`` requests sent after the shop served the
    kill have been answered. The flag is left killed; both changes go to the deploy log.

    Only the catalog reads a flag today, so the requests ask for the catalog. Raises InvalidInput for an unknown
    flag or ``clients`` below 1; KitError when the flag is not served on within ``timeout`` seconds, or the kill not
    confirmed within it; what ``change_flag`` raises.
    """
    config = resolve(config)
    if name not in known_flags():
        raise InvalidInput("name", f"{name!r} is not one of the shop's flags: {', '.join(known_flags())}")
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise InvalidInput("clients", f"{clients!r} must be a whole number of threads, at least 1")
    change_flag(name, percent=100, actor=f"{getpass.getuser()} (kill switch timing)", reason="on before its kill is timed",
                config=config)
    url = config.url("shop") + "/catalog"
    answers: list[tuple[float, float, bool]] = []  # (sent, arrived, served with the flag on)
    lock, stop = threading.Lock(), threading.Event()

    def drive(worker: int) -> None:
        client, n = localhttp.client(), worker
        while not stop.is_set():
            sent = time.time()
            try:
                response = client.get(url, headers={USER_HEADER: user_key(n)}, timeout=5.0)
            except httpx.HTTPError:
                continue  # a lost request says nothing about the flag
            on = f"{name}=on" in response.headers.get(FLAGS_HEADER, "").split(",")
            with lock:
                answers.append((sent, time.time(), on))
            n += clients

    def count(since: float, *, exposed: bool | None = None) -> int:
        with lock:
            return sum(1 for sent, _, on in answers if sent >= since and (exposed is None or on == exposed))

    threads = [threading.Thread(target=drive, args=(w,), name=f"kill-timing-{w}", daemon=True) for w in range(clients)]
    for thread in threads:
        thread.start()
    try:
        if not polling.wait_until(lambda: count(0.0, exposed=True) >= KILL_CONFIRM_ANSWERS, timeout, 0.02):
            raise KitError(f"the flag {name} was not served on within {timeout:g} s: is the shop answering "
                           "(`kit status`)?")
        killed_at = time.time()
        kill = change_flag(name, killed=True, actor=f"{getpass.getuser()} (kill switch timing)",
                           reason="kill switch timed", config=config)
        served_at = killed_at + (kill.served_after_s or 0.0)
        if not polling.wait_until(lambda: count(served_at) >= KILL_CONFIRM_ANSWERS, timeout, 0.02):
            raise KitError(f"fewer than {KILL_CONFIRM_ANSWERS} requests were answered in {timeout:g} s after the kill "
                           "was served: is the shop answering (`kit status`)?")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    after = [(arrived, on) for _, arrived, on in answers if arrived >= killed_at]
    exposed = [arrived for arrived, on in after if on]
    return KillTiming(name, killed_at, kill.served_after_s, max(exposed) if exposed else None, len(after), len(exposed))
