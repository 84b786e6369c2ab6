"""The archive through outages: PostgreSQL down for a while (live work goes on, the archive
catches up), Redis restarted, and a stream trimmed past the checkpoint (detected, the
tickets backfilled, the gap recorded, logged and counted).

The archive here is the app's own (``ArchiveService``: pool, migrations, archiver task with
backoff), as ``build_services`` starts it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from monitoring.archive_metrics import archive_families
from queue_server.archive.backfill import StreamState, find_gap
from queue_server.archive.projection import StreamId
from queue_server.archive.runtime import ArchiveService
from queue_server.archive.store import Checkpoint
from queue_server.embedded_postgres import FAST_UNSAFE, EmbeddedPostgres
from queue_server.engine import Engine
from queue_server.errors import Unavailable
from queue_server.keys import center_meta_key, center_stream_key
from queue_server.province import Province
from queue_server.redis_client import close, connect
from queue_server.settings import Settings
from tests.archive_support import (
    create_database,
    make_archiver,
    postgres_folder,
    rows,
    ticket_rows,
)
from tests.conftest import close_engine, make_engine
from tests.servers import scaled, start_standalone
from tests.test_archiver import assert_archive_matches, busy_day, redis_tickets, same_as_redis

C = "07054"
QUICK = Settings(archive_poll_s=0.05, archive_retry_max_s=0.3, archive_batch=50)


async def eventually(check: Callable[[], Awaitable[Any]], what: str,
                     timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + scaled(timeout)
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def archived(pool: AsyncConnectionPool[Any], engine: Engine, center: str = C) -> bool:
    total = await engine.runner.client.xlen(center_stream_key(center))
    try:
        (count,), = await rows(pool, "SELECT count(*) FROM events WHERE center = %s", center)
    except Exception:
        return False
    return bool(count == total)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A server of this module's own: these tests stop it."""
    folder = postgres_folder()
    server = EmbeddedPostgres(folder / "pg", settings=FAST_UNSAFE).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def service_on(province: Province) -> AsyncIterator[
        Callable[[str, str], Awaitable[ArchiveService]]]:
    started: list[tuple[ArchiveService, Any]] = []

    async def start(database_url: str, redis_url: str) -> ArchiveService:
        client = connect(redis_url, max_connections=4)
        service = ArchiveService(database_url, client, province, QUICK)
        await service.start()
        started.append((service, client))
        return service

    yield start
    for service, client in started:
        await service.stop()
        await close(client)


async def read_metrics(service: ArchiveService,
                       engine: Engine) -> dict[str, dict[tuple[str, ...], float]]:
    families = await archive_families(SimpleNamespace(extras={"archive": service},
                                                      engine=engine),
                                      [engine.province.center(C)])
    return {f.name: dict(f.rows) for f in families}


async def test_postgres_down_for_a_while(engine: Engine, own_postgres: EmbeddedPostgres,
                                         service_on: Any, redis_url: str) -> None:
    url = create_database(own_postgres, "outage")
    service: ArchiveService = await service_on(url, redis_url)
    pool = service.pool
    await engine.open_counter(C, "3", "minh")             # (a counter busy_day leaves alone)
    await eventually(lambda: archived(pool, engine), "the first event archived")
    assert (await read_metrics(service, engine))["qms_archive_up"] == {(): 1.0}

    own_postgres.stop()
    ids = await busy_day(engine)                         # live work does not notice
    for _ in range(40):
        await engine.issue(C, "land")
    assert (await engine.ticket(ids[1])).ticket.status == "done"
    await eventually(lambda: asyncio.sleep(0, service.archiver.stats.failures),
                     "the archiver to notice")
    with pytest.raises(Unavailable, match=r"did not answer|failed"):
        async with service.connection(wait_s=0.3):
            pass
    down = await read_metrics(service, engine)
    assert down["qms_archive_up"] == {(): 0.0} and down["qms_archive_lag_seconds"] == {}

    own_postgres.start()                                  # the same port: the pool reconnects
    await eventually(lambda: archived(pool, engine), "the archive to catch up")
    await assert_archive_matches(engine, pool, redis_url)
    up = await read_metrics(service, engine)
    assert up["qms_archive_up"] == {(): 1.0}
    assert up["qms_archive_lag_seconds"] == {(C,): 0.0}
    assert up["qms_archive_gaps"] == {(C,): 0.0}


async def test_lag_is_measured_while_behind(engine: Engine,
                                            archive_pool: AsyncConnectionPool[Any],
                                            archive_url: str) -> None:
    """Not caught up: the oldest pending event's age, by the Redis clock of its id."""
    service = ArchiveService(archive_url, engine.runner.client, engine.province, QUICK)
    await service.pool.open(wait=True)
    service.migrated.set()                                # no archiver task: it stays behind
    try:
        await make_archiver(engine, archive_pool, [C]).prepare()
        await engine.issue(C, "certification")
        await asyncio.sleep(0.3)
        lag = (await read_metrics(service, engine))["qms_archive_lag_seconds"][(C,)]
        assert 0.3 <= lag < scaled(30)
    finally:
        await service.pool.close()


