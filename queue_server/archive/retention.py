"""How long the archive keeps what (docs/archive.md, "Retention").

- **Personal data** — the salted hash of a citizen's id, the hash of a ticket's secret, and
  the client address of a citizen's own actions — is cleared once the ticket's day is more
  than ``personal_days`` old (Decree 13/2023/NĐ-CP: personal data is kept no longer than its
  purpose needs; here, answering a complaint about the ticket).
- **The record** (ticket rows, the audit trail) is kept ``record_years`` years after its day,
  then deleted; 0 keeps it for good.

Runs in the archiver's housekeeping, at most once per ``every_s``, by one replica at a time
(a transaction-level advisory lock); each run touches at most ``CHUNK`` rows per statement
(the next round goes on), so a first run over years of data holds no long transaction. The
clock is injected: tests move it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from queue_server.archive.projection import local_date

log = logging.getLogger("qms.archive")
RETENTION_LOCK = 0x716D7372  # 'qmsr'
CHUNK = 50_000
# Actors whose address says where a person was, not which office device or login acted.
CITIZEN_ACTORS = ("citizen", "")


@dataclass(frozen=True)
class RetentionPolicy:
    personal_days: int = 180
    record_years: int = 0        # 0: forever
    every_s: float = 3600.0

    def personal_cutoff(self, today: dt.date) -> dt.date:
        """Tickets of days before this one lose their personal data."""
        return today - dt.timedelta(days=self.personal_days)

    def record_cutoff(self, today: dt.date) -> dt.date | None:
        """Records of days before this one are deleted; None: kept for good. Whole months
        go, so the monthly rollup goes with its tickets."""
        if self.record_years <= 0:
            return None
        return today.replace(year=today.year - self.record_years, day=1)


@dataclass(frozen=True)
class RetentionResult:
    personal_cleared: int = 0
    origins_cleared: int = 0
    tickets_deleted: int = 0
    events_deleted: int = 0

    @property
    def done_anything(self) -> bool:
        return any((self.personal_cleared, self.origins_cleared, self.tickets_deleted,
                    self.events_deleted))

    @property
    def more(self) -> bool:
        """A statement reached its bound: there is more to do, in the next run."""
        return max(self.personal_cleared, self.origins_cleared, self.tickets_deleted,
                   self.events_deleted) >= CHUNK


async def _bounded(conn: AsyncConnection[Any], sql: str, params: tuple[Any, ...]) -> int:
    cursor = await conn.execute(sql, (*params, CHUNK))
    return cursor.rowcount


CLEAR_PERSONAL = (
    "UPDATE tickets SET citizen_hash = NULL, token_hash = NULL WHERE id IN ("
    " SELECT id FROM tickets WHERE day < %s"
    " AND (citizen_hash IS NOT NULL OR token_hash IS NOT NULL) LIMIT %s)")
CLEAR_ORIGINS = (
    "UPDATE events SET origin = NULL WHERE (center, sid_ms, sid_seq) IN ("
    " SELECT center, sid_ms, sid_seq FROM events WHERE day < %s AND origin IS NOT NULL"
    " AND actor = ANY(%s) LIMIT %s)")
DELETE_TICKETS = "DELETE FROM tickets WHERE id IN (SELECT id FROM tickets WHERE day < %s LIMIT %s)"
DELETE_ROLLUP = ("DELETE FROM monthly WHERE month < %s",
                 "DELETE FROM monthly_hist WHERE month < %s")
DELETE_EVENTS = (
    "DELETE FROM events WHERE (center, sid_ms, sid_seq) IN ("
    " SELECT center, sid_ms, sid_seq FROM events WHERE day < %s LIMIT %s)")


async def apply_retention(conn: AsyncConnection[Any], policy: RetentionPolicy,
                          today: dt.date) -> RetentionResult | None:
    """Clear and delete what is past its period, as of the local day ``today``; None when
    another replica is doing it right now."""
    async with conn.transaction():
        cursor = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (RETENTION_LOCK,))
        row = await cursor.fetchone()
        if row is None or not row[0]:
            return None
        personal = policy.personal_cutoff(today)
        cleared = await _bounded(conn, CLEAR_PERSONAL, (personal,))
        origins = await _bounded(conn, CLEAR_ORIGINS, (personal, list(CITIZEN_ACTORS)))
        tickets = events = 0
        record = policy.record_cutoff(today)
        if record is not None:
            tickets = await _bounded(conn, DELETE_TICKETS, (record,))
            events = await _bounded(conn, DELETE_EVENTS, (record,))
            for statement in DELETE_ROLLUP:
                await conn.execute(statement, (record,))
    result = RetentionResult(cleared, origins, tickets, events)
    if result.done_anything:
        log.info("archive retention (as of %s): personal data of %d tickets and %d addresses "
                 "cleared (days before %s); %d tickets and %d events deleted%s", today,
                 cleared, origins, personal, tickets, events,
                 f" (days before {record})" if record else "")
    return result


class RetentionSchedule:
    """The archiver's housekeeping: retention at most once per ``policy.every_s``."""

    def __init__(self, pool: AsyncConnectionPool[Any], policy: RetentionPolicy,
                 clock: Callable[[], float] = time.time) -> None:
        self.pool = pool
        self.policy = policy
        self.clock = clock
        self._next = 0.0
        self.last: RetentionResult | None = None

    async def __call__(self) -> None:
        now = self.clock()
        if now < self._next:
            return
        async with self.pool.connection() as conn:
            self.last = await apply_retention(conn, self.policy, local_date(int(now * 1000)))
        # Years of data to clear at the first run go in bounded steps, one per round.
        more = self.last is not None and self.last.more
        self._next = now if more else now + self.policy.every_s
