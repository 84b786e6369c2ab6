"""The province as the server runs it: centers, services, counters, calendar, priority groups,
policy. Plain frozen dataclasses; :mod:`queue_server.province_loader` builds them from the
province file and :mod:`queue_server.province` is the public face of both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from queue_server.errors import UnknownCenter, UnknownService
from queue_server.rules.calendar import Calendar, OpeningHours
from queue_server.rules.clock import TIMEZONE

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

__all__ = ["WEEKDAYS", "Calendar", "Center", "Counter", "Named", "OpeningHours", "Policy",
           "Province", "Service"]


@dataclass(frozen=True)
class Named:
    id: str
    name: str
    name_en: str


@dataclass(frozen=True)
class Service(Named):
    prefix: str
    field: str
    typical_s: int
    slot_minutes: int          # length of an appointment slot
    slot_capacity: int | None  # bookings per slot; None: the counters serving it at a center


@dataclass(frozen=True)
class Counter:
    id: str
    name: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    priority_max_in_row: int
    appointment_window_s: int
    max_recalls: int
    wait_target_s: int
    stream_max_events: int
    recent_calls: int
    idempotency_s: int
    appointment_late_s: int = 15 * 60   # checked in later than this after the slot: a walk-in
    booking_days_ahead: int = 30
    redis_keep_days: int = 2            # finished tickets stay in Redis this long after their day


@dataclass(frozen=True)
class Center:
    id: str
    name: str
    type: str
    area_km2: float | None
    population: int | None
    counters: tuple[Counter, ...]
    wait_target_s: int
    voice: str
    calendar: Calendar

    @property
    def display_name(self) -> str:
        prefix = {"ward": "Phường", "commune": "Xã", "special_zone": "Đặc khu"}[self.type]
        return f"{prefix} {self.name}"

    def counter(self, counter_id: str) -> Counter | None:
        return next((c for c in self.counters if c.id == counter_id), None)

    def counters_serving(self, service_id: str) -> int:
        return sum(1 for c in self.counters if service_id in c.services)

    def slot_capacity(self, service: Service) -> int:
        """Bookings one slot of ``service`` takes at this center (docs/rules.md)."""
        if service.slot_capacity is not None:
            return service.slot_capacity
        return self.counters_serving(service.id)


@dataclass(frozen=True)
class Province:
    id: str
    name: str
    name_en: str
    centers: tuple[Center, ...]
    services: tuple[Service, ...]
    priorities: tuple[Named, ...]
    pause_reasons: tuple[Named, ...]
    calendar: Calendar          # the province's default; a center may have its own hours
    policy: Policy
    source: Path = field(compare=False)

    @property
    def hours(self) -> OpeningHours:
        return self.calendar.weekly

    def center(self, center_id: str) -> Center:
        for center in self.centers:
            if center.id == center_id:
                return center
        raise UnknownCenter(f"unknown center {center_id!r}", reason="no_such_center",
                            center=center_id)

    def service(self, service_id: str) -> Service:
        for service in self.services:
            if service.id == service_id:
                return service
        raise UnknownService(f"unknown service {service_id!r}", reason="no_such_service",
                             service=service_id)

    @property
    def service_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.services)

    def today(self, now: dt.datetime | None = None) -> dt.date:
        return (now or dt.datetime.now(TIMEZONE)).astimezone(TIMEZONE).date()
