"""promtool unit tests for generated SLO rules, starting from the raw counters the SLI reads.

A test that feeds recorded error ratios straight into the alerts cannot see a
broken recording rule. These tests write the counter series a service would
expose, at the profile's scrape interval, and let promtool run every rule:
the ``rate()`` windows, the ratio composed from the spec's queries, and the
alerts on top. Three scenarios:

- steady traffic with no error yet: the failing series has not been created
  (a counter series exists only after its first increment), and every error
  ratio must still read exactly 0, with no alert;
- a total outage after steady traffic: the failing series appears part-way,
  and each alert fires at the evaluation the model of Prometheus predicts;
- a total outage right after a restart: the succeeding series never appears,
  every ratio reads exactly 1, and every alert that 100 % errors can trip fires.

The predictions come from a model of Prometheus 2's ``rate()`` (its
extrapolation to the window's edges included), evaluated on the same samples.
An evaluation where a prediction sits within rounding of a threshold is not
asserted, since the model and Prometheus may round differently there.

Series can be made for queries that are counter selectors or
``sum(rate(selector[{{window}}]))``, and for latency SLIs. Other expressions
have no counter model; their tests feed recorded ratios to the alerts and
their names say so.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..config import Profile
from ..promfiles import PromtoolResult, promtool
from ..timescale import format_duration, parse_duration
from .burnrate import BurnWindow
from .rules import ALERT_VALUE, validated_windows, generate_rules, record_name, resolve_profile, scaled_window
from .spec import LatencySLI, SLOSpec

__all__ = ["generate_tests", "test_rules", "prometheus_rate"]

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_SELECTOR = re.compile(r'^\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*$', re.S)
_SUM_RATE = re.compile(r"^\s*sum\s*\(\s*rate\s*\(\s*(.+?)\s*\[\s*\{\{\s*\.?window\s*\}\}\s*\]\s*\)\s*\)\s*$", re.S)
_EVENT_KINDS = ("good", "bad")
_TIE = 1e-9
_MAX_WARM_UP = 241
_MAX_OUTAGE = 300  # scrapes; the restart scenario shows every reachable alert firing in any case


# --------------------------------------------------------------------------- Prometheus rate()


class _Counter:
    """A counter's samples (ms, value), sorted, with resets folded in so any window's increase is one subtraction."""

    def __init__(self, samples: Sequence[tuple[int, float]]) -> None:
        self.times = [t for t, _ in samples]
        self.values = [v for _, v in samples]
        self.adjusted, carried, last = [], 0.0, 0.0
        for value in self.values:
            if value < last:
                carried += last  # Prometheus adds the value before a reset to the increase
            self.adjusted.append(value + carried)
            last = value

    def rate(self, at_ms: int, window_ms: int) -> float | None:
        lo = bisect.bisect_left(self.times, at_ms - window_ms)
        hi = bisect.bisect_right(self.times, at_ms) - 1
        if hi - lo < 1:
            return None
        first_t, last_t, first_v = self.times[lo], self.times[hi], self.values[lo]
        result = self.adjusted[hi] - self.adjusted[lo]
        to_start = (first_t - (at_ms - window_ms)) / 1000
        to_end = (at_ms - last_t) / 1000
        sampled = (last_t - first_t) / 1000
        average = sampled / (hi - lo)
        if result > 0 and first_v >= 0:
            to_start = min(to_start, sampled * (first_v / result))
        threshold = average * 1.1
        interval = sampled + (to_start if to_start < threshold else average / 2)
        interval += to_end if to_end < threshold else average / 2
        return result * (interval / sampled) / (window_ms / 1000)


def prometheus_rate(samples: Sequence[tuple[int, float]], at_ms: int, window_ms: int) -> float | None:
    """``rate()`` over ``window_ms`` ending ``at_ms`` as Prometheus 2 computes it (``extrapolatedRate`` in
    promql/functions.go): samples in [at − window, at], counter resets, extrapolation towards the window's
    edges (at most to where the counter would reach zero). Times in ms, samples sorted; None with < 2 samples."""
    return _Counter(samples).rate(at_ms, window_ms)


# --------------------------------------------------------------------------- series the SLI reads


@dataclass(frozen=True)
class _Query:
    """A counter selector of the SLI, its role in the ratio (total, good or bad) and the events it counts."""

    role: str
    metric: str
    matchers: tuple[tuple[str, str, str], ...]

    @property
    def counts(self) -> frozenset[str]:
        return frozenset(_EVENT_KINDS) if self.role == "total" else frozenset({self.role})

    def matches(self, series: "_Series") -> bool:
        return series.metric == self.metric and _satisfies(dict(series.labels), self.matchers)


@dataclass(frozen=True)
class _Series:
    """One raw counter series: its label set and the kinds of events that increment it."""

    metric: str
    labels: tuple[tuple[str, str], ...]
    counts: frozenset[str]
    appears_with: frozenset[str]  # events that create it: its own, or any for a histogram's buckets

    def text(self) -> str:
        inner = ", ".join(f'{k}="{v}"' for k, v in self.labels if v != "")
        return f"{self.metric}{{{inner}}}"


def _parse_selector(query: str) -> tuple[str, tuple[tuple[str, str, str], ...]] | None:
    summed = _SUM_RATE.match(query)
    match = _SELECTOR.match(summed.group(1) if summed else query)
    if not match or ("{{" in query and not summed):
        return None
    body = (match.group(2) or "").strip().rstrip(",")
    matchers = []
    for part in filter(str.strip, _split_matchers(body)):
        found = _MATCHER.fullmatch(part)
        if not found:
            return None
        matchers.append((found.group(1), found.group(2), bytes(found.group(3), "utf-8").decode("unicode_escape")))
    return match.group(1), tuple(matchers)


def _split_matchers(body: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for char in body:
        if char == "," and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    return [*parts, current]


def _queries(spec: SLOSpec) -> list[_Query] | None:
    sli = spec.sli
    if isinstance(sli, LatencySLI):
        parsed = _parse_selector(sli.metric + (sli.selector or ""))
        if parsed is None:
            return None
        _, matchers = parsed
        le = (("le", "=", f"{sli.threshold:g}"),)  # the Go client's spelling: the rules must match it too
        return [_Query("good", f"{sli.metric}_bucket", matchers + le), _Query("total", f"{sli.metric}_count", matchers)]
    out = []
    for role in ("total", "good", "bad"):
        query = getattr(sli, role)
        if query is None:
            continue
        parsed = _parse_selector(query)
        if parsed is None:
            return None
        out.append(_Query(role, *parsed))
    return out


def _satisfies(labels: dict[str, str], matchers: Sequence[tuple[str, str, str]]) -> bool:
    for name, op, value in matchers:
        have = labels.get(name, "")
        hit = have == value if op in ("=", "!=") else re.fullmatch(value, have) is not None
        if hit != (op in ("=", "=~")):
            return False
    return True


def _examples(pattern: str) -> list[str]:
    """Strings that may match a label regex: its alternatives with wildcards and classes filled in."""
    out = []
    for branch in pattern.strip("()^$").split("|"):
        text = re.sub(r"\[\^?(.)[^\]]*\]", r"\1", branch.strip("()"))
        text = text.replace("\\d", "0").replace("\\w", "a").replace(".*", "").replace(".+", "0").replace(".", "0")
        out.append(re.sub(r"[?*+{}()\\]", "", text))
    return out


def _candidates(name: str, queries: Sequence[_Query]) -> list[str]:
    values = []
    for query in queries:
        for label, op, value in query.matchers:
            if label == name:
                values += _examples(value) if op in ("=~", "!~") else [value]
    values += ["500", "200", "other", "x", ""]
    return list(dict.fromkeys(values))


def _series(queries: Sequence[_Query]) -> list[_Series] | None:
    """A label set per metric and event kind that every query counts exactly when it should; None if the
    matchers defeat the search (the caller then falls back to recorded ratios)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], set[str]] = {}
    for metric in dict.fromkeys(q.metric for q in queries):
        on_metric = [q for q in queries if q.metric == metric]
        names = sorted({label for q in on_metric for label, _, _ in q.matchers})
        for kind in _EVENT_KINDS:
            wanted = [q for q in on_metric if kind in q.counts]
            if not wanted:
                continue
            unwanted = [q for q in on_metric if kind not in q.counts]
            for values in itertools.product(*(_candidates(n, on_metric) for n in names)):
                labels = dict(zip(names, values))
                if all(_satisfies(labels, q.matchers) for q in wanted) and \
                        not any(_satisfies(labels, q.matchers) for q in unwanted):
                    out.setdefault((metric, tuple(sorted(labels.items()))), set()).add(kind)
                    break
            else:
                return None
    return [_Series(metric, labels, frozenset(kinds), frozenset(kinds)) for (metric, labels), kinds in out.items()]


