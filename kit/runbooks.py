"""Runbooks: parsed, linted against the alert rules that link to them, and turned into notebooks.

A runbook is a Markdown file in ``runbooks/`` with the sections of
``runbooks/TEMPLATE.md`` (``REQUIRED_SECTIONS``, as ``## `` headings, in that
order). Every PromQL query sits in a fenced block tagged ``promql`` (one query
per block), every shell command in a block tagged ``sh``; that convention is
what lets the linter run the queries and the notebook make cells of them.

Where a ``runbook_url`` may point: a path relative to the repository root
(``runbooks/checkout-errors.md``, an optional ``#anchor`` is ignored), or an
``http(s)://`` address whose path contains ``/runbooks/``; the part from
``runbooks/`` on is then looked up in the repository (a GitHub link to the file
passes). Anything else is reported.

Heavy modules (pandas through kit.prom, nbformat) are imported where they are
used, so ``kit --help`` stays fast (kit.cli.runbooks, the ``kit runbooks`` commands, imports this).
The linter asks a ``CommandCheck`` whether a runbook's ``kit`` commands parse; by default the
CLI's own parser, which kit.commandcheck holds for it: this module never imports kit.cli.

For labs (lab 04), runbooks can also be drafted outside the repository:
``save_draft`` writes one into the sandbox's state folder and ``lint_runbook``
checks that single file against the alerts that link to its name, so a notebook
(or an autograder running it many times over) never writes into ``runbooks/``.
``practice_incident`` breaks the sandbox without the notebook saying how.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .commandcheck import CommandCheck, refusal
from .config import REPO_ROOT, Config, ContentPaths, resolve
from .errors import InvalidInput, PromQLError, SandboxNotReady

__all__ = [
    "REQUIRED_SECTIONS", "GAME_MASTER_COMMANDS", "LIVE_SOURCE", "Section", "Snippet", "Runbook", "Problem", "LintReport",
    "CommandCheck", "parse", "lint", "lint_runbook", "save_draft", "drafts_folder", "practice_incident", "to_notebook",
]


GAME_MASTER_COMMANDS: tuple[str, ...] = ("fault",)
"""``kit`` commands that inject, clear or list the game master's faults. Production has no such button, and in a
drill a runbook that lists them hands the mob the diagnosis, so no runbook may use them."""

REQUIRED_SECTIONS: tuple[str, ...] = (
    "What the alert means", "User impact", "First checks", "Likely causes", "Mitigations", "Escalation", "Links",
)
TEMPLATE = "TEMPLATE.md"
LIVE_SOURCE = "loaded in Prometheus"
"""The ``file`` of problems about rules read from the running Prometheus."""

_HEADING = re.compile(r"^##[ \t]+(?P<title>.+?)[ \t]*#*[ \t]*$")
_TITLE = re.compile(r"^#[ \t]+(?P<title>.+?)[ \t]*$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)")
_POSITION = re.compile(r"\b(?P<line>\d+):\d+: parse error")
_DRAFT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


# --------------------------------------------------------------------------- parsing


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


def _locate(name_or_path: str | Path, root: Path = REPO_ROOT) -> Path:
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
    path = _locate(path)
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


# --------------------------------------------------------------------------- lint


@dataclass(frozen=True, order=True)
class Problem:
    """One thing to fix. ``line`` 0: the problem is about a rule, and ``file`` names where the rule lives."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class LintReport:
    """What ``lint`` found (sorted) and how much it looked at."""

    problems: list[Problem]
    live: bool
    runbooks: int
    alerts: int
    queries: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        ran = "run against Prometheus" if self.live else "NOT run (offline: only checked to be non-empty)"
        source = LIVE_SOURCE if self.live else "from sandbox/rules and slos"
        summary = (f"{self.runbooks} runbooks, {self.alerts} alert rules {source}, {self.queries} promql snippets "
                   f"{ran}: {len(self.problems)} problem{'' if len(self.problems) == 1 else 's'}")
        return "\n".join([*map(str, sorted(self.problems)), summary])


@dataclass(frozen=True)
class _Alert:
    name: str
    group: str
    severity: str
    runbook_url: str
    source: str


