"""Shared fixtures: real Redis servers on free loopback ports, started once per session.

A standalone server serves most tests and is flushed before each; a 3-master Redis Cluster
is started on demand (the ``cluster_url`` fixture) for the tests that must also pass there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis.asyncio as aioredis

from queue_server.engine import Engine
from queue_server.keys import center_meta_key, counter_key, ticket_key
from queue_server.models import Ticket
from queue_server.province import Province, load_province
from queue_server.records import COUNTER_FIELDS, TICKET_FIELDS
from queue_server.redis_client import RedisClient, close, connect, is_cluster
from queue_server.rules.clock import TIMEZONE, epoch_ms
from queue_server.script_runner import ScriptRunner
from tests.servers import RedisClusterProcesses, start_standalone

pytest_plugins = ["tests.archive_support"]   # PostgreSQL for the archive tests


@pytest.fixture(scope="session")
def province() -> Province:
    return load_province()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_standalone(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cluster = RedisClusterProcesses(tmp_path_factory.mktemp("cluster")).start()
    yield "redis+cluster://" + cluster.url.removeprefix("redis://")
    cluster.stop()


async def make_engine(url: str, province: Province, *, batch: bool = True) -> Engine:
    client = connect(url)
    if is_cluster(client):
        await client.flushall(target_nodes=client.get_primaries())
    else:
        await client.flushall()
    runner = ScriptRunner(client, batch=batch)
    await runner.load()
    engine = Engine(runner, province)
    await engine.sync_province()
    return engine


async def close_engine(engine: Engine) -> None:
    await engine.runner.aclose()
    await close(engine.runner.client)


@pytest.fixture
async def engine(redis_url: str, province: Province) -> AsyncIterator[Engine]:
    engine = await make_engine(redis_url, province)
    yield engine
    await close_engine(engine)


@pytest.fixture(params=["standalone", "cluster"])
async def any_engine(
    request: pytest.FixtureRequest, province: Province
) -> AsyncIterator[Engine]:
    """The engine on a single node and on a 3-master cluster: same tests, same results."""
    url = request.getfixturevalue("redis_url" if request.param == "standalone" else "cluster_url")
    engine = await make_engine(url, province)
    yield engine
    await close_engine(engine)


async def shift_clock(client: RedisClient, center_id: str, offset_ms: int) -> None:
    """Move one center's clock (the scripts add this offset to Redis TIME): tests only."""
    await client.hset(center_meta_key(center_id), "clock", offset_ms)


async def redis_ms(client: RedisClient) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def _local_instant(hhmm: str, days: int = 0) -> int:
    """Today's (plus ``days``) local ``HH:MM``, in ms."""
    day = dt.datetime.now(TIMEZONE).date() + dt.timedelta(days=days)
    hour, minute = (int(x) for x in hhmm.split(":"))
    return epoch_ms(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TIMEZONE))


async def set_local_time(client: RedisClient, center_id: str, hhmm: str,
                         days: int = 0) -> int:
    """Set one center's clock to today's (plus ``days``) local ``HH:MM``; answers that
    instant in ms. Tests that depend on the time of day use it, so they pass at any hour."""
    target = _local_instant(hhmm, days)
    await shift_clock(client, center_id, target - await redis_ms(client))
    return target


MORNING = "09:00"


async def pin_morning(client: RedisClient, *centers: str) -> int:
    """Put the centers' clocks at today's local 09:00 and answer the offset that does it
    (one offset for all: they keep one time).

    A test that then moves a clock on by minutes or hours (``offset + …``) stays inside one
    working day at whatever hour the suite runs: a clock moved on from the wall clock would
    cross the day close (17:30, 12:00 on Saturdays, midnight) when the suite runs shortly
    before it, and the day close would end what the test is in the middle of."""
    offset = _local_instant(MORNING) - await redis_ms(client)
    for center_id in centers:
        await shift_clock(client, center_id, offset)
    return offset


async def book_at(engine: Engine, center_id: str, service: str, start_ms: int,
                  minutes: int = 10, **options: Any) -> Ticket:
    """A booking of the slot at ``start_ms`` straight through the engine (the slot rules of
    the calendar are the API's: tests/test_booking.py)."""
    ticket, _ = await engine.book(center_id, service, (start_ms, start_ms + minutes * 60_000),
                                  capacity=options.pop("capacity", 10), **options)
    return ticket


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_as_text(v) for v in value)
    return value.decode() if isinstance(value, bytes) else str(value)


async def stored_counter(url: str, center_id: str, counter: str) -> dict[str, str]:
    """A counter's record as Redis holds it, field by field as text (records.COUNTER_FIELDS)."""
    async with aioredis.Redis.from_url(url) as raw:
        record = msgpack.unpackb(await raw.get(counter_key(center_id, counter)))
    return {name: _as_text(v) for name, v in zip(COUNTER_FIELDS, record, strict=True)}


async def stored_ticket(url: str, center_id: str, ticket_id: str) -> dict[str, str]:
    """A ticket's record as Redis holds it, field by field as text (records.TICKET_FIELDS)."""
    async with aioredis.Redis.from_url(url) as raw:
        record = msgpack.unpackb(await raw.hget(ticket_key(center_id, ticket_id), "r"))
    return {name: _as_text(v) for name, v in zip(TICKET_FIELDS, record, strict=True)}


def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


def flat_pairs(flat: list[Any]) -> dict[str, str]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


@pytest.fixture(scope="session")
def live_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of its own for the live server: engine tests flush theirs between tests."""
    server = start_standalone(tmp_path_factory.mktemp("live-redis"))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def live_server(live_redis_url: str, tmp_path_factory: pytest.TempPathFactory,
                postgres_server: Any) -> Iterator[Any]:
    """One real server (uvicorn child process) for the session, with its archive in a
    database of the suite's PostgreSQL.

    Tests that use it never flush its Redis; they create accounts with unique names (see
    tests/live.py) and, where they need a quiet center, pick one no other test uses."""
    from tests.archive_support import create_database
    from tests.live import LiveServer

    archive = {"QMS_ARCHIVE": "1", "QMS_ARCHIVE_POLL_S": "0.1",
               "QMS_DATABASE_URL": create_database(postgres_server, "live")}
    server = LiveServer(live_redis_url, tmp_path_factory.mktemp("live"),
                        extra_env=archive).start()
    yield server
    server.stop()
