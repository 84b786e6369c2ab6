"""No number is issued twice, even after Redis comes back without its last writes.

The loss itself is made exact: the day's numbering is written back (what a crash under
``appendfsync everysec`` or a failover to a lagging replica leaves), then Redis is really
killed and restarted, so the app meets a new Redis process and must put the numbers back
before it issues the next ticket.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

from queue_server.embedded import EmbeddedRedis
from queue_server.engine import Engine
from queue_server.errors import Unavailable
from queue_server.high_water import HighWater
from queue_server.keys import center_key
from queue_server.province import Province
from queue_server.redis_client import close, connect
from queue_server.script_runner import ScriptRunner
from tests.live import Bootstrap, LiveServer
from tests.servers import scaled

CENTER = "07093"
SERVICE = "certification"


async def forget_numbers(url: str, ticket_id: str, down_to: int) -> None:
    """What a crash that lost the last writes leaves: the day's numbering moved back."""
    day = ticket_id.split("-")[1]
    async with aioredis.Redis.from_url(url) as raw:
        await raw.hset(center_key(CENTER, "seq", day), SERVICE, down_to)


async def issue_when_back(engine: Engine) -> str:
    for _ in range(100):
        try:
            return (await engine.issue(CENTER, SERVICE)).number
        except Unavailable:   # the pool's old connections meet the restart first
            await asyncio.sleep(0.05)
    raise AssertionError("Redis did not come back")


async def test_answers_seen_are_put_back_and_nothing_is_lowered(tmp_path: Path,
                                                                province: Province) -> None:
    store = EmbeddedRedis(tmp_path / "redis", appendfsync="always").start()
    high_water = HighWater()
    client = connect(store.url, on_connect=high_water.on_connect)
    runner = ScriptRunner(client, high_water=high_water)
    engine = Engine(runner, province)
    try:
        await runner.load()
        await engine.sync_province()
        issued = [await engine.issue(CENTER, SERVICE) for _ in range(5)]
        for ticket in issued:              # what engine.py reports of its answers
            runner.high_water.observe_ticket(ticket)
        await forget_numbers(store.url, issued[0].id, 2)
        store.kill()
        store.start()
        assert await issue_when_back(engine) == "B006"      # not B003 a second time
        assert high_water.raised == 1
        # a Redis ahead of what this process saw is left alone
        async with aioredis.Redis.from_url(store.url) as raw:
            await raw.hset(center_key(CENTER, "seq", issued[0].id.split("-")[1]), SERVICE, 40)
        store.kill()
        store.start()
        assert await issue_when_back(engine) == "B041"
        assert high_water.raised == 1
    finally:
        await runner.aclose()
        await close(client)
        store.stop()


async def test_a_server_puts_back_the_numbers_its_displays_showed(tmp_path: Path) -> None:
    store = EmbeddedRedis(tmp_path / "redis", appendfsync="always").start()
    server = await asyncio.to_thread(LiveServer(store.url, tmp_path / "app").start)
    try:
        boot = Bootstrap(store.url)
        kiosk = await asyncio.to_thread(boot.device, "kiosk", CENTER)
        display = await asyncio.to_thread(boot.device, "display", CENTER)
        url = f"{server.ws_url}/ws/display/{CENTER}?token={display}"
        async with ws_connect(url, subprotocols=[Subprotocol("qms.json")]) as ws, \
                httpx.AsyncClient(base_url=server.base_url, timeout=10,
                                  headers={"Authorization": f"Bearer {kiosk}"}) as http:
            assert json.loads(await ws.recv())["type"] == "snapshot"
            numbers = []
            for _ in range(3):
                answer = await http.post(f"/api/v1/centers/{CENTER}/tickets",
                                         json={"service": SERVICE})
                numbers.append(answer.json()["ticket"])
                shown = json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))
                assert shown["event"]["ticket"]["number"] == numbers[-1]["number"]
            await forget_numbers(store.url, numbers[0]["id"], 1)
            store.kill()
            store.start()
            for _ in range(200):
                answer = await http.post(f"/api/v1/centers/{CENTER}/tickets",
                                         json={"service": SERVICE})
                if answer.status_code == 201:
                    break
                assert answer.status_code == 503, answer.text
                await asyncio.sleep(0.05)
            assert answer.json()["ticket"]["number"] == "B004", answer.text
        assert "service numberings raised back" in server.log_tail(100)
    finally:
        server.stop()
        store.stop()
