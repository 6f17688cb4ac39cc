"""The fault model of the sandbox and the client of its admin API.

One table describes every fault kind and feature flag. Each kind's parameters
become a pydantic model (kit.validation) that both checks them and gives the
admin API's JSON Schema, so the documentation cannot drift from the checks. The
services use it to reject bad admin input with a message naming the field; the
client uses the same table to fail before sending anything, so both always agree.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Iterator, Literal

from pydantic import BeforeValidator, Field, StrictBool, create_model, model_validator

from ..config import Config, resolve
from ..errors import InvalidInput, KitError, SandboxNotReady
from ..validation import Document, validated
from . import model as shop
from .model import SERVICES

ROUTES: dict[str, tuple[str, ...]] = {
    service: tuple(name for name, route in shop.ROUTES.items() if route.service == service) for service in SERVICES
}
"""Each service's business routes by short name (kit.shop); only these are slowed down, failed or rationed."""

_SPOKEN = {"shop": "the shop", "payments": "the payments service"}


class UnknownName(InvalidInput):
    """A fault kind or flag that does not exist (the admin API answers 404)."""


@dataclass(frozen=True)
class Param:
    """One parameter of a fault kind: its type, its allowed range and its default."""

    name: str
    type: type
    help: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    default: Any = None
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultKind:
    """A kind of fault a game master can inject, and where it applies."""

    name: str
    services: tuple[str, ...]
    help: str
    params: tuple[Param, ...] = ()


_ROUTE = Param("route", str, "short name of one business route; all of them when omitted", required=False)

FAULT_KINDS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind(
            "latency",
            SERVICES,
            "extra latency on business routes: every request at percent=100, a tail below",
            (
                Param("ms", float, "extra latency in milliseconds", 0, 60000, exclusive_minimum=True),
                Param(
                    "percent", float, "share of requests slowed down", 0, 100,
                    exclusive_minimum=True, default=100.0, required=False,
                ),
                _ROUTE,
            ),
        ),
        FaultKind(
            "errors",
            SERVICES,
            "a share of business requests answer with a 5xx code",
            (
                Param("ratio", float, "share of requests that fail", 0, 1, exclusive_minimum=True),
                _ROUTE,
                Param("code", int, "HTTP status code of the failures", 500, 599, default=500, required=False),
            ),
        ),
        FaultKind(
            "capacity",
            ("shop",),
            "fewer worker slots; clearing restores the configured number",
            (Param("slots", int, "number of worker slots", 1, 10000),),
        ),
        FaultKind(
            "broken_metrics",
            ("shop",),
            "the monitor goes blind: /metrics answers 500 (mode=error) or 200 with no samples (mode=empty)",
            (Param("mode", str, "error or empty", default="error", required=False, choices=("error", "empty")),),
        ),
        FaultKind("bad_deploy", ("shop",), "version 2.0.0: fails ~1 in 3 checkouts and slows product pages"),
        FaultKind("down", ("payments",), "payments answers 503 to everything, health included"),
        FaultKind(
            "memory_leak",
            ("shop",),
            "the shop keeps memory it never frees; only a restart (or clearing the fault) gives it back",
            (Param("mb_per_s", float, "megabytes leaked per second", 0, 50, exclusive_minimum=True,
                   default=2.0, required=False),),
        ),
        FaultKind(
            "slow_recommendations",
            ("shop",),
            "the recommendations engine is slow: catalog requests take ms longer while the recommendations flag is on",
            (Param("ms", float, "extra latency of the catalog in milliseconds", 0, 60000, exclusive_minimum=True),),
        ),
    )
}

ALIASES: dict[str, tuple[str, str]] = {
    "payments_down": ("payments", "down"),
    "payments_slow": ("payments", "latency"),
}
"""Names people say in a drill, mapped to (service, kind)."""


@dataclass(frozen=True)
class Flag:
    """A feature flag of one service."""

    name: str
    service: str
    default: bool
    help: str


FLAGS: dict[str, Flag] = {
    flag.name: flag
    for flag in (
        Flag("recommendations", "shop", False, "catalog also computes recommendations (a little slower)"),
        Flag("new_checkout", "shop", False, "checkout takes the new, faster code path"),
    )
}


