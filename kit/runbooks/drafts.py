"""Runbook drafts for labs: written into the sandbox's state folder, never into ``runbooks/``.

``save_draft`` writes one and ``kit.runbooks.lint_runbook`` checks that single file against the alerts that
link to its name, so a notebook (or an autograder running it many times over) never writes into the
repository. ``practice_incident`` breaks the sandbox without the notebook saying how.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..config import Config, resolve
from ..errors import InvalidInput

__all__ = ["drafts_folder", "practice_incident", "save_draft"]

_DRAFT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def drafts_folder(config: Config | None = None) -> Path:
    """Where ``save_draft`` writes: ``<state>/runbook-drafts`` of the sandbox (``KIT_STATE_DIR``)."""
    return resolve(config).paths.runbook_drafts


def save_draft(name: str, text: str, *, config: Config | None = None) -> Path:
    """Write ``text`` as the runbook draft ``name`` (``payments-latency``) and return its path.

    Drafts go to ``drafts_folder()``, the sandbox's state folder, never into the
    repository's ``runbooks/``: a lab notebook writes and lints them wherever it
    runs (an autograder runs it many times over, from a temp folder), and a
    half-written draft never breaks ``kit runbooks lint`` for everyone else.
    To ship a finished draft, copy it to ``runbooks/<name>.md``; the repository
    lint then checks it with the rest. An existing draft of that name is replaced.
    """
    if not _DRAFT_NAME.match(name or ""):
        raise InvalidInput("name", f"{name!r}: use lower-case letters, digits and '-', like payments-latency")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text", "the runbook is empty: write its Markdown as a string")
    path = drafts_folder(config) / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.strip("\n") + "\n", encoding="utf-8")
    return path


def practice_incident(*, config: Config | None = None, timeout: float = 60.0) -> Any:
    """Break the sandbox for a runbook exercise without the notebook saying how; return the page it causes.

    Payments starts answering more slowly than the shop waits for it (the
    ``payments_slow`` fault at 1500 ms; the runbook's queries find it, as they
    would in production). Blocks until CheckoutErrorRatioHigh pages and returns
    the pager's rows for it. ``kit mitigate restart payments`` ends it, as does
    ``kit fault clear``.
    """
    import time

    from .. import pager
    from ..shop import faults

    started = time.time()
    faults.set_fault("payments_slow", ms=1500, config=config)
    return pager.wait_for_page("CheckoutErrorRatioHigh", since=started, timeout=timeout, config=config)
