"""A release's readiness review read against its class: which sections are written, which checklist items are open.

A review is a Markdown file made from ``readiness/review-template.md``: YAML front matter naming the ``service``,
the ``release`` and its ``class`` (and, optionally, the release ``plan`` in ``releases/``), then the template's
headings, each a section to write or a checklist of numbered task items (``- [ ] 1.1 ...``) to work through.
``readiness/classes.yml`` says which headings each class (gold, silver, bronze) needs.

The sections, the checklists and the gold/silver classes come from cinch's Service Readiness page (Cristan Massey
and Toli Apostolidis, "When DevOps meets Service Delivery", WTF is SRE? 2023), whose point is awareness, not
approval: the team writes the review so that everyone the release touches knows what is coming. So ``check``
returns findings, each with a one-line hint of what to write, and never refuses a release; only a file it cannot
read as a review raises ``InvalidInput``.

A section's state is decided by comparing its blocks (paragraphs, lists, tables, code) with the template's: only
the template's own text is ``placeholder``, nothing but HTML comments is ``empty``. A checklist item counts as done
when ticked (``[x]``) or marked not applicable by ending with ``N/A:`` and a reason.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..config import CONTENT, ContentPaths
from ..errors import InvalidInput
from ..yamldocs import syntax_error

__all__ = ["AWARENESS", "CLASSES", "TEMPLATE", "Finding", "Item", "Part", "ReleaseClass", "Review", "Rules",
           "SectionState", "State", "Template", "check", "load_rules", "parse_classes", "parse_template", "review"]

TEMPLATE = "review-template.md"
"""The template's file name in ``readiness/``."""
CLASSES = "classes.yml"
"""The release classes' file name in ``readiness/``."""

AWARENESS = ("Awareness, not approval: this lists what the review still leaves open for its class, so the team "
             "can fill it in; it approves nothing and blocks nothing.")
"""The line every printed review carries, so nobody mistakes the list for a gate."""

FRONT_MATTER = ("service", "release", "class", "plan")
"""The front matter's fields; all but ``plan`` are required."""

_MARKDOWN = MarkdownIt("commonmark").enable("table")
_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s+")
_TASK = re.compile(r"^\[(?P<mark>[ xX])\]\s+(?P<text>.*)$", re.S)
_ITEM_NUMBER = re.compile(r"^(?P<number>\d+\.\d+)\s+(?P<text>.*)$", re.S)
_NOT_APPLICABLE = re.compile(r"\bN/A\b\s*:?\s*(?P<reason>.*)$", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HINT_WIDTH = 80


class State(str, enum.Enum):
    """Where a section of the template stands in a review."""

    MISSING = "missing"
    """No heading of that title."""
    EMPTY = "empty"
    """The heading with nothing under it but HTML comments (a checklist: no task item)."""
    PLACEHOLDER = "placeholder"
    """Only the template's own text under the heading."""
    FILLED = "filled"
    """A section with text of its own."""
    OPEN = "open"
    """A checklist with an item neither ticked nor marked not applicable (or one of the template's items gone)."""
    DONE = "done"
    """A checklist whose items are all ticked or marked not applicable."""


def heading_key(title: str) -> str:
    """How a heading is matched: without a leading number ("1.0 Communications"), a trailing colon, case or spacing."""
    return " ".join(_NUMBER.sub("", title.strip()).rstrip(":").split()).casefold()


@dataclass(frozen=True)
class Part:
    """A heading of the template: a section to write or, when it has ``items`` ((number, text) pairs), a checklist.

    ``hint`` is the template's guidance under the heading (its first paragraph, on one line); ``placeholders`` are
    the normalised texts of the template's blocks under it, which do not count as written in a review.
    """

    title: str
    level: int
    hint: str
    placeholders: frozenset[str]
    items: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return heading_key(self.title)

    @property
    def checklist(self) -> bool:
        return bool(self.items)


@dataclass(frozen=True)
class Template:
    """The template's headings, in order (``Part``), and the file they were read from."""

    parts: tuple[Part, ...]
    source: str = ""

    def part(self, title: str) -> Part | None:
        """The part a heading names (matched with ``heading_key``), or None."""
        key = heading_key(title)
        return next((p for p in self.parts if p.key == key), None)


@dataclass(frozen=True)
class ReleaseClass:
    """A release class: its ``name`` (gold), ``meaning`` (which releases belong to it, one line) and the ``required``
    titles of the template's parts a review of that class fills in, in the template's order."""

    name: str
    meaning: str
    required: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    """What a review is checked against: the ``template``, the release ``classes`` by name, and the names of the
    release ``plans`` a review may point at (None: the ``plan`` field is not checked against a folder)."""

    template: Template
    classes: Mapping[str, ReleaseClass]
    plans: frozenset[str] | None = None


@dataclass(frozen=True)
class Finding:
    """Something a review leaves open for its class: the ``section`` (a template heading) and, for a checklist, the
    ``item`` number; the ``problem`` in a few words; a one-line ``hint`` of what to write or do; the ``line`` of the
    review it is about (None when the section is missing)."""

    section: str
    problem: str
    hint: str
    line: int | None = None
    item: str = ""

    @property
    def where(self) -> str:
        """``Communications 1.2 (line 58)``: the section, the item and the line, as far as known."""
        place = f"{self.section} {self.item}".strip()
        return f"{place} (line {self.line})" if self.line else place

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}; {self.hint}"


