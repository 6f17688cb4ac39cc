"""Reliability Dojo's helper kit: the sandbox, PromQL, faults, pages, drills, the mob timer and grading.

Notebooks reach for everything through this namespace (``kit.lab_setup(...)`` in
every lab's first cell, ``kit.query(...)``). Names are imported lazily so ``import kit`` stays fast;
its one side effect is to give kit.commandcheck the CLI's check for ``kit`` commands.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from . import commandcheck

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "config",
    "KitError": "errors",
    "InvalidInput": "errors",
    "SandboxNotReady": "errors",
    "PromQLError": "errors",
    "CheckFailed": "errors",
    "up": "sandbox",
    "down": "sandbox",
    "status": "sandbox",
    "query": "prom",
    "query_range": "prom",
    "scalar": "prom",
    "wait_for": "prom",
    "alerts": "prom",
    "set_fault": "faults",
    "injected_fault": "faults",
    "clear_faults": "faults",
    "list_faults": "faults",
    "set_flag": "faults",
    "pages": "pager",
    "wait_for_page": "pager",
    "MobTimer": "mob",
    "DrillConsole": "drillconsole",
    "check": "grading",
    "lab_setup": "lab",
}
_MODULES = ("drills", "mitigations", "postmortem", "runbooks", "scenarios", "slo")
"""Modules a notebook uses by name (``kit.drills.start(...)``) without importing them first."""

__all__ = sorted([*_EXPORTS, *_MODULES]) + ["__version__"]


def command_refusal(args: Sequence[str]) -> str | None:
    """Why the `kit` command would refuse ARGS (the words after ``kit``), or None when it accepts them.

    Registered with kit.commandcheck below, for the runbook linter: a domain module must not import
    kit.cli (kit.cli imports the domain modules), so the check is plugged in here, where the package
    is put together; kit.cli loads only when a command is checked.
    """
    from .cli import refusal

    return refusal(args)


commandcheck.register(command_refusal)


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
        globals()[name] = value
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
