"""The sandbox's toy shop and its payments service: one model of them, the services, faults and traffic.

The model (routes, catalog, service times, capacity) comes from :mod:`kit.shop.model` and is what every
other part of the kit reads. The package's modules:

- ``model``: the shop's routes, catalog and simulated service times
- ``service``: the shop and payments as FastAPI apps (``python -m kit.shop.service shop|payments``)
- ``faults``: the fault kinds and feature flags, and the client of the services' admin API
- ``traffic``: light background traffic so every SLI has data (``python -m kit.shop.traffic``)"""

from __future__ import annotations

from .model import (
    CATALOG,
    DEFAULT_CAPACITY,
    PRODUCT_IDS,
    REQUESTS,
    ROUTES,
    SERVICE_TIME_MS,
    SERVICE_TIME_SIGMA,
    SERVICES,
    SHOP_ROUTES,
    USER_HEADER,
    Route,
    user_key,
)

__all__ = [
    "CATALOG", "DEFAULT_CAPACITY", "PRODUCT_IDS", "REQUESTS", "ROUTES", "SERVICE_TIME_MS", "SERVICE_TIME_SIGMA",
    "SERVICES", "SHOP_ROUTES", "USER_HEADER", "Route", "user_key",
]
