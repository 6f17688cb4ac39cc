"""Production incidents, gathered from where the kit keeps them, for the DORA keys.

Three sources, each read into ``Incident`` records:

- drill results (``drills/results.jsonl``): a drill from its start (the fault goes in at the start) to its
  resolution (start + time to resolve), or to its end when it was never resolved;
- pages (``pages.jsonl``): each firing page (``severity="page"``) from its ``startsAt`` to the ``endsAt`` of its
  resolved notification, pages that overlap merged into one incident (an outage that pages three alerts is one
  incident, not three); a page still firing is an open incident;
- recorded incidents (``releases/incidents.jsonl``): written by hand or by a backfilled deploy history, one JSON
  object a line with ``name``, ``start``, ``end`` (Unix seconds; end null while open) and optionally ``version``.

An incident that names a ``version`` (a page whose alert has a ``version`` label, a recorded incident with one)
is attributed to that version's deployment; the others by the rule in kit.releases.dora.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import jsonlines
from ..config import Config, resolve
from ..errors import InvalidInput


@dataclass(frozen=True)
class Incident:
    """A stretch of degraded production service: ``start`` and ``end`` in Unix seconds (``end`` None while it
    lasts), where it was seen (``source``: "drill", "page" or "recorded"), a ``name`` to show, and the
    ``version`` known to have caused it, if one is."""

    source: str
    name: str
    start: float
    end: float | None = None
    version: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def from_drill_results(rows: Iterable[dict]) -> list[Incident]:
    """Incidents from drill result rows (kit.drills' results file), oldest first; rows without a start are skipped."""
    found = []
    for row in rows:
        start = row.get("started_at")
        if not isinstance(start, (int, float)):
            continue
        ttr = row.get("ttr_s")
        end = start + ttr if isinstance(ttr, (int, float)) else row.get("ended_at")
        found.append(Incident("drill", f"drill {row.get('scenario', '?')} ({row.get('run', '?')})", float(start),
                              float(end) if isinstance(end, (int, float)) else None))
    return sorted(found, key=lambda i: i.start)


def _seconds(text: str) -> float | None:
    """Alertmanager's RFC 3339 time as Unix seconds; None for its zero time (an alert still firing) or no time."""
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def from_pages(rows: Iterable[dict]) -> list[Incident]:
    """Incidents from pager rows (``kit.pager.notifications()`` records), oldest first.

    A firing page opens an incident at its ``starts_at``; the alert's resolved notification (same fingerprint)
    closes it at its ``ends_at``. Pages whose stretches overlap are one incident (named after the first alert);
    its ``version`` is the first ``version`` label among them, if any.
    """
    stretches: dict[str, list] = {}
    for row in rows:
        if row.get("severity") != "page":
            continue
        key = row.get("fingerprint") or row.get("alertname", "")
        start = _seconds(row.get("starts_at", ""))
        if start is None:
            continue
        entry = stretches.setdefault(key, [start, None, row.get("alertname", ""), None])
        entry[0] = min(entry[0], start)
        labels = row.get("labels") or {}
        entry[3] = entry[3] or labels.get("version")
        if row.get("status") == "resolved":
            entry[1] = _seconds(row.get("ends_at", ""))
    merged: list[Incident] = []
    for start, end, name, version in sorted(stretches.values(), key=lambda s: s[0]):
        last = merged[-1] if merged else None
        if last is not None and (last.end is None or start <= last.end):
            end_ = None if last.end is None or end is None else max(last.end, end)
            merged[-1] = Incident("page", last.name, last.start, end_, last.version or version)
        else:
            merged.append(Incident("page", f"page {name}", start, end, version))
    return merged


def _recorded(data: Any, where: str) -> Incident:
    if not isinstance(data, dict):
        raise InvalidInput("line", "must be a JSON object (one incident)", source=where)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", f"must be a non-empty string, got {name!r:.60}", source=where)
    times = {}
    for field in ("start", "end"):
        value = data.get(field)
        if value is None and field == "end":
            times[field] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInput(field, f"must be Unix seconds, got {value!r:.60}", source=where)
        times[field] = float(value)
    if times["end"] is not None and times["end"] < times["start"]:
        raise InvalidInput("end", f"{times['end']} is before the start {times['start']}", source=where)
    version = data.get("version")
    if version is not None and (not isinstance(version, str) or not version):
        raise InvalidInput("version", f"must be a version string or null, got {version!r:.60}", source=where)
    return Incident("recorded", name, times["start"], times["end"], version)


def read_recorded(path: Path) -> list[Incident]:
    """The recorded incidents in ``path`` ([] if there is no file); InvalidInput names ``file:line`` and field."""
    return [_recorded(data, where) for where, data in jsonlines.read(path)]


def write_recorded(incidents: Iterable[Incident], path: Path) -> None:
    """Replace ``path`` with ``incidents`` (a backfill's known incidents), one JSON line each."""
    from ..atomicfile import write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, "".join(
        json.dumps({"name": i.name, "start": i.start, "end": i.end, "version": i.version}) + "\n" for i in incidents))


def gather(config: Config | None = None) -> list[Incident]:
    """Every incident the state folder of ``config`` knows: drill results, pages and recorded ones, oldest first.

    A drill results line that is not JSON is skipped (a line being written); the pager's own reader skips what it
    cannot read the same way. Raises InvalidInput for a damaged recorded-incidents line.
    """
    from .. import pager

    paths = resolve(config).paths
    rows = []
    try:
        lines = paths.drill_results.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    pages = pager.notifications(config).to_dict("records")
    found = from_drill_results(rows) + from_pages(pages) + read_recorded(paths.recorded_incidents)
    return sorted(found, key=lambda i: i.start)
