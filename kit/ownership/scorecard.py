"""The live scorecard: which level of operational readiness a service has reached, judged from the running
sandbox and the repository, and what to fix next.

Scorecard products judge a service from metadata people type in; every check here looks at the thing itself:
the rules Prometheus has loaded and the series it holds, the routing tree of the running Alertmanager (through
``amtool``, Alertmanager's own router), the runbooks, SLO specs, rotation and catalog in the repository, and the
drill results and deploy log of the sandbox. Breaking the thing a check is about turns that check red.

The checks are grouped by the four foundations of developer-empowered operations, culture, automation,
measurement and sharing ("CAMS"), plus two areas of a readiness review (incident management; service and
supplier management). Levels are cumulative (``LEVELS``): a service reaches a level only when every check of that
level and of every level below passes. The first level follows Slack's "service health and operational maturity"
(Holly Allen, "Service Ownership", QCon SF 2018): at least one alerting health metric of the service in
Prometheus, paging alerts that link to a runbook, a team on call, incident response practised.

Where a check reads from:

- the catalog entry (``catalog/``, kit.ownership.catalog) names the Prometheus job, the SLOs, the runbook
  folder, the rotation, and the error budget policy (``ANNOTATION_BUDGET_POLICY``, a Markdown file with the
  ``POLICY_SECTIONS``, e.g. ``slos/shop-error-budget-policy.md``);
- ``Sources`` holds every repository-side input, so that a test or a lab can judge copies of them;
- a paging rule "for" a service is a loaded alerting rule with ``severity: page`` that selects the service's job
  (``job="shop"``, or a regex matching it) or carries the label ``service: <name>`` (the SLO burn-rate alerts).

A check that cannot run (Prometheus or Alertmanager down, amtool missing) is an ``error``, never a pass.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..config import CONTENT, Config, resolve
from ..errors import InvalidInput, KitError, SandboxNotReady

if TYPE_CHECKING:
    from .catalog import Catalog, Component

__all__ = [
    "ANNOTATION_BUDGET_POLICY", "CALLS_WINDOW", "CATEGORIES", "CHECKS", "LEVELS", "POLICY_SECTIONS", "PRACTICE_DAYS",
    "STATUSES", "Check", "CheckResult", "Level", "Report", "Scorecard", "Sources", "level_number", "readiness",
    "scorecard",
]

ANNOTATION_BUDGET_POLICY = "reliability-dojo/error-budget-policy"
"""The catalog annotation naming the component's error budget policy, relative to the repository root."""

POLICY_SECTIONS: tuple[str, ...] = ("SLO miss policy", "Outage policy", "Escalation policy")
"""The ``## `` sections an error budget policy must fill in: what the team does when the budget is spent, when one
incident takes a large share of it, and who settles a disagreement (the Google SRE workbook's example policy)."""

PRACTICE_DAYS = 30
"""How recent a drill and a rollback rehearsal must be, in days."""

CALLS_WINDOW = "15m"
"""How far back the observed calls between services are read (kit.ownership.catalog.observed_calls)."""

STATUSES = ("passed", "failed", "error")
"""A check passed, failed (the fix says what to change), or could not run (an error: never a pass)."""

CATEGORIES: tuple[str, ...] = ("culture", "automation", "measurement", "sharing", "incident management",
                               "service and supplier management")
"""CAMS, the four foundations of developer-empowered operations, then two areas of a readiness review."""


@dataclass(frozen=True)
class Level:
    """A level of the scorecard: its ``number`` (1 is the first), ``name`` and what reaching it means."""

    number: int
    name: str
    meaning: str


LEVELS: tuple[Level, ...] = (
    Level(1, "listed", "in the catalog, and Prometheus alerts on a health metric of its own"),
    Level(2, "owned", "its team is on call and paged for it, every page has a runbook, its dependencies are known"),
    Level(3, "measured", "SLOs with their burn-rate alerts loaded, and a written error budget policy"),
    Level(4, "practised", f"incident response drilled and a rollback rehearsed in the last {PRACTICE_DAYS} days"),
)
"""The levels, lowest first; a service below the first is at level 0, "none"."""


@dataclass(frozen=True)
class Check:
    """What one check asks: its ``id``, ``category`` (one of ``CATEGORIES``), ``level`` (a number of ``LEVELS``)
    and ``title``, the question in a few words."""

    id: str
    category: str
    level: int
    title: str


