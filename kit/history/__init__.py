"""Weeks of synthetic but realistic metric history, with known incidents, backfilled into the sandbox.

The package's modules:

- ``simulation``: the shop and payments simulated minute by minute, as OpenMetrics text (``generate``)
- ``backfill``: that history turned into TSDB blocks by promtool and backfilled into Prometheus (``backfill``)

``load`` and ``LoadResult`` are the names ``backfill`` and ``BackfillResult`` had before: "load" in this
kit means a load test, so a history is backfilled. They stay for the notebooks that call them.
"""

from __future__ import annotations

from .backfill import BackfillResult, backfill, live_start
from .simulation import (
    DEFAULT_SEED, INCIDENTS, JOBS, MAX_DAYS, ROUTES, History, Incident, IncidentSpec, generate, incidents,
)

load = backfill
LoadResult = BackfillResult

__all__ = [
    "DEFAULT_SEED", "INCIDENTS", "JOBS", "MAX_DAYS", "ROUTES", "BackfillResult", "History", "Incident",
    "IncidentSpec", "LoadResult", "backfill", "generate", "incidents", "live_start", "load",
]
