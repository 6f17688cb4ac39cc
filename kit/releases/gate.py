"""The error-budget gate: may a release take more of production's traffic, given the SLO it must protect?

The policy is the one an error budget policy states (Beyer et al., *The Site Reliability Workbook*, O'Reilly
2018, appendix B "Example Error Budget Policy"; its ch. 5 "Alerting on SLOs" for the burn-rate alerts):

- the budget is spent (remaining <= 0 over the SLO's window): the gate is closed; releases halt until the
  service is back within its SLO;
- a fast burn is firing (a ``page`` alert of the SLO's multiwindow, multi-burn-rate set): the gate is closed,
  since raising a change's exposure while the budget drains fast is how an incident grows;
- a slow burn alone (a ``ticket`` alert): the gate is open, with a warning in the reason;
- no data (the SLO's series absent, its burn-rate alerts not loaded, Prometheus down): the gate is closed and
  says why; not knowing is never a pass;
- a P0 fix or a security fix (``kit.releases.deploylog.EXEMPTIONS``) passes a closed gate, as the workbook's
  policy allows, and its use is recorded in the deploy log (an ``exempt`` event). An exemption offered to an
  open gate is not needed and not recorded.

The budget is read over the SLO's own window, in production time. A sandbox running at a time scale
(``kit.config.PROFILES``: the lab profile runs 15× faster) compresses the windows of its alert rules, so one
live second stands for ``time_scale`` seconds of production: the live part of the window is the last
``window / time_scale`` seconds, weighted ``time_scale``×, and the rest of the window is read from the history
``kit history`` backfilled before the first live scrape, at its own weight. The drill postmortems count live
seconds the same way. Each part is read by ``kit.slo.budget_report``, the reading `kit slo report` shows.

``decide`` is the policy as a pure function of numbers; ``evaluate`` reads the numbers from the sandbox's
Prometheus, decides, and records a used exemption.
"""

from __future__ import annotations

import getpass
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import polling, prom
from ..config import CONTENT, Config, resolve
from ..errors import InvalidInput, KitError, NothingMeasured
from ..history import live_start
from ..shop.versions import shop_version
from ..slo import SLOSpec, budget_report, load_spec
from ..slo.budget import percent
from ..timescale import MIN_SCRAPES_PER_WINDOW, format_duration, parse_duration
from . import deploylog
from .deploylog import EXEMPTIONS, DeployEvent

__all__ = ["BurnAlert", "BudgetReading", "GateDecision", "check_exemption", "decide", "evaluate", "read_budget",
           "burn_alerts", "load_slo"]

HISTORY_POINTS = 1000
"""Steps a budget reading asks Prometheus for per part of the window: a 30-day history in steps of 43 min."""


@dataclass(frozen=True)
class BurnAlert:
    """One firing burn-rate alert of the SLO: ``severity`` page (fast burn) or ticket (slow burn), its
    ``long_window`` and ``short_window`` as Prometheus runs them (compressed at a time scale), the
    ``burn_factor`` it fires above, and ``burn_rate``, the long window's burn rate now (1 = exactly spending the
    budget over the window)."""

    severity: str
    long_window: str
    short_window: str
    burn_factor: float
    burn_rate: float

    def __str__(self) -> str:
        return (f"{self.severity} alert: burning {self.burn_rate:.1f}× the sustainable rate over {self.long_window} "
                f"and {self.short_window} (fires above {self.burn_factor:g}×)")


