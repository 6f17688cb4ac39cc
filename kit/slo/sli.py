"""An SLI as PromQL: its error ratio and its traffic over a window, composed from the spec's queries.

The same expressions feed the recording rules, the live query check and the
budget report, so all three measure the same thing. Pure string building.
"""

from __future__ import annotations

import math

from .spec import WINDOW_PLACEHOLDER, LatencySLI, SLOSpec

__all__ = ["query_rate", "le_pattern", "bucket_selector", "sli_total_expr", "sli_error_expr"]


def query_rate(query: str, window: str) -> str:
    """One query of the SLI over ``window``, parenthesised so that composing it cannot change its meaning: a
    counter selector as ``sum(rate(selector[window]))``, an expression with ``window`` in its placeholder."""
    if WINDOW_PLACEHOLDER.search(query):
        return f"({WINDOW_PLACEHOLDER.sub(window, query.strip())})"
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


def bucket_selector(sli: LatencySLI) -> str:
    """The selector of the latency SLI's bucket series at its threshold, in any spelling of the bound
    (see ``le_pattern``)."""
    inner = _latency_inner(sli)
    sep = ", " if inner else ""
    return f'{sli.metric}_bucket{{{inner}{sep}le=~"{le_pattern(sli.threshold)}"}}'


def sli_total_expr(spec: SLOSpec, window: str) -> str:
    """PromQL for the rate of all events the SLI counts over ``window``: the weight of each error ratio."""
    sli = spec.sli
    if isinstance(sli, LatencySLI):
        return f"sum(rate({sli.metric}_count{{{_latency_inner(sli)}}}[{window}]))"
    return query_rate(sli.total, window)


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
        return f"1 - (sum(rate({bucket_selector(sli)}[{window}])) / {total})"
    part = query_rate(sli.bad if sli.bad is not None else str(sli.good), window)
    share = f"({part} or (0 * {total})) / {total}"
    return share if sli.bad is not None else f"1 - ({share})"