CHECKS: tuple[Check, ...] = (
    Check("catalog-entry", "sharing", 1, "its catalog entry is complete"),
    Check("health-metric", "measurement", 1, "Prometheus alerts on a health metric it exports"),
    Check("rotation", "culture", 2, "its team's on-call rotation passes every check"),
    Check("page-routing", "automation", 2, "its pages route to the owning team"),
    Check("runbooks", "sharing", 2, "every paging rule for it links to a runbook that lints"),
    Check("dependencies", "service and supplier management", 2, "its declared dependencies are the observed ones"),
    Check("slo-alerts", "measurement", 3, "its SLOs are defined and their burn-rate alerts loaded"),
    Check("budget-policy", "culture", 3, "an error budget policy is written for its SLOs"),
    Check("drill", "incident management", 4, f"a drill of it was resolved in the last {PRACTICE_DAYS} days"),
    Check("rollback", "automation", 4, f"a rollback was rehearsed in the last {PRACTICE_DAYS} days"),
)
"""Every check, by level then category."""


def level_number(name: str) -> int:
    """The number of a level given by name (``owned``) or number (``2``); 0 for ``none``. InvalidInput otherwise."""
    text = name.strip().lower()
    for level in LEVELS:
        if text in (level.name, str(level.number)):
            return level.number
    if text in ("none", "0"):
        return 0
    raise InvalidInput("LEVEL", f"{name!r} is not a level; use one of "
                                + ", ".join(f"{lv.number} {lv.name}" for lv in LEVELS))


def _level_name(number: int) -> str:
    return next((lv.name for lv in LEVELS if lv.number == number), "none")


@dataclass(frozen=True)
class Sources:
    """The repository-side inputs of the checks; each None means its place under ``root``.

    ``catalog``: the catalog folder or file; ``oncall``: the folder of rotations (a component's rotation is the
    file its annotation names, looked up by name in this folder); ``runbooks``: the folder a ``runbook_url``
    resolves in (the part after ``runbooks/``); ``slos``: the folder of SLO specs; ``drills``: the folder of drill
    scenarios; ``policy``: the error budget policy file, instead of the one the catalog entry names.
    ``drill_results`` and ``deploy_log`` are the sandbox's own files unless given.
    """

    root: Path = CONTENT.root
    catalog: Path | None = None
    oncall: Path | None = None
    runbooks: Path | None = None
    slos: Path | None = None
    drills: Path | None = None
    policy: Path | None = None
    drill_results: Path | None = None
    deploy_log: Path | None = None

    def folder(self, name: str) -> Path:
        """The folder ``name`` (catalog, oncall, runbooks, slos or drills): as given, or ``root/name``."""
        given = getattr(self, name)
        return Path(given) if given is not None else Path(self.root) / name

    def shown(self, path: Path) -> str:
        """``path`` relative to ``root`` when it lies under it, as a person finds it in the repository."""
        path = Path(path)
        root = Path(self.root).resolve()
        return str(path.resolve().relative_to(root)) if path.resolve().is_relative_to(root) else str(path)


@dataclass(frozen=True)
class CheckResult:
    """One check evaluated for one service: the ``Check`` fields, its ``status`` (one of ``STATUSES``), ``detail``
    (what was found, one line) and ``fix`` (what to do, one line; "" when it passed)."""

    id: str
    category: str
    level: int
    title: str
    status: str
    detail: str
    fix: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


COLUMNS = ["service", "level", "level_name", "category", "check", "status", "detail", "fix"]
"""Columns of ``Scorecard.frame`` and ``Report.frame``: one row per check, by level."""


