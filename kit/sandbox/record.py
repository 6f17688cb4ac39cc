"""The sandbox's record (``sandbox.json``): its configuration and every process it runs, with their pids.

Every process runs detached in its own process group and is recorded here (pid and start time), so the
kit tells the truth after a kernel restart. One ``kit up``/``kit down`` at a time holds the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import procs
from ..atomicfile import write_atomically
from ..config import Config
from ..metrics import VERSION


@dataclass
class SandboxRecord:
    config: dict = field(default_factory=dict)
    processes: dict[str, procs.ProcessRecord] = field(default_factory=dict)
    companions: dict[str, procs.ProcessRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> "SandboxRecord":
        try:
            data = json.loads(path.read_text())
            return cls(data.get("config", {}),
                       {n: procs.ProcessRecord.from_json(r) for n, r in data.get("processes", {}).items()},
                       {n: procs.ProcessRecord.from_json(r) for n, r in data.get("companions", {}).items()})
        except FileNotFoundError:
            return cls()
        except (ValueError, TypeError, KeyError):
            return cls()  # a state file cut short by a crash: rebuilt from what is actually running

    def save(self, path: Path) -> None:
        write_atomically(path, json.dumps({"config": self.config,
                                           "processes": {n: r.to_json() for n, r in self.processes.items()},
                                           "companions": {n: r.to_json() for n, r in self.companions.items()}},
                                          indent=1))


@dataclass
class ReleaseRecord:
    """``release.json``: which shop version is stable, and the canary beside it (its version and weight), if any.

    kit.releases.canary keeps it; the sandbox renders HAProxy's weights and Prometheus's shop targets from it,
    so a `kit up` that repairs a process starts the versions and weights that were running.
    """

    stable: str = VERSION
    canary: str | None = None
    canary_weight: int = 0
    """Percent of requests HAProxy sends to the canary (0-100)."""
    exposed: bool = False
    """Whether the canary has served any share of requests yet (the deploy log counts its deployment from then)."""

    @classmethod
    def load(cls, config: Config) -> "ReleaseRecord":
        try:
            data = json.loads(config.paths.release.read_text())
            return cls(str(data["stable"]), data.get("canary"), int(data.get("canary_weight", 0)),
                       bool(data.get("exposed", False)))
        except FileNotFoundError:
            return cls()
        except (ValueError, TypeError, KeyError):
            return cls()  # cut short by a crash: the default release, which `kit release status` then shows

    def save(self, config: Config) -> None:
        write_atomically(config.paths.release, json.dumps(asdict(self), indent=1))


def record_path(config: Config) -> Path:
    return config.paths.sandbox_record


@contextlib.contextmanager
def locked(config: Config, doing: str = ""):
    """One `kit up`/`kit down` at a time per state folder; `kit status` reports ``doing`` ("starting") meanwhile."""
    config.state.mkdir(parents=True, exist_ok=True)
    with open(config.paths.lock, "a+") as fh:  # "a+": a caller waiting for the lock must not erase ``doing``
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.truncate(0)
            fh.write(doing)
            fh.flush()
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def in_progress(config: Config) -> str:
    """What a `kit up` or `kit down` holding the lock is doing right now ("starting", "stopping"), else ""."""
    try:
        fh = open(config.paths.lock, "r")
    except FileNotFoundError:
        return ""
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return fh.read().strip()
        fcntl.flock(fh, fcntl.LOCK_UN)
        return ""
