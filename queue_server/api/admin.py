"""Supervisors and the province: counter set-up, moving tickets, accounts, devices, overview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from queue_server.api.deps import (
    IdempotencyDep,
    PrincipalDep,
    ServicesDep,
    actor_of,
    scoped_key,
)
from queue_server.api.schemas import (
    CounterServicesIn,
    DeviceIn,
    DeviceOut,
    OutcomeOut,
    StaffIn,
    TransferIn,
)
from queue_server.auth import Role
from queue_server.errors import Forbidden, InvalidInput, NotFound
from queue_server.keys import device_key
from queue_server.rules.numbering import center_of_ticket
from queue_server.views import all_summaries

router = APIRouter(prefix="/api/v1", tags=["supervisor", "province"])


@router.put("/centers/{center_id}/counters/{counter_id}/services", response_model=OutcomeOut,
            summary="Set the services a counter serves (from its next call)")
async def set_services(center_id: str, counter_id: str, body: CounterServicesIn,
                       request: Request, services: ServicesDep, principal: PrincipalDep,
                       idempotency: IdempotencyDep) -> OutcomeOut:
    principal.require(center_id, Role.SUPERVISOR)
    outcome = await services.engine.set_counter_services(
        center_id, counter_id, body.services,
        idempotency_key=scoped_key(idempotency, principal, "services"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.post("/tickets/{ticket_id}/move", response_model=OutcomeOut,
             summary="Move a waiting ticket to another service or counter (keeps its place)")
async def move_ticket(ticket_id: str, body: TransferIn, request: Request,
                      services: ServicesDep, principal: PrincipalDep,
                      idempotency: IdempotencyDep) -> OutcomeOut:
    principal.require(center_of_ticket(ticket_id), Role.SUPERVISOR)
    # A supervisor may choose a counter that is not open (``force``): the ticket then waits
    # for it, shown everywhere as waiting for that counter (docs/rules.md).
    outcome = await services.engine.transfer(
        ticket_id, to_service=body.to_service or "", to_counter=body.to_counter or "",
        note=body.note, force=body.force,
        idempotency_key=scoped_key(idempotency, principal, "move"),
        actor=actor_of(principal, request))
    return OutcomeOut.of(outcome)


@router.post("/staff", status_code=201, summary="Create a staff, supervisor or province account")
async def create_staff(body: StaffIn, services: ServicesDep,
                       principal: PrincipalDep) -> dict[str, Any]:
    role = Role(body.role)
    if principal.role is Role.SUPERVISOR:
        if role is not Role.STAFF or body.center != principal.center:
            raise Forbidden("a supervisor creates staff accounts of their own center only",
                            reason="supervisor_own_staff_only")
    elif principal.role is not Role.PROVINCE:
        raise Forbidden("only supervisors and the province create accounts",
                        reason="accounts_by_supervisor")
    if body.center is not None:
        services.province.center(body.center)
    account = await services.accounts.create_staff(body.username, body.password, body.name,
                                                   role, body.center)
    return {"username": account.username, "name": account.name, "role": account.role.value,
            "center": account.center}


@router.post("/devices", status_code=201, response_model=DeviceOut,
             summary="Create a kiosk, display or counter screen token (shown once)")
async def create_device(body: DeviceIn, services: ServicesDep,
                        principal: PrincipalDep) -> DeviceOut:
    principal.require(body.center, Role.SUPERVISOR, Role.PROVINCE)
    services.province.center(body.center)
    device_id, token = await services.accounts.create_device(Role(body.kind), body.center,
                                                             body.label)
    return DeviceOut(id=device_id, kind=body.kind, center=body.center, token=token)


@router.delete("/devices/{device_id}", status_code=204, summary="Revoke a device token")
async def revoke_device(device_id: str, center: str, services: ServicesDep,
                        principal: PrincipalDep) -> Response:
    principal.require(center, Role.SUPERVISOR, Role.PROVINCE)
    if not device_id.isalnum():
        raise InvalidInput("device id: letters and digits", reason="device_id_malformed",
                           field="device_id")
    # The query names the caller's center; the device must be one of that center's own.
    owner = await services.accounts.client.hget(device_key(device_id), "center")
    if owner is None or owner.decode() != center:
        raise NotFound(f"no device {device_id} at center {center}", reason="unknown_device",
                       device=device_id, center=center)
    if not await services.accounts.revoke_device(device_id):
        raise NotFound(f"no device {device_id}", reason="unknown_device", device=device_id,
                       center=center)
    return Response(status_code=204)


@router.get("/province", summary="All centers in one view (waits, counters, today's figures)")
async def province_view(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    if principal.role is not Role.PROVINCE:
        raise Forbidden("the province view is for the provincial monitoring team",
                        reason="province_only")
    return {"province": services.province.name,
            "centers": await all_summaries(services.engine, day=True)}
