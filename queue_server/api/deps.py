"""What handlers receive: the process's services, the caller, and the idempotency key.

The services themselves (:class:`queue_server.services.Services`) know nothing of HTTP; this
module is where FastAPI meets them."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Header, Request

from queue_server.auth import Principal, Role, bearer, required_bearer
from queue_server.engine import Actor
from queue_server.errors import InvalidInput
from queue_server.services import Services


# Dependencies that do no I/O are ``async def`` all the same: FastAPI runs a plain ``def``
# dependency in a worker thread, and that hop cost a fifth of a ticket request's CPU.
async def get_services(request: Request) -> Services:
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy: what uvicorn's proxy headers made of it)."""
    return request.client.host if request.client else "unknown"


# The principal dependencies take the request, not ServicesDep: a nested dependency costs
# FastAPI a solve of its own (cache key, parameters) on every request.
async def get_principal(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer st.… or dev.… token")] = None,
) -> Principal:
    services: Services = request.state.services
    return await services.principal_from_token(required_bearer(authorization))


async def get_optional_principal(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal | None:
    token = bearer(authorization)
    if token is None or token.startswith("tk."):
        return None
    services: Services = request.state.services
    return await services.principal_from_token(token)


async def ticket_token(
    authorization: Annotated[str | None, Header()] = None,
    x_ticket_token: Annotated[str | None, Header(description="the ticket's tk.… secret")] = None,
) -> str | None:
    """A citizen's ticket secret, from ``X-Ticket-Token`` or ``Authorization: Bearer tk.…``."""
    if x_ticket_token:
        return x_ticket_token
    token = bearer(authorization)
    return token if token and token.startswith("tk.") else None


PrincipalDep = Annotated[Principal, Depends(get_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]
TicketTokenDep = Annotated[str | None, Depends(ticket_token)]


async def idempotency_key(
    request: Request,
    idempotency_key: Annotated[
        str | None, Header(max_length=128, description="retries with the same key act once")
    ] = None,
) -> str | None:
    return checked_idempotency_key(idempotency_key)


def checked_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if len(key) > 128 or not key.isascii() or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be at most 128 printable ASCII characters",
                           reason="idempotency_key_malformed", field="Idempotency-Key")
    return key


IdempotencyDep = Annotated[str | None, Depends(idempotency_key)]


def scoped_key(key: str | None, principal: Principal | None, route: str) -> str | None:
    """Two callers never share a key: it is scoped by who calls and what they call."""
    if key is None:
        return None
    who = f"{principal.role.value}:{principal.subject}" if principal else "anonymous"
    return hashlib.sha256(f"{who}|{route}|{key}".encode()).hexdigest()[:40]


def actor_of(principal: Principal | None, request: Request) -> Actor:
    """Who acts and from where, as the transition's event records it (the audit trail)."""
    origin = request.client.host if request.client else ""
    if principal is None:
        return Actor("citizen", origin)
    return Actor(f"{principal.role.value}:{principal.subject}", origin)


def require_role(principal: Principal, center_id: str, *roles: Role) -> None:
    principal.require(center_id, *roles)
