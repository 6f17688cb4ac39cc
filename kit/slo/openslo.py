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
multi-window multi-burn-rate alerts). Each object is read by pydantic models of
the specification's shapes (through ``kit.validation``), so a field the
specification does not define is refused with the ones it does define there;
what spans objects (references, unique names) and what depends on the
indicator (``op`` and ``value`` only for a threshold) is checked once they are
read. Every error names the field as the file spells it
(``spec.timeWindow[0].duration``) and the file, with the document number in a
multi-document file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from dataclasses import field as _field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, ValidationInfo, field_validator, model_validator

from ..errors import InvalidInput
from ..timescale import parse_duration
from ..validation import Document as Model
from ..validation import validated
from ..yamldocs import Document
from .spec import (WINDOW_PLACEHOLDER, AvailabilitySLI, Name, Number, Objective, SLOSpec, validate_name,
                   validate_objective, validate_query, validate_window)

__all__ = ["API_VERSION", "KINDS", "is_openslo", "to_specs", "window"]

API_VERSION = "openslo/v1"
KINDS = ("SLO", "SLI", "DataSource", "Service", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")
BUDGETING_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
OPERATORS = ("lt", "lte", "gt", "gte")
_MISSES = {"lt": ">=", "lte": ">", "gt": "<=", "gte": "<"}  # per op, the PromQL comparison that makes a sample bad
_SHORTHAND = re.compile(r"^(\d+)([mhdwMQY])$")
_LONG_UNITS = {"M": 30, "Q": 90, "Y": 365}  # days, as the OpenSLO Go SDK counts them


def _unsupported(field: str, what: str, hint: str, value: str | None = None) -> str:
    shown = field if value is None else f"{field}={value}"
    return f"not supported: {shown} ({what}); {hint}"


@contextmanager
def _at(field: str) -> Iterator[None]:
    """A ValueError from a shared field check (``validate_name``, ``validate_query``) as InvalidInput on ``field``."""
    try:
        yield
    except ValueError as problem:
        raise InvalidInput(field, str(problem)) from None


def _no_window(query: str, why: str) -> str:
    if WINDOW_PLACEHOLDER.search(query):
        raise ValueError(f"{{{{window}}}} cannot be used here: {why}; give the query without it")
    return query


def window(value: Any, field: str) -> str:
    """A duration shorthand (``28d``, ``4w``, ``1M``) as a Prometheus duration; M, Q, Y are 30, 90, 365 days.

    Raises InvalidInput on ``field`` when it is not one, or is too short an SLO window (see ``validate_window``).
    """
    text = str(value).strip()
    match = _SHORTHAND.match(text)
    if match and match.group(2) in _LONG_UNITS:
        text = f"{int(match.group(1)) * _LONG_UNITS[match.group(2)]}d"
    try:
        parse_duration(text, field)
    except InvalidInput:
        raise InvalidInput(field, f"{text!r} is not a duration shorthand; write a whole number and one of m, h, d, w, "
                                  "M (30 days), Q (90 days), Y (365 days), e.g. 28d, 4w or 1M") from None
    with _at(field):
        return validate_window(text)  # the kit's own verdict on the window's length


# --------------------------------------------------------------------------- the specification's shapes


class _Metadata(Model):
    name: str = Field(min_length=1)
    displayName: str | None = None
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


class _Envelope(Model):
    """An object of any kind; its ``spec`` is read by the kind's own model."""

    apiVersion: Literal["openslo/v1"] = Field(description=API_VERSION)
    kind: Literal[KINDS] = Field(description="one of " + ", ".join(KINDS))  # type: ignore[valid-type]
    metadata: _Metadata
    spec: dict[str, Any]

    @model_validator(mode="after")
    def _slo_name(self) -> "_Envelope":
        if self.kind == "SLO":  # its name becomes the rules' slo label; other kinds are only looked up by name
            with _at("metadata.name"):
                validate_name(self.metadata.name)
        return self


class _DataSourceSpec(Model):
    description: str | None = None
    type: str = Field(description="Prometheus")
    connectionDetails: Any = None  # the rules run in whichever Prometheus loads them


class _ServiceSpec(Model):
    description: str | None = None


class _PrometheusSpec(Model):
    query: str

    @field_validator("query")
    @classmethod
    def _not_empty(cls, query: str) -> str:
        """Only emptiness here: whether the query must be a selector depends on its ratio (see ``_ratio_metric``)."""
        if not query.strip():
            validate_query(query)  # refuses it as empty, in the kit's format's words
        return query.strip()


class _MetricSource(Model):
    metricSourceRef: str | None = None
    type: str | None = Field(None, validate_default=True)
    spec: _PrometheusSpec

    @field_validator("type")
    @classmethod
    def _prometheus(cls, kind: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("metricSourceRef") is not None:
            return kind  # compared with the DataSource's type once the file's DataSources are known
        if kind is None:
            raise ValueError("is required (Prometheus) when there is no metricSourceRef")
        if kind != "Prometheus":
            raise ValueError(f"{kind!r} is not supported; only Prometheus is")
        return kind


class _Metric(Model):
    metricSource: _MetricSource

    @property
    def query(self) -> str:
        return self.metricSource.spec.query


class _Ratio(Model):
    counter: StrictBool = True
    good: _Metric | None = None
    bad: _Metric | None = None
    total: _Metric | None = None
    rawType: Literal["success", "failure"] | None = None
    raw: _Metric | None = None

    @model_validator(mode="after")
    def _one_ratio(self) -> "_Ratio":
        parts = {"good": self.good, "bad": self.bad, "total": self.total}
        if self.raw is not None:
            if any(part is not None for part in parts.values()):
                raise ValueError("give raw (with rawType) or good/bad with total, not both")
            if self.rawType is None:
                raise InvalidInput("rawType", "is required (success or failure)")
            with _at("raw.metricSource.spec.query"):
                _no_window(self.raw.query, "raw is a stored ratio, sampled at every rule evaluation")
            return self
        if self.rawType is not None:
            raise InvalidInput("rawType", "goes with raw; good/bad and total say the ratio's type already")
        if self.good is not None and self.bad is not None:
            raise ValueError("give either good or bad (with total), not both")
        if self.good is None and self.bad is None:
            raise ValueError("give good or bad (with total), or raw with rawType")
        if self.total is None:
            raise InvalidInput("total", "is required (the denominator)")
        return self


class _SLISpec(Model):
    description: str | None = None
    thresholdMetric: _Metric | None = None
    ratioMetric: _Ratio | None = None

    @model_validator(mode="after")
    def _one_metric(self) -> "_SLISpec":
        if self.ratioMetric is not None and self.thresholdMetric is not None:
            raise ValueError("give ratioMetric or thresholdMetric, not both")
        if self.ratioMetric is None and self.thresholdMetric is None:
            raise ValueError("give ratioMetric or thresholdMetric")
        if self.thresholdMetric is not None:
            with _at("thresholdMetric.metricSource.spec.query"):
                _no_window(self.thresholdMetric.query,
                           "every sample of a thresholdMetric is compared with the objective")
        return self


class _InlineSLI(Model):
    metadata: _Metadata | None = None
    spec: _SLISpec


class _TimeWindow(Model):
    duration: Annotated[str, AfterValidator(lambda duration: window(duration, ""))] = Field(description="e.g. 28d")
    isRolling: StrictBool | None = None
    calendar: Any = None


def _percent(value: float) -> float:
    validate_objective(value / 100)
    return value


class _Objective(Model):
    displayName: str | None = None
    op: Literal["lt", "lte", "gt", "gte"] | None = None
    value: Number | None = None
    target: Objective | None = None
    targetPercent: Annotated[Number, AfterValidator(_percent)] | None = None
    timeSliceTarget: Any = None
    timeSliceWindow: Any = None
    indicator: Any = None
    indicatorRef: Any = None
    compositeWeight: Any = None

    @field_validator("timeSliceTarget", "timeSliceWindow")
    @classmethod
    def _occurrences(cls, value: Any) -> Any:
        raise ValueError("applies to Timeslices or RatioTimeslices budgeting; this SLO budgets Occurrences")

    @model_validator(mode="after")
    def _one_target(self) -> "_Objective":
        if {"target", "targetPercent"} <= self.model_fields_set:
            raise ValueError("give target or targetPercent, not both")
        if self.target is None and self.targetPercent is None:
            raise InvalidInput("target", "is required (a fraction like 0.999), or give targetPercent (99.9)")
        return self

    @property
    def fraction(self) -> float:
        """The objective as a fraction, whichever way it is written."""
        return self.target if self.target is not None else self.targetPercent / 100  # type: ignore[operator]


class _SLOSpec(Model):
    description: str | None = None
    service: Name
    indicator: _InlineSLI | None = None
    indicatorRef: str | None = None
    timeWindow: list[_TimeWindow] = Field(description="one rolling window, e.g. duration: 28d, isRolling: true")
    budgetingMethod: Literal[BUDGETING_METHODS] = "Occurrences"  # type: ignore[valid-type]
    objectives: list[_Objective] = Field(description="a list with at least one target")
    alertPolicies: list[Any] | None = None

    @field_validator("timeWindow")
    @classmethod
    def _one_rolling_window(cls, windows: list[_TimeWindow]) -> list[_TimeWindow]:
        if len(windows) != 1:
            raise ValueError("must be a list with exactly one window")
        rolling, calendar = windows[0].isRolling, windows[0].calendar
        if rolling is False or (rolling is None and calendar is not None):
            raise InvalidInput("[0].isRolling", _unsupported(
                "spec.timeWindow[0].isRolling", "calendar-aligned windows",
                "a Prometheus range always rolls, and isRolling: true gives the same burn-rate alerts", "false"))
        if calendar is not None:
            raise InvalidInput("[0].calendar", "goes with isRolling: false; a rolling window has no calendar")
        return windows

    @field_validator("budgetingMethod")
    @classmethod
    def _occurrences(cls, method: str) -> str:
        if method != "Occurrences":
            raise ValueError(_unsupported("spec.budgetingMethod", "time-slice budgets",
                                          "the kit compresses its rules' windows in time, and a slice inside the SLI "
                                          "query would keep its length; use Occurrences", method))
        return method

    @field_validator("objectives")
    @classmethod
    def _plain_objectives(cls, objectives: list[_Objective]) -> list[_Objective]:
        if not objectives:
            raise ValueError("must be a list with at least one objective")
        for i, objective in enumerate(objectives):
            for key in ("indicator", "indicatorRef", "compositeWeight"):
                if key in objective.model_fields_set:
                    raise InvalidInput(f"[{i}].{key}", _unsupported(
                        f"spec.objectives[{i}].{key}", "composite SLOs",
                        "one budget over several indicators is beyond one SLI's rules; write one SLO per indicator"))
        return objectives

    @field_validator("alertPolicies")
    @classmethod
    def _no_alert_policies(cls, policies: list[Any] | None) -> list[Any] | None:
        if policies:
            raise ValueError(_unsupported("spec.alertPolicies", "alert policies",
                                          "the kit generates its own multi-window multi-burn-rate alerts for every "
                                          "SLO; leave alertPolicies out"))
        return policies

    @model_validator(mode="after")
    def _one_indicator(self) -> "_SLOSpec":
        if self.indicator is not None and self.indicatorRef is not None:
            raise ValueError("give indicator or indicatorRef, not both")
        if self.indicator is None and self.indicatorRef is None:
            raise InvalidInput("indicator", "is required (an inline SLI), or name an SLI with indicatorRef")
        return self


_SPECS: dict[str, type[Model]] = {"SLO": _SLOSpec, "SLI": _SLISpec, "DataSource": _DataSourceSpec,
                                  "Service": _ServiceSpec}
"""The model of each kind's spec; the alerting kinds' specs are only checked to be mappings."""


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class _Object:
    """One OpenSLO object, its spec read by its kind's model, and where it sits: its document, and ``prefix``
    ("[2].") when the document is a list."""

    kind: str
    metadata: _Metadata
    spec: Any
    document: Document
    prefix: str = ""

    @property
    def name(self) -> str:
        return self.metadata.name


@dataclass(frozen=True)
class _Indicator:
    """An SLI read as far as it can be without an objective: a ratio, or a threshold query awaiting op and value;
    ``spelled`` maps ``sli.good``, ``sli.bad``, ``sli.total`` to the query fields as the file spells them."""

    ratio: AvailabilitySLI | None = None
    threshold: str | None = None
    spelled: Mapping[str, str] = _field(default_factory=dict)


def is_openslo(documents: Sequence[Document]) -> bool:
    """Whether the documents are OpenSLO (objects with ``apiVersion`` or ``kind``) rather than the kit's own format."""
    def looks(data: Any) -> bool:
        return isinstance(data, Mapping) and ("apiVersion" in data or "kind" in data)

    return any(looks(d.data) or (isinstance(d.data, list) and any(looks(item) for item in d.data))
               for d in documents)


def _objects(documents: Sequence[Document]) -> list[_Object]:
    """Every object of the documents, its spec read by its kind's model once the file is known to hold an SLO
    (a file of SLIs alone is told that first)."""
    found = []
    for document in documents:
        items = document.data if isinstance(document.data, list) else [document.data]
        for i, item in enumerate(items):
            prefix = f"[{i}]." if isinstance(document.data, list) else ""
            with document.located(prefix):
                found.append((validated(_Envelope, item), document, prefix))
    if not any(envelope.kind == "SLO" for envelope, _, _ in found):
        kinds = ", ".join(f"{envelope.kind} {envelope.metadata.name}" for envelope, _, _ in found) or "nothing"
        raise InvalidInput("kind", f"no SLO in this file (found: {kinds}); an SLO names its SLI with indicatorRef",
                           source=documents[0].file if documents else "")
    objects = []
    for envelope, document, prefix in found:
        model = _SPECS.get(envelope.kind)
        with document.located(prefix):
            spec = envelope.spec if model is None else validated(model, envelope.spec, prefix="spec")
        objects.append(_Object(envelope.kind, envelope.metadata, spec, document, prefix))
    return objects


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


def _ref(objects: Mapping[str, _Object], name: str, field: str, kind: str) -> _Object:
    if name not in objects:
        have = ", ".join(sorted(objects)) or "none"
        raise InvalidInput(field, f"no {kind} named {name!r} in this file ({kind} names here: {have}); "
                                  f"define it in the same file")
    return objects[name]


# --------------------------------------------------------------------------- indicators


def _prometheus_query(metric: _Metric, field: str, sources: Mapping[str, _Object]) -> str:
    """The PromQL query of a metric whose type, given or from its DataSource, is Prometheus."""
    source = metric.metricSource
    if source.metricSourceRef is not None:
        field = f"{field}.metricSource"
        data_source = _ref(sources, source.metricSourceRef, f"{field}.metricSourceRef", "DataSource")
        its_type = data_source.spec.type
        if source.type is not None and source.type != its_type:
            raise InvalidInput(f"{field}.type", f"{source.type!r} disagrees with DataSource {data_source.name!r}, "
                                                f"whose type is {its_type!r}")
        if its_type != "Prometheus":
            with data_source.document.located(data_source.prefix):
                raise InvalidInput("spec.type", f"{its_type!r} is not supported; only Prometheus is")
    return metric.query


def _sampled(function: str, query: str) -> str:
    """``sum(function((query)[{{window}}:]))``: the query sampled at every rule evaluation over the window."""
    return f"sum({function}(({query})[{{{{window}}}}:]))"


def _ratio_metric(ratio: _Ratio, field: str, sources: Mapping[str, _Object]) -> _Indicator:
    if ratio.raw is not None:
        raw_field = f"{field}.raw.metricSource.spec.query"
        raw = _prometheus_query(ratio.raw, f"{field}.raw", sources)
        mean = _sampled("sum_over_time", raw)  # the mean ratio is this over the sample count
        role = "good" if ratio.rawType == "success" else "bad"
        return _Indicator(ratio=AvailabilitySLI(total=_sampled("count_over_time", raw), **{role: mean}),
                          spelled={f"sli.{role}": raw_field, "sli.total": raw_field})
    queries = {}
    for role, metric in (("good", ratio.good), ("bad", ratio.bad), ("total", ratio.total)):
        if metric is None:
            continue
        query = _prometheus_query(metric, f"{field}.{role}", sources)  # a Prometheus query from here on
        if ratio.counter or WINDOW_PLACEHOLDER.search(query):
            with _at(f"{field}.{role}.metricSource.spec.query"):
                query = validate_query(query)
        else:
            query = _sampled("sum_over_time", query)  # a gauge: add up its samples over the window
        queries[role] = query
    return _Indicator(ratio=AvailabilitySLI(**queries),
                      spelled={f"sli.{role}": f"{field}.{role}.metricSource.spec.query" for role in queries})


def _sli_spec(sli: _SLISpec, field: str, sources: Mapping[str, _Object]) -> _Indicator:
    if sli.ratioMetric is not None:
        return _ratio_metric(sli.ratioMetric, f"{field}.ratioMetric", sources)
    assert sli.thresholdMetric is not None
    query_field = f"{field}.thresholdMetric.metricSource.spec.query"
    return _Indicator(threshold=_prometheus_query(sli.thresholdMetric, f"{field}.thresholdMetric", sources),
                      spelled={"sli.bad": query_field, "sli.total": query_field})


def _indicator(slo: _Object, slis: Mapping[str, _Object], sources: Mapping[str, _Object]) -> _Indicator:
    """The SLO's indicator, inline or by indicatorRef; an error in a referenced SLI names that SLI's document."""
    spec: _SLOSpec = slo.spec
    if spec.indicatorRef is not None:
        sli = _ref(slis, spec.indicatorRef, "spec.indicatorRef", "SLI")
        with sli.document.located(sli.prefix):
            found = _sli_spec(sli.spec, "spec", sources)
        # a query of a referenced SLI is in that SLI's document, not the SLO's
        where = f"SLI {sli.name}" + (f", document {sli.document.index}" if sli.document.count > 1 else "")
        return replace(found, spelled={name: f"{sli.prefix}{spelled} ({where})"
                                       for name, spelled in found.spelled.items()})
    assert spec.indicator is not None
    found = _sli_spec(spec.indicator.spec, "spec.indicator.spec", sources)
    return replace(found, spelled={name: f"{slo.prefix}{spelled}" for name, spelled in found.spelled.items()})


# --------------------------------------------------------------------------- SLOs


def _threshold_sli(query: str, objective: _Objective, field: str) -> AvailabilitySLI:
    if objective.op is None:
        raise InvalidInput(f"{field}.op", "is required (lt, lte, gt or gte: how a good sample compares with value)")
    if objective.value is None:
        raise InvalidInput(f"{field}.value", "is required (the threshold a good sample is compared with)")
    missed = f"({query}) {_MISSES[objective.op]} bool {objective.value:.15g}"
    return AvailabilitySLI(bad=_sampled("sum_over_time", missed), total=_sampled("count_over_time", query))


def _objective_sli(objective: _Objective, field: str, indicator: _Indicator) -> AvailabilitySLI:
    if indicator.threshold is not None:
        return _threshold_sli(indicator.threshold, objective, field)
    if objective.value is not None:
        raise InvalidInput(f"{field}.value", "compares a thresholdMetric's samples; this SLI is a ratioMetric")
    assert indicator.ratio is not None
    return indicator.ratio


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _slo(slo: _Object, slis: Mapping[str, _Object], sources: Mapping[str, _Object]) -> list[SLOSpec]:
    spec: _SLOSpec = slo.spec
    indicator = _indicator(slo, slis, sources)
    objectives = spec.objectives
    if indicator.threshold is not None and len(objectives) > 1:
        raise InvalidInput("spec.objectives", "a thresholdMetric SLI takes exactly one objective")
    annotations = slo.metadata.annotations or {}
    specs = []
    for i, objective in enumerate(objectives):
        field = f"spec.objectives[{i}]"
        sli = _objective_sli(objective, field, indicator)
        name, name_field = slo.name, "metadata.name"
        if len(objectives) > 1:
            suffix = _slug(objective.displayName or "") or str(i)
            name_field = f"{field}.displayName"
            with _at(name_field):
                name = validate_name(f"{slo.name}-{suffix}")
        target_key = "targetPercent" if objective.targetPercent is not None else "target"
        spelled = {"name": name_field, "service": "spec.service", "window": "spec.timeWindow[0].duration",
                   "objective": f"{field}.{target_key}", "description": "spec.description",
                   "runbook_url": "metadata.annotations.runbook_url"}
        specs.append(SLOSpec(name=name, service=spec.service, objective=objective.fraction,
                             window=spec.timeWindow[0].duration, sli=sli, description=spec.description or "",
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
    specs = []
    for slo in (obj for obj in objects if obj.kind == "SLO"):
        with slo.document.located(slo.prefix):
            specs.extend(_slo(slo, slis, sources))
    seen: dict[str, SLOSpec] = {}
    for spec in specs:
        if spec.name in seen:
            raise InvalidInput("metadata.name", f"two SLOs are named {spec.name!r}; SLO names must be unique",
                               source=documents[0].file)
        seen[spec.name] = spec
    return specs
