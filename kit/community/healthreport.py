"""The community's health report: kit.community.health's figures put together for one community on one day, and
shown as text for the terminal, as matplotlib charts, and as one static HTML page (inline style and SVG charts,
no script, nothing fetched) with seed 000's three metric families at its top.

Each chart function draws one chart of a ``HealthReport`` on the Axes it is given and returns it; ``figure`` puts
them all on one figure. The team pulse appears only as kit.community.pulse reports it: a team's means, or "not
enough answers to report".
"""

from __future__ import annotations

import html as markup
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..timeline import clock
from .health import (MetricFamilies, Rotations, Skills, TeamPractice, membership, metric_families, retention,
                     rotation_fairness, skills, team_practice)
from .pulse import DEFAULT_FLOOR, PulseRound, TeamPulse, report
from .records import SHARE_KINDS, Records

__all__ = ["CHARTS", "HealthReport", "experiments_chart", "figure", "fragment", "health_report", "html",
           "members_chart", "outcomes_chart", "pulse_text", "retention_chart", "rotation_chart", "shares_chart",
           "skills_chart", "text"]


@dataclass(frozen=True)
class HealthReport:
    """Everything kit.community.health computes, for one community on ``today``: ``members`` now, the frames of
    ``membership`` and ``retention``, ``rotations``, the three metric ``families``, ``skills``, each team's
    practice beside its pulse (``teams``) and every pulse round as it may be shown (``pulses``, at ``floor``).

    ``str(report)`` is the terminal text, ``report.html()`` the static page, ``report.plot()`` the charts; a
    notebook shows the page's body.
    """

    community: str
    today: date
    members: int
    membership: Any
    retention: Any
    rotations: Rotations
    families: MetricFamilies
    skills: Skills
    teams: tuple[TeamPractice, ...]
    pulses: tuple[TeamPulse, ...]
    floor: int

    def __str__(self) -> str:
        return text(self)

    def html(self) -> str:
        """The report as one static HTML page, its charts inline (SVG)."""
        return html(self)

    def _repr_html_(self) -> str:
        return fragment(self)

    def plot(self):
        """The report's charts on one matplotlib figure; returns the figure."""
        return figure(self)


def health_report(records: Records, today: date, *, drills: Sequence[Mapping[str, Any]] = (),
                  postmortems: Mapping[str, Sequence[str] | None] | None = None, pulse: Iterable[PulseRound] = (),
                  floor: int = DEFAULT_FLOOR, labs: Iterable[str] | None = None) -> HealthReport:
    """The community's health on ``today`` from its ``records``, the sandbox's drill results (``drills``, rows of
    kit.drills' results file), the postmortems' missing sections per run (see health.team_practice), the pulse's
    rounds, and the labs there are (for the skills not yet covered). Raises InvalidInput("floor") for a pulse
    floor below pulse.MIN_FLOOR."""
    rounds = tuple(pulse)
    return HealthReport(records.folder.name, today, sum(1 for m in records.members if m.active_on(today)),
                        membership(records, today), retention(records, today), rotation_fairness(records),
                        metric_families(records, drills, today), skills(records, drills, labs),
                        team_practice(records, drills, postmortems, rounds, floor), report(rounds, floor), floor)


NOT_ENOUGH = "not enough answers to report"


def _nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _time(seconds: float) -> str:
    return "-" if _nan(seconds) else clock(seconds)


def _share(value: float) -> str:
    return "-" if _nan(value) else f"{value:.0%}"


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(values) or "-"


def pulse_text(team: TeamPractice) -> str:
    """The team's latest pulse round in a few words: its score, "not enough answers to report", or "no pulse"."""
    p = team.pulse
    if p is None:
        return "no pulse"
    if p.score is None:
        return f"{NOT_ENOUGH} ({p.day})"
    return f"{p.score:.1f} of 7 ({p.answers} answers, {p.day})"


# ---------------------------------------------------------------- the tables, as rows