# --------------------------------------------------------------------------- scenarios and predictions


@dataclass(frozen=True)
class _Scenario:
    name: str
    events: Callable[[int], str]  # step → the kind of this step's events
    steps: int


def _values(series: _Series, scenario: _Scenario) -> list[float | None]:
    """The counter at every scrape: absent until its first increment, then the events it counted so far."""
    count, exists, out = 0, False, []
    for step in range(scenario.steps + 1):
        kind = scenario.events(step)
        count += kind in series.counts
        exists = exists or kind in series.appears_with
        out.append(float(count) if exists else None)
    return out


def _ratio(spec: SLOSpec, queries: Sequence[_Query], counters: dict[_Series, _Counter], at_ms: int,
           window_ms: int) -> float | None:
    """The recorded error ratio as the generated rule computes it (``sli_error_expr``), from modelled rates."""
    def value(role: str) -> float | None:
        rates = [counter.rate(at_ms, window_ms) for series, counter in counters.items()
                 if any(q.role == role and q.matches(series) for q in queries)]
        present = [r for r in rates if r is not None]
        return sum(present) if present else None

    total = value("total")
    if total is None:
        return None
    if isinstance(spec.sli, LatencySLI):
        good = value("good")
        return None if good is None else 1 - _divide(good, total)
    role = "bad" if spec.sli.bad is not None else "good"
    part = value(role)
    share = _divide(0 * total if part is None else part, total)
    return share if role == "bad" else 1 - share


