"""Small pieces of the pure center model (center_model.py): its counter, a service's rules,
and the time and queue arithmetic the scripts share with it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from queue_server.rules.routing import QueueClass, counter_queue_suffix, service_queue_suffix
from queue_server.rules.states import CounterState

DAY_MS = 86_400_000
UTC_OFFSET_MS = 7 * 3_600_000


@dataclass(frozen=True)
class ServiceRule:
    prefix: str
    typical_s: int = 600
    slot_ms: int = 900_000


@dataclass
class ModelCounter:
    """A counter as its record holds it (records.COUNTER_LAYOUT)."""

    id: str
    services: list[str]
    state: CounterState = CounterState.CLOSED
    staff: str = ""
    ticket: str = ""
    reason: str = ""
    since: int = 0
    streak: int = 0
    held_since: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def copy(self) -> ModelCounter:
        return replace(self, services=list(self.services))

    def as_map(self) -> dict[str, Any]:
        """As records.counter_map reads the stored record."""
        return {"id": self.id, "state": self.state.value, "staff": self.staff,
                "ticket": self.ticket, "reason": self.reason, "since": self.since,
                "streak": self.streak, "services": list(self.services),
                "held_since": self.held_since}


def whole_second(ms: int) -> int:
    return ms - ms % 1000


def day_end(ms: int) -> int:
    """The local midnight that ends the day of ``ms`` (lua/includes/base.lua)."""
    shifted = ms + UTC_OFFSET_MS
    return shifted - shifted % DAY_MS + DAY_MS - UTC_OFFSET_MS


def queue_suffix(queue_class: str, ident: str) -> str:
    """The key suffix of a class's queue: N/A/P of a service, K/KP of a counter."""
    if queue_class in ("K", "KP"):
        return counter_queue_suffix(ident, queue_class == "KP")
    return service_queue_suffix(ident, QueueClass(queue_class))
