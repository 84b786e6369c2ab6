"""The transactions that write the archive: a batch of events, a backfill, the checkpoints.

Each batch is applied in one transaction that first takes its center's checkpoint row with
``FOR UPDATE SKIP LOCKED`` and compares it with the id the batch was read after: another
replica applying the same center meanwhile holds the row (this one skips the center for the
round) or has moved it (this one drops the batch and reads again from the new checkpoint).
So a batch is applied once, and its rows and the checkpoint commit together or not at all.
Event rows are keyed by (center, stream id) and ticket rows are kept only when newer than the
stored one, so even a replay past the checkpoint would change nothing.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from queue_server.archive.projection import (
    CITIZEN,
    EVENT_COLUMNS,
    TICKET_COLUMNS,
    TOKEN,
    Batch,
    StreamId,
)

EVENT_TYPES = ("text", "bigint", "bigint", "text", "bigint", "date", "text", "text", "text",
               "text", "text", "text", "text", "jsonb")
TICKET_TYPES = ("text", "text", "date", "text", "text", "text", "text", "text", "text", "text",
                "bigint", "bigint", "bigint", "bigint", "bigint", "bigint", "integer",
                "smallint", "text", "text", "text", "text", "bigint", "bigint", "text", "text",
                "bigint", "bigint", "text")


def rows_sql(types: Sequence[str], skip_first: bool = False) -> str:
    """The rows of one JSON parameter (an array of arrays), typed column by column: psycopg
    dumps one text where arrays per column cost it a Python loop per value (the archive's
    largest CPU cost before this); PostgreSQL parses it in C."""
    kinds = types[1:] if skip_first else types
    fields = ", ".join(f"(e->>{i})::{kind}" for i, kind in enumerate(kinds))
    return f"SELECT {{first}}{fields} FROM json_array_elements(%s::json) AS e"


def rows_json(rows: Iterable[tuple[Any, ...]], skip_first: bool = False) -> str:
    """Rows as the JSON ``rows_sql`` reads (dates as ISO text, NULL as null)."""
    start = 1 if skip_first else 0
    return json.dumps([row[start:] for row in rows], ensure_ascii=False, default=str,
                      separators=(",", ":"))


# The center is the same for every event of a batch: one parameter, not a column.
INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
    + rows_sql(EVENT_TYPES, skip_first=True).format(first="%s::text, ")
    + " ON CONFLICT DO NOTHING")

_UPDATED = [c for c in TICKET_COLUMNS if c not in ("id", "center", "day", "citizen_hash",
                                                   "token_hash")]
_INCOMING = ", ".join(f"(e->>{i})::{kind} AS {name}" for i, (name, kind) in
                     enumerate(zip(TICKET_COLUMNS, TICKET_TYPES, strict=True)))
_MONTH = "date_trunc('month', day)::date"
# One statement: the ticket rows upserted (newest wins), and the monthly rollup moved by the
# difference between the rows replaced and their new versions. Every part of a statement
# sees the table as it was before it, so `old` holds the replaced versions.
UPSERT_TICKETS = (
    f"WITH incoming AS (SELECT {_INCOMING} FROM json_array_elements(%s::json) AS e), "
    "old AS (SELECT t.id, t.center, t.day, t.status, t.wait_ms, t.service_ms, t.rating "
    "FROM tickets AS t JOIN incoming USING (id)), "
    f"up AS (INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) SELECT * FROM incoming "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED)
    + ", citizen_hash = COALESCE(EXCLUDED.citizen_hash, tickets.citizen_hash)"
    ", token_hash = COALESCE(EXCLUDED.token_hash, tickets.token_hash) "
    "WHERE (tickets.version_ms, tickets.version_seq) < (EXCLUDED.version_ms, EXCLUDED.version_seq)"
    " RETURNING id, center, day, status, wait_ms, service_ms, rating), "
    "delta AS (SELECT center, day, status, wait_ms, service_ms, rating, 1 AS sign FROM up "
    "UNION ALL SELECT o.center, o.day, o.status, o.wait_ms, o.service_ms, o.rating, -1 "
    "FROM old AS o JOIN up USING (id)), "
    "counts AS (INSERT INTO monthly AS m (center, month, tickets, served, no_shows, transfers,"
    " cancellations, expirations, called, wait_sum, service_n, service_sum, r1, r2, r3, r4,"
    f" r5) SELECT center, {_MONTH}, sum(sign), "
    + ", ".join(f"coalesce(sum(sign) FILTER (WHERE status = '{s}'), 0)" for s in (
        "done", "no_show", "transferred", "cancelled", "expired"))
    + ", coalesce(sum(sign) FILTER (WHERE wait_ms IS NOT NULL), 0),"
    " coalesce(sum(sign * wait_ms), 0),"
    " coalesce(sum(sign) FILTER (WHERE service_ms IS NOT NULL), 0),"
    " coalesce(sum(sign * service_ms), 0), "
    + ", ".join(f"coalesce(sum(sign) FILTER (WHERE rating = {r}), 0)" for r in range(1, 6))
    + " FROM delta GROUP BY 1, 2 ON CONFLICT (center, month) DO UPDATE SET "
    + ", ".join(f"{c} = m.{c} + EXCLUDED.{c}" for c in (
        "tickets", "served", "no_shows", "transfers", "cancellations", "expirations", "called",
        "wait_sum", "service_n", "service_sum", "r1", "r2", "r3", "r4", "r5"))
    + ") INSERT INTO monthly_hist AS h (center, month, kind, bucket, n) "
    f"SELECT center, {_MONTH}, v.kind, qms_bucket(v.ms), sum(sign) FROM delta "
    "CROSS JOIN LATERAL (VALUES ('w'::\"char\", wait_ms), ('s'::\"char\", service_ms)) "
    "AS v(kind, ms) WHERE v.ms IS NOT NULL GROUP BY 1, 2, 3, 4 HAVING sum(sign) <> 0 "
    "ON CONFLICT (center, month, kind, bucket) DO UPDATE SET n = h.n + EXCLUDED.n"
)
# The hashes an `issued` event brings, also where its row was not kept (a newer one stored,
# e.g. by a backfill): they are known only from that event.
FILL_HASHES = (
    "UPDATE tickets AS t SET citizen_hash = COALESCE(t.citizen_hash, u.citizen),"
    " token_hash = COALESCE(t.token_hash, u.token)"
    " FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(id, citizen, token)"
    " WHERE t.id = u.id AND ((t.citizen_hash IS NULL AND u.citizen IS NOT NULL)"
    " OR (t.token_hash IS NULL AND u.token IS NOT NULL))")
LOCK_CHECKPOINT = (
    "SELECT last_ms, last_seq FROM checkpoints WHERE center = %s FOR UPDATE SKIP LOCKED")
ADVANCE = ("UPDATE checkpoints SET last_ms = %s, last_seq = %s, events = events + %s,"
           " gaps = gaps + %s, lost = lost + %s, base = base + %s, updated_at = now()"
           " WHERE center = %s")
INSERT_GAP = ("INSERT INTO gaps (center, checkpoint, resumed_after, stream_last, lost_events,"
              " tickets_backfilled) VALUES (%s, %s, %s, %s, %s, %s)")


class Outcome(enum.Enum):
    APPLIED = "applied"
    BUSY = "busy"      # another replica holds the center's checkpoint right now
    MOVED = "moved"    # another replica applied past the id this batch was read after


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    checkpoint: StreamId | None   # the checkpoint now (after applying, or as found)


@dataclass(frozen=True)
class Gap:
    """A stream trimmed past a checkpoint, and how the archive resumed."""

    center: str
    checkpoint: StreamId        # the last id applied
    resumed_after: StreamId     # just before the stream's first entry: all after it exist
    stream_last: StreamId       # the stream's last id before the ticket records were read
    lost_events: int | None     # events between the two that were never applied, if known
    rebase: int = 0             # added to the checkpoint's base when the count was unknown


def columns_of(rows: Iterable[tuple[Any, ...]], skip_first: bool = False) -> list[list[Any]]:
    columns = [list(column) for column in zip(*rows, strict=True)]
    return columns[1:] if skip_first else columns


async def ensure_centers(conn: AsyncConnection[Any], centers: Sequence[str]) -> None:
    """A checkpoint row for every center (at 0-0 when new), so the lock always finds one."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO checkpoints (center) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
            (list(centers),))


