"""Tickets: online booking, kiosk issue, appointment check-in, the citizen's own ticket."""

from __future__ import annotations

import datetime as dt
import secrets
import time

from fastapi import APIRouter, Request

from queue_server.api.deps import (
    IdempotencyDep,
    OptionalPrincipalDep,
    PrincipalDep,
    Services,
    ServicesDep,
    TicketTokenDep,
    scoped_key,
)
from queue_server.api.schemas import (
    BookingIn,
    IssuedOut,
    KioskTicketIn,
    OutcomeOut,
    RatingIn,
    TicketOut,
    TicketStateOut,
)
from queue_server.auth import Principal, Role, same_hash
from queue_server.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from queue_server.models import Ticket, TicketState
from queue_server.rules.clock import TIMEZONE, epoch_ms
from queue_server.rules.numbering import center_of_ticket

router = APIRouter(prefix="/api/v1", tags=["tickets"])
MAX_BOOKING_DAYS = 30
MIN_ANONYMOUS_KEY = 16
STAFF_ROLES = (Role.STAFF, Role.SUPERVISOR)


def _new_token(services: Services, scoped: str | None) -> str:
    # With an idempotency key a retried request must hand back the same secret it stored.
    if scoped is not None:
        return "tk." + services.signer.secret_hash(scoped, "token")[:32]
    return "tk." + secrets.token_urlsafe(24)


def _ticket_url(services: Services, request: Request, ticket: Ticket, token: str) -> str:
    base = services.settings.public_url or str(request.base_url)
    # The secret rides in the fragment: browsers never send it to a server or a log.
    return f"{base.rstrip('/')}/t/{ticket.id}#{token}"


def _require_open(services: Services, center_id: str, at: dt.datetime) -> None:
    if services.settings.enforce_hours and not services.province.hours.is_open(at):
        raise Conflict(f"center {center_id} is closed at {at:%H:%M} on this day")


def _issued(services: Services, request: Request, state: TicketState, token: str) -> IssuedOut:
    return IssuedOut(ticket=TicketOut.of(state.ticket), token=token,
                     ticket_url=_ticket_url(services, request, state.ticket, token),
                     estimated_wait_s=state.estimated_wait_s, ahead=state.ahead)


@router.post("/bookings", status_code=201, response_model=IssuedOut,
             summary="Book a ticket online at any center (now, or an appointment)")
async def book(body: BookingIn, request: Request, services: ServicesDep,
               idempotency: IdempotencyDep) -> IssuedOut:
    center = services.province.center(body.center)
    services.province.service(body.service)
    now = dt.datetime.now(TIMEZONE)
    appointment_ms = 0
    if body.appointment_at is not None:
        at = body.appointment_at
        at = at.replace(tzinfo=TIMEZONE) if at.tzinfo is None else at.astimezone(TIMEZONE)
        if not now < at < now + dt.timedelta(days=MAX_BOOKING_DAYS):
            raise InvalidInput(f"appointment_at must be in the next {MAX_BOOKING_DAYS} days",
                               field="appointment_at")
        _require_open(services, center.id, at)
        appointment_ms = epoch_ms(at)
    else:
        _require_open(services, center.id, now)
    settings, now_s = services.settings, int(time.time())
    client = request.client.host if request.client else "unknown"
    await services.rate_limit("ip", client, settings.booking_limit_per_ip_hour, 3600, now_s)
    if body.citizen_id:
        citizen = services.signer.secret_hash(body.citizen_id, "citizen")
        await services.rate_limit("citizen", citizen, settings.booking_limit_per_citizen_day,
                                  86400, now_s)
    if idempotency is not None and len(idempotency) < MIN_ANONYMOUS_KEY:
        # Anonymous keys are not scoped by a login, and a replay returns the ticket's secret:
        # the key itself must be unguessable (a UUID is 36 characters).
        raise InvalidInput(f"Idempotency-Key for a booking: at least {MIN_ANONYMOUS_KEY} "
                           "random characters (a UUID)", field="Idempotency-Key")
    scoped = scoped_key(idempotency, None, "book")
    token = _new_token(services, scoped)
    state = await services.engine.issue_with_estimate(
        center.id, body.service, channel="online", appointment_ms=appointment_ms,
        booked=appointment_ms > 0, token_hash=services.ticket_token_hash(token),
        idempotency_key=scoped)
    return _issued(services, request, state, token)


