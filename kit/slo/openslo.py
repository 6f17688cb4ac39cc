"""OpenSLO v1 documents read into the kit's SLO model (``kit.slo.spec.SLOSpec``).

A file may hold every kind the OpenSLO v1 specification defines (SLO, SLI,
DataSource, Service, AlertPolicy, AlertCondition, AlertNotificationTarget), in
several YAML documents or as one YAML list. An SLO's indicator is inline or
named by ``indicatorRef`` (an SLI in the same file); a metric source is inline
(``type: Prometheus``) or named by ``metricSourceRef`` (a DataSource in the same
file; its ``connectionDetails`` do not matter, since the rules run in whichever
Prometheus loads them). Each objective of an SLO becomes one ``SLOSpec``.
Service, AlertPolicy, AlertCondition and AlertNotificationTarget objects are
checked for shape only: the kit's rules do not use them.

What maps to Prometheus rules, and how:

- ``ratioMetric`` good/total or bad/total: a counter selector (rated by the
  kit) or an expression with ``[{{window}}]``. With ``counter: false`` (a gauge)
  the samples over the window are summed: ``sum(sum_over_time((q)[w:]))``.
  ``counter`` left out means a counter.
- ``ratioMetric`` raw with ``rawType`` success/failure: the mean of the stored
  ratio's samples over the window.
- ``thresholdMetric`` with one objective's ``op`` and ``value``: every sample
  of the query is an occurrence; the error ratio is the share of samples over
  the window that miss ``op value``, sampled at the rule evaluation interval
  (a subquery ``[w:]``).
- ``timeWindow`` rolling (``isRolling: true``, or left out without a
  calendar); duration shorthand ``M``, ``Q`` and ``Y`` count as 30, 90 and 365
  days, as the OpenSLO Go SDK does.
- ``budgetingMethod: Occurrences`` (the default when left out).

Everything else the specification defines is refused in one line naming the
field, ``not supported: FIELD (why)``: calendar-aligned windows (a Prometheus
range is always rolling), Timeslices and RatioTimeslices budgeting (the
slice would have to sit inside the SLI query, where the kit's time compression
cannot reach it, so compressed rules would judge 1-minute slices over 5-second
windows), composite objectives, and alert policies (the kit generates its own
multi-window multi-burn-rate alerts). A field the specification does not define
is an unknown key. Every error names the field as the file spells it
(``spec.timeWindow[0].duration``) and the file, with the document number in a
multi-document file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as _field
from typing import Any

from ..errors import InvalidInput
from ..timescale import parse_duration
from ..yamldocs import Document
from .spec import (WINDOW_PLACEHOLDER, AvailabilitySLI, SLOSpec, parse_mapping, parse_name, parse_objective,
                   parse_query, parse_ratio, parse_window)

__all__ = ["API_VERSION", "KINDS", "is_openslo", "to_specs", "window"]

API_VERSION = "openslo/v1"
KINDS = ("SLO", "SLI", "DataSource", "Service", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")
BUDGETING_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
OPERATORS = ("lt", "lte", "gt", "gte")
_MISSES = {"lt": ">=", "lte": ">", "gt": "<=", "gte": "<"}  # per op, the PromQL comparison that makes a sample bad

# The fields the specification defines, per place; anything else is an unknown key.
_OBJECT = ("apiVersion", "kind", "metadata", "spec")
_METADATA = ("name", "displayName", "labels", "annotations")
_SLO = ("description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives",
        "alertPolicies")
_SLI = ("description", "thresholdMetric", "ratioMetric")
_RATIO = ("counter", "good", "bad", "total", "rawType", "raw")
_METRIC_SOURCE = ("metricSourceRef", "type", "spec")
_DATA_SOURCE = ("description", "type", "connectionDetails")
_SERVICE = ("description",)
_TIME_WINDOW = ("duration", "isRolling", "calendar")
_OBJECTIVE = ("displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow",
              "indicator", "indicatorRef", "compositeWeight")
_SHORTHAND = re.compile(r"^(\d+)([mhdwMQY])$")
_LONG_UNITS = {"M": 30, "Q": 90, "Y": 365}  # days, as the OpenSLO Go SDK counts them


@dataclass(frozen=True)
class _Object:
    """One OpenSLO object and where it sits: its document, and ``prefix`` ("[2].") when the document is a list."""

    kind: str
    name: str
    data: Mapping[str, Any]
    document: Document
    prefix: str = ""


@dataclass(frozen=True)
class _Indicator:
    """An SLI read as far as it can be without an objective: a ratio, or a threshold query awaiting op and value;
    ``spelled`` maps ``sli.good``, ``sli.bad``, ``sli.total`` to the query fields as the file spells them."""

    ratio: AvailabilitySLI | None = None
    threshold: str | None = None
    spelled: Mapping[str, str] = _field(default_factory=dict)


def _keys(doc: Mapping[str, Any], field: str, defined: Sequence[str], what: str) -> None:
    for key in doc:
        if key not in defined:
            where = f"{field}.{key}" if field else str(key)
            raise InvalidInput(where, f"unknown key; OpenSLO v1 defines here ({what}): {', '.join(defined)}")


def _required(doc: Mapping[str, Any], key: str, field: str, hint: str = "") -> Any:
    if doc.get(key) is None:
        raise InvalidInput(f"{field}.{key}" if field else key, "is required" + (f" ({hint})" if hint else ""))
    return doc[key]


def _unsupported(field: str, what: str, hint: str, value: str | None = None) -> InvalidInput:
    shown = field if value is None else f"{field}={value}"
    return InvalidInput(field, f"not supported: {shown} ({what}); {hint}")


def is_openslo(documents: Sequence[Document]) -> bool:
    """Whether the documents are OpenSLO (objects with ``apiVersion`` or ``kind``) rather than the kit's own format."""
    def looks(data: Any) -> bool:
        return isinstance(data, Mapping) and ("apiVersion" in data or "kind" in data)

    return any(looks(d.data) or (isinstance(d.data, list) and any(looks(item) for item in d.data))
               for d in documents)


