"""Failover, proven with real processes.

1. Sentinel: a primary, a replica and three sentinels; the primary is killed with SIGKILL
   under a kiosk load; the app follows the new primary with nothing but 503s on the way, and
   with ``QMS_REDIS_WAIT_REPLICAS=1`` (an answer leaves once the replica has its writes) no
   acknowledged ticket is lost and no number is handed out twice.
2. Two app replicas with displays on each, under calls made through both; one replica is
   killed; its displays resume on the other from the last id they saw, and every display's
   call events are checked one by one against the stream: none missed, none doubled.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgpack
import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from queue_server.keys import center_stream_key
from queue_server.live.frames import CALL_TYPES, id_tuple
from queue_server.records import event_view
from tests.faults import IssueLoad, audit
from tests.live import Bootstrap, LiveServer, login
from tests.servers import RedisSentinelProcesses, scaled, start_standalone

JSON_ONLY = [Subprotocol("qms.json")]


async def test_a_killed_primary_is_followed_with_503s_only(tmp_path: Path) -> None:
    centers = ("07192", "06985")
    with RedisSentinelProcesses(tmp_path / "redis", sentinels=3) as setup:
        server = LiveServer(setup.sentinel_url, tmp_path / "app",
                            extra_env={"QMS_REDIS_WAIT_REPLICAS": "1"})
        await asyncio.to_thread(server.start)
        try:
            boot = Bootstrap(setup.sentinel_url)
            kiosks = {c: await asyncio.to_thread(boot.device, "kiosk", c) for c in centers}
            load = IssueLoad(server.base_url, kiosks).start()
            await asyncio.sleep(0.5)
            killed = time.monotonic()
            await asyncio.to_thread(setup.kill_master)
            await asyncio.to_thread(setup.wait_for_failover, 30)
            recovery = await load.served_since(killed, 30)
            await asyncio.sleep(0.3)
            await load.stop()
            assert load.unexpected() == {}, load.statuses        # no 500, no reset
            assert load.missing_retry_after == 0
            assert load.statuses["503"] > 0 and recovery < scaled(15)
            assert await audit(setup.sentinel_url, load.issued) == {"lost": [], "reissued": []}
            log = server.log_tail(300)
            assert "Traceback" not in log and "unexpected error" not in log, log
        finally:
            server.stop()


# ---------------------------------------------------------------------- replicas


CENTER = "06862"
COUNTERS = ("1", "2", "3")
DISPLAYS_PER_REPLICA = 6


@dataclass
class Screen:
    """A lobby display that reconnects (to the surviving replica) from the last id it saw."""

    name: str
    urls: list[str]                  # where to connect, in order of preference
    first_id: str = ""               # the snapshot it started from
    last_id: str = ""
    calls: list[str] = field(default_factory=list)     # stream ids of call events, as seen
    resumed: int = 0

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            url = self.urls[0] + (f"&last_id={self.last_id}" if self.last_id else "")
            try:
                async with connect(url, subprotocols=JSON_ONLY) as ws:
                    while not stop.is_set():
                        try:
                            self.take(json.loads(await asyncio.wait_for(ws.recv(), 0.2)))
                        except TimeoutError:
                            continue
                return
            except (ConnectionClosed, OSError):
                # its replica is gone: the next one, from where it was
                if len(self.urls) > 1:
                    self.urls.pop(0)
                self.resumed += 1
                await asyncio.sleep(0.05)

    def take(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "snapshot":
            assert not self.first_id, f"{self.name}: a snapshot after resuming, not a replay"
            self.first_id = self.last_id = frame["id"]
        elif frame["type"] == "event":
            assert id_tuple(frame["id"]) > id_tuple(self.last_id), \
                f"{self.name}: {frame['id']} again or out of order after {self.last_id}"
            self.last_id = frame["id"]
            if frame["event"]["type"] in CALL_TYPES:
                self.calls.append(frame["id"])


async def calls_in_stream(url: str, after: str) -> list[str]:
    """Stream ids of the call events after ``after``, as Redis holds them."""
    async with aioredis.Redis.from_url(url) as raw:
        entries = await raw.xrange(center_stream_key(CENTER), min=f"({after}")
    return [sid.decode() for sid, fields in entries
            if event_view(msgpack.unpackb(fields[b"d"]), CENTER)["type"] in CALL_TYPES]


async def caller(servers: list[LiveServer], counter: str, token: str, kiosk: str,
                 stop: asyncio.Event, errors: list[str]) -> None:
    """One counter's day: issue, call, start, complete, each through either replica."""
    rng = random.Random(counter)
    async with httpx.AsyncClient(timeout=scaled(10)) as http:
        while not stop.is_set():
            for action in ("tickets", "call-next", "start", "complete"):
                base = f"{rng.choice(servers).base_url}/api/v1/centers/{CENTER}"
                path = (f"{base}/tickets" if action == "tickets"
                        else f"{base}/counters/{counter}/{action}")
                body = {"service": "certification"} if action == "tickets" else None
                who = kiosk if action == "tickets" else token
                try:
                    answer = await http.post(path, json=body,
                                             headers={"Authorization": f"Bearer {who}",
                                                      "Idempotency-Key": uuid.uuid4().hex})
                except httpx.HTTPError:
                    continue      # the replica that was asked is gone: the next one
                if answer.status_code >= 500:
                    errors.append(f"{action}: {answer.status_code} {answer.text[:100]}")
            await asyncio.sleep(0.01)


