"""Where the Reliability League's season comes from: the rules file and the results it names, read and validated.

``load_rules`` reads ``community/league.yaml`` (the season, the points per kind of award, the badges, the
team-size normalisation and the sources); ``gather`` reads the results the sources name, each tied to its file
(relative to the repository) and entry; ``season`` does both and scores them (kit.community.league.score).

The rules file::

    season: {name: 2026-autumn, start: 2026-09-01, end: 2026-12-31}
    normalise: {method: sqrt, reference_size: 4}
    points: {lab-point: 0.1, lab-full-marks: 5, drill-resolved: 10, ...}     # every kind of league.POINTS
    badges:
      - {id: sidekick, name: SRE sidekick, description: ..., requires: {pairing: 3}}
    sources:                                  # all optional; paths relative to the repository
      gradebooks:                             # the CSVs `kit grade LAB --out FILE` wrote, each with its lab and day
        - {file: grades/02-slis-slos-and-budgets.csv, lab: 02-slis-slos-and-budgets, date: 2026-10-14}
      alert_reviews: community/reviews        # saved `kit ceremony alarming --json > community/reviews/DAY.json`
      alert_teams: {shop-team: mob-b}         # a review's receiving team -> the mob that answers for its alerts
      readiness: readiness                    # the readiness reviews (*.md but the template)
      drill_results: null                     # default: the sandbox's drills/results.jsonl (KIT_STATE_DIR);
                                              # a session's own drill_results (a Chaos Day mob's) wins for it
      deploy_log: null                        # default: the sandbox's deploy log

Every problem is an InvalidInput naming the file and the field (``community/league.yaml: points.pairing: ...``,
``grades/02.csv:3: total: ...``).
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from .. import jsonlines, yamldocs
from ..config import CONTENT, Config, ContentPaths
from ..errors import InvalidInput, KitError
from ..validation import Document, validated
from . import records as records_module
from .league import (NORMALISE, POINTS, AlertReviewFile, Badge, DrillRow, GradeRow, League, ReadinessResult, Release,
                     Results, ReviewedAlert, Rules, Sources, score)

__all__ = ["RULES", "gather", "load_rules", "read_alert_review", "read_drill_results", "read_gradebook", "read_releases",
           "season"]

RULES = "league.yaml"
"""The rules file's name in ``community/``."""

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
_GRADE_COLUMNS = ("student", "total", "max_total", "note")
_Day = date  # a field named ``date`` would hide the type inside its model


class _Season(Document):
    name: _Text = Field(description="the season's name, e.g. 2026-autumn")
    start: date = Field(description="its first day, e.g. 2026-09-01")
    end: date = Field(description="its last day, e.g. 2026-12-31")

    @model_validator(mode="after")
    def _order(self) -> "_Season":
        if self.end < self.start:
            raise InvalidInput("end", f"{self.end} is before start ({self.start})")
        return self


class _Normalise(Document):
    method: Literal[NORMALISE] = Field(description="sqrt, per-member or none")  # type: ignore[valid-type]
    reference_size: int = Field(ge=1, le=100, description="the team size whose points stay as they are, e.g. 4")


class _Badge(Document):
    id: _Id = Field(description="lowercase letters, digits and dashes, e.g. sidekick")
    name: _Text = Field(description="what the page shows, e.g. SRE sidekick")
    description: _Text = Field(description="what earns it, in words")
    requires: dict[str, int] = Field(min_length=1, description="award kind -> at least how many, e.g. {pairing: 3}")

    @model_validator(mode="after")
    def _kinds(self) -> "_Badge":
        for kind, least in self.requires.items():
            if kind not in POINTS:
                raise InvalidInput(f"requires.{kind}", f"is not a kind of award; they are {', '.join(POINTS)}")
            if least < 1:
                raise InvalidInput(f"requires.{kind}", f"must be 1 or more, got {least}")
        return self


class _Gradebook(Document):
    file: _Text = Field(description="the CSV `kit grade` wrote, relative to the repository")
    lab: _Text = Field(description="the lab it grades, e.g. 02-slis-slos-and-budgets")
    date: _Day = Field(description="the day it was graded, e.g. 2026-10-14")


class _Sources(Document):
    gradebooks: list[_Gradebook] = Field(default_factory=list)
    alert_reviews: _Text | None = None
    alert_teams: dict[str, _Id] = Field(default_factory=dict)
    readiness: _Text | None = None
    drill_results: _Text | None = None
    deploy_log: _Text | None = None


