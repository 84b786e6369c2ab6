"""Retention with a clock the test moves: personal data cleared after its period, the record
kept (or deleted after its years), one replica at a time, bounded runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from queue_server.archive.projection import StreamId, event_row, ticket_row
from queue_server.archive.retention import RetentionPolicy, RetentionSchedule, apply_retention
from queue_server.archive.store import upsert_tickets
from queue_server.rules.clock import epoch_ms
from tests.archive_support import rows

C = "07054"


def ticket(day: str, number: str) -> dict[str, Any]:
    start = epoch_ms(dt.datetime.fromisoformat(day + "T09:00:00"))
    return {"id": f"{C}-{day.replace('-', '')}-{number}", "number": number,
            "service": "land", "status": "done", "priority": "", "channel": "online",
            "counter": "1", "staff": "lan", "arrived": start, "issued": start, "appt": 0,
            "called": start + 60_000, "started": start + 60_000, "ended": start + 120_000,
            "recalls": 0, "rating": 5, "from": "", "to": "", "note": "", "target_counter": ""}


@pytest.fixture
async def history(archive_pool: AsyncConnectionPool[Any]) -> AsyncConnectionPool[Any]:
    """Tickets of 2015, 2025-06 and 2026-01 with hashes, and a citizen's and a kiosk's event
    of each day."""
    tickets, events = [], []
    for i, day in enumerate(("2015-03-02", "2025-06-30", "2026-01-05")):
        t = ticket(day, "A001")
        tickets.append(ticket_row(t, C, StreamId(1, i), "issued", f"citizen{i}", f"token{i}"))
        for seq, actor in ((2 * i, "citizen"), (2 * i + 1, "kiosk:k1")):
            events.append(event_row(C, StreamId(1, seq), {
                "type": "issued", "at": t["issued"], "ticket": t, "actor": actor,
                "origin": "203.113.0.7"}))
    async with archive_pool.connection() as conn, conn.transaction():
        await upsert_tickets(conn, tickets)
        cursor = conn.cursor()
        async with cursor.copy("COPY events (center, sid_ms, sid_seq, type, at_ms, day, ticket,"
                               " new_ticket, status, counter, staff, actor, origin, info) "
                               "FROM STDIN") as copy:
            for row in events:
                await copy.write_row(row)
    return archive_pool


async def personal(pool: AsyncConnectionPool[Any]) -> dict[str, tuple[Any, Any]]:
    return {str(day): (c, t) for day, c, t in await rows(
        pool, "SELECT day, citizen_hash, token_hash FROM tickets")}


async def origins(pool: AsyncConnectionPool[Any]) -> dict[tuple[str, str], Any]:
    return {(str(day), actor): origin for day, actor, origin in await rows(
        pool, "SELECT day, actor, origin FROM events")}


async def test_personal_data_goes_after_its_period_the_record_stays(
        history: AsyncConnectionPool[Any]) -> None:
    policy = RetentionPolicy(personal_days=180)
    async with history.connection() as conn:
        result = await apply_retention(conn, policy, dt.date(2026, 1, 6))
    assert result is not None
    # 2026-01-06 − 180 days = 2025-07-10: the tickets of 2015 and of June 2025 lose theirs.
    assert await personal(history) == {"2015-03-02": (None, None),
                                       "2025-06-30": (None, None),
                                       "2026-01-05": ("citizen2", "token2")}
    # A citizen's address goes with them; a kiosk's (an office device) stays for the audit.
    assert await origins(history) == {
        ("2015-03-02", "citizen"): None, ("2015-03-02", "kiosk:k1"): "203.113.0.7",
        ("2025-06-30", "citizen"): None, ("2025-06-30", "kiosk:k1"): "203.113.0.7",
        ("2026-01-05", "citizen"): "203.113.0.7", ("2026-01-05", "kiosk:k1"): "203.113.0.7"}
    assert (result.personal_cleared, result.origins_cleared) == (2, 2)
    assert (result.tickets_deleted, result.events_deleted) == (0, 0)   # kept for good
    assert len(await rows(history, "SELECT id FROM tickets")) == 3
    # The day after the period's edge: nothing more to clear.
    async with history.connection() as conn:
        again = await apply_retention(conn, policy, dt.date(2026, 1, 6))
    assert again is not None and not again.done_anything


async def test_records_go_after_their_years(history: AsyncConnectionPool[Any]) -> None:
    async with history.connection() as conn:
        result = await apply_retention(conn, RetentionPolicy(180, record_years=10),
                                       dt.date(2026, 1, 6))
    assert result is not None
    # Whole months before January 2016 go: the tickets of 2015, their events and rollup.
    assert (result.tickets_deleted, result.events_deleted) == (1, 2)
    assert await rows(history, "SELECT month FROM monthly WHERE month < '2016-01-01'") == []
    assert len(await rows(history, "SELECT month FROM monthly")) == 2
    days = {str(d) for (d,) in await rows(history, "SELECT day FROM tickets")}
    assert days == {"2025-06-30", "2026-01-05"}


async def test_the_schedule_runs_by_the_clock_it_is_given(
        history: AsyncConnectionPool[Any]) -> None:
    now = [epoch_ms(dt.datetime(2025, 7, 1, 12)) / 1000]
    schedule = RetentionSchedule(history, RetentionPolicy(personal_days=180, every_s=3600),
                                 clock=lambda: now[0])
    await schedule()
    assert (await personal(history))["2015-03-02"] == (None, None)
    assert (await personal(history))["2025-06-30"] == ("citizen1", "token1")
    ran = schedule.last
    now[0] += 200 * 86_400                      # 200 days later: due, and June is past
    await schedule()
    assert schedule.last is not ran
    assert (await personal(history))["2025-06-30"] == (None, None)
    ran = schedule.last
    now[0] += 60                                # a minute later: not due again
    await schedule()
    assert schedule.last is ran


async def test_one_replica_at_a_time(history: AsyncConnectionPool[Any],
                                     archive_url: str) -> None:
    from queue_server.archive.retention import RETENTION_LOCK

    with psycopg.connect(archive_url) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (RETENTION_LOCK,))
        async with history.connection() as conn:
            assert await apply_retention(conn, RetentionPolicy(1), dt.date(2026, 1, 6)) is None
        other.rollback()
    assert (await personal(history))["2025-06-30"] == ("citizen1", "token1")


def test_periods_are_checked() -> None:
    policy = RetentionPolicy(personal_days=90, record_years=5)
    assert policy.personal_cutoff(dt.date(2026, 3, 31)) == dt.date(2025, 12, 31)
    assert policy.record_cutoff(dt.date(2028, 2, 29)) == dt.date(2023, 2, 1)
    assert RetentionPolicy(record_years=0).record_cutoff(dt.date(2026, 1, 1)) is None
