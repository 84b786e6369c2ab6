"""WebSocket discipline: a peer that sends what the protocol does not allow is closed with
the right code (1003 garbage, 1008 a flood, 1009 an oversize frame), a handshake offering
only unknown subprotocols is refused, and none of it, nor a peer that just vanishes, puts
anything above info in the server's log.

Against the session's live server: every line these tests make it log must be info or
below.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.live import Bootstrap, LiveServer
from tests.servers import scaled

CENTER = "06922"
JSON_ONLY = [Subprotocol("qms.json")]


@pytest.fixture(scope="module")
def display(live_server: LiveServer) -> str:
    return Bootstrap(live_server.redis_url).device("display", CENTER)


@pytest.fixture
def quiet_log(live_server: LiveServer) -> Iterator[None]:
    """Fails the test if the server logged anything above info while it ran."""
    path = live_server.data_dir / f"server-{live_server.port}.log"
    before = path.stat().st_size
    yield
    with path.open(errors="replace") as log:
        log.seek(before)
        added = log.read()
    loud = [line for line in added.splitlines() if not line.startswith(("INFO", "DEBUG"))]
    assert loud == [], "the server logged:\n" + added


def url(live_server: LiveServer, token: str) -> str:
    return f"{live_server.ws_url}/ws/display/{CENTER}?token={token}"


async def closed_with(ws: ClientConnection) -> int:
    """Read until the server closes; the code it closed with."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), scaled(5))
    assert closed.value.rcvd is not None, "the server sent no close frame"
    return closed.value.rcvd.code


async def frame(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), scaled(5)))  # type: ignore[no-any-return]


@pytest.mark.usefixtures("quiet_log")
@pytest.mark.parametrize("garbage", ["hello", "{not json", '["type", "ping"]',
                                     '{"type": "call-next"}', b"\xc1\xff", msgpack.packb([1])],
                         ids=["text", "bad-json", "not-a-map", "unknown-type", "bad-msgpack",
                              "msgpack-list"])
async def test_garbage_is_closed_with_1003(live_server: LiveServer, display: str,
                                           garbage: str | bytes) -> None:
    async with connect(url(live_server, display), subprotocols=JSON_ONLY) as ws:
        assert (await frame(ws))["type"] == "snapshot"
        await ws.send(garbage)
        assert await closed_with(ws) == 1003


@pytest.mark.usefixtures("quiet_log")
async def test_a_ping_is_answered_and_a_flood_is_closed_with_1008(live_server: LiveServer,
                                                                  display: str) -> None:
    async with connect(url(live_server, display), subprotocols=JSON_ONLY) as ws:
        assert (await frame(ws))["type"] == "snapshot"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await frame(ws))["type"] == "heartbeat"
        await ws.send(msgpack.packb({"type": "ping"}))     # msgpack works too
        assert (await frame(ws))["type"] == "heartbeat"
        for _ in range(20_000):
            try:
                await ws.send('{"type": "ping"}')
            except ConnectionClosed:
                break
        assert await closed_with(ws) == 1008


@pytest.mark.usefixtures("quiet_log")
async def test_an_oversize_frame_is_closed_with_1009(live_server: LiveServer,
                                                     display: str) -> None:
    async with connect(url(live_server, display), subprotocols=JSON_ONLY) as ws:
        assert (await frame(ws))["type"] == "snapshot"
        await ws.send("x" * 100_000)
        assert await closed_with(ws) == 1009


@pytest.mark.usefixtures("quiet_log")
async def test_an_unknown_subprotocol_is_refused(live_server: LiveServer, display: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url(live_server, display), subprotocols=[Subprotocol("chat")]):
            pass
    assert refused.value.response.status_code == 400
    # offering ours among others, or none at all, is fine
    async with connect(url(live_server, display),
                       subprotocols=[Subprotocol("chat"), Subprotocol("qms.json")]) as ws:
        assert ws.subprotocol == "qms.json"
    async with connect(url(live_server, display)) as ws:
        assert msgpack.unpackb(await ws.recv())["type"] == "snapshot"


@pytest.mark.usefixtures("quiet_log")
async def test_a_peer_that_vanishes_is_not_an_error(live_server: LiveServer,
                                                    display: str) -> None:
    for _ in range(3):
        async with connect(url(live_server, display), subprotocols=JSON_ONLY) as ws:
            assert (await frame(ws))["type"] == "snapshot"
            transport = ws.transport
            linger_zero = struct.pack("ii", 1, 0)   # close() sends a reset, not a FIN
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                          linger_zero)
            transport.abort()                    # no close frame: a pulled cable
    # a socket half-way through its handshake, gone
    with socket.create_connection(("127.0.0.1", live_server.ws_port), timeout=5) as raw:
        raw.sendall(b"GET /ws/display/" + CENTER.encode() + b" HTTP/1.1\r\nHost: x\r\n")
    # the server still serves, and said nothing about any of it
    async with connect(url(live_server, display), subprotocols=JSON_ONLY) as ws:
        assert (await frame(ws))["type"] == "snapshot"
