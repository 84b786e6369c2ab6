"""Outages are clean: while Redis is away every request is a fast 503 problem with
``Retry-After`` (never a 500, a hang or a reset), readiness fails and comes back, and a burst
of crashes leaves nothing behind; a client that hangs up mid-request is not an error.

An external Redis (AOF ``always``) in front of a real uvicorn process, killed with SIGKILL a
dozen times in a row under a mixed load: kiosk issues, ticket reads, staff calls, public
reads, and requests carrying device and login tokens this process has never cached (their
lookup is a Redis read of its own).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect as websockets_connect
from websockets.typing import Subprotocol

from queue_server.api.health import ping_again_once_dropped as ready_ping
from queue_server.embedded import EmbeddedRedis
from queue_server.live.frames import id_tuple
from queue_server.redis_client import connect
from tests.faults import IssueLoad, audit
from tests.live import Bootstrap, LiveServer, login
from tests.servers import scaled

CENTERS = ("06709", "06736")
KILLS = 12

Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def mixed(base_url: str, requests: list[Request], statuses: Counter[str],
                stop: asyncio.Event) -> None:
    rng = random.Random(3)
    async with httpx.AsyncClient(base_url=base_url, timeout=scaled(10)) as http:
        while not stop.is_set():
            try:
                answer = await rng.choice(requests)(http)
            except httpx.HTTPError as error:
                statuses[type(error).__name__] += 1
                await asyncio.sleep(0.02)
                continue
            key = str(answer.status_code)
            if answer.status_code == 503 and "retry-after" not in answer.headers:
                key = "503 without Retry-After"
            statuses[key] += 1
            await asyncio.sleep(0.01)


async def test_a_burst_of_redis_crashes_gives_503s_only_and_heals(tmp_path: Path) -> None:
    store = EmbeddedRedis(tmp_path / "redis", appendfsync="always").start()
    server = await asyncio.to_thread(LiveServer(store.url, tmp_path / "app").start)
    try:
        boot = Bootstrap(store.url)
        kiosks = {c: await asyncio.to_thread(boot.device, "kiosk", c) for c in CENTERS}
        spare_kiosks = [await asyncio.to_thread(boot.device, "kiosk", CENTERS[0])
                        for _ in range(KILLS)]
        name = f"ou{uuid.uuid4().hex[:6]}"
        await asyncio.to_thread(boot.account, name, "supervisor", CENTERS[0])
        boss = await asyncio.to_thread(login, server, name)
        spare_logins = await boot.logins([name] * KILLS, "supervisor", CENTERS[0])
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            opened = await http.post(f"/api/v1/centers/{CENTERS[0]}/counters/1/open", json={},
                                     headers={"Authorization": f"Bearer {boss}"})
            assert opened.is_success, opened.text
            issued = (await http.post(f"/api/v1/centers/{CENTERS[0]}/tickets",
                                      json={"service": "certification"},
                                      headers={"Authorization": f"Bearer {boss}"})).json()

        def fresh(tokens: list[str]) -> str:
            return tokens.pop() if len(tokens) > 1 else tokens[0]

        requests: list[Request] = [
            lambda h: h.get(f"/api/v1/tickets/{issued['ticket']['id']}",
                            headers={"X-Ticket-Token": issued["token"]}),
            lambda h: h.post(f"/api/v1/centers/{CENTERS[0]}/counters/1/call-next",
                             headers={"Authorization": f"Bearer {boss}"}),
            lambda h: h.get(f"/api/v1/centers/{CENTERS[1]}"),
            lambda h: h.get("/health/ready"),
            # tokens never seen by this process: their lookup needs Redis
            lambda h: h.post(f"/api/v1/centers/{CENTERS[0]}/tickets",
                             json={"service": "land"},
                             headers={"Authorization": f"Bearer {fresh(spare_kiosks)}"}),
            lambda h: h.get("/api/v1/auth/me",
                            headers={"Authorization": f"Bearer {fresh(spare_logins)}"}),
        ]
        statuses: Counter[str] = Counter()
        stop = asyncio.Event()
        load = IssueLoad(server.base_url, kiosks).start()
        others = [asyncio.create_task(mixed(server.base_url, requests, statuses, stop))
                  for _ in range(3)]
        await asyncio.sleep(0.5)
        for kill in range(KILLS):
            store.kill()
            await asyncio.sleep(0.05 * (kill % 3))
            await asyncio.to_thread(store.start)
            await asyncio.sleep(0.15)
        back = time.monotonic()
        recovery = await load.served_since(back, 10)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=scaled(5)) as http:
            deadline = time.monotonic() + scaled(5)
            while (await http.get("/health/ready")).status_code != 200:
                assert time.monotonic() < deadline, "readiness stuck after the burst"
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await load.stop()
        await asyncio.gather(*others)
        assert load.unexpected() == {}, load.statuses
        assert load.missing_retry_after == 0
        wrong = {k: v for k, v in statuses.items() if not (k[0] in "24" or k == "503")}
        assert wrong == {}, statuses
        assert statuses["503"] > 0          # the outages were met, and answered as such
        assert recovery < scaled(5)
        assert await audit(store.url, load.issued) == {"lost": [], "reissued": []}
        log = server.log_tail(400)
        assert "Traceback" not in log and "unexpected error" not in log, log
    finally:
        server.stop()
        store.stop()


def test_a_client_that_hangs_up_mid_request_is_not_an_error(live_server: LiveServer) -> None:
    kiosk = Bootstrap(live_server.redis_url).device("kiosk", "06709")
    log_path = live_server.data_dir / f"server-{live_server.port}.log"
    before = log_path.stat().st_size
    # the kiosk's lean route and a FastAPI route: both read the body after the headers
    for path in ("/api/v1/centers/06709/tickets", "/api/v1/bookings"):
        with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as raw:
            raw.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        f"Authorization: Bearer {kiosk}\r\nContent-Length: 400\r\n\r\n"
                        '{"service": "cert'.encode())
        # the server notices the hang-up when it reads the body; a request after it is served
    assert httpx.get(live_server.base_url + "/health/live", timeout=5).status_code == 200
    with log_path.open(errors="replace") as log:
        log.seek(before)
        added = log.read()
    assert "ClientDisconnect" not in added and "Traceback" not in added, added


async def test_screens_are_told_and_resynced_when_redis_returns_without_its_last_writes(
        tmp_path: Path) -> None:
    """A lobby screen hears that Redis is away and back; when it comes back without the
    last events the screen showed (here: its folder as it was two tickets earlier), the
    screen gets a fresh snapshot instead of keeping calls that no longer exist."""
    center = CENTERS[1]
    folder = tmp_path / "redis"
    store = EmbeddedRedis(folder, appendfsync="always").start()
    server = await asyncio.to_thread(LiveServer(store.url, tmp_path / "app").start)
    try:
        boot = Bootstrap(store.url)
        kiosk = await asyncio.to_thread(boot.device, "kiosk", center)
        display = await asyncio.to_thread(boot.device, "display", center)
        url = f"{server.ws_url}/ws/display/{center}?token={display}"
        async with websockets_connect(url, subprotocols=[Subprotocol("qms.json")]) as ws, \
                httpx.AsyncClient(base_url=server.base_url, timeout=10,
                                  headers={"Authorization": f"Bearer {kiosk}"}) as http:

            async def next_frame(kind: str) -> dict[str, Any]:
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), scaled(10)))
                    if frame["type"] == kind:
                        return frame  # type: ignore[no-any-return]

            await next_frame("snapshot")
            await http.post(f"/api/v1/centers/{center}/tickets", json={"service": "land"})
            await next_frame("event")
            earlier = tmp_path / "earlier"
            shutil.copytree(folder / "appendonlydir", earlier)   # fsynced: a consistent copy
            for _ in range(2):
                await http.post(f"/api/v1/centers/{center}/tickets", json={"service": "land"})
                shown = await next_frame("event")
            store.kill()
            told = await next_frame("status")
            assert told["store"] == "unavailable"
            shutil.rmtree(folder / "appendonlydir")
            shutil.copytree(earlier, folder / "appendonlydir")
            await asyncio.to_thread(store.start)
            assert (await next_frame("status"))["store"] == "ok"
            fresh = await next_frame("snapshot")
            assert id_tuple(fresh["id"]) < id_tuple(shown["id"])   # the stream as it is now
    finally:
        server.stop()
        store.stop()


async def test_readiness_right_after_a_restart_is_not_failed_by_a_stale_connection(
        tmp_path: Path) -> None:
    # the pool keeps connections to the killed process: each fails once, and the first
    # readiness probe after the restart must not be the one that reports it
    store = EmbeddedRedis(tmp_path / "redis", appendonly=False).start()
    client = connect(store.url)
    try:
        await asyncio.gather(*(client.ping() for _ in range(8)))   # several pooled sockets
        store.kill()
        store.start()
        for _ in range(8):
            await ready_ping(client)       # raises on any failure
    finally:
        await client.aclose()
        store.stop()
