"""The real server answers: health, OpenAPI, a ticket from a kiosk reaches a display."""

from __future__ import annotations

import asyncio

import httpx
import msgpack
from websockets.asyncio.client import connect

from tests.live import Bootstrap, LiveServer


async def test_kiosk_ticket_reaches_display(live_server: LiveServer) -> None:
    boot = Bootstrap(live_server.redis_url)
    kiosk = await asyncio.to_thread(boot.device, "kiosk", "06799")
    display = await asyncio.to_thread(boot.device, "display", "06799")
    async with connect(f"{live_server.ws_url}/ws/display/06799?token={display}") as ws:
        first = msgpack.unpackb(await ws.recv())
        assert first["type"] == "snapshot" and first["snapshot"]["center"] == "06799"
        async with httpx.AsyncClient(base_url=live_server.base_url) as http:
            response = await http.post("/api/v1/centers/06799/tickets", json={"service": "land"},
                                       headers={"Authorization": f"Bearer {kiosk}"})
        assert response.status_code == 201, response.text
        frame = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5))
        assert frame["type"] == "event" and frame["event"]["type"] == "issued"
        assert frame["event"]["ticket"]["id"] == response.json()["ticket"]["id"]
