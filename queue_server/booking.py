"""Appointments as the API offers them: the calendar of a center, its free slots, booking one
(with the next free slots when it is full), and the check-in code a booking carries.

The slot rules are pure (rules/booking.py); what depends on state (a slot's room, the
citizen's other bookings) is checked atomically by book.lua. No HTTP here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from queue_server.auth import TokenSigner
from queue_server.engine import SYSTEM, Actor, Engine
from queue_server.errors import Conflict, InvalidInput, QmsError
from queue_server.models import Ticket
from queue_server.province import Center, Province, Service
from queue_server.rules.booking import Slot, check_slot, day_slots, next_free
from queue_server.rules.clock import TIMEZONE

# What a kiosk's scanner or keyboard sends: the QR ("07054-20261205-A001.4821") or the code
# printed under it ("A001-4821", spaces and dashes optional).
QR_CODE = re.compile(r"^(?P<id>[0-9A-Za-z_]{1,16}-\d{8}-[A-Z]{1,3}\d{3,5})\.(?P<pin>\d{4})$")
TYPED_CODE = re.compile(r"^(?P<number>[A-Z]{1,3}\d{3,5})[\s-]*(?P<pin>\d{4})$")
NEXT_FREE = 5


def check_in_pin(signer: TokenSigner, ticket_id: str) -> str:
    """Four digits only the server can compute for a booking: without them, typing someone
    else's number at a kiosk checks nobody in (staff check in by number alone)."""
    return f"{int(signer.secret_hash(ticket_id, 'check-in')[:8], 16) % 10_000:04d}"


@dataclass(frozen=True)
class CheckInCode:
    code: str      # printed: "A001-4821"
    qr: str        # scanned: "07054-20261205-A001.4821"


def check_in_code(signer: TokenSigner, ticket: Ticket) -> CheckInCode:
    pin = check_in_pin(signer, ticket.id)
    return CheckInCode(f"{ticket.number}-{pin}", f"{ticket.id}.{pin}")


def ticket_of_code(signer: TokenSigner, center: Center, code: str, today: dt.date) -> str:
    """The ticket id a check-in code stands for at this center today, or InvalidInput."""
    text = code.strip().upper()
    scanned, typed = QR_CODE.match(text), TYPED_CODE.match(text)
    if scanned:
        ticket_id = scanned["id"]
        pin = scanned["pin"]
    elif typed:
        ticket_id = f"{center.id}-{today:%Y%m%d}-{typed['number']}"
        pin = typed["pin"]
    else:
        raise InvalidInput("a check-in code looks like A001-4821 (or its QR code)",
                           reason="check_in_code_invalid", field="code")
    if not ticket_id.startswith(f"{center.id}-") or check_in_pin(signer, ticket_id) != pin:
        raise InvalidInput(f"no booking with code {code.strip()} here today",
                           reason="check_in_code_unknown", field="code", code=code.strip())
    return ticket_id


class Bookings:
    """Slots and bookings of the province's centers."""

    def __init__(self, engine: Engine, province: Province) -> None:
        self.engine = engine
        self.province = province

    def calendar(self, center: Center, first: dt.date, days: int) -> list[dict[str, Any]]:
        """Opening hours day by day (a holiday or a make-up working day as it is)."""
        cal = center.calendar
        rows = []
        for offset in range(days):
            day = first + dt.timedelta(days=offset)
            rows.append({"day": day.isoformat(), "open": cal.is_working_day(day),
                         "holiday": day in cal.holidays,
                         "hours": [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}"
                                   for s, e in cal.hours(day)]})
        return rows

    async def slots(self, center: Center, service: Service, day: dt.date) -> list[Slot]:
        taken = await self.engine.slot_bookings(center.id, f"{day:%Y%m%d}")
        mine = {start: n for (svc, start), n in taken.items() if svc == service.id}
        return day_slots(center.calendar, day, service.slot_minutes,
                         center.slot_capacity(service), mine)

    async def next_free(self, center: Center, service: Service, after: dt.datetime,
                        limit: int = NEXT_FREE) -> list[Slot]:
        """The first free slots after ``after``, within the booking horizon."""
        policy = self.province.policy
        days = []
        for offset in range(policy.booking_days_ahead + 1):
            day = after.date() + dt.timedelta(days=offset)
            if center.calendar.is_working_day(day):
                days.append(await self.slots(center, service, day))
                if sum(1 for s in days[-1] if s.free) >= limit:
                    break
        return next_free(days, int(after.timestamp() * 1000), limit)

    async def book(self, center: Center, service: Service, start: dt.datetime, *,
                   priority: str | None, token_hash: str, citizen_hash: str,
                   idempotency_key: str | None, actor: Actor = SYSTEM,
                   now: dt.datetime | None = None) -> Ticket:
        """Book the slot starting at ``start``; refused with the next free slots when the
        slot is not offered or full."""
        now = now or dt.datetime.now(TIMEZONE)
        start = start.astimezone(TIMEZONE) if start.tzinfo else start.replace(tzinfo=TIMEZONE)
        try:
            slot = check_slot(center.calendar, start, service.slot_minutes, now,
                              self.province.policy.booking_days_ahead)
            ticket, _ = await self.engine.book(
                center.id, service.id, slot, capacity=center.slot_capacity(service),
                priority=priority, token_hash=token_hash, citizen_hash=citizen_hash,
                idempotency_key=idempotency_key, actor=actor)
        except (InvalidInput, Conflict) as error:
            if error.reason == "booking_overlap":
                raise _readable(error) from None
            if error.reason not in ("slot_full", "slot_day_off", "slot_not_offered"):
                raise
            raise _readable(error, await self.next_free(center, service,
                                                        max(now, start))) from None
        return ticket


def _local(ms: Any) -> str:
    return dt.datetime.fromtimestamp(int(ms) / 1000, TIMEZONE).strftime("%H:%M %d/%m/%Y")


def _readable(error: QmsError, next_slots: list[Slot] | None = None) -> QmsError:
    """The refusal with its slot as a person reads it (the script names it in ms), and the
    next free slots to choose from."""
    fields = dict(error.fields)
    if str(fields.get("slot", "")).isdigit():
        fields["slot"] = _local(fields["slot"])
    if next_slots is not None:
        fields["next_free"] = [s.start.isoformat() for s in next_slots]
    return type(error)(reason=error.reason, **fields)