def _membership_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    return (("month", "members", "joined", "left", "sessions", "attendance", "active", "active share"),
            [(m.month, m.members, m.joined, m.left, m.sessions, m.attendance, m.active, _share(m.active_share))
             for m in r.membership.itertuples()])


def _retention_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    frame = r.retention
    if frame.empty:
        return ("cohort",), []
    table = frame.pivot(index="cohort", columns="month", values="retained")
    sizes = frame.groupby("cohort")["size"].first()
    return (("cohort", "size", *(f"month {k}" for k in table.columns)),
            [(cohort, int(sizes[cohort]), *(_share(v) for v in row)) for cohort, row in table.iterrows()])


def _rotation_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    return (("role", "turns", "members", "gini", "chi-square", "p", "test reliable", "most over fair share"),
            [(f.role, f.turns, f.members, f"{f.gini:.2f}", "-" if f.chi2 is None else f"{f.chi2:.2f}",
              "-" if f.p_value is None else f"{f.p_value:.3f}", "yes" if f.reliable else "no (fair shares < 5)",
              f.most) for f in r.rotations.roles])


def _shares_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    f = r.families.shares
    return (("month", "sessions", "attendance", "newcomer + experienced", "shares", *SHARE_KINDS),
            [tuple(row) for row in f[["month", "sessions", "attendance", "mixed_sessions", "shares",
                                      *SHARE_KINDS]].itertuples(index=False)])


def _experiments_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    f = r.families.experiments
    return (("month", "started", "judged", "adopted", "improved", "running"),
            [tuple(row) for row in f[["month", "started", "judged", "adopted", "improved",
                                      "running"]].itertuples(index=False)])


def _outcome_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    return (("month", "drills", "resolved", "median TTD", "median TTA", "median TTR", "hints per drill"),
            [(o.month, o.drills, o.resolved, _time(o.median_ttd_s), _time(o.median_tta_s), _time(o.median_ttr_s),
              "-" if _nan(o.hints_per_drill) else f"{o.hints_per_drill:.1f}") for o in r.families.outcomes.itertuples()])


def _improvement_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    return (("experiment", "metric", "before", "after", "improved", "outcome", "ended"),
            [(i.title, i.metric, f"{i.before:g} {i.unit}", "-" if i.after is None else f"{i.after:g} {i.unit}",
              {True: "yes", False: "no", None: "-"}[i.improved], i.outcome, i.ended)
             for i in r.families.improvements])


def _skill_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    return (("member", "labs done", "labs", "drills", "drill modes", "ceremonies", "labs missing"),
            [(s.member, f"{s.labs_done} of {s.labs_done + len(s.labs_missing)}" if s.labs_missing or s.labs_done
              else "0", _listed(s.labs), _listed(s.drills), _listed(s.drill_modes), _listed(s.ceremonies),
              _listed(s.labs_missing)) for s in r.skills.frame.itertuples()])


def _team_rows(r: HealthReport) -> tuple[tuple[str, ...], list[tuple]]:
    return (("team", "drills", "results kept", "resolved", "median TTD", "median TTA", "median TTR",
             "hints per drill", "postmortems complete", "postmortems open", "team pulse"),
            [(t.team, t.drills, t.kept, t.resolved, _time(t.ttd_s), _time(t.tta_s), _time(t.ttr_s),
              "-" if _nan(t.hints_per_drill) else f"{t.hints_per_drill:.1f}", t.postmortems_complete,
              t.postmortems_open, pulse_text(t)) for t in r.teams])


