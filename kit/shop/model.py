"""The toy shop as data: its services, business routes, catalogue, service times and capacity.

The service itself, its background traffic, load tests, the capacity search, the backfilled history and the
fault admin API all read this one model, so a route is named, spelled and timed the same way everywhere.
Pure data and no web framework, so a notebook can read it without loading the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SERVICES: tuple[str, ...] = ("shop", "payments")


@dataclass(frozen=True)
class Route:
    """One business route of a service.

    ``path`` is the template the service declares, which is also the ``route`` label of its metrics;
    ``service_time_ms`` is the mean of the lognormal time the service spends on a request (``SERVICE_TIME_SIGMA``).
    """

    name: str
    service: str
    method: str
    path: str
    service_time_ms: float

    def request(self, product_id: str = "p01") -> tuple[str, str, dict[str, Any] | None]:
        """(method, concrete path, JSON body or None) of one request a client sends: a checkout orders one of
        ``product_id``; pay is the shop's own call to payments."""
        if self.name == "checkout":
            body: dict[str, Any] | None = {"product_id": product_id, "quantity": 1}
        elif self.name == "pay":
            body = {"order_id": "o-000000000000", "amount": 1.0}
        else:
            body = None
        return self.method, self.path.format(product_id=product_id), body


ROUTES: dict[str, Route] = {route.name: route for route in (
    Route("catalog", "shop", "GET", "/catalog", 20.0),
    Route("product", "shop", "GET", "/products/{product_id}", 10.0),
    Route("checkout", "shop", "POST", "/checkout", 25.0),
    Route("pay", "payments", "POST", "/pay", 20.0),
)}
"""Business routes by short name: the only routes faults slow down, fail or ration."""

SHOP_ROUTES: tuple[str, ...] = tuple(name for name, route in ROUTES.items() if route.service == "shop")

REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    **{name: ROUTES[name].request() for name in SHOP_ROUTES}, "health": ("GET", "/health", None),
}
"""What a single-route load test sends to each shop route, and to ``health`` (outside the simulated capacity):
(method, path, JSON body)."""

USER_HEADER = "X-User-Key"
"""The request header that names the user a request is for: the key a flag rollout buckets by (kit.flags). A
request without it is nobody in particular and gets a rolled-out flag's default, off."""
FLAGS_HEADER = "X-Feature-Flags"
"""The response header listing the flags a request was served with, ``name=on`` or ``name=off`` comma-separated:
each request says which code path it took, so a kill switch's reach is measured on real requests."""
USERS = 1000
"""How many distinct user keys the background traffic and load tests spread their requests over."""


def user_key(n: int) -> str:
    """The ``n``-th user's key (``user-0042``), wrapping around after ``USERS``: a stable spread of keys."""
    return f"user-{n % USERS:04d}"


SERVICE_TIME_MS: dict[str, float] = {name: route.service_time_ms for name, route in ROUTES.items()}
SERVICE_TIME_SIGMA = 0.25
"""Sigma of the lognormal service time: the p99 is about 1.8× the median."""

DEFAULT_CAPACITY: dict[str, tuple[int, int]] = {"shop": (8, 32), "payments": (16, 64)}
"""(worker slots, queue length) per service: at most slots / mean service time requests a second."""

_NAMES = (
    "kettle", "teapot", "mug", "french press", "grinder", "scale", "thermometer", "filter papers",
    "dripper", "carafe", "espresso cups", "tamper", "milk jug", "canister", "spoon set", "tea tin",
    "strainer", "cosy", "tray", "descaler",
)
CATALOG: tuple[dict[str, Any], ...] = tuple(
    {"id": f"p{i:02d}", "name": name, "price": round(4.5 + 3.25 * i, 2)} for i, name in enumerate(_NAMES, start=1)
)
PRODUCT_IDS: tuple[str, ...] = tuple(product["id"] for product in CATALOG)
