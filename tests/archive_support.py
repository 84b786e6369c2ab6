"""Fixtures of the archive tests: a real PostgreSQL started by the suite, and helpers.

The server is the embedded one (``queue_server.embedded_postgres``: initdb + postgres in a
temporary folder, on a free loopback port, as an unprivileged user when the suite runs as
root), started once per session with durability off. Each test gets the schema migrated and
emptied. Loaded by ``pytest_plugins`` in conftest.py.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from queue_server.archive.archiver import Archiver
from queue_server.archive.migrate import upgrade
from queue_server.embedded_postgres import FAST_UNSAFE, EmbeddedPostgres
from queue_server.engine import Engine

TABLES = ("events", "tickets", "checkpoints", "gaps", "monthly", "monthly_hist")


def postgres_folder() -> Path:
    """A temporary folder the server's user can enter (pytest's own are 0700 under root's)."""
    folder = Path(tempfile.mkdtemp(prefix="qms-pg-"))
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    folder = postgres_folder()
    server = EmbeddedPostgres(folder / "pg", settings=FAST_UNSAFE).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def create_database(server: EmbeddedPostgres, name: str) -> str:
    """A fresh, migrated database on ``server``; its URL."""
    admin = server.url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.url.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def archive_url(postgres_server: EmbeddedPostgres) -> str:
    return create_database(postgres_server, "archive_test")


def empty_archive(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")


@pytest.fixture
async def archive_pool(archive_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """A pool on the emptied archive."""
    empty_archive(archive_url)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(archive_url, min_size=1, max_size=4,
                                                         open=False)
    await pool.open(wait=True)
    yield pool
    await pool.close()


def make_archiver(engine: Engine, pool: AsyncConnectionPool[Any],
                  centers: Sequence[str] | None = None, **options: Any) -> Archiver:
    """An archiver on the engine's Redis and the test's archive."""
    chosen = list(centers) if centers is not None else [c.id for c in engine.province.centers]
    return Archiver(engine.runner.client, pool, chosen, **options)


async def rows(pool: AsyncConnectionPool[Any], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with pool.connection() as conn:
        cursor = await conn.execute(sql, params or None)
        return list(await cursor.fetchall())


async def ticket_rows(pool: AsyncConnectionPool[Any]) -> dict[str, dict[str, Any]]:
    async with pool.connection() as conn:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute("SELECT * FROM tickets")
        return {row["id"]: row for row in await cursor.fetchall()}