def _sections(r: HealthReport) -> list[tuple[str, str, Any]]:
    """(heading, what it shows, rows) in the page's order: the three families first."""
    return [
        ("1. Shares and collaboration", "sessions, attendance (person-sessions), sessions where a newcomer and an "
                                        "experienced member worked together, and shares by kind, per month",
         _shares_rows(r)),
        ("2. Kaizen experiments", "experiments started, judged, adopted and improved per month; running at the "
                                  "month's end", _experiments_rows(r)),
        ("3. Outcomes", "drills finished in the sandbox per month: resolved, median response times, hints",
         _outcome_rows(r)),
        ("3. Outcomes: judged experiments", "what each judged experiment changed in its metric",
         _improvement_rows(r)),
        ("Members and attendance", "members at each month's end, who joined and left, and who came",
         _membership_rows(r)),
        ("Retention by cohort", "the share of each month's joiners who came to a session k months after joining",
         _retention_rows(r)),
        ("Rotation fairness", "turns per role against each member's fair share (turns shared out equally among a "
                              "session's attendees); Gini 0 is perfectly even", _rotation_rows(r)),
        ("Skills per member", "the labs, drills and ceremonies each member came to, and the labs still to do",
         _skill_rows(r)),
        ("Teams: blameless practice and team pulse", f"drills and postmortems per team beside its latest team "
                                                     f"pulse (reported only from {r.floor} answers up, never per "
                                                     f"person)", _team_rows(r)),
    ]


# ---------------------------------------------------------------- text


def _text_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    if not rows:
        return "  (nothing yet)"
    cells = [tuple(str(c) for c in row) for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def text(r: HealthReport) -> str:
    """The report for a terminal: a headline, then each section's table."""
    lines = [f"Community health of {r.community}/ on {r.today}: {r.members} members, "
             f"{int(r.membership['sessions'].sum())} sessions, {int(r.families.shares['shares'].sum())} shares, "
             f"{len(r.families.improvements)} experiments judged"]
    for heading, about, (header, rows) in _sections(r):
        lines += ["", f"{heading}: {about}", _text_table(header, rows)]
        if heading == "Rotation fairness":
            lines += [f"  always: {a}" for a in r.rotations.always]
    return "\n".join(lines)


# ---------------------------------------------------------------- charts


def _months_axis(ax, labels: list[str], counts: bool = True) -> None:
    from matplotlib.ticker import MaxNLocator

    if counts:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize="small")
    ax.grid(True, axis="y", alpha=0.3)


def members_chart(r: HealthReport, ax):
    """Members at each month's end (line) and those who came to a session (bars)."""
    f = r.membership
    x = range(len(f))
    ax.bar(x, f["active"], color="tab:blue", alpha=0.6, label="came to a session")
    ax.plot(x, f["members"], "o-", color="tab:gray", label="members")
    _months_axis(ax, list(f["month"]))
    ax.set_title("Members and attendance")
    ax.legend(fontsize="small", loc="upper left")
    return ax


def retention_chart(r: HealthReport, ax):
    """Cohort retention: rows are the months members joined, columns months since; colour the share retained."""
    f = r.retention
    ax.set_title("Retention by cohort")
    if f.empty:
        ax.text(0.5, 0.5, "no members", ha="center", va="center", transform=ax.transAxes)
        return ax
    table = f.pivot(index="cohort", columns="month", values="retained")
    ax.imshow(table.to_numpy(dtype=float), cmap="Greens", vmin=0, vmax=1, aspect="auto")
    for (i, j), value in _cells(table):
        if not _nan(value):
            ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize="small",
                    color="white" if value > 0.6 else "black")
    ax.set_yticks(range(len(table.index)))
    ax.set_yticklabels(list(table.index), fontsize="small")
    ax.set_xticks(range(len(table.columns)))
    ax.set_xticklabels([str(c) for c in table.columns], fontsize="small")
    ax.set_xlabel("months since joining")
    return ax


def _cells(table):
    values = table.to_numpy(dtype=float)
    return [((i, j), float(values[i, j])) for i in range(values.shape[0]) for j in range(values.shape[1])]


