"""The shop and payments as real processes: endpoints, metrics, capacity, faults and the admin API."""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from services import Services, running_services

from kit.config import REPO_ROOT
from kit.errors import InvalidInput
from kit.procs import free_port, wait_until
from kit.releases.flags import reset_flags, set_flag
from kit.shop.faults import FLAGS, clear_faults, list_faults, set_fault
from kit.shop.service import Capacity, ServiceSettings, create_payments_app, create_shop_app

pytestmark = pytest.mark.quiet  # latency bounds of faults and health paths: measured with the CPU to themselves

QUEUE = 4


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Services:
    with running_services(tmp_path_factory.mktemp("state"), "--queue", str(QUEUE)) as started:
        yield started


@pytest.fixture(autouse=True)
def clean(request):
    """Every test starts and ends with no faults and default flags."""
    if "services" not in request.fixturenames:
        yield
        return
    services: Services = request.getfixturevalue("services")

    def reset() -> None:
        clear_faults(config=services.config)
        reset_flags(config=services.config)

    reset()
    yield
    reset()


def metric(url: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`, from a live /metrics."""
    response = httpx.get(f"{url}/metrics")
    response.raise_for_status()
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def samples(url: str) -> list:
    text = httpx.get(f"{url}/metrics").text
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def timed(method: str, url: str, **kwargs) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = httpx.request(method, url, timeout=10, **kwargs)
    return response, time.perf_counter() - start


# ---------------------------------------------------------------- endpoints and metrics


def test_endpoints_answer(services):
    catalog = httpx.get(f"{services.shop}/catalog")
    assert catalog.status_code == 200
    products = catalog.json()
    assert len(products) >= 20 and {"id", "name", "price"} <= products[0].keys()
    first = httpx.get(f"{services.shop}/products/{products[0]['id']}")
    assert first.status_code == 200 and first.json() == products[0]
    missing = httpx.get(f"{services.shop}/products/p999")
    assert missing.status_code == 404 and missing.json()["error"].startswith("product_id:")
    for url in (services.shop, services.payments):
        health = httpx.get(f"{url}/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"


def test_openapi_lists_the_shop_routes(services):
    paths = httpx.get(f"{services.shop}/openapi.json").json()["paths"]
    assert {"/catalog", "/products/{product_id}", "/checkout", "/health"} <= paths.keys()
    assert "post" in paths["/checkout"]


def test_metrics_use_route_templates(services):
    for product_id in ("p07", "p11"):
        assert httpx.get(f"{services.shop}/products/{product_id}").status_code == 200
    assert httpx.get(f"{services.shop}/no/such/path/4711").status_code == 404
    httpx.get(f"{services.shop}/metrics")

    found = samples(services.shop)
    names = {sample.name for sample in found}
    assert {
        "http_requests_total", "http_request_duration_seconds_bucket", "http_requests_in_flight", "build_info",
        "payments_client_requests_total", "payments_client_duration_seconds_bucket", "shop_capacity_slots",
        "shop_queue_depth", "shop_requests_shed_total",
    } <= names
    routes = {sample.labels["route"] for sample in found if sample.name == "http_requests_total"}
    assert "/products/{product_id}" in routes and "other" in routes
    assert not any("p07" in route or "4711" in route or route == "/metrics" for route in routes), routes
    assert metric(services.shop, "http_requests_total", route="/products/{product_id}", code="200") >= 2
    buckets = {s.labels["le"] for s in found if s.name == "http_request_duration_seconds_bucket"}
    assert {"0.075", "0.3", "0.75", "1.5"} <= buckets
    assert metric(services.shop, "build_info", version="1.0.0", service="shop") == 1
    assert metric(services.payments, "build_info", version="1.0.0", service="payments") == 1
    assert metric(services.shop, "shop_capacity_slots") == 8


def test_checkout_goes_through_payments(services):
    ok_before = metric(services.shop, "payments_client_requests_total", outcome="ok")
    paid_before = metric(services.payments, "http_requests_total", route="/pay", code="200")
    response = httpx.post(f"{services.shop}/checkout", json={"product_id": "p03", "quantity": 2})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "paid"
    assert metric(services.shop, "payments_client_requests_total", outcome="ok") == ok_before + 1
    assert metric(services.payments, "http_requests_total", route="/pay", code="200") == paid_before + 1


def test_checkout_rejects_a_bad_order(services):
    response = httpx.post(f"{services.shop}/checkout", json={"product_id": "p03", "quantity": 0})
    assert response.status_code == 422 and response.json()["error"].startswith("quantity:")


# ---------------------------------------------------------------- admin API


def test_admin_needs_the_token(services):
    for url in (services.shop, services.payments):
        assert httpx.get(f"{url}/admin/faults").status_code == 401
        wrong = httpx.put(
            f"{url}/admin/faults/latency", json={"ms": 100}, headers={"Authorization": "Bearer wrong"}
        )
        assert wrong.status_code == 401
        assert httpx.get(f"{url}/admin/faults", headers=services.admin).json() == {}


def test_client_reports_a_refused_token(services, tmp_path):
    stale = services.config.with_(state_dir=str(tmp_path))
    stale.token_file.write_text("stale-token")
    with pytest.raises(InvalidInput) as caught:
        list_faults(config=stale)
    assert caught.value.field == "token"


def test_invalid_admin_input_changes_nothing(services):
    set_fault("errors", ratio=0.5, route="catalog", config=services.config)
    expected = {"shop": {"errors": {"ratio": 0.5, "route": "catalog", "code": 500}}, "payments": {}}
    assert list_faults(services.config) == expected

    def put(path: str, **kwargs) -> httpx.Response:
        return httpx.put(f"{services.shop}/admin/{path}", headers=services.admin, **kwargs)

    for path, body, status, field in [
        ("faults/latency", {"ms": -5}, 400, "ms"),
        ("faults/errors", {"ratio": 2}, 400, "ratio"),
        ("faults/errors", {"ratio": 1, "colour": "red"}, 400, "colour"),
        ("faults/capacity", {"slots": "many"}, 400, "slots"),
        ("faults/down", {}, 400, "kind"),
        ("faults/meteor", {}, 404, "kind"),
    ]:
        response = put(path, json=body)
        assert response.status_code == status, (path, body, response.text)
        assert response.json()["error"].startswith(f"{field}: "), response.json()
    unknown = put("faults/meteor", json={}).json()["error"]
    assert "latency" in unknown and "broken_metrics" in unknown
    assert put("faults/latency", content=b"[1, 2]").json()["error"].startswith("body: ")
    assert put("faults/latency", content=b"{not json").json()["error"].startswith("body: ")

    assert list_faults(services.config) == expected
    assert httpx.get(f"{services.shop}/admin/flags", headers=services.admin).json() == {
        name: "on" if flag.default else "off" for name, flag in FLAGS.items()
    }
    assert metric(services.shop, "shop_capacity_slots") == 8


def test_unreadable_or_out_of_range_input_is_a_4xx_naming_the_field(services):
    """Inputs the fuzzer found answered 500 (or were taken): each is refused, named, and changes nothing."""
    set_fault("errors", ratio=0.5, route="catalog", config=services.config)
    before = list_faults(services.config), httpx.get(f"{services.shop}/admin/flags", headers=services.admin).json()
    deep = b"[" * 100_000 + b"]" * 100_000
    huge = "1" + "0" * 400  # a JSON integer with no float of its size
    admin, shop, payments = f"{services.shop}/admin", services.shop, services.payments
    for method, url, content, status, field in [
        ("PUT", f"{admin}/faults/latency", deep, 400, "body"),
        ("PUT", f"{admin}/faults/capacity", f'{{"slots": {huge}}}'.encode(), 400, "slots"),
        ("PUT", f"{admin}/faults/latency", f'{{"ms": -{huge}}}'.encode(), 400, "ms"),
        ("POST", f"{shop}/checkout", deep, 400, "body"),
        ("POST", f"{shop}/checkout", b'{"product_id": "p01", "quantity": 1' + b"0" * 5000 + b"}", 400, "body"),
        ("POST", f"{shop}/checkout", b'{"product_id": "p\xff01"}', 400, "body"),
        ("POST", f"{shop}/checkout", b'{"product_id": "p01", "quantity": "2"}', 422, "quantity"),
        ("POST", f"{shop}/checkout", b'{"product_id": "p01", "quantity": true}', 422, "quantity"),
        ("POST", f"{shop}/checkout", b'{"product_id": "p01", "coupon": "FREE"}', 422, "coupon"),
        ("POST", f"{shop}/checkout", b'{"product_id": "p99"}', 404, "product_id"),
        ("POST", f"{payments}/pay", b'{"order_id": "o-1", "amount": 1e400}', 422, "amount"),
        ("POST", f"{payments}/pay", b'{"order_id": "o-1", "amount": Infinity}', 422, "amount"),
    ]:
        response = httpx.request(
            method, url, content=content, headers={**services.admin, "Content-Type": "application/json"}
        )
        assert response.status_code == status, (url, content[:60], response.text[:200])
        assert response.json()["field"] == field, (url, content[:60], response.json())
    whole = httpx.post(f"{shop}/checkout", json={"product_id": "p01", "quantity": 2.0})
    assert whole.status_code == 200 and whole.json()["amount"] == 2 * 7.75, whole.text
    assert (list_faults(services.config),
            httpx.get(f"{services.shop}/admin/flags", headers=services.admin).json()) == before


def test_a_405_allows_every_method_of_its_path(services):
    response = httpx.request("PATCH", f"{services.shop}/admin/faults/latency", headers=services.admin)
    assert response.status_code == 405 and response.headers["Allow"] == "DELETE, PUT"
    assert httpx.post(f"{services.shop}/admin/faults", headers=services.admin).headers["Allow"] == "DELETE, GET"


def test_openapi_documents_each_fault_and_the_token(services):
    document = httpx.get(f"{services.shop}/openapi.json").json()
    latency = document["paths"]["/admin/faults/latency"]["put"]
    body = latency["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["ms"] and body["properties"]["ms"]["maximum"] == 60000
    assert latency["security"] and "401" in latency["responses"]
    assert "/admin/faults/down" not in document["paths"]
    assert "/admin/faults/down" in httpx.get(f"{services.payments}/openapi.json").json()["paths"]


def test_flags(services):
    assert set_flag("recommendations", True, config=services.config)["recommendations"] == "on"
    assert httpx.get(f"{services.shop}/admin/flags", headers=services.admin).json()["recommendations"] == "on"
    catalog = httpx.get(f"{services.shop}/catalog")
    assert catalog.status_code == 200 and catalog.headers["X-Feature-Flags"] == "recommendations=on"
    assert httpx.get(f"{services.payments}/admin/flags", headers=services.admin).json() == {}
    assert httpx.put(f"{services.shop}/admin/flags/recommendations", json={"enabled": False},
                     headers=services.admin).status_code == 404  # flags change in the flag file only


# ---------------------------------------------------------------- faults


def test_errors_fault_fails_the_chosen_route(services):
    failed_before = metric(services.shop, "http_requests_total", route="/checkout", code="500")
    assert set_fault("errors", ratio=1, route="checkout", config=services.config)["code"] == 500
    for _ in range(5):
        assert httpx.post(f"{services.shop}/checkout", json={"product_id": "p01"}).status_code == 500
    assert httpx.get(f"{services.shop}/catalog").status_code == 200
    assert metric(services.shop, "http_requests_total", route="/checkout", code="500") == failed_before + 5


def test_latency_fault_slows_business_routes_only(services):
    # A request the fault applies to cannot be answered before its 1 s; one it spares is answered in
    # milliseconds, so "under 1 s" tells them apart with room for a machine a hundred times slower.
    set_fault("latency", ms=1000, config=services.config)
    with ThreadPoolExecutor(1) as pool:  # the spared routes are asked while the slowed one waits
        slowed = pool.submit(timed, "GET", f"{services.shop}/catalog")
        health, elapsed = timed("GET", f"{services.shop}/health")
        assert health.status_code == 200 and elapsed < 1.0
        admin, elapsed = timed("GET", f"{services.shop}/admin/faults", headers=services.admin)
        assert admin.status_code == 200 and elapsed < 1.0
        response, elapsed = slowed.result()
    assert response.status_code == 200 and elapsed >= 1.0

    set_fault("latency", ms=1000, route="catalog", config=services.config)
    _, elapsed = timed("GET", f"{services.shop}/products/p01")
    assert elapsed < 1.0


def test_capacity_fault_queues_then_sheds(services):
    set_fault("capacity", slots=1, config=services.config)
    set_fault("latency", ms=1000, route="product", config=services.config)
    assert metric(services.shop, "shop_capacity_slots") == 1
    shed_before = metric(services.shop, "shop_requests_shed_total")

    async def burst(n: int) -> list[int]:
        async with httpx.AsyncClient(timeout=10) as client:
            responses = await asyncio.gather(*(client.get(f"{services.shop}/catalog") for _ in range(n)))
        return [response.status_code for response in responses]

    with ThreadPoolExecutor(1) as pool:
        # A slowed product request takes the one slot for a second (the shop takes it in the same step of its
        # event loop as it counts the request in flight); the burst then finds the slot busy and the queue empty.
        holder = pool.submit(httpx.get, f"{services.shop}/products/p01", timeout=10)
        assert wait_until(lambda: metric(services.shop, "http_requests_in_flight") == 1, timeout=10)
        codes = asyncio.run(burst(24))
        assert holder.result().status_code == 200
    assert set(codes) == {200, 503}, codes
    assert codes.count(200) >= QUEUE
    assert metric(services.shop, "shop_requests_shed_total") == shed_before + codes.count(503)
    assert httpx.get(f"{services.shop}/health").status_code == 200

    clear_faults("capacity", config=services.config)
    assert metric(services.shop, "shop_capacity_slots") == 8
    assert set(list_faults(services.config)["shop"]) == {"latency"}


def test_broken_metrics_silences_the_monitor(services):
    set_fault("broken_metrics", config=services.config)
    assert httpx.get(f"{services.shop}/metrics").status_code == 500
    assert httpx.get(f"{services.shop}/catalog").status_code == 200
    clear_faults("broken_metrics", config=services.config)
    assert httpx.get(f"{services.shop}/metrics").status_code == 200


def test_empty_metrics_answer_200_with_no_samples(services):
    set_fault("broken_metrics", mode="empty", config=services.config)
    blank = httpx.get(f"{services.shop}/metrics")
    assert blank.status_code == 200 and blank.text == ""
    clear_faults("broken_metrics", config=services.config)
    assert "build_info" in httpx.get(f"{services.shop}/metrics").text


def _rss(services) -> float:
    return metric(services.shop, "process_resident_memory_bytes")


def test_memory_leak_grows_resident_memory_until_cleared(services):
    assert metric(services.shop, "process_memory_limit_bytes") == 512 * 2**20
    before = _rss(services)
    set_fault("memory_leak", mb_per_s=40, config=services.config)
    assert wait_until(lambda: _rss(services) > before + 30 * 2**20, timeout=10)
    clear_faults("memory_leak", config=services.config)
    assert wait_until(lambda: _rss(services) < before + 20 * 2**20, timeout=10)


def test_slow_recommendations_slow_the_catalog_only_while_the_flag_is_on(services):
    # Service times are lognormal around their mean (sigma 0.25): at +2000 ms a request under 750 ms is a
    # 3.9-sigma event (6 in 100,000), and a request the fault spares (mean 20 ms) leaves 730 ms for the machine.
    set_fault("slow_recommendations", ms=2000, config=services.config)
    assert timed("GET", f"{services.shop}/catalog")[1] < 0.75
    set_flag("recommendations", True, config=services.config)
    try:
        with ThreadPoolExecutor(1) as pool:  # the product page is asked while the slowed catalog waits
            slowed = pool.submit(timed, "GET", f"{services.shop}/catalog")
            assert timed("GET", f"{services.shop}/products/p01")[1] < 0.75
            assert slowed.result()[1] > 0.75
    finally:
        set_flag("recommendations", False, config=services.config)
        clear_faults("slow_recommendations", config=services.config)


def test_bad_deploy_ships_version_two(services):
    set_fault("bad_deploy", config=services.config)
    assert metric(services.shop, "build_info", version="2.0.0") == 1
    assert metric(services.shop, "build_info", version="1.0.0") == 0
    _, elapsed = timed("GET", f"{services.shop}/products/p02")
    assert elapsed >= 0.08
    clear_faults("bad_deploy", config=services.config)
    assert metric(services.shop, "build_info", version="1.0.0") == 1
    assert metric(services.shop, "build_info", version="2.0.0") == 0


def test_payments_down_makes_checkout_502(services):
    errors_before = metric(services.shop, "payments_client_requests_total", outcome="error")
    set_fault("payments_down", config=services.config)
    assert list_faults(services.config)["payments"] == {"down": {}}
    response = httpx.post(f"{services.shop}/checkout", json={"product_id": "p01"})
    assert response.status_code == 502, response.text
    assert httpx.get(f"{services.payments}/health").status_code == 503
    assert httpx.get(f"{services.shop}/health").status_code == 200
    assert metric(services.shop, "payments_client_requests_total", outcome="error") == errors_before + 1

    clear_faults("payments_down", config=services.config)
    assert httpx.post(f"{services.shop}/checkout", json={"product_id": "p01"}).status_code == 200


def test_slow_payments_make_checkout_504_at_the_timeout(services):
    timeouts_before = metric(services.shop, "payments_client_requests_total", outcome="timeout")
    set_fault("payments_slow", ms=5000, config=services.config)
    response, elapsed = timed("POST", f"{services.shop}/checkout", json={"product_id": "p01"})
    assert response.status_code == 504, response.text
    assert 1.0 <= elapsed < 5.0  # at the shop's own 1 s timeout, not when payments would have answered
    assert metric(services.shop, "payments_client_requests_total", outcome="timeout") == timeouts_before + 1


def test_clear_restores_everything(services):
    set_fault("latency", ms=5000, config=services.config)
    set_fault("capacity", slots=2, config=services.config)
    set_fault("bad_deploy", config=services.config)
    set_fault("broken_metrics", config=services.config)
    set_fault("errors", ratio=1, route="pay", service="payments", config=services.config)
    assert set(list_faults(services.config)["shop"]) == {"latency", "capacity", "bad_deploy", "broken_metrics"}

    clear_faults(config=services.config)
    assert list_faults(services.config) == {"shop": {}, "payments": {}}
    assert metric(services.shop, "shop_capacity_slots") == 8
    assert metric(services.shop, "build_info", version="1.0.0") == 1
    response, elapsed = timed("POST", f"{services.shop}/checkout", json={"product_id": "p01"})
    assert response.status_code == 200 and elapsed < 5.0  # the latency fault, had it survived, would take 5 s


# ---------------------------------------------------------------- start-up refusals


def _run_service(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kit.shop.service", *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30
    )


def test_refuses_to_start_without_a_token(tmp_path):
    missing = tmp_path / "admin-token"
    result = _run_service("payments", "--port", str(free_port()), "--token-file", str(missing))
    assert result.returncode == 2 and f"{missing} does not exist" in result.stderr
    missing.write_text("  \n")
    result = _run_service("payments", "--port", str(free_port()), "--token-file", str(missing))
    assert result.returncode == 2 and "is empty" in result.stderr


def test_refuses_a_remote_host_unless_asked(tmp_path):
    token = tmp_path / "admin-token"
    token.write_text("secret")
    result = _run_service("payments", "--host", "0.0.0.0", "--port", str(free_port()), "--token-file", str(token))
    assert result.returncode == 2 and "--allow-remote" in result.stderr


# ---------------------------------------------------------------- in process


def test_apps_build_in_one_process_with_their_own_registries():
    async def scenario() -> tuple[int, int]:
        apps = [create_shop_app(ServiceSettings(token="t", payments_url="http://127.0.0.1:9")) for _ in range(2)]
        apps.append(create_payments_app(ServiceSettings(token="t")))
        shop = apps[0]
        async with shop.router.lifespan_context(shop):
            transport = httpx.ASGITransport(shop)
            async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
                catalog = await client.get("/catalog")
                checkout = await client.post("/checkout", json={"product_id": "p01"})
        return catalog.status_code, checkout.status_code

    assert asyncio.run(scenario()) == (200, 504)


def test_bad_deploy_fails_a_third_of_checkouts():
    # The drill's time to page rests on this share: the first failed checkout is the earliest a page can come.
    async def scenario() -> list[int]:
        refused = f"http://127.0.0.1:{free_port()}"  # the checkouts it lets through fail fast downstream
        shop = create_shop_app(ServiceSettings(token="t", payments_url=refused, slots=2000, payments_timeout_s=0.2))
        async with shop.router.lifespan_context(shop):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(shop), base_url="http://shop",
                                         headers={"Authorization": "Bearer t"}) as client:
                assert (await client.put("/admin/faults/bad_deploy", json={})).status_code == 200
                answers = []
                for _ in range(3):  # batches: one gather of all 300 is slower than the sum of these
                    answers += await asyncio.gather(*(client.post("/checkout", json={"product_id": "p01"})
                                                      for _ in range(100)))
        return [a.status_code for a in answers]

    codes = asyncio.run(scenario())
    assert 0.25 <= codes.count(500) / len(codes) <= 0.42, collections.Counter(codes)  # a third ± 3 sd


def test_a_secret_drill_hides_the_fault_list_unless_revealed(tmp_path):
    secret = tmp_path / "secret-drill"

    async def listings() -> list[tuple[int, dict]]:
        app = create_payments_app(ServiceSettings(token="t", secret_file=secret))
        seen = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(transport=transport, base_url="http://payments",
                                         headers={"Authorization": "Bearer t"}) as client:
                await client.put("/admin/faults/latency", json={"ms": 1500})
                await client.put("/admin/faults/errors", json={"ratio": 0.1})
                seen.append(await client.get("/admin/faults"))
                secret.touch()
                seen.append(await client.get("/admin/faults"))
                seen.append(await client.delete("/admin/faults/errors"))
                seen.append(await client.get("/admin/faults", params={"reveal": "true"}))
                secret.unlink()
                seen.append(await client.get("/admin/faults"))
        return [(r.status_code, r.json()) for r in seen]

    before, hidden, cleared, revealed, after = asyncio.run(listings())
    assert before[0] == 200 and set(before[1]) == {"latency", "errors"}
    status, body = hidden
    assert status == 403 and body["field"] == "reveal" and "latency" not in json.dumps(body)
    assert "kit fault list --reveal" in body["problem"]
    assert cleared == (200, {}), "a mitigation's clear works in a secret drill and lists nothing"
    assert revealed == after == (200, {"latency": {"ms": 1500.0, "percent": 100.0, "route": None}})


def test_capacity_queues_in_order_sheds_when_full_and_resizes():
    async def scenario() -> None:
        capacity = Capacity(slots=1, queue=2)
        assert await capacity.acquire()
        waiting = [asyncio.create_task(capacity.acquire()) for _ in range(2)]
        await asyncio.sleep(0)
        assert capacity.queued == 2
        assert await asyncio.wait_for(capacity.acquire(), timeout=1) is None
        capacity.release()
        await asyncio.sleep(0)
        assert waiting[0].done() and not waiting[1].done()
        capacity.resize(2)
        await asyncio.sleep(0)
        assert waiting[1].done() and capacity.busy == 2 and capacity.queued == 0
        capacity.resize(1)
        capacity.release()
        late = asyncio.create_task(capacity.acquire())
        await asyncio.sleep(0)
        assert not late.done(), "a smaller capacity must hold new requests back"
        late.cancel()
        await asyncio.gather(late, return_exceptions=True)
        assert capacity.queued == 0 and capacity.busy == 1

    asyncio.run(scenario())