@dataclass(frozen=True)
class Scorecard:
    """Every check of one service (``results``, in ``CHECKS`` order), evaluated at ``checked_at`` (UTC) in
    ``seconds``. ``owner`` is the name of the owning team (the Group of ``spec.owner``)."""

    service: str
    owner: str
    checked_at: datetime
    seconds: float
    results: tuple[CheckResult, ...]

    @property
    def level(self) -> int:
        """The highest level whose checks, and those of every level below, all passed (0: none)."""
        reached = 0
        for lv in LEVELS:
            if not all(r.passed for r in self.results if r.level <= lv.number):
                break
            reached = lv.number
        return reached

    @property
    def level_name(self) -> str:
        return _level_name(self.level)

    def result(self, check_id: str) -> CheckResult:
        """The result of the check ``check_id``; KeyError names the checks there are."""
        found = next((r for r in self.results if r.id == check_id), None)
        if found is None:
            raise KeyError(f"no check {check_id!r}; checks: {', '.join(r.id for r in self.results)}")
        return found

    @property
    def red(self) -> tuple[str, ...]:
        """The ids of the checks that did not pass (failed or error), in order."""
        return tuple(r.id for r in self.results if not r.passed)

    @property
    def next_fixes(self) -> tuple[CheckResult, ...]:
        """The checks that keep it from the next level: the unpassed ones of the lowest level not reached."""
        return tuple(r for r in self.results if not r.passed and r.level == self.level + 1)

    def frame(self):
        """The results as a DataFrame with ``COLUMNS``, one row per check."""
        import pandas as pd

        return pd.DataFrame([(self.service, r.level, _level_name(r.level), r.category, r.id, r.status, r.detail,
                              r.fix) for r in self.results], columns=COLUMNS)

    def as_dict(self) -> dict[str, Any]:
        """What ``--json`` prints for the service: its level, and every check with its status, detail and fix."""
        return {"service": self.service, "owner": self.owner, "level": self.level, "level_name": self.level_name,
                "checked_at": self.checked_at.isoformat(), "seconds": round(self.seconds, 3),
                "checks": [{"id": r.id, "category": r.category, "level": r.level, "level_name": _level_name(r.level),
                            "title": r.title, "status": r.status, "detail": r.detail, "fix": r.fix}
                           for r in self.results]}

    def __str__(self) -> str:
        head = (f"{self.service} (owner {self.owner}): level {self.level} {self.level_name}"
                + (f"; next: {_level_name(self.level + 1)}" if self.level < len(LEVELS) else ""))
        rows = [(f"{r.level} {_level_name(r.level)}", r.category, r.id, _MARK[r.status],
                 r.detail if r.passed else f"{r.detail}. Fix: {r.fix}") for r in self.results]
        return head + "\n" + _table(("level", "category", "check", "status", "what was found"), rows)

    def _repr_html_(self) -> str:
        return _card_html(self)


_MARK = {"passed": "passed", "failed": "FAILED", "error": "ERROR"}


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Plain columns, each as wide as its widest cell; the last column runs on."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]).rstrip()
                     for row in [header, *rows])


@dataclass(frozen=True)
class Report:
    """The scorecards of several services (``cards``), for one table, one JSON document and one HTML report."""

    cards: tuple[Scorecard, ...]

    @property
    def lowest(self) -> int:
        """The lowest level any of the services reached (what ``--require`` compares)."""
        return min((c.level for c in self.cards), default=0)

    def card(self, service: str) -> Scorecard:
        found = next((c for c in self.cards if c.service == service), None)
        if found is None:
            raise KeyError(f"no scorecard for {service!r}; services: {', '.join(c.service for c in self.cards)}")
        return found

    def frame(self):
        """Every card's rows (``COLUMNS``) in one DataFrame."""
        import pandas as pd

        return pd.concat([c.frame() for c in self.cards], ignore_index=True) if self.cards else \
            pd.DataFrame(columns=COLUMNS)

    def as_json(self) -> str:
        """A JSON list with one object per service (``Scorecard.as_dict``)."""
        return json.dumps([c.as_dict() for c in self.cards], indent=2)

    def html(self) -> str:
        """A self-contained HTML document (inline style, no script, nothing fetched) of every card."""
        cards = "\n".join(_card_html(c) for c in self.cards)
        stamp = max((c.checked_at for c in self.cards), default=datetime.now(timezone.utc))
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>Readiness scorecard</title><style>{_STYLE}</style></head>\n<body>"
                f"<h1>Readiness scorecard</h1><p class=\"when\">checked {stamp:%Y-%m-%d %H:%M:%S} UTC against the "
                f"running sandbox and the repository</p>\n{cards}\n{_levels_html()}</body></html>\n")

    def __str__(self) -> str:
        return "\n\n".join(map(str, self.cards))

    def _repr_html_(self) -> str:
        return "\n".join(_card_html(c) for c in self.cards)


_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
          "table.scorecard{border-collapse:collapse;margin:.5em 0 2em}"
          ".scorecard th,.scorecard td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
          ".scorecard th{background:#f0f0f0}.scorecard .passed{background:#e3f4e3}"
          ".scorecard .failed{background:#fbe3e3}.scorecard .error{background:#fdf0d0}"
          ".scorecard .fix{font-weight:600}.when{color:#666}")


def _card_html(card: Scorecard) -> str:
    e = html.escape
    rows = "".join(
        f"<tr class=\"{r.status}\" data-check=\"{e(r.id)}\"><td>{r.level} {e(_level_name(r.level))}</td>"
        f"<td>{e(r.category)}</td><td>{e(r.id)}</td><td class=\"status\">{e(r.status)}</td><td>{e(r.detail)}</td>"
        f"<td class=\"fix\">{e(r.fix)}</td></tr>" for r in card.results)
    return (f"<section class=\"card\" data-service=\"{e(card.service)}\"><h2>{e(card.service)}: level "
            f"<span class=\"level\">{card.level} {e(card.level_name)}</span></h2><p>owner {e(card.owner)}</p>"
            "<table class=\"scorecard\"><thead><tr><th>level</th><th>category</th><th>check</th><th>status</th>"
            f"<th>what was found</th><th>what to fix</th></tr></thead><tbody>{rows}</tbody></table></section>")


