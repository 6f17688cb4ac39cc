"""Prometheus durations and time compression.

A rule written for production timing (``rate(x[5m])``, ``for: 2m``) can be
rendered at a time scale: every duration divided by the same factor, so the
alert behaves live exactly as it would over real time, only sooner. The
alerting logic is untouched; only the clock is compressed.
"""

from __future__ import annotations

import re

from .errors import InvalidInput

MIN_SCRAPES_PER_WINDOW = 4
"""A rate() window must span this many scrape intervals: rate() needs two samples in its window, and four
intervals leave room for a late or failed scrape (the usual advice for rate windows)."""

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
# A range or subquery selector: [5m], [1h30m], [5m:30s], [1h:].
_SELECTOR = re.compile(r"\[((?:\d+(?:ms|s|m|h|d|w|y))+)(?::((?:\d+(?:ms|s|m|h|d|w|y))*))?\]")
_OFFSET = re.compile(r"\boffset\s+((?:\d+(?:ms|s|m|h|d|w|y))+)")


def parse_duration(text: str, field: str = "duration") -> float:
    """Seconds in a Prometheus duration such as ``1h30m`` or ``250ms``."""
    text = str(text).strip()
    if not _DURATION.match(text):
        raise InvalidInput(field, f"{text!r} is not a duration; write it like 30s, 5m, 1h30m or 250ms")
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration for ``seconds`` (rounded to whole ms)."""
    ms = round(seconds * 1000)
    if ms <= 0:
        raise InvalidInput("duration", f"{seconds} s is not a positive duration")
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = int(_UNITS[unit] * 1000)
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if ms:
        parts.append(f"{ms}ms")
    return "".join(parts)


def scale_duration(text: str, factor: float, minimum: float = 1.0) -> str:
    """``text`` divided by ``factor``, never below ``minimum`` seconds."""
    if factor <= 0:
        raise InvalidInput("time_scale", f"{factor} must be a positive number")
    seconds = parse_duration(text)
    if factor == 1:
        return text
    return format_duration(max(seconds / factor, minimum))


def scale_expr(expr: str, factor: float, minimum: float = 1.0) -> str:
    """Every range window, subquery step and offset in a PromQL expression divided by ``factor``."""
    if factor == 1:
        return expr

    def selector(match: re.Match) -> str:
        window = scale_duration(match.group(1), factor, minimum)
        if match.group(2) is None:
            return f"[{window}]"
        step = scale_duration(match.group(2), factor, minimum) if match.group(2) else ""
        return f"[{window}:{step}]"

    expr = _SELECTOR.sub(selector, expr)
    return _OFFSET.sub(lambda m: f"offset {scale_duration(m.group(1), factor, minimum)}", expr)


def range_windows(expr: str) -> list[float]:
    """Seconds of every range window in a PromQL expression, in order (graders check "over 1 minute")."""
    return [parse_duration(m.group(1)) for m in _SELECTOR.finditer(expr)]


def scale_rule_groups(doc: dict, factor: float, minimum: float = 1.0) -> dict:
    """A copy of a Prometheus rule file with every duration compressed by ``factor``."""
    groups = []
    for group in doc.get("groups", []):
        group = dict(group)
        if "interval" in group:
            group["interval"] = scale_duration(group["interval"], factor, minimum)
        rules = []
        for rule in group.get("rules", []):
            rule = dict(rule)
            rule["expr"] = scale_expr(str(rule["expr"]), factor, minimum)
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = scale_duration(rule[key], factor, minimum)
            rules.append(rule)
        group["rules"] = rules
        groups.append(group)
    return {**doc, "groups": groups}
