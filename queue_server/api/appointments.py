"""Reads about appointments for the pages: a center's bookings of a day (staff check an
appointment holder in from that list) and a booking's check-in code (the citizen's ticket
page shows it with its QR code). Both only read; check-in itself is a transition
(``POST /tickets/{id}/check-in``, ``POST /centers/{c}/check-in`` in api/tickets.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgpack
from fastapi import APIRouter
from redis.exceptions import RedisError

from queue_server.api.deps import OptionalPrincipalDep, PrincipalDep, ServicesDep, TicketTokenDep
from queue_server.auth import Role, same_hash
from queue_server.booking import check_in_code
from queue_server.errors import Forbidden, IllegalTransition, Unauthenticated
from queue_server.keys import center_key, ticket_key
from queue_server.models import Ticket
from queue_server.rules.clock import TIMEZONE, epoch_ms
from queue_server.rules.numbering import center_of_ticket
from queue_server.rules.states import TicketStatus
from queue_server.script_runner import translate_error

router = APIRouter(prefix="/api/v1", tags=["tickets"])
STAFF_ROLES = (Role.STAFF, Role.SUPERVISOR)
MAX_LISTED = 500


def _day_bounds(day: dt.date) -> tuple[int, int]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=TIMEZONE)
    return epoch_ms(start), epoch_ms(start + dt.timedelta(days=1))


def _row(ticket: Ticket) -> dict[str, Any]:
    return {"id": ticket.id, "number": ticket.number, "service": ticket.service,
            "appt": ticket.appt, "priority": ticket.priority, "status": ticket.status.value}


@router.get("/centers/{center_id}/bookings",
            summary="The appointments of a day not yet checked in, in slot order (staff)")
async def day_bookings(center_id: str, services: ServicesDep, principal: PrincipalDep,
                       day: dt.date | None = None) -> dict[str, Any]:
    principal.require(center_id, *STAFF_ROLES)
    center = services.province.center(center_id)
    chosen = day or dt.datetime.now(TIMEZONE).date()
    start, end = _day_bounds(chosen)
    client = services.engine.runner.client
    try:
        # The center's 'booked' zset: appointments not yet checked in, scored by slot (ms).
        ids = await client.zrangebyscore(center_key(center.id, "booked"), start, f"({end}",
                                         start=0, num=MAX_LISTED)
        names = [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
        records: list[Any] = []
        if names:
            # One round trip; a center's keys share one hash slot, so this holds on a Cluster.
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.hget(ticket_key(center.id, name), "r")
            records = await pipe.execute()
    except (RedisError, OSError) as error:
        raise translate_error(error) from None
    rows = [_row(Ticket.from_record(msgpack.unpackb(raw))) for raw in records if raw]
    return {"center": center.id, "day": chosen.isoformat(),
            "bookings": [r for r in rows if r["status"] == TicketStatus.BOOKED.value]}


@router.get("/tickets/{ticket_id}/check-in-code",
            summary="A booking's check-in code and the text of its QR code")
async def booking_code(ticket_id: str, services: ServicesDep, token: TicketTokenDep,
                       principal: OptionalPrincipalDep) -> dict[str, Any]:
    center = center_of_ticket(ticket_id)
    if principal is not None:
        principal.require(center, *STAFF_ROLES)
    elif token is None:
        raise Unauthenticated("this needs the ticket's token (X-Ticket-Token) or a login",
                              reason="ticket_token_missing")
    state = await services.engine.ticket(ticket_id)
    if principal is None and not same_hash(services.ticket_token_hash(token or ""),
                                           state.token_hash):
        raise Forbidden("the ticket token does not match this ticket",
                        reason="ticket_token_mismatch")
    ticket = state.ticket
    if ticket.status is not TicketStatus.BOOKED:
        raise IllegalTransition(f"ticket {ticket.number} is {ticket.status.value}, not booked",
                                reason="check_in_code_not_booked", number=ticket.number,
                                status=ticket.status.value)
    code = check_in_code(services.signer, ticket)
    policy = services.province.policy
    # When to arrive: called as an appointment from early_min before the slot (the routing's
    # window), checked in up to late_min after it; later it waits as a walk-in.
    return {"ticket": ticket.id, "number": ticket.number, "appt": ticket.appt,
            "code": code.code, "qr": code.qr,
            "early_min": policy.appointment_window_s // 60,
            "late_min": policy.appointment_late_s // 60}

