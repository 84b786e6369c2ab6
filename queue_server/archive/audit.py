"""The audit trail of one ticket: every event that touched it, in stream order.

A ticket is found by its center, day and number (what the citizen's slip shows: ``A023`` of
22/11/2026 at center 07054 is ``07054-20261122-A023``), or by its id. The trail holds the
events naming it as the ticket, and the transfer that created it (as ``new_ticket``); the
tickets it came from or went to are linked, not merged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from queue_server.errors import InvalidInput, UnknownTicket
from queue_server.rules.clock import TIMEZONE

NUMBER = re.compile(r"^[A-Z]{1,3}\d{1,4}$")
TRAIL_COLUMNS = ("at_local", "stream_id", "type", "ticket", "new_ticket", "status", "counter",
                 "staff", "actor", "origin", "info")
TICKET_FIELDS = ("id", "center", "day", "number", "service", "status", "priority", "channel",
                 "counter", "staff", "arrived_ms", "issued_ms", "appt_ms", "called_ms",
                 "started_ms", "ended_ms", "recalls", "rating", "from_ticket", "to_ticket",
                 "note", "wait_ms", "service_ms", "last_event")


def ticket_id_of(center: str, day: dt.date, number: str) -> str:
    """``07054``, 2026-11-22, ``a23`` → ``07054-20261122-A023`` (numbers have 3 digits)."""
    text = number.strip().upper()
    if not NUMBER.match(text):
        raise InvalidInput(f"a ticket number looks like A023, got {number!r}",
                           reason="ticket_number_malformed", field="number")
    prefix = text.rstrip("0123456789")
    digits = text[len(prefix):]
    return f"{center}-{day:%Y%m%d}-{prefix}{int(digits):03d}"


def local_time(epoch_ms: int | None) -> str | None:
    if not epoch_ms:
        return None
    return dt.datetime.fromtimestamp(epoch_ms / 1000, TIMEZONE).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Trail:
    ticket: dict[str, Any] | None     # the ticket row (None: only events remain)
    events: list[dict[str, Any]]

    def describe(self) -> dict[str, Any]:
        return {"ticket": self.ticket, "events": self.events}


EVENTS = (
    "SELECT sid_ms, sid_seq, type, at_ms, ticket, new_ticket, status, counter, staff, actor,"
    " origin, info FROM events WHERE center = %(center)s AND (ticket = %(id)s OR"
    " new_ticket = %(id)s) ORDER BY sid_ms, sid_seq")


async def ticket_trail(conn: AsyncConnection[Any], ticket_id: str) -> Trail:
    """The ticket's row and its events; :class:`UnknownTicket` when the archive has neither."""
    center = ticket_id.split("-", 1)[0]
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(f"SELECT {', '.join(TICKET_FIELDS)} FROM tickets WHERE id = %s",
                             (ticket_id,))
        row = await cursor.fetchone()
        await cursor.execute(EVENTS, {"center": center, "id": ticket_id})
        events = await cursor.fetchall()
    if row is None and not events:
        raise UnknownTicket(f"the archive has no ticket {ticket_id}",
                            reason="archive_ticket_unknown", ticket=ticket_id)
    ticket = None
    if row is not None:
        ticket = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}
        for name in ("arrived_ms", "issued_ms", "appt_ms", "called_ms", "started_ms",
                     "ended_ms"):
            ticket[name.removesuffix("_ms") + "_local"] = local_time(row[name])
    trail = [{
        "stream_id": f"{e['sid_ms']}-{e['sid_seq']}", "type": e["type"], "at": e["at_ms"],
        "at_local": local_time(e["at_ms"]), "ticket": e["ticket"],
        "new_ticket": e["new_ticket"], "status": e["status"], "counter": e["counter"],
        "staff": e["staff"], "actor": e["actor"], "origin": e["origin"],
        "info": e["info"] or {},
    } for e in events]
    return Trail(ticket, trail)


def trail_csv(trail: Trail) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRAIL_COLUMNS)
    for event in trail.events:
        writer.writerow([
            json.dumps(event[c], ensure_ascii=False, sort_keys=True) if c == "info"
            else ("" if event.get(c) is None else event.get(c)) for c in TRAIL_COLUMNS])
    return out.getvalue()
