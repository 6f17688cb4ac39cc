"""The shop's and payments' HTTP APIs fuzzed from their own OpenAPI documents with schemathesis.

Every operation each document lists gets requests that fit the schema and requests that do not,
with the admin token and without it. Whatever arrives: no 5xx, a response that matches the
document, a refusal for what the schema rules out, and a refused request changes no fault and no
flag. Faults set on purpose by an accepted request are cleared before the next one, so one
example never runs against a service another example broke. Examples are bounded and drawn
deterministically, so a run is repeatable (about 15 s on a quiet two-core machine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from services import Services, running_services

from kit.shop.faults import SERVICES

if TYPE_CHECKING:
    from schemathesis import Case

EXAMPLES_PER_OPERATION = 5
"""Examples per documented operation, generation mode and token setting: enough that every operation is drawn."""


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Services:
    with running_services(tmp_path_factory.mktemp("state")) as started:
        yield started


@pytest.fixture(scope="module")
def client() -> httpx.Client:
    with httpx.Client(timeout=10) as shared:  # one client: a new one per call would cost more than the call
        yield shared


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
@pytest.mark.parametrize("service", SERVICES)
def test_api_holds_its_document_under_fuzzing(services, client, service, with_token):
    import schemathesis  # here, not at the top: every xdist worker collects this module, one runs it

    url = getattr(services, service)
    schema = schemathesis.openapi.from_dict(client.get(f"{url}/openapi.json").json())
    headers = services.admin if with_token else None

    def state() -> tuple[dict, dict]:
        faults = client.get(f"{url}/admin/faults", headers=services.admin).json()
        return faults, client.get(f"{url}/admin/flags", headers=services.admin).json()

    def reset() -> None:
        assert client.delete(f"{url}/admin/faults", headers=services.admin).status_code == 200  # flags: no API

    clean = state()

    def fuzz(case: Case) -> None:
        # Every example starts from the clean state: a refused request leaves it so, an accepted one is undone.
        response = case.call(base_url=url, headers=headers, timeout=10)
        if response.status_code >= 400 or not with_token:
            changed = state() != clean
            if changed:
                reset()  # so that the examples Hypothesis shrinks towards start clean too
            assert not changed, (f"{case.method} {case.formatted_path} answered {response.status_code} "
                                 f"and changed the service's faults or flags")
        else:
            reset()
        case.validate_response(response, headers=headers)

    untestable = []
    for operation in (result.ok() for result in schema.get_all_operations()):
        for mode in schemathesis.GenerationMode:
            run = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                           suppress_health_check=list(HealthCheck))(given(case=operation.as_strategy(mode))(fuzz))
            try:
                run()
            except Unsatisfiable:  # nothing to get wrong: no parameter, no body, no token
                untestable.append(f"{mode} {operation.label}")
    assert state() == clean
    assert all(label.startswith("negative GET ") for label in untestable), untestable
