"""Stream events to archive rows, without I/O.

An event is the map :func:`queue_server.records.decode_event` makes (its docstring is the
contract); fields added later (``before``, ``actor``, ``origin``, ``info``) are read with
``.get`` so events written before them archive too. A batch of events becomes:

- one **event row** each (the audit trail), with the ticket status after it, the counter,
  the staff member concerned, who acted and from where, and ``info`` without its personal
  fields (``citizen``, ``token``: they go to the ticket row only, where retention clears them);
- one **ticket row** per ticket touched, its state after the newest event of the batch
  ("newest wins": the store keeps a row only if its stream id is newer than the one stored).

Ticket ids read ``<center>-<YYYYMMDD>-<number>``: the day of a ticket is the day of its
number. Times of 0 (a step not reached) become NULL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from queue_server.rules.clock import UTC_OFFSET_S

EVENT_COLUMNS: tuple[str, ...] = (
    "center", "sid_ms", "sid_seq", "type", "at_ms", "day", "ticket", "new_ticket", "status",
    "counter", "staff", "actor", "origin", "info",
)
TICKET_COLUMNS: tuple[str, ...] = (
    "id", "center", "day", "number", "service", "status", "priority", "channel", "counter",
    "staff", "arrived_ms", "issued_ms", "appt_ms", "called_ms", "started_ms", "ended_ms",
    "recalls", "rating", "from_ticket", "to_ticket", "note", "target_counter", "wait_ms",
    "service_ms", "citizen_hash", "token_hash", "version_ms", "version_seq", "last_event",
)
CITIZEN, TOKEN = TICKET_COLUMNS.index("citizen_hash"), TICKET_COLUMNS.index("token_hash")
PERSONAL_INFO = ("citizen", "token")
INFO_MAX_CHARS = 2000
_DAY_MS = 86_400_000
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, order=True)
class StreamId:
    """A Redis stream id ``<ms>-<seq>``, ordered as Redis orders them."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, text: str | bytes) -> StreamId:
        raw = text.decode() if isinstance(text, bytes) else text
        ms, _, seq = raw.partition("-")
        return cls(int(ms), int(seq or 0))

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"

    def after(self) -> str:
        """The XRANGE start that excludes this id."""
        return f"({self}"


ZERO = StreamId(0, 0)


