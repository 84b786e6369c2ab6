"""Public reads: centers, services, live waits, the shortest-wait suggestion, client config,
the message catalogue, and a ticket's public facts (what the lobby display shows anyway)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from queue_server import messages
from queue_server.api.deps import ServicesDep
from queue_server.api.schemas import CenterOut, SuggestionOut
from queue_server.errors import InvalidInput
from queue_server.rules.numbering import center_of_ticket
from queue_server.views import all_summaries, summary

router = APIRouter(prefix="/api/v1", tags=["public"])


@router.get("/services", summary="Services, priority groups and pause reasons")
async def list_services(services: ServicesDep) -> dict[str, Any]:
    province = services.province
    return {
        "services": [
            {"id": s.id, "name": s.name, "name_en": s.name_en, "field": s.field,
             "prefix": s.prefix, "typical_s": s.typical_s} for s in province.services],
        "priorities": [{"id": p.id, "name": p.name, "name_en": p.name_en}
                       for p in province.priorities],
        "pause_reasons": [{"id": r.id, "name": r.name, "name_en": r.name_en}
                          for r in province.pause_reasons],
    }


@router.get("/centers", response_model=list[CenterOut],
            summary="Every center with live waiting counts and estimated waits")
async def list_centers(services: ServicesDep) -> list[dict[str, Any]]:
    return await all_summaries(services.engine, day=False)


@router.get("/centers/{center_id}", response_model=CenterOut, summary="One center, live")
async def get_center(center_id: str, services: ServicesDep) -> dict[str, Any]:
    center = services.province.center(center_id)
    snapshot = await services.engine.snapshot(center.id)
    return summary(services.province, center, snapshot)


@router.get("/suggest", response_model=list[SuggestionOut],
            summary="Centers with the shortest estimated wait for a service")
async def suggest(
    services: ServicesDep,
    service: str = Query(min_length=1, max_length=64),
    limit: int = Query(5, ge=1, le=54),
) -> list[dict[str, Any]]:
    services.province.service(service)  # 404 for an unknown service
    rows = []
    for center in await all_summaries(services.engine, day=False):
        row = next(r for r in center["services"] if r["id"] == service)
        rows.append({"center": center["id"], "name": center["name"], "waiting": row["waiting"],
                     "active_counters": row["active_counters"],
                     "estimated_wait_s": row["estimated_wait_s"]})
    # Unknown waits (no open counter) go last; then the shortest estimate, then fewest waiting.
    rows.sort(key=lambda r: (r["estimated_wait_s"] is None, r["estimated_wait_s"] or 0,
                             r["waiting"]))
    return rows[:limit]


@router.get("/config", summary="What pages need to connect: WebSocket address, province")
async def client_config(services: ServicesDep) -> dict[str, Any]:
    hub_port = services.extras.get("ws_port")
    return {"province": services.province.name, "ws_port": hub_port,
            "ws_path": "/ws", "ws_url": services.settings.public_ws_url or None,
            "public_url": services.settings.public_url}


@router.get("/messages", summary="The message catalogue: every sentence by reason, [vi, en]")
async def message_catalogue() -> dict[str, Any]:
    """What pages render refusals and their own messages from (the ``reason`` and ``fields``
    of a problem answer); the same catalogue the server and the CLI use."""
    return {"languages": list(messages.LANGUAGES), "messages": messages.as_json()}


class PublicTicketOut(BaseModel):
    """What anyone holding a ticket's link may see without its secret: the facts the lobby
    display shows anyway. No staff name, note, priority group or citizen id."""

    id: str
    number: str
    center: str
    center_name: str
    service: str
    status: str
    counter: str = Field(description="the counter that called or serves it, else ''")
    ahead: int | None
    estimated_wait_s: int | None
    appt: int = Field(description="appointment time, epoch ms (0: none)")
    to_ticket: str = Field(description="after a transfer: the new ticket's id")
    now: int


@router.get("/public/tickets/{ticket_id}", response_model=PublicTicketOut,
            summary="A ticket's public facts (number, center, status, position), no secret")
async def public_ticket(ticket_id: str, services: ServicesDep) -> PublicTicketOut:
    try:
        center = services.province.center(center_of_ticket(ticket_id))
    except InvalidInput:
        raise InvalidInput(f"ticket id {ticket_id!r} is not of the form CENTER-YYYYMMDD-A023",
                           reason="ticket_id_malformed", field="ticket_id") from None
    state = await services.engine.ticket(ticket_id)
    ticket = state.ticket
    return PublicTicketOut(
        id=ticket.id, number=ticket.number, center=center.id, center_name=center.display_name,
        service=ticket.service, status=ticket.status.value, counter=ticket.counter,
        ahead=state.ahead, estimated_wait_s=state.estimated_wait_s, appt=ticket.appt,
        to_ticket=ticket.to_ticket, now=state.now)
