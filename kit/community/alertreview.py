"""What's alarming you: an alert review from the pager's history, Prometheus's alert history and the drills.

The ceremony is cinch's (Cristan Massey and Toli Apostolidis, "When DevOps meets Service Delivery", WTF is SRE?
2023): the teams look together at what paged them and decide what each alert should become. ``review`` computes
what they look at, from histories given as data (tests feed it a pager history with known noise);
``alert_review`` reads those histories from the running sandbox. Every definition is stated here and pinned by
tests on a hand-computed history (tests/community/test_alertreview.py).

Definitions, over a window [start, end] in Unix seconds:

- **Page**: one alert instance (its fingerprint and ``startsAt``) that the pager received a firing notification
  of with ``severity="page"``, the first such notification received in the window. Alertmanager repeats a
  group's alerts in later notifications and re-sends them every ``repeat_interval``: the same page, counted once.
  Firing alerts of any other severity are **tickets**, counted apart.
- **Drill page**: a page whose alert started while a drill ran, from the drill's ``started`` event (one second
  earlier, the slack kit.drills allows for two clocks) to its ``ended`` event (the running drill: to ``end``).
  **Pages outside drills** are the others: what paged people for real.
- **Resolved quickly with no action** (likely noise): a page whose resolved notification says it ended less
  than ``quick_s`` after it started, with no action recorded between its start and its end. The kit records
  actions only in drill timelines: the acknowledgement (``acknowledged``) and the changes the drill's watcher saw
  the mob make (``action``: a fault cleared, a process restarted, a flag flipped, load shed). Outside drills it
  records none, so there every page that resolved that fast counts: it was over before anyone could act on it.
  A page that cannot be acted on should not page (Beyer et al., *Site Reliability Engineering*, O'Reilly 2016,
  ch. 6 "Monitoring Distributed Systems": every page should be actionable and require a human's intelligence).
- **Time firing**: the union of the intervals in which any series of the alert was firing in Prometheus's
  ``ALERTS{alertstate="firing"}``, clipped to the window, in seconds. An **episode** is one such interval of one
  series (one label set): it starts at its first firing sample and ends one evaluation after its last.
- **Flapping**: one series of the alert started more than ``flap_limit`` episodes within some span of
  ``flap_window_s`` ([t, t + flap_window_s)). Counted on Prometheus's evaluations, not on notifications:
  Alertmanager's ``group_interval`` batches a flapping alert into fewer notifications and hides it. The idea is
  Nagios's flap detection (too many state changes in a recent history; "indicative of configuration problems,
  i.e. thresholds set too low", Naemon's "Detection and Handling of State Flapping"), reduced to a count of
  starts; Prometheus's alerting-rules documentation gives the remedies: ``for:`` waits out a short blip before
  firing, ``keep_firing_for`` holds a firing alert "to prevent flapping".
- **Runbook**: ``missing`` when the runbook linter (kit.runbooks.lint) reports the rule itself: a paging rule
  with no ``runbook_url``, or one that leads nowhere; ``failing`` when it reports a problem in the file the
  ``runbook_url`` points at; ``ok`` when it reports neither; ``unchecked`` for an alert in the history whose rule
  is no longer loaded (the linter could not see it); ``-`` for a rule that need not have one (not paging, no url).
- **Suggested actions**, every one that applies, in this order: ``write the runbook`` (missing); ``fix the
  runbook`` (failing); ``delete it or demote it to a ticket`` when at least ``min_noise`` pages and all of them
  were resolved quickly with no action; else ``raise its threshold or lengthen its for:`` when at least
  ``min_noise`` of them were and they are at least ``noise_share`` of its pages; ``lengthen its for: or add
  keep_firing_for`` when it flaps; ``route it to an owning team`` when it paged and no page reached a team (the
  Alertmanager receiver of alerts no catalog component claims); ``keep`` when none applies.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd

from ..config import Config, resolve
from ..errors import InvalidInput
from ..runbooks.lint import Problem
from ..timeline import clock
from ..timescale import parse_duration

__all__ = ["ACTIONS", "PAGE_COLUMNS", "REVIEW_COLUMNS", "AlertReview", "DrillWindow", "RunbookState", "Thresholds",
           "alert_review", "drill_windows", "episodes", "firing_episodes", "page_instances", "review",
           "runbook_states"]

WRITE_RUNBOOK = "write the runbook"
FIX_RUNBOOK = "fix the runbook"
DELETE = "delete it or demote it to a ticket"
TUNE = "raise its threshold or lengthen its for:"
DAMPEN = "lengthen its for: or add keep_firing_for"
ROUTE = "route it to an owning team"
KEEP = "keep"
ACTIONS = (WRITE_RUNBOOK, FIX_RUNBOOK, DELETE, TUNE, DAMPEN, ROUTE, KEEP)
"""Every suggested action, in the order a row lists those that apply."""

REVIEW_COLUMNS = [
    "alertname", "severity", "team", "pages", "tickets", "drill_pages", "outside_drills", "quick_no_action",
    "firing_s", "episodes", "max_starts", "flapping", "runbook_url", "runbook", "runbook_detail", "action", "why",
]
"""``AlertReview.frame``'s columns, one row per alert name: ``severity`` (the rule's, else the pages'), ``team``
(the team most of its notifications were routed to, "" for none), ``pages``, ``tickets``, ``drill_pages``,
``outside_drills`` and ``quick_no_action`` (counts, as the module defines them), ``firing_s`` (seconds firing in
the window), ``episodes`` (episodes started in the window), ``max_starts`` (the most episodes one series started
within ``flap_window_s``), ``flapping`` (bool), ``runbook_url``, ``runbook`` (ok, missing, failing, unchecked or
-), ``runbook_detail`` (the linter's first problem, or ""), ``action`` (the suggested actions joined with "; ")
and ``why`` (the evidence for each, in the same order)."""

PAGE_COLUMNS = ["alertname", "severity", "team", "fingerprint", "started", "paged", "ended", "drill",
                "quick_no_action"]
"""``AlertReview.pages``' columns, one row per page or ticket in the window: ``started`` (the alert's startsAt),
``paged`` (the first firing notification's arrival) and ``ended`` (its endsAt, NaN while unresolved), all Unix
seconds; ``drill`` (the run it started in, "" outside drills); ``quick_no_action`` (bool; False for tickets)."""

_STATE_ORDER = {"missing": 0, "failing": 1, "unchecked": 2, "ok": 3, "-": 4}
_RULE_PROBLEM = re.compile(r"^alert (?P<name>\S+) \(group ")
_LINKED_ONLY = re.compile(r"^alert (?P<name>\S+) links here")
_MAX_POINTS = 10_000
"""Steps per range query: Prometheus refuses more than 11,000."""


@dataclass(frozen=True)
class Thresholds:
    """The review's limits, in seconds of the history (see the module's definitions).

    Defaults are for production timing: a page over within 5 minutes is quick; more than 2 starts of one series
    within an hour is flapping; noise is at least 2 pages and half of an alert's pages. ``scaled`` compresses
    the durations as the sandbox's profile compresses its rules. Raises InvalidInput for a limit not positive.
    """

    quick_s: float = 300.0
    flap_window_s: float = 3600.0
    flap_limit: int = 2
    noise_share: float = 0.5
    min_noise: int = 2

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value > 0:
                raise InvalidInput(name, f"must be positive, got {value!r}")
        if self.noise_share > 1:
            raise InvalidInput("noise_share", f"is a share of the pages, at most 1; got {self.noise_share!r}")

    def scaled(self, time_scale: float) -> "Thresholds":
        """These limits with their durations divided by ``time_scale`` (the lab profile's 15)."""
        return Thresholds(self.quick_s / time_scale, self.flap_window_s / time_scale, self.flap_limit,
                          self.noise_share, self.min_noise)


@dataclass(frozen=True)
class DrillWindow:
    """One drill run as the review needs it: when it ran (``ended`` None while it runs) and when the mob acted
    (acknowledgements and the changes the watcher saw), in Unix seconds."""

    run: str
    started: float
    ended: float | None
    actions: tuple[float, ...] = ()


@dataclass(frozen=True)
class RunbookState:
    """An alert's runbook as the linter left it: ``state`` ok, missing, failing, unchecked or -; ``detail`` the
    first problem reported ("" when none)."""

    state: str
    detail: str = ""


@dataclass(frozen=True)
class AlertReview:
    """The review: ``frame`` (``REVIEW_COLUMNS``, the alerts most paging outside drills first), ``pages``
    (``PAGE_COLUMNS``), the window [``start``, ``end``] in Unix seconds and the ``thresholds`` used."""

    frame: pd.DataFrame
    pages: pd.DataFrame
    start: float
    end: float
    thresholds: Thresholds

    @property
    def to_act_on(self) -> list[str]:
        """The alerts with a suggested action other than keep, in the frame's order."""
        return [row.alertname for row in self.frame.itertuples() if row.action != KEEP]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: the window, the thresholds and one object per alert (``REVIEW_COLUMNS``)."""
        records = self.frame.to_dict(orient="records")
        for record in records:
            record["flapping"] = bool(record["flapping"])
            for name in ("pages", "tickets", "drill_pages", "outside_drills", "quick_no_action", "episodes",
                         "max_starts"):
                record[name] = int(record[name])
            record["firing_s"] = round(float(record["firing_s"]), 3)
        return {"start": self.start, "end": self.end, "thresholds": asdict(self.thresholds), "alerts": records}

    def __str__(self) -> str:
        t = self.thresholds
        pages = int(self.frame["pages"].sum())
        head = (f"What's alarming you: {len(self.frame)} alerts, {pages} page{'' if pages == 1 else 's'} "
                f"({int(self.frame['outside_drills'].sum())} outside drills) over {clock(self.end - self.start)}; "
                f"quick < {clock(t.quick_s)}, flapping > {t.flap_limit} starts within {clock(t.flap_window_s)}")
        header = ("alert", "severity", "team", "pages", "outside drills", "quick, no action", "firing", "max starts",
                  "runbook", "suggested action")
        rows = [(r.alertname, r.severity or "-", r.team or "-", r.pages, r.outside_drills, r.quick_no_action,
                 clock(r.firing_s), f"{r.max_starts}{' FLAPPING' if r.flapping else ''}", r.runbook, r.action)
                for r in self.frame.itertuples()]
        cells = [tuple(str(c) for c in row) for row in [header, *rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        table = "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)
        why = [f"  {r.alertname}: {r.why}" for r in self.frame.itertuples() if r.action != KEEP]
        return "\n".join([head, table, *(["why:", *why] if why else [])])

    def plot(self, ax: Any = None, bins: int = 24) -> Any:
        """Pages per alert over the window, stacked in ``bins`` equal bins; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if ax is None:
            _, ax = plt.subplots(figsize=(9, 3.5))
        pages = self.pages[self.pages["severity"] == "page"]
        edges = pd.to_datetime(pd.Series([self.start + (self.end - self.start) * i / bins for i in range(bins + 1)]),
                               unit="s", utc=True)
        names = sorted(pages["alertname"].unique())
        times = [pd.to_datetime(pages.loc[pages["alertname"] == n, "paged"], unit="s", utc=True) for n in names]
        if names:
            ax.hist(times, bins=edges, stacked=True, label=names)
            ax.legend(fontsize="small", loc="upper left")
        ax.set_xlim(edges.iloc[0], edges.iloc[-1])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("pages")
        ax.set_title("What's alarming you: pages per alert")
        ax.figure.autofmt_xdate()
        return ax


def _seconds(text: Any) -> float | None:
    """Unix seconds of an Alertmanager RFC 3339 time; None for none (Go's zero time on a firing alert)."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    try:
        return pd.Timestamp(text).timestamp()
    except ValueError:
        return None


def _drill_of(started: float, drills: Sequence[DrillWindow], end: float) -> DrillWindow | None:
    return next((d for d in drills if d.started - 1 <= started <= (end if d.ended is None else d.ended)), None)


def page_instances(notifications: pd.DataFrame, drills: Sequence[DrillWindow], *, start: float, end: float,
                   thresholds: Thresholds = Thresholds()) -> pd.DataFrame:
    """The pages and tickets first notified in [start, end] (``PAGE_COLUMNS``), from the pager's notifications
    (``kit.pager.NOTIFICATION_COLUMNS``, any order) and the drills' windows."""
    firing: dict[tuple, dict] = {}
    ended: dict[tuple, float | None] = {}
    for row in notifications.sort_values("received_at").to_dict("records"):
        key = (row["alertname"], row["fingerprint"] or repr(sorted(row["labels"].items())), row["starts_at"])
        if row["status"] == "firing":
            firing.setdefault(key, row)
        elif row["status"] == "resolved":
            ended.setdefault(key, _seconds(row["ends_at"]))
    rows = []
    for key, row in firing.items():
        paged = row["received_at"].timestamp()
        if not start <= paged <= end:
            continue
        began = _seconds(row["starts_at"]) or paged
        over = ended.get(key)
        drill = _drill_of(began, drills, end)
        acted = drill is not None and any(began <= t <= (over if over is not None else end) for t in drill.actions)
        quick = row["severity"] == "page" and over is not None and over - began < thresholds.quick_s and not acted
        rows.append({"alertname": row["alertname"], "severity": row["severity"], "team": row["team"],
                     "fingerprint": row["fingerprint"], "started": began, "paged": paged,
                     "ended": float("nan") if over is None else over, "drill": drill.run if drill else "",
                     "quick_no_action": quick})
    return pd.DataFrame(rows, columns=PAGE_COLUMNS)


def episodes(samples: pd.DataFrame, step: float) -> pd.DataFrame:
    """Firing episodes from a range query of ``ALERTS{alertstate="firing"}`` in kit.prom's long form, sampled every
    ``step`` seconds: columns ``alertname``, ``series`` (its other labels as ``k=v`` joined by commas), ``start``
    and ``end`` (Unix seconds).

    A series' samples more than 1.5 steps apart belong to two episodes: Prometheus marks a resolved alert's
    series stale, so a range query has a gap wherever it stopped firing.
    """
    columns = ["alertname", "series", "start", "end"]
    if samples.empty or "alertname" not in samples:
        return pd.DataFrame(columns=columns)
    labels = sorted(c for c in samples.columns if c not in ("timestamp", "value", "__name__", "alertname", "alertstate"))
    rows = []
    keyed = samples.assign(_t=samples["timestamp"].map(lambda t: t.timestamp()),
                           _series=samples[labels].apply(
                               lambda r: ",".join(f"{k}={v}" for k, v in r.items() if isinstance(v, str)), axis=1))
    for (name, series), group in keyed.groupby(["alertname", "_series"], sort=True):
        times = sorted(group["_t"])
        first = previous = times[0]
        for t in times[1:]:
            if t - previous > 1.5 * step:
                rows.append((name, series, first, previous + step))
                first = t
            previous = t
        rows.append((name, series, first, previous + step))
    return pd.DataFrame(rows, columns=columns)


def _union_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def _max_starts(starts: list[float], window: float) -> int:
    """The most starts within any [t, t + window)."""
    starts, best, first = sorted(starts), 0, 0
    for last, t in enumerate(starts):
        while t - starts[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


def _runbook_file(url: str) -> str:
    """The repository path a runbook_url names, as the linter names the file (``runbooks/x.md``)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.scheme in ("http", "https"):
        path = path[path.rfind("/runbooks/") + 1:]
    return posixpath.normpath(path.lstrip("/"))


def runbook_states(rules: pd.DataFrame, problems: Sequence[Problem]) -> dict[str, RunbookState]:
    """Each alerting rule's runbook state, from kit.prom.rules' frame and the runbook linter's problems.

    A rule problem (line 0, "alert NAME (group G) ...") makes the rule's runbook missing; a problem in the file
    its runbook_url points at makes it failing, unless it is "alert OTHER links here, but ..." about another
    alert. Several rules of one name: the worst state of theirs.
    """
    missing: dict[str, str] = {}
    in_files: dict[str, list[Problem]] = {}
    for problem in sorted(problems):
        named = _RULE_PROBLEM.match(problem.message)
        if problem.line == 0 and named:
            missing.setdefault(named["name"], problem.message)
        else:
            in_files.setdefault(problem.file, []).append(problem)
    states: dict[str, RunbookState] = {}
    for rule in rules[rules["type"] == "alerting"].itertuples():
        if rule.name in missing:
            state = RunbookState("missing", missing[rule.name])
        elif not rule.runbook_url:
            state = RunbookState("-")
        else:
            found = [p for p in in_files.get(_runbook_file(rule.runbook_url), [])
                     if (m := _LINKED_ONLY.match(p.message)) is None or m["name"] == rule.name]
            state = RunbookState("failing", str(found[0])) if found else RunbookState("ok")
        held = states.get(rule.name)
        if held is None or _STATE_ORDER[state.state] < _STATE_ORDER[held.state]:
            states[rule.name] = state
    return states


def _suggest(row: dict, thresholds: Thresholds) -> tuple[list[str], list[str]]:
    actions, why = [], []
    if row["runbook"] == "missing":
        actions.append(WRITE_RUNBOOK)
        why.append(row["runbook_detail"] or "it pages with no runbook_url")
    elif row["runbook"] == "failing":
        actions.append(FIX_RUNBOOK)
        why.append(row["runbook_detail"])
    pages, quick = row["pages"], row["quick_no_action"]
    if quick >= thresholds.min_noise and quick == pages:
        actions.append(DELETE)
        why.append(f"all {pages} pages resolved within {clock(thresholds.quick_s)} with no action")
    elif quick >= thresholds.min_noise and quick >= thresholds.noise_share * pages:
        actions.append(TUNE)
        why.append(f"{quick} of {pages} pages resolved within {clock(thresholds.quick_s)} with no action")
    if row["flapping"]:
        actions.append(DAMPEN)
        why.append(f"one series started {row['max_starts']} times within {clock(thresholds.flap_window_s)}")
    if pages and not row["team"]:
        actions.append(ROUTE)
        why.append("its pages reached no owning team (no catalog component claims it)")
    return actions or [KEEP], why


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else ""


def review(notifications: pd.DataFrame, firing: pd.DataFrame, drills: Sequence[DrillWindow], rules: pd.DataFrame,
           problems: Sequence[Problem], *, start: float, end: float,
           thresholds: Thresholds = Thresholds()) -> AlertReview:
    """The alert review over [start, end] (Unix seconds), from the histories as data; pure.

    ``notifications``: the pager's (``kit.pager.NOTIFICATION_COLUMNS``); ``firing``: firing episodes (``episodes``'
    columns); ``drills``: the drill runs; ``rules``: the loaded rules (``kit.prom.rules``' columns; its alerting
    rules are reviewed even when they never fired); ``problems``: the runbook linter's. Raises InvalidInput when
    ``end`` is not after ``start``.
    """
    if not end > start:
        raise InvalidInput("window", f"must end after it starts (start {start}, end {end})")
    pages = page_instances(notifications, drills, start=start, end=end, thresholds=thresholds)
    alerting = rules[rules["type"] == "alerting"]
    severities = {r.name: r.severity for r in alerting.itertuples()}
    urls = {r.name: r.runbook_url for r in alerting.itertuples()}
    states = runbook_states(rules, problems)
    shown = firing[(firing["end"] > start) & (firing["start"] <= end)]
    names = sorted(set(severities) | set(pages["alertname"]) | set(shown["alertname"]))
    rows = []
    for name in names:
        mine = pages[pages["alertname"] == name]
        paged = mine[mine["severity"] == "page"]
        spells = shown[shown["alertname"] == name]
        starts = spells[spells["start"] >= start]
        max_starts = max((_max_starts(list(g["start"]), thresholds.flap_window_s) for _, g in starts.groupby("series")),
                         default=0)
        seen = notifications[notifications["alertname"] == name]
        severity = severities.get(name) or _most_common(mine["severity"])
        url = urls.get(name, _most_common(seen["runbook_url"]))
        if name in states:
            state = states[name]
        elif severity == "page" and not url:
            state = RunbookState("missing", f"alert {name} pages but has no runbook_url annotation")
        else:
            state = RunbookState("unchecked" if url else "-")
        row = {
            "alertname": name, "severity": severity, "team": _most_common(mine["team"]), "pages": len(paged),
            "tickets": len(mine) - len(paged), "drill_pages": int((paged["drill"] != "").sum()),
            "outside_drills": int((paged["drill"] == "").sum()), "quick_no_action": int(paged["quick_no_action"].sum()),
            "firing_s": _union_seconds((max(a, start), min(b, end)) for a, b in zip(spells["start"], spells["end"])),
            "episodes": len(starts), "max_starts": max_starts, "flapping": max_starts > thresholds.flap_limit,
            "runbook_url": url, "runbook": state.state, "runbook_detail": state.detail,
        }
        actions, why = _suggest(row, thresholds)
        rows.append({**row, "action": "; ".join(actions), "why": "; ".join(why)})
    frame = pd.DataFrame(rows, columns=REVIEW_COLUMNS)
    frame = frame.sort_values(["outside_drills", "pages", "firing_s", "alertname"],
                              ascending=[False, False, False, True]).reset_index(drop=True)
    return AlertReview(frame, pages, start, end, thresholds)


# ---------------------------------------------------------------- the live layer


def drill_windows(config: Config | None = None) -> list[DrillWindow]:
    """Every drill run of the sandbox, from its timeline: a run that stopped without ending (a crash) ends at its
    last event, the running one is open."""
    from ..drills import lifecycle

    config = resolve(config)
    active = (lifecycle.active_record(config) or {}).get("run")
    windows = []
    for folder in sorted(p for p in config.paths.drill_runs.glob("*") if p.is_dir()):
        events = lifecycle.read_timeline(folder.name, config)
        started = next((e.t for e in events if e.kind == "started"), None)
        if started is None:
            continue
        ended = next((e.t for e in events if e.kind == "ended"), None)
        if ended is None and folder.name != active:
            ended = events[-1].t
        windows.append(DrillWindow(folder.name, started, ended,
                                   tuple(e.t for e in events if e.kind in ("acknowledged", "action"))))
    return windows


def firing_episodes(start: float, end: float, config: Config | None = None) -> pd.DataFrame:
    """The firing episodes (``episodes``' columns) Prometheus holds for [start, end], sampled at the profile's
    evaluation interval; several range queries when the window needs more points than one may return.
    Raises SandboxNotReady when Prometheus does not answer."""
    from .. import prom

    config = resolve(config)
    step = parse_duration(config.profile_spec.evaluation_interval, "evaluation_interval")
    frames, t = [], start
    while t < end:
        until = min(end, t + _MAX_POINTS * step)
        frames.append(prom.query_range('ALERTS{alertstate="firing"}', t, until, step, config=config))
        t = until + step
    found = [f for f in frames if not f.empty]
    return episodes(pd.concat(found, ignore_index=True) if found else pd.DataFrame(), step)


def alert_review(since: str = "7d", *, config: Config | None = None,
                 thresholds: Thresholds | None = None) -> AlertReview:
    """The review of the running sandbox over the last ``since`` (a duration such as 7d or 90m).

    Reads the pager's notifications, Prometheus's ALERTS and loaded rules, the drill timelines, and lints the
    runbooks against the loaded rules (running their queries). ``thresholds`` default to ``Thresholds()`` scaled
    by the profile's time scale. Raises InvalidInput for a bad ``since``, SandboxNotReady when Prometheus does
    not answer (`kit up`).
    """
    from .. import pager, prom
    from ..runbooks.lint import lint

    config = resolve(config)
    window = parse_duration(since, "since")
    if window <= 0:
        raise InvalidInput("since", f"{since!r} must be a positive duration, such as 7d")
    end = time.time()
    start = end - window
    limits = thresholds or Thresholds().scaled(config.profile_spec.time_scale)
    rules = prom.rules(config=config)
    report = lint(live=True, config=config)
    return review(pager.notifications(config), firing_episodes(start, end, config), drill_windows(config), rules,
                  report.problems, start=start, end=end, thresholds=limits)
