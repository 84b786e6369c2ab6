"""Every replica's scheduler of the centers' days: closes a day when its instant has passed
and, once a day, writes the calendar's next closing instants again (docs/rules.md).

Closing is idempotent and atomic (close_day.lua checks the instant itself), so any number of
replicas may run this; and every transition closes a due day before its own work, so a
scheduler that is down delays nothing that matters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from redis.exceptions import RedisError

from queue_server.engine import Engine
from queue_server.errors import Unavailable
from queue_server.rules.clock import TIMEZONE

log = logging.getLogger("qms.day")
CHECK_EVERY_S = 30.0


class DayScheduler:
    def __init__(self, engine: Engine, every_s: float = CHECK_EVERY_S) -> None:
        self.engine = engine
        self.every_s = every_s
        self._synced_on: dt.date | None = None

    async def tick(self) -> list[str]:
        """One round: the centers whose day this call closed."""
        today = dt.datetime.now(TIMEZONE).date()
        if self._synced_on is not None and self._synced_on != today:
            await self.engine.sync_province(today)  # the calendar's window moves on
        self._synced_on = today
        centers = self.engine.province.centers
        results = await asyncio.gather(*(self.engine.close_day_if_due(c.id) for c in centers))
        closed = [c.id for c, (done, _) in zip(centers, results, strict=True) if done]
        if closed:
            log.info("day closed at %d centers: %s", len(closed), ", ".join(closed))
        return closed

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except (Unavailable, RedisError, OSError) as error:
                log.info("day scheduler waits for Redis: %s", error)
            except Exception:
                log.exception("day scheduler round failed")
            await asyncio.sleep(self.every_s)