@dataclass(frozen=True)
class BudgetReading:
    """The SLO's error budget over its window: ``remaining``, the fraction of the window's budget left (1 =
    untouched, 0 or less = spent), from ``events`` requests the SLI counted of which ``bad`` failed it (both
    weighted to production time), over ``covered_seconds`` of the ``window_seconds`` window that had data."""

    remaining: float
    events: float
    bad: float
    covered_seconds: float
    window_seconds: float


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided for ``version`` against SLO ``slo`` at ``at`` (Unix seconds).

    ``allowed``: the release may take more traffic. ``reason``: the sentence a person reads, with the numbers.
    ``remaining``: fraction of the ``window`` budget left (None: it could not be read; then ``missing`` says
    why); ``covered_seconds``: how much of the window (production time) had data. ``alerts``: the SLO's burn-rate
    alerts firing. ``exemption``: the exemption offered (P0, security or None); ``exemption_used``: it passed a
    closed gate, and was recorded in the deploy log.
    """

    slo: str
    version: str
    allowed: bool
    reason: str
    remaining: float | None
    window: str
    covered_seconds: float
    alerts: tuple[BurnAlert, ...]
    exemption: str | None
    exemption_used: bool
    missing: str
    at: float

    @property
    def fast_burn(self) -> bool:
        """A page alert of the SLO fires: the budget is burning fast enough to close the gate."""
        return any(a.severity == "page" for a in self.alerts)

    @property
    def slow_burn(self) -> bool:
        """A ticket alert of the SLO fires: the budget is draining, too slowly to close the gate."""
        return any(a.severity == "ticket" for a in self.alerts)

    def __str__(self) -> str:
        lines = [("ALLOWED: " if self.allowed else "BLOCKED: ") + self.reason]
        lines += [f"  {alert}" for alert in self.alerts]
        return "\n".join(lines)


def _covered(seconds: float, window: str) -> str:
    whole = parse_duration(window)
    if seconds >= whole * 0.999:
        return f"all of its {window} window"
    return f"{format_duration(max(60, round(seconds / 60) * 60))} of its {window} window"


def check_exemption(exemption: str | None, reason: str) -> None:
    """InvalidInput on ``exemption`` unless it is None or one of ``EXEMPTIONS``; on ``reason`` when an exemption
    comes without one: a reviewer must be able to check which incident or advisory the release fixes."""
    if exemption is not None and exemption not in EXEMPTIONS:
        raise InvalidInput("exemption", f"{exemption!r} is not an exemption; an error budget policy lets through "
                                        f"only {' or '.join(EXEMPTIONS)} fixes")
    if exemption is not None and not reason.strip():
        raise InvalidInput("reason", f"a {exemption} exemption needs a reason a reviewer can check (which incident "
                                     "or advisory the release fixes)")


def decide(slo: str, version: str, window: str, *, remaining: float | None, alerts: Sequence[BurnAlert] = (),
           covered_seconds: float = 0.0, missing: str = "", exemption: str | None = None, reason: str = "",
           at: float = 0.0) -> GateDecision:
    """The error budget policy (see the module's docstring) applied to numbers already read.

    ``remaining``: fraction of the ``window`` budget left, None when it could not be read; ``missing``: what
    could not be read and why (the budget, the burn-rate alerts), which closes the gate; ``alerts``: the SLO's
    burn-rate alerts firing; ``exemption``: one of ``EXEMPTIONS`` or None, with ``reason`` saying why the
    release is one. Pure.

    Raises InvalidInput on ``exemption`` and ``reason`` (see ``check_exemption``), on ``remaining`` when it is
    NaN, or None without a ``missing`` reason.
    """
    check_exemption(exemption, reason)
    if remaining is None and not missing:
        raise InvalidInput("remaining", "unknown without a reason: say why the budget could not be read")
    if remaining is not None and math.isnan(remaining):
        raise InvalidInput("remaining", "is NaN; pass None with the reason the budget could not be read")
    alerts = tuple(alerts)
    fast = [a for a in alerts if a.severity == "page"]
    slow = [a for a in alerts if a.severity == "ticket"]

    closed = []
    if missing:
        closed.append(f"the gate cannot see what it must ({missing})")
    if remaining is not None and remaining <= 0:
        closed.append(f"the {window} error budget of {slo} is spent: {percent(1 - remaining)} of it used, "
                      f"{percent(remaining)} remaining, over {_covered(covered_seconds, window)} with data")
    if fast:
        worst = max(fast, key=lambda a: a.burn_rate)
        closed.append(f"a fast burn of {slo} is firing: {worst.burn_rate:.1f}× the sustainable rate over "
                      f"{worst.long_window} (pages above {worst.burn_factor:g}×)")
    state = (f"{percent(remaining)} of the {window} error budget of {slo} remains "
             f"(over {_covered(covered_seconds, window)} with data)") if remaining is not None else ""
    warning = ""
    if slow and not closed:
        worst = max(slow, key=lambda a: a.burn_rate)
        warning = (f"; warning: a slow burn is firing ({worst.burn_rate:.1f}× the sustainable rate over "
                   f"{worst.long_window}, a ticket above {worst.burn_factor:g}×): the budget is draining")

    used = bool(closed) and exemption is not None
    if used:
        text = (f"{version} passes on a {exemption} exemption ({reason.strip()}) although the gate is closed: "
                + "; ".join(closed) + ". The exemption is recorded in the deploy log")
    elif closed:
        only = ("An error budget policy halts releases until the service is back within its SLO; only"
                if remaining is not None and remaining <= 0 or fast else "Only")
        text = (f"{version} must not take more traffic: " + "; ".join(closed) + f". {only} a "
                f"{' or '.join(EXEMPTIONS)} fix may pass, with an exemption and its reason")
    else:
        text = f"{version} may take more traffic: {state}, and no fast burn is firing{warning}"
        if exemption is not None:
            text += f". The {exemption} exemption was not needed and is not recorded"
    return GateDecision(slo, version, bool(not closed or used), text, remaining, window, covered_seconds, alerts,
                        exemption, used, missing, at)


def load_slo(slo: str | Path | SLOSpec) -> SLOSpec:
    """``slo`` itself if it is an ``SLOSpec``; else the SLO of that name in slos/ (``checkout-availability`` or
    ``checkout-availability.yml``) or of that file. Raises InvalidInput on ``slo`` naming the SLOs there."""
    if isinstance(slo, SLOSpec):
        return slo
    path = Path(slo)
    if not path.is_file():
        path = CONTENT.slos / (path.name if path.suffix in (".yml", ".yaml") else f"{path.name}.yml")
    if not path.is_file():
        names = ", ".join(p.stem for p in sorted(CONTENT.slos.glob("*.yml")))
        raise InvalidInput("slo", f"{str(slo)!r} is not an SLO file nor an SLO in slos/ ({names})")
    return load_spec(path)


def _part(spec: SLOSpec, seconds: float, step: float, end: float, config: Config) -> tuple[float, float, float]:
    """(events, bad events, seconds with data) of the SLI over the ``seconds`` before ``end``, read by
    ``budget_report`` in steps of ``step`` seconds; zeros when Prometheus has no data there."""
    try:
        report = budget_report(spec, days=seconds / 86400, step=format_duration(step), end=end, config=config)
    except InvalidInput as error:
        if error.field == "spec":  # budget_report's "no data in that period"
            return 0.0, 0.0, 0.0
        raise
    frame = report.frame
    events = float((frame["traffic"] * step).sum())
    return events, float((frame["error_ratio"] * frame["traffic"] * step).sum()), len(frame) * step


def read_budget(spec: SLOSpec, *, config: Config | None = None, now: float | None = None) -> BudgetReading:
    """The SLO's error budget over its window from the sandbox's Prometheus, live data and history together, in
    production time (see the module's docstring).

    Raises NothingMeasured when the SLI counted no request in the window, SandboxNotReady when Prometheus does not
    answer, PromQLError when it rejects the SLO's queries.
    """
    config = resolve(config)
    now = time.time() if now is None else now
    scale = config.profile_spec.time_scale
    window = spec.window_seconds
    began = live_start(config)
    live = 0.0 if began is None else max(0.0, min(now - began, window / scale))
    events = bad = covered = 0.0
    live_step = float(max(MIN_SCRAPES_PER_WINDOW * parse_duration(config.profile_spec.scrape_interval),
                          math.ceil(live / HISTORY_POINTS)))
    if live >= 2 * live_step:
        e, b, c = _part(spec, live, live_step, now, config)
        events, bad, covered = e * scale, b * scale, c * scale
    past = window - live * scale
    history_step = float(max(300, math.ceil(past / HISTORY_POINTS)))
    if past >= 2 * history_step:
        # history ends just before the first live scrape (kit.history.backfill), which it must not include
        e, b, c = _part(spec, past, history_step, (now if began is None else began) - 0.001, config)
        events, bad, covered = events + e, bad + b, covered + c
    if events <= 0:
        raise NothingMeasured(f"the budget reading of {spec.name}", config.url("prometheus"),
                              f"its SLI counted no request in its {spec.window} window; let the sandbox serve "
                              "traffic, or backfill history with `kit history backfill`")
    return BudgetReading(1 - bad / (spec.budget * events), events, bad, min(covered, window), window)


def burn_alerts(spec: SLOSpec, *, config: Config | None = None) -> tuple[BurnAlert, ...]:
    """The SLO's burn-rate alerts (``kit.slo.generate_rules``) firing now, fastest burn first; the same alert
    installed twice (by `kit slo apply` and by a drill) once.

    Raises NothingMeasured when Prometheus has none of the SLO's alert rules loaded (nothing would tell a fast
    burn), or they fail or have not been evaluated yet; SandboxNotReady when Prometheus does not answer.
    """
    config = resolve(config)

    def mine(labels: dict) -> bool:
        return labels.get("slo") == spec.name and labels.get("service") == spec.service

    rules = prom.rules(config=config)
    rules = rules[(rules["type"] == "alerting") & rules["labels"].map(mine)]
    if rules.empty:
        raise NothingMeasured(f"the burn-rate check of {spec.name}", config.url("prometheus"),
                              f"none of its alerts is loaded; install them with `kit slo apply slos/{spec.name}.yml`")
    unhealthy = rules[rules["health"] != "ok"]
    if not unhealthy.empty:
        row = unhealthy.iloc[0]
        raise NothingMeasured(f"the burn-rate check of {spec.name}", config.url("prometheus"),
                              f"{row['name']} ({row['severity']}) is {row['health'] or 'unknown'}: "
                              + ("not evaluated yet; ask again after one evaluation interval"
                                 if row["health"] in ("", "unknown") else "Prometheus cannot evaluate it"))
    names = set(rules["name"])
    held = prom.alerts(config=config)
    found: dict[tuple[str, str, str], BurnAlert] = {}
    for row in held.itertuples():
        labels = row.labels
        if row.state != "firing" or row.alertname not in names or not mine(labels):
            continue
        alert = BurnAlert(labels.get("severity", ""), labels.get("long_window", ""), labels.get("short_window", ""),
                          float(labels.get("burn_factor", "nan")), float(row.value))
        found[(alert.severity, alert.long_window, alert.short_window)] = alert
    return tuple(sorted(found.values(), key=lambda a: (a.severity != "page", -a.burn_rate)))


def wait_for_fast_burn(slo: str | Path | SLOSpec, *, timeout: float = 90.0,
                       config: Config | None = None) -> tuple[BurnAlert, ...]:
    """Until a fast burn of ``slo`` (a burn-rate alert of severity page) fires as ``evaluate`` reads it; the SLO's
    firing burn-rate alerts then (``burn_alerts``).

    Waits on the rules Prometheus holds now, never on the ``ALERTS`` series: after a rule is removed and installed
    again (every lab's setup does), ``ALERTS`` goes on showing the old rule's alert as firing for five minutes, so a
    wait on it can return before this burn has fired, and the gate that follows sees none. Raises CheckFailed after
    ``timeout`` seconds, with the alerts firing then; what ``burn_alerts`` raises.
    """
    config = resolve(config)
    spec = load_slo(slo)
    seen: tuple[BurnAlert, ...] = ()

    def fast() -> tuple[BurnAlert, ...]:
        nonlocal seen
        seen = burn_alerts(spec, config=config)
        return seen if any(alert.severity == "page" for alert in seen) else ()

    return polling.wait_for(fast, timeout, 0.25, describe=lambda: (
        f"no fast burn of {spec.name} fired within {timeout:g} s; firing: "
        + ("; ".join(map(str, seen)) or "none") + ". Is the fault that burns it set (`kit fault list`)?"))


def evaluate(slo: str | Path | SLOSpec, *, version: str, config: Config | None = None, exemption: str | None = None,
             reason: str = "", actor: str | None = None, record: bool = True) -> GateDecision:
    """Ask the gate whether ``version`` may take more traffic, under the SLO ``slo`` (a name in slos/, a file, or
    an ``SLOSpec``): its remaining budget and firing burn-rate alerts, read from the sandbox's Prometheus now.

    Call it before every weight increase. A closed gate passed on ``exemption`` (P0 or security, with
    ``reason``) appends one ``exempt`` event to the deploy log, by ``actor`` (default: this user, via the gate),
    unless ``record`` is False: a release run records its exemption once, not at every ring.
    No data is a refusal naming what is missing (``GateDecision.missing``), never an exception.

    Raises InvalidInput on ``slo``, ``version`` (not a shop version), ``exemption`` or ``reason`` (see
    ``decide``); KitError when the deploy log cannot be written.
    """
    spec = load_slo(slo)
    version_info = shop_version(version)
    config = resolve(config)
    check_exemption(exemption, reason)
    at = time.time()
    remaining, covered, alerts, missing = None, 0.0, (), []
    try:
        reading = read_budget(spec, config=config, now=at)
        remaining, covered = reading.remaining, reading.covered_seconds
    except KitError as error:  # Prometheus down or refusing, or nothing to read: said, never passed over
        missing.append(str(error))
    try:
        alerts = burn_alerts(spec, config=config)
    except KitError as error:
        missing.append(str(error))
    # a Prometheus that is down fails both readings with the same words: say them once
    decision = decide(spec.name, version, spec.window, remaining=remaining, alerts=alerts, covered_seconds=covered,
                      missing="; ".join(dict.fromkeys(missing)), exemption=exemption, reason=reason, at=at)
    if decision.exemption_used and record:
        deploylog.append([DeployEvent(
            "exempt", version, version_info.commit, version_info.committed_at.timestamp(), at,
            actor or f"{getpass.getuser()} (kit release gate)", f"{reason.strip()}; gate of {spec.name}: "
            f"{decision.reason}", exemption=exemption)], config=config)
    return decision