def window(value: Any, field: str) -> str:
    """A duration shorthand (``28d``, ``4w``, ``1M``) as a Prometheus duration; M, Q, Y are 30, 90, 365 days."""
    text = str(value).strip()
    match = _SHORTHAND.match(text)
    if match and match.group(2) in _LONG_UNITS:
        return f"{int(match.group(1)) * _LONG_UNITS[match.group(2)]}d"
    try:
        parse_duration(text, field)
    except InvalidInput:
        raise InvalidInput(field, f"{text!r} is not a duration shorthand; write a whole number and one of m, h, d, w, "
                                  "M (30 days), Q (90 days), Y (365 days), e.g. 28d, 4w or 1M") from None
    return parse_window(text, field)  # the kit's own verdict on the window's length


# --------------------------------------------------------------------------- objects


def _objects(documents: Sequence[Document]) -> list[_Object]:
    objects = []
    for document in documents:
        items = document.data if isinstance(document.data, list) else [document.data]
        for i, item in enumerate(items):
            prefix = f"[{i}]." if isinstance(document.data, list) else ""
            with document.located(prefix):
                objects.append(_object(item, document, prefix))
    return objects


def _object(item: Any, document: Document, prefix: str) -> _Object:
    doc = parse_mapping(item, "")
    _keys(doc, "", _OBJECT, "an object")
    version = _required(doc, "apiVersion", "", API_VERSION)
    if version != API_VERSION:
        raise InvalidInput("apiVersion", f"{version!r} is not supported; use {API_VERSION}")
    kind = _required(doc, "kind", "", "one of " + ", ".join(KINDS))
    if kind not in KINDS:
        raise InvalidInput("kind", f"{kind!r} is not an OpenSLO v1 kind; use one of {', '.join(KINDS)}")
    meta = parse_mapping(_required(doc, "metadata", ""), "metadata")
    _keys(meta, "metadata", _METADATA, "metadata")
    name = _required(meta, "name", "metadata")
    if kind == "SLO":  # its name becomes the rules' slo label; other kinds are only looked up by name
        name = parse_name(name, "metadata.name")
    elif not isinstance(name, str) or not name.strip():
        raise InvalidInput("metadata.name", f"{name!r} must be a non-empty string")
    parse_mapping(meta.get("labels") or {}, "metadata.labels")
    parse_mapping(meta.get("annotations") or {}, "metadata.annotations")
    spec = parse_mapping(_required(doc, "spec", ""), "spec")
    if kind == "DataSource":
        _keys(spec, "spec", _DATA_SOURCE, "a DataSource")
        _required(spec, "type", "spec", "Prometheus")
    elif kind == "Service":
        _keys(spec, "spec", _SERVICE, "a Service")
    elif kind == "SLI":
        _keys(spec, "spec", _SLI, "an SLI")
    return _Object(kind, name, doc, document, prefix)


