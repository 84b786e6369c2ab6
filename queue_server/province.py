"""The province configuration: centers, services, counters, hours, priority groups, policy.

Loaded from a TOML file (default: ``queue_server/data/province.toml`` with the 54 centers of
Quang Ninh from ``quangninh_units.csv``). Every error names the file, the key or CSV line, and
what was expected; docs/configuration.md describes the keys.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from queue_server.errors import UnknownCenter, UnknownService

DEFAULT_PROVINCE_FILE = Path(__file__).parent / "data" / "province.toml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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


@dataclass(frozen=True)
class OpeningHours:
    """Per weekday (0 = Monday) the open intervals as (start, end) minutes after midnight."""

    intervals: tuple[tuple[tuple[int, int], ...], ...]

    def is_open(self, moment: dt.datetime) -> bool:
        minute = moment.hour * 60 + moment.minute
        return any(start <= minute < end for start, end in self.intervals[moment.weekday()])


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

    @property
    def display_name(self) -> str:
        prefix = {"ward": "Phường", "commune": "Xã", "special_zone": "Đặc khu"}[self.type]
        return f"{prefix} {self.name}"

    def counter(self, counter_id: str) -> Counter | None:
        return next((c for c in self.counters if c.id == counter_id), None)


@dataclass(frozen=True)
class Province:
    id: str
    name: str
    name_en: str
    centers: tuple[Center, ...]
    services: tuple[Service, ...]
    priorities: tuple[Named, ...]
    pause_reasons: tuple[Named, ...]
    hours: OpeningHours
    policy: Policy
    source: Path = field(compare=False)

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


def load_province(path: Path | str | None = None) -> Province:
    """Read and validate a province file; raises ConfigError naming file, key and expectation."""
    from queue_server.province_loader import read_province

    return read_province(Path(path) if path is not None else DEFAULT_PROVINCE_FILE)