@router.post("/centers/{center_id}/tickets", status_code=201, response_model=IssuedOut,
             summary="A kiosk issues a ticket for its center")
async def kiosk_issue(center_id: str, body: KioskTicketIn, request: Request,
                      services: ServicesDep, principal: PrincipalDep,
                      idempotency: IdempotencyDep) -> IssuedOut:
    """Documents the endpoint; queue_server/api/fast.py serves it (the same issue_at_kiosk)."""
    return await issue_at_kiosk(services, request, center_id, body, principal, idempotency)


async def issue_at_kiosk(services: Services, request: Request, center_id: str,
                         body: KioskTicketIn, principal: Principal,
                         idempotency: str | None) -> IssuedOut:
    principal.require(center_id, Role.KIOSK, Role.SUPERVISOR)
    _require_open(services, center_id, dt.datetime.now(TIMEZONE))
    scoped = scoped_key(idempotency, principal, "issue")
    token = _new_token(services, scoped)
    state = await services.engine.issue_with_estimate(
        center_id, body.service, channel="kiosk", priority=body.priority,
        token_hash=services.ticket_token_hash(token), idempotency_key=scoped)
    return _issued(services, request, state, token)


async def _authorize_ticket(services: Services, ticket_id: str, token: str | None,
                            principal: Principal | None, *roles: Role) -> str:
    """The token hash to pass to the script ('' for staff), or a 401/403."""
    center = center_of_ticket(ticket_id)
    if principal is not None:
        principal.require(center, *roles)
        return ""
    if token is None:
        raise Unauthenticated("this needs the ticket's token (X-Ticket-Token) or a login")
    return services.ticket_token_hash(token)


@router.get("/tickets/{ticket_id}", response_model=TicketStateOut,
            summary="A ticket's status, place in the queue and estimated wait")
async def read_ticket(ticket_id: str, services: ServicesDep, token: TicketTokenDep,
                      principal: OptionalPrincipalDep) -> TicketStateOut:
    # Devices read a ticket only with its secret, as its holder does (docs/api.md): a kiosk
    # or a display shows numbers, not who waits for what.
    wanted = await _authorize_ticket(services, ticket_id, token, principal, *STAFF_ROLES,
                                     Role.PROVINCE)
    state = await services.engine.ticket(ticket_id)
    if wanted and not same_hash(wanted, state.token_hash):
        raise Forbidden("the ticket token does not match this ticket")
    return TicketStateOut.of(state)


@router.post("/tickets/{ticket_id}/cancel", response_model=OutcomeOut,
             summary="Cancel a booked or waiting ticket")
async def cancel(ticket_id: str, services: ServicesDep, token: TicketTokenDep,
                 principal: OptionalPrincipalDep, idempotency: IdempotencyDep) -> OutcomeOut:
    token_hash = await _authorize_ticket(services, ticket_id, token, principal, *STAFF_ROLES)
    outcome = await services.engine.cancel(
        ticket_id, token_hash=token_hash,
        idempotency_key=scoped_key(idempotency, principal, "cancel"))
    return OutcomeOut.of(outcome)


@router.post("/tickets/{ticket_id}/rating", response_model=OutcomeOut,
             summary="Rate a completed service, 1 to 5 (once)")
async def rate(ticket_id: str, body: RatingIn, services: ServicesDep, token: TicketTokenDep,
               principal: OptionalPrincipalDep, idempotency: IdempotencyDep) -> OutcomeOut:
    token_hash = await _authorize_ticket(services, ticket_id, token, principal, *STAFF_ROLES)
    outcome = await services.engine.rate(
        ticket_id, body.level, token_hash=token_hash,
        idempotency_key=scoped_key(idempotency, principal, "rate"))
    return OutcomeOut.of(outcome)


@router.post("/tickets/{ticket_id}/check-in", response_model=OutcomeOut,
             summary="An appointment holder has arrived")
async def check_in(ticket_id: str, services: ServicesDep, principal: PrincipalDep,
                   idempotency: IdempotencyDep) -> OutcomeOut:
    principal.require(center_of_ticket(ticket_id), Role.KIOSK, *STAFF_ROLES)
    outcome = await services.engine.check_in(
        ticket_id, idempotency_key=scoped_key(idempotency, principal, "check-in"))
    return OutcomeOut.of(outcome)
