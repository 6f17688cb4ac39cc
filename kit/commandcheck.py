"""Whether a `kit ...` command a document names (a runbook's First checks, say) would run.

Only the CLI's own parser can tell, and the CLI sits above the domain modules that need the answer (the
runbook linter): they ask this module, and the package's top (kit/__init__.py), which sees every layer,
registers the CLI's check here when the kit is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .errors import KitError

CommandCheck = Callable[[Sequence[str]], "str | None"]
"""Why `kit` would refuse ARGS (the words after ``kit``), or None when it accepts them."""

_registered: CommandCheck | None = None


def register(check: CommandCheck) -> None:
    """Make ``check`` the one ``refusal`` asks."""
    global _registered
    _registered = check


def refusal(args: Sequence[str]) -> str | None:
    """Why `kit` would refuse ARGS, or None. Raises KitError when no check is registered (kit not imported)."""
    if _registered is None:
        raise KitError("no check for kit commands is registered; import kit first")
    return _registered(args)