class _Rules(Document):
    season: _Season = Field(description="name, start and end")
    normalise: _Normalise = Field(description="method (sqrt, per-member or none) and reference_size")
    points: dict[str, float] = Field(description="points per kind of award, e.g. {drill-resolved: 10, ...}")
    badges: list[_Badge] = Field(default_factory=list)
    sources: _Sources = Field(default_factory=_Sources)

    @model_validator(mode="after")
    def _complete(self) -> "_Rules":
        for kind in self.points:
            if kind not in POINTS:
                raise InvalidInput(f"points.{kind}", f"is not a kind of award; they are {', '.join(POINTS)}")
        for kind, meaning in POINTS.items():
            if kind not in self.points:
                raise InvalidInput(f"points.{kind}", f"is missing; give its points (0 to score nothing): {meaning}")
        seen: set[str] = set()
        for i, badge in enumerate(self.badges):
            if badge.id in seen:
                raise InvalidInput(f"badges[{i}].id", f"{badge.id!r} is named twice")
            seen.add(badge.id)
        return self


def _shown(path: Path, root: Path) -> str:
    return ContentPaths(root.resolve()).shown(path)


def load_rules(path: str | Path | None = None) -> Rules:
    """The season's rules from ``path`` (default: the repository's ``community/league.yaml``).

    Raises InvalidInput naming the file (relative to the repository, the folder above the community's) and the
    field: a YAML error with its line, an unknown or missing field, a kind of award not in league.POINTS, a
    season that ends before it starts, a badge requiring an unknown kind.
    """
    path = Path(path) if path is not None else CONTENT.community / RULES
    where = _shown(path, path.resolve().parent.parent)
    if not path.is_file():
        raise InvalidInput("season", f"{where} is not a file; write the season's rules there (see README, "
                                     "\"The Reliability League\")")
    try:
        documents = yamldocs.read(path)
    except InvalidInput as error:
        raise InvalidInput(error.field, error.problem, source=error.source.replace(str(path), where, 1)) from None
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; the rules are one", source=where)
    m = validated(_Rules, documents[0].data, source=where)
    sources = Sources(tuple((g.file, g.lab, g.date) for g in m.sources.gradebooks), m.sources.alert_reviews,
                      dict(m.sources.alert_teams), m.sources.readiness, m.sources.drill_results, m.sources.deploy_log)
    return Rules(m.season.name, m.season.start, m.season.end, dict(m.points),
                 tuple(Badge(b.id, b.name, b.description, dict(b.requires)) for b in m.badges),
                 m.normalise.method, m.normalise.reference_size, sources, where)


# ---------------------------------------------------------------- the results


