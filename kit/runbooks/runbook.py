"""A runbook parsed: its title, ``## `` sections and fenced blocks, each with its line number.

A runbook is a Markdown file in ``runbooks/`` with the sections of ``runbooks/TEMPLATE.md``
(``REQUIRED_SECTIONS``, as ``## `` headings, in that order). Every PromQL query sits in a fenced block
tagged ``promql`` (one query per block), every shell command in a block tagged ``sh``; that convention is
what lets the linter run the queries and the notebook make cells of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..config import REPO_ROOT, ContentPaths
from ..errors import InvalidInput

__all__ = ["REQUIRED_SECTIONS", "TEMPLATE", "Runbook", "Section", "Snippet", "locate", "parse", "relative_name"]

REQUIRED_SECTIONS: tuple[str, ...] = (
    "What the alert means", "User impact", "First checks", "Likely causes", "Mitigations", "Escalation", "Links",
)
TEMPLATE = "TEMPLATE.md"

_HEADING = re.compile(r"^##[ \t]+(?P<title>.+?)[ \t]*#*[ \t]*$")
_TITLE = re.compile(r"^#[ \t]+(?P<title>.+?)[ \t]*$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)")


@dataclass(frozen=True)
class Section:
    """A ``## `` section: its heading's line and everything up to the next heading."""

    title: str
    line: int
    text: str


@dataclass(frozen=True)
class Snippet:
    """A fenced block (or, from ``Runbook.commands``, one command of an ``sh`` block)."""

    lang: str
    text: str
    line: int
    """First line of the code (the line after the opening fence); for a command, its own line."""
    end: int
    """Line of the closing fence."""
    section: str
    """Title of the section holding it ("" before the first ``## `` heading)."""


@dataclass(frozen=True)
class Runbook:
    """A parsed runbook; ``lines`` keeps the source so a notebook can be cut from it."""

    path: Path
    title: str
    sections: tuple[Section, ...]
    snippets: tuple[Snippet, ...]
    lines: tuple[str, ...]

    def section(self, title: str) -> Section | None:
        return next((s for s in self.sections if s.title == title), None)

    @property
    def text(self) -> str:
        """The Markdown source, as read."""
        return "\n".join(self.lines) + "\n"

    def _repr_markdown_(self) -> str:
        """Jupyter renders a parsed runbook as the Markdown it is."""
        return self.text

    @property
    def promql(self) -> tuple[Snippet, ...]:
        return tuple(s for s in self.snippets if s.lang == "promql")

    @property
    def commands(self) -> tuple[Snippet, ...]:
        """Each command of the ``sh`` blocks on its own line; blank lines and comments are not commands."""
        found = []
        for block in self.snippets:
            if block.lang == "sh":
                for offset, text in enumerate(block.text.splitlines()):
                    if text.strip() and not text.lstrip().startswith("#"):
                        found.append(Snippet("sh", text.strip(), block.line + offset, block.end, block.section))
        return tuple(found)


def locate(name_or_path: str | Path, root: Path = REPO_ROOT) -> Path:
    """A file path as given, or a bare runbook name (``checkout-errors``) looked up in ``root/runbooks``."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.parent == Path("."):
        candidate = ContentPaths(root).runbooks / (path.name if path.suffix == ".md" else f"{path.name}.md")
        if candidate.is_file():
            return candidate
    names = ", ".join(sorted(p.stem for p in ContentPaths(root).runbooks.glob("*.md") if p.name != TEMPLATE))
    raise InvalidInput("runbook", f"{name_or_path}: no such file and no runbook of that name; choose one of {names}")


def parse(path: str | Path) -> Runbook:
    """Read a runbook: its title, ``## `` sections and fenced blocks, each with its line number."""
    path = locate(path)
    try:
        lines = tuple(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("runbook", f"cannot read {path}: {exc}") from None
    title, heads, snippets = "", [], []
    fence: re.Match[str] | None = None
    start = 0

    def close(opening: re.Match[str], end: int) -> None:
        indent = len(opening["indent"])  # a fence in a list item: drop that indentation from its code
        code = "\n".join(text[min(indent, len(text) - len(text.lstrip())):] for text in lines[start:end - 1])
        snippets.append(Snippet(opening["lang"].lower(), code, start + 1, end, heads[-1][0] if heads else ""))

    for number, line in enumerate(lines, start=1):
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence["fence"]) and not stripped.strip(fence["fence"][0]):
                close(fence, number)
                fence = None
        elif opening := _FENCE.match(line):
            fence, start = opening, number
        elif heading := _HEADING.match(line):
            heads.append((heading["title"], number))
        elif not title and (top := _TITLE.match(line)):
            title = top["title"]
    if fence is not None:  # an unclosed block runs to the end of the file, as Markdown renders it
        close(fence, len(lines) + 1)
    bounds = [line for _, line in heads] + [len(lines) + 1]
    sections = tuple(Section(t, line, "\n".join(lines[line:bounds[i + 1] - 1]))
                     for i, (t, line) in enumerate(heads))
    return Runbook(path, title, sections, tuple(snippets), lines)



def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (``runbooks/x.md``) when it lies inside, else as given."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