def validate_fault(kind: str, params: dict[str, Any], service: str) -> dict[str, Any]:
    """Check a fault for one service and return its params with defaults filled in, in the table's order.

    Raises InvalidInput naming the parameter (or ``service``, ``kind``, ``params``); UnknownName for a kind
    that does not exist.
    """
    if service not in SERVICES:
        raise InvalidInput("service", f"{service!r} is not a service; choose one of {', '.join(SERVICES)}")
    fault_kind(kind, service)
    if not isinstance(params, dict):
        raise InvalidInput("params", "must be a JSON object of parameters")
    return validated(_params_model(kind, service), params).model_dump()


def fault_kind(kind: str, service: str) -> FaultKind:
    """The spec of a kind, refusing unknown kinds and kinds meaningless to the service (`down` on the shop)."""
    spec = FAULT_KINDS.get(kind)
    if spec is None:
        raise UnknownName("kind", f"{kind!r} is not a fault kind; choose one of {', '.join(FAULT_KINDS)}")
    if service not in spec.services:
        raise InvalidInput("kind", f"{kind} applies to {' and '.join(spec.services)}, not to {service}")
    return spec


class _Params(Document):
    """The parameters of one fault kind on one service; ``_params_model`` makes one from the table."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_omitted(cls, data: Any) -> Any:
        # The kit's own client sends an optional parameter it was not given as null.
        return {name: value for name, value in data.items() if value is not None} if isinstance(data, dict) else data


@functools.cache
def _params_model(kind: str, service: str) -> type[_Params]:
    """The model of ``kind``'s parameters on ``service``: validation and the admin API's schema both come from it."""
    fields = {param.name: _field(param, service) for param in FAULT_KINDS[kind].params}
    return create_model(kind, __base__=_Params, **fields)


def _field(param: Param, service: str) -> tuple[Any, Any]:
    """``param`` as a pydantic field: (type with its range, default or required)."""
    if param.type is str:
        kind: Any = Literal[ROUTES[service] if param.name == "route" else param.choices]
    else:
        low = "gt" if param.exclusive_minimum else "ge"
        finite = {"allow_inf_nan": False} if param.type is float else {}
        # strict: a boolean or a numeric string is not a number, whatever Python thinks of True
        kind = Annotated[param.type, Field(strict=True, le=param.maximum, **{low: param.minimum}, **finite)]
        if param.type is int:
            kind = Annotated[kind, BeforeValidator(_whole)]
    about = {"title": param.name, "description": param.help}
    if param.required:
        return kind, Field(**about)
    return kind | None, Field(param.default, **about)


def _whole(value: Any) -> Any:
    """A JSON number with nothing after the point (``503.0``) is the whole number it says."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class _FlagChange(Document):
    """A flag turned on or off (a drill scenario's flag inject): a boolean, nothing else."""

    enabled: StrictBool = Field(description="true turns the flag on, false turns it off")


def validate_flag(name: str, enabled: Any) -> bool:
    """Check a flag change; flags are booleans, nothing else. Raises UnknownName, or InvalidInput on ``enabled``."""
    if name not in FLAGS:
        raise UnknownName("name", f"{name!r} is not a feature flag; choose one of {', '.join(FLAGS)}")
    return validated(_FlagChange, {"enabled": enabled}).enabled


def fault_body_schema(kind: str, service: str) -> dict[str, Any]:
    """The JSON Schema (OpenAPI 3.1) of a fault's parameters: the one ``validate_fault`` checks them with.

    Raises InvalidInput (UnknownName) for a kind the service does not have. ``null`` stands for an
    omitted optional parameter, as the kit's own client sends it.
    """
    fault_kind(kind, service)
    return {"required": [], **_params_model(kind, service).model_json_schema()}  # pydantic omits an empty list


def set_fault(kind: str, *, service: str | None = None, config: Config | None = None, **params: Any) -> dict[str, Any]:
    """Inject (or replace) a fault in the running sandbox; returns its normalized params."""
    service, kind = _resolve(kind, service)
    validate_fault(kind, params, service)
    return _admin(service, "PUT", f"/admin/faults/{kind}", config, json=params)["params"]