def _levels_html() -> str:
    items = "".join(f"<li><b>{lv.number} {html.escape(lv.name)}</b>: {html.escape(lv.meaning)}</li>" for lv in LEVELS)
    return f"<h2>Levels</h2><p>A level is reached when every check of it and of the levels below passes.</p><ol>{items}</ol>"


# ---- evaluation ----------------------------------------------------------------------------------------------------

class _Failed(Exception):
    """A check found something to fix: ``detail`` says what, ``fix`` what to do."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


class _Memo:
    """A value computed once for all checks (Prometheus's rules, the observed calls), its error too."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self._compute, self._lock, self._done, self._value, self._error = compute, threading.Lock(), False, None, None

    def __call__(self) -> Any:
        with self._lock:
            if not self._done:
                try:
                    self._value = self._compute()
                except KitError as error:
                    self._error = error
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value


_SELECTOR = re.compile(r"(?P<metric>[A-Za-z_:][A-Za-z0-9_:]*)\s*\{(?P<matchers>[^}]*)\}")
_MATCHER = re.compile(r'(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"')
_PROMETHEUS_MADE = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added",
                              "scrape_samples_post_metric_relabeling", "ALERTS", "ALERTS_FOR_STATE"})
"""Series Prometheus writes itself: an alert on them says the target answers, not how the service serves."""


def _selected_metrics(query: str, job: str) -> set[str]:
    """The metric names ``query`` selects with a matcher that takes the job ``job`` (``job="shop"``, ``job=~"…"``)."""
    found = set()
    for selector in _SELECTOR.finditer(query):
        for m in _MATCHER.finditer(selector["matchers"]):
            if m["label"] != "job":
                continue
            value = m["value"].replace('\\\\', '\\')
            if (m["op"] == "=" and value == job) or (m["op"] == "=~" and _fullmatch(value, job)):
                found.add(selector["metric"])
    return found


def _fullmatch(pattern: str, text: str) -> bool:
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return False


@dataclass
class _Live:
    """What the checks of one service share: its entry, the sources, the sandbox and the memoised live reads."""

    component: Component
    catalog: Catalog
    sources: Sources
    config: Config
    now: datetime
    rules: _Memo = field(init=False)
    calls: _Memo = field(init=False)

    def __post_init__(self) -> None:
        from .. import prom
        from .catalog import observed_calls

        self.rules = _Memo(lambda: prom.rules(config=self.config))
        self.calls = _Memo(lambda: observed_calls(CALLS_WINDOW, config=self.config))

    @property
    def name(self) -> str:
        return self.component.name

    @property
    def source(self) -> str:
        """The file of the catalog entry, as a person finds it under the repository root."""
        return self.sources.shown(Path(self.component.source.split(":")[0]))

    def alerting(self):
        rules = self.rules()
        return rules[rules["type"] == "alerting"]

    def pages(self) -> list:
        """The loaded paging rules for the service: severity page, selecting its job or labelled with its name."""
        job = self.component.prometheus_job
        return [rule for rule in self.alerting().itertuples() if rule.severity == "page"
                and ((job and _selected_metrics(rule.query, job)) or rule.labels.get("service") == self.name)]


def _catalog_entry(live: _Live) -> str:
    from . import catalog as catalogs

    ref = str(live.component.ref)
    findings = ([f for f in catalogs.dangling_refs(live.catalog) if f.entity == ref]
                + catalogs.completeness(live.component, live.catalog))
    if findings:
        first = findings[0]
        more = f" (and {len(findings) - 1} more: `kit catalog check`)" if len(findings) > 1 else ""
        raise _Failed(f"{first.source}: {first.field}: {first.problem}{more}", first.fix)
    return f"{live.component.source}: owner, lifecycle, system, description, runbook links and job annotation present"


