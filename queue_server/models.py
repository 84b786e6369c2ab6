"""What the engine returns: plain frozen dataclasses built from the scripts' msgpack answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from queue_server.rules.states import CounterState, TicketStatus


@dataclass(frozen=True)
class Ticket:
    id: str
    number: str
    service: str
    status: TicketStatus
    priority: str
    channel: str
    counter: str
    staff: str
    arrived: int
    issued: int
    appt: int
    called: int
    started: int
    ended: int
    recalls: int
    rating: int
    from_ticket: str
    to_ticket: str
    note: str
    target_counter: str

    @property
    def center(self) -> str:
        return self.id.split("-", 1)[0]

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Ticket:
        return cls(
            id=raw["id"],
            number=raw["number"],
            service=raw["service"],
            status=TicketStatus(raw["status"]),
            priority=raw.get("priority") or "",
            channel=raw["channel"],
            counter=raw.get("counter") or "",
            staff=raw.get("staff") or "",
            arrived=int(raw.get("arrived") or 0),
            issued=int(raw.get("issued") or 0),
            appt=int(raw.get("appt") or 0),
            called=int(raw.get("called") or 0),
            started=int(raw.get("started") or 0),
            ended=int(raw.get("ended") or 0),
            recalls=int(raw.get("recalls") or 0),
            rating=int(raw.get("rating") or 0),
            from_ticket=raw.get("from") or "",
            to_ticket=raw.get("to") or "",
            note=raw.get("note") or "",
            target_counter=raw.get("target_counter") or "",
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["center"] = self.center
        return data


@dataclass(frozen=True)
class CounterView:
    id: str
    state: CounterState
    staff: str
    ticket: str
    reason: str
    since: int
    services: tuple[str, ...]

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> CounterView:
        services = raw.get("services") or ""
        return cls(
            id=raw["id"],
            state=CounterState(raw["state"]),
            staff=raw.get("staff") or "",
            ticket=raw.get("ticket") or "",
            reason=raw.get("reason") or "",
            since=int(raw.get("since") or 0),
            services=tuple(s for s in services.split(",") if s),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data["services"] = list(self.services)
        return data


@dataclass(frozen=True)
class Outcome:
    """The answer of a transition: the ticket(s) and counter it touched, and its event id."""

    ticket: Ticket | None
    counter: CounterView | None
    event_id: str
    new_ticket: Ticket | None = None

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Outcome:
        def ticket(key: str) -> Ticket | None:
            value = raw.get(key)
            return Ticket.from_wire(value) if isinstance(value, dict) else None

        counter = raw.get("counter")
        event = raw.get("event") or ""
        return cls(
            ticket=ticket("ticket"),
            counter=CounterView.from_wire(counter) if isinstance(counter, dict) else None,
            event_id=event.decode() if isinstance(event, bytes) else event,
            new_ticket=ticket("new_ticket"),
        )


@dataclass(frozen=True)
class TicketState:
    """A ticket as its holder sees it: where it stands and how long it may still wait."""

    ticket: Ticket
    ahead: int | None
    estimated_wait_s: int | None
    active_counters: int
    now: int
    token_hash: str = ""  # compared by the API with the caller's secret; never sent out