def local_date(epoch_ms: int) -> dt.date:
    """The local day (UTC+7, no daylight saving) of an instant."""
    return _EPOCH + dt.timedelta(days=(epoch_ms + UTC_OFFSET_S * 1000) // _DAY_MS)


def ticket_day(ticket_id: str, fallback_ms: int) -> dt.date:
    """The day in a ticket's id, else the local day of ``fallback_ms``."""
    parts = ticket_id.rsplit("-", 2)
    if len(parts) == 3 and len(parts[1]) == 8 and parts[1].isdigit():
        try:
            return dt.date(int(parts[1][:4]), int(parts[1][4:6]), int(parts[1][6:]))
        except ValueError:
            pass
    return local_date(fallback_ms)


def _ms(value: Any) -> int | None:
    number = int(value or 0)
    return number if number > 0 else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def _or_none(value: Any) -> str | None:
    text = _text(value)
    return text or None


def wait_ms(ticket: Mapping[str, Any]) -> int | None:
    """Wait start to the first call: the arrival (a check-in for appointments), or for a
    transferred ticket the transfer, as the scripts measure it (prelude.lua ``wait_start``)."""
    called = _ms(ticket.get("called"))
    start = _ms(ticket.get("issued") if ticket.get("channel") == "transfer"
                else ticket.get("arrived"))
    if called is None or start is None:
        return None
    return max(called - start, 0)


def service_ms(ticket: Mapping[str, Any]) -> int | None:
    if ticket.get("status") != "done":
        return None
    started, ended = _ms(ticket.get("started")), _ms(ticket.get("ended"))
    if started is None or ended is None:
        return None
    return max(ended - started, 0)


def ticket_row(ticket: Mapping[str, Any], center: str, version: StreamId, event_type: str,
               citizen_hash: str | None = None, token_hash: str | None = None) -> tuple[Any, ...]:
    """A ticket map (:data:`queue_server.records.TICKET_FIELDS`) as a row of
    :data:`TICKET_COLUMNS`."""
    ticket_id = _text(ticket["id"])
    rating = int(ticket.get("rating") or 0)
    return (
        ticket_id, center, ticket_day(ticket_id, int(ticket.get("issued") or 0)),
        _text(ticket.get("number")), _text(ticket.get("service")), _text(ticket.get("status")),
        _text(ticket.get("priority")), _text(ticket.get("channel")),
        _text(ticket.get("counter")), _text(ticket.get("staff")),
        _ms(ticket.get("arrived")), _ms(ticket.get("issued")), _ms(ticket.get("appt")),
        _ms(ticket.get("called")), _ms(ticket.get("started")), _ms(ticket.get("ended")),
        int(ticket.get("recalls") or 0), rating if 1 <= rating <= 5 else None,
        _or_none(ticket.get("from")), _or_none(ticket.get("to")), _text(ticket.get("note")),
        _text(ticket.get("target_counter")), wait_ms(ticket), service_ms(ticket),
        citizen_hash or None, token_hash or None, version.ms, version.seq, event_type,
    )


def _plain(value: Any) -> Any:
    """msgpack values as JSON can hold them."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, Mapping):
        return {_text(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def public_info(info: Mapping[str, Any] | None) -> str | None:
    """``info`` as JSON without its personal fields; a large one is cut to its keys (the
    trail stays small; what a type needs to keep belongs in the records)."""
    if not info:
        return None
    kept = {k: v for k, v in _plain(info).items() if k not in PERSONAL_INFO}
    if not kept:
        return None
    text = json.dumps(kept, ensure_ascii=False, sort_keys=True)
    if len(text) > INFO_MAX_CHARS:
        text = json.dumps({"truncated": True, "keys": sorted(kept)}, ensure_ascii=False)
    return text


def _staff_of(event: Mapping[str, Any]) -> str | None:
    for part in ("counter", "before", "ticket"):
        record = event.get(part)
        if record and record.get("staff"):
            return _text(record["staff"])
    return None


def event_row(center: str, sid: StreamId, event: Mapping[str, Any]) -> tuple[Any, ...]:
    """One decoded event as a row of :data:`EVENT_COLUMNS`."""
    ticket = event.get("ticket")
    counter = event.get("counter") or event.get("before")
    at = int(event.get("at") or sid.ms)
    return (
        center, sid.ms, sid.seq, _text(event.get("type")), at, local_date(at),
        _text(ticket["id"]) if ticket else None,
        _text(event["new_ticket"]["id"]) if event.get("new_ticket") else None,
        _text(ticket.get("status")) if ticket else None,
        _text(counter["id"]) if counter else None, _staff_of(event),
        _text(event.get("actor")), _or_none(event.get("origin")),
        public_info(event.get("info")),
    )


@dataclass
class Batch:
    """The rows of consecutive events of one center, and the last stream id among them.

    A ticket's row is made once, from the newest of its events in the batch (with the hashes
    its ``issued`` event gave, if that came earlier in the batch)."""

    center: str
    events: list[tuple[Any, ...]] = field(default_factory=list)
    last: StreamId = ZERO
    _latest: dict[str, tuple[Mapping[str, Any], StreamId, str, str | None, str | None]] = \
        field(default_factory=dict)

    def add(self, sid: StreamId, event: Mapping[str, Any]) -> None:
        self.events.append(event_row(self.center, sid, event))
        kind = _text(event.get("type"))
        ticket = event.get("ticket")
        if ticket:
            citizen = token = None
            if kind == "issued":
                info = event.get("info") or {}
                citizen, token = _or_none(info.get("citizen")), _or_none(info.get("token"))
            self._put(ticket, sid, kind, citizen, token)
        new_ticket = event.get("new_ticket")
        if new_ticket:
            self._put(new_ticket, sid, kind, None, None)
        self.last = sid

    def _put(self, ticket: Mapping[str, Any], sid: StreamId, kind: str, citizen: str | None,
             token: str | None) -> None:
        ticket_id = _text(ticket["id"])
        earlier = self._latest.get(ticket_id)
        if earlier is not None:
            citizen, token = citizen or earlier[3], token or earlier[4]
        self._latest[ticket_id] = (ticket, sid, kind, citizen, token)

    @property
    def tickets(self) -> dict[str, tuple[Any, ...]]:
        """Ticket id → its row (:data:`TICKET_COLUMNS`)."""
        return {ticket_id: ticket_row(ticket, self.center, sid, kind, citizen, token)
                for ticket_id, (ticket, sid, kind, citizen, token) in self._latest.items()}


def project(center: str, entries: Iterable[tuple[StreamId, Mapping[str, Any]]]) -> Batch:
    """The rows of ``entries`` (stream order), ready for :mod:`queue_server.archive.store`."""
    batch = Batch(center)
    for sid, event in entries:
        batch.add(sid, event)
    return batch