@dataclass(frozen=True)
class Item:
    """A task item of a review's checklist: its ``number`` ("" for an item the team added), its text, whether it is
    ``ticked``, the reason it does not apply (None when not marked ``N/A``; "" when marked without a reason)."""

    section: str
    number: str
    text: str
    ticked: bool
    not_applicable: str | None
    line: int

    @property
    def done(self) -> bool:
        return bool(self.not_applicable) or (self.ticked and self.not_applicable is None)


@dataclass(frozen=True)
class SectionState:
    """One template part in a review: its ``state``, whether it is a ``checklist``, whether the release's class
    requires it, and its heading's line."""

    title: str
    state: State
    checklist: bool
    required: bool
    line: int | None = None


@dataclass(frozen=True)
class Review:
    """A readiness review read against its class. ``findings`` lists what the class needs and the review leaves open,
    in the template's order; ``sections`` has every template part, required or not; ``items`` every task item."""

    source: str
    service: str
    release: str
    release_class: ReleaseClass
    plan: str | None
    sections: tuple[SectionState, ...]
    items: tuple[Item, ...]
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing the class needs is left open (still awareness: a review is never approved here)."""
        return not self.findings

    def __str__(self) -> str:
        kind = self.release_class
        lines = [f"{self.source}: {self.service} {self.release}, a {kind.name} release ({kind.meaning})", AWARENESS]
        if self.findings:
            lines.append(f"{len(self.findings)} open for a {kind.name} release:")
            for finding in self.findings:
                lines += [f"  {finding.where}: {finding.problem}", f"      {finding.hint}"]
        else:
            lines.append(f"nothing open for a {kind.name} release.")
        required = [s for s in self.sections if s.required]
        written = [s for s in required if s.state is State.FILLED]
        prose = [s for s in required if not s.checklist]
        titles = {s.title for s in required}
        items = [i for i in self.items if i.section in titles]
        not_applicable = sum(1 for i in items if i.not_applicable)
        lines.append(f"{len(written)} of {len(prose)} required sections written; {sum(i.done for i in items)} of "
                     f"{len(items)} checklist items done ({not_applicable} not applicable)")
        return "\n".join(lines)


@dataclass
class _Heading:
    """A heading of a Markdown file and what stands under it up to the next heading it does not own."""

    title: str
    level: int
    line: int
    blocks: list[str] = field(default_factory=list)
    items: list[tuple[bool, str, int]] = field(default_factory=list)
    """(ticked, text, line) of every task item."""
    hint: str = ""


def _normalised(text: str) -> str:
    return " ".join(_COMMENT.sub(" ", text).split())


def _plain(inline: Token) -> str:
    """An inline token's text without its emphasis, code spans in backticks, on one line."""
    parts = []
    for child in inline.children or ():
        if child.type == "text":
            parts.append(child.content)
        elif child.type == "code_inline":
            parts.append(f"`{child.content}`")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def _headings(lines: list[str], owns: Callable[[str], bool]) -> list[_Heading]:
    """The file's headings, each with its blocks and task items. ``owns(title)`` says whether a heading starts a part
    of its own; one that does not (a team's extra ``### Dashboards`` under Observability) and is deeper than the
    heading above it leaves what follows to that heading."""
    tokens = _MARKDOWN.parse("\n".join(lines) + "\n")
    found: list[_Heading] = []
    current: _Heading | None = None
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            title, level, line = tokens[index + 1].content, int(token.tag[1:]), token.map[0] + 1
            if owns(title) or current is None or level <= current.level:
                current = _Heading(title, level, line)
                found.append(current)
        elif current is None:
            continue
        elif token.type == "inline" and [t.type for t in tokens[index - 2:index]] == ["list_item_open",
                                                                                      "paragraph_open"]:
            task = _TASK.match(token.content)
            if task:
                current.items.append((task["mark"] != " ", " ".join(task["text"].split()),
                                      tokens[index - 2].map[0] + 1))
        elif token.level == 0 and token.nesting != -1 and token.map is not None:
            text = _normalised("\n".join(lines[token.map[0]:token.map[1]]))
            if text:
                current.blocks.append(text)
                if token.type == "paragraph_open" and not current.hint:
                    current.hint = _plain(tokens[index + 1])
    return found