def _health_metric(live: _Live) -> str:
    from . import catalog as catalogs

    job = live.component.prometheus_job
    if job is None:
        raise _Failed("the catalog entry names no Prometheus job, so no alert can be told to be about it",
                      f"add the annotation {catalogs.ANNOTATION_JOB}: <the job label of its series> to {live.source}")
    over = {rule.name: _selected_metrics(rule.query, job) for rule in live.alerting().itertuples()}
    over = {name: metrics for name, metrics in over.items() if metrics}
    example = f'http_requests_total{{job="{job}"}}'
    if not over:
        raise _Failed(f"no alerting rule loaded in Prometheus reads a series of job {job}",
                      f"load an alerting rule on a health metric {live.name} exports (its error ratio or latency from "
                      f"{example}) with severity: page")
    own = sorted({m for metrics in over.values() for m in metrics} - _PROMETHEUS_MADE)
    if not own:
        raise _Failed(f"the alerts over job {job} ({', '.join(sorted(over))}) read only series Prometheus makes "
                      "itself (up), which say the target answers, not how it serves",
                      f"load an alerting rule on a health metric {live.name} exports: its error ratio or latency from "
                      f"{example}, with severity: page")
    from .. import prom
    from ..timescale import parse_duration

    # Scraped in the last few scrapes: an instant query would also find, for five minutes, a backfilled history's
    # last samples (series of another instance, which no failed scrape marks stale).
    recent = f"{3 * parse_duration(live.config.profile_spec.scrape_interval):g}s"
    selector = f'{{__name__=~"{"|".join(map(re.escape, own))}", job="{job}"}}'
    held = prom.query(f"group by (__name__) (last_over_time({selector}[{recent}]))", config=live.config)
    present = sorted(set(held.get("__name__", [])))
    if not present:
        raise _Failed(f"Prometheus holds none of the metrics its alerts read ({', '.join(own)}) for job {job} now: "
                      "the target is not scraped, so those alerts watch nothing",
                      f"get Prometheus scraping job {job} again: `kit status` shows whether {live.name} runs, "
                      f"`kit query 'up{{job=\"{job}\"}}'` whether its /metrics answers")
    rules = sorted(name for name, metrics in over.items() if set(metrics) & set(present))
    return f"{', '.join(rules)} alert on {', '.join(present)} of job {job}, held in Prometheus now"


def _rotation(live: _Live) -> str:
    from . import catalog as catalogs, oncall

    owner = live.catalog.get(live.component.owner)
    folder = live.sources.folder("oncall")
    named = live.component.rotation
    path = folder / (Path(named).name if named else f"{live.component.owner.name}.ics")
    if not path.is_file():
        raise _Failed(f"{live.sources.shown(path)} does not exist: nobody is on call for {live.name}",
                      f"write the rotation of {live.component.owner.name} as {live.sources.shown(path)} "
                      f"(see `kit oncall --help`) and name it in the annotation {catalogs.ANNOTATION_ROTATION}")
    try:
        report = oncall.check(oncall.load(path), start=live.now)
    except InvalidInput as error:
        raise _Failed(f"{live.sources.shown(path)} cannot be read as a rotation: {error}",
                      f"repair {live.sources.shown(path)} as the message says, then `kit oncall check`") from None
    if not report.ok:
        first = report.findings[0]
        more = f" (and {len(report.findings) - 1} more: `kit oncall check`)" if len(report.findings) > 1 else ""
        raise _Failed(f"{live.sources.shown(path)}: {first.check}: {first.subject}: {first.problem}{more}", first.fix)
    team = owner.name if owner is not None else live.component.owner.name
    return (f"{live.sources.shown(path)}: {len(report.load)} engineers of {team}; coverage, levels, head count, load "
            "and escalation pass")