def _read_text(path: Path, where: str, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(field, f"{where} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise KitError(f"cannot read {where}: {error}") from None


def _number(text: str, where: str, column: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise InvalidInput(column, f"{text!r} is not a number", source=where) from None


def read_gradebook(path: Path, lab: str, day: date, where: str) -> tuple[list[GradeRow], dict[tuple[str, str], str]]:
    """The rows of one gradebook CSV (`kit grade`'s columns: student, one per exercise, total, max_total, note)
    and each row's text. Raises InvalidInput naming ``where:LINE`` and the column."""
    text = _read_text(path, where, f"sources.gradebooks ({lab})")
    lines = text.splitlines()
    reader = csv.DictReader(lines)
    missing = [c for c in _GRADE_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise InvalidInput(missing[0], "is not a column: a gradebook `kit grade` writes has student, the exercises, "
                                       "total, max_total and note", source=f"{where}:1")
    rows, excerpts = [], {}
    for number, row in enumerate(reader, 2):
        at = f"{where}:{number}"
        student = (row["student"] or "").strip()
        if not student:
            raise InvalidInput("student", "is empty", source=at)
        rows.append(GradeRow(lab, student, _number(row["total"], at, "total"), _number(row["max_total"], at,
                                                                                       "max_total"),
                             (row["note"] or "").strip(), day, where))
        excerpts[(where, student)] = f"{lines[0]}\n{lines[number - 1]}"
    return rows, excerpts


def read_drill_results(path: Path, where: str) -> dict[str, DrillRow]:
    """The drill results file (kit.drills appends one JSON line per finished drill), by run id."""
    found = {}
    for at, row in jsonlines.lines(jsonlines.read_text(path), where):
        if not isinstance(row, dict) or "run" not in row:
            raise InvalidInput("run", "missing: a drill result names its run", source=at)

        def seconds(name: str, row: dict = row, at: str = at) -> float | None:
            value = row.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise InvalidInput(name, f"{value!r} is not seconds", source=at)
            return value

        found[str(row["run"])] = DrillRow(str(row["run"]), str(row.get("scenario", "")), str(row.get("outcome", "")),
                                          seconds("ttd_s"), seconds("tta_s"), seconds("ttr_s"),
                                          int(row.get("hints_used") or 0), at)
    return found


def read_alert_review(path: Path, where: str) -> AlertReviewFile:
    """A saved `kit ceremony alarming --json`: the day its window ended and each alert's team, pages and action."""
    try:
        data = json.loads(_read_text(path, where, "sources.alert_reviews"))
    except ValueError as error:
        raise InvalidInput("", f"is not JSON ({error})", source=where) from None
    if not isinstance(data, dict) or not isinstance(data.get("end"), (int, float)) \
            or not isinstance(data.get("alerts"), list):
        raise InvalidInput("end", "a saved alert review has end (Unix seconds) and alerts: save the output of "
                                  "`kit ceremony alarming --json`", source=where)
    alerts = []
    for i, alert in enumerate(data["alerts"]):
        if not isinstance(alert, dict) or not isinstance(alert.get("alertname"), str):
            raise InvalidInput(f"alerts[{i}].alertname", "missing", source=where)
        pages = alert.get("pages", 0)
        if isinstance(pages, bool) or not isinstance(pages, int):
            raise InvalidInput(f"alerts[{i}].pages", f"{pages!r} is not a count", source=where)
        alerts.append(ReviewedAlert(alert["alertname"], str(alert.get("team") or ""), pages,
                                    str(alert.get("action") or "keep")))
    day = datetime.fromtimestamp(data["end"], tz=timezone.utc).date()
    return AlertReviewFile(where, day, tuple(alerts))


def read_releases(path: Path, where: str) -> tuple[list[Release], dict[tuple[str, str], str]]:
    """The versions of a deploy log (kit.releases.deploylog), each with who deployed it and how it ended, and the
    log's lines about each version. Raises InvalidInput naming ``where:LINE`` and the field of a bad line."""
    from ..releases import deploylog

    events: list[tuple[str, dict]] = []
    for at, data in jsonlines.lines(jsonlines.read_text(path), where):
        try:
            events.append((at, deploylog.validate(data)))
        except InvalidInput as error:
            raise InvalidInput(error.field, error.problem, source=at) from None
    events.sort(key=lambda pair: pair[1]["at"])
    versions: dict[str, dict] = {}
    lines: dict[str, list[str]] = {}
    for at, event in events:
        version, day = event["version"], datetime.fromtimestamp(event["at"], tz=timezone.utc).date()
        lines.setdefault(version, []).append(f"{at.rsplit(':', 1)[-1]}: {json.dumps(event)}")
        if event["kind"] == "deploy" and version not in versions:
            versions[version] = {"actor": event["actor"], "deployed": day, "promoted": None, "failed": None}
        entry = versions.get(version)
        if entry is not None and event["kind"] in ("deploy", "promote") and event.get("weight") == 100:
            entry["promoted"] = entry["promoted"] or day
        if entry is not None and event["kind"] == "rollback":
            entry["failed"] = entry["failed"] or day
        fixed = versions.get(event.get("fixes") or "")
        if event["kind"] == "deploy" and fixed is not None:
            fixed["failed"] = fixed["failed"] or day
    releases = [Release(v, e["actor"], e["deployed"], e["promoted"] is not None, e["failed"] is not None,
                        e["failed"] or e["promoted"], where) for v, e in versions.items()]
    return releases, {(where, v): "line " + "\nline ".join(text) for v, text in lines.items()}


def _readiness(folder: Path, root: Path) -> tuple[list[ReadinessResult], dict[tuple[str, str], str]]:
    from ..ownership import review

    paths = sorted(p for p in folder.glob("*.md") if p.name != review.TEMPLATE)
    if not paths:
        return [], {}
    own = ContentPaths(root)
    rules = review.load_rules(own) if (own.readiness / review.TEMPLATE).is_file() else review.load_rules()
    found, excerpts = [], {}
    for path in paths:
        where = _shown(path, root)
        checked = review.check(path.read_text(encoding="utf-8"), rules, where)
        found.append(ReadinessResult(where, checked.service, checked.release, len(checked.findings)))
        excerpts[(where, checked.release)] = str(checked)
    return found, excerpts


def gather(rules: Rules, records: records_module.Records, root: str | Path, *, config: Config | None = None
           ) -> Results:
    """The season's results as ``rules.sources`` names them, under the repository ``root``.

    The drill results and the deploy log default to the sandbox's (``config``, default the environment's
    KIT_* settings); a source not given, or a default file not there, contributes nothing. A session that names
    its own ``drill_results`` (a Chaos Day mob's sandbox) is looked up there; each file is read once. Each
    record's text is kept for the league page. Raises InvalidInput naming the file, line and field of anything
    malformed, ``sources.<name>`` when a folder or file the rules name does not exist, and a session's file and
    ``drill_results`` when the file it names does not exist.
    """
    root = Path(root).resolve()
    config = config or Config.from_env()
    sources = rules.sources
    excerpts: dict[tuple[str, str], str] = {}
    for record in (*records.sessions, *records.shares, *records.experiments):
        path = root / record.source
        if path.is_file():
            excerpts[(record.source, record.id)] = path.read_text(encoding="utf-8")
    grades: list[GradeRow] = []
    for file, lab, day in sources.gradebooks:
        rows, texts = read_gradebook(root / file, lab, day, file)
        grades += rows
        excerpts.update(texts)
    drills_path = root / sources.drill_results if sources.drill_results else config.paths.drill_results
    if sources.drill_results and not drills_path.is_file():
        raise InvalidInput("sources.drill_results", f"{sources.drill_results} does not exist", source=rules.source)
    drills = read_drill_results(drills_path, _shown(drills_path, root))
    drill_files = _session_drill_results(records, root)
    for session in records.sessions:
        row = (drill_files[session.drill_results] if session.drill_results else drills).get(session.drill_run or "")
        if row is not None:
            text = excerpts.get((session.source, session.id), "")
            excerpts[(session.source, row.run)] = f"{text}\n# drill result, {row.where}:\n" + json.dumps(
                {k: v for k, v in vars(row).items() if k != "where"})
    reviews = []
    if sources.alert_reviews:
        folder = root / sources.alert_reviews
        if not folder.is_dir():
            raise InvalidInput("sources.alert_reviews", f"{sources.alert_reviews} is not a folder",
                               source=rules.source)
        for path in sorted(folder.glob("*.json")):
            found = read_alert_review(path, _shown(path, root))
            reviews.append(found)
            raw = json.loads(path.read_text(encoding="utf-8"))
            for alert in raw["alerts"]:
                excerpts[(found.source, alert["alertname"])] = json.dumps(alert, indent=1)
    log = root / sources.deploy_log if sources.deploy_log else config.paths.deploy_log
    if sources.deploy_log and not log.is_file():
        raise InvalidInput("sources.deploy_log", f"{sources.deploy_log} does not exist", source=rules.source)
    releases, texts = read_releases(log, _shown(log, root))
    excerpts.update(texts)
    readiness: list[ReadinessResult] = []
    if sources.readiness:
        folder = root / sources.readiness
        if not folder.is_dir():
            raise InvalidInput("sources.readiness", f"{sources.readiness} is not a folder", source=rules.source)
        readiness, texts = _readiness(folder, root)
        excerpts.update(texts)
    return Results(records, tuple(grades), drills, tuple(reviews), tuple(releases), tuple(readiness), excerpts,
                   drill_files)


def _session_drill_results(records: records_module.Records, root: Path) -> dict[str, dict[str, DrillRow]]:
    """The drill results files the sessions name (Session.drill_results), by that name, each read once however
    many sessions and spellings name it."""
    by_file: dict[Path, dict[str, DrillRow]] = {}
    found = {}
    for session in records.sessions:
        if not session.drill_results or session.drill_results in found:
            continue
        path = (root / session.drill_results).resolve()
        if path not in by_file:
            if not path.is_file():
                raise InvalidInput("drill_results", f"{session.drill_results} does not exist: the drill results "
                                                    "of the sandbox that ran it; copy them into the repository and "
                                                    "name that copy", source=session.source)
            by_file[path] = read_drill_results(path, _shown(path, root))
        found[session.drill_results] = by_file[path]
    return found


def season(path: str | Path | None = None, *, config: Config | None = None) -> League:
    """The league of the season whose rules are at ``path`` (default ``community/league.yaml``), scored from the
    records in the rules file's folder and the results its sources name (the repository is that folder's parent).

    In a notebook: ``season().frame()`` is the table (kit.community.league.COLUMNS), ``season().plot()`` the
    trend. Raises InvalidInput naming the file and field of any record, result or rule that is wrong.
    """
    path = Path(path) if path is not None else CONTENT.community / RULES
    rules = load_rules(path)
    folder = path.resolve().parent
    records = records_module.load(folder)
    return score(rules, gather(rules, records, folder.parent, config=config))
