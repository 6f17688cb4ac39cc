"""PromQL to pandas: instant and range queries, waits, alerts and rules.

Errors from Prometheus are shown verbatim (``PromQLError``); an unreachable
Prometheus is ``SandboxNotReady`` with the command that fixes it.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

import httpx
import pandas as pd

from . import localhttp, polling
from .config import Config, resolve
from .errors import InvalidInput, PromQLError, SandboxNotReady
from .timescale import parse_duration

TimeLike = datetime | float | int | str | None


def _to_unix(value: TimeLike, field: str) -> float:
    """Unix seconds from a datetime, a number, "now", or a relative "-5m"."""
    if value is None or value == "now":
        return time.time()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text.startswith("-"):
        return time.time() - parse_duration(text[1:], field)
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a time; use a datetime, unix seconds, 'now' or '-5m'") from None


def _api(path: str, params: dict, config: Config | None, expr: str = "") -> dict:
    config = resolve(config)
    url = f"{config.url('prometheus')}/api/v1/{path}"
    try:
        response = localhttp.client().get(url, params=params, timeout=30.0)
    except httpx.HTTPError as exc:
        raise SandboxNotReady(
            f"Prometheus is not reachable at {config.url('prometheus')} ({exc.__class__.__name__}); "
            "start the sandbox with `kit up`, check it with `kit status`"
        ) from None
    try:
        body = response.json()
    except ValueError:
        raise PromQLError(expr or path, f"HTTP {response.status_code}: {response.text[:200]}") from None
    if body.get("status") != "success":
        raise PromQLError(expr or path, body.get("error", f"HTTP {response.status_code}"))
    return body["data"]


def _frame(result: list[dict], matrix: bool) -> pd.DataFrame:
    rows = []
    for series in result:
        labels = series.get("metric", {})
        points = series["values"] if matrix else [series["value"]]
        for ts, value in points:
            rows.append({**labels, "timestamp": ts, "value": float(value)})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["timestamp", "value"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    labels = sorted(c for c in frame.columns if c not in ("timestamp", "value"))
    return frame[labels + ["timestamp", "value"]].sort_values(labels + ["timestamp"]).reset_index(drop=True)


def query(expr: str, at: TimeLike = None, *, config: Config | None = None) -> pd.DataFrame:
    """An instant query: one row per series, label columns then ``timestamp`` and ``value``."""
    params = {"query": expr}
    if at is not None:
        params["time"] = _to_unix(at, "at")
    data = _api("query", params, config, expr)
    if data["resultType"] in ("scalar", "string"):
        ts, value = data["result"]
        return _frame([{"metric": {}, "value": [ts, value]}], matrix=False)
    return _frame(data["result"], matrix=False)


def query_range(expr: str, start: TimeLike = "-5m", end: TimeLike = "now", step: str | float = "1s",
                *, config: Config | None = None) -> pd.DataFrame:
    """A range query in long form: one row per series per step."""
    t0, t1 = _to_unix(start, "start"), _to_unix(end, "end")
    if t1 <= t0:
        raise InvalidInput("end", "must be after start")
    seconds = step if isinstance(step, (int, float)) else parse_duration(step, "step")
    if seconds <= 0:
        raise InvalidInput("step", "must be positive")
    if (t1 - t0) / seconds > 11000:
        raise InvalidInput("step", f"{step} gives more than 11000 points over that range; use a larger step")
    data = _api("query_range", {"query": expr, "start": t0, "end": t1, "step": seconds}, config, expr)
    return _frame(data["result"], matrix=True)


def scalar(expr: str, at: TimeLike = None, *, config: Config | None = None) -> float:
    """The single value of ``expr``; NaN when it returns nothing, an error when it returns several series."""
    frame = query(expr, at, config=config)
    if frame.empty:
        return math.nan
    if len(frame) > 1:
        raise InvalidInput("expr", f"{expr!r} returned {len(frame)} series; aggregate it (sum, max …) to one")
    return float(frame["value"].iloc[0])


def wait_for(expr: str, *, timeout: float = 30.0, poll: float = 0.5, config: Config | None = None) -> pd.DataFrame:
    """Poll until ``expr`` returns at least one series (e.g. ``rate(x[10s]) > 0``); returns it."""
    config = resolve(config)  # once: every poll asks the same sandbox
    frame = pd.DataFrame()

    def answered() -> bool:
        nonlocal frame
        frame = query(expr, config=config)
        return not frame.empty

    polling.wait_for(answered, timeout, poll, describe=f"{expr!r} returned nothing for {timeout:.0f} s")
    return frame


def alerts(*, config: Config | None = None) -> pd.DataFrame:
    """Alerts Prometheus holds right now (pending or firing)."""
    data = _api("alerts", {}, config)
    rows = []
    for alert in data["alerts"]:
        labels = alert.get("labels", {})
        rows.append({
            "alertname": labels.get("alertname", ""),
            "state": alert.get("state", ""),
            "severity": labels.get("severity", ""),
            "active_at": pd.to_datetime(alert.get("activeAt"), utc=True),
            "value": float(alert.get("value", "nan")),
            "summary": alert.get("annotations", {}).get("summary", ""),
            "labels": labels,
        })
    return pd.DataFrame(rows, columns=["alertname", "state", "severity", "active_at", "value", "summary", "labels"])


def wait_for_no_alerts(*, names: tuple[str, ...] = (), severity: str | None = None, timeout: float = 30.0,
                       poll: float = 0.5, config: Config | None = None) -> None:
    """Poll until Prometheus holds no alert (pending or firing) of ``names`` (all when empty) and ``severity``
    (any when None).

    Asks the rules Prometheus has loaded now (``alerts``), not the ``ALERTS`` series: when a rule is removed while
    its alert fires, this Prometheus writes no stale marker for that series, so ``ALERTS`` goes on showing the
    alert as firing for the 5-minute lookback although nothing can fire it any more (and Alertmanager, no longer
    sent it, resolves it within seconds). Raises CheckFailed naming the alerts still active after ``timeout`` s.
    """
    config = resolve(config)
    held = pd.DataFrame()

    def cleared() -> bool:
        nonlocal held
        held = alerts(config=config)
        if names:
            held = held[held["alertname"].isin(names)]
        if severity is not None:
            held = held[held["severity"] == severity]
        return held.empty

    polling.wait_for(cleared, timeout, poll, describe=lambda: (
        f"alerts still active after {timeout:.0f} s: "
        + ", ".join(f"{row.alertname} ({row.state})" for row in held.itertuples())))


def rules(*, config: Config | None = None) -> pd.DataFrame:
    """Every rule Prometheus has loaded, with its health and (for alerts) state."""
    data = _api("rules", {}, config)
    rows = []
    for group in data["groups"]:
        for rule in group["rules"]:
            rows.append({
                "group": group["name"], "name": rule["name"], "type": rule["type"],
                "health": rule.get("health", ""), "state": rule.get("state", ""),
                "severity": rule.get("labels", {}).get("severity", ""),
                "runbook_url": rule.get("annotations", {}).get("runbook_url", ""),
                "query": rule["query"],
                "labels": rule.get("labels", {}),
            })
    return pd.DataFrame(rows, columns=["group", "name", "type", "health", "state", "severity", "runbook_url", "query",
                                       "labels"])