async def test_redis_restarted(province: Province, archive_pool: AsyncConnectionPool[Any],
                               archive_url: str, service_on: Any, tmp_path: Path) -> None:
    redis = start_standalone(tmp_path / "redis", appendonly=True)
    engine = await make_engine(redis.url, province)
    try:
        service: ArchiveService = await service_on(archive_url, redis.url)
        await busy_day(engine)
        await eventually(lambda: archived(archive_pool, engine), "the day archived")
        redis.stop()
        await asyncio.sleep(0.3)                           # the archiver meets a closed port
        redis.start()
        for attempt in range(20):
            try:
                await engine.issue(C, "land")
                break
            except Exception:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.1)
        for _ in range(10):
            await engine.issue(C, "results")
        await eventually(lambda: archived(archive_pool, engine), "the archive to catch up")
        await assert_archive_matches(engine, archive_pool, redis.url)
        assert service.archiver.stats.failures >= 1
    finally:
        await close_engine(engine)
        redis.stop()


async def test_a_trimmed_stream_is_backfilled_and_reported(
        engine: Engine, archive_pool: AsyncConnectionPool[Any], archive_url: str,
        redis_url: str, service_on: Any, caplog: pytest.LogCaptureFixture) -> None:
    client = engine.runner.client
    await client.hset(center_meta_key(C), "maxlen", 100)   # a short stream: trimmed soon
    early = await engine.issue(C, "certification")
    await make_archiver(engine, archive_pool, [C]).catch_up()
    applied = [i for i, _ in await client.xrange(center_stream_key(C))]
    # The archive stops; a busy morning goes by.
    await engine.open_counter(C, "1", "lan")
    for _ in range(260):
        await engine.issue(C, "results")
    await engine.call_next(C, "1", "lan")                  # the early ticket, called
    await engine.start(C, "1", "lan")
    info = await client.xinfo_stream(center_stream_key(C))
    lost = info["entries-added"] - info["length"] - len(applied)
    assert lost > 0
    caplog.set_level(logging.WARNING, logger="qms.archive")
    service: ArchiveService = await service_on(archive_url, redis_url)
    await eventually(lambda: archived_after_gap(archive_pool, engine, len(applied)),
                     "the gap backfilled and the stream applied")
    gaps = await rows(archive_pool, "SELECT center, checkpoint, lost_events, "
                      "tickets_backfilled FROM gaps")
    stored = await redis_tickets(engine, redis_url, C)
    assert gaps == [(C, applied[-1].decode(), lost, len(stored))]
    tickets = await ticket_rows(archive_pool)
    wrong = [w for tid, s in stored.items() for w in same_as_redis(tickets[tid], s)]
    assert not wrong, wrong
    assert tickets[early.id]["status"] == "serving"
    assert any("trimmed past the archive's checkpoint" in r.getMessage()
               and r.levelno == logging.WARNING for r in caplog.records)
    (gap_count, lost_total), = await rows(archive_pool, "SELECT gaps, lost FROM checkpoints "
                                          "WHERE center = %s", C)
    assert (gap_count, lost_total) == (1, lost)
    assert (await read_metrics(service, engine))["qms_archive_gaps"] == {(C,): 1.0}
    # Later events still apply over the backfilled rows (newest wins), and no second gap.
    await engine.complete(C, "1", "lan")
    await eventually(lambda: archived_after_gap(archive_pool, engine, len(applied)),
                     "the next event")
    assert (await ticket_rows(archive_pool))[early.id]["status"] == "done"
    assert len(await rows(archive_pool, "SELECT id FROM gaps")) == 1


async def archived_after_gap(pool: AsyncConnectionPool[Any], engine: Engine,
                             before: int) -> bool:
    ids = [StreamId.parse(i) for i, _ in await engine.runner.client.xrange(
        center_stream_key(C))]
    (count,), = await rows(pool, "SELECT count(*) FROM events WHERE center = %s", C)
    cursor = await rows(pool, "SELECT last_ms, last_seq FROM checkpoints WHERE center = %s", C)
    return bool(cursor and StreamId(*cursor[0]) == ids[-1] and count == before + len(ids))


@pytest.mark.parametrize(("state", "lost", "rebase"), [
    # 120 entries ever, 50 left, 60 seen go by: 10 trimmed before they were read.
    (StreamState(50, StreamId(9, 0), StreamId(20, 0), 120), 10, 0),
    # Only the checkpoint's own entry went: nothing lost.
    (StreamState(50, StreamId(9, 0), StreamId(20, 0), 110), None, None),
    # The stream still holds the checkpoint: nothing to check.
    (StreamState(50, StreamId(5, 0), StreamId(20, 0), 500), None, None),
    # Fewer entries than the archive saw: a recreated stream, a gap of unknown size, once.
    (StreamState(50, StreamId(9, 0), StreamId(20, 0), 70), None, -40),
    # Redis before 7.0: no count, no check.
    (StreamState(50, StreamId(9, 0), StreamId(20, 0), None), None, None),
])
def test_finding_a_gap(state: StreamState, lost: int | None, rebase: int | None) -> None:
    checkpoint = Checkpoint(StreamId(5, 0), 55, 3, 2)         # 60 seen
    found = find_gap(C, checkpoint, state)
    if lost is None and rebase is None:
        assert found is None
        return
    assert found is not None
    assert (found.lost_events, found.rebase) == (lost, rebase or 0)
    assert found.resumed_after == StreamId(8, 2**63 - 1) and found.stream_last == state.last
