"""Lean routes for the hottest writes: a kiosk issuing tickets, and a counter's actions
without a body (call next, recall, start, complete, no-show, resume, close).

FastAPI's dependency injection and route handling cost about 60% of an issue request's CPU
(docs/benchmarks.md); these plain Starlette routes do the same work with the same functions
and models: the token, the body model, the idempotency check, then ``issue_at_kiosk`` or the
engine's counter action. They are placed in front of the FastAPI routes of the same paths,
which stay as the documentation in /openapi.json; tests/test_api_schema.py checks the served
answers against that document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from queue_server.api.counters import COUNTER, SIMPLE_ACTIONS, act_at_counter
from queue_server.api.deps import Services, checked_idempotency_key, required_bearer
from queue_server.api.schemas import KioskTicketIn
from queue_server.api.tickets import issue_at_kiosk
from queue_server.models import Outcome


async def kiosk_issue(request: Request) -> Response:
    services: Services = request.state.services
    principal = await services.principal_from_token(
        required_bearer(request.headers.get("authorization")))
    raw = await request.body()
    if not raw:
        # An empty body is a missing body (422), as on every FastAPI route; not "bad JSON".
        raise RequestValidationError([{"type": "missing", "loc": ("body",),
                                       "msg": "Field required", "input": None}])
    try:
        body = KioskTicketIn.model_validate_json(raw)
    except ValidationError as error:
        # The same 422 (or 400 for non-JSON) problem FastAPI's validation gives.
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors()]) from None
    key = checked_idempotency_key(request.headers.get("idempotency-key"))
    issued = await issue_at_kiosk(services, request, request.path_params["center_id"], body,
                                  principal, key)
    return Response(issued.model_dump_json(), status_code=201, media_type="application/json")


def _counter_action(name: str, method: Callable[..., Awaitable[Outcome]]) -> Route:
    async def act(request: Request) -> Response:
        services: Services = request.state.services
        principal = await services.principal_from_token(
            required_bearer(request.headers.get("authorization")))
        key = checked_idempotency_key(request.headers.get("idempotency-key"))
        answer = await act_at_counter(services, principal, request, name, method,
                                      request.path_params["center_id"],
                                      request.path_params["counter_id"], key)
        return Response(answer.model_dump_json(), media_type="application/json")

    return Route(f"{COUNTER}/{name}", act, methods=["POST"])


ROUTES = [Route("/api/v1/centers/{center_id}/tickets", kiosk_issue, methods=["POST"]),
          *(_counter_action(name, method) for name, _, method in SIMPLE_ACTIONS)]