async def test_displays_of_a_killed_replica_resume_on_the_other_event_by_event(
        tmp_path: Path) -> None:
    store = start_standalone(tmp_path / "redis")
    a, b = LiveServer(store.url, tmp_path / "a"), LiveServer(store.url, tmp_path / "b")
    try:
        await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
        boot = Bootstrap(store.url)
        name = f"fo{uuid.uuid4().hex[:6]}"
        await asyncio.to_thread(boot.account, name, "supervisor", CENTER)
        boss = await asyncio.to_thread(login, a, name)
        kiosk = await asyncio.to_thread(boot.device, "kiosk", CENTER)
        display = await asyncio.to_thread(boot.device, "display", CENTER)
        async with httpx.AsyncClient(timeout=10) as http:
            for counter in COUNTERS:
                opened = await http.post(
                    f"{a.base_url}/api/v1/centers/{CENTER}/counters/{counter}/open",
                    json={"force": True}, headers={"Authorization": f"Bearer {boss}"})
                assert opened.is_success, opened.text

        def url(server: LiveServer) -> str:
            return f"{server.ws_url}/ws/display/{CENTER}?token={display}"

        screens = [Screen(f"a{n}", [url(a), url(b)]) for n in range(DISPLAYS_PER_REPLICA)]
        screens += [Screen(f"b{n}", [url(b)]) for n in range(DISPLAYS_PER_REPLICA)]
        stop, done = asyncio.Event(), asyncio.Event()
        watching = [asyncio.create_task(screen.watch(done)) for screen in screens]
        deadline = time.monotonic() + scaled(10)
        while not all(screen.first_id for screen in screens):
            assert time.monotonic() < deadline, "displays did not all get their snapshot"
            await asyncio.sleep(0.02)
        errors: list[str] = []
        targets = [a, b]
        callers = [asyncio.create_task(caller(targets, counter, boss, kiosk, stop, errors))
                   for counter in COUNTERS]
        await asyncio.sleep(1.0)
        assert a.process is not None
        a.process.kill()                  # a crash of replica A, displays and all
        a.process.wait()
        a.process = None
        targets.remove(a)
        resumed_at = time.monotonic()
        while not all(s.resumed for s in screens[:DISPLAYS_PER_REPLICA]):
            assert time.monotonic() - resumed_at < scaled(10), "A's displays did not resume"
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.0)          # calls go on through B
        stop.set()
        await asyncio.gather(*callers)
        # every display has caught up with the stream's tip before it is checked
        async with aioredis.Redis.from_url(store.url) as raw:
            tip = (await raw.xrevrange(center_stream_key(CENTER), count=1))[0][0].decode()
        deadline = time.monotonic() + scaled(10)
        while not all(id_tuple(s.last_id) >= id_tuple(tip) for s in screens):
            assert time.monotonic() < deadline, "displays did not catch up with the stream"
            await asyncio.sleep(0.02)
        done.set()
        await asyncio.gather(*watching)
        assert errors == []
        for screen in screens:
            expected = await calls_in_stream(store.url, screen.first_id)
            assert len(expected) > 10
            assert screen.calls == expected, f"{screen.name}: missed or doubled call events"
        assert all(s.resumed == 1 for s in screens[:DISPLAYS_PER_REPLICA])
        assert all(s.resumed == 0 for s in screens[DISPLAYS_PER_REPLICA:])
    finally:
        a.stop()
        b.stop()
        store.stop()