def lint(*, live: bool = True, config: Config | None = None, root: str | Path = REPO_ROOT,
         check_command: CommandCheck = refusal) -> LintReport:
    """Check that every paging alert leads to a complete runbook whose queries work.

    Paging alerts need a ``runbook_url``; every url given must resolve; each
    runbook in ``runbooks/`` (and any other file an alert links to) needs the
    required sections in order, none empty, a promql block in First checks, a
    command in Mitigations, and must name each alert that links to it.
    ``live``: the alerts are those loaded in the running Prometheus (so rules a
    learner installed count too) and every promql snippet is run there.
    Offline: the rule files in ``sandbox/rules`` plus the rules generated from
    every ``slos/*.yml``, and snippets are only checked to be non-empty.
    ``check_command`` judges each ``kit`` command in an sh block (default: the kit's own parser).
    """
    root = Path(root).resolve()
    alerts, problems = _live_alerts(config) if live else _file_alerts(root)
    linked: dict[Path, set[str]] = {}
    for alert in alerts:
        where = f"alert {alert.name} (group {alert.group})"
        if not alert.runbook_url:
            if alert.severity == "page":
                problems.append(Problem(alert.source, 0, f"{where} pages but has no runbook_url annotation"))
            continue
        try:
            linked.setdefault(_runbook_path(alert.runbook_url, root), set()).add(alert.name)
        except ValueError as exc:
            problems.append(Problem(alert.source, 0, f"{where}: runbook_url {alert.runbook_url!r} {exc}"))
    files = sorted({p.resolve() for p in ContentPaths(root).runbooks.glob("*.md") if p.name != TEMPLATE} | set(linked))
    queries = 0
    for path in files:
        book = parse(path)
        file = _relative(path, root)
        problems += _check_sections(book, file)
        text = "\n".join(book.lines)
        problems += [Problem(file, 1, f"alert {name} links here, but the runbook never names it")
                     for name in sorted(linked.get(path, ())) if not re.search(rf"\b{re.escape(name)}\b", text)]
        problems += _check_commands(book, file, check_command)
        for snippet in book.promql:
            queries += 1
            problems += _check_query(snippet, file, live, config)
    return LintReport(sorted(set(problems)), live, len(files), len(alerts), queries)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _runbook_path(url: str, root: Path) -> Path:
    """The file a runbook_url points at; ValueError says why it does not resolve."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        at = parts.path.rfind("/runbooks/")
        if at < 0:
            raise ValueError("is a web address outside runbooks/; link to a file under runbooks/")
        relative = parts.path[at + 1:]
    elif parts.scheme or parts.netloc:
        raise ValueError("is neither a path in the repository nor an http(s) link into runbooks/")
    else:
        relative = parts.path.lstrip("/")
    path = (root / unquote(relative)).resolve()
    if not path.is_relative_to(root):
        raise ValueError("points outside the repository")
    if not path.is_file():
        raise ValueError(f"points at {relative}, which does not exist")
    return path


def _live_alerts(config: Config | None) -> tuple[list[_Alert], list[Problem]]:
    from . import prom

    try:
        rules = prom.rules(config=config)
    except SandboxNotReady as exc:
        raise SandboxNotReady(f"{exc}; or lint without Prometheus: `kit runbooks lint --offline`") from None
    rows = rules[rules["type"] == "alerting"].itertuples()
    return [_Alert(r.name, r.group, r.severity, r.runbook_url, LIVE_SOURCE) for r in rows], []


def _file_alerts(root: Path) -> tuple[list[_Alert], list[Problem]]:
    import yaml

    from . import slo
    from .promfiles import read_yaml
    from .yamldocs import syntax_error

    alerts: list[_Alert] = []
    problems: list[Problem] = []
    for path in sorted((ContentPaths(root).sandbox / "rules").glob("*.yml")):
        file = _relative(path, root)
        try:
            alerts += _alerts_in(read_yaml(path), file)
        except yaml.YAMLError as exc:  # at the parser's line, in one line rather than its excerpt
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(file, mark.line + 1 if mark else 0,
                                    f"cannot read the rules: {syntax_error(exc, file).problem}"))
        except (OSError, AttributeError, KeyError, TypeError) as exc:  # one problem, not a crash
            problems.append(Problem(file, 0, f"cannot read the rules: {exc}"))
    for path in sorted(ContentPaths(root).slos.glob("*.y*ml")):
        file = _relative(path, root)
        try:
            for spec in slo.load_specs(path):  # an OpenSLO file may hold several
                alerts += _alerts_in(slo.generate_rules(spec), file)
        except InvalidInput as exc:
            problems.append(Problem(file, 0, f"cannot generate its alert rules: {exc}"))
    return alerts, problems


def _alerts_in(doc: Any, file: str) -> list[_Alert]:
    return [_Alert(str(rule["alert"]), str(group.get("name", "")), str((rule.get("labels") or {}).get("severity", "")),
                   str((rule.get("annotations") or {}).get("runbook_url", "")), file)
            for group in (doc or {}).get("groups") or [] for rule in group.get("rules") or [] if "alert" in rule]


def _check_sections(book: Runbook, file: str) -> list[Problem]:
    found: dict[str, Section] = {}
    problems = []
    for section in book.sections:
        if section.title in found:
            problems.append(Problem(file, section.line, f"section '## {section.title}' appears twice "
                                                        f"(first at line {found[section.title].line})"))
        else:
            found[section.title] = section
    latest: Section | None = None
    for section in sorted((s for s in found.values() if s.title in REQUIRED_SECTIONS), key=lambda s: s.line):
        if latest is not None and REQUIRED_SECTIONS.index(section.title) < REQUIRED_SECTIONS.index(latest.title):
            problems.append(Problem(file, section.line, f"section '## {section.title}' is out of order: "
                                                        f"it belongs before '## {latest.title}' (line {latest.line})"))
        else:
            latest = section
    for i, title in enumerate(REQUIRED_SECTIONS):
        section = found.get(title)
        if section is None:
            following = [found[t] for t in REQUIRED_SECTIONS[i + 1:] if t in found]
            line = following[0].line if following else max(len(book.lines), 1)
            where = f"before '## {following[0].title}'" if following else "at the end"
            problems.append(Problem(file, line, f"missing section '## {title}' (it belongs {where})"))
        elif not section.text.strip():
            problems.append(Problem(file, section.line, f"section '## {title}' is empty"))
        elif title == "First checks" and not any(s.section == title for s in book.promql):
            problems.append(Problem(file, section.line, "'## First checks' has no promql block: "
                                                        "give at least one query that confirms the alert"))
        elif title == "Mitigations" and not any(c.section == title for c in book.commands):
            problems.append(Problem(file, section.line, "'## Mitigations' has no sh block: give the exact command"))
    return problems


def _check_commands(book: Runbook, file: str, check_command: CommandCheck) -> list[Problem]:
    """Every ``kit`` command in an sh block must be one the kit accepts (a runbook is no place to learn of a
    typo) and none of the game master's (``GAME_MASTER_COMMANDS``)."""
    import shlex

    problems = []
    for command in book.commands:
        try:
            argv = shlex.split(command.text, comments=True)
        except ValueError as exc:
            problems.append(Problem(file, command.line, f"cannot read the command {command.text!r}: {exc}"))
            continue
        if not argv or argv[0] != "kit":
            continue
        reason = check_command(argv[1:])
        if reason is not None:
            problems.append(Problem(file, command.line, f"`{command.text}` is not a valid kit command: {reason}"))
            continue
        if argv[1] in GAME_MASTER_COMMANDS:
            problems.append(Problem(file, command.line, f"`{command.text}` is the game master's tool, not the "
                                    "on-call's: diagnose from the symptoms (queries, `kit status`, `kit logs`) and "
                                    "fix with `kit mitigate`"))
    return problems


