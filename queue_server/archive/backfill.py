"""A center's stream trimmed past the archive's checkpoint: detected, backfilled, reported.

The stream is capped (``MAXLEN ~``): an archive that stays behind long enough (PostgreSQL down
for hours on a busy day) finds that the events after its checkpoint are gone. Redis 7 says so
exactly: ``XINFO STREAM`` gives ``max-deleted-entry-id``, and a value past the checkpoint means
events were lost. (On an older server, whose answer lacks it, the sign is weaker: the stream
starts after the checkpoint and the checkpoint's own entry is gone.)

What is lost is the audit trail of those events; the tickets are not: every ticket still in
Redis (``t:<id>``, field ``r``) is read and stored as of the stream's last id read *before*
the scan, so an event still in the stream that is newer replaces the row and an older one
does not. The gap is written to the ``gaps`` table, logged at warning and counted in the
``qms_archive_gaps_total`` metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from queue_server import keys
from queue_server.archive.projection import StreamId, ticket_row
from queue_server.archive.store import Checkpoint, Gap
from queue_server.records import ticket_view
from queue_server.redis_client import RedisClient

SCAN_COUNT = 1000
READ_CHUNK = 500


@dataclass(frozen=True)
class StreamState:
    """What ``XINFO STREAM`` tells of a stream (None where the server does not say)."""

    length: int
    first: StreamId | None
    last: StreamId
    max_deleted: StreamId | None
    entries_added: int | None


def _field(reply: Mapping[Any, Any], name: str) -> Any:
    if name in reply:
        return reply[name]
    return reply.get(name.encode())


def stream_state(reply: Mapping[Any, Any]) -> StreamState:
    """redis-py's parsed ``XINFO STREAM`` answer."""
    first = _field(reply, "first-entry")
    max_deleted = _field(reply, "max-deleted-entry-id")
    added = _field(reply, "entries-added")
    return StreamState(
        length=int(_field(reply, "length") or 0),
        first=StreamId.parse(first[0]) if first else None,
        last=StreamId.parse(_field(reply, "last-generated-id") or "0-0"),
        max_deleted=StreamId.parse(max_deleted) if max_deleted is not None else None,
        entries_added=int(added) if added is not None else None,
    )


def find_gap(center: str, checkpoint: Checkpoint, state: StreamState,
             checkpoint_entry_present: bool | None = None) -> Gap | None:
    """The gap between the checkpoint and the oldest event the stream still holds, if any.

    ``checkpoint_entry_present`` is only consulted for a server without
    ``max-deleted-entry-id``; None there means "not looked up" (no gap is assumed)."""
    at = checkpoint.at
    if state.max_deleted is not None:
        if state.max_deleted <= at:
            return None
        resumed = state.max_deleted
    else:
        if (at.ms == 0 and at.seq == 0) or state.first is None or state.first <= at:
            return None
        if checkpoint_entry_present is not False:
            return None
        first = state.first
        resumed = StreamId(first.ms, first.seq - 1) if first.seq else StreamId(first.ms - 1,
                                                                                 2**63 - 1)
    lost = None
    if state.entries_added is not None:
        # Every entry up to the checkpoint was deleted too (trimming takes the oldest first):
        # what was deleted is what was applied, lost before, and lost now.
        deleted = state.entries_added - state.length
        counted = deleted - checkpoint.events - checkpoint.lost
        lost = counted if counted >= 0 else None
    return Gap(center, at, resumed, state.last, lost)


async def ticket_records(client: RedisClient, center: str) -> list[tuple[dict[str, Any], str]]:
    """Every ticket of the center still in Redis: (its map, the hash of its secret)."""
    pattern = keys.center_prefix(center) + keys.CENTER_KEYS["ticket"][0] + "*"
    names = [name async for name in client.scan_iter(match=pattern, count=SCAN_COUNT)]
    found: list[tuple[dict[str, Any], str]] = []
    for start in range(0, len(names), READ_CHUNK):
        pipe = client.pipeline(transaction=False)
        for name in names[start:start + READ_CHUNK]:
            pipe.hmget(name, "r", "h")
        for record, token_hash in await pipe.execute():
            if record is None:
                continue  # expired between the scan and the read
            ticket = ticket_view(msgpack.unpackb(record, raw=False))
            found.append((ticket, token_hash.decode() if token_hash else ""))
    return found


def backfill_rows(center: str, gap: Gap,
                  records: list[tuple[dict[str, Any], str]]) -> list[tuple[Any, ...]]:
    return [ticket_row(ticket, center, gap.stream_last, "backfill", None, token_hash or None)
            for ticket, token_hash in records]
