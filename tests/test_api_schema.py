"""Schemathesis against the live server: every operation of /openapi.json, with generated valid
and invalid input, must never answer 5xx and must answer what the document says (status,
content type, body schema).

Cases are sent with a supervisor's token of a center no other test uses; each operation's
cases mix fully generated path parameters with real ones (that center, a real counter and a
real ticket), so the handlers' happy paths run as well as their refusals.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.live import Bootstrap, LiveServer, login

CENTER = "06886"
EXAMPLES = 10          # per operation and generation mode: the whole file stays under a minute
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def target(live_server: LiveServer) -> dict[str, Any]:
    name = f"sv{uuid.uuid4().hex[:8]}"
    boot = Bootstrap(live_server.redis_url)
    boot.account(name, "supervisor", CENTER)
    token = login(live_server, name)
    kiosk = boot.device("kiosk", CENTER)
    issued = []
    for service in ("certification", "land"):
        response = schemathesis_free_post(live_server, f"/api/v1/centers/{CENTER}/tickets",
                                          kiosk, {"service": service})
        issued.append(response["ticket"]["id"])
    return {"token": token, "tickets": issued,
            "schema": schemathesis.openapi.from_url(live_server.base_url + "/openapi.json")}


def schemathesis_free_post(server: LiveServer, path: str, token: str,
                           body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    response = httpx.post(server.base_url + path, json=body, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def real_parameters(path: str, tickets: list[str]) -> dict[str, Any]:
    known = {"center_id": CENTER, "counter_id": "1", "ticket_id": random.choice(tickets)}
    return {name: value for name, value in known.items() if "{" + name + "}" in path}


def test_every_operation_conforms_to_the_document(target: dict[str, Any],
                                                   live_server: LiveServer) -> None:
    operations = [result.ok() for result in target["schema"].get_all_operations()]
    assert len(operations) >= 30
    with requests.Session() as session:
        failures = [failure for operation in operations for mode in modes(operation)
                    if (failure := exercise(operation, mode, session, target,
                                            live_server.base_url))]
    assert not failures, "\n\n".join(failures)


def modes(operation: Any) -> list[GenerationMode]:
    """Invalid input too where there is a body or a query to spoil: a path segment or a
    header is text whatever hypothesis tries, and searching for "invalid" ones only burns
    time on rejected examples."""
    if operation.body or len(operation.query):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def exercise(operation: Any, mode: GenerationMode, session: requests.Session,
             target: dict[str, Any], base_url: str) -> str | None:
    """Run one operation's generated cases; the failure found, if any, as text."""
    auth = {"Authorization": f"Bearer {target['token']}"}
    strategy = operation.as_strategy(generation_mode=mode)
    fixed = real_parameters(operation.path, target["tickets"])
    if fixed:
        strategy = st.one_of(strategy, operation.as_strategy(generation_mode=mode,
                                                             path_parameters=fixed))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        # Each case comes from an address of its own: the per-address booking limit of the
        # shared server is left to the tests that are about it.
        address = f"10.{random.randrange(256)}.{random.randrange(256)}.7"
        sent = case.as_transport_kwargs(base_url=base_url,
                                        headers={**auth, "X-Forwarded-For": address})
        # A plain session: schemathesis' own transport counts pooled connections through
        # urllib3 internals that urllib3-future (pulled in by grafana-client) replaces.
        response = session.request(**sent, timeout=10, allow_redirects=False)
        case.validate_response(response, checks=CHECKS, transport_kwargs=sent)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to make invalid: no parameters, no body
    except (Exception, BaseExceptionGroup) as error:  # report every operation's failure
        return f"{operation.label} ({mode.value}): {error}"
    return None
