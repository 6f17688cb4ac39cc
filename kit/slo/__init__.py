"""SLO specs, error budgets, burn rates, and the alert rules that page on them.

An SLO is parsed once into a frozen ``SLOSpec`` and checked up front, so a
mistake is reported against the field that holds it, not as a confusing rule
later. Two input formats become the same model: the kit's own YAML and
OpenSLO v1 (read by ``kit.openslo``). The budget math is pure and is what the generated
rules and the alert-quality simulation both use, so the numbers a learner
computes by hand, the rules Prometheus runs and the simulated detection times
agree.

The kit's YAML (every key shown; ``description`` and ``runbook_url`` optional)::

    name: checkout-availability        # lowercase letters, digits, '-'
    service: shop
    objective: 0.999                   # between 0 and 1, at most five nines
    window: 30d                        # rolling, a Prometheus duration; at least 3d (the slowest alert's)
    runbook_url: runbooks/checkout-errors.md
    sli:
      availability:                    # bad/total or good/total, never both
        bad: http_requests_total{job="shop", route="/checkout", code=~"5.."}
        total: http_requests_total{job="shop", route="/checkout"}

    name: catalog-latency
    service: shop
    objective: 0.99
    window: 30d
    sli:
      latency:                         # share of requests slower than threshold
        metric: http_request_duration_seconds
        selector: '{job="shop", route="/catalog"}'
        threshold: 0.25                # seconds; must be a bucket edge
        buckets: [0.1, 0.25, 0.5]      # optional; default the shop's edges

A query is either a counter selector (the kit takes ``sum(rate(sel[w]))``) or a
PromQL expression containing ``[{{window}}]`` (``{{.window}}`` works too),
which the kit fills in for every window it needs.

Burn-rate alerts follow the multi-window, multi-burn-rate recipe: an alert
fires when the error ratio over a long window *and* over a short window (1/12
of it) both exceed factor × budget. The short window makes the alert stop soon
after the problem stops; the long window keeps brief spikes from paging. The
policy names shares of the budget (2 % in 1 h ...); each SLO's factors follow
from its own window (factor = share × SLO window / long window), so a 28-day
SLO pages at 13.44×, not at the 30-day 14.4×. Rules are rendered for a
sandbox profile, whose scrape interval must fill every compressed window.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as _field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import yamldocs
from ..errors import InvalidInput, PromQLError
from ..metrics import LATENCY_BUCKETS
from ..promfiles import PromtoolResult, check_rules, promtool, to_yaml
from ..timescale import MIN_SCRAPES_PER_WINDOW, format_duration, parse_duration

if TYPE_CHECKING:
    from ..config import Config, Profile
    from ..sandbox import SandboxStatus

__all__ = [
    "SLOSpec", "AvailabilitySLI", "LatencySLI", "BurnWindow", "DEFAULT_WINDOWS", "MAX_OBJECTIVE",
    "Scenario", "Strategy", "Outcome", "AlertQuality", "PromtoolResult",
    "BudgetReport", "BudgetShare", "BUDGET_POLICY", "MIN_SCRAPES_PER_WINDOW", "load_spec", "load_specs",
    "validate_queries", "install", "check_slo_window", "burn_windows", "le_pattern", "sli_error_expr",
    "sli_total_expr", "budget_burndown", "budget_report",
    "error_budget", "budget_minutes", "burn_rate", "budget_consumed", "budget_remaining",
    "time_to_exhaustion", "budget_after_incident", "burn_factor",
    "generate_rules", "generate_tests", "check_rules", "test_rules", "to_yaml",
    "threshold_strategy", "burn_rate_strategy", "multiwindow_strategy",
    "default_scenarios", "simulate", "should_page", "alert_quality",
]

Duration = str | float
"""A Prometheus duration (``"5m"``) or seconds."""


MAX_OBJECTIVE = 0.99999
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
_MATCHERS = rf"\{{(?:{_MATCHER}(?:,{_MATCHER})*,?\s*)?\}}"
_SELECTOR = re.compile(rf"^\s*(?:[A-Za-z_:][A-Za-z0-9_:]*\s*(?:{_MATCHERS})?|{_MATCHERS})\s*$")
_LABEL_SET = re.compile(rf"^\s*(?:{_MATCHERS})?\s*$")
_PLACEHOLDER = re.compile(r"\{\{\s*\.?window\s*\}\}")


# --------------------------------------------------------------------------- spec model


@dataclass(frozen=True)
class AvailabilitySLI:
    """Error ratio = bad/total, or 1 − good/total; each query a selector or a ``[{{window}}]`` expression."""

    total: str
    good: str | None = None
    bad: str | None = None


@dataclass(frozen=True)
class LatencySLI:
    """Error ratio = share of ``metric`` observations above ``threshold`` seconds (a bucket edge)."""

    metric: str
    selector: str
    threshold: float


@dataclass(frozen=True)
class SLOSpec:
    """One SLO, whichever format it came from.

    ``source`` (the file, and document, it was read from) and ``spelled`` (the kit's name of a field, such as
    ``window`` or ``sli.bad``, to the way the file spells it, such as ``spec.timeWindow[0].duration``) let an
    error found after parsing point into the file; see ``invalid``. Neither takes part in comparisons.
    """

    name: str
    service: str
    objective: float
    window: str
    sli: AvailabilitySLI | LatencySLI
    description: str = ""
    runbook_url: str = ""
    source: str = _field(default="", compare=False, repr=False)
    spelled: Mapping[str, str] = _field(default_factory=dict, compare=False, repr=False)

    def field(self, part: str) -> str:
        """The input file's name for ``part`` of this spec (``window``, ``total``, ``good``, ``bad``, ``threshold``);
        in the kit's own format ``window``, ``sli.availability.bad``, ``sli.latency.threshold`` and so on."""
        kit = {"window": "window", "threshold": "sli.latency.threshold",
               "total": "sli.latency.metric" if isinstance(self.sli, LatencySLI) else "sli.availability.total"}
        return self.spelled.get(part) or self.spelled.get(f"sli.{part}") or kit.get(part, f"sli.availability.{part}")

    def invalid(self, part: str, problem: str) -> InvalidInput:
        """InvalidInput about ``part`` (see ``field``), named as the input file spells it, in that file."""
        return InvalidInput(self.field(part), problem, source=self.source)

    @property
    def budget(self) -> float:
        return error_budget(self.objective)

    @property
    def window_seconds(self) -> float:
        return parse_duration(self.window, "window")