def _check_query(snippet: Snippet, file: str, live: bool, config: Config | None,
                 require_data: bool = False) -> list[Problem]:
    if not snippet.text.strip():
        return [Problem(file, snippet.line, "the promql block is empty")]
    if not live:
        return []
    from . import prom

    try:
        frame = prom.query(snippet.text, config=config)
        if require_data and frame.empty:
            return [Problem(file, snippet.line, "the query returns no series: a misspelled metric or label returns "
                                                "nothing instead of an error, and an empty first check reads as "
                                                "'all is well'")]
    except PromQLError as exc:
        message = str(exc).removeprefix(f"Prometheus rejected {exc.expr!r}: ")
        position = _POSITION.search(message)
        offset = int(position["line"]) - 1 if position else 0
        line = snippet.line + offset if 0 <= offset < len(snippet.text.splitlines()) else snippet.line
        return [Problem(file, line, f"Prometheus rejected the query: {message}")]
    return []


# --------------------------------------------------------------------------- drafts (labs)


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


def lint_runbook(path: str | Path, *, alerts: list[str] | tuple[str, ...] | None = None, live: bool = True,
                 require_data: bool = False, config: Config | None = None,
                 check_command: CommandCheck = refusal) -> LintReport:
    """Lint one runbook file, wherever it lives (a draft from ``save_draft``), as ``lint`` checks each runbook.

    The required sections in order and none empty, a promql block in First
    checks, a command in Mitigations, every query accepted by Prometheus
    (``live``; offline only non-empty), and every alert in ``alerts`` named in
    the text. Without ``alerts``: the alerts whose ``runbook_url`` ends in this
    file's name (``…/payments-latency.md``), loaded in Prometheus when ``live``,
    else read from ``sandbox/rules`` and ``slos/``, so a draft is held to the
    alerts that will link to it once it is copied into ``runbooks/``.
    ``require_data`` (live only) also reports each First checks query that
    returns no series: a misspelled metric is not an error to Prometheus.
    ``check_command`` judges each ``kit`` command, as for ``lint``.
    Problems name the file by its name alone.
    """
    if require_data and not live:
        raise InvalidInput("require_data", "needs live=True: only Prometheus can tell whether a query returns data")
    book = parse(path)
    file = book.path.name
    if alerts is None:
        found, _ = _live_alerts(config) if live else _file_alerts(REPO_ROOT)
        names = sorted({a.name for a in found if a.runbook_url
                        and Path(unquote(urlsplit(a.runbook_url).path)).name == file})
    else:
        names = sorted(set(alerts))
    problems = _check_sections(book, file)
    text = book.text
    problems += [Problem(file, 1, f"alert {name} links here, but the runbook never names it")
                 for name in names if not re.search(rf"\b{re.escape(name)}\b", text)]
    problems += _check_commands(book, file, check_command)
    for snippet in book.promql:
        problems += _check_query(snippet, file, live, config,
                                 require_data=require_data and snippet.section == "First checks")
    return LintReport(sorted(set(problems)), live, 1, len(names), len(book.promql))


