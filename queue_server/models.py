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
        """A ticket record (records.TICKET_FIELDS order: the dataclass's own). msgpack gives
        text and whole numbers as they are, so the common case takes them positionally."""
        if type(record[0]) is str and type(record[8]) is int:
            return cls(record[0], record[1], record[2], TicketStatus(record[3]), *record[4:])
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


class Outcome:
    """The answer of a transition: the ticket(s) and counter it touched, its event id, type
    ('none' when it changed nothing) and instant.

    The records are decoded when first read: a caller that only needs the event id or whether
    a ticket was called (a busy counter's loop, the benchmark) does not pay for building them
    (docs/benchmarks.md: decoding answers was the client's next cost)."""

    __slots__ = ("_counter", "_event", "_new_ticket", "_ticket", "event_id")

    def __init__(self, event_id: str, event: Sequence[Any]) -> None:
        self.event_id = event_id
        self._event = event
        self._ticket: Ticket | bool | None = False      # False: not decoded yet
        self._new_ticket: Ticket | bool | None = False
        self._counter: CounterView | bool | None = False

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> Outcome:
        """A transition's answer: ``[event id or '', event]`` (the event as the stream has it,
        records.EVENT_FIELDS; an action that changed nothing answers type 'none')."""
        event_id = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
        return cls(event_id, msgpack.unpackb(reply[1]))

    @property
    def type(self) -> str:
        return str(self._event[0])

    @property
    def at(self) -> int:
        return int(self._event[1])

    @property
    def ticket_record(self) -> Sequence[Any] | None:
        """The ticket as stored (records.TICKET_FIELDS), not decoded."""
        record: Sequence[Any] | None = self._event[_TICKET]
        return record

    @property
    def new_ticket_record(self) -> Sequence[Any] | None:
        record: Sequence[Any] | None = self._event[_NEW_TICKET]
        return record

    @property
    def ticket(self) -> Ticket | None:
        if self._ticket is False:
            record = self.ticket_record
            self._ticket = Ticket.from_record(record) if record is not None else None
        return self._ticket  # type: ignore[return-value]

    @property
    def new_ticket(self) -> Ticket | None:
        if self._new_ticket is False:
            record = self.new_ticket_record
            self._new_ticket = Ticket.from_record(record) if record is not None else None
        return self._new_ticket  # type: ignore[return-value]

    @property
    def counter(self) -> CounterView | None:
        if self._counter is False:
            record = self._event[_COUNTER]
            self._counter = CounterView.from_record(record) if record is not None else None
        return self._counter  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.event_id, list(self._event)) == (other.event_id, list(other._event))

    def __hash__(self) -> int:
        return hash(self.event_id)

    def __repr__(self) -> str:
        return f"Outcome({self.type} {self.event_id}: {self.ticket}, {self.counter})"


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
