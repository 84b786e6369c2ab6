"""The engine under Sentinel: the same scripts through the master Sentinel names, and the
work goes on after a failover (scripts are loaded again on the new master by EVAL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from queue_server.errors import Unavailable
from queue_server.province import Province
from tests.conftest import close_engine, make_engine
from tests.servers import RedisSentinelProcesses

C = "06799"


async def test_engine_survives_failover(tmp_path: Path, province: Province) -> None:
    with RedisSentinelProcesses(tmp_path).start() as sentinel:
        engine = await make_engine(sentinel.sentinel_url, province)
        try:
            await engine.open_counter(C, "1", "an")
            first = await engine.issue(C, "civil_status")
            # Wait until the replica has the ticket, so the failover cannot lose it.
            await engine.runner.client.wait(1, 2000)
            await asyncio.to_thread(sentinel.kill_master)
            await asyncio.to_thread(sentinel.wait_for_failover, 30)
            second = None
            for _ in range(100):  # the client rediscovers the master on its next connection
                try:
                    second = await engine.issue(C, "civil_status")
                    break
                except Unavailable:
                    await asyncio.sleep(0.2)
            assert second is not None and second.number == "A002"
            called = await engine.call_next(C, "1", "an")
            assert called.ticket is not None and called.ticket.id == first.id
        finally:
            await close_engine(engine)
