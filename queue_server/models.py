"""What the engine returns: plain frozen dataclasses built from the scripts' records
(queue_server/records.py): the same msgpack arrays the scripts store and publish."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import msgpack

from queue_server.records import EVENT_FIELDS, TICKET_FIELDS, TICKET_LAYOUT
from queue_server.rules.states import CounterState, TicketStatus

# Record fields whose Python names differ (``from`` is a keyword).
RENAMED = {"from": "from_ticket", "to": "to_ticket"}
INT_FIELDS = frozenset(name for name, default in TICKET_LAYOUT if isinstance(default, int))


@dataclass(frozen=True)
class Ticket:
    """One ticket: the record the scripts store (records.TICKET_LAYOUT, field for field), as
    the engine answers it, the API serializes it and the pure model keeps it."""

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
    queue: str

    @property
    def center(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def day(self) -> str:
        """The local day of its numbering (YYYYMMDD): the appointment's day for a booking."""
        return self.id.split("-")[1]

    @classmethod
    def from_record(cls, record: Sequence[Any]) -> Ticket:
        """A ticket record (records.TICKET_FIELDS order: the dataclass's own)."""
        values: dict[str, Any] = {}
        for name, value in zip(TICKET_FIELDS, record, strict=True):
            if isinstance(value, bytes):
                value = value.decode()
            values[RENAMED.get(name, name)] = int(value) if name in INT_FIELDS else value
        values["status"] = TicketStatus(values["status"])
        return cls(**values)

    def to_record(self) -> list[Any]:
        """The record as the scripts store it (what the model compares with Redis)."""
        return [getattr(self, RENAMED.get(name, name)) for name in TICKET_FIELDS]

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
    def from_record(cls, record: Sequence[Any]) -> CounterView:
        """A counter record (records.COUNTER_FIELDS)."""
        id_, state, staff, ticket, reason, since, _, services, _ = record
        return cls(id_, CounterState(state), staff, ticket, reason, int(since), tuple(services))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data["services"] = list(self.services)
        return data


_TICKET, _COUNTER, _NEW_TICKET = (EVENT_FIELDS.index(name)
                                  for name in ("ticket", "counter", "new_ticket"))


@dataclass(frozen=True)
class Outcome:
    """The answer of a transition: the ticket(s) and counter it touched, its event id and
    type ('none' when it changed nothing)."""

    ticket: Ticket | None
    counter: CounterView | None
    event_id: str
    new_ticket: Ticket | None = None
    type: str = ""
    at: int = 0

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> Outcome:
        """A transition's answer: ``[event id or '', event]`` (the event as the stream has it,
        records.EVENT_FIELDS; an action that changed nothing answers type 'none')."""
        event_id, event = reply[0], msgpack.unpackb(reply[1])
        ticket, counter, new_ticket = (event[_TICKET], event[_COUNTER], event[_NEW_TICKET])
        return cls(
            ticket=Ticket.from_record(ticket) if ticket is not None else None,
            counter=CounterView.from_record(counter) if counter is not None else None,
            event_id=event_id.decode() if isinstance(event_id, bytes) else event_id,
            new_ticket=Ticket.from_record(new_ticket) if new_ticket is not None else None,
            type=event[0].decode() if isinstance(event[0], bytes) else event[0],
            at=int(event[1]),
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
    expected_at: int | None = None  # the call expected in opening time (rules/eta.py)
    after_closing: bool = False     # … which falls after today's closing
