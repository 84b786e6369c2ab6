"""A center's stream trimmed past the archive's checkpoint: detected, backfilled, reported.

The stream is capped (``MAXLEN ~``): an archive that stays behind long enough (PostgreSQL down
for hours on a busy day) finds that the events after its checkpoint are gone. Redis 7 counts
what a stream was ever given (``XINFO STREAM``'s ``entries-added``) and the archive counts
what it saw go by (its checkpoint: events applied, events lost before, and a base for what
it never saw); once the stream starts after the checkpoint, every entry still in it is newer,
so ``entries-added − seen − length`` is exactly the number of events that were trimmed
before the archive read them. Zero: nothing lost (only the checkpoint's own entry went).
Below zero the counts disagree (the stream was recreated, say by a Redis that lost its data):
a gap of unknown size is recorded and the base reset, so it is reported once. A server
without ``entries-added`` (Redis before 7.0) cannot be checked; the archiver says so once.

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
    entries_added: int | None


def _field(reply: Mapping[Any, Any], name: str) -> Any:
    if name in reply:
        return reply[name]
    return reply.get(name.encode())


def stream_state(reply: Mapping[Any, Any]) -> StreamState:
    """redis-py's parsed ``XINFO STREAM`` answer."""
    first = _field(reply, "first-entry")
    added = _field(reply, "entries-added")
    return StreamState(
        length=int(_field(reply, "length") or 0),
        first=StreamId.parse(first[0]) if first else None,
        last=StreamId.parse(_field(reply, "last-generated-id") or "0-0"),
        entries_added=int(added) if added is not None else None,
    )


def just_before(sid: StreamId) -> StreamId:
    return StreamId(sid.ms, sid.seq - 1) if sid.seq else StreamId(sid.ms - 1, 2**63 - 1)


def find_gap(center: str, checkpoint: Checkpoint, state: StreamState) -> Gap | None:
    """The events trimmed between the checkpoint and the stream's first entry, if any."""
    if state.first is None or state.first <= checkpoint.at or state.entries_added is None:
        return None
    lost = state.entries_added - checkpoint.accounted - state.length
    if lost == 0:
        return None
    resumed = just_before(state.first)
    if lost > 0:
        return Gap(center, checkpoint.at, resumed, state.last, lost)
    return Gap(center, checkpoint.at, resumed, state.last, None, rebase=lost)


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
