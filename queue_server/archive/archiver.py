"""The archiver: follows every center's event stream from its checkpoint into PostgreSQL.

One round reads, for every center at once (one pipeline), the stream's ``XINFO`` and up to
``batch_size`` events after the checkpoint; then applies each center's batch in its own
transaction (:func:`queue_server.archive.store.apply_batch`), a few centers at a time. A
round that found a full batch anywhere is followed at once by the next; otherwise the
archiver sleeps ``poll_s``.

Every replica of the app runs one; the checkpoint's row lock decides which applies a batch,
and the compare with the id it was read after makes a second application impossible. A
failure of Redis or PostgreSQL (or anything else) never ends the task: it logs once, retries
with a growing delay (up to ``retry_max_s``), rereads the checkpoints and catches up. Live
work never waits for it: nothing else in the app calls PostgreSQL on a request's path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg_pool import AsyncConnectionPool

from queue_server import keys
from queue_server.archive.backfill import (
    StreamState,
    backfill_rows,
    find_gap,
    stream_state,
    ticket_records,
)
from queue_server.archive.projection import Batch, StreamId
from queue_server.archive.store import (
    Checkpoint,
    Gap,
    Outcome,
    apply_backfill,
    apply_batch,
    ensure_centers,
    read_checkpoints,
)
from queue_server.records import decode_event
from queue_server.redis_client import RedisClient

log = logging.getLogger("qms.archive")
# How long a round waits for a PostgreSQL connection before it counts as a failure (and the
# retry with backoff begins): an outage is noticed, and logged, within seconds.
CONNECTION_WAIT_S = 3.0


@dataclass
class ArchiverStats:
    """What this archiver did (its own share: other replicas apply the rest)."""

    events: int = 0
    batches: int = 0
    busy: int = 0            # batches skipped because another replica held the checkpoint
    moved: int = 0           # batches dropped because another replica had applied them
    gaps: list[Gap] = field(default_factory=list)
    rounds: int = 0
    failures: int = 0
    last_error: str = ""


class Archiver:
    """Applies the centers' streams to the archive; ``run()`` is the task, ``step()`` one
    round (tests drive it directly)."""

    def __init__(self, redis: RedisClient, pool: AsyncConnectionPool[Any],
                 centers: Sequence[str], *, batch_size: int = 500, poll_s: float = 1.0,
                 retry_max_s: float = 10.0, concurrency: int = 4,
                 housekeeping: Callable[[], Awaitable[None]] | None = None) -> None:
        self.redis = redis
        self.pool = pool
        self.centers = list(centers)
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.retry_max_s = retry_max_s
        self.housekeeping = housekeeping
        self.stats = ArchiverStats()
        self._checkpoints: dict[str, Checkpoint] = {}
        self._stale = False            # another replica moved a checkpoint: reread them all
        self._warned_old_redis = False
        self._limit = asyncio.Semaphore(concurrency)
        self._one_round = asyncio.Lock()   # rounds of one archiver never overlap

    # ------------------------------------------------------------------ one round

    async def prepare(self) -> None:
        """Checkpoint rows for every center, and where each stands."""
        async with self.pool.connection(timeout=CONNECTION_WAIT_S) as conn:
            await ensure_centers(conn, self.centers)
            self._checkpoints = await read_checkpoints(conn)

    async def step(self) -> bool:
        """One round over every center; True when some center has more to read at once."""
        if not self._checkpoints or self._stale:
            self._stale = False
            await self.prepare()
        async with self._one_round:
            reads = await self._read_streams()
            results = await asyncio.gather(*(self._advance(center, *read)
                                             for center, read in reads.items()))
            self.stats.rounds += 1
        return any(results)

    async def catch_up(self, max_rounds: int = 10_000) -> None:
        """Rounds until every stream is applied up to where it was (tests, benchmarks)."""
        for _ in range(max_rounds):
            if not await self.step():
                return
        raise RuntimeError(f"the archive did not catch up in {max_rounds} rounds")

    async def _read_streams(self) -> dict[
            str, tuple[Checkpoint, StreamState | None, list[Any]]]:
        """Per center: the checkpoint read after (the batch's expected one), what XINFO
        says, and the entries after it."""
        pipe = self.redis.pipeline(transaction=False)
        after = {center: self._checkpoints[center] for center in self.centers}
        for center in self.centers:
            key = keys.center_stream_key(center)
            pipe.xinfo_stream(key)
            pipe.xrange(key, min=after[center].at.after(), count=self.batch_size)
        replies = await pipe.execute(raise_on_error=False)
        reads: dict[str, tuple[Checkpoint, StreamState | None, list[Any]]] = {}
        for i, center in enumerate(self.centers):
            info, entries = replies[2 * i], replies[2 * i + 1]
            if isinstance(info, Exception):  # no stream yet ("no such key")
                reads[center] = (after[center], None, [])
                continue
            if isinstance(entries, Exception):
                raise entries
            reads[center] = (after[center], stream_state(info), entries)
        return reads

    async def _advance(self, center: str, checkpoint: Checkpoint, state: StreamState | None,
                       entries: list[Any]) -> bool:
        """Apply what was read after ``checkpoint`` (never a later one: the transaction's
        compare is against the id the entries follow)."""
        if state is None:
            return False
        if state.entries_added is None and not self._warned_old_redis:
            self._warned_old_redis = True
            log.warning("archive: this Redis does not count a stream's entries (XINFO STREAM "
                        "has no entries-added before Redis 7.0): a stream trimmed past the "
                        "archive's checkpoint cannot be detected")
        async with self._limit:
            gap = find_gap(center, checkpoint, state)
            if gap is not None:
                await self._backfill(gap)
                return True
            if not entries:
                return False
            batch = self._project(center, entries)
            async with self.pool.connection(timeout=CONNECTION_WAIT_S) as conn:
                result = await apply_batch(conn, batch, checkpoint.at)
            return self._note(center, result.outcome, result.checkpoint, len(batch.events)) \
                and len(entries) >= self.batch_size

    def _project(self, center: str, entries: list[Any]) -> Batch:
        batch = Batch(center)
        for entry_id, fields in entries:
            sid = StreamId.parse(entry_id)
            raw = fields.get(b"d") if b"d" in fields else fields.get("d")
            try:
                event = decode_event(raw, center)
            except Exception as error:  # one bad event must not stop the archive for good
                log.error("center %s: event %s cannot be decoded (%s); archived as "
                          "'undecodable'", center, sid, error)
                event = {"type": "undecodable", "at": sid.ms,
                         "info": {"error": f"{type(error).__name__}: {error}"[:500]}}
            batch.add(sid, event)
        return batch

    def _note(self, center: str, outcome: Outcome, now: StreamId | None, events: int) -> bool:
        """Record what came of a transaction; True when this archiver applied it."""
        previous = self._checkpoints[center]
        if outcome is Outcome.APPLIED and now is not None:
            self._checkpoints[center] = replace(previous, at=now,
                                                events=previous.events + events)
            self.stats.events += events
            self.stats.batches += 1
            return True
        if outcome is Outcome.MOVED and now is not None:
            self.stats.moved += 1
            # Another replica is ahead: read on from its checkpoint, with its counts.
            self._checkpoints.pop(center, None)
            self._stale = True
        else:
            self.stats.busy += 1
        return False

    async def _backfill(self, gap: Gap) -> None:
        records = await ticket_records(self.redis, gap.center)
        rows = backfill_rows(gap.center, gap, records)
        async with self.pool.connection(timeout=CONNECTION_WAIT_S) as conn:
            result = await apply_backfill(conn, gap, rows)
            if result.outcome is Outcome.APPLIED:
                self.stats.gaps.append(gap)
                log.warning(
                    "center %s: the event stream was trimmed past the archive's checkpoint %s "
                    "(events up to %s are gone; %s lost); %d tickets backfilled from their "
                    "records as of %s, recorded in the gaps table", gap.center, gap.checkpoint,
                    gap.resumed_after,
                    "an unknown number" if gap.lost_events is None else gap.lost_events,
                    len(rows), gap.stream_last)
            # Rereading the counts too: the backfill changed `lost`.
            self._checkpoints = await read_checkpoints(conn)

    # ------------------------------------------------------------------ the task

    async def run(self) -> None:
        """Forever: rounds, housekeeping, and retries with backoff after any failure."""
        delay = min(0.5, self.retry_max_s)
        failing_since: float | None = None
        while True:
            try:
                more = await self.step()
                if self.housekeeping is not None:
                    await self.housekeeping()
                if failing_since is not None:
                    log.warning("archive: working again after %.0f s; catching up",
                                time.monotonic() - failing_since)
                    failing_since = None
                delay = min(0.5, self.retry_max_s)
                if not more:
                    await asyncio.sleep(self.poll_s)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.stats.failures += 1
                self.stats.last_error = f"{type(error).__name__}: {error}"
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("archive: %s; retrying with backoff (live work is not "
                                "affected)", self.stats.last_error)
                self._checkpoints = {}   # reread after the outage: another replica may be ahead
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
