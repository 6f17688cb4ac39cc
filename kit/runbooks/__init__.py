"""Runbooks: parsed, linted against the alert rules that link to them, drafted in labs, turned into notebooks.

The package's modules:

- ``runbook``: the Markdown format (``REQUIRED_SECTIONS``) and its parser
- ``lint``: every paging alert leads to a complete runbook whose queries and commands work
- ``drafts``: drafts a lab writes into the sandbox's state folder, and a practice incident
- ``notebook``: a runbook as a notebook of query and command cells
"""

from __future__ import annotations

from .drafts import drafts_folder, practice_incident, save_draft
from .lint import GAME_MASTER_COMMANDS, LIVE_SOURCE, CommandCheck, LintReport, Problem, lint, lint_runbook
from .notebook import to_notebook
from .runbook import REQUIRED_SECTIONS, Runbook, Section, Snippet, parse

__all__ = [
    "GAME_MASTER_COMMANDS", "LIVE_SOURCE", "REQUIRED_SECTIONS", "CommandCheck", "LintReport", "Problem", "Runbook",
    "Section", "Snippet", "drafts_folder", "lint", "lint_runbook", "parse", "practice_incident", "save_draft",
    "to_notebook",
]
