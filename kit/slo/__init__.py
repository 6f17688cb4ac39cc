"""SLO specs, error budgets, burn rates, and the alert rules that page on them.

An SLO is parsed once into a frozen ``SLOSpec`` and checked up front, so a
mistake is reported against the field that holds it, not as a confusing rule
later. Two input formats become the same model: the kit's own YAML and
OpenSLO v1 (read by ``kit.slo.openslo``). The budget math is pure and is what the generated
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

The package has one module per concept; they import one another, never this
package, which re-exports the public API:

- ``spec``: the model (``SLOSpec``) and the kit's YAML, validated by pydantic models;
- ``openslo``: OpenSLO v1 documents into the same model;
- ``loader``: ``load_spec`` and ``load_specs``, in either format;
- ``budget``: error-budget arithmetic;
- ``burnrate``: the alerting policy (a table shipped as data), its burn factors and windows;
- ``sli``: the SLI's error ratio and traffic as PromQL;
- ``rules``: recording and burn-rate alert rules for a sandbox profile;
- ``promtests``: promtool unit tests for those rules, from raw counters;
- ``quality``: alerting strategies simulated and scored;
- ``report``: the budget over recorded history (queries Prometheus);
- ``live``: the queries checked by, and the rules installed into, the running sandbox (for good, or for
  the length of a with block).
"""

from __future__ import annotations

from .. import promfiles
from ..promfiles import PromtoolResult, check_rules, to_yaml
from ..timescale import MIN_SCRAPES_PER_WINDOW
from . import budget
from .budget import (budget_after_incident, budget_burndown, budget_consumed, budget_minutes, budget_remaining,
                     burn_rate, error_budget, time_to_exhaustion)
from .burnrate import (BUDGET_POLICY, DEFAULT_WINDOWS, POLICY_FILE, BudgetShare, BurnWindow, burn_factor,
                       burn_windows, read_budget_policy, validate_slo_window)
from .live import install, rules_installed, validate_queries
from .loader import load_spec, load_specs
from .promtests import generate_tests, test_rules
from .quality import (AlertQuality, ErrorProfile, Outcome, Strategy, alert_quality, burn_rate_strategy,
                      default_error_profiles, multiwindow_strategy, should_page, simulate, threshold_strategy)
from .report import BudgetReport, budget_report
from .rules import generate_rules
from .sli import le_pattern, sli_error_expr, sli_total_expr
from .spec import MAX_OBJECTIVE, AvailabilitySLI, LatencySLI, SLOSpec

__all__ = [
    "SLOSpec", "AvailabilitySLI", "LatencySLI", "BurnWindow", "DEFAULT_WINDOWS", "MAX_OBJECTIVE",
    "ErrorProfile", "Strategy", "Outcome", "AlertQuality", "PromtoolResult",
    "BudgetReport", "BudgetShare", "BUDGET_POLICY", "POLICY_FILE", "read_budget_policy", "MIN_SCRAPES_PER_WINDOW",
    "load_spec", "load_specs",
    "validate_queries", "install", "rules_installed", "validate_slo_window", "burn_windows", "le_pattern",
    "sli_error_expr", "sli_total_expr", "budget_burndown", "budget_report",
    "error_budget", "budget_minutes", "burn_rate", "budget_consumed", "budget_remaining",
    "time_to_exhaustion", "budget_after_incident", "burn_factor",
    "generate_rules", "generate_tests", "check_rules", "test_rules", "to_yaml",
    "threshold_strategy", "burn_rate_strategy", "multiwindow_strategy",
    "default_error_profiles", "simulate", "should_page", "alert_quality",
]

Duration = budget.Duration
promtool = promfiles.promtool
"""``Duration`` and ``promtool`` are not in ``__all__`` but were reachable here before the package; tests run
promtool through ``kit.slo``."""