@contextmanager
def injected_fault(kind: str, *, service: str | None = None, config: Config | None = None,
                   **params: Any) -> Iterator[dict[str, Any]]:
    """``set_fault`` for the length of a with block, which yields the fault's normalized params.

    Leaving the block, normally or by an error (a page that never came), clears that fault kind, so a cell
    that fails halfway leaves no fault for the next one; a capacity fault gives the shop back its configured
    worker slots. A fault the admin API refuses raises InvalidInput and injects nothing.
    """
    applied = set_fault(kind, service=service, config=config, **params)
    try:
        yield applied
    finally:
        clear_faults(kind, service=service, config=config)


def clear_faults(kind: str | None = None, *, service: str | None = None, config: Config | None = None) -> None:
    """Clear one fault kind, or every fault of both services when kind is None."""
    if kind is None:
        for name in (service,) if service else SERVICES:
            _admin(name, "DELETE", "/admin/faults", config)
        return
    service, kind = _resolve(kind, service)
    fault_kind(kind, service)
    _admin(service, "DELETE", f"/admin/faults/{kind}", config)


def list_faults(config: Config | None = None, *, reveal: bool = False) -> dict[str, dict]:
    """Active faults of both services: {service: {kind: params}}.

    While a secret drill runs the services refuse (InvalidInput on ``reveal``)
    unless ``reveal`` is true: the game master's view, not the mob's.
    """
    return {name: faults_of(name, config, reveal=reveal) for name in SERVICES}


def faults_of(service: str, config: Config | None = None, *, reveal: bool = False) -> dict[str, dict]:
    """Active faults of one service: {kind: params}; ``reveal`` as for ``list_faults``."""
    return _admin(service, "GET", "/admin/faults?reveal=true" if reveal else "/admin/faults", config)


def flags_of(service: str, config: Config | None = None) -> dict[str, str]:
    """Feature flags of one service as its stable process serves them: {flag: "on", "off", "25%" or "killed"}.

    Flags are changed in the sandbox's flag file (kit.releases.flags), which every shop process reloads.
    """
    return _admin(service, "GET", "/admin/flags", config)


def flag_file_of(service: str, config: Config | None = None) -> dict[str, Any]:
    """What the service's stable process has loaded of the flag file: {"path", "digest" (SHA-256 of the last good
    file, hex), "loads", "problem" (why the file on disk is refused, or None)}."""
    return _admin(service, "GET", "/admin/flags/file", config)


def _resolve(kind: str, service: str | None) -> tuple[str, str]:
    """Map a convenience name to (service, kind); other kinds default to the shop."""
    if kind in ALIASES:
        alias_service, real_kind = ALIASES[kind]
        if service not in (None, alias_service):
            raise InvalidInput("service", f"{kind} is a fault of {alias_service}, not of {service}")
        return alias_service, real_kind
    if kind not in FAULT_KINDS:
        choices = ", ".join([*FAULT_KINDS, *ALIASES])
        raise InvalidInput("kind", f"{kind!r} is not a fault kind; choose one of {choices}")
    service = service or "shop"
    if service not in SERVICES:
        raise InvalidInput("service", f"{service!r} is not a service; choose one of {', '.join(SERVICES)}")
    return service, kind


def _admin(service: str, method: str, path: str, config: Config | None, json: dict | None = None) -> Any:
    """One admin call; turns transport and HTTP failures into kit errors a person can act on."""
    import httpx  # here: the shop and payments import this module for its fault models and make no admin call

    from .. import localhttp

    config = resolve(config)
    url = config.url("shop_stable" if service == "shop" else service)  # the stable process itself, not a proxy's pick
    advice = "start the sandbox with `kit up`"
    try:
        token = config.token_file.read_text().strip()
    except OSError:
        token = ""
    if not token:
        raise SandboxNotReady(f"no admin token in {config.token_file}; {advice}")
    try:
        response = localhttp.client().request(
            method, url + path, json=json, headers={"Authorization": f"Bearer {token}"}, timeout=5.0
        )
    except httpx.TransportError:
        raise SandboxNotReady(f"{_SPOKEN[service]} is not reachable at {url}; {advice}") from None
    if response.is_success:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    message = body.get("error", response.text)
    if response.status_code == 401:
        raise InvalidInput("token", f"{service} refused the token in {config.token_file}: {message}")
    if response.is_client_error:
        raise InvalidInput(body.get("field", "request"), body.get("problem", message))
    raise KitError(f"{service} answered {response.status_code} to {method} {path}: {message}")
