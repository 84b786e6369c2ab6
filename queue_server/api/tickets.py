"""Tickets: online booking, kiosk issue, appointment check-in, the citizen's own ticket."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request

from queue_server.api.deps import (
    IdempotencyDep,
    OptionalPrincipalDep,
    PrincipalDep,
    Services,
    ServicesDep,
    TicketTokenDep,
    actor_of,
    scoped_key,
)
from queue_server.api.schemas import (
    BookingIn,
    CheckInIn,
    IssuedOut,
    KioskTicketIn,
    OutcomeOut,
    RatingIn,
    TicketOut,
    TicketStateOut,
)
from queue_server.auth import Principal, Role, same_hash
from queue_server.booking import check_in_code, ticket_of_code
from queue_server.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from queue_server.models import Ticket, TicketState
from queue_server.rules.clock import TIMEZONE
from queue_server.rules.numbering import center_of_ticket
from queue_server.rules.states import TicketStatus

router = APIRouter(prefix="/api/v1", tags=["tickets"])
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
    center = services.province.center(center_id)
    if services.settings.enforce_hours and not center.calendar.is_open(at):
        raise Conflict(f"center {center_id} is closed at {at:%H:%M} on this day",
                       reason="center_closed_at", center=center_id, time=f"{at:%H:%M}",
                       date=f"{at:%d/%m/%Y}")


def _issued(services: Services, request: Request, ticket: Ticket, token: str,
            state: TicketState | None = None) -> IssuedOut:
    code = check_in_code(services.signer, ticket) if ticket.status is TicketStatus.BOOKED \
        else None
    return IssuedOut(ticket=TicketOut.of(ticket), token=token,
                     ticket_url=_ticket_url(services, request, ticket, token),
                     estimated_wait_s=state.estimated_wait_s if state else None,
                     ahead=state.ahead if state else None,
                     expected_at=state.expected_at if state else None,
                     after_closing=state.after_closing if state else False,
                     check_in_code=code.code if code else None,
                     check_in_qr=code.qr if code else None)


def _citizen_hash(services: Services, citizen_id: str | None) -> str:
    return services.signer.secret_hash(citizen_id, "citizen") if citizen_id else ""


@router.post("/bookings", status_code=201, response_model=IssuedOut,
             summary="Book online at any center: join the queue now, or an appointment slot")
async def book(body: BookingIn, request: Request, services: ServicesDep,
               idempotency: IdempotencyDep) -> IssuedOut:
    center = services.province.center(body.center)
    service = services.province.service(body.service)
    now = dt.datetime.now(TIMEZONE)
    if body.appointment_at is None:
        _require_open(services, center.id, now)
    settings, now_s = services.settings, int(time.time())
    client = request.client.host if request.client else "unknown"
    await services.rate_limit("ip", client, settings.booking_limit_per_ip_hour, 3600, now_s)
    citizen = _citizen_hash(services, body.citizen_id)
    if citizen:
        await services.rate_limit("citizen", citizen, settings.booking_limit_per_citizen_day,
                                  86400, now_s)
    if idempotency is not None and len(idempotency) < MIN_ANONYMOUS_KEY:
        # Anonymous keys are not scoped by a login, and a replay returns the ticket's secret:
        # the key itself must be unguessable (a UUID is 36 characters).
        raise InvalidInput(f"Idempotency-Key for a booking: at least {MIN_ANONYMOUS_KEY} "
                           "random characters (a UUID)", reason="booking_key_too_short",
                           field="Idempotency-Key", min=MIN_ANONYMOUS_KEY)
    scoped = scoped_key(idempotency, None, "book")
    token = _new_token(services, scoped)
    token_hash = services.ticket_token_hash(token)
    actor = actor_of(None, request)
    if body.appointment_at is None:
        state = await services.engine.issue_with_estimate(
            center.id, service.id, channel="online", token_hash=token_hash,
            citizen_hash=citizen, idempotency_key=scoped, actor=actor)
        return _issued(services, request, state.ticket, token, state)
    ticket = await services.bookings.book(
        center, service, body.appointment_at, priority=body.priority, token_hash=token_hash,
        citizen_hash=citizen, idempotency_key=scoped, actor=actor, now=now)
    return _issued(services, request, ticket, token)


@router.get("/centers/{center_id}/calendar", summary="Opening hours day by day")
async def calendar(center_id: str, services: ServicesDep,
                   start: dt.date | None = None, days: int = 14) -> dict[str, Any]:
    center = services.province.center(center_id)
    if not 1 <= days <= 62:
        raise InvalidInput("days must be 1..62", reason="days_invalid", field="days",
                           minimum=1, maximum=62)
    first = start or dt.datetime.now(TIMEZONE).date()
    return {"center": center.id, "days": services.bookings.calendar(center, first, days)}


@router.get("/centers/{center_id}/slots", summary="A day's appointment slots and their room")
async def slots(center_id: str, service: str, day: dt.date, services: ServicesDep
                ) -> dict[str, Any]:
    center = services.province.center(center_id)
    chosen = services.province.service(service)
    rows = await services.bookings.slots(center, chosen, day)
    now_ms = int(time.time() * 1000)
    return {"center": center.id, "service": chosen.id, "day": day.isoformat(),
            "slot_minutes": chosen.slot_minutes,
            "hours": services.bookings.calendar(center, day, 1)[0]["hours"],
            "slots": [{"start": s.start.isoformat(), "free": s.free if s.start_ms > now_ms
                       else 0, "capacity": s.capacity} for s in rows]}


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
        token_hash=services.ticket_token_hash(token),
        citizen_hash=_citizen_hash(services, body.citizen_id), idempotency_key=scoped,
        actor=actor_of(principal, request))
    return _issued(services, request, state.ticket, token, state)


async def _authorize_ticket(services: Services, ticket_id: str, token: str | None,
                            principal: Principal | None, *roles: Role) -> str:
    """The token hash to pass to the script ('' for staff), or a 401/403."""
    center = center_of_ticket(ticket_id)
    if principal is not None:
        principal.require(center, *roles)
        return ""
    if token is None:
        raise Unauthenticated("this needs the ticket's token (X-Ticket-Token) or a login",
                              reason="ticket_token_missing")
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
        raise Forbidden("the ticket token does not match this ticket",
                        reason="ticket_token_mismatch")
    return TicketStateOut.of(state)


@router.post("/tickets/{ticket_id}/cancel", response_model=OutcomeOut,
             summary="Cancel a booked or waiting ticket")
async def cancel(ticket_id: str, request: Request, services: ServicesDep,
                 token: TicketTokenDep, principal: OptionalPrincipalDep,
                 idempotency: IdempotencyDep) -> OutcomeOut:
    token_hash = await _authorize_ticket(services, ticket_id, token, principal, *STAFF_ROLES)
    outcome = await services.engine.cancel(
        ticket_id, token_hash=token_hash,
        idempotency_key=scoped_key(idempotency, principal, "cancel"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.post("/tickets/{ticket_id}/rating", response_model=OutcomeOut,
             summary="Rate a completed service, 1 to 5 (once)")
async def rate(ticket_id: str, body: RatingIn, request: Request, services: ServicesDep,
               token: TicketTokenDep, principal: OptionalPrincipalDep,
               idempotency: IdempotencyDep) -> OutcomeOut:
    token_hash = await _authorize_ticket(services, ticket_id, token, principal, *STAFF_ROLES)
    outcome = await services.engine.rate(
        ticket_id, body.level, token_hash=token_hash,
        idempotency_key=scoped_key(idempotency, principal, "rate"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.post("/tickets/{ticket_id}/check-in", response_model=OutcomeOut,
             summary="Staff check an appointment holder in by the ticket")
async def check_in(ticket_id: str, request: Request, services: ServicesDep,
                   principal: PrincipalDep, idempotency: IdempotencyDep) -> OutcomeOut:
    principal.require(center_of_ticket(ticket_id), *STAFF_ROLES)
    outcome = await services.engine.check_in(
        ticket_id, idempotency_key=scoped_key(idempotency, principal, "check-in"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.post("/centers/{center_id}/check-in", response_model=OutcomeOut,
             summary="Check in by the booking's code (typed, or its QR scanned at the kiosk)")
async def check_in_by_code(center_id: str, body: CheckInIn, request: Request,
                           services: ServicesDep, principal: PrincipalDep,
                           idempotency: IdempotencyDep) -> OutcomeOut:
    principal.require(center_id, Role.KIOSK, *STAFF_ROLES)
    center = services.province.center(center_id)
    ticket_id = ticket_of_code(services.signer, center, body.code,
                               dt.datetime.now(TIMEZONE).date())
    outcome = await services.engine.check_in(
        ticket_id, idempotency_key=scoped_key(idempotency, principal, "check-in"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)
