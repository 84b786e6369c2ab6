"""Applies the projection of every center's event stream to Redis (DESIGN.md §7).

Each round reads, per center, the events after the projection's checkpoint, computes their
deltas with the pure :func:`queue_server.projections.project`, and hands them to
``project.lua`` with the checkpoint they start after: the script applies them and advances the
checkpoint in one atomic step, or refuses if another replica got there first (then this one
reads again from the new checkpoint). So every replica may run it, a batch is applied
exactly once, a restart resets nothing, and ``/metrics`` reads the same numbers everywhere.

An event that cannot be read stops that center's projection where it is, is logged and
counted (``stalled``), and is never skipped: the lag then grows and its alert fires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
from redis.exceptions import RedisError

from queue_server import keys
from queue_server.errors import Unavailable
from queue_server.projections import Deltas, project
from queue_server.province import Center, Province
from queue_server.records import decode_event
from queue_server.script_runner import ScriptRunner, translate_error
from queue_server.stream_ids import id_tuple

log = logging.getLogger("qms.projector")
NAME = "metrics"
BATCH = 500
POLL_S = 0.25


@dataclass
class CenterProgress:
    """Where one center's projection stands (what the lag metrics report)."""

    checkpoint: str = "0-0"
    tip: str = "0-0"
    stalled: str = ""      # why it stopped, '' while it runs
    applied_events: int = 0
    conflicts: int = 0     # batches another replica applied first


@dataclass
class ProjectorState:
    centers: dict[str, CenterProgress] = field(default_factory=dict)

    def lag_ms(self, center: str) -> int:
        """Stream time between the newest event and the last applied (ids are ms)."""
        progress = self.centers.get(center)
        if progress is None:
            return 0
        return max(0, id_tuple(progress.tip)[0] - id_tuple(progress.checkpoint)[0])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _readable(entries: list[Any], center: str) -> tuple[list[dict[str, Any]], Deltas, str]:
    """The events of a read up to the first one that cannot be decoded or projected, their
    deltas, and what is wrong with that one ('' when all are fine)."""
    try:
        events = [decode_event(fields[b"d"], center) for _, fields in entries]
        return events, project(events), ""
    except Exception:
        pass  # find the one (the rare path: a batch is normally read in one go)
    events = []
    for _, fields in entries:
        try:
            decoded = decode_event(fields[b"d"], center)
            project([decoded])
        except Exception as error:
            return events, project(events), f"{type(error).__name__}: {error}"
        events.append(decoded)
    return events, project(events), ""


class Projector:
    def __init__(self, runner: ScriptRunner, province: Province, *, batch: int = BATCH) -> None:
        self.runner = runner
        self.province = province
        self.batch = batch
        self.state = ProjectorState()
        self._lock = asyncio.Lock()

    def progress(self, center: str) -> CenterProgress:
        return self.state.centers.setdefault(center, CenterProgress())

    def progress_total(self) -> int:
        """Events this process applied, all centers."""
        return sum(p.applied_events for p in self.state.centers.values())

    def conflicts_total(self) -> int:
        """Batches another replica applied first."""
        return sum(p.conflicts for p in self.state.centers.values())

    async def catch_up(self, centers: Sequence[Center] | None = None) -> int:
        """Apply everything the streams hold now; answers the events applied. Concurrent
        callers in one process share the work (the collector calls it before every scrape)."""
        async with self._lock:
            chosen = self.province.centers if centers is None else centers
            counts = await asyncio.gather(*(self._center(c.id) for c in chosen))
            return sum(counts)

    async def _center(self, center: str) -> int:
        try:
            return await self._apply(center)
        except (RedisError, OSError) as error:
            raise translate_error(error) from error

    async def _apply(self, center: str) -> int:
        progress = self.progress(center)
        if progress.stalled:
            return 0
        client = self.runner.client
        checkpoint = _text(await client.hget(keys.center_key(center, "projection"), NAME)
                           or "0-0")
        applied = 0
        while True:
            entries = await client.xrange(keys.center_stream_key(center),
                                          min=f"({checkpoint}", count=self.batch)
            if not entries:
                progress.checkpoint = progress.tip = max(
                    checkpoint, progress.tip, key=id_tuple)
                return applied
            events, deltas, problem = _readable(entries, center)
            if problem:  # an event this version cannot read: apply up to it, stop, report
                progress.stalled = problem
                log.error("projection of center %s stopped after %s: %s", center,
                          _text(entries[len(events) - 1][0]) if events else checkpoint, problem)
                if not events:
                    return applied
            last_id = _text(entries[len(events) - 1][0])
            done, now_checkpoint = await self.runner.run(
                "project", [keys.center_meta_key(center)],
                ["", "", "system", "", NAME, checkpoint, last_id,
                 msgpack.packb(deltas.as_wire()), str(events[-1]["at"])])
            if done:
                applied += len(events)
                progress.applied_events += len(events)
            else:
                progress.conflicts += 1
            checkpoint = _text(now_checkpoint)
            progress.checkpoint = checkpoint
            progress.tip = max(progress.tip, _text(entries[-1][0]), key=id_tuple)
            if progress.stalled:
                return applied

    async def run_forever(self, poll_s: float = POLL_S) -> None:
        """Every replica's background task: keep every center's projection current."""
        backoff = poll_s
        while True:
            try:
                await self.catch_up()
                backoff = poll_s
            except (Unavailable, RedisError, OSError) as error:
                log.info("projection paused: %s", error)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("projection round failed")
                backoff = min(backoff * 2, 5.0)
            await asyncio.sleep(backoff)
