"""The toy shop and its downstream payments service, each a FastAPI app run by uvicorn.

Business routes are served through simulated capacity (worker slots, a bounded
queue, service times drawn from a seeded RNG) so the throughput knee, queueing
delay and load shedding are the same on every machine. Faults change behaviour
at run time through a token-protected admin API; feature flags come from a flagd
flag file the shop reloads as it changes (kit.flags), evaluated per request for
the user it names. /health and /admin stay outside capacity and faults so they
are never the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Security
from fastapi import Path as PathParameter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from openfeature import api as openfeature
from openfeature.evaluation_context import EvaluationContext
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..config import LOOPBACK
from ..errors import InvalidInput
from ..flags.provider import FlagFileProvider
from ..metrics import BAD_VERSION, LATENCY_BUCKETS, VERSION
from .faults import (
    FAULT_KINDS,
    FLAGS,
    SERVICES,
    UnknownName,
    fault_body_schema,
    fault_kind,
    validate_fault,
)
from .model import (
    CATALOG,
    DEFAULT_CAPACITY,
    FLAGS_HEADER,
    PRODUCT_IDS,
    ROUTES,
    SERVICE_TIME_MS,
    SERVICE_TIME_SIGMA,
    USER_HEADER,
)
from .versions import TRACKS, VERSIONS, shop_version

RECOMMENDATIONS_MS = 5.0
NEW_CHECKOUT_MS = 15.0
MEMORY_LIMIT_BYTES = 512 * 2**20
"""The memory a service may use, as a container limit would set it; the memory-leak alert compares with it."""
LEAK_TICK_S = 0.25
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_PRODUCTS = {product["id"]: product for product in CATALOG}


@dataclass(frozen=True)
class ServiceSettings:
    """How one service process runs; slots/queue default to the service's own capacity."""

    token: str
    slots: int | None = None
    queue: int | None = None
    payments_url: str | None = None
    instrumentation: bool = True
    seed: int = 0
    payments_timeout_s: float = 1.0
    secret_file: Path | None = None
    """While this file exists (a secret drill runs), GET /admin/faults answers only with ?reveal=true."""
    version: str = VERSION
    """The release this process runs (kit.shop.versions); the bad_deploy fault switches it to 2.0.0 while set."""
    track: str = "stable"
    """stable, or canary for a release being tried beside it (kit.releases.canary); reported in build_info."""
    flags_file: Path | None = None
    """The flagd flag file the feature flags are evaluated from, reloaded when it changes (kit.flags); None:
    every flag serves its code default."""

    def __post_init__(self) -> None:
        if not self.token:
            raise InvalidInput("token", "must not be empty: the admin API would be open to anyone")
        if self.slots is not None and self.slots < 1:
            raise InvalidInput("slots", f"need at least 1 worker slot, got {self.slots}")
        if self.queue is not None and self.queue < 0:
            raise InvalidInput("queue", f"must be 0 or more, got {self.queue}")
        if self.payments_timeout_s <= 0:
            raise InvalidInput("payments_timeout_s", f"must be more than 0, got {self.payments_timeout_s}")
        shop_version(self.version)
        if self.track not in TRACKS:
            raise InvalidInput("track", f"{self.track!r}: choose one of {', '.join(TRACKS)}")