def _runbook_file(url: str, folder: Path) -> Path:
    """The runbook a ``runbook_url`` names, in ``folder``; ValueError says why it does not resolve."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or (parts.netloc and parts.scheme == ""):
        raise ValueError("is neither a path in the repository nor an http(s) link into runbooks/")
    path = unquote(parts.path)
    at = path.rfind("runbooks/")
    if at < 0:
        raise ValueError("does not point into runbooks/")
    return folder / path[at + len("runbooks/"):]


_LINTING = threading.Lock()
"""One runbook lint at a time: the linter asks the CLI's parser about each command with sys.stdout and sys.stderr
redirected, and two redirections interleaved in two threads would leave the process writing into a buffer."""


def _runbooks(live: _Live) -> str:
    from ..runbooks import lint_runbook

    pages = live.pages()
    if not pages:
        return "no paging rule is loaded for it: no page to lead to a runbook"
    folder = live.sources.folder("runbooks")
    linked: dict[Path, list[str]] = {}
    for rule in pages:
        if not rule.runbook_url:
            raise _Failed(f"alert {rule.name} (group {rule.group}) pages for {live.name} but has no runbook_url",
                          f"add annotations: runbook_url: runbooks/<file>.md to alert {rule.name} in the rule "
                          f"group {rule.group}, pointing at a runbook in {live.sources.shown(folder)}")
        try:
            path = _runbook_file(rule.runbook_url, folder)
        except ValueError as problem:
            raise _Failed(f"alert {rule.name}: runbook_url {rule.runbook_url!r} {problem}",
                          f"point the runbook_url of {rule.name} at runbooks/<file>.md") from None
        if not path.is_file():
            raise _Failed(f"alert {rule.name} links to {rule.runbook_url}, which is not in "
                          f"{live.sources.shown(folder)}",
                          f"write {live.sources.shown(path)} from runbooks/TEMPLATE.md, or correct the link")
        linked.setdefault(path, []).append(rule.name)
    for path, alerts in sorted(linked.items()):
        with _LINTING:
            report = lint_runbook(path, alerts=alerts, live=True, config=live.config)
        if report.problems:
            first = report.problems[0]
            more = f" (and {len(report.problems) - 1} more: `kit runbooks lint`)" if len(report.problems) > 1 else ""
            raise _Failed(f"{live.sources.shown(path)}:{first.line}: {first.message}{more}",
                          f"edit {live.sources.shown(path)} at line {first.line}: {first.message}")
    return (f"{len(pages)} paging rules link to {len(linked)} runbooks that lint: "
            + ", ".join(live.sources.shown(p) for p in sorted(linked)))


def _dependencies(live: _Live) -> str:
    from . import catalog as catalogs

    calls = live.calls()
    ref = str(live.component.ref)
    findings = [f for f in catalogs.compare_dependencies(live.catalog, calls, CALLS_WINDOW) if f.entity == ref]
    if findings:
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        raise _Failed(f"{first.source}: {first.field}: {first.problem}{more}", first.fix)
    job = live.component.prometheus_job
    seen = sorted(c.callee for c in calls if c.caller == job)
    declared = ", ".join(r.name for r in live.component.depends_on) or "nothing"
    return f"declares {declared}; calls seen over the last {CALLS_WINDOW}: {', '.join(seen) or 'none'}"


def _slo_alerts(live: _Live) -> str:
    from .. import slo
    from . import catalog as catalogs

    names = live.component.slos
    if not names:
        raise _Failed("the catalog entry names no SLO",
                      f"write an SLO spec in slos/ (like slos/checkout-availability.yml) and name it in the annotation "
                      f"{catalogs.ANNOTATION_SLOS} of {live.source}")
    folder = live.sources.folder("slos")
    loaded = {(r.name, r.severity, r.labels.get("slo", "")) for r in live.alerting().itertuples()}
    missing = []
    for name in names:
        path = next((p for p in (folder / f"{name}.yml", folder / f"{name}.yaml") if p.is_file()), None)
        if path is None:
            raise _Failed(f"SLO {name} is named in the catalog but {live.sources.shown(folder / name)}.yml does not "
                          "exist", f"write {live.sources.shown(folder / name)}.yml or drop {name} from the annotation "
                                   f"{catalogs.ANNOTATION_SLOS}")
        try:
            spec = slo.load_spec(path)
            expected = {(rule["alert"], rule["labels"]["severity"], spec.name)
                        for group in slo.generate_rules(spec)["groups"] for rule in group["rules"] if "alert" in rule}
        except InvalidInput as error:
            raise _Failed(f"{live.sources.shown(path)} is not a valid SLO: {error}",
                          f"repair it as the message says (`kit slo validate {live.sources.shown(path)}`)") from None
        if not expected <= loaded:
            missing.append(live.sources.shown(path))
    if missing:
        raise _Failed(f"the burn-rate alerts of {', '.join(missing)} are not loaded in Prometheus: its budget can "
                      "burn without a page", "load them: " + "; ".join(f"`kit slo apply {p}`" for p in missing))
    return f"{len(names)} SLOs ({', '.join(names)}) with their page and ticket burn-rate alerts loaded"


def _sections(text: str) -> dict[str, str]:
    """The ``## `` sections of a Markdown text: title (lower case) -> its text up to the next heading."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = found.setdefault(line[3:].strip().lower(), [])
        elif line.startswith("# "):
            current = None
        elif current is not None:
            current.append(line)
    return {title: "\n".join(lines).strip() for title, lines in found.items()}


