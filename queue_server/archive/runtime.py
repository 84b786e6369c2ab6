"""The archive in the app's lifespan: the PostgreSQL (given, or embedded), the pool, the
archiver task, and what the reports and the metrics read through.

:func:`start_archive` is the one call ``queue_server.app.build_services`` makes. PostgreSQL
being down at start, or later, delays the archive and nothing else: the pool opens without
waiting, the task migrates the schema when it can and then follows the streams, retrying
with backoff. Readers (reports, audit, metrics) get a connection within a bound or a
:class:`queue_server.errors.Unavailable` (a fast 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from queue_server.archive import migrate
from queue_server.archive.archiver import Archiver
from queue_server.archive.retention import RetentionPolicy, RetentionSchedule
from queue_server.errors import ConfigError, InvalidInput, Unavailable
from queue_server.province import Province
from queue_server.redis_client import RedisClient, close, connect
from queue_server.settings import Settings

log = logging.getLogger("qms.archive")
READ_WAIT_S = 2.0          # a reader waits this long for a connection, then gets a 503
POOL_SIZE = 6
STATEMENT_TIMEOUT_MS = 60_000


def _check(settings: Settings) -> None:
    for name, value, low in (("archive_batch", settings.archive_batch, 1),
                             ("archive_personal_days", settings.archive_personal_days, 1),
                             ("archive_record_years", settings.archive_record_years, 0)):
        if value < low:
            key = "QMS_" + name.upper()
            raise ConfigError(f"environment variable {key}: expected a whole number ≥ {low}, "
                              f"got {value}", key=key)
    for name, number in (("archive_poll_s", settings.archive_poll_s),
                         ("archive_retry_max_s", settings.archive_retry_max_s)):
        if not number > 0:
            key = "QMS_" + name.upper()
            raise ConfigError(f"environment variable {key}: expected seconds > 0, got {number}",
                              key=key)
    if settings.archive_record_years and \
            settings.archive_record_years * 366 < settings.archive_personal_days:
        raise ConfigError("QMS_ARCHIVE_RECORD_YEARS is shorter than QMS_ARCHIVE_PERSONAL_DAYS: "
                          "records would go before their personal data",
                          key="QMS_ARCHIVE_RECORD_YEARS")


class ArchiveService:
    """One process's archive: a pool, and the archiver task (started by :meth:`start`)."""

    def __init__(self, url: str, redis: RedisClient, province: Province,
                 settings: Settings) -> None:
        _check(settings)
        self.url = url
        self.province = province
        self.settings = settings
        self.pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url, min_size=1, max_size=POOL_SIZE, open=False, name="qms-archive",
            check=AsyncConnectionPool.check_connection, timeout=10.0,
            kwargs={"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                    "connect_timeout": 5})
        self.retention = RetentionSchedule(self.pool, RetentionPolicy(
            settings.archive_personal_days, settings.archive_record_years))
        self.archiver = Archiver(
            redis, self.pool, [c.id for c in province.centers],
            batch_size=settings.archive_batch, poll_s=settings.archive_poll_s,
            retry_max_s=settings.archive_retry_max_s, housekeeping=self.retention)
        self.migrated = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pool.open(wait=False)
        self._task = asyncio.create_task(self._run(), name="qms-archiver")

    async def _run(self) -> None:
        delay = 0.5
        while not self.migrated.is_set():
            try:
                await asyncio.to_thread(migrate.upgrade, self.url)
                self.migrated.set()
            except Exception as error:  # PostgreSQL not there yet: the same retry as later
                log.warning("archive: cannot migrate the schema yet (%s: %s); retrying in "
                            "%.1f s", type(error).__name__, str(error).strip()[:200], delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.archive_retry_max_s)
        await self.archiver.run()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def connection(self, wait_s: float = READ_WAIT_S) -> AsyncIterator[
            AsyncConnection[Any]]:
        """A connection for a reader, or :class:`Unavailable` at once when PostgreSQL cannot
        be reached (or the schema is not there yet)."""
        if not self.migrated.is_set():
            raise Unavailable("the archive's database is not reachable yet; retry later",
                              reason="archive_not_ready")
        try:
            async with self.pool.connection(timeout=wait_s) as conn:
                yield conn
        except PoolTimeout:
            raise Unavailable(f"the archive's database did not answer within {wait_s:g} s; "
                              "retry later", reason="archive_slow", wait_s=f"{wait_s:g}") from None
        except psycopg.DataError as error:   # a value PostgreSQL cannot take: the caller's
            raise InvalidInput(f"a value of the request was refused by the archive: "
                               f"{str(error).strip()[:200]}",
                               reason="archive_value_refused") from None
        except psycopg.Error as error:
            raise Unavailable(f"the archive's database failed: {str(error).strip()[:200]}",
                              reason="archive_failed") from None


async def start_archive(settings: Settings, redis_url: str, province: Province,
                        stack: AsyncExitStack) -> ArchiveService | None:
    """The archive for the app (None with ``QMS_ARCHIVE=0``); stopped by ``stack``."""
    if not settings.archive:
        return None
    _check(settings)
    if settings.database_url is not None:
        url = settings.database_url
    else:
        from queue_server.postgres_child import open_embedded_postgres

        url, supervisor = await asyncio.to_thread(open_embedded_postgres,
                                                  settings.data_dir / "postgres")
        if supervisor is not None:      # stopped after the archive's pool (LIFO)
            stack.callback(supervisor.stop)
    # The archiver's reads get their own small pool: they never queue behind requests.
    reader: RedisClient = connect(redis_url, max_connections=4)
    stack.push_async_callback(close, reader)
    service = ArchiveService(url, reader, province, settings)
    await service.start()
    stack.push_async_callback(service.stop)
    return service
