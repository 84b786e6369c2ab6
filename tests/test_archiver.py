"""The archiver fed by the real engine: every event once, every ticket's final state."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from queue_server.engine import Engine
from tests.archive_support import make_archiver, rows, ticket_rows
from tests.conftest import shift_clock, stored_ticket

C = "07054"


async def test_a_day_is_archived_once(engine: Engine, archive_pool: AsyncConnectionPool[Any],
                                      redis_url: str) -> None:
    client = engine.runner.client
    await engine.open_counter(C, "1", "lan")
    first = await engine.issue(C, "certification")
    second = await engine.issue(C, "results", priority="elderly")
    await shift_clock(client, C, 120_000)
    await engine.call_next(C, "1", "lan")
    await engine.start(C, "1", "lan")
    await shift_clock(client, C, 420_000)
    await engine.complete(C, "1", "lan")
    await engine.rate(second.id, 5)
    archiver = make_archiver(engine, archive_pool, [C])
    await archiver.catch_up()
    stream = await client.xlen(f"qms:{{c:{C}}}:events")
    assert (await rows(archive_pool, "SELECT count(*) FROM events"))[0][0] == stream
    tickets = await ticket_rows(archive_pool)
    print(tickets)
    print(await stored_ticket(redis_url, C, first.id))
    await archiver.catch_up()
    assert (await rows(archive_pool, "SELECT count(*) FROM events"))[0][0] == stream
