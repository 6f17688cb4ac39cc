"""Runbooks linted against the alert rules that link to them: sections, queries, commands.

Where a ``runbook_url`` may point: a path relative to the repository root (``runbooks/checkout-errors.md``,
an optional ``#anchor`` is ignored), or an ``http(s)://`` address whose path contains ``/runbooks/``; the
part from ``runbooks/`` on is then looked up in the repository (a GitHub link to the file passes).
Anything else is reported.

The linter asks a ``CommandCheck`` whether a runbook's ``kit`` commands parse; by default the CLI's own
parser, which kit.commandcheck holds for it: this package never imports kit.cli. Heavy modules (pandas
through kit.prom) are imported where they are used, so ``kit --help`` stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..commandcheck import CommandCheck, refusal
from ..config import REPO_ROOT, Config, ContentPaths
from ..errors import InvalidInput, PromQLError, SandboxNotReady
from .runbook import REQUIRED_SECTIONS, TEMPLATE, Runbook, Section, Snippet, parse, relative_name

__all__ = ["GAME_MASTER_COMMANDS", "LIVE_SOURCE", "CommandCheck", "LintReport", "Problem", "lint", "lint_runbook"]

GAME_MASTER_COMMANDS: tuple[str, ...] = ("fault",)
"""``kit`` commands that inject, clear or list the game master's faults. Production has no such button, and in a
drill a runbook that lists them hands the mob the diagnosis, so no runbook may use them."""

LIVE_SOURCE = "loaded in Prometheus"
"""The ``file`` of problems about rules read from the running Prometheus."""

_POSITION = re.compile(r"\b(?P<line>\d+):\d+: parse error")


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
        file = relative_name(path, root)
        problems += _check_sections(book, file)
        text = "\n".join(book.lines)
        problems += [Problem(file, 1, f"alert {name} links here, but the runbook never names it")
                     for name in sorted(linked.get(path, ())) if not re.search(rf"\b{re.escape(name)}\b", text)]
        problems += _check_commands(book, file, check_command)
        for snippet in book.promql:
            queries += 1
            problems += _check_query(snippet, file, live, config)
    return LintReport(sorted(set(problems)), live, len(files), len(alerts), queries)


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
    from .. import prom

    try:
        rules = prom.rules(config=config)
    except SandboxNotReady as exc:
        raise SandboxNotReady(f"{exc}; or lint without Prometheus: `kit runbooks lint --offline`") from None
    rows = rules[rules["type"] == "alerting"].itertuples()
    return [_Alert(r.name, r.group, r.severity, r.runbook_url, LIVE_SOURCE) for r in rows], []


def _file_alerts(root: Path) -> tuple[list[_Alert], list[Problem]]:
    import yaml

    from .. import slo
    from ..promfiles import read_yaml
    from ..yamldocs import syntax_error

    alerts: list[_Alert] = []
    problems: list[Problem] = []
    for path in sorted((ContentPaths(root).sandbox / "rules").glob("*.yml")):
        file = relative_name(path, root)
        try:
            alerts += _alerts_in(read_yaml(path), file)
        except yaml.YAMLError as exc:  # at the parser's line, in one line rather than its excerpt
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(file, mark.line + 1 if mark else 0,
                                    f"cannot read the rules: {syntax_error(exc, file).problem}"))
        except (OSError, AttributeError, KeyError, TypeError) as exc:  # one problem, not a crash
            problems.append(Problem(file, 0, f"cannot read the rules: {exc}"))
    for path in sorted(ContentPaths(root).slos.glob("*.y*ml")):
        file = relative_name(path, root)
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
    from .. import prom

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