def _divide(a: float, b: float) -> float:
    return a / b if b else math.nan


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= _TIE * max(1.0, abs(target))


def _scenarios(warm_up: int, outage: int) -> tuple[_Scenario, ...]:
    return (
        _Scenario("steady traffic, no error yet: the failing series does not exist, every ratio reads 0, no alert",
                  lambda step: "good", 3),
        _Scenario(f"total outage after {warm_up} scrapes of steady traffic: the failing series appears part-way, "
                  "each alert fires when the rates say", lambda step: "good" if step < warm_up else "bad",
                  warm_up + outage),
        _Scenario("total outage right after a restart: the succeeding series never appears, every ratio reads 1, "
                  "every alert that 100 % errors can trip fires", lambda step: "bad", 3),
    )


def _encode(values: Sequence[float | None]) -> str:
    """Sample values in promtool's expanding notation: ``_x3`` for missing scrapes, ``a+bxn`` for straight runs."""
    tokens, i = [], 0
    while i < len(values):
        j = i
        if values[i] is None:
            while j + 1 < len(values) and values[j + 1] is None:
                j += 1
            tokens.append(f"_x{j - i + 1}" if j > i else "_")
        else:
            step = values[i + 1] - values[i] if i + 1 < len(values) and values[i + 1] is not None else 0.0
            while j + 1 < len(values) and values[j + 1] is not None and values[j + 1] - values[j] == step:
                j += 1
            start = f"{values[i]:g}"
            tokens.append(start if j == i else f"{start}+{step:g}x{j - i}" if step else f"{start}x{j - i}")
        i = j + 1
    return " ".join(tokens)