def _by_name(objects: Sequence[_Object], kind: str) -> dict[str, _Object]:
    found: dict[str, _Object] = {}
    for obj in objects:
        if obj.kind != kind:
            continue
        if obj.name in found:
            first = found[obj.name]
            with obj.document.located(obj.prefix):
                raise InvalidInput("metadata.name", f"a second {kind} named {obj.name!r} (the first is in "
                                                    f"{first.document.where or 'this file'}); names must be unique")
        found[obj.name] = obj
    return found


def _ref(objects: Mapping[str, _Object], name: Any, field: str, kind: str) -> _Object:
    if str(name) not in objects:
        have = ", ".join(sorted(objects)) or "none"
        raise InvalidInput(field, f"no {kind} named {name!r} in this file ({kind} names here: {have}); "
                                  f"define it in the same file")
    return objects[str(name)]


# --------------------------------------------------------------------------- indicators


def _prometheus_query(doc: Any, field: str, sources: Mapping[str, _Object]) -> str:
    """The PromQL query of a ``{metricSource: ...}`` whose type, given or from its DataSource, is Prometheus."""
    doc = parse_mapping(doc, field)
    _keys(doc, field, ("metricSource",), "a metric")
    source = parse_mapping(_required(doc, "metricSource", field), f"{field}.metricSource")
    field = f"{field}.metricSource"
    _keys(source, field, _METRIC_SOURCE, "a metric source")
    kind = source.get("type")
    if source.get("metricSourceRef") is not None:
        data_source = _ref(sources, source["metricSourceRef"], f"{field}.metricSourceRef", "DataSource")
        its_type = data_source.data["spec"].get("type")
        if kind is not None and kind != its_type:
            raise InvalidInput(f"{field}.type", f"{kind!r} disagrees with DataSource {data_source.name!r}, "
                                                f"whose type is {its_type!r}")
        if its_type != "Prometheus":
            with data_source.document.located(data_source.prefix):
                raise InvalidInput("spec.type", f"{its_type!r} is not supported; only Prometheus is")
    elif kind is None:
        raise InvalidInput(f"{field}.type", "is required (Prometheus) when there is no metricSourceRef")
    elif kind != "Prometheus":
        raise InvalidInput(f"{field}.type", f"{kind!r} is not supported; only Prometheus is")
    spec = parse_mapping(_required(source, "spec", field), f"{field}.spec")
    if set(spec) != {"query"}:
        raise InvalidInput(f"{field}.spec", "a Prometheus source holds one key, query (PromQL)")
    query = spec["query"]
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput(f"{field}.spec.query", "the query is empty; give a counter selector like "
                                                  'http_requests_total{job="shop"} or an expression with [{{window}}]')
    return query.strip()


def _sampled(function: str, query: str) -> str:
    """``sum(function((query)[{{window}}:]))``: the query sampled at every rule evaluation over the window."""
    return f"sum({function}(({query})[{{{{window}}}}:]))"


def _no_window(query: str, field: str, why: str) -> str:
    if WINDOW_PLACEHOLDER.search(query):
        raise InvalidInput(field, f"{{{{window}}}} cannot be used here: {why}; give the query without it")
    return query