def _seconds(value: Duration, field: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInput(field, f"{value} must not be negative")
        return float(value)
    return parse_duration(str(value), field)


def _rate(query: str, window: str) -> str:
    """One query of the SLI over ``window``, parenthesised so that composing it cannot change its meaning."""
    if _PLACEHOLDER.search(query):
        return f"({_PLACEHOLDER.sub(window, query.strip())})"
    return f"sum(rate({query.strip()}[{window}]))"


def le_pattern(bound: float) -> str:
    """A regular expression matching every spelling of a bucket bound in an ``le`` label.

    Client libraries write the same bound differently: the Python client
    ``1.0`` and ``0.25``, the Go client (and Prometheus 2, which stores labels
    as exposed) ``1`` and ``0.25``, Prometheus 3 normalises to ``1.0``, and
    very small bounds may carry an exponent (``1e-05``). The pattern accepts
    each of them with any number of trailing zeros, so an SLI finds its bucket
    whichever library exposed it. Written without backslashes (``[.]``), so it
    can sit in a PromQL string unescaped.
    """
    value = float(bound)
    if math.isinf(value):
        return "[+]Inf" if value > 0 else "-Inf"
    spellings = {f"{value:g}", _positional(value)}  # repr() adds nothing: 1.0 is 1 with a trailing zero
    return "|".join(sorted(_any_trailing_zeros(text) for text in spellings))


def _positional(value: float) -> str:
    """The bound without an exponent (1e-05 → 0.00001, 1 → 1)."""
    text = format(value, ".12f").rstrip("0")
    return text.rstrip(".")


def _any_trailing_zeros(spelling: str) -> str:
    mantissa, e, exponent = spelling.partition("e")
    whole, dot, fraction = mantissa.partition(".")
    body = f"{whole}[.]{fraction}0*" if dot else f"{whole}([.]0+)?"
    return body + ("e" + exponent.replace("+", "[+]") if e else "")


def _latency_inner(sli: LatencySLI) -> str:
    return sli.selector.strip()[1:-1].strip().rstrip(",") if sli.selector.strip() else ""


def _bucket_selector(sli: LatencySLI) -> str:
    inner = _latency_inner(sli)
    sep = ", " if inner else ""
    return f'{sli.metric}_bucket{{{inner}{sep}le=~"{le_pattern(sli.threshold)}"}}'


def sli_total_expr(spec: SLOSpec, window: str) -> str:
    """PromQL for the rate of all events the SLI counts over ``window``: the weight of each error ratio."""
    sli = spec.sli
    if isinstance(sli, LatencySLI):
        return f"sum(rate({sli.metric}_count{{{_latency_inner(sli)}}}[{window}]))"
    return _rate(sli.total, window)


def sli_error_expr(spec: SLOSpec, window: str) -> str:
    """PromQL for the SLI's error ratio over ``window`` (0 = all good, 1 = all bad).

    Every query is parenthesised, so an expression with a low-precedence
    operator (``A - B``) keeps its meaning inside the ratio. The bad (or good)
    part falls back to ``0 * total`` for label sets it has no series for: a
    counter series exists only after its first increment (no errors since a
    restart, or no successes during a total outage), and the ratio must still
    have a value whenever there is traffic. A latency SLI's bucket and count
    series are created together, so its ratio needs no fallback.
    """
    sli = spec.sli
    total = sli_total_expr(spec, window)
    if isinstance(sli, LatencySLI):
        return f"1 - (sum(rate({_bucket_selector(sli)}[{window}])) / {total})"
    part = _rate(sli.bad if sli.bad is not None else str(sli.good), window)
    share = f"({part} or (0 * {total})) / {total}"
    return share if sli.bad is not None else f"1 - ({share})"


# --------------------------------------------------------------------------- parsing


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(field, f"must be a mapping of keys to values, got {type(value).__name__}")
    return value


def _keys(doc: Mapping[str, Any], field: str, required: Sequence[str], optional: Sequence[str] = ()) -> None:
    allowed = [*required, *optional]
    for key in doc:
        if key not in allowed:
            where = f"{field}.{key}" if field else str(key)
            raise InvalidInput(where, f"unknown key; allowed here: {', '.join(allowed)}")
    for key in required:
        if key not in doc or doc[key] is None:
            raise InvalidInput(f"{field}.{key}" if field else key, "is required")


def _name(value: Any, field: str) -> str:
    text = str(value)
    if not _NAME.match(text):
        raise InvalidInput(field, f"{text!r} is not a valid name; use 1-63 lowercase letters, digits and '-', "
                                  "starting and ending with a letter or digit")
    return text


def _objective(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(field, f"{value!r} is not a number; write the objective as a fraction like 0.999")
    if not 0 < value < 1:
        hint = f" (write {value} % as {value / 100:g})" if 1 < value < 100 else ""
        raise InvalidInput(field, f"{value} is out of range: the objective must be between 0 and 1, exclusive{hint}")
    if value > MAX_OBJECTIVE:
        raise InvalidInput(field, f"{value} has too many nines: at most {MAX_OBJECTIVE} (five nines) is allowed; "
                                  "a smaller budget than that cannot be measured with scraped counters")
    return float(value)


def _window(value: Any, field: str) -> str:
    text = str(value).strip()
    try:
        parse_duration(text, field)
    except InvalidInput:
        raise InvalidInput(field, f"{text!r} is not a window; write a Prometheus duration like 30d, 28d, 4w or 7d") from None
    check_slo_window(text, DEFAULT_WINDOWS, field)  # the policy's windows are the same for every SLO window
    return text


def _query(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "the query is empty; give a counter selector like "
                                  'http_requests_total{job="shop"} or an expression with [{{window}}]')
    if _PLACEHOLDER.search(value):
        if not re.search(r"\[\s*\{\{\s*\.?window\s*\}\}\s*(?::[^\]]*)?\]", value):
            raise InvalidInput(field, "{{window}} may only appear as a range, e.g. rate(x[{{window}}])")
        return value.strip()
    if not _SELECTOR.match(value):
        raise InvalidInput(field, f"{value.strip()!r} is neither a counter selector such as "
                                  'http_requests_total{job="shop", code=~"5.."} nor an expression with '
                                  "[{{window}}] for the kit to fill in")
    return value.strip()


def _ratio(good: Any, bad: Any, total: Any, field: str) -> AvailabilitySLI:
    if good is not None and bad is not None:
        raise InvalidInput(field, "give either good or bad (with total), not both")
    if good is None and bad is None:
        raise InvalidInput(field, "give good or bad (with total)")
    return AvailabilitySLI(
        total=_query(total, f"{field}.total"),
        good=None if good is None else _query(good, f"{field}.good"),
        bad=None if bad is None else _query(bad, f"{field}.bad"),
    )


def _latency(doc: Any, field: str) -> LatencySLI:
    doc = _mapping(doc, field)
    _keys(doc, field, ("metric", "threshold"), ("selector", "buckets"))
    metric = str(doc["metric"])
    if not re.match(r"^[A-Za-z_:][A-Za-z0-9_:]*$", metric) or metric.endswith(("_bucket", "_count", "_sum")):
        raise InvalidInput(f"{field}.metric", f"{metric!r}: give the histogram's base name, e.g. "
                                              "http_request_duration_seconds (without _bucket)")
    selector = str(doc.get("selector") or "")
    if not _LABEL_SET.match(selector):
        raise InvalidInput(f"{field}.selector", f"{selector!r} is not a label matcher set like "
                                                '{job="shop", route="/catalog"}')
    buckets = doc.get("buckets", LATENCY_BUCKETS)
    if not isinstance(buckets, Sequence) or not all(isinstance(b, (int, float)) for b in buckets):
        raise InvalidInput(f"{field}.buckets", "must be a list of bucket edges in seconds")
    threshold = doc["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold not in buckets:
        edges = ", ".join(f"{b:g}" for b in buckets)
        raise InvalidInput(f"{field}.threshold", f"{threshold!r} is not a bucket edge of the histogram; "
                                                 f"choose one of {edges} (seconds)")
    return LatencySLI(metric, selector.strip(), float(threshold))


def _from_kit(doc: Mapping[str, Any]) -> SLOSpec:
    _keys(doc, "", ("name", "service", "objective", "window", "sli"), ("description", "runbook_url"))
    sli_doc = _mapping(doc["sli"], "sli")
    if len(sli_doc) != 1 or next(iter(sli_doc)) not in ("availability", "latency"):
        raise InvalidInput("sli", "must hold exactly one of: availability, latency")
    kind, body = next(iter(sli_doc.items()))
    if kind == "latency":
        sli: AvailabilitySLI | LatencySLI = _latency(body, "sli.latency")
    else:
        body = _mapping(body, "sli.availability")
        _keys(body, "sli.availability", ("total",), ("good", "bad"))
        sli = _ratio(body.get("good"), body.get("bad"), body["total"], "sli.availability")
    return SLOSpec(
        name=_name(doc["name"], "name"), service=_name(doc["service"], "service"),
        objective=_objective(doc["objective"], "objective"), window=_window(doc["window"], "window"),
        sli=sli, description=str(doc.get("description") or ""), runbook_url=str(doc.get("runbook_url") or ""),
    )


def _specs(documents: Sequence[yamldocs.Document]) -> list[SLOSpec]:
    from . import openslo  # it builds on this module's model and field checks

    if openslo.is_openslo(documents):
        return openslo.to_specs(documents)
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; the kit's format is one document per file "
                               "(several SLOs in one file need OpenSLO)", source=documents[0].file)
    document = documents[0]
    with document.located():
        return [replace(_from_kit(_mapping(document.data, "spec")), source=document.where)]


def load_specs(source: str | Path | Mapping[str, Any]) -> list[SLOSpec]:
    """Every SLO in a spec (file path, YAML text or mapping): the kit's format holds one; an OpenSLO v1 file
    (see ``kit.openslo``) gives one per objective of each SLO. InvalidInput names the file, the document and the
    field."""
    return _specs(yamldocs.read(source))


def load_spec(source: str | Path | Mapping[str, Any]) -> SLOSpec:
    """The one SLO of a spec (file path, YAML text or mapping) in the kit's format or as OpenSLO v1.

    Raises InvalidInput naming the file, the document and the field; also when the spec holds several SLOs
    (several OpenSLO objectives or SLO documents), naming them: ``load_specs`` returns them all.
    """
    documents = yamldocs.read(source)
    specs = _specs(documents)
    if len(specs) != 1:
        names = ", ".join(spec.name for spec in specs)
        raise InvalidInput("", f"holds {len(specs)} SLOs ({names}); this needs exactly one: keep one SLO with one "
                               "objective per file (kit.slo.load_specs reads them all)", source=documents[0].file)
    return specs[0]


def validate_queries(spec: SLOSpec, config: Config | None = None) -> list[str]:
    """Ask a running Prometheus to evaluate every query of the SLI and the error ratio composed from them.

    Prometheus's rejection of a query raises InvalidInput naming the field as
    the spec spells it. Returns warnings (one line each) about what parses but
    cannot work: an SLI with no data never pages (a misspelled label, a bucket
    bound the service does not expose), and an error ratio outside 0–1 means
    the queries do not count the same events.
    """
    from .. import prom  # needs httpx and a Prometheus; keep importing this module light

    sli = spec.sli
    if isinstance(sli, LatencySLI):
        parts = {spec.field("total"): sli_total_expr(spec, "5m"),
                 spec.field("threshold"): f"sum(rate({_bucket_selector(sli)}[5m]))"}
    else:
        parts = {spec.field(role): _rate(getattr(sli, role), "5m") for role in ("total", "good", "bad")
                 if getattr(sli, role)}
    values = {}
    for field, expr in [*parts.items(), ("sli", sli_error_expr(spec, "5m"))]:
        try:
            frame = prom.query(expr, config=config)
        except PromQLError as exc:
            raise InvalidInput(field, str(exc), source=spec.source) from None
        values[field] = [float(v) for v in frame["value"]] if len(frame) else []
    warnings = []
    total_field = spec.field("total")
    if not values[total_field]:
        warnings.append(f"{total_field}: no data in Prometheus: until it has some, the SLO measures nothing and "
                        "cannot page; check the metric and label names with `kit query`, or wait for traffic")
    elif isinstance(sli, LatencySLI) and not values[spec.field("threshold")]:
        warnings.append(f"{spec.field('threshold')}: the histogram has data but no bucket with le={sli.threshold:g}: "
                        "the SLO will never page; choose a bound the service exposes")
    outside = [v for v in values["sli"] if not -1e-9 <= v <= 1 + 1e-9]
    if outside:
        warnings.append(f"sli: the error ratio over 5m is {outside[0]:.4g}, outside 0 to 1: the queries do not "
                        "count the same events (is a bad or good query larger than the total?)")
    return warnings


def install(spec: SLOSpec, *, time_scale: float | None = None, name: str | None = None,
            config: Config | None = None) -> SandboxStatus:
    """Install the SLO's rules into the running sandbox at its profile's time scale (unless ``time_scale`` is
    given) and return the sandbox status. ``name`` is the rule file, ``slo-<name>`` by default; each installer
    uses its own (a drill ``drill-slo-<name>``), so removing one never removes another's rules."""
    from .. import sandbox

    config = sandbox.current_config(config)
    profile = config.profile_spec
    rules = generate_rules(spec, time_scale=profile.time_scale if time_scale is None else time_scale,
                           profile=profile)
    return sandbox.install_rules(name or f"slo-{spec.name}", rules, config=config)


# --------------------------------------------------------------------------- budget math


def budget_burndown(error_ratios: Sequence[float], traffic: Sequence[float], objective: float) -> list[float]:
    """Share of the period's error budget consumed after each step (1.0 = all of it).

    Each step's error ratio is weighted by its traffic, because a bad hour at
    peak spends more budget than one at night; the budget is ``1 - objective``
    of all events in the whole period.
    """
    if len(error_ratios) != len(traffic):
        raise InvalidInput("traffic", f"needs one value per error ratio ({len(traffic)} != {len(error_ratios)})")
    allowed = error_budget(objective) * sum(traffic)
    if allowed <= 0:
        raise InvalidInput("traffic", "no events in the period: there is no budget to burn")
    consumed, spent = [], 0.0
    for ratio, weight in zip(error_ratios, traffic):
        spent += ratio * weight
        consumed.append(spent / allowed)
    return consumed


def error_budget(objective: float) -> float:
    """The allowed bad fraction, 1 − objective (rounded so 0.999 gives 0.001, not 0.0010000000000000009)."""
    return round(1.0 - objective, 12)


def budget_minutes(objective: float, window: Duration) -> float:
    """Minutes of total outage the budget allows over ``window`` (99.9 % over 30d: 43.2)."""
    return error_budget(objective) * _seconds(window, "window") / 60


def burn_rate(error_ratio: float, objective: float) -> float:
    """How many times faster than sustainable the budget is spent (1 = exactly used up at the window's end)."""
    return error_ratio / error_budget(objective)


def budget_consumed(error_ratio: float, period: Duration, objective: float, window: Duration) -> float:
    """Fraction of the window's budget spent by ``error_ratio`` sustained for ``period`` (steady traffic assumed)."""
    return burn_rate(error_ratio, objective) * _seconds(period, "period") / _seconds(window, "window")


def budget_remaining(error_ratio: float, period: Duration, objective: float, window: Duration) -> float:
    """1 − consumed; negative when the budget is overspent."""
    return 1.0 - budget_consumed(error_ratio, period, objective, window)


def time_to_exhaustion(rate: float, window: Duration, remaining: float = 1.0) -> float:
    """Seconds until ``remaining`` budget is gone at burn ``rate`` (inf when nothing burns)."""
    if rate <= 0:
        return math.inf
    return max(remaining, 0.0) * _seconds(window, "window") / rate


def budget_after_incident(duration: Duration, error_ratio: float, objective: float, window: Duration,
                          remaining: float = 1.0) -> float:
    """Budget fraction left after an incident of ``duration`` at ``error_ratio``, starting from ``remaining``."""
    return remaining - budget_consumed(error_ratio, duration, objective, window)


# --------------------------------------------------------------------------- burn-rate windows


def burn_factor(budget_spent: float, long: Duration, slo_window: Duration = "30d") -> float:
    """The burn rate that spends ``budget_spent`` of an ``slo_window`` budget within ``long`` (2 % in 1h of 30d: 14.4)."""
    return round(budget_spent * _seconds(slo_window, "slo_window") / _seconds(long, "long"), 9)


@dataclass(frozen=True)
class BurnWindow:
    """One alert of the multi-window set: fire when both windows burn faster than ``factor``."""

    severity: str
    long: str
    short: str
    factor: float

    @classmethod
    def derive(cls, severity: str, long: str, budget_spent: float, slo_window: str = "30d") -> "BurnWindow":
        """The textbook way: factor from the budget share spent in ``long``, short window = long / 12."""
        return cls(severity, long, format_duration(parse_duration(long) / 12),
                   burn_factor(budget_spent, long, slo_window))

    def budget_spent(self, slo_window: Duration = "30d") -> float:
        """Share of the ``slo_window`` budget spent over ``long`` at exactly ``factor`` burn."""
        return self.factor * parse_duration(self.long) / _seconds(slo_window, "slo_window")


@dataclass(frozen=True)
class BudgetShare:
    """An alerting policy's row: alert at ``severity`` when ``spent`` of the SLO's budget burns within ``long``."""

    severity: str
    long: str
    spent: float


BUDGET_POLICY: tuple[BudgetShare, ...] = (
    BudgetShare("page", "1h", 0.02),
    BudgetShare("page", "6h", 0.05),
    BudgetShare("ticket", "1d", 0.10),
    BudgetShare("ticket", "3d", 0.10),
)
"""Page on 2 % of the budget in 1 h or 5 % in 6 h; ticket on 10 % in 1 d or in 3 d (Google SRE workbook, ch. 5)."""


def burn_windows(slo_window: Duration, policy: Sequence[BudgetShare] = BUDGET_POLICY) -> tuple[BurnWindow, ...]:
    """The policy's alert windows for an SLO over ``slo_window``: factor = spent × slo_window / long.

    Over 30 days: 14.4, 6, 3, 1. Over 28 days: 13.44, 5.6, 2.8, 0.933. The
    factors follow the SLO's own window, so every alert pages on the share of
    *its* budget the policy names.
    """
    window = format_duration(_seconds(slo_window, "slo_window"))
    return tuple(BurnWindow.derive(p.severity, p.long, p.spent, window) for p in policy)


DEFAULT_WINDOWS: tuple[BurnWindow, ...] = burn_windows("30d")
"""The policy's windows for a 30-day SLO (14.4×, 6×, 3×, 1×): what the alert-quality lab compares by default."""

def check_slo_window(window: str, windows: Sequence[BurnWindow] = DEFAULT_WINDOWS, field: str = "window",
                     source: str = "") -> None:
    """InvalidInput on ``field`` (named as the input file spells it) unless the SLO window ``window`` holds
    every alert window: the one verdict the spec loader and the rule generator share."""
    longest = max(windows, key=lambda bw: parse_duration(bw.long))
    if parse_duration(window, field) < parse_duration(longest.long):
        raise InvalidInput(field, f"{window} is shorter than the longest alert window ({longest.long}, the "
                                  f"{longest.severity} on slow burns); an SLO window must be at least "
                                  f"{longest.long}: the usual ones are 28d, 30d or 4w", source=source)


# --------------------------------------------------------------------------- rule generation


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.4g} %"


def _record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def _profile(profile: str | Profile) -> Profile:
    from ..config import PROFILES

    if isinstance(profile, str):
        if profile not in PROFILES:
            raise InvalidInput("profile", f"{profile!r} is not a profile; choose one of {', '.join(PROFILES)}")
        return PROFILES[profile]
    return profile


def _scaled(window: str, time_scale: float, profile: Profile) -> str:
    """``window`` compressed ``time_scale``×; InvalidInput when the profile's scrapes cannot fill it."""
    seconds = parse_duration(window) / time_scale
    scrape = parse_duration(profile.scrape_interval)
    if seconds < MIN_SCRAPES_PER_WINDOW * scrape:
        most = parse_duration(window) / (MIN_SCRAPES_PER_WINDOW * scrape)
        raise InvalidInput("time_scale", (
            f"{time_scale:g}× turns the {window} window into {seconds:.3g} s, shorter than {MIN_SCRAPES_PER_WINDOW} "
            f"scrapes at the {profile.name} profile's {profile.scrape_interval} scrape interval: rate() needs two "
            f"samples in its window (four intervals leave room for a missed scrape), so the alerts reading it could "
            f"never fire reliably. With the {profile.name} profile use a time scale of at most {math.floor(most):g}"
            + (" (its own is 1: production timing)" if profile.time_scale == 1 else f" (its own is {profile.time_scale})")))
    return format_duration(seconds)


_VALUE = '{{ printf "%.1f" $value }}'


def _factor_label(factor: float) -> str:
    """A burn factor as people read it: 14.4, 6, 13.44, 0.9333."""
    return f"{factor:.4g}"


def _factor_expr(factor: float) -> str:
    """A burn factor at full precision for the alert expression (0.933333333, not 0.9333)."""
    return f"{factor:.10g}"


def _annotations(spec: SLOSpec, bw: BurnWindow, long: str, short: str, time_scale: float) -> dict[str, str]:
    runway = format_duration(round(spec.window_seconds / bw.factor / 60) * 60)
    threshold = _pct(bw.factor * spec.budget)
    factor = _factor_label(bw.factor)
    summary = (f"{spec.name} ({spec.service}): errors are spending the {spec.window} error budget {_VALUE}× faster "
               f"than it allows; at {factor}× or more the whole budget is gone within {runway}")
    description = (f"The error ratio of SLO {spec.name} (objective {_pct(spec.objective)} over {spec.window}) has been "
                   f"above {threshold} over both the last {long} and the last {short}: {factor}× the rate the "
                   f"budget allows, which spends {_pct(bw.budget_spent(spec.window))} of the budget per {bw.long}. "
                   + ("Act now: follow the runbook." if bw.severity == "page" else
                      "Not an emergency; look at it during working hours."))
    if time_scale != 1:
        summary += f" [time-compressed {time_scale:g}×]"
        description += (f" These rules are time-compressed {time_scale:g}×: the {bw.long}/{bw.short} windows run as "
                        f"{long}/{short}, so everything happens {time_scale:g}× sooner; the math is unchanged.")
    return {"summary": summary, "description": description,
            "runbook_url": spec.runbook_url or f"runbooks/slo-{spec.name}.md"}


def _checked_windows(spec: SLOSpec, windows: Sequence[BurnWindow] | None) -> Sequence[BurnWindow]:
    if windows is None:
        windows = burn_windows(spec.window)
        check_slo_window(spec.window, windows, spec.field("window"), spec.source)
        return windows
    if not windows:
        raise InvalidInput("windows", "give at least one burn window")
    for i, bw in enumerate(windows):
        if bw.severity not in ("page", "ticket"):
            raise InvalidInput(f"windows[{i}].severity", f"{bw.severity!r} must be page or ticket")
        if parse_duration(bw.short) >= parse_duration(bw.long) or bw.factor <= 0:
            raise InvalidInput(f"windows[{i}]", "needs short < long and a positive factor")
    check_slo_window(spec.window, windows, spec.field("window"), spec.source)
    return windows


def generate_rules(spec: SLOSpec, *, time_scale: float = 1, profile: str | Profile = "realistic",
                   windows: Sequence[BurnWindow] | None = None) -> dict:
    """A Prometheus rule file: the SLI error ratio over every window, then one burn alert per window pair.

    ``windows`` defaults to ``burn_windows(spec.window)``: the factors follow
    the SLO's own window. ``time_scale`` divides every window; ``profile``
    (a name or a ``Profile``; default the production-like ``realistic``) is
    the Prometheus the rules are meant for, and InvalidInput(time_scale) says
    when a compressed window would hold fewer than ``MIN_SCRAPES_PER_WINDOW``
    of its scrapes.
    """
    if time_scale <= 0:
        raise InvalidInput("time_scale", f"{time_scale} must be a positive number")
    windows = _checked_windows(spec, windows)
    prof = _profile(profile)
    needed = sorted({w for bw in windows for w in (bw.long, bw.short)}, key=parse_duration)
    labels = {"slo": spec.name, "service": spec.service}
    recordings = [{"record": _record(_scaled(w, time_scale, prof)), "expr": sli_error_expr(spec, _scaled(w, time_scale, prof)),
                   "labels": dict(labels)} for w in needed]
    match = f'{{slo="{spec.name}", service="{spec.service}"}}'
    alerts = []
    for bw in windows:
        long, short = _scaled(bw.long, time_scale, prof), _scaled(bw.short, time_scale, prof)
        factor = _factor_expr(bw.factor)
        expr = (f"(\n  {_record(long)}{match} / {spec.budget!r} > {factor}\nand\n"
                f"  {_record(short)}{match} / {spec.budget!r} > {factor}\n)")
        alerts.append({
            "alert": f"{_camel(spec.name)}ErrorBudgetBurn",
            "expr": expr,
            "labels": {"severity": bw.severity, "long_window": long, "short_window": short,
                       "burn_factor": _factor_label(bw.factor), **labels},
            "annotations": _annotations(spec, bw, long, short, time_scale),
        })
    return {"groups": [{"name": f"slo-{spec.name}-sli", "rules": recordings},
                       {"name": f"slo-{spec.name}-alerts", "rules": alerts}]}


def generate_tests(spec: SLOSpec, *, time_scale: float = 1, profile: str | Profile = "realistic",
                   windows: Sequence[BurnWindow] | None = None, rule_file: str = "rules.yml") -> dict:
    """A ``promtool test rules`` document for ``generate_rules``, starting from raw counter series
    (``kit.slotests`` builds it: scenarios, series and the model of ``rate()``)."""
    from . import promtests as slotests

    return slotests.generate_tests(spec, time_scale=time_scale, profile=profile, windows=windows, rule_file=rule_file)


def test_rules(spec: SLOSpec, *, time_scale: float = 1, profile: str | Profile = "realistic",
               windows: Sequence[BurnWindow] | None = None) -> PromtoolResult:
    """Generate the rules and their unit tests and run ``promtool test rules`` on them."""
    from . import promtests as slotests

    return slotests.test_rules(spec, time_scale=time_scale, profile=profile, windows=windows)


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name


# --------------------------------------------------------------------------- alert quality


@dataclass(frozen=True)
class Strategy:
    """An alerting rule set, simulated: it fires while any condition holds; a condition holds when the
    mean error ratio over each of its windows (seconds) exceeds its threshold."""

    name: str
    conditions: tuple[tuple[tuple[float, ...], float], ...]


def threshold_strategy(objective: float, window: Duration = "5m", threshold: float | None = None) -> Strategy:
    """The naive alert: error ratio over ``window`` above ``threshold`` (default: the budget itself)."""
    limit = error_budget(objective) if threshold is None else threshold
    return Strategy(f"error ratio > {_pct(limit)} over {format_duration(_seconds(window, 'window'))}",
                    (((_seconds(window, "window"),), limit),))


def burn_rate_strategy(objective: float, window: Duration = "1h", factor: float = 14.4) -> Strategy:
    """One window, one burn rate: no short window to make it reset quickly."""
    seconds = _seconds(window, "window")
    return Strategy(f"burn > {factor:g}× over {format_duration(seconds)}",
                    (((seconds,), factor * error_budget(objective)),))


def multiwindow_strategy(objective: float, windows: Sequence[BurnWindow] | None = None,
                         severity: str | None = "page", *, slo_window: Duration = "30d") -> Strategy:
    """The generated rule set (its ``severity`` alerts, or all when None); ``windows`` defaults to the policy's
    windows for ``slo_window``."""
    windows = burn_windows(slo_window) if windows is None else windows
    chosen = [bw for bw in windows if severity is None or bw.severity == severity]
    if not chosen:
        raise InvalidInput("severity", f"no {severity} windows in the table")
    pairs = ", ".join(f"{_factor_label(bw.factor)}×/{bw.long}+{bw.short}" for bw in chosen)
    return Strategy(f"multi-window multi-burn-rate ({pairs})",
                    tuple(((parse_duration(bw.long), parse_duration(bw.short)), bw.factor * error_budget(objective))
                          for bw in chosen))


@dataclass(frozen=True)
class Scenario:
    """Error ratio ``ratio(t)`` for ``0 ≤ t < duration`` seconds, a clean service before and after."""

    name: str
    duration: float
    ratio: Callable[[float], float]


def _constant(level: float) -> Callable[[float], float]:
    return lambda t: level


def default_scenarios(objective: float) -> tuple[Scenario, ...]:
    """Total outage (1 h), 10× burn (6 h), 2× slow burn (3 d), and a 30 s total spike (too small to page)."""
    budget = error_budget(objective)
    return (
        Scenario("total outage for 1h", 3600, _constant(1.0)),
        Scenario("10× burn for 6h", 6 * 3600, _constant(10 * budget)),
        Scenario("2× slow burn for 3d", 3 * 86400, _constant(2 * budget)),
        Scenario("100 % errors for 30s", 30, _constant(1.0)),
    )


@dataclass(frozen=True)
class Outcome:
    """One strategy against one scenario, in seconds since the scenario started (reset: since it ended)."""

    fired: bool
    detection: float | None
    reset: float | None


def _timeline(scenario: Scenario, before: float, after: float, step: float) -> tuple[Any, Any]:
    import numpy as np

    n_before, n_after = int(math.ceil(before / step)), int(math.ceil(after / step))
    n_during = int(math.ceil(scenario.duration / step))
    during = np.array([scenario.ratio(i * step) for i in range(n_during)], dtype=float)
    errors = np.concatenate([np.zeros(n_before), during, np.zeros(n_after)])
    times = (np.arange(len(errors) + 1) - n_before) * step  # evaluation instants; errors[i] spans [t_i, t_i+1)
    return times, np.concatenate([[0.0], np.cumsum(errors)])


def _window_mean(cum: Any, index: Any, window: float, step: float) -> Any:
    import numpy as np

    span = int(round(window / step))
    lo = np.clip(index - span, 0, None)
    return (cum[index] - cum[lo]) / span


def simulate(strategy: Strategy, scenario: Scenario, *, step: float = 1.0) -> Outcome:
    """Evaluate ``strategy`` every ``step`` seconds, as Prometheus would, against ``scenario``."""
    import numpy as np

    longest = max(w for windows, _ in strategy.conditions for w in windows)
    times, cum = _timeline(scenario, longest, longest + step, step)
    index = np.arange(len(times))
    firing = np.zeros(len(times), dtype=bool)
    for windows, threshold in strategy.conditions:
        holds = np.ones(len(times), dtype=bool)
        for window in windows:
            holds &= _window_mean(cum, index, window, step) > threshold
        firing |= holds
    if not firing.any():
        return Outcome(False, None, None)
    first = int(np.argmax(firing))
    end = int(np.searchsorted(times, scenario.duration))
    after = np.nonzero(~firing[end:])[0]
    return Outcome(True, float(times[first]), float(after[0] * step) if len(after) else None)


def should_page(scenario: Scenario, objective: float, *, windows: Sequence[BurnWindow] | None = None,
                slo_window: Duration = "30d", step: float = 1.0) -> bool:
    """Ground truth: the scenario spends, within some page window's long window, at least the budget share that
    window pages on (defaults: ≥ 2 % of a 30-day budget within 1 h, or ≥ 5 % within 6 h)."""
    import numpy as np

    windows = burn_windows(slo_window) if windows is None else windows
    pages = [bw for bw in windows if bw.severity == "page"]
    longest = max(parse_duration(bw.long) for bw in pages)
    times, cum = _timeline(scenario, longest, longest, step)
    index = np.arange(len(times))
    total = error_budget(objective) * _seconds(slo_window, "slo_window")
    for bw in pages:
        long = parse_duration(bw.long)
        spent = _window_mean(cum, index, long, step) * long / total
        if spent.max() >= bw.budget_spent(slo_window) - 1e-12:
            return True
    return False


@dataclass(frozen=True)
class AlertQuality:
    """``table``: one row per strategy × scenario; ``scores``: precision and recall per strategy."""

    table: Any
    scores: Any


def alert_quality(objective: float = 0.999, strategies: Sequence[Strategy] | None = None,
                  scenarios: Sequence[Scenario] | None = None, *, step: float = 1.0,
                  slo_window: Duration = "30d") -> AlertQuality:
    """Compare strategies on scenarios: detection time, reset time, and precision/recall against ``should_page``
    (for an SLO over ``slo_window``: its factors and budget)."""
    import pandas as pd

    strategies = strategies or (threshold_strategy(objective), burn_rate_strategy(objective),
                                multiwindow_strategy(objective, slo_window=slo_window))
    scenarios = scenarios or default_scenarios(objective)
    truth = {s.name: should_page(s, objective, slo_window=slo_window, step=step) for s in scenarios}
    rows = []
    for strategy in strategies:
        for scenario in scenarios:
            outcome = simulate(strategy, scenario, step=step)
            rows.append({"strategy": strategy.name, "scenario": scenario.name, "should_page": truth[scenario.name],
                         "fired": outcome.fired, "detection_s": outcome.detection, "reset_s": outcome.reset})
    table = pd.DataFrame(rows)
    scores = []
    for name, group in table.groupby("strategy", sort=False):
        tp = int((group.fired & group.should_page).sum())
        fp = int((group.fired & ~group.should_page).sum())
        fn = int((~group.fired & group.should_page).sum())
        scores.append({"strategy": name, "precision": tp / (tp + fp) if tp + fp else math.nan,
                       "recall": tp / (tp + fn) if tp + fn else math.nan})
    return AlertQuality(table, pd.DataFrame(scores))


# --------------------------------------------------------------------------- budget over history


@dataclass(frozen=True)
class BudgetReport:
    """An SLO's budget over a period of recorded data: per-step error ratio, traffic and budget consumed."""

    spec: SLOSpec
    frame: Any  # pandas DataFrame: timestamp, error_ratio, traffic, consumed, remaining
    step: str

    @property
    def availability(self) -> float:
        """1 − the traffic-weighted error ratio over the whole period."""
        weights = self.frame["traffic"].sum()
        return 1 - float((self.frame["error_ratio"] * self.frame["traffic"]).sum() / weights)

    @property
    def consumed(self) -> float:
        return float(self.frame["consumed"].iloc[-1])

    def spent_between(self, start: Any, end: Any) -> float:
        """Share of the budget spent by the steps that overlap [start, end] (e.g. one incident)."""
        import pandas as pd

        start, end = pd.Timestamp(start), pd.Timestamp(end)
        step = pd.Timedelta(seconds=_seconds(self.step, "step"))
        spent = self.frame["consumed"].diff().fillna(self.frame["consumed"])
        # a row's timestamp closes the step it covers: (timestamp - step, timestamp]
        overlaps = (self.frame["timestamp"] > start) & (self.frame["timestamp"] - step < end)
        return float(spent[overlaps].sum())

    def worst(self, n: int = 5) -> Any:
        """The ``n`` steps that spent the most budget: where the incidents are."""
        spent = self.frame["consumed"].diff().fillna(self.frame["consumed"])
        return self.frame.assign(spent=spent).nlargest(n, "spent")[["timestamp", "error_ratio", "spent"]]

    def __str__(self) -> str:
        lines = [f"{self.spec.name}: objective {self.spec.objective:.3%}, "
                 f"{self.frame['timestamp'].iloc[0]:%Y-%m-%d %H:%M} to {self.frame['timestamp'].iloc[-1]:%Y-%m-%d %H:%M} UTC",
                 f"  availability {self.availability:.4%}; budget consumed {self.consumed:.1%}, "
                 f"remaining {1 - self.consumed:.1%}",
                 f"  steps ({self.step}) that spent the most budget:"]
        for row in self.worst().itertuples():
            lines.append(f"    {row.timestamp:%Y-%m-%d %H:%M}  error ratio {row.error_ratio:.2%}  spent {row.spent:.1%}")
        return "\n".join(lines)


def budget_report(spec: SLOSpec, *, days: float | None = None, step: str = "1h", end: Any = "now",
                  config: Config | None = None) -> BudgetReport:
    """The SLO's error budget over the last ``days`` (default: its whole window) of data in Prometheus."""
    import time as _time

    from .. import prom

    seconds = days * 86400 if days is not None else spec.window_seconds
    step_s = _seconds(step, "step")
    if seconds <= 0 or seconds < 2 * step_s:
        raise InvalidInput("days", f"the period must hold at least two steps of {step}")
    end_s = _time.time() if end == "now" else float(end)
    start_s = end_s - seconds + step_s
    ratios = prom.query_range(sli_error_expr(spec, step), start_s, end_s, step, config=config)
    traffic = prom.query_range(sli_total_expr(spec, step), start_s, end_s, step, config=config)
    frame = ratios[["timestamp", "value"]].rename(columns={"value": "error_ratio"}).merge(
        traffic[["timestamp", "value"]].rename(columns={"value": "traffic"}), on="timestamp")
    frame = frame.dropna()
    if frame.empty:
        raise InvalidInput("spec", f"Prometheus has no data for {spec.name} in that period; load history with "
                                   "`kit history load` or let the sandbox run")
    frame["consumed"] = budget_burndown(list(frame["error_ratio"]), list(frame["traffic"]), spec.objective)
    frame["remaining"] = 1 - frame["consumed"]
    return BudgetReport(spec, frame.reset_index(drop=True), step)