@dataclass(frozen=True)
class Checkpoint:
    at: StreamId     # the last stream id applied
    events: int      # events applied, all time
    lost: int        # events known lost in gaps, all time
    base: int = 0    # entries of the stream counted in neither (see backfill.find_gap)

    @property
    def accounted(self) -> int:
        """How many of the stream's entries the archive has seen go by (applied or lost)."""
        return self.base + self.events + self.lost


async def read_checkpoints(conn: AsyncConnection[Any]) -> dict[str, Checkpoint]:
    cursor = await conn.execute(
        "SELECT center, last_ms, last_seq, events, lost, base FROM checkpoints")
    return {center: Checkpoint(StreamId(ms, seq), events, lost, base)
            for center, ms, seq, events, lost, base in await cursor.fetchall()}


async def _lock(conn: AsyncConnection[Any], center: str,
                expected: StreamId) -> Result | None:
    """None when this transaction holds the checkpoint at ``expected``; else why not."""
    cursor = await conn.execute(LOCK_CHECKPOINT, (center,))
    row = await cursor.fetchone()
    if row is None:
        return Result(Outcome.BUSY, None)
    found = StreamId(*row)
    return None if found == expected else Result(Outcome.MOVED, found)


async def upsert_tickets(conn: AsyncConnection[Any], rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    await conn.execute(UPSERT_TICKETS, (rows_json(rows),))
    hashed = [(row[0], row[CITIZEN], row[TOKEN]) for row in rows
              if row[CITIZEN] is not None or row[TOKEN] is not None]
    if hashed:
        await conn.execute(FILL_HASHES, columns_of(hashed))


async def apply_batch(conn: AsyncConnection[Any], batch: Batch, expected: StreamId) -> Result:
    """Apply ``batch`` (read after ``expected``) in one transaction, if still due."""
    async with conn.transaction():
        refused = await _lock(conn, batch.center, expected)
        if refused is not None:
            return refused
        if batch.events:
            await conn.execute(INSERT_EVENTS, (batch.center, rows_json(batch.events, True)))
        await upsert_tickets(conn, list(batch.tickets.values()))
        await conn.execute(ADVANCE, (batch.last.ms, batch.last.seq, len(batch.events), 0, 0,
                                     0, batch.center))
    return Result(Outcome.APPLIED, batch.last)


async def apply_backfill(conn: AsyncConnection[Any], gap: Gap,
                         rows: Sequence[tuple[Any, ...]]) -> Result:
    """The ticket records read after a gap, stored as of ``gap.stream_last`` (so an event
    still in the stream that is newer replaces them, an older one does not), the gap
    recorded, and the checkpoint moved to where the stream resumes."""
    async with conn.transaction():
        refused = await _lock(conn, gap.center, gap.checkpoint)
        if refused is not None:
            return refused
        await upsert_tickets(conn, rows)
        await conn.execute(INSERT_GAP, (
            gap.center, str(gap.checkpoint), str(gap.resumed_after), str(gap.stream_last),
            gap.lost_events, len(rows)))
        await conn.execute(ADVANCE, (gap.resumed_after.ms, gap.resumed_after.seq, 0, 1,
                                     gap.lost_events or 0, gap.rebase, gap.center))
    return Result(Outcome.APPLIED, gap.resumed_after)
