"""A blameless postmortem draft written from a drill's timeline, for the mob to complete.

The facts (timeline, response times, pages, error budget spent) are filled
in; the parts only people can write (contributing factors, what went well,
what was hard, action items) are left as prompts. The prompts ask about the
system and the process, never about who made a mistake.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..config import Config
from ..errors import InvalidInput, KitError
from ..timeline import Event, clock, response_times

if TYPE_CHECKING:
    from .scenarios import Scenario

REQUIRED_SECTIONS = (
    "Summary", "Impact", "Timeline", "Contributing factors", "What went well", "What was hard", "Action items",
)
TODO = "_To complete:"


def draft(scenario: "Scenario", events: list[Event], roles: dict[str, str], outcome: str, time_scale: int,
          *, config: Config | None = None) -> str:
    """The postmortem draft as markdown."""

    found = response_times(events)
    start = events[0].t if events else 0.0
    end = found.resolved_at or (events[-1].t if events else start)
    notified = [e for e in events if e.kind == "page" and e.data.get("status") == "firing"]
    pages = [e for e in notified if e.data.get("severity") != "ticket"]
    tickets = [e for e in notified if e.data.get("severity") == "ticket"]
    lines = [
        f"# Postmortem: {scenario.title}",
        "",
        f"Drill `{scenario.id}`, {outcome}. Blameless: we describe what the system and our process did, "
        "and what made the right action hard or easy; we do not look for someone to blame.",
        "",
        "## Summary",
        "",
        f"{scenario.briefing}",
        "",
        f"{TODO} in two or three sentences, what broke, how we noticed, and what fixed it._",
        "",
        "## Impact",
        "",
        f"- Duration, from the first fault to the steady state holding again: {_span(found.ttr)}"
        + (f" (about {_span(found.ttr * time_scale)} at production timing)" if found.ttr and time_scale != 1 else ""),
        f"- Pages: {len(pages)} ({_alertnames(pages)})",
        *([f"- Tickets: {len(tickets)} ({_alertnames(tickets)})"] if tickets else []),
        *_budget_lines(scenario, found.injected_at, end, time_scale, config),
        f"- {TODO} which users noticed, and what they could not do._",
        "",
        "## Timeline",
        "",
        "| time | what happened |",
        "|---|---|",
        *[f"| +{clock(e.t - start)} | {e.kind.replace('_', ' ')}: {_cell(e.text)} |" for e in events],
        "",
        "## Detection and response",
        "",
        "| response time | value |",
        "|---|---|",
        f"| time to detect (TTD) | {_span(found.ttd)} |",
        f"| time to acknowledge (TTA) | {_span(found.tta)} |",
        f"| time to mitigate (TTM) | {_span(found.ttm)} |",
        f"| time to resolve (TTR) | {_span(found.ttr)} |",
        "",
        "## Contributing factors",
        "",
        f"{TODO} which component failed and why; what made it possible; what slowed the diagnosis._",
        "",
        "## What went well",
        "",
        f"{TODO} alerts, runbooks, tools and habits that helped._",
        "",
        "## What was hard",
        "",
        f"{TODO} where we were confused, blocked or lucky._",
        "",
        "## Action items",
        "",
        "| action | kind (prevent, detect, mitigate) | owner | due |",
        "|---|---|---|---|",
        "| _To complete_ | | | |",
        "",
        "## The mob",
        "",
        *([f"- {role}: {who}" for role, who in roles.items()] or ["- (roles were not recorded)"]),
    ]
    if scenario.debrief:
        lines += ["", "## Debrief questions", "", *[f"- {q}" for q in scenario.debrief]]
    return "\n".join(lines) + "\n"


def complete(markdown: str, sections: Mapping[str, str]) -> str:
    """The draft with each named section's prompts replaced by the mob's text; the facts around them stay."""
    present = {m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", markdown, re.M)}
    for name in sections:
        if name not in present:
            raise InvalidInput("sections", f"{name!r} is not a section of this postmortem; its sections: "
                                           f"{', '.join(sorted(present))}")
    lines, current = [], None
    for line in markdown.splitlines():
        heading = re.match(r"^##\s+(.+)$", line)
        if heading:
            current = heading.group(1).strip()
        elif current in sections and ("_To complete" in line):
            line = sections[current].strip()
        lines.append(line)
    return "\n".join(lines) + "\n"


def missing_sections(markdown: str) -> list[str]:
    """Required sections that are absent or still hold nothing but the draft's prompts."""
    missing = []
    for name in REQUIRED_SECTIONS:
        match = re.search(rf"^##\s+{re.escape(name)}\s*$(.*?)(?=^##\s|\Z)", markdown, re.M | re.S)
        if match is None:
            missing.append(name)
            continue
        body = [line for line in match.group(1).splitlines()
                if line.strip() and TODO not in line and "_To complete_" not in line
                and not re.fullmatch(r"\|[-| ]*\|", line.strip())]
        if name == "Action items":
            body = [line for line in body if not line.startswith("| action")]
        if not body:
            missing.append(name)
    return missing


def _budget_lines(scenario: "Scenario", start: float | None, end: float, time_scale: int,
                  config: Config | None) -> list[str]:
    """Error budget the incident spent, for each SLO the drill watched (or every SLO shipped)."""
    from .. import prom, slo
    from ..timescale import format_duration
    from .scenarios import SLOS_DIR

    if start is None or end - start < 2:
        return ["- Error budget spent: the drill was too short to measure"]
    names = scenario.slos or tuple(p.stem for p in sorted(SLOS_DIR.glob("*.yml")))
    lines = []
    for name in names:
        spec = slo.load_spec(SLOS_DIR / f"{name}.yml")
        seconds = end - start
        try:
            ratio = prom.scalar(slo.sli_error_expr(spec, format_duration(seconds)), at=end, config=config)
        except KitError:
            lines.append(f"- Error budget of {name}: Prometheus could not tell")
            continue
        if math.isnan(ratio):  # no SLI traffic at all is not an error ratio of zero
            lines.append(f"- Error budget of {name}: no data (the SLI had no traffic during the incident)")
            continue
        spent = ratio * seconds * time_scale / ((1 - spec.objective) * spec.window_seconds)
        lines.append(f"- Error budget of {name} ({spec.objective:.4g} over {spec.window}): {spent:.2%} spent "
                     f"(error ratio {ratio:.2%} during the incident)")
    return lines


def _span(seconds: float | None) -> str:
    return "—" if seconds is None else clock(seconds)


def _alertnames(events: list[Event]) -> str:
    return ", ".join(sorted({e.data.get("alertname", "") for e in events})) or "none"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