def rotation_chart(r: HealthReport, ax):
    """Turns each member held, stacked by role."""
    f = r.rotations.turns
    ax.set_title("Turns per member, by role")
    if f.empty:
        ax.text(0.5, 0.5, "no rotations recorded", ha="center", va="center", transform=ax.transAxes)
        return ax
    table = f.pivot_table(index="member", columns="role", values="turns", aggfunc="sum", fill_value=0)
    left = [0] * len(table.index)
    for role in table.columns:
        ax.barh(range(len(table.index)), table[role], left=left, label=role)
        left = [a + b for a, b in zip(left, table[role])]
    ax.set_yticks(range(len(table.index)))
    ax.set_yticklabels(list(table.index), fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("turns")
    ax.legend(fontsize="x-small", loc="lower right")
    return ax


def shares_chart(r: HealthReport, ax):
    """Family 1: shares per month, stacked by kind, and sessions held (line)."""
    f = r.families.shares
    x = range(len(f))
    bottom = [0] * len(f)
    for kind in SHARE_KINDS:
        ax.bar(x, f[kind], bottom=bottom, label=kind)
        bottom = [a + b for a, b in zip(bottom, f[kind])]
    ax.plot(x, f["sessions"], "o-", color="black", label="sessions")
    _months_axis(ax, list(f["month"]))
    ax.set_title("1. Shares and sessions per month")
    ax.legend(fontsize="x-small", loc="upper left")
    return ax


def experiments_chart(r: HealthReport, ax):
    """Family 2: Kaizen experiments started, judged and adopted per month."""
    f = r.families.experiments
    x = list(range(len(f)))
    for offset, (column, colour) in zip((-0.25, 0, 0.25), (("started", "tab:blue"), ("judged", "tab:orange"),
                                                           ("adopted", "tab:green"))):
        ax.bar([i + offset for i in x], f[column], width=0.25, color=colour, label=column)
    _months_axis(ax, list(f["month"]))
    ax.set_title("2. Kaizen experiments per month")
    ax.legend(fontsize="x-small", loc="upper left")
    return ax


def outcomes_chart(r: HealthReport, ax):
    """Family 3: median time to detect, acknowledge and resolve of the month's drills, in minutes."""
    f = r.families.outcomes
    x = range(len(f))
    for column, label in (("median_ttd_s", "TTD"), ("median_tta_s", "TTA"), ("median_ttr_s", "TTR")):
        ax.plot(x, f[column] / 60, "o-", label=f"median {label}")
    _months_axis(ax, list(f["month"]), counts=False)
    ax.set_ylabel("minutes")
    ax.set_title("3. Outcomes: drill response times")
    if f["drills"].sum() == 0:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "no drill results", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize="x-small", loc="upper right")
    return ax


def skills_chart(r: HealthReport, ax):
    """Members by lab and drill: how many sessions of each they came to."""
    m = r.skills.matrix
    ax.set_title("Skills covered: sessions per member and subject")
    if m.empty or not len(m.columns):
        ax.text(0.5, 0.5, "no sessions", ha="center", va="center", transform=ax.transAxes)
        return ax
    ax.imshow(m.to_numpy(dtype=float), cmap="Blues", aspect="auto", vmin=0)
    ax.set_yticks(range(len(m.index)))
    ax.set_yticklabels(list(m.index), fontsize="small")
    ax.set_xticks(range(len(m.columns)))
    ax.set_xticklabels(list(m.columns), rotation=45, ha="right", fontsize="x-small")
    return ax


CHARTS = (shares_chart, experiments_chart, outcomes_chart, members_chart, retention_chart, rotation_chart,
          skills_chart)