class Capacity:
    """N worker slots and a bounded FIFO queue; resizable at run time for the capacity fault."""

    def __init__(self, slots: int, queue: int) -> None:
        self.slots = slots
        self.queue = queue
        self.busy = 0
        self._waiters: deque[asyncio.Future[float]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> float | None:
        """Take a slot, waiting in the queue if needed: the moment it was granted, or None when shed.

        Service time counts from the grant, not from when the waiting coroutine
        resumes, so event-loop hand-off delays do not shrink the simulated capacity.
        """
        if self.busy < self.slots and not self._waiters:
            self.busy += 1
            return time.monotonic()
        if len(self._waiters) >= self.queue:
            return None
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.busy -= 1
        self._wake()

    def resize(self, slots: int) -> None:
        """Change the slot count; busy requests above a smaller count finish normally."""
        self.slots = slots
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.busy < self.slots:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.busy += 1
                waiter.set_result(time.monotonic())


class _Runtime:
    """Per-app state: capacity, faults, flags, the seeded RNG and the app's own metrics registry."""

    def __init__(self, service: str, settings: ServiceSettings) -> None:
        default_slots, default_queue = DEFAULT_CAPACITY[service]
        self.service = service
        self.settings = settings
        self.slots = settings.slots or default_slots
        self.capacity = Capacity(self.slots, default_queue if settings.queue is None else settings.queue)
        self.rng = random.Random(settings.seed)
        self.faults: dict[str, dict[str, Any]] = {}
        self.registry = CollectorRegistry()
        self.flag_defaults = {flag.name: flag.default for flag in FLAGS.values() if flag.service == service}
        self.flag_provider: FlagFileProvider | None = None
        self.flag_client = openfeature.get_client(f"{service}-{id(self)}")  # this app's own provider, by domain
        if self.flag_defaults:
            self.flag_evaluations = Counter(
                "feature_flag_evaluations", "Feature flags evaluated for requests, by flag, value served and "
                "OpenFeature reason (DISABLED: killed, the code default served)", ("flag", "value", "reason"),
                registry=self.registry,
            )
            loads = Counter("feature_flag_file_loads", "Changed flag files looked at, by outcome (served, or "
                            "refused and the last good flags kept)", ("outcome",), registry=self.registry)
            if settings.flags_file is not None:
                self.flag_provider = FlagFileProvider(
                    settings.flags_file, self.flag_defaults,
                    on_load=lambda served: loads.labels("served" if served else "refused").inc())
        self.shed_total: Counter | None = None
        self.http_requests = Counter(
            "http_requests_total", "Requests answered, by route template, method and status code",
            ("route", "method", "code"), registry=self.registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds", "Time to answer a request, by route template and method",
            ("route", "method"), buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge("http_requests_in_flight", "Requests being answered right now", registry=self.registry)
        self._build_info = Gauge(
            "build_info", "Version of the running service (always 1)", ("version", "service", "track"),
            registry=self.registry,
        )
        self._set_version(self.version)
        ProcessCollector(registry=self.registry)
        Gauge("process_memory_limit_bytes", "Memory this process may use before it is killed",
              registry=self.registry).set(MEMORY_LIMIT_BYTES)
        self.leaked: list[bytes] = []
        self._leak_task: asyncio.Task | None = None

    @property
    def version(self) -> str:
        return BAD_VERSION if "bad_deploy" in self.faults else self.settings.version

    @asynccontextmanager
    async def flags_served(self) -> AsyncIterator[None]:
        """Evaluate this app's flags from its flag file (if it has one) while the block runs."""
        if self.flag_provider is None:
            yield
            return
        openfeature.set_provider_and_wait(self.flag_provider, self.flag_client.domain)
        try:
            yield
        finally:
            self.flag_provider.shutdown()

    def flags_for(self, user: str | None, response: Response, *names: str) -> dict[str, bool]:
        """Evaluate flags ``names`` for ``user`` (the request's ``USER_HEADER``, None for nobody in particular) and
        name what was served in the response's ``FLAGS_HEADER``.

        A flag that is killed (DISABLED), missing from the file, or that has no good file yet serves its code
        default, ``FLAGS[name].default``. That default must be the safe path: the code as it was before the
        flag, which is why every flag of the shop defaults to off.
        """
        context = EvaluationContext(user) if user else None
        served = {}
        for name in names:
            details = self.flag_client.get_boolean_details(name, self.flag_defaults[name], context)
            served[name] = details.value
            self.flag_evaluations.labels(name, "on" if details.value else "off", str(details.reason)).inc()
        response.headers[FLAGS_HEADER] = ",".join(f"{name}={'on' if on else 'off'}" for name, on in served.items())
        return served

    def _set_version(self, version: str) -> None:
        self._build_info.clear()
        self._build_info.labels(version, self.service, self.settings.track).set(1)

    def set_fault(self, kind: str, params: dict[str, Any]) -> None:
        self.faults[kind] = params
        if kind == "capacity":
            self.capacity.resize(params["slots"])
        if kind == "bad_deploy":
            self._set_version(BAD_VERSION)
        if kind == "memory_leak" and self._leak_task is None:
            self._leak_task = asyncio.get_running_loop().create_task(self._leak())

    def clear_fault(self, kind: str) -> None:
        self.faults.pop(kind, None)
        if kind == "capacity":
            self.capacity.resize(self.slots)
        if kind == "bad_deploy":
            self._set_version(self.settings.version)
        if kind == "memory_leak":
            if self._leak_task is not None:
                self._leak_task.cancel()
                self._leak_task = None
            self.leaked.clear()

    async def _leak(self) -> None:
        """Hold on to written (so resident) memory at the fault's rate, stopping at the memory limit."""
        held = 0
        while True:
            await asyncio.sleep(LEAK_TICK_S)
            step = int(self.faults["memory_leak"]["mb_per_s"] * 2**20 * LEAK_TICK_S)
            if held + step < MEMORY_LIMIT_BYTES:
                self.leaked.append(b"\xa5" * step)
                held += step

    @asynccontextmanager
    async def serving(self, route: str, flags: Mapping[str, bool] | None = None) -> AsyncIterator[None]:
        """Hold a worker slot for the route's service time, with active faults and the ``flags`` served applied."""
        granted = await self.capacity.acquire()
        if granted is None:
            if self.shed_total is not None:
                self.shed_total.inc()
            raise HTTPException(503, f"{self.service} is at capacity; request shed")
        try:
            await asyncio.sleep(max(0.0, granted + self._service_time_ms(route, flags or {}) / 1000 - time.monotonic()))
            self._maybe_fail(route)
            yield
        finally:
            self.capacity.release()

    def _service_time_ms(self, route: str, flags: Mapping[str, bool]) -> float:
        mean = SERVICE_TIME_MS[route]
        if route == "catalog" and flags.get("recommendations"):
            mean += RECOMMENDATIONS_MS + self.faults.get("slow_recommendations", {}).get("ms", 0.0)
        if route == "checkout" and flags.get("new_checkout"):
            mean = NEW_CHECKOUT_MS
        ms = self.rng.lognormvariate(math.log(mean) - SERVICE_TIME_SIGMA**2 / 2, SERVICE_TIME_SIGMA)
        release = VERSIONS[self.version]
        ms += release.extra_ms + (release.product_extra_ms if route == "product" else 0.0)
        latency = self.faults.get("latency")
        if latency and latency["route"] in (None, route) and self.rng.random() * 100 < latency["percent"]:
            ms += latency["ms"]
        return ms

    def _maybe_fail(self, route: str) -> None:
        errors = self.faults.get("errors")
        if errors and errors["route"] in (None, route) and self.rng.random() < errors["ratio"]:
            raise HTTPException(errors["code"], "internal error")
        release = VERSIONS[self.version]
        if route == "checkout" and release.checkout_failure_ratio and self.rng.random() < release.checkout_failure_ratio:
            raise HTTPException(500, "internal error")
        if release.extra_error_ratio and self.rng.random() < release.extra_error_ratio:
            raise HTTPException(500, "internal error")


class _InstrumentMiddleware:
    """RED metrics per route template, as plain ASGI: BaseHTTPMiddleware would cost more than it measures."""

    def __init__(self, app: Callable[..., Awaitable[None]], runtime: _Runtime) -> None:
        self.app = app
        self.requests = runtime.http_requests
        self.duration = runtime.http_duration
        self.in_flight = runtime.in_flight
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_record_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = time.perf_counter()
        self.in_flight.inc()
        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            elapsed = time.perf_counter() - start
            self.in_flight.dec()
            route = getattr(scope.get("route"), "path", None) or "other"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            histogram = self._histograms.get((route, method))
            if histogram is None:
                histogram = self._histograms[(route, method)] = self.duration.labels(route, method)
            counter = self._counters.get((route, method, status))
            if counter is None:
                counter = self._counters[(route, method, status)] = self.requests.labels(route, method, str(status))
            histogram.observe(elapsed)
            counter.inc()


class _ForwardedPrefix:
    """Serve the API docs right behind a path-stripping proxy (``kit.uiproxy``): the path the proxy names in
    ``X-Forwarded-Prefix`` becomes the ASGI ``root_path``, under which FastAPI's docs page asks for the OpenAPI
    document and its own scripts, and which the document names as its server. ASGI's ``path`` includes the
    ``root_path`` (the spec, and Starlette's routing, strip it again), so the prefix is put in front of it too:
    mounted static files resolve only then."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            prefix = next((value for name, value in scope["headers"] if name == b"x-forwarded-prefix"), b"")
            root = prefix.decode("latin-1").rstrip("/")
            if root:
                # In place, as Starlette's router does: the instrumentation around this reads the matched route
                # from the same scope afterwards.
                scope.update(root_path=root, path=root + scope["path"],
                             raw_path=root.encode("latin-1") + scope.get("raw_path", scope["path"].encode("latin-1")))
        await self.app(scope, receive, send)


class CheckoutRequest(BaseModel):
    # Closed and typed as the OpenAPI document says: "2", true or an unknown key is refused, not guessed at.
    model_config = ConfigDict(strict=True, extra="forbid")

    product_id: str = Field(json_schema_extra={"enum": list(PRODUCT_IDS)})
    quantity: int = Field(default=1, ge=1, le=100, strict=False)

    @field_validator("quantity", mode="before")
    @classmethod
    def _a_json_number(cls, value: Any) -> Any:
        # JSON Schema counts 2.0 as an integer, so lax mode stays for numbers; strings and booleans are refused.
        if isinstance(value, (str, bool)):
            raise ValueError(f"must be a whole number, got {value!r}"[:80])
        return value


class PaymentRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    order_id: str
    amount: float = Field(gt=0, allow_inf_nan=False)


class Problem(BaseModel):
    """The body of every refusal: ``error`` for people; ``field`` and ``problem`` when the input was wrong."""

    error: str
    field: str | None = None
    problem: str | None = None


class Health(BaseModel):
    status: str = Field(json_schema_extra={"enum": ["ok", "down"]})
    service: str
    version: str
    track: str = Field(json_schema_extra={"enum": list(TRACKS)})


def _refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error codes a route can answer, all with the Problem body."""
    said = {
        400: "invalid input; `field` names it", 401: "no or wrong admin token",
        404: "no such resource; `field` names the path parameter", 422: "invalid body; `field` names it",
        500: "an injected errors fault", 502: "payments refused the charge", 503: "at capacity (shed) or down",
        504: "payments did not answer in time",
    }
    return {code: {"model": Problem, "description": said[code]} for code in codes}



_USER = Header(None, alias=USER_HEADER, description="the user the request is for: the key a feature flag's rollout "
               "buckets by (the same key always gets the same answer); without it, a rolled-out flag is off")


def create_shop_app(settings: ServiceSettings) -> FastAPI:
    """The shop: catalog, product pages and a checkout that calls payments."""
    if not settings.payments_url:
        raise InvalidInput("payments_url", "the shop needs the URL of payments")
    runtime = _Runtime("shop", settings)
    from .paymentsclient import PaymentsClient  # aiohttp: the shop's alone, payments never loads it

    payments = PaymentsClient(settings.payments_url, settings.payments_timeout_s, runtime.registry)
    capacity = runtime.capacity
    Gauge("shop_capacity_slots", "Worker slots of the shop", registry=runtime.registry).set_function(
        lambda: capacity.slots
    )
    Gauge("shop_queue_depth", "Requests waiting for a worker slot", registry=runtime.registry).set_function(
        lambda: capacity.queued
    )
    runtime.shed_total = Counter(
        "shop_requests_shed", "Requests refused with 503 because the queue was full", registry=runtime.registry
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with payments.connected(), runtime.flags_served():
            yield

    app = _base_app(runtime, lifespan)

    @app.get(ROUTES["catalog"].path, responses=_refusals(500, 503))
    async def catalog(response: Response, user: str | None = _USER) -> list[dict[str, Any]]:
        async with runtime.serving("catalog", runtime.flags_for(user, response, "recommendations")):
            return list(CATALOG)

    @app.get(ROUTES["product"].path, responses=_refusals(404, 500, 503))
    async def product(
        product_id: str = PathParameter(json_schema_extra={"enum": list(PRODUCT_IDS)}),
    ) -> dict[str, Any]:
        found = _product(product_id)
        async with runtime.serving("product"):
            return found

    @app.post(ROUTES["checkout"].path, responses=_refusals(400, 404, 422, 500, 502, 503, 504))
    async def checkout(order: CheckoutRequest, response: Response, user: str | None = _USER) -> dict[str, Any]:
        found = _product(order.product_id)
        async with runtime.serving("checkout", runtime.flags_for(user, response, "new_checkout")):
            order_id = f"o-{runtime.rng.getrandbits(48):012x}"
            amount = round(found["price"] * order.quantity, 2)
            await payments.pay(order_id, amount)
            return {"order_id": order_id, "status": "paid", "amount": amount, "version": runtime.version}

    return app


def create_payments_app(settings: ServiceSettings) -> FastAPI:
    """Payments: one business route, /pay, with its own capacity and a `down` fault."""
    runtime = _Runtime("payments", settings)
    app = _base_app(runtime, None)

    @app.post(ROUTES["pay"].path, responses=_refusals(400, 422, 500, 503))
    async def pay(payment: PaymentRequest) -> dict[str, Any]:
        if "down" in runtime.faults:
            raise HTTPException(503, "payments is down")
        async with runtime.serving("pay"):
            return {"order_id": payment.order_id, "amount": payment.amount, "status": "paid"}

    return app


def _product(product_id: str) -> dict[str, Any]:
    found = _PRODUCTS.get(product_id)
    if found is None:
        raise UnknownName("product_id", f"no product {product_id!r}")
    return found


def _problem(status: int, error: InvalidInput) -> JSONResponse:
    return JSONResponse({"error": str(error), "field": error.field, "problem": error.problem}, status_code=status)


def _base_app(runtime: _Runtime, lifespan: Callable | None) -> FastAPI:
    """What both services share: error shape, health, metrics, admin API, instrumentation."""
    # The docs pages' Swagger UI and ReDoc come from the shop itself, not from a CDN: a mob member's or a
    # learner's browser may reach the sandbox only through JupyterLab's proxy, with no internet behind it.
    app = FastAPIOffline(title=runtime.service, version=runtime.settings.version, lifespan=lifespan)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400 and error.__cause__ is not None:  # FastAPI could not parse a body
            return _problem(400, _unreadable_body(error.__cause__))
        headers = error.headers
        if error.status_code == 405:
            headers = {"Allow": ", ".join(sorted(_allowed_methods(request)))}
        return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = [str(part) for part in first["loc"] if part not in ("body", "query", "path")]
        field = "body" if first["type"] == "json_invalid" or not where else ".".join(where)
        return _problem(422, InvalidInput(field, first["msg"]))

    @app.exception_handler(UnknownName)
    async def unknown_name(_: Request, error: UnknownName) -> JSONResponse:
        return _problem(404, error)

    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, error: InvalidInput) -> JSONResponse:
        return _problem(400, error)

    @app.get("/health", response_model=Health, responses={503: {"model": Health, "description": "down"}})
    async def health() -> JSONResponse:
        down = "down" in runtime.faults
        body = {"status": "down" if down else "ok", "service": runtime.service, "version": runtime.version,
                "track": runtime.settings.track}
        return JSONResponse(body, status_code=503 if down else 200)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        broken = runtime.faults.get("broken_metrics")
        if broken and broken["mode"] == "error":
            return Response("internal error\n", status_code=500, media_type="text/plain")
        if broken:
            return Response("", media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(_admin_router(runtime))
    app.add_middleware(_ForwardedPrefix)
    if runtime.settings.instrumentation:
        app.add_middleware(_InstrumentMiddleware, runtime=runtime)
    return app


def _admin_router(runtime: _Runtime) -> APIRouter:
    """Faults and flags behind the token; validation happens before any state changes."""
    expected = runtime.settings.token.encode()
    bearer = HTTPBearer(auto_error=False, description="the admin token `kit up` wrote into the state folder")

    async def require_token(credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                401, "the admin API needs `Authorization: Bearer <token>` with the token `kit up` wrote",
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(
        prefix="/admin", dependencies=[Depends(require_token)], tags=["admin"], responses=_refusals(401),
    )
    kinds = [spec.name for spec in FAULT_KINDS.values() if runtime.service in spec.services]

    def hidden(reveal: bool) -> bool:
        secret = runtime.settings.secret_file
        return secret is not None and secret.exists() and not reveal

    @router.get("/faults", response_model=None)
    async def list_faults(reveal: bool = False) -> dict[str, dict[str, Any]] | JSONResponse:
        if hidden(reveal):
            return _problem(403, InvalidInput("reveal", "a secret drill is running, so its faults stay hidden until "
                                              "it ends; the game master sees them with `kit fault list --reveal`"))
        return runtime.faults

    async def set_fault(kind: str, request: Request) -> dict[str, Any]:
        fault_kind(kind, runtime.service)
        params = validate_fault(kind, await _json_object(request), runtime.service)
        runtime.set_fault(kind, params)
        return {"kind": kind, "params": params}

    async def clear_fault(kind: str, reveal: bool = False) -> dict[str, dict[str, Any]]:
        """The faults left; a mitigation's clear succeeds in a secret drill too, without listing what is left."""
        fault_kind(kind, runtime.service)
        runtime.clear_fault(kind)
        return {} if hidden(reveal) else runtime.faults

    def setter(kind: str) -> Callable[[Request], Awaitable[dict[str, Any]]]:
        async def set_this_fault(request: Request) -> dict[str, Any]:
            return await set_fault(kind, request)

        return set_this_fault

    def clearer(kind: str) -> Callable[[bool], Awaitable[dict[str, dict[str, Any]]]]:
        async def clear_this_fault(reveal: bool = False) -> dict[str, dict[str, Any]]:
            return await clear_fault(kind, reveal)

        return clear_this_fault

    # Each kind has a path of its own in the OpenAPI document, with its own parameters; the
    # undocumented catch-alls after them answer unknown kinds (404) and another service's kinds (400).
    for kind in kinds:
        schema = fault_body_schema(kind, runtime.service)
        body = {"required": bool(schema["required"]), "content": {"application/json": {"schema": schema}}}
        router.add_api_route(
            f"/faults/{kind}", setter(kind), methods=["PUT"], name=f"set_fault_{kind}", summary=f"Inject {kind}",
            description=FAULT_KINDS[kind].help, responses=_refusals(400), openapi_extra={"requestBody": body},
        )
        router.add_api_route(
            f"/faults/{kind}", clearer(kind), methods=["DELETE"], name=f"clear_fault_{kind}",
            summary=f"Clear {kind}",
        )
    router.add_api_route("/faults/{kind}", set_fault, methods=["PUT"], include_in_schema=False)
    router.add_api_route("/faults/{kind}", clear_fault, methods=["DELETE"], include_in_schema=False)

    @router.delete("/faults")
    async def clear_faults() -> dict[str, dict[str, Any]]:
        for kind in list(runtime.faults):
            runtime.clear_fault(kind)
        return runtime.faults

    @router.get("/flags")
    async def list_flags() -> dict[str, str]:
        """Each flag as this process serves it: on, off, a rollout (``25%``) or killed."""
        provider = runtime.flag_provider
        settings = provider.loaded.settings if provider else {}
        return {name: settings[name].text if name in settings else ("on" if default else "off")
                for name, default in runtime.flag_defaults.items()}

    @router.get("/flags/file")
    async def flag_file() -> dict[str, Any]:
        """The flag file this process reads: ``digest`` (SHA-256, hex) of the last good file it serves, how many
        good files it has ``loads``ed, and ``problem``, why the file on disk is refused (null when it is not)."""
        provider = runtime.flag_provider
        if provider is None:
            return {"path": None, "digest": "", "loads": 0, "problem": None}
        loaded = provider.loaded
        return {"path": str(provider.path), "digest": loaded.digest, "loads": loaded.loads, "problem": loaded.problem}

    return router


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route of this path answers: a 405's Allow header must list them all (RFC 9110 15.5.6).

    Starlette answers with the methods of the first route whose path matched, so ask every route.
    """
    routes = request.app.router.routes
    return {
        method for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    }


def _unreadable_body(cause: BaseException) -> InvalidInput:
    """Why a request body could not be parsed, for a 400 that names the body."""
    if isinstance(cause, RecursionError):
        return InvalidInput("body", "nests too deeply to be read")
    if isinstance(cause, UnicodeDecodeError):
        return InvalidInput("body", "is not UTF-8 text")
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return InvalidInput("body", "holds a number too long to be read")
    return InvalidInput("body", "is not valid JSON")


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise _unreadable_body(error) from None
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    return body


def read_token(path: Path) -> str:
    """The admin token `kit up` wrote; refusing to start without one keeps the admin API closed."""
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        raise InvalidInput("--token-file", f"{path} does not exist; `kit up` creates it before starting services") from None
    except OSError as error:
        raise InvalidInput("--token-file", f"cannot read {path}: {error.strerror}") from None
    if not token:
        raise InvalidInput("--token-file", f"{path} is empty; `kit up` writes the admin token there")
    return token


def main(argv: list[str] | None = None) -> None:
    """`python -m kit.shop.service shop|payments ...`: one service in this process."""
    parser = argparse.ArgumentParser(prog="python -m kit.shop.service", description="Run the sandbox's shop or payments.")
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback unless --allow-remote)")
    parser.add_argument("--port", type=int, required=True, help="port to bind")
    parser.add_argument("--payments-url", help="base URL of payments (shop only)")
    parser.add_argument("--token-file", type=Path, required=True, help="file holding the admin API token")
    parser.add_argument("--secret-file", type=Path, help="while this file exists, listing faults needs ?reveal=true")
    parser.add_argument("--slots", type=int, help="worker slots (shop 8, payments 16)")
    parser.add_argument("--queue", type=int, help="requests that may wait for a slot (shop 32, payments 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the service-time and fault RNG")
    parser.add_argument("--version", default=VERSION, choices=list(VERSIONS),
                        help=f"the release to run (kit.shop.versions; default {VERSION})")
    parser.add_argument("--track", default="stable", choices=TRACKS, help="stable, or canary beside it")
    parser.add_argument("--flags-file", type=Path, help="flagd flag file to evaluate feature flags from (kit.flags)")
    parser.add_argument("--no-instrumentation", action="store_true", help="skip per-request metrics (benchmarks)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a --host other than loopback")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK and not args.allow_remote:
        parser.error(f"--host {args.host} is not loopback; add --allow-remote to expose the service on purpose")
    if (args.service == "shop") != bool(args.payments_url):
        parser.error("--payments-url is required by the shop and meaningless for payments")
    try:
        settings = ServiceSettings(
            token=read_token(args.token_file), slots=args.slots, queue=args.queue, payments_url=args.payments_url,
            instrumentation=not args.no_instrumentation, seed=args.seed, secret_file=args.secret_file,
            version=args.version, track=args.track, flags_file=args.flags_file,
        )
    except InvalidInput as error:
        parser.error(str(error))
    disable_created_metrics()  # halves the series Prometheus stores; nothing in the labs reads *_created
    app = create_shop_app(settings) if args.service == "shop" else create_payments_app(settings)
    uvicorn.run(
        app, host=args.host, port=args.port, loop="uvloop", http="httptools",
        access_log=False, log_level="warning", lifespan="on",
    )


if __name__ == "__main__":
    main()
