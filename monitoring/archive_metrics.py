"""Metrics of the archive for ``/metrics`` (docs/metrics.md, "Archive").

- ``qms_archive_up``: 1 when the archive's PostgreSQL answered this scrape, else 0;
- ``qms_archive_lag_seconds{center}``: how long the oldest event not yet archived has been in
  the center's stream (0 when the archive is caught up), by the Redis clock that stamps
  stream ids;
- ``qms_archive_gaps_total{center}``: times the stream was found trimmed past the archive's
  checkpoint (events lost from the audit trail; the tickets were backfilled).

Every replica reads the same checkpoints and streams, so all report the same numbers. The
families are the collector's own (:class:`monitoring.collector.Family`): ``render`` writes
them with the rest, and ``to_metric()`` gives the prometheus_client families. The read is
bounded: PostgreSQL down makes ``qms_archive_up`` 0 within ``READ_TIMEOUT_S``, never a slow
scrape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from monitoring.collector import Family
from queue_server import keys
from queue_server.archive.projection import StreamId
from queue_server.archive.runtime import ArchiveService
from queue_server.province import Center
from queue_server.redis_client import RedisClient

READ_TIMEOUT_S = 0.5


def new_families() -> list[Family]:
    return [
        Family("qms_archive_up", "gauge",
               "1 when the archive's PostgreSQL answered this scrape, else 0.", ()),
        Family("qms_archive_lag_seconds", "gauge",
               "Age of the oldest event of the center's stream not yet in the archive "
               "(0: caught up).", ("center",)),
        Family("qms_archive_gaps", "counter",
               "Times the center's stream was trimmed past the archive's checkpoint "
               "(events lost from the audit trail, tickets backfilled).", ("center",)),
    ]


async def _checkpoints(archive: ArchiveService) -> dict[str, tuple[StreamId, int]]:
    async with archive.connection(wait_s=READ_TIMEOUT_S) as conn:
        cursor = await conn.execute("SELECT center, last_ms, last_seq, gaps FROM checkpoints")
        return {center: (StreamId(ms, seq), gaps)
                for center, ms, seq, gaps in await cursor.fetchall()}


async def _oldest_pending(client: RedisClient, centers: Sequence[str],
                          checkpoints: dict[str, tuple[StreamId, int]]) -> tuple[int, list[Any]]:
    pipe = client.pipeline(transaction=False)
    for center in centers:
        after = checkpoints.get(center, (StreamId(0, 0), 0))[0]
        pipe.xrange(keys.center_stream_key(center), min=after.after(), count=1)
    replies = await pipe.execute(raise_on_error=False)
    seconds, micros = await client.time()
    return int(seconds) * 1000 + int(micros) // 1000, replies


def lag_rows(centers: Sequence[str], checkpoints: dict[str, tuple[StreamId, int]],
             now_ms: int, oldest: Sequence[Any]) -> list[tuple[tuple[str, ...], float]]:
    """Per center, seconds since the oldest pending event entered the stream (pure)."""
    rows: list[tuple[tuple[str, ...], float]] = []
    for center, reply in zip(centers, oldest, strict=True):
        if center not in checkpoints or isinstance(reply, Exception):
            continue
        lag = 0.0
        if reply:
            first = StreamId.parse(reply[0][0])
            lag = max(now_ms - first.ms, 0) / 1000
        rows.append(((center,), lag))
    return rows


async def archive_families(services: Any, centers: Sequence[Center]) -> list[Family]:
    """The archive's families for ``centers`` (none without an archive, ``QMS_ARCHIVE=0``)."""
    archive: ArchiveService | None = services.extras.get("archive")
    if archive is None:
        return []
    up, lag, gaps = new_families()
    ids = [c.id for c in centers]
    try:
        async with asyncio.timeout(READ_TIMEOUT_S * 2):
            checkpoints = await _checkpoints(archive)
            now_ms, oldest = await _oldest_pending(services.engine.runner.client, ids,
                                                   checkpoints)
    except Exception:  # PostgreSQL or Redis gone or slow: the archive is not up, say so
        up.rows.append(((), 0.0))
        return [up, lag, gaps]
    up.rows.append(((), 1.0))
    lag.rows.extend(lag_rows(ids, checkpoints, now_ms, oldest))
    gaps.rows.extend(((c,), float(checkpoints[c][1])) for c in ids if c in checkpoints)
    return [up, lag, gaps]