def _raw_tests(spec: SLOSpec, rules: dict, windows: Sequence[BurnWindow], time_scale: float, profile: Profile,
               series: Sequence[_Series], queries: Sequence[_Query]) -> list[dict]:
    alerts = rules["groups"][1]["rules"]
    scrape_ms = round(parse_duration(profile.scrape_interval) * 1000)
    eval_ms = round(parse_duration(profile.evaluation_interval) * 1000)
    scaled = [(round(parse_duration(scaled_window(bw.long, time_scale, profile)) * 1000),
               round(parse_duration(scaled_window(bw.short, time_scale, profile)) * 1000)) for bw in windows]
    budget = spec.budget
    # steady traffic fills the fastest alert's long window before the outage (so that alert fires at its
    # production timing) unless that takes more than _MAX_WARM_UP scrapes, which promtool would spend tens of
    # seconds evaluating; the outage runs a little past the time the slowest reachable alert needs, or
    # _MAX_OUTAGE scrapes
    warm_up = min(math.ceil(min(long for long, _ in scaled) / scrape_ms) + 1, _MAX_WARM_UP)
    reachable = [bw.factor * budget * long for bw, (long, _) in zip(windows, scaled) if bw.factor * budget < 1]
    outage = min(math.ceil(max(reachable, default=0) / scrape_ms) + 3, _MAX_OUTAGE)
    labels = f'slo="{spec.name}", service="{spec.service}"'
    records = sorted({(w, record_name(format_duration(w / 1000))) for pair in scaled for w in pair})
    tests = []
    for scenario in _scenarios(warm_up, outage):
        values = {s: _values(s, scenario) for s in series}
        counters = {s: _Counter([(i * scrape_ms, v) for i, v in enumerate(vals) if v is not None])
                    for s, vals in values.items()}
        end = scenario.steps * scrape_ms
        first = (warm_up - 1) * scrape_ms if scenario.steps > warm_up else 0
        times = list(range(first - first % eval_ms, end + 1, eval_ms))

        def state(at: int) -> tuple[tuple[str, ...], list[dict]] | None:
            """Which alerts fire at ``at`` and what promtool must see; None when a prediction is within
            rounding of a threshold or of a displayed digit."""
            firing, expected = [], []
            for bw, (long, short), rule in zip(windows, scaled, alerts):
                ratios = [_ratio(spec, queries, counters, at, w) for w in (long, short)]
                if any(r is not None and _near(r / budget, bw.factor) for r in ratios):
                    return None
                if all(r is not None and r / budget > bw.factor for r in ratios):
                    shown = ratios[0] / budget
                    if _near((shown * 10) % 1, 0.5):
                        return None
                    firing.append(rule["labels"]["burn_factor"])
                    expected.append({"exp_labels": dict(rule["labels"]),
                                     "exp_annotations": {k: t.replace(ALERT_VALUE, f"{shown:.1f}")
                                                         for k, t in rule["annotations"].items()}})
            return tuple(firing), expected

        states = {at: state(at) for at in times}
        checks, before, previous = {times[0], times[-1]}, None, None
        for at in times:
            now = states[at]
            if now is not None:
                if before is not None and now[0] != before:
                    checks |= {at} | ({previous} if previous is not None and states[previous] else set())
                before = now[0]
            previous = at
        test = {
            "name": scenario.name,
            "interval": profile.scrape_interval,
            "input_series": [{"series": s.text(), "values": _encode(vals)} for s, vals in values.items()],
            "alert_rule_test": [{"eval_time": format_duration(at / 1000) if at else "0s",
                                 "alertname": alerts[0]["alert"], "exp_alerts": states[at][1]}
                                for at in sorted(checks) if states[at] is not None],
        }
        want = {"steady": 0.0, "total outage right": 1.0}
        for prefix, value in want.items():
            if scenario.name.startswith(prefix):
                got = [_ratio(spec, queries, counters, end, w) for w, _ in records]
                if any(g != value for g in got):
                    raise AssertionError(f"the model of {scenario.name!r} gives {got}, not {value}")
                test["promql_expr_test"] = [{"expr": f"{r}{{{labels}}}", "eval_time": format_duration(end / 1000),
                                             "exp_samples": [{"labels": f"{r}{{{labels}}}", "value": value}]}
                                            for _, r in records]
        tests.append(test)
    return tests


def _alert_steps(bw: BurnWindow, long: float, short: float, step: float, budget: float) -> int | None:
    if bw.factor * budget >= 1:
        return None
    k = 0
    while not (_outage_ratio(k, step, long) / budget > bw.factor and _outage_ratio(k, step, short) / budget > bw.factor):
        k += 1
    return k


def _outage_ratio(k: int, step: float, window: float) -> float:
    return min(1.0, k * step / window)