def _ratio_metric(doc: Any, field: str, sources: Mapping[str, _Object]) -> _Indicator:
    doc = parse_mapping(doc, field)
    _keys(doc, field, _RATIO, "a ratioMetric")
    counter = doc.get("counter", True)
    if not isinstance(counter, bool):
        raise InvalidInput(f"{field}.counter", f"{counter!r} must be true (a counter) or false (a gauge)")
    parts = {role: doc.get(role) for role in ("good", "bad", "total", "raw")}
    if parts["raw"] is not None:
        if any(parts[role] is not None for role in ("good", "bad", "total")):
            raise InvalidInput(field, "give raw (with rawType) or good/bad with total, not both")
        raw_type = _required(doc, "rawType", field, "success or failure")
        if raw_type not in ("success", "failure"):
            raise InvalidInput(f"{field}.rawType", f"{raw_type!r} must be success or failure")
        raw_field = f"{field}.raw.metricSource.spec.query"
        raw = _no_window(_prometheus_query(parts["raw"], f"{field}.raw", sources), raw_field,
                         "raw is a stored ratio, sampled at every rule evaluation")
        mean = _sampled("sum_over_time", raw)  # the mean ratio is this over the sample count
        role = "good" if raw_type == "success" else "bad"
        return _Indicator(ratio=parse_ratio(mean if role == "good" else None, mean if role == "bad" else None,
                                            _sampled("count_over_time", raw), field),
                          spelled={f"sli.{role}": raw_field, "sli.total": raw_field})
    if doc.get("rawType") is not None:
        raise InvalidInput(f"{field}.rawType", "goes with raw; good/bad and total say the ratio's type already")
    if parts["good"] is not None and parts["bad"] is not None:
        raise InvalidInput(field, "give either good or bad (with total), not both")
    if parts["good"] is None and parts["bad"] is None:
        raise InvalidInput(field, "give good or bad (with total), or raw with rawType")
    _required(doc, "total", field, "the denominator")
    queries = {}
    for role in ("good", "bad", "total"):
        if parts[role] is None:
            continue
        query = _prometheus_query(parts[role], f"{field}.{role}", sources)
        query_field = f"{field}.{role}.metricSource.spec.query"
        if counter or WINDOW_PLACEHOLDER.search(query):
            queries[role] = parse_query(query, query_field)
        else:
            queries[role] = _sampled("sum_over_time", query)  # a gauge: add up its samples over the window
    return _Indicator(ratio=parse_ratio(queries.get("good"), queries.get("bad"), queries["total"], field),
                      spelled={f"sli.{role}": f"{field}.{role}.metricSource.spec.query" for role in queries})


def _sli_spec(doc: Any, field: str, sources: Mapping[str, _Object]) -> _Indicator:
    doc = parse_mapping(doc, field)
    _keys(doc, field, _SLI, "an SLI")
    if doc.get("ratioMetric") is not None and doc.get("thresholdMetric") is not None:
        raise InvalidInput(field, "give ratioMetric or thresholdMetric, not both")
    if doc.get("ratioMetric") is not None:
        return _ratio_metric(doc["ratioMetric"], f"{field}.ratioMetric", sources)
    if doc.get("thresholdMetric") is not None:
        query_field = f"{field}.thresholdMetric.metricSource.spec.query"
        query = _prometheus_query(doc["thresholdMetric"], f"{field}.thresholdMetric", sources)
        return _Indicator(threshold=_no_window(query, query_field, "every sample of a thresholdMetric is compared "
                                                                   "with the objective"),
                          spelled={"sli.bad": query_field, "sli.total": query_field})
    raise InvalidInput(field, "give ratioMetric or thresholdMetric")


def _indicator(slo: _Object, spec: Mapping[str, Any], slis: Mapping[str, _Object],
               sources: Mapping[str, _Object]) -> _Indicator:
    """The SLO's indicator, inline or by indicatorRef; an error in a referenced SLI names that SLI's document."""
    if spec.get("indicator") is not None and spec.get("indicatorRef") is not None:
        raise InvalidInput("spec", "give indicator or indicatorRef, not both")
    if spec.get("indicatorRef") is not None:
        sli = _ref(slis, spec["indicatorRef"], "spec.indicatorRef", "SLI")
        with sli.document.located(sli.prefix):
            found = _sli_spec(sli.data["spec"], "spec", sources)
        # a query of a referenced SLI is in that SLI's document, not the SLO's
        where = f"SLI {sli.name}" + (f", document {sli.document.index}" if sli.document.count > 1 else "")
        return replace(found, spelled={name: f"{sli.prefix}{spelled} ({where})"
                                       for name, spelled in found.spelled.items()})
    if spec.get("indicator") is None:
        raise InvalidInput("spec.indicator", "is required (an inline SLI), or name an SLI with indicatorRef")
    inline = parse_mapping(spec["indicator"], "spec.indicator")
    _keys(inline, "spec.indicator", ("metadata", "spec"), "an inline SLI")
    if inline.get("metadata") is not None:
        meta = parse_mapping(inline["metadata"], "spec.indicator.metadata")
        _keys(meta, "spec.indicator.metadata", _METADATA, "metadata")
    found = _sli_spec(_required(inline, "spec", "spec.indicator"), "spec.indicator.spec", sources)
    return replace(found, spelled={name: f"{slo.prefix}{spelled}" for name, spelled in found.spelled.items()})


