"""Lean routes for the hottest writes: a kiosk issuing tickets.

FastAPI's dependency injection and route handling cost about 60% of an issue request's CPU
(docs/benchmarks.md); this plain Starlette route does the same work with the same functions
and models: the token, the body model, the idempotency check and ``issue_at_kiosk``. It is
placed in front of the FastAPI route of the same path, which stays as the documentation in
/openapi.json; tests/test_api_schema.py checks the served answers against that document.
"""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from queue_server.api.deps import Services, checked_idempotency_key, required_bearer
from queue_server.api.schemas import KioskTicketIn
from queue_server.api.tickets import issue_at_kiosk


async def kiosk_issue(request: Request) -> Response:
    services: Services = request.state.services
    principal = await services.principal_from_token(
        required_bearer(request.headers.get("authorization")))
    try:
        body = KioskTicketIn.model_validate_json(await request.body())
    except ValidationError as error:
        # The same 422 (or 400 for non-JSON) problem FastAPI's validation gives.
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors()]) from None
    key = checked_idempotency_key(request.headers.get("idempotency-key"))
    issued = await issue_at_kiosk(services, request, request.path_params["center_id"], body,
                                  principal, key)
    return Response(issued.model_dump_json(), status_code=201, media_type="application/json")


ROUTES = [Route("/api/v1/centers/{center_id}/tickets", kiosk_issue, methods=["POST"])]
