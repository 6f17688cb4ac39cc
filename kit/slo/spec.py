"""The SLO model (``SLOSpec``) and the kit's own YAML format, validated by pydantic models.

A mistake is reported against the field that holds it (InvalidInput, through ``kit.validation``), not as
a confusing rule later. The field checks (``validate_name``, ``validate_objective``, ``validate_window``,
``validate_query``) and the types built on them are shared with ``kit.slo.openslo``, which reads OpenSLO v1
into the same model. The format is described in the package's docstring (``kit.slo``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Annotated

from pydantic import AfterValidator, Field, Strict, ValidationInfo, field_validator, model_validator

from ..errors import InvalidInput
from ..metrics import LATENCY_BUCKETS
from ..timescale import parse_duration
from ..validation import Document as Model
from ..validation import validated
from ..yamldocs import Document
from .budget import error_budget
from .burnrate import DEFAULT_WINDOWS, validate_slo_window

__all__ = ["MAX_OBJECTIVE", "WINDOW_PLACEHOLDER", "AvailabilitySLI", "LatencySLI", "SLOSpec", "Name", "Objective",
           "Window", "Query", "Number", "validate_name", "validate_objective", "validate_window", "validate_query",
           "kit_specs"]

MAX_OBJECTIVE = 0.99999
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
_MATCHERS = rf"\{{(?:{_MATCHER}(?:,{_MATCHER})*,?\s*)?\}}"
_SELECTOR = re.compile(rf"^\s*(?:[A-Za-z_:][A-Za-z0-9_:]*\s*(?:{_MATCHERS})?|{_MATCHERS})\s*$")
_LABEL_SET = re.compile(rf"^\s*(?:{_MATCHERS})?\s*$")
WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.?window\s*\}\}")
"""``{{window}}`` or ``{{.window}}`` in a query: where the kit writes each window it needs."""


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
    description: str | None = None  # an empty YAML value means none, as leaving the field out does
    runbook_url: str | None = None
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
        """The error budget, the allowed bad fraction 1 − objective (see ``error_budget``)."""
        return error_budget(self.objective)

    @property
    def window_seconds(self) -> float:
        """The SLO window in seconds."""
        return parse_duration(self.window, "window")


def validate_name(value: str) -> str:
    """``value`` if it is a name: 1-63 lowercase letters, digits and '-', starting and ending with a letter or
    digit (it becomes a Prometheus label value and part of file names); ValueError saying so otherwise."""
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a valid name; use 1-63 lowercase letters, digits and '-', "
                         "starting and ending with a letter or digit")
    return value


def validate_objective(value: float) -> float:
    """``value`` if it is an objective: a fraction between 0 and 1, exclusive, at most ``MAX_OBJECTIVE`` (five
    nines); ValueError otherwise, suggesting the fraction when ``value`` looks like a percentage."""
    if not 0 < value < 1:
        hint = f" (write {value:.15g} % as {value / 100:.15g})" if 1 < value < 100 else ""
        raise ValueError(f"{value:.15g} is out of range: the objective must be between 0 and 1, exclusive{hint}")
    if value > MAX_OBJECTIVE:
        raise ValueError(f"{value:.15g} has too many nines: at most {MAX_OBJECTIVE} (five nines) is allowed; "
                         "a smaller budget than that cannot be measured with scraped counters")
    return value


def validate_window(value: str) -> str:
    """``value`` stripped if it is an SLO window: a Prometheus duration (``30d``) holding every alert window of
    the policy (see ``validate_slo_window``); ValueError (an InvalidInput on no field) otherwise."""
    text = value.strip()
    try:
        parse_duration(text)
    except InvalidInput:
        raise ValueError(f"{text!r} is not a window; write a Prometheus duration like 30d, 28d, 4w or 7d") from None
    validate_slo_window(text, DEFAULT_WINDOWS, "")  # the policy's windows are the same for every SLO window
    return text


def validate_query(value: str) -> str:
    """``value`` stripped if it is a query of the SLI: a counter selector, or an expression with ``[{{window}}]``
    (``{{window}}`` only as a range); ValueError saying which otherwise."""
    if not value.strip():
        raise ValueError("the query is empty; give a counter selector like "
                         'http_requests_total{job="shop"} or an expression with [{{window}}]')
    if WINDOW_PLACEHOLDER.search(value):
        if not re.search(r"\[\s*\{\{\s*\.?window\s*\}\}\s*(?::[^\]]*)?\]", value):
            raise ValueError("{{window}} may only appear as a range, e.g. rate(x[{{window}}])")
        return value.strip()
    if not _SELECTOR.match(value):
        raise ValueError(f"{value.strip()!r} is neither a counter selector such as "
                         'http_requests_total{job="shop", code=~"5.."} nor an expression with '
                         "[{{window}}] for the kit to fill in")
    return value.strip()


Number = Annotated[float, Strict()]
"""A field holding a number written as one: an int or a float, not a quoted string or a boolean."""
Name = Annotated[str, AfterValidator(validate_name)]
"""A field holding a name (see ``validate_name``)."""
Objective = Annotated[float, Strict(), AfterValidator(validate_objective)]
"""A field holding an objective as a fraction (see ``validate_objective``)."""
Window = Annotated[str, AfterValidator(validate_window)]
"""A field holding an SLO window (see ``validate_window``)."""
Query = Annotated[str, AfterValidator(validate_query)]
"""A field holding a query of an SLI (see ``validate_query``)."""


class _Availability(Model):
    total: Query
    good: Query | None = None
    bad: Query | None = None

    @model_validator(mode="after")
    def _good_or_bad(self) -> "_Availability":
        if self.good is not None and self.bad is not None:
            raise ValueError("give either good or bad (with total), not both")
        if self.good is None and self.bad is None:
            raise ValueError("give good or bad (with total)")
        return self

    def sli(self) -> AvailabilitySLI:
        return AvailabilitySLI(total=self.total, good=self.good, bad=self.bad)


class _Latency(Model):
    metric: str
    selector: str | None = None
    buckets: list[Number] = Field(default_factory=lambda: list(LATENCY_BUCKETS))
    threshold: Number

    @field_validator("metric")
    @classmethod
    def _base_name(cls, metric: str) -> str:
        if not re.match(r"^[A-Za-z_:][A-Za-z0-9_:]*$", metric) or metric.endswith(("_bucket", "_count", "_sum")):
            raise ValueError(f"{metric!r}: give the histogram's base name, e.g. http_request_duration_seconds "
                             "(without _bucket)")
        return metric

    @field_validator("selector")
    @classmethod
    def _label_set(cls, selector: str | None) -> str | None:
        if selector is not None and not _LABEL_SET.match(selector):
            raise ValueError(f"{selector!r} is not a label matcher set like " '{job="shop", route="/catalog"}')
        return None if selector is None else selector.strip()

    @field_validator("threshold")
    @classmethod
    def _bucket_edge(cls, threshold: float, info: ValidationInfo) -> float:
        buckets = info.data.get("buckets")  # absent when they are wrong themselves, and reported as such
        if buckets is not None and threshold not in buckets:
            edges = ", ".join(f"{b:g}" for b in buckets)
            raise ValueError(f"{threshold:.15g} is not a bucket edge of the histogram; choose one of {edges} (seconds)")
        return threshold

    def sli(self) -> LatencySLI:
        return LatencySLI(self.metric, self.selector or "", self.threshold)


class _SLI(Model):
    availability: _Availability | None = None
    latency: _Latency | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "_SLI":
        if (self.availability is None) == (self.latency is None):
            raise ValueError("must hold exactly one of: availability, latency")
        return self

    def sli(self) -> AvailabilitySLI | LatencySLI:
        chosen = self.latency or self.availability
        assert chosen is not None  # _exactly_one saw to it
        return chosen.sli()


class _KitSpec(Model):
    """The kit's format, one SLO per file (see the package's docstring)."""

    name: Name
    service: Name
    objective: Objective
    window: Window
    sli: _SLI
    description: str | None = None  # an empty YAML value means none, as leaving the field out does
    runbook_url: str | None = None


def kit_specs(documents: Sequence[Document]) -> list[SLOSpec]:
    """The SLO of documents in the kit's own format, as a one-element list (like ``openslo.to_specs``).

    Raises InvalidInput naming the file, the document and the field; also when there is more than one document
    (the kit's format is one document per file).
    """
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; the kit's format is one document per file "
                               "(several SLOs in one file need OpenSLO)", source=documents[0].file)
    document = documents[0]
    doc = validated(_KitSpec, document.data, source=document.where)
    return [SLOSpec(name=doc.name, service=doc.service, objective=doc.objective, window=doc.window, sli=doc.sli.sli(),
                    description=doc.description or "", runbook_url=doc.runbook_url or "", source=document.where)]
