"""Reliability Dojo's helper kit: the sandbox, PromQL, faults, pages, drills, the mob timer and grading.

Notebooks reach for everything through this namespace (``kit.lab_setup(...)`` in
every lab's first cell, ``kit.query(...)``). Names are imported lazily so ``import kit`` stays fast;
its side effects are to give kit.commandcheck the CLI's check for ``kit`` commands, to
answer imports of moved modules' old names (``MOVED``), and to keep httpx's command-line client
unloaded (``_skip_httpx_cli``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

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
    "set_fault": "shop.faults",
    "injected_fault": "shop.faults",
    "clear_faults": "shop.faults",
    "list_faults": "shop.faults",
    "set_flag": "releases.flags",
    "notifications": "pager",
    "pages": "pager",
    "wait_for_page": "pager",
    "MobTimer": "mob",
    "DrillConsole": "drillconsole",
    "check": "grading",
    "lab_setup": "lab",
}
_MODULES = {
    "drills": "drills",
    "flags": "releases.flags",
    "mitigations": "drills.mitigations",
    "postmortem": "drills.postmortem",
    "releases": "releases",
    "runbooks": "runbooks",
    "scenarios": "drills.scenarios",
    "slo": "slo",
}
"""Modules a notebook uses by name (``kit.drills.start(...)``) without importing them first."""

MOVED = {
    "capacity": "load.capacity",
    "drillwatch": "drills.watch",
    "faults": "shop.faults",
    "mitigations": "drills.mitigations",
    "openmodel": "load.openmodel",
    "openslo": "slo.openslo",
    "postmortem": "drills.postmortem",
    "scenarios": "drills.scenarios",
    "service": "shop.service",
    "slotests": "slo.promtests",
    "submissions": "grading.submissions",
    "traffic": "shop.traffic",
    "workcopy": "grading.workcopy",
}
"""Flat modules that moved into a sub-package (old name → new, under ``kit.``).

``import kit.scenarios`` still works for one more release, and gives the moved module itself (so a saved
notebook's ``from kit.scenarios import ...`` keeps working), with a DeprecationWarning naming the new place.
"""

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


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an import of a moved module's old name with the module at its new name."""

    def find_spec(self, fullname: str, path, target=None):
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:
        new = f"{__name__}.{MOVED[spec.name.rpartition('.')[2]]}"
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old name goes in the next release)",
                      DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new)
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run (the module ran under its new name); give it back its own spec, which the import replaced."""
        module.__spec__ = module.__spec__.loader_state


sys.meta_path.insert(0, _MovedModules())  # before an editable install's finder, which may know an old file


def _skip_httpx_cli() -> None:
    """httpx's package imports its command-line client, and with it rich and pygments, whenever they are
    installed: 3 to 6 MB resident in each of the sandbox's long-running Python processes (shop, payments,
    traffic) and in every learner's server on a hub, which starts their sandbox. The kit never runs that client;
    without it httpx defines a ``httpx.main`` that only says the client is missing (the ``httpx`` command
    is a process of its own, which does not import the kit). Nothing changes once httpx is imported."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)


_skip_httpx_cli()


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
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
