"""The SLO model (``SLOSpec``) and the kit's own YAML format, checked field by field.

A mistake is reported against the field that holds it (InvalidInput), not as
a confusing rule later. The field parsers (``parse_*``) are shared with
``kit.slo.openslo``, which reads OpenSLO v1 into the same model. The format
is described in the package's docstring (``kit.slo``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as _field
from typing import Any

from ..errors import InvalidInput
from ..metrics import LATENCY_BUCKETS
from ..timescale import parse_duration
from ..yamldocs import Document
from .budget import error_budget
from .burnrate import DEFAULT_WINDOWS, check_slo_window

__all__ = ["MAX_OBJECTIVE", "WINDOW_PLACEHOLDER", "AvailabilitySLI", "LatencySLI", "SLOSpec", "parse_mapping",
           "parse_name", "parse_objective", "parse_window", "parse_query", "parse_ratio", "kit_specs"]

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
        """The error budget, the allowed bad fraction 1 − objective (see ``error_budget``)."""
        return error_budget(self.objective)

    @property
    def window_seconds(self) -> float:
        """The SLO window in seconds."""
        return parse_duration(self.window, "window")


def parse_mapping(value: Any, field: str) -> Mapping[str, Any]:
    """``value`` itself if it is a mapping; InvalidInput on ``field`` otherwise."""
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


def parse_name(value: Any, field: str) -> str:
    """``value`` as a name: 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit;
    InvalidInput on ``field`` otherwise."""
    text = str(value)
    if not _NAME.match(text):
        raise InvalidInput(field, f"{text!r} is not a valid name; use 1-63 lowercase letters, digits and '-', "
                                  "starting and ending with a letter or digit")
    return text


def parse_objective(value: Any, field: str) -> float:
    """``value`` as an objective: a fraction between 0 and 1, exclusive, at most ``MAX_OBJECTIVE`` (five nines).

    Raises InvalidInput on ``field`` otherwise, suggesting the fraction when ``value`` looks like a percentage.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(field, f"{value!r} is not a number; write the objective as a fraction like 0.999")
    if not 0 < value < 1:
        hint = f" (write {value} % as {value / 100:g})" if 1 < value < 100 else ""
        raise InvalidInput(field, f"{value} is out of range: the objective must be between 0 and 1, exclusive{hint}")
    if value > MAX_OBJECTIVE:
        raise InvalidInput(field, f"{value} has too many nines: at most {MAX_OBJECTIVE} (five nines) is allowed; "
                                  "a smaller budget than that cannot be measured with scraped counters")
    return float(value)


def parse_window(value: Any, field: str) -> str:
    """``value`` as an SLO window: a Prometheus duration (``30d``) holding every alert window of the policy
    (see ``check_slo_window``); InvalidInput on ``field`` otherwise."""
    text = str(value).strip()
    try:
        parse_duration(text, field)
    except InvalidInput:
        raise InvalidInput(field, f"{text!r} is not a window; write a Prometheus duration like 30d, 28d, 4w or 7d") from None
    check_slo_window(text, DEFAULT_WINDOWS, field)  # the policy's windows are the same for every SLO window
    return text


def parse_query(value: Any, field: str) -> str:
    """``value`` stripped, as a query of the SLI: a counter selector, or an expression with ``[{{window}}]``
    (``{{window}}`` only as a range); InvalidInput on ``field`` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "the query is empty; give a counter selector like "
                                  'http_requests_total{job="shop"} or an expression with [{{window}}]')
    if WINDOW_PLACEHOLDER.search(value):
        if not re.search(r"\[\s*\{\{\s*\.?window\s*\}\}\s*(?::[^\]]*)?\]", value):
            raise InvalidInput(field, "{{window}} may only appear as a range, e.g. rate(x[{{window}}])")
        return value.strip()
    if not _SELECTOR.match(value):
        raise InvalidInput(field, f"{value.strip()!r} is neither a counter selector such as "
                                  'http_requests_total{job="shop", code=~"5.."} nor an expression with '
                                  "[{{window}}] for the kit to fill in")
    return value.strip()


def parse_ratio(good: Any, bad: Any, total: Any, field: str) -> AvailabilitySLI:
    """An availability SLI from its total query and exactly one of good and bad (``None`` for the other);
    InvalidInput on ``field``, or on ``field.total`` (``.good``, ``.bad``) for a query."""
    if good is not None and bad is not None:
        raise InvalidInput(field, "give either good or bad (with total), not both")
    if good is None and bad is None:
        raise InvalidInput(field, "give good or bad (with total)")
    return AvailabilitySLI(
        total=parse_query(total, f"{field}.total"),
        good=None if good is None else parse_query(good, f"{field}.good"),
        bad=None if bad is None else parse_query(bad, f"{field}.bad"),
    )


def _latency(doc: Any, field: str) -> LatencySLI:
    doc = parse_mapping(doc, field)
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
    sli_doc = parse_mapping(doc["sli"], "sli")
    if len(sli_doc) != 1 or next(iter(sli_doc)) not in ("availability", "latency"):
        raise InvalidInput("sli", "must hold exactly one of: availability, latency")
    kind, body = next(iter(sli_doc.items()))
    if kind == "latency":
        sli: AvailabilitySLI | LatencySLI = _latency(body, "sli.latency")
    else:
        body = parse_mapping(body, "sli.availability")
        _keys(body, "sli.availability", ("total",), ("good", "bad"))
        sli = parse_ratio(body.get("good"), body.get("bad"), body["total"], "sli.availability")
    return SLOSpec(
        name=parse_name(doc["name"], "name"), service=parse_name(doc["service"], "service"),
        objective=parse_objective(doc["objective"], "objective"), window=parse_window(doc["window"], "window"),
        sli=sli, description=str(doc.get("description") or ""), runbook_url=str(doc.get("runbook_url") or ""),
    )


def kit_specs(documents: Sequence[Document]) -> list[SLOSpec]:
    """The SLO of documents in the kit's own format, as a one-element list (like ``openslo.to_specs``).

    Raises InvalidInput naming the file, the document and the field; also when there is more than one document
    (the kit's format is one document per file).
    """
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; the kit's format is one document per file "
                               "(several SLOs in one file need OpenSLO)", source=documents[0].file)
    document = documents[0]
    with document.located():
        return [replace(_from_kit(parse_mapping(document.data, "spec")), source=document.where)]
