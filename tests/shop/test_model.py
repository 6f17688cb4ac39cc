"""One model of the shop (kit/shop/model.py): the service declares exactly its routes, and every client reads it."""

from __future__ import annotations

from fastapi.routing import APIRoute

from kit import history, load, shop
from kit.load import capacity
from kit.shop import faults
from kit.shop.service import ServiceSettings, create_payments_app, create_shop_app

OWN = {"/health", "/metrics"}


def _declared(app) -> set[tuple[str, str]]:
    return {(method, route.path) for route in app.routes if isinstance(route, APIRoute) and route.include_in_schema
            and route.path not in OWN and not route.path.startswith("/admin") for method in route.methods}


def test_each_service_declares_exactly_the_models_business_routes():
    for service, app in (("shop", create_shop_app(ServiceSettings(token="t", payments_url="http://127.0.0.1:9"))),
                         ("payments", create_payments_app(ServiceSettings(token="t")))):
        model = {(route.method, route.path) for route in shop.ROUTES.values() if route.service == service}
        assert _declared(app) == model, service


def test_clients_and_faults_use_the_models_names_paths_and_times():
    assert faults.SERVICES == shop.SERVICES
    assert faults.ROUTES == {"shop": ("catalog", "product", "checkout"), "payments": ("pay",)}
    assert capacity.SERVICE_ROUTES == {"catalog": "/catalog", "product": "/products/{product_id}", "checkout": "/checkout"}
    assert load.ROUTES["checkout"] == ("POST", "/checkout", {"product_id": "p01", "quantity": 1})
    assert load.ROUTES["product"] == ("GET", "/products/p01", None) and load.ROUTES["health"][1] == "/health"
    assert {name: (job, path, method) for name, (job, path, method, *_) in history.ROUTES.items()} == {
        name: (route.service, route.path, route.method) for name, route in shop.ROUTES.items()}
    assert shop.SERVICE_TIME_MS == {"catalog": 20.0, "product": 10.0, "checkout": 25.0, "pay": 20.0}
    assert shop.PRODUCT_IDS == tuple(f"p{i:02d}" for i in range(1, 21))