def _budget_policy(live: _Live) -> str:
    named = live.component.annotations.get(ANNOTATION_BUDGET_POLICY, "").strip()
    if live.sources.policy is not None:
        path = Path(live.sources.policy)
    elif named:
        path = Path(live.sources.root) / named
    else:
        raise _Failed("no error budget policy is named for it",
                      f"write one (like slos/shop-error-budget-policy.md, sections {', '.join(POLICY_SECTIONS)}) and "
                      f"name it in the annotation {ANNOTATION_BUDGET_POLICY} of {live.source}")
    shown = live.sources.shown(path)
    if not path.is_file():
        raise _Failed(f"the error budget policy {shown} does not exist",
                      f"write {shown} with the sections {', '.join(POLICY_SECTIONS)}")
    text = path.read_text(encoding="utf-8")
    sections = _sections(text)
    for title in POLICY_SECTIONS:
        if not sections.get(title.lower()):
            state = "is empty" if title.lower() in sections else "is missing"
            raise _Failed(f"{shown}: section '## {title}' {state}",
                          f"write in '## {title}' of {shown} what the team does then")
    unnamed = [name for name in live.component.slos if not re.search(rf"\b{re.escape(name)}\b", text)]
    if unnamed:
        raise _Failed(f"{shown} does not name the SLO {', '.join(unnamed)}",
                      f"say in {shown} that the policy covers {', '.join(unnamed)}")
    return f"{shown}: {', '.join(POLICY_SECTIONS)} written"


