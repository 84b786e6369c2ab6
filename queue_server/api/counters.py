"""Staff at work: log in, take a counter, call, serve, transfer, pause; and their day."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request

from queue_server.api.deps import (
    IdempotencyDep,
    PrincipalDep,
    Services,
    ServicesDep,
    actor_of,
    client_address,
    scoped_key,
)
from queue_server.api.schemas import (
    CallTicketIn,
    LoginIn,
    LoginOut,
    OpenCounterIn,
    OutcomeOut,
    PauseIn,
    Snapshot,
    TransferIn,
)
from queue_server.auth import Principal, Role
from queue_server.engine import Engine
from queue_server.errors import Forbidden, InvalidInput, NotFound
from queue_server.models import Outcome

router = APIRouter(prefix="/api/v1", tags=["counters"])
COUNTER = "/centers/{center_id}/counters/{counter_id}"
WORKERS = (Role.STAFF, Role.SUPERVISOR)


@router.post("/auth/login", response_model=LoginOut, summary="Log in (staff, supervisor, province)")
async def login(body: LoginIn, request: Request, services: ServicesDep) -> LoginOut:
    account, token = await services.log_in(body.username, body.password,
                                           client_address(request))
    return LoginOut(token=token, username=account.username, name=account.name,
                    role=account.role.value, center=account.center,
                    expires_in=services.signer.max_age_s)


@router.get("/auth/me", summary="Who this token belongs to")
async def me(principal: PrincipalDep) -> dict[str, Any]:
    return {"role": principal.role.value, "subject": principal.subject,
            "center": principal.center}


def counter_actor(principal: Principal, center_id: str) -> str:
    """The staff name the scripts check against the counter's holder; '' for a supervisor,
    who may act on any counter of the center."""
    principal.require(center_id, *WORKERS)
    return principal.subject if principal.role is Role.STAFF else ""




async def act_at_counter(services: Services, principal: Principal, request: Request,
                         name: str, method: Callable[..., Awaitable[Outcome]], center_id: str,
                         counter_id: str, idempotency: str | None) -> OutcomeOut:
    """A counter action without a body, as both its routes serve it (api/fast.py)."""
    staff = counter_actor(principal, center_id)
    outcome = await method(services.engine, center_id, counter_id, staff,
                           idempotency_key=scoped_key(idempotency, principal, name),
                           actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


def _simple(name: str, summary: str, method: Callable[..., Awaitable[Outcome]]) -> None:
    async def act(center_id: str, counter_id: str, request: Request, services: ServicesDep,
                  principal: PrincipalDep, idempotency: IdempotencyDep) -> OutcomeOut:
        return await act_at_counter(services, principal, request, name, method, center_id,
                                    counter_id, idempotency)

    act.__name__ = name.replace("-", "_")
    router.post(f"{COUNTER}/{name}", response_model=OutcomeOut, summary=summary)(act)


# Counter actions without a body; queue_server/api/fast.py serves them with the same functions,
# these routes document them.
SIMPLE_ACTIONS: tuple[tuple[str, str, Callable[..., Awaitable[Outcome]]], ...] = (
    ("call-next", "Call the next citizen by the routing policy", Engine.call_next),
    ("recall", "Call the ticket in hand again (no-show after the limit)", Engine.recall),
    ("start", "Start serving the ticket in hand", Engine.start),
    ("complete", "Complete the ticket in hand", Engine.complete),
    ("no-show", "Mark the called ticket as no-show", Engine.no_show),
    ("resume", "Resume a paused counter", Engine.resume),
    ("close", "Close the counter", Engine.close_counter),
)
for _name, _summary, _method in SIMPLE_ACTIONS:
    _simple(_name, _summary, _method)


@router.post(f"{COUNTER}/open", response_model=OutcomeOut, summary="Take (open) a counter")
async def open_counter(center_id: str, counter_id: str, body: OpenCounterIn, request: Request,
                       services: ServicesDep, principal: PrincipalDep,
                       idempotency: IdempotencyDep) -> OutcomeOut:
    principal.require(center_id, *WORKERS)
    staff, force = principal.subject, False
    if principal.role is Role.SUPERVISOR:
        staff, force = body.staff or principal.subject, body.force
        if staff != principal.subject:
            # A typo must not open a counter for nobody: the person must work at this center.
            account = await services.accounts.get(staff)
            if account is None or account.center != center_id:
                raise NotFound(f"no staff member {staff!r} at center {center_id}",
                               reason="unknown_staff", staff=staff, center=center_id)
    elif body.force or (body.staff and body.staff != principal.subject):
        raise InvalidInput("only a supervisor hands over a counter or opens it for someone",
                           reason="handover_by_supervisor", field="staff")
    outcome = await services.engine.open_counter(
        center_id, counter_id, staff, force=force,
        idempotency_key=scoped_key(idempotency, principal, "open"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.post(f"{COUNTER}/call", response_model=OutcomeOut, summary="Call a chosen ticket")
async def call_ticket(center_id: str, counter_id: str, body: CallTicketIn, request: Request,
                      services: ServicesDep, principal: PrincipalDep,
                      idempotency: IdempotencyDep) -> OutcomeOut:
    staff = counter_actor(principal, center_id)
    outcome = await services.engine.call_ticket(
        center_id, counter_id, body.ticket_id, staff,
        idempotency_key=scoped_key(idempotency, principal, "call"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.post(f"{COUNTER}/pause", response_model=OutcomeOut, summary="Pause with a reason")
async def pause(center_id: str, counter_id: str, body: PauseIn, request: Request,
                services: ServicesDep, principal: PrincipalDep,
                idempotency: IdempotencyDep) -> OutcomeOut:
    staff = counter_actor(principal, center_id)
    outcome = await services.engine.pause(
        center_id, counter_id, body.reason, staff,
        idempotency_key=scoped_key(idempotency, principal, "pause"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.post(f"{COUNTER}/transfer", response_model=OutcomeOut,
             summary="Transfer the ticket in hand to another service or counter")
async def transfer(center_id: str, counter_id: str, body: TransferIn, request: Request,
                   services: ServicesDep, principal: PrincipalDep,
                   idempotency: IdempotencyDep) -> OutcomeOut:
    staff = counter_actor(principal, center_id)
    if body.force:
        raise InvalidInput("only a supervisor's move sends a ticket to a counter that is not "
                           "open", reason="force_by_supervisor", field="force")
    outcome = await services.engine.transfer_in_hand(
        center_id, counter_id, staff, to_service=body.to_service or "",
        to_counter=body.to_counter or "", note=body.note,
        idempotency_key=scoped_key(idempotency, principal, "transfer"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.get("/centers/{center_id}/live", response_model=Snapshot,
            summary="A center's full live state (queues with tickets, counters, recent calls)")
async def live(center_id: str, services: ServicesDep, principal: PrincipalDep,
               tickets: int = 20) -> dict[str, Any]:
    principal.require(center_id, *WORKERS, Role.DISPLAY, Role.PROVINCE)
    if not 0 <= tickets <= 200:
        raise InvalidInput("tickets must be 0..200", reason="tickets_out_of_range",
                           field="tickets", max=200)
    return await services.engine.snapshot(center_id, tickets_per_queue=tickets, recent=True)


@router.get("/me/day", summary="The logged-in staff member's day so far")
async def my_day(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    if principal.role not in WORKERS or principal.center is None:
        raise Forbidden("'my day' is for staff and supervisors of a center",
                        reason="my_day_for_staff")
    snapshot = await services.engine.snapshot(principal.center, day=True)
    flat = snapshot["day"]
    prefix = f"st:{principal.subject}:"
    mine = {flat[i][len(prefix):]: int(flat[i + 1]) for i in range(0, len(flat), 2)
            if flat[i].startswith(prefix)}
    served = mine.get("served", 0)
    rated = mine.get("rating_n", 0)
    return {
        "staff": principal.subject, "center": principal.center, "served": served,
        "mean_service_s": round(mine.get("svc_ms", 0) / served / 1000) if served else None,
        "mean_wait_of_served_s": round(mine.get("wait_ms", 0) / served / 1000) if served else None,
        "no_shows": mine.get("noshow", 0),
        "mean_rating": round(mine.get("rating_sum", 0) / rated, 2) if rated else None,
        "ratings": rated, "paused_s": round(mine.get("paused_ms", 0) / 1000),
    }
