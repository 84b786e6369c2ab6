"""Two replicas on one Redis: what one does, the other's sockets see; killing one loses
nothing, because Redis holds every piece of live state (DESIGN.md, principle 1)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.live import Bootstrap, LiveServer, login
from tests.servers import scaled, start_standalone

CENTER = "06838"


@dataclass
class Pair:
    a: LiveServer
    b: LiveServer
    supervisor: str
    kiosk: str
    display: str

    async def act(self, server: LiveServer, path: str, body: Any = None,
                  token: str | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            response = await http.post(
                path, json=body if body is not None else {},
                headers={"Authorization": f"Bearer {token or self.supervisor}"})
        assert response.is_success, f"{server.base_url}{path}: {response.text}"
        return response.json()  # type: ignore[no-any-return]

    async def issue(self, server: LiveServer, service: str = "certification") -> dict[str, Any]:
        return await self.act(server, f"/api/v1/centers/{CENTER}/tickets",
                              {"service": service}, self.kiosk)

    def display_url(self, server: LiveServer, last_id: str | None = None) -> str:
        url = f"{server.ws_url}/ws/display/{CENTER}?token={self.display}"
        return url + (f"&last_id={last_id}" if last_id else "")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp: Path = tmp_path_factory.mktemp("replicas")
    store = start_standalone(tmp / "redis")
    servers = [LiveServer(store.url, tmp / name) for name in ("a", "b")]
    try:
        boot = Bootstrap(store.url)
        name = f"rr{uuid.uuid4().hex[:6]}"
        with ThreadPoolExecutor(3) as pool:
            starting = [pool.submit(server.start) for server in servers]
            boot.account(name, "supervisor", CENTER)
            for started in starting:
                started.result()
        # logged in through A; B honours the token (the same key signs for every replica)
        yield Pair(*servers, login(servers[0], name), boot.device("kiosk", CENTER),
                   boot.device("display", CENTER))
    finally:
        for server in servers:
            server.stop()
        store.stop()


async def next_event(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))
        if frame["type"] == "event" and frame["event"]["type"] == kind:
            return frame  # type: ignore[no-any-return]


async def test_a_call_through_one_replica_reaches_a_display_on_the_other(pair: Pair) -> None:
    base = f"/api/v1/centers/{CENTER}/counters/1"
    async with connect(pair.display_url(pair.b), subprotocols=["qms.json"]) as on_b:
        assert json.loads(await on_b.recv())["type"] == "snapshot"
        await pair.act(pair.a, f"{base}/open")
        issued = await pair.issue(pair.a)
        called = await pair.act(pair.a, f"{base}/call-next")
        frame = await next_event(on_b, "called")
        assert frame["id"] == called["event_id"]
        assert frame["event"]["ticket"]["id"] == issued["ticket"]["id"]
    await pair.act(pair.b, f"{base}/no-show")  # and B can act on what A started


async def test_killing_a_replica_loses_nothing(pair: Pair) -> None:
    base = f"/api/v1/centers/{CENTER}/counters/3"  # business, social protection, merit
    await pair.act(pair.a, f"{base}/open")
    # Tickets issued through A, a display on each replica.
    issued = [await pair.issue(pair.a, "business") for _ in range(3)]
    waiting = [ticket["ticket"]["id"] for ticket in issued]
    async with connect(pair.display_url(pair.a), subprotocols=["qms.json"]) as on_a, \
            connect(pair.display_url(pair.b), subprotocols=["qms.json"]) as on_b:
        seen_on_a = json.loads(await on_a.recv())["id"]
        await on_b.recv()
        first = await pair.act(pair.a, f"{base}/call-next")
        seen_on_a = (await next_event(on_a, "called"))["id"]
        await next_event(on_b, "called")

        pair.a.process.kill()  # type: ignore[union-attr]  # a crash, not a shutdown
        pair.a.process.wait()  # type: ignore[union-attr]
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(on_a.recv(), scaled(5))

        async with httpx.AsyncClient(base_url=pair.b.base_url, timeout=10) as http:
            assert (await http.get("/health/ready")).status_code == 200
            # B knows the ticket A issued, and its secret
            state = await http.get(f"/api/v1/tickets/{waiting[1]}",
                                   headers={"X-Ticket-Token": issued[1]["token"]})
            assert state.status_code == 200 and state.json()["ticket"]["status"] == "waiting"
        await pair.act(pair.b, f"{base}/start")
        await pair.act(pair.b, f"{base}/complete")
        second = await pair.act(pair.b, f"{base}/call-next")
        frame = await next_event(on_b, "called")
        assert frame["id"] == second["event_id"]
        # Nothing was lost: B calls the next of A's tickets, in order of arrival.
        assert [first["ticket"]["id"], second["ticket"]["id"]] == waiting[:2]

    # The display that was on A resumes on B from the last id it saw, missing nothing.
    async with connect(pair.display_url(pair.b, seen_on_a), subprotocols=["qms.json"]) as ws:
        kinds = [json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))["event"]["type"]
                 for _ in range(3)]
        assert kinds == ["started", "completed", "called"]