def _day(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d")


def _drill(live: _Live) -> str:
    from .. import jsonlines
    from ..drills import scenarios

    about = sorted(s.id for s in scenarios.catalogue(live.sources.folder("drills"))
                   if s.diagnosis.get("component") == live.name)
    if not about:
        raise _Failed(f"no drill scenario in drills/ is about {live.name}",
                      f"write one with diagnosis: component: {live.name} (see drills/README.md)")
    path = live.sources.drill_results or live.config.paths.drill_results
    since = (live.now - timedelta(days=PRACTICE_DAYS)).timestamp()
    rows = [row for _, row in jsonlines.lines(jsonlines.read_text(Path(path)), str(path))
            if row.get("scenario") in about and row.get("outcome") == "resolved"]
    recent = [row for row in rows if float(row.get("ended_at", 0)) >= since]
    if not recent:
        last = max(rows, key=lambda r: float(r.get("ended_at", 0)), default=None)
        when = f"the last was {last['scenario']} on {_day(float(last['ended_at']))}" if last else "none ever"
        raise _Failed(f"no drill about {live.name} was resolved in the last {PRACTICE_DAYS} days ({when})",
                      f"practise one with the team: `kit drill start {about[0]}`, then `kit drill end` once it is "
                      f"mended (scenarios about {live.name}: {', '.join(about)})")
    last = max(recent, key=lambda r: float(r["ended_at"]))
    return f"{len(recent)} resolved in the last {PRACTICE_DAYS} days; the last: {last['scenario']} on " \
           f"{_day(float(last['ended_at']))}"


def _rollback(live: _Live) -> str:
    from ..releases import deploylog
    from ..releases.canary import BACKEND

    if live.component.prometheus_job != BACKEND:
        raise _Failed(f"the deploy log records releases of the {BACKEND} only; no rollback of {live.name} can be "
                      "rehearsed or recorded in this sandbox",
                      f"release {live.name} through a pipeline that writes the deploy log, then rehearse a rollback")
    events = deploylog.read(live.sources.deploy_log or deploylog.log_path(live.config))
    since = (live.now - timedelta(days=PRACTICE_DAYS)).timestamp()
    rollbacks = [e for e in events if e.kind == "rollback"]
    recent = [e for e in rollbacks if e.at >= since]
    if not recent:
        when = f"the last on {_day(rollbacks[-1].at)}" if rollbacks else "none ever"
        raise _Failed(f"no rollback in the deploy log in the last {PRACTICE_DAYS} days ({when})",
                      "rehearse one: `kit release deploy 1.1.0`, `kit release weight 10`, then `kit release rollback`")
    last = max(recent, key=lambda e: e.at)
    return f"{len(recent)} rollback(s) in the last {PRACTICE_DAYS} days; the last of {last.version} on {_day(last.at)}"


def _amtool_receivers(amtool: Path, config_file: Path, labels: dict[str, str]) -> list[str]:
    """The receivers Alertmanager's routing tree in ``config_file`` gives an alert with ``labels``."""
    matchers = [f"{key}={json.dumps(value)}" for key, value in sorted(labels.items())]  # amtool's quoting is Go's
    done = subprocess.run([str(amtool), "config", "routes", "test", f"--config.file={config_file}", *matchers],
                          capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise KitError(f"amtool could not test the route of {labels.get('alertname')}: "
                       f"{(done.stderr or done.stdout).strip()[:300]}")
    return [r.strip() for r in done.stdout.strip().split(",") if r.strip()]


def _alertmanager_config(config: Config) -> str:
    """The configuration the running Alertmanager has loaded, as its status API gives it."""
    import httpx

    from .. import localhttp

    url = f"{config.url('alertmanager')}/api/v2/status"
    try:
        response = localhttp.client().get(url, timeout=10.0)
        response.raise_for_status()
        return response.json()["config"]["original"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise SandboxNotReady(f"Alertmanager did not give its configuration at {url} ({exc.__class__.__name__}); "
                              "start the sandbox with `kit up`, check it with `kit status`") from None


def _page_routing(live: _Live) -> str:
    from .. import binaries

    owner = live.component.owner.name
    pages = live.pages()
    if not pages:
        return "no paging rule is loaded for it: nothing to route"
    job = live.component.prometheus_job
    text = _alertmanager_config(live.config)
    amtool = binaries.path("amtool")
    with tempfile.TemporaryDirectory(prefix="kit-routes-") as folder:
        config_file = Path(folder) / "alertmanager.yml"
        config_file.write_text(text, encoding="utf-8")
        tested = []
        for rule in pages:
            labels = {k: str(v) for k, v in rule.labels.items()}
            if job and _selected_metrics(rule.query, job):
                labels.setdefault("job", job)
            labels["alertname"] = rule.name
            tested.append((rule.name, labels, _amtool_receivers(amtool, config_file, labels)))
    astray = [(name, labels, receivers) for name, labels, receivers in tested if owner not in receivers]
    if astray:
        reached = sorted({r for _, _, receivers in astray for r in receivers})
        matchers = sorted({f'{key}="{labels[key]}"' for _, labels, _ in astray for key in ("job", "service")
                           if key in labels})
        raise _Failed(f"{len(astray)} of {len(tested)} pages for {live.name} reach {', '.join(reached) or 'nobody'}, "
                      f"not {owner}: {', '.join(dict.fromkeys(name for name, _, _ in astray))}",
                      f"in Alertmanager's route tree, send alerts with {' or '.join(matchers)} to a receiver named "
                      f"{owner} (spec.owner of {live.source})")
    return f"all {len(tested)} pages reach {owner} (amtool config routes test on the running Alertmanager's config)"


_RUN: dict[str, Callable[[_Live], str]] = {
    "catalog-entry": _catalog_entry, "health-metric": _health_metric, "rotation": _rotation,
    "page-routing": _page_routing, "runbooks": _runbooks, "dependencies": _dependencies, "slo-alerts": _slo_alerts,
    "budget-policy": _budget_policy, "drill": _drill, "rollback": _rollback,
}


def _evaluate(check: Check, live: _Live) -> CheckResult:
    result = CheckResult(check.id, check.category, check.level, check.title, "passed", "")
    try:
        return replace(result, detail=_RUN[check.id](live))
    except _Failed as failed:
        return replace(result, status="failed", detail=failed.detail, fix=failed.fix)
    except InvalidInput as error:  # a file the check reads (drill results, deploy log) is damaged
        return replace(result, status="failed", detail=str(error), fix="repair the file at the line the message names")
    except KitError as error:  # the sandbox or a tool it needs is not there: the check could not run
        return replace(result, status="error", detail=f"could not run: {error}",
                       fix="start the sandbox (`kit up`) and run the scorecard again; `kit status` says what is down")


def scorecard(service: str, *, sources: Sources = Sources(), config: Config | None = None,
              now: datetime | None = None) -> Scorecard:
    """Every check of ``CHECKS`` for the catalog component ``service``, evaluated now against the running sandbox
    (``config``; default the one running) and ``sources``.

    ``now`` (aware) moves the rotation's window and the 30 days drills and rollbacks are counted over.
    The checks run concurrently (they wait on Prometheus, Alertmanager and amtool). Raises InvalidInput when the
    catalog cannot be read or holds no such component; a check that cannot run is an ``error`` result.
    """
    return readiness([service], sources=sources, config=config, now=now).cards[0]


def readiness(services: Sequence[str] | None = None, *, sources: Sources = Sources(), config: Config | None = None,
              now: datetime | None = None) -> Report:
    """``scorecard`` of each of ``services`` (default every component in the catalog, in catalog order)."""
    if now is not None and now.tzinfo is None:
        raise InvalidInput("now", f"{now} has no time zone: give an aware datetime")
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    from .catalog import load

    book = load(sources.folder("catalog"), root=sources.root)
    components = [book.component(s) for s in services] if services else list(book.components)
    if not components:
        raise InvalidInput("catalog", f"{sources.shown(sources.folder('catalog'))} holds no component to score")
    config = resolve(config)
    started = time.monotonic()
    lives = [_Live(component, book, sources, config, now) for component in components]
    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        futures = [[pool.submit(_evaluate, check, live) for check in CHECKS] for live in lives]
        results = [tuple(f.result() for f in row) for row in futures]
    seconds = time.monotonic() - started
    return Report(tuple(Scorecard(live.name, live.component.owner.name, now, seconds, row)
                        for live, row in zip(lives, results)))
