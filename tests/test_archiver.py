"""The archiver fed by the real engine: every event once, every ticket as Redis holds it; two
archivers at once; a real kill in the middle of a batch; an undecodable event; the fields
the events are gaining (actor, origin, the hashes of an issue).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import psycopg
from psycopg_pool import AsyncConnectionPool

from queue_server.archive.projection import StreamId
from queue_server.archive.report_query import build_query, period_of
from queue_server.archive.reports import run_report
from queue_server.engine import Engine
from queue_server.keys import center_stream_key
from queue_server.records import EVENT_FIELDS, TICKET_FIELDS, decode_event
from tests.archive_support import make_archiver, rows, ticket_rows
from tests.conftest import pin_morning, shift_clock, stored_ticket
from tests.servers import scaled

C, D = "07054", "07060"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPARED = {"status": "status", "counter": "counter", "staff": "staff", "service": "service",
            "priority": "priority", "channel": "channel", "recalls": "recalls",
            "arrived": "arrived_ms", "issued": "issued_ms", "called": "called_ms",
            "started": "started_ms", "ended": "ended_ms", "rating": "rating",
            "from": "from_ticket", "to": "to_ticket", "note": "note"}


async def busy_day(engine: Engine, center: str = C) -> list[str]:
    """Every kind of transition at one center; the ids of its tickets. Counter 1 serves
    certification and results, counter 4 land and results."""
    client = engine.runner.client
    morning = await pin_morning(client, center)
    await engine.open_counter(center, "1", "lan")
    await engine.open_counter(center, "4", "hung")
    done = await engine.issue(center, "certification")
    elderly = await engine.issue(center, "results", priority="elderly")
    moved = await engine.issue(center, "certification", channel="online")
    absent = await engine.issue(center, "results")
    gone = await engine.issue(center, "land")
    await engine.cancel(gone.id)
    await shift_clock(client, center, morning + 120_000)
    await engine.call_next(center, "1", "lan")            # the elderly citizen first
    await engine.recall(center, "1", "lan")
    await engine.start(center, "1", "lan")
    await shift_clock(client, center, morning + 420_000)
    await engine.complete(center, "1", "lan")
    await engine.rate(elderly.id, 4)
    await engine.call_next(center, "4", "hung")           # absent
    await engine.no_show(center, "4", "hung")
    await engine.call_next(center, "1", "lan")            # done
    await engine.start(center, "1", "lan")
    await engine.complete(center, "1", "lan")
    await engine.rate(done.id, 2)
    await engine.call_next(center, "1", "lan")            # moved, to land
    await engine.transfer_in_hand(center, "1", "lan", to_service="land", note="giấy tờ đất")
    await engine.call_next(center, "4", "hung")           # the transferred citizen
    await engine.start(center, "4", "hung")
    await engine.complete(center, "4", "hung")
    await engine.pause(center, "1", "break", "lan")
    await engine.resume(center, "1", "lan")
    await engine.close_counter(center, "1", "lan")
    return [done.id, elderly.id, moved.id, absent.id, gone.id]


async def redis_tickets(engine: Engine, url: str, center: str) -> dict[str, dict[str, str]]:
    client = engine.runner.client
    found = {}
    async for key in client.scan_iter(match=f"qms:{{c:{center}}}:t:*"):
        ticket_id = key.decode().rsplit(":", 1)[1]
        found[ticket_id] = await stored_ticket(url, center, ticket_id)
    return found


def same_as_redis(row: dict[str, Any], stored: dict[str, str]) -> list[str]:
    wrong = []
    for field, column in COMPARED.items():
        want: Any = stored[field]
        if column.endswith("_ms") or column == "rating":
            want = int(want) or None
        elif column == "recalls":
            want = int(want)
        elif column in ("from_ticket", "to_ticket"):
            want = want or None
        if row[column] != want:
            wrong.append(f"{row['id']}.{column}: {row[column]!r} != {want!r}")
    return wrong


async def assert_archive_matches(engine: Engine, pool: AsyncConnectionPool[Any], url: str,
                                 centers: tuple[str, ...] = (C,)) -> None:
    client = engine.runner.client
    tickets = await ticket_rows(pool)
    for center in centers:
        ids = [i for i, _ in await client.xrange(center_stream_key(center))]
        archived = await rows(pool, "SELECT sid_ms, sid_seq FROM events WHERE center = %s "
                              "ORDER BY sid_ms, sid_seq", center)
        assert [StreamId(*r) for r in archived] == [StreamId.parse(i) for i in ids]
        (applied,), = await rows(pool, "SELECT events FROM checkpoints WHERE center = %s",
                                 center)
        assert applied == len(ids), "a batch was applied twice (or not at all)"
        stored = await redis_tickets(engine, url, center)
        assert set(stored) <= set(tickets)
        wrong = [w for tid, s in stored.items() for w in same_as_redis(tickets[tid], s)]
        assert not wrong, wrong


async def test_every_event_once_every_ticket_as_redis_holds_it(
        engine: Engine, archive_pool: AsyncConnectionPool[Any], redis_url: str) -> None:
    ids = await busy_day(engine)
    archiver = make_archiver(engine, archive_pool, [C, D], batch_size=7)
    await archiver.catch_up()
    assert archiver.stats.batches > 3                     # several rounds of small batches
    await assert_archive_matches(engine, archive_pool, redis_url)
    again = archiver.stats.events
    await archiver.catch_up()
    assert archiver.stats.events == again                 # nothing new: nothing applied
    tickets = await ticket_rows(archive_pool)
    done, elderly, moved, absent, gone = (tickets[i] for i in ids)
    assert (elderly["status"], elderly["rating"], elderly["recalls"]) == ("done", 4, 1)
    assert 120_000 <= elderly["wait_ms"] < 121_000            # the clock moved 2 minutes
    assert 300_000 <= elderly["service_ms"] < 301_000
    assert (done["status"], done["rating"], done["staff"]) == ("done", 2, "lan")
    assert (absent["status"], absent["staff"]) == ("no_show", "hung")
    assert gone["status"] == "cancelled" and gone["wait_ms"] is None
    assert moved["status"] == "transferred" and moved["to_ticket"] in tickets
    new = tickets[moved["to_ticket"]]
    assert (new["channel"], new["from_ticket"], new["service"], new["status"],
            new["staff"]) == ("transfer", moved["id"], "land", "done", "hung")
    kinds = dict(await rows(archive_pool, "SELECT type, count(*) FROM events GROUP BY type"))
    assert kinds == {"counter_opened": 2, "issued": 5, "cancelled": 1, "called": 5,
                     "recalled": 1, "started": 3, "completed": 3, "rated": 2,
                     "transferred": 1, "no_show": 1, "counter_paused": 1,
                     "counter_resumed": 1, "counter_closed": 1}
    transfer = await rows(archive_pool, "SELECT ticket, new_ticket, status, counter, staff "
                          "FROM events WHERE type = 'transferred'")
    assert transfer == [(moved["id"], new["id"], "transferred", "1", "lan")]
    closed = await rows(archive_pool, "SELECT counter, staff, ticket FROM events "
                        "WHERE type = 'counter_closed'")
    # The monthly rollup, moved by every replaced row, answers as the tickets do.
    province = engine.province
    today = (await ticket_rows(archive_pool))[ids[0]]["day"]
    query = build_query(province, period_of("month", today, today=today), by=["center"])
    async with archive_pool.connection() as conn:
        rolled = await run_report(conn, province, query, rollup=True)
        counted = await run_report(conn, province, query, rollup=False)
    assert rolled.total == counted.total and rolled.rows == counted.rows
    assert rolled.total["tickets"] == 6 and rolled.total["served"] == 3
    # The staff member who closed it: from the counter before the close, once events carry it.
    raw = [decode_event(f[b"d"], C) for _, f in await engine.runner.client.xrange(
        center_stream_key(C))]
    before = next(e["before"] for e in raw if e["type"] == "counter_closed")
    assert closed == [("1", "lan" if before else None, None)]


async def test_two_archivers_apply_each_batch_once(
        engine: Engine, archive_pool: AsyncConnectionPool[Any], archive_url: str,
        redis_url: str) -> None:
    other: AsyncConnectionPool[Any] = AsyncConnectionPool(archive_url, min_size=1, max_size=4,
                                                          open=False)
    await other.open(wait=True)
    try:
        first = make_archiver(engine, archive_pool, [C, D], batch_size=5)
        second = make_archiver(engine, other, [C, D], batch_size=5)

        async def traffic() -> None:
            for center in (C, D):
                await busy_day(engine, center)
                for _ in range(20):
                    await engine.issue(center, "certification")
                    await first.step()
                    await second.step()

        await asyncio.gather(traffic(), first.catch_up(), second.catch_up())
        await asyncio.gather(first.catch_up(), second.catch_up())
        # They met: one found the other holding a checkpoint, or ahead of what it had read.
        assert first.stats.busy + first.stats.moved + second.stats.busy + second.stats.moved
        # Either takes over where the other stopped (a replica going away).
        for _ in range(5):
            await engine.issue(C, "land")
        taken = second.stats.events
        await second.catch_up()
        assert second.stats.events == taken + 5
    finally:
        await other.close()
    total = sum([await engine.runner.client.xlen(center_stream_key(c)) for c in (C, D)])
    assert first.stats.events + second.stats.events == total   # each event applied once
    await assert_archive_matches(engine, archive_pool, redis_url, (C, D))


def archiver_process(redis_url: str, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QMS_REDIS_URL": redis_url, "QMS_DATABASE_URL": database_url,
           "QMS_ARCHIVE_POLL_S": "0.05", "QMS_ARCHIVE_BATCH": "1000"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "queue_server.archive"], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_killed_in_the_middle_of_a_batch(
        engine: Engine, archive_pool: AsyncConnectionPool[Any], archive_url: str,
        redis_url: str, tmp_path: Path) -> None:
    first = await engine.issue(C, "certification")
    for _ in range(20):
        await engine.issue(C, "results")
    await make_archiver(engine, archive_pool, [C]).catch_up()
    (before,), = await rows(archive_pool, "SELECT count(*) FROM events")
    # Hold the first ticket's row: the next batch blocks on it after writing its events.
    with psycopg.connect(archive_url) as holder:
        holder.execute("SELECT 1 FROM tickets WHERE id = %s FOR UPDATE", (first.id,))
        await engine.open_counter(C, "1", "lan")
        await engine.call_next(C, "1", "lan")
        await engine.start(C, "1", "lan")
        await engine.complete(C, "1", "lan")
        for _ in range(30):
            await engine.issue(C, "land")
        log = tmp_path / "archiver.log"
        child = archiver_process(redis_url, archive_url, log)
        try:
            for _ in range(int(scaled(300))):
                (waiting,), = await rows(archive_pool, "SELECT count(*) FROM pg_locks "
                                         "WHERE NOT granted AND locktype = 'transactionid'")
                if waiting or child.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            assert waiting, f"the archiver never reached the row: {log.read_text()}"
            child.send_signal(signal.SIGKILL)               # mid-transaction
            child.wait()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        holder.rollback()
    (after,), = await rows(archive_pool, "SELECT count(*) FROM events")
    assert after == before                                 # its half batch never committed
    # The dead client's backend gives up its transaction once it finds the socket closed.
    for _ in range(int(scaled(100))):
        if not (await rows(archive_pool, "SELECT count(*) FROM pg_stat_activity WHERE "
                           "state LIKE 'idle in transaction%%' OR wait_event_type = 'Lock'"))[0][0]:
            break
        await asyncio.sleep(0.05)
    restarted = make_archiver(engine, archive_pool, [C])
    await restarted.catch_up()
    assert restarted.stats.events == await engine.runner.client.xlen(center_stream_key(C)) - \
        before
    await assert_archive_matches(engine, archive_pool, redis_url)
    assert (await ticket_rows(archive_pool))[first.id]["status"] == "done"


async def test_an_undecodable_event_is_kept_and_the_archive_goes_on(
        engine: Engine, archive_pool: AsyncConnectionPool[Any]) -> None:
    client = engine.runner.client
    await engine.issue(C, "certification")
    await client.xadd(center_stream_key(C), {"d": b"\xc1 not msgpack"})
    after = await engine.issue(C, "land")
    archiver = make_archiver(engine, archive_pool, [C])
    await archiver.catch_up()
    kinds = [r[0] for r in await rows(archive_pool, "SELECT type FROM events ORDER BY sid_ms, "
                                      "sid_seq")]
    assert kinds == ["issued", "undecodable", "issued"]
    (info,), = await rows(archive_pool, "SELECT info FROM events WHERE type = 'undecodable'")
    assert "error" in info
    assert after.id in await ticket_rows(archive_pool)


async def test_who_acted_from_where_and_the_hashes_of_an_issue(
        engine: Engine, archive_pool: AsyncConnectionPool[Any]) -> None:
    """Events carrying actor, origin and info (written here from a real issue event with
    those fields set, as a booking by a citizen makes them): the trail keeps who and where,
    the ticket row keeps the hashes, and no event row keeps them."""
    client = engine.runner.client
    issued = await engine.issue(C, "certification")
    (_, fields), = await client.xrange(center_stream_key(C))
    record = msgpack.unpackb(fields[b"d"], raw=False)
    at = EVENT_FIELDS.index
    status = TICKET_FIELDS.index("status")
    for kind, info in (("issued", {"citizen": "c1t1z3n", "token": "t0k3n", "slot": "09:30"}),
                       ("cancelled", {"reason": "citizen"})):
        event = list(record)
        ticket = list(event[at("ticket")])
        ticket[status] = "waiting" if kind == "issued" else "cancelled"
        event[at("type")], event[at("ticket")] = kind, ticket
        event[at("actor")], event[at("origin")], event[at("info")] = (
            "citizen", "203.113.0.7", info)
        await client.xadd(center_stream_key(C), {"d": msgpack.packb(event)})
    await make_archiver(engine, archive_pool, [C]).catch_up()
    trail = await rows(archive_pool, "SELECT type, actor, origin, info FROM events "
                       "WHERE origin = '203.113.0.7' ORDER BY sid_ms, sid_seq")
    assert trail == [("issued", "citizen", "203.113.0.7", {"slot": "09:30"}),
                     ("cancelled", "citizen", "203.113.0.7", {"reason": "citizen"})]
    row = (await ticket_rows(archive_pool))[issued.id]
    assert (row["status"], row["citizen_hash"], row["token_hash"]) == (
        "cancelled", "c1t1z3n", "t0k3n")