def _split_front_matter(text: str, source: str) -> tuple[Any, list[str], list[str]]:
    """The front matter's YAML (parsed), its lines, and the file's lines with the front matter blanked (so that
    markdown-it's line numbers are the file's)."""
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise InvalidInput("front matter", "missing: start the file with a `---` line, then service, release and "
                                           "class, then another `---` line (see readiness/review-template.md)",
                           source=source)
    end = next((n for n in range(1, len(lines)) if lines[n].strip() in ("---", "...")), None)
    if end is None:
        raise InvalidInput("front matter", "no closing `---` line after the opening one", source=f"{source}:1")
    try:
        data = yaml.safe_load("\n".join(lines[:end]))  # the opening `---` is YAML's own document start: lines match
    except yaml.YAMLError as error:
        raise syntax_error(error, source) from None
    return data, lines[:end + 1], [""] * (end + 1) + lines[end + 1:]


def parse_template(text: str, source: str = "") -> Template:
    """The template's parts from its Markdown (front matter, if any, is skipped).

    Raises InvalidInput (naming ``source`` and the heading) when a heading appears twice, a part has no guidance
    paragraph to serve as its hint, or a checklist item has no number.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    if lines and lines[0].strip() == "---":
        lines = _split_front_matter(text, source)[2]
    parts: list[Part] = []
    for heading in _headings(lines, lambda title: True):
        if heading.level == 1:
            continue
        if any(p.key == heading_key(heading.title) for p in parts):
            raise InvalidInput(heading.title, "this heading appears twice in the template", source=source)
        if not heading.hint:
            raise InvalidInput(heading.title, "no guidance paragraph under the heading: the review's hint for it",
                               source=f"{source}:{heading.line}")
        items = []
        for _, item_text, line in heading.items:
            numbered = _ITEM_NUMBER.match(item_text)
            if not numbered:
                raise InvalidInput(heading.title, f"checklist item {item_text!r} has no number such as 1.1",
                                   source=f"{source}:{line}")
            items.append((numbered["number"], numbered["text"]))
        parts.append(Part(heading.title, heading.level, heading.hint, frozenset(heading.blocks), tuple(items)))
    if not parts:
        raise InvalidInput("sections", "the template has no `## ` headings", source=source)
    return Template(tuple(parts), source)


def parse_classes(data: Any, template: Template, source: str = "") -> dict[str, ReleaseClass]:
    """The release classes of ``readiness/classes.yml`` (already parsed YAML), by name.

    Raises InvalidInput naming the field (``classes.gold.required[3]``) when the data is not shaped as that file
    documents or names a heading the template does not have.
    """
    classes = data.get("classes") if isinstance(data, Mapping) else None
    if not isinstance(classes, Mapping) or not classes:
        raise InvalidInput("classes", "expected a mapping of class names (gold, silver, ...) to their rules",
                           source=source)
    result = {}
    for name, rules in classes.items():
        where = f"classes.{name}"
        if not isinstance(rules, Mapping) or set(rules) != {"meaning", "required"}:
            raise InvalidInput(where, "expected exactly `meaning` (one line) and `required` (template headings)",
                               source=source)
        if not isinstance(rules["meaning"], str) or not rules["meaning"].strip():
            raise InvalidInput(f"{where}.meaning", "expected one line saying which releases belong here",
                               source=source)
        required = rules["required"]
        if not isinstance(required, list) or not required:
            raise InvalidInput(f"{where}.required", "expected a list of the template's headings", source=source)
        titles = []
        for index, title in enumerate(required):
            part = template.part(title) if isinstance(title, str) else None
            if part is None:
                raise InvalidInput(f"{where}.required[{index}]", f"{title!r} is not a heading of the template; "
                                   f"one of {', '.join(p.title for p in template.parts)}", source=source)
            titles.append(part.title)
        ordered = tuple(p.title for p in template.parts if p.title in titles)
        result[str(name)] = ReleaseClass(str(name), " ".join(rules["meaning"].split()), ordered)
    return result


def load_rules(root: ContentPaths = CONTENT) -> Rules:
    """The template, the release classes and the release plans' names of a repository (the kit's own by default).

    Raises InvalidInput naming the file when the template or the classes file is missing or malformed.
    """
    folder = root.readiness
    template = parse_template(_read(folder / TEMPLATE), str(folder / TEMPLATE))
    try:
        data = yaml.safe_load(_read(folder / CLASSES))
    except yaml.YAMLError as error:
        raise syntax_error(error, str(folder / CLASSES)) from None
    classes = parse_classes(data, template, str(folder / CLASSES))
    return Rules(template, classes, frozenset(path.stem for path in root.releases.glob("*.yml")))


def _read(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput("file", "no such file", source=str(path)) from None
    except IsADirectoryError:
        raise InvalidInput("file", "is a folder, not a Markdown file", source=str(path)) from None
    except UnicodeDecodeError:
        raise InvalidInput("file", "not a text file (expected UTF-8 Markdown)", source=str(path)) from None
    if "\x00" in text:
        raise InvalidInput("file", "not a text file (expected UTF-8 Markdown)", source=str(path))
    return text


def _field_line(lines: list[str], name: str) -> int | None:
    pattern = re.compile(rf"^{re.escape(name)}\s*:")
    return next((n + 1 for n, line in enumerate(lines) if pattern.match(line)), None)


def _front_matter(data: Any, front: list[str], rules: Rules, source: str) -> dict[str, str | None]:
    def error(name: str, problem: str) -> InvalidInput:
        line = _field_line(front, name)
        return InvalidInput(name, problem, source=f"{source}:{line}" if line else source)

    if not isinstance(data, Mapping):
        raise InvalidInput("front matter", "expected `service:`, `release:` and `class:` lines between the two "
                                           "`---` lines", source=source)
    for name in data:
        if name not in FRONT_MATTER:
            raise error(str(name), f"unknown field; the front matter takes {', '.join(FRONT_MATTER)}")
    values: dict[str, str | None] = {}
    for name in FRONT_MATTER:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if name == "plan":
                values[name] = None
                continue
            raise error(name, f"missing: say which {name} the review is for" if name != "class"
                        else f"missing: one of {', '.join(rules.classes)} (readiness/classes.yml)")
        if not isinstance(value, str):
            raise error(name, f"{value!r} is not text; write it in quotes: {name}: \"{value}\"")
        values[name] = value.strip()
    if values["class"] not in rules.classes:
        raise error("class", f"unknown class {values['class']!r}; one of {', '.join(rules.classes)} "
                             "(readiness/classes.yml)")
    if values["plan"] is not None and rules.plans is not None and values["plan"] not in rules.plans:
        known = ", ".join(sorted(rules.plans)) or "none"
        raise error("plan", f"no release plan {values['plan']!r} in releases/ (there: {known})")
    return values


def _item(section: str, ticked: bool, text: str, line: int) -> Item:
    numbered = _ITEM_NUMBER.match(text)
    number, rest = (numbered["number"], numbered["text"]) if numbered else ("", text)
    marked = _NOT_APPLICABLE.search(rest)
    reason = " ".join(marked["reason"].split()) if marked else None
    return Item(section, number, rest, ticked, reason, line)


def _shortened(text: str) -> str:
    return text if len(text) <= _HINT_WIDTH else text[:_HINT_WIDTH - 1].rstrip() + "…"


def _checklist_findings(part: Part, items: list[Item], line: int) -> list[Finding]:
    findings = []
    numbers = {item.number for item in items}
    for number, text in part.items:
        if number not in numbers:
            findings.append(Finding(part.title, f"item {number} is gone: {_shortened(text)}",
                                    f"put it back from the template (`- [ ] {number} ...`), or mark it `N/A:` and why",
                                    line, number))
    for item in items:
        if item.not_applicable == "":
            findings.append(Finding(part.title, "marked N/A without a reason",
                                    "say after `N/A:` why it does not apply to this release", item.line, item.number))
        elif not item.done:
            findings.append(Finding(part.title, f"not ticked: {_shortened(item.text)}",
                                    "do it and tick it (`- [x]`), or end it with `N/A:` and why it does not apply",
                                    item.line, item.number))
    return findings


def check(text: str, rules: Rules, source: str = "<text>") -> Review:
    """Read a review's Markdown against the template and the class its front matter names. Pure: no I/O.

    ``source`` names the review in messages (its file name). Returns a ``Review`` whose findings are what its
    class requires and the review leaves open, each with a one-line hint; a review with findings is not an error.
    Raises InvalidInput naming ``source`` and the field for front matter that is missing, malformed, has an unknown
    class or plan, a template heading that appears twice, or a file with no headings at all (not a review).
    """
    data, front, lines = _split_front_matter(text, source)
    meta = _front_matter(data, front, rules, source)
    template = rules.template
    headings = _headings(lines, lambda title: template.part(title) is not None)
    if not headings:
        raise InvalidInput("sections", "no Markdown headings: not a readiness review (start from "
                                       "readiness/review-template.md)", source=source)
    present: dict[str, _Heading] = {}
    for heading in headings:
        part = template.part(heading.title)
        if part is None:
            continue
        if part.title in present:
            raise InvalidInput(part.title, f"this heading appears twice (lines {present[part.title].line} and "
                                           f"{heading.line}): keep one", source=source)
        present[part.title] = heading
    release_class = rules.classes[meta["class"]]
    sections, items, findings = [], [], []
    for part in template.parts:
        required = part.title in release_class.required
        heading = present.get(part.title)
        if heading is None:
            sections.append(SectionState(part.title, State.MISSING, part.checklist, required))
            if required:
                findings.append(Finding(part.title, f"missing: add a `{'#' * part.level} {part.title}` heading",
                                        part.hint))
            continue
        if part.checklist:
            own = [_item(part.title, ticked, item_text, line) for ticked, item_text, line in heading.items]
            items += own
            problems = _checklist_findings(part, own, heading.line)
            state = State.EMPTY if not own else State.OPEN if problems else State.DONE
            if required:
                findings += problems if own else [Finding(part.title, "no checklist items", part.hint, heading.line)]
        else:
            written = [block for block in heading.blocks if block not in part.placeholders]
            state = State.FILLED if written else State.PLACEHOLDER if heading.blocks else State.EMPTY
            if required and state is not State.FILLED:
                problem = "still the template's text" if state is State.PLACEHOLDER else "empty"
                findings.append(Finding(part.title, problem, part.hint, heading.line))
        sections.append(SectionState(part.title, state, part.checklist, required, heading.line))
    return Review(source, meta["service"] or "", meta["release"] or "", release_class, meta["plan"], tuple(sections),
                  tuple(items), tuple(findings))


def review(path: str | Path, rules: Rules | None = None) -> Review:
    """Read the review at ``path`` against ``rules`` (default: the kit's own template, classes and plans).

    Raises InvalidInput naming the file (and the field) when it is missing, not text, or not a review (see
    ``check``).
    """
    return check(_read(Path(path)), rules or load_rules(), str(path))
