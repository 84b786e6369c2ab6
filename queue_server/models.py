"""What the engine returns: plain frozen dataclasses built from the scripts' records
(queue_server/records.py): the same msgpack arrays the scripts store and publish."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import msgpack

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
    def from_record(cls, record: Sequence[Any]) -> Ticket:
        """A ticket record (records.TICKET_FIELDS order: the dataclass's own)."""
        (id_, number, service, status, priority, channel, counter, staff, arrived, issued, appt,
         called, started, ended, recalls, rating, from_ticket, to_ticket, note,
         target_counter) = record
        return cls(id_, number, service, TicketStatus(status), priority, channel, counter,
                   staff, int(arrived), int(issued), int(appt), int(called), int(started),
                   int(ended), int(recalls), int(rating), from_ticket, to_ticket, note,
                   target_counter)

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


@dataclass(frozen=True)
class Outcome:
    """The answer of a transition: the ticket(s) and counter it touched, and its event id."""

    ticket: Ticket | None
    counter: CounterView | None
    event_id: str
    new_ticket: Ticket | None = None

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> Outcome:
        """A transition's answer: ``[event id or '', event]`` (the event as the stream has it,
        records.EVENT_FIELDS; an action that changed nothing answers type 'none')."""
        event_id, event = reply[0], msgpack.unpackb(reply[1])
        ticket, counter, new_ticket = event[2], event[3], event[6]
        return cls(
            ticket=Ticket.from_record(ticket) if ticket is not None else None,
            counter=CounterView.from_record(counter) if counter is not None else None,
            event_id=event_id.decode() if isinstance(event_id, bytes) else event_id,
            new_ticket=Ticket.from_record(new_ticket) if new_ticket is not None else None,
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