def _ratio_tests(spec: SLOSpec, rules: dict, windows: Sequence[BurnWindow], time_scale: float,
                 profile: Profile) -> list[dict]:
    """Alert tests fed with recorded ratios, for SLIs whose expressions have no counter model: a total outage
    from t=0 makes each ratio elapsed/window, capped at 1."""
    alerts = rules["groups"][1]["rules"]
    scaled = [(bw, scaled_window(bw.long, time_scale, profile), scaled_window(bw.short, time_scale, profile))
              for bw in windows]
    step = min(parse_duration(s) for _, _, s in scaled) / 5
    budget = spec.budget
    fire_at = [_alert_steps(bw, parse_duration(lo), parse_duration(sh), step, budget) for bw, lo, sh in scaled]
    reachable = [k for k in fire_at if k is not None]
    last = max(reachable, default=0) + 1
    series_windows = sorted({w for _, lo, sh in scaled for w in (lo, sh)}, key=parse_duration)
    labels = f'slo="{spec.name}", service="{spec.service}"'

    def series(values: Callable[[int, float], float]) -> list[dict]:
        return [{"series": f"{record_name(w)}{{{labels}}}",
                 "values": " ".join(repr(values(k, parse_duration(w))) for k in range(last + 1))}
                for w in series_windows]

    def expected(k: int) -> list[dict]:
        out = []
        for (_, lo, _), rule, first in zip(scaled, alerts, fire_at):
            if first is not None and first <= k:
                value = f"{_outage_ratio(k, step, parse_duration(lo)) / budget:.1f}"
                out.append({"exp_labels": dict(rule["labels"]),
                            "exp_annotations": {key: text.replace(ALERT_VALUE, value)
                                                for key, text in rule["annotations"].items()}})
        return out

    interval = format_duration(step)
    times = sorted({k for f in reachable for k in (f - 1, f) if k >= 0} | {last})
    name = alerts[0]["alert"]
    return [
        {"name": "recorded ratios (the SLI's expressions have no counter model), steady state: no alert",
         "interval": interval, "input_series": series(lambda k, w: 0.0),
         "alert_rule_test": [{"eval_time": format_duration(k * step) if k else "0s", "alertname": name,
                              "exp_alerts": []} for k in times]},
        {"name": "recorded ratios (the SLI's expressions have no counter model), total outage from t=0",
         "interval": interval, "input_series": series(lambda k, w: _outage_ratio(k, step, w)),
         "alert_rule_test": [{"eval_time": format_duration(k * step) if k else "0s", "alertname": name,
                              "exp_alerts": expected(k)} for k in times]},
    ]


def generate_tests(spec: SLOSpec, *, time_scale: float = 1, profile: str | Profile = "realistic",
                   windows: Sequence[BurnWindow] | None = None, rule_file: str = "rules.yml") -> dict:
    """A ``promtool test rules`` document for ``generate_rules`` with the same arguments (see the module's
    docstring for the scenarios); series at the profile's scrape interval, rules at its evaluation interval."""
    prof = resolve_profile(profile)
    windows = validated_windows(spec, windows)
    rules = generate_rules(spec, time_scale=time_scale, profile=prof, windows=windows)
    queries = _queries(spec)
    series = None if queries is None else _series(queries)
    if series is not None and isinstance(spec.sli, LatencySLI):
        series = [replace(s, appears_with=frozenset(_EVENT_KINDS)) for s in series]
    if series is None:
        tests = _ratio_tests(spec, rules, windows, time_scale, prof)
        interval = tests[0]["interval"]
    else:
        tests = _raw_tests(spec, rules, windows, time_scale, prof, series, queries)
        interval = prof.evaluation_interval
    return {"rule_files": [rule_file], "evaluation_interval": interval,
            "group_eval_order": [group["name"] for group in rules["groups"]], "tests": tests}


def test_rules(spec: SLOSpec, *, time_scale: float = 1, profile: str | Profile = "realistic",
               windows: Sequence[BurnWindow] | None = None) -> PromtoolResult:
    """Generate the rules and their unit tests and run ``promtool test rules`` on them."""
    rules = generate_rules(spec, time_scale=time_scale, profile=profile, windows=windows)
    tests = generate_tests(spec, time_scale=time_scale, profile=profile, windows=windows, rule_file="rules.yml")
    return promtool(["test", "rules", "tests.yml"], {"rules.yml": rules, "tests.yml": tests})


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name
