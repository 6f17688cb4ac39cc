"""Load tests and capacity: locust and an open-model generator, driven at the sandbox's shop.

``kit.load.run(...)``, ``open_model(...)`` and ``coordinated_omission(...)`` come from
:mod:`kit.load.loadtest`. The package's modules:

- ``loadtest``: run a load test (locust, closed loop; the open-model generator), read its results
- ``capacity``: find the throughput knee, Little's law, worker slots needed, an SLO at a given load
- ``openmodel``: the open-model generator, run as its own process (``python -m kit.load.openmodel``)
- ``locustfile``: the shop's users as locust runs them (never imported by the kit: locust patches the standard library)"""

from __future__ import annotations

from .loadtest import (
    ROUTES,
    CoordinatedOmission,
    LoadResult,
    OpenModelResult,
    Ramp,
    Step,
    coordinated_omission,
    open_model,
    require_measured,
    run,
    stages,
    validate_target,
)

__all__ = [
    "ROUTES", "coordinated_omission", "CoordinatedOmission", "LoadResult", "open_model", "OpenModelResult",
    "Ramp", "require_measured", "run", "stages", "Step", "validate_target",
]