def figure(r: HealthReport):
    """Every chart on one matplotlib figure (the three families on the first row); returns the figure."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(15, 12), layout="constrained")
    grid = fig.add_gridspec(3, 3, height_ratios=(1, 1, 0.8))
    axes = [fig.add_subplot(grid[0, i]) for i in range(3)] + [fig.add_subplot(grid[1, i]) for i in range(3)]
    axes.append(fig.add_subplot(grid[2, :]))
    for chart, ax in zip(CHARTS, axes):
        chart(r, ax)
    fig.suptitle(f"Community health of {r.community}/ on {r.today}")
    return fig


def _svg(r: HealthReport, chart, size: tuple[float, float]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    chart(r, fig.add_subplot())
    out = io.StringIO()
    fig.savefig(out, format="svg")
    svg = out.getvalue()
    return svg[svg.index("<svg"):]


# ---------------------------------------------------------------- HTML

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}"
          "table{border-collapse:collapse;margin:.4em 0 1.6em}"
          "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
          "th{background:#f0f0f0}.about{color:#555;margin:.2em 0}.families{display:flex;gap:1em;flex-wrap:wrap}"
          ".family{flex:1 1 30%;min-width:380px;overflow-x:auto}.family table{font-size:.8em}"
          ".family td,.family th{white-space:nowrap}.family [data-table=improvements] td{white-space:normal}"
          ".family svg,.chart svg{max-width:100%;height:auto}"
          ".not-enough{color:#8a5a00;font-style:italic}.always{color:#a00}")


def _html_table(header: tuple[str, ...], rows: list[tuple], name: str) -> str:
    e = markup.escape
    if not rows:
        return f"<p class=\"empty\" data-table=\"{e(name)}\">nothing yet</p>"
    head = "".join(f"<th>{e(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f"<td class=\"not-enough\">{e(str(c))}</td>" if str(c).startswith(NOT_ENOUGH) else f"<td>{e(str(c))}</td>"
        for c in row) + "</tr>" for row in rows)
    return f"<table data-table=\"{e(name)}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fragment(r: HealthReport, charts: bool = True) -> str:
    """The page's body: the three metric families side by side (chart, then table), then the other sections."""
    e = markup.escape
    sections = _sections(r)
    family_charts = (shares_chart, experiments_chart, outcomes_chart)
    families = []
    for i, (heading, about, (header, rows)) in enumerate(sections[:3]):
        drawn = _svg(r, family_charts[i], (5.2, 3.4)) if charts else ""
        extra = ""
        if i == 2:
            h2, a2, (hd, rw) = sections[3]
            extra = f"<h3>{e(h2)}</h3><p class=\"about\">{e(a2)}</p>{_html_table(hd, rw, 'improvements')}"
        families.append(f"<div class=\"family\" data-family=\"{i + 1}\"><h3>{e(heading)}</h3>"
                        f"<p class=\"about\">{e(about)}</p>{drawn}{_html_table(header, rows, f'family-{i + 1}')}"
                        f"{extra}</div>")
    parts = ["<section id=\"families\"><h2>The three metric families</h2><div class=\"families\">",
             *families, "</div></section>"]
    others = {"Members and attendance": members_chart, "Retention by cohort": retention_chart,
              "Rotation fairness": rotation_chart, "Skills per member": skills_chart}
    for heading, about, (header, rows) in sections[4:]:
        chart = others.get(heading)
        drawn = f"<div class=\"chart\">{_svg(r, chart, (8, 3.4))}</div>" if chart and charts else ""
        name = heading.split(":")[0].lower().replace(" ", "-")
        always = "".join(f"<li class=\"always\">{e(str(a))}</li>" for a in r.rotations.always) \
            if heading == "Rotation fairness" else ""
        parts.append(f"<section id=\"{e(name)}\"><h2>{e(heading)}</h2><p class=\"about\">{e(about)}</p>{drawn}"
                     f"{_html_table(header, rows, name)}{f'<ul>{always}</ul>' if always else ''}</section>")
    return "\n".join(parts)


def html(r: HealthReport, charts: bool = True) -> str:
    """A self-contained HTML document of the report (inline style and SVG, no script, nothing fetched)."""
    title = f"Community health of {r.community}/ on {r.today}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{markup.escape(title)}</title>"
            f"<style>{_STYLE}</style></head>\n<body><h1>{markup.escape(title)}</h1>"
            f"<p class=\"about\">{r.members} members. Seed 000's community of practice measured itself by shares, "
            f"Kaizen experiments and outcomes: those three come first.</p>\n{fragment(r, charts)}\n</body></html>\n")