# --------------------------------------------------------------------------- SLOs


def _time_window(spec: Mapping[str, Any]) -> str:
    windows = _required(spec, "timeWindow", "spec", "one rolling window, e.g. duration: 28d, isRolling: true")
    if not isinstance(windows, list) or len(windows) != 1:
        raise InvalidInput("spec.timeWindow", "must be a list with exactly one window")
    field = "spec.timeWindow[0]"
    tw = parse_mapping(windows[0], field)
    _keys(tw, field, _TIME_WINDOW, "a time window")
    rolling = tw.get("isRolling")
    if rolling is not None and not isinstance(rolling, bool):
        raise InvalidInput(f"{field}.isRolling", f"{rolling!r} must be true or false")
    if rolling is False or (rolling is None and tw.get("calendar") is not None):
        raise _unsupported(f"{field}.isRolling", "calendar-aligned windows",
                           "a Prometheus range always rolls, and isRolling: true gives the same burn-rate alerts",
                           "false")
    if tw.get("calendar") is not None:
        raise InvalidInput(f"{field}.calendar", "goes with isRolling: false; a rolling window has no calendar")
    return window(_required(tw, "duration", field, "e.g. 28d"), f"{field}.duration")


def _budgeting_method(spec: Mapping[str, Any]) -> None:
    method = spec.get("budgetingMethod", "Occurrences")
    if method not in BUDGETING_METHODS:
        raise InvalidInput("spec.budgetingMethod", f"{method!r} must be one of {', '.join(BUDGETING_METHODS)}")
    if method != "Occurrences":
        raise _unsupported("spec.budgetingMethod", "time-slice budgets",
                           "the kit compresses its rules' windows in time, and a slice inside the SLI query "
                           "would keep its length; use Occurrences", method)


def _target(objective: Mapping[str, Any], field: str) -> float:
    if "target" in objective and "targetPercent" in objective:
        raise InvalidInput(field, "give target or targetPercent, not both")
    if objective.get("targetPercent") is not None:
        value = objective["targetPercent"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{field}.targetPercent", f"{value!r} is not a number like 99.9")
        return parse_objective(value / 100, f"{field}.targetPercent")
    if objective.get("target") is not None:
        return parse_objective(objective["target"], f"{field}.target")
    raise InvalidInput(f"{field}.target", "is required (a fraction like 0.999), or give targetPercent (99.9)")


def _threshold_sli(query: str, objective: Mapping[str, Any], field: str) -> AvailabilitySLI:
    op = _required(objective, "op", field, "lt, lte, gt or gte: how a good sample compares with value")
    if op not in OPERATORS:
        raise InvalidInput(f"{field}.op", f"{op!r} must be one of {', '.join(OPERATORS)}")
    value = _required(objective, "value", field, "the threshold a good sample is compared with")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field}.value", f"{value!r} is not a number")
    missed = f"({query}) {_MISSES[op]} bool {value!r}"
    return AvailabilitySLI(bad=_sampled("sum_over_time", missed), total=_sampled("count_over_time", query))


