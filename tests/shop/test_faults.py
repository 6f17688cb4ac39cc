"""The fault table and validation shared by the admin API and its client."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit.config import PORTS, Config
from kit.errors import InvalidInput, SandboxNotReady
from kit.procs import free_ports
from kit.shop.faults import (
    ALIASES,
    FAULT_KINDS,
    FLAGS,
    ROUTES,
    SERVICES,
    UnknownName,
    clear_faults,
    fault_body_schema,
    injected_fault,
    list_faults,
    set_fault,
    validate_fault,
    validate_flag,
)
from kit.releases.flags import set_flag


@pytest.mark.parametrize(
    ("kind", "params", "service", "expected"),
    [
        ("latency", {"ms": 200}, "shop", {"ms": 200.0, "percent": 100.0, "route": None}),
        ("latency", {"ms": 50.5, "percent": 5, "route": "catalog"}, "shop", {"ms": 50.5, "percent": 5.0, "route": "catalog"}),
        ("latency", {"ms": 60000, "route": "pay"}, "payments", {"ms": 60000.0, "percent": 100.0, "route": "pay"}),
        ("errors", {"ratio": 1}, "shop", {"ratio": 1.0, "route": None, "code": 500}),
        ("errors", {"ratio": 0.25, "code": 503.0, "route": "checkout"}, "shop", {"ratio": 0.25, "route": "checkout", "code": 503}),
        ("errors", {"ratio": 0.5}, "payments", {"ratio": 0.5, "route": None, "code": 500}),
        ("capacity", {"slots": 1}, "shop", {"slots": 1}),
        ("broken_metrics", {}, "shop", {"mode": "error"}),
        ("broken_metrics", {"mode": "empty"}, "shop", {"mode": "empty"}),
        ("memory_leak", {}, "shop", {"mb_per_s": 2.0}),
        ("slow_recommendations", {"ms": 300}, "shop", {"ms": 300.0}),
        ("bad_deploy", {}, "shop", {}),
        ("down", {}, "payments", {}),
    ],
)
def test_good_params_are_normalized(kind, params, service, expected):
    before = dict(params)
    normalized = validate_fault(kind, params, service)
    assert normalized == expected
    assert [type(v) for v in normalized.values()] == [type(v) for v in expected.values()]
    assert params == before, "validation must not change the caller's dict"


@pytest.mark.parametrize(
    ("kind", "params", "service", "field"),
    [
        ("latency", {}, "shop", "ms"),
        ("latency", {"ms": 0}, "shop", "ms"),
        ("latency", {"ms": -5}, "shop", "ms"),
        ("latency", {"ms": 60001}, "shop", "ms"),
        ("latency", {"ms": "200"}, "shop", "ms"),
        ("latency", {"ms": True}, "shop", "ms"),
        ("latency", {"ms": math.nan}, "shop", "ms"),
        ("latency", {"ms": 10, "percent": 0}, "shop", "percent"),
        ("latency", {"ms": 10, "percent": 100.5}, "shop", "percent"),
        ("latency", {"ms": 10, "route": "nowhere"}, "shop", "route"),
        ("latency", {"ms": 10, "route": "pay"}, "shop", "route"),
        ("latency", {"ms": 10, "route": "checkout"}, "payments", "route"),
        ("latency", {"ms": 10, "route": ""}, "shop", "route"),
        ("latency", {"ms": 10, "seconds": 1}, "shop", "seconds"),
        ("errors", {"ratio": 0}, "shop", "ratio"),
        ("errors", {"ratio": 1.5}, "shop", "ratio"),
        ("errors", {"ratio": None}, "shop", "ratio"),
        ("errors", {"ratio": 1, "code": 404}, "shop", "code"),
        ("errors", {"ratio": 1, "code": 500.5}, "shop", "code"),
        ("capacity", {}, "shop", "slots"),
        ("capacity", {"slots": 0}, "shop", "slots"),
        ("capacity", {"slots": 1.5}, "shop", "slots"),
        ("capacity", {"slots": 10**400}, "shop", "slots"),  # a JSON integer no float can hold
        ("latency", {"ms": -10**400}, "shop", "ms"),
        ("latency", {"ms": 10, "percent": 10**400}, "shop", "percent"),
        ("broken_metrics", {"really": True}, "shop", "really"),
        ("broken_metrics", {"mode": "quiet"}, "shop", "mode"),
        ("memory_leak", {"mb_per_s": 0}, "shop", "mb_per_s"),
        ("memory_leak", {}, "payments", "kind"),
        ("slow_recommendations", {}, "shop", "ms"),
        ("down", {}, "shop", "kind"),
        ("bad_deploy", {}, "payments", "kind"),
        ("capacity", {"slots": 2}, "payments", "kind"),
        ("meteor", {}, "shop", "kind"),
        ("latency", {"ms": 10}, "database", "service"),
        ("latency", [("ms", 10)], "shop", "params"),
    ],
)
def test_each_bad_param_names_its_field(kind, params, service, field):
    with pytest.raises(InvalidInput) as caught:
        validate_fault(kind, params, service)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_unknown_kind_lists_the_allowed_kinds():
    with pytest.raises(UnknownName) as caught:
        validate_fault("meteor", {}, "shop")
    assert all(kind in caught.value.problem for kind in FAULT_KINDS)


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6)))
def test_latency_ms_is_accepted_exactly_in_range(ms):
    try:
        normalized = validate_fault("latency", {"ms": ms}, "shop")
    except InvalidInput as error:
        assert error.field == "ms"
        assert not (0 < ms <= 60000)
    else:
        assert 0 < normalized["ms"] <= 60000 and normalized["ms"] == ms


def test_tables_are_consistent():
    assert set(ROUTES) == set(SERVICES)
    for kind in FAULT_KINDS.values():
        assert set(kind.services) <= set(SERVICES), kind.name
    for alias, (service, kind) in ALIASES.items():
        assert service in FAULT_KINDS[kind].services, alias
    for flag in FLAGS.values():
        assert flag.service in SERVICES and isinstance(flag.default, bool)


def test_flags_must_exist_and_be_boolean():
    assert validate_flag("recommendations", True) is True
    with pytest.raises(UnknownName) as caught:
        validate_flag("dark_mode", True)
    assert caught.value.field == "name"
    for value in ("true", 1, None):
        with pytest.raises(InvalidInput) as caught:
            validate_flag("new_checkout", value)
        assert caught.value.field == "enabled"


def test_body_schemas_say_what_validation_checks():
    for kind in FAULT_KINDS.values():
        for service in kind.services:
            schema = fault_body_schema(kind.name, service)
            assert list(schema["properties"]) == [param.name for param in kind.params]
            assert schema["required"] == [param.name for param in kind.params if param.required]
            assert schema["additionalProperties"] is False
    latency = fault_body_schema("latency", "payments")["properties"]
    assert latency["ms"] == {"title": "ms", "description": "extra latency in milliseconds", "type": "number",
                             "exclusiveMinimum": 0, "maximum": 60000}
    assert latency["route"]["anyOf"] == [{"const": "pay", "type": "string"}, {"type": "null"}]
    assert fault_body_schema("latency", "shop")["properties"]["route"]["anyOf"][0]["enum"] == list(ROUTES["shop"])
    assert fault_body_schema("capacity", "shop")["properties"]["slots"]["type"] == "integer"
    with pytest.raises(UnknownName):
        fault_body_schema("meteor", "shop")


@pytest.fixture
def offline(tmp_path) -> Config:
    """A config whose services are not running: nothing listens on its ports (all of them free ones, so a sandbox
    running on the default ports, the developer's own, is not mistaken for it)."""
    return Config(state_dir=str(tmp_path), **dict(zip(PORTS, free_ports(len(PORTS)))))


def test_client_fails_fast_before_any_request(offline):
    # Nothing listens and there is no token: only validation can produce InvalidInput here.
    with pytest.raises(InvalidInput) as caught:
        set_fault("latency", ms=-1, config=offline)
    assert caught.value.field == "ms"
    with pytest.raises(InvalidInput) as caught:
        set_fault("payments_slow", config=offline)
    assert caught.value.field == "ms"
    with pytest.raises(InvalidInput) as caught:
        set_fault("payments_down", service="shop", config=offline)
    assert caught.value.field == "service"
    with pytest.raises(InvalidInput) as caught:
        set_fault("down", config=offline)
    assert caught.value.field == "kind"
    with pytest.raises(InvalidInput) as caught:
        clear_faults("bad_deploy", service="payments", config=offline)
    assert caught.value.field == "kind"
    with pytest.raises(InvalidInput) as caught:
        set_flag("recommendations", "on", config=offline)
    assert caught.value.field == "enabled"


def test_client_without_token_says_to_start_the_sandbox(offline):
    with pytest.raises(SandboxNotReady, match="kit up") as caught:
        set_fault("latency", ms=100, config=offline)
    assert str(offline.token_file) in str(caught.value)


def test_client_reports_an_unreachable_service(offline):
    offline.token_file.write_text("secret")
    with pytest.raises(SandboxNotReady) as caught:
        set_fault("payments_down", config=offline)
    assert str(caught.value) == (
        f"the payments service is not reachable at {offline.url('payments')}; start the sandbox with `kit up`"
    )
    with pytest.raises(SandboxNotReady, match=f"the shop is not reachable at {offline.url('shop_stable')}"):
        clear_faults(config=offline)


def test_a_refused_fault_injects_nothing_and_enters_no_block(offline):
    with pytest.raises(InvalidInput) as caught:
        with injected_fault("capacity", slots=0, config=offline):
            raise AssertionError("the block ran with a fault the client refuses")
    assert caught.value.field == "slots"


def test_an_injected_fault_is_cleared_when_its_block_fails(clean_faults):
    with pytest.raises(RuntimeError, match="never came"):
        with injected_fault("capacity", slots=50, config=clean_faults) as params:
            assert params == {"slots": 50} and list_faults(config=clean_faults)["shop"] == {"capacity": params}
            raise RuntimeError("the page never came")
    assert list_faults(config=clean_faults) == {"shop": {}, "payments": {}}
