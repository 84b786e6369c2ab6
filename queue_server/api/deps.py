"""What handlers receive: the process's services, the caller, and the idempotency key."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from queue_server.accounts import Account, AccountStore
from queue_server.auth import Principal, Role, TokenSigner
from queue_server.booking import Bookings
from queue_server.engine import Actor, Engine
from queue_server.errors import Forbidden, InvalidInput, RateLimited, Unauthenticated
from queue_server.keys import rate_limit_key
from queue_server.projector import Projector
from queue_server.province import Province
from queue_server.settings import Settings


@dataclass
class Services:
    """Everything a request may need, built once in the lifespan (never import-time globals)."""

    settings: Settings
    province: Province
    engine: Engine
    accounts: AccountStore
    signer: TokenSigner
    bookings: Bookings
    projector: Projector
    extras: dict[str, Any] = field(default_factory=dict)  # hub, speech cache … set at start

    async def principal_from_token(self, token: str) -> Principal:
        if token.startswith("st."):
            principal = self.signer.read_staff_token(token)
            await self.accounts.sessions.check(principal)   # logged out, revoked, deactivated
            return principal
        if token.startswith("dev."):
            return await self.accounts.device_principal(token)
        raise Unauthenticated("expected a staff (st.…) or device (dev.…) token",
                              reason="token_kind_unknown")

    async def log_in(self, username: str, password: str, address: str) -> tuple[Account, str]:
        """Check the password (throttled), record a login, sign its token."""
        account = await self.accounts.login(username, password, address)
        return account, await self.login_token(account.username, account.role, account.center)

    async def login_token(self, username: str, role: Role, center: str | None) -> str:
        """A recorded login's token (also for tools and benchmarks that skip the password)."""
        session = await self.accounts.sessions.open(username,
                                                    time.time() + self.signer.max_age_s)
        return self.signer.staff_token(username, role, center, session)

    @property
    def scrape_token(self) -> str:
        """What Prometheus sends to read /metrics: QMS_METRICS_TOKEN, or one derived from the
        secret key (``python -m queue_server metrics-token`` prints it)."""
        return self.settings.metrics_token or scrape_token_of(self.signer)

    async def require_scraper(self, authorization: str | None) -> None:
        """/metrics names staff and their productivity: the scrape token or a province login."""
        token = required_bearer(authorization)
        if hmac.compare_digest(token.encode(), self.scrape_token.encode()):
            return
        principal = await self.principal_from_token(token)
        if principal.role is not Role.PROVINCE:
            raise Forbidden("metrics are for Prometheus (the scrape token) and the province")

    def ticket_token_hash(self, token: str) -> str:
        return self.signer.secret_hash(token.removeprefix("tk."), "ticket")

    async def rate_limit(self, scope: str, subject: str, limit: int, window_s: int,
                         now_s: int) -> None:
        window = now_s // window_s
        key = rate_limit_key(scope, subject, window)
        allowed, retry_after = await self.engine.runner.run(
            "rate_limit", [key], [limit, window_s])
        if not allowed:
            raise RateLimited(f"at most {limit} requests per {window_s} s for this {scope}",
                              retry_after=max(int(retry_after), 1),
                              reason=f"rate_limited_{scope}", limit=limit,
                              window_s=window_s, retry_min=-(-int(retry_after) // 60))


def scrape_token_of(signer: TokenSigner) -> str:
    return "mt." + signer.secret_hash("scrape", "metrics")[:40]


# Dependencies that do no I/O are ``async def`` all the same: FastAPI runs a plain ``def``
# dependency in a worker thread, and that hop cost a fifth of a ticket request's CPU.
async def get_services(request: Request) -> Services:
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy: what uvicorn's proxy headers made of it)."""
    return request.client.host if request.client else "unknown"


def required_bearer(authorization: str | None) -> str:
    token = _bearer(authorization)
    if token is None:
        raise Unauthenticated("this needs a login or a device token", reason="login_required")
    return token


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("use the header 'Authorization: Bearer <token>'",
                              reason="bearer_malformed")
    return token.strip()


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
    token = _bearer(authorization)
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
    token = _bearer(authorization)
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