def practice_incident(*, config: Config | None = None, timeout: float = 60.0) -> Any:
    """Break the sandbox for a runbook exercise without the notebook saying how; return the page it causes.

    Payments starts answering more slowly than the shop waits for it (the
    ``payments_slow`` fault at 1500 ms; the runbook's queries find it, as they
    would in production). Blocks until CheckoutErrorRatioHigh pages and returns
    the pager's rows for it. ``kit mitigate restart payments`` ends it, as does
    ``kit fault clear``.
    """
    import time

    from . import pager
    from .shop import faults

    started = time.time()
    faults.set_fault("payments_slow", ms=1500, config=config)
    return pager.wait_for_page("CheckoutErrorRatioHigh", since=started, timeout=timeout, config=config)


# --------------------------------------------------------------------------- notebook


def to_notebook(path: str | Path, out: str | Path | None = None, *, config: Config | None = None) -> Path:
    """Write the runbook as a notebook a paged engineer runs cell by cell; returns where it went.

    Prose becomes Markdown cells, each ``promql`` block a ``kit.query`` cell and
    each ``sh`` block a cell of ``!`` commands. Cells from Mitigations change
    the sandbox, so they carry the ``skip-execution`` tag that automated runs
    (nbclient) honour. Without ``out`` the notebook goes to ``<state>/runbooks/``.
    """
    import nbformat
    from nbformat import v4

    book = parse(path)
    starts = {s.line - 1: s for s in book.snippets if s.lang in ("promql", "sh")}
    headings = {s.line for s in book.sections}
    cells = [v4.new_markdown_cell(
        f"*Generated from `{_relative(book.path, REPO_ROOT)}` by `kit runbooks notebook`: edit the Markdown, "
        "not this notebook.* Run the cells one by one. Cells under **Mitigations** change the sandbox; automated "
        "runs skip them (tag `skip-execution`), but *Run All* in JupyterLab does not."),
        v4.new_code_cell("import kit")]
    prose: list[str] = []

    def flush() -> None:
        if "".join(prose).strip():
            cells.append(v4.new_markdown_cell("\n".join(prose).strip("\n")))
        prose.clear()

    number = 1
    while number <= len(book.lines):
        snippet = starts.get(number)
        if snippet is None:
            if number in headings:
                flush()
            prose.append(book.lines[number - 1])
            number += 1
            continue
        flush()
        cells.append(_code_cell(snippet))
        number = snippet.end + 1
    flush()
    notebook = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    target = Path(out) if out else resolve(config).paths.runbook_notebooks / f"{book.path.stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(target))
    return target


def _code_cell(snippet: Snippet) -> Any:
    from nbformat import v4

    if snippet.lang == "promql":
        source = f"kit.query({_python_string(snippet.text.strip())})"
    else:
        source = "\n".join(line if not line.strip() or line.lstrip().startswith("#") else f"!{line.strip()}"
                           for line in snippet.text.splitlines())
    cell = v4.new_code_cell(source)
    if snippet.section == "Mitigations":
        cell.metadata["tags"] = ["mitigation", "skip-execution"]
    return cell


def _python_string(text: str) -> str:
    """A readable triple-quoted literal when that is safe, else repr."""
    if '"""' in text or "\\" in text or text.endswith('"'):
        return repr(text)
    return f'"""{text}"""'
