"""The real fixes a mob applies during an incident, each one action on the running sandbox.

A drill does not need to be told about them: its watcher sees the sandbox
change (a fault gone, a new pid, a flag flipped) and records it on the timeline,
so a fix made with curl or the admin API counts just the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import procs, sandbox, shop
from ..atomicfile import write_atomically
from ..releases import canary
from ..config import Config, resolve
from ..errors import InvalidInput
from ..shop.faults import clear_faults, list_faults

ACTIONS = {
    "rollback": "deploy the previous shop version again (undoes a bad deploy of 2.0.0, takes a canary out)",
    "restart": "restart shop or payments; whatever lived in its memory (a leak, a stuck state) is gone",
    "restore-capacity": "give the shop back its configured worker slots",
    "shed-load": "stop the extra load a noisy neighbour sends to the shop",
}


def rollback(config: Config | None = None) -> str:
    """Deploy the previous version of the shop: take a canary out (kit.releases.canary), undo a bad deploy."""
    done = []
    if canary.status(config).canary is not None:
        done.append(f"rolled back the canary of {canary.status(config).canary}")
        canary.rollback(config=config)
    if "bad_deploy" in list_faults(config, reveal=True)["shop"]:
        clear_faults("bad_deploy", service="shop", config=config)
        done.append("rolled the shop back to its previous version")
    return "; ".join(done) or "the shop already runs the previous version; nothing to roll back"


def restart(service: str, config: Config | None = None) -> str:
    """Restart one service process, as an orchestrator would replace a sick container."""
    if service not in ("shop", "payments"):
        raise InvalidInput("service", f"{service!r}: restart shop or payments")
    sandbox.restart(service, config=config)
    return f"restarted {service}"


def restore_capacity(config: Config | None = None) -> str:
    """Give the shop its configured worker slots again."""
    if "capacity" not in list_faults(config, reveal=True)["shop"]:
        return "the shop already has all its worker slots"
    clear_faults("capacity", service="shop", config=config)
    return "restored the shop's worker slots"


def shed_load(config: Config | None = None) -> str:
    """Stop the noisy neighbour's load, if one is running."""
    return "stopped the noisy neighbour's load" if stop_neighbour(config) else "no extra load is running"


def _neighbour_file(config: Config) -> Path:
    return config.paths.neighbour


def start_neighbour(route: str, rps: float, seconds: float, config: Config) -> procs.ProcessRecord:
    """Send open-model load at the shop from another process; it stops by itself after ``seconds``, or with the
    sandbox (`kit down`)."""
    stop_neighbour(config)
    path = shop.ROUTES["catalog" if route == "catalog" else "product"].request()[1]
    argv = [sys.executable, "-m", "kit.load.openmodel", "--url", config.url("shop") + path, "--rate", str(rps),
            "--duration", str(seconds), "--drain", "1", "--out", str(config.paths.neighbour_result)]
    record = procs.spawn("neighbour", argv, config.paths.neighbour_log)
    write_atomically(_neighbour_file(config), json.dumps(record.to_json()))  # `kit down` may read it meanwhile
    if not sandbox.attach(record, config):  # no sandbox to load: `kit down` would have stopped it
        stop_neighbour(config)
    return record


def neighbour_running(config: Config) -> bool:
    record = _neighbour_record(config)
    return record is not None and procs.alive(record)


def stop_neighbour(config: Config | None = None) -> bool:
    """Stop the load; True when it was running."""
    config = resolve(config)
    record = _neighbour_record(config)
    _neighbour_file(config).unlink(missing_ok=True)
    if record is None or not procs.alive(record):
        return False
    procs.stop(record)
    sandbox.detach("neighbour", config)
    return True


def _neighbour_record(config: Config) -> procs.ProcessRecord | None:
    try:
        return procs.ProcessRecord.from_json(json.loads(_neighbour_file(config).read_text()))
    except (OSError, ValueError, TypeError):
        return None