def _objective_sli(objective: Mapping[str, Any], field: str, indicator: _Indicator) -> AvailabilitySLI:
    for key in ("timeSliceTarget", "timeSliceWindow"):
        if key in objective:
            raise InvalidInput(f"{field}.{key}", "applies to Timeslices or RatioTimeslices budgeting; "
                                                 "this SLO budgets Occurrences")
    if indicator.threshold is not None:
        return _threshold_sli(indicator.threshold, objective, field)
    if objective.get("value") is not None:
        raise InvalidInput(f"{field}.value", "compares a thresholdMetric's samples; this SLI is a ratioMetric")
    if objective.get("op") is not None and objective["op"] not in OPERATORS:
        raise InvalidInput(f"{field}.op", f"{objective['op']!r} must be one of {', '.join(OPERATORS)}")
    assert indicator.ratio is not None
    return indicator.ratio


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _slo(slo: _Object, slis: Mapping[str, _Object], sources: Mapping[str, _Object]) -> list[SLOSpec]:
    spec = parse_mapping(slo.data["spec"], "spec")
    _keys(spec, "spec", _SLO, "an SLO")
    service = parse_name(_required(spec, "service", "spec"), "spec.service")
    _budgeting_method(spec)
    if spec.get("alertPolicies"):
        raise _unsupported("spec.alertPolicies", "alert policies",
                           "the kit generates its own multi-window multi-burn-rate alerts for every SLO; "
                           "leave alertPolicies out")
    duration = _time_window(spec)
    objectives = _required(spec, "objectives", "spec", "a list with at least one target")
    if not isinstance(objectives, list) or not objectives:
        raise InvalidInput("spec.objectives", "must be a list with at least one objective")
    for i, objective in enumerate(objectives):
        for key in ("indicator", "indicatorRef", "compositeWeight"):
            if isinstance(objective, Mapping) and key in objective:
                raise _unsupported(f"spec.objectives[{i}].{key}", "composite SLOs",
                                   "one budget over several indicators is beyond one SLI's rules; "
                                   "write one SLO per indicator")
    indicator = _indicator(slo, spec, slis, sources)
    if indicator.threshold is not None and len(objectives) > 1:
        raise InvalidInput("spec.objectives", "a thresholdMetric SLI takes exactly one objective")
    meta = slo.data["metadata"]
    annotations = meta.get("annotations") or {}
    specs = []
    for i, item in enumerate(objectives):
        field = f"spec.objectives[{i}]"
        objective = parse_mapping(item, field)
        _keys(objective, field, _OBJECTIVE, "an objective")
        target = _target(objective, field)
        sli = _objective_sli(objective, field, indicator)
        name, name_field = slo.name, "metadata.name"
        if len(objectives) > 1:
            suffix = _slug(str(objective.get("displayName") or "")) or str(i)
            name_field = f"{field}.displayName"
            name = parse_name(f"{slo.name}-{suffix}", name_field)
        target_key = "targetPercent" if objective.get("targetPercent") is not None else "target"
        spelled = {"name": name_field, "service": "spec.service", "window": "spec.timeWindow[0].duration",
                   "objective": f"{field}.{target_key}", "description": "spec.description",
                   "runbook_url": "metadata.annotations.runbook_url"}
        specs.append(SLOSpec(name=name, service=service, objective=target, window=duration, sli=sli,
                             description=str(spec.get("description") or ""),
                             runbook_url=str(annotations.get("runbook_url") or ""),
                             source=slo.document.where,
                             spelled={**{key: f"{slo.prefix}{value}" for key, value in spelled.items()},
                                      **indicator.spelled}))
    names = [s.name for s in specs]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise InvalidInput(f"spec.objectives[{i}].displayName", f"gives the SLO name {name!r} a second time; "
                                                                     "give each objective its own displayName")
    return specs


def to_specs(documents: Sequence[Document]) -> list[SLOSpec]:
    """One ``SLOSpec`` per objective of every SLO in the documents, in file order.

    Raises InvalidInput naming the field as the file spells it and, as ``source``, the document it is in
    (``file (document 2)``), with ``not supported: FIELD (why)`` for what the spec defines but Prometheus
    rules cannot express.
    """
    objects = _objects(documents)
    slis, sources = _by_name(objects, "SLI"), _by_name(objects, "DataSource")
    slos = [obj for obj in objects if obj.kind == "SLO"]
    if not slos:
        found = ", ".join(f"{obj.kind} {obj.name}" for obj in objects) or "nothing"
        raise InvalidInput("kind", f"no SLO in this file (found: {found}); "
                                   "an SLO names its SLI with indicatorRef",
                           source=documents[0].file if documents else "")
    specs = []
    for slo in slos:
        with slo.document.located(slo.prefix):
            specs.extend(_slo(slo, slis, sources))
    seen: dict[str, SLOSpec] = {}
    for spec in specs:
        if spec.name in seen:
            raise InvalidInput("metadata.name", f"two SLOs are named {spec.name!r}; SLO names must be unique",
                               source=documents[0].file)
        seen[spec.name] = spec
    return specs
