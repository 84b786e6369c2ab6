"""Appointment slots: which slots a center offers for a service on a day, whether a requested
slot is one of them, and the next free ones. Pure (docs/rules.md, "Appointments").

A slot lasts the service's ``slot_minutes`` and lies inside one of the day's open intervals
(never across the lunch break or the closing time); the center's calendar decides the days
(no holidays, make-up working days included). What depends on state — how many bookings a
slot already holds, whether the citizen holds an overlapping one — is checked by book.lua.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from queue_server.errors import InvalidInput
from queue_server.rules.calendar import Calendar, slot_starts
from queue_server.rules.clock import TIMEZONE, epoch_ms

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Slot:
    start_ms: int
    end_ms: int
    capacity: int
    taken: int = 0

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.taken)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.start_ms / 1000, TIMEZONE)


def day_slots(calendar: Calendar, day: dt.date, slot_minutes: int, capacity: int,
              taken: Mapping[int, int] | None = None) -> list[Slot]:
    """Every slot of ``day`` (none on a day off), with the bookings each already holds."""
    taken = taken or {}
    midnight = epoch_ms(dt.datetime(day.year, day.month, day.day, tzinfo=TIMEZONE))
    slots = []
    for minute in slot_starts(calendar.hours(day), slot_minutes):
        start = midnight + minute * MINUTE_MS
        slots.append(Slot(start, start + slot_minutes * MINUTE_MS, capacity,
                          taken.get(start, 0)))
    return slots


def check_slot(calendar: Calendar, start: dt.datetime, slot_minutes: int, now: dt.datetime,
               days_ahead: int) -> tuple[int, int]:
    """The (start, end) in ms of the slot a citizen asks for, or InvalidInput saying why not:
    in the past, beyond the booking horizon, on a day off, or not a slot start."""
    local = start.astimezone(TIMEZONE) if start.tzinfo else start.replace(tzinfo=TIMEZONE)
    if local <= now:
        raise InvalidInput("the appointment time has passed", reason="slot_past",
                           field="appointment_at", slot=local.isoformat())
    if local.date() > (now + dt.timedelta(days=days_ahead)).date():
        raise InvalidInput(f"appointments can be booked at most {days_ahead} days ahead",
                           reason="slot_beyond_horizon", field="appointment_at",
                           days=days_ahead)
    if not calendar.is_working_day(local.date()):
        raise InvalidInput(f"the center is closed on {local.date().isoformat()}",
                           reason="slot_day_off", field="appointment_at",
                           day=local.date().isoformat())
    minute = local.hour * 60 + local.minute
    if local.second or local.microsecond or minute not in slot_starts(
            calendar.hours(local.date()), slot_minutes):
        raise InvalidInput(f"{local:%H:%M} is not the start of a {slot_minutes}-minute slot "
                           "within opening hours", reason="slot_not_offered",
                           field="appointment_at", time=f"{local:%H:%M}",
                           minutes=slot_minutes)
    start_ms = epoch_ms(local)
    return start_ms, start_ms + slot_minutes * MINUTE_MS


def next_free(slots_by_day: list[list[Slot]], after_ms: int, limit: int = 5) -> list[Slot]:
    """The first ``limit`` slots with room, starting after ``after_ms``."""
    found = []
    for slots in slots_by_day:
        for slot in slots:
            if slot.start_ms > after_ms and slot.free > 0:
                found.append(slot)
                if len(found) == limit:
                    return found
    return found
