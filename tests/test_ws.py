"""WebSocket channels end to end: the ``websockets`` client (and, for a client that stops
reading, a raw socket driven by the library's sans-I/O protocol) against the live server.

Centers of their own: MAIN (display, JSON, resume, ticket, province), TRIM (a stream trimmed
under a resuming client) and SLOW (heartbeats and a slow client, on a second server with a
0.5 s heartbeat and a 4 KiB socket backlog).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import msgpack
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from queue_server.keys import center_stream_key
from tests.live import Bootstrap, LiveServer, login
from tests.servers import scaled

MAIN, TRIM, SLOW = "06946", "06931", "06841"
SLOW_EVENTS = 400      # issue events (~650 B in JSON) while one client does not read


@dataclass
class Crew:
    http: httpx.AsyncClient
    boss: dict[str, str]       # center -> supervisor token
    display: dict[str, str]    # center -> display token
    province: str

    async def act(self, method: str, path: str, center: str = MAIN,
                  body: Any = None, base: str | None = None) -> dict[str, Any]:
        response = await self.http.request(
            method, (base or "") + path, json=body,
            headers={"Authorization": f"Bearer {self.boss[center]}"})
        assert response.is_success, f"{method} {path}: {response.text}"
        return response.json()  # type: ignore[no-any-return]

    async def issue(self, center: str = MAIN, service: str = "certification",
                    base: str | None = None) -> dict[str, Any]:
        return await self.act("POST", f"/api/v1/centers/{center}/tickets", center,
                              {"service": service}, base)

    async def free_counter(self, center: str, counter: str) -> None:
        """Open, not paused, nothing in hand (whatever an earlier test left)."""
        base = f"/api/v1/centers/{center}/counters/{counter}"
        live = await self.act("GET", f"/api/v1/centers/{center}/live?tickets=0", center)
        view = next(c for c in live["counters"] if c["id"] == counter)
        if view["ticket"]:
            ticket = await self.act("GET", f"/api/v1/tickets/{view['ticket']}", center)
            done = "complete" if ticket["ticket"]["status"] == "serving" else "no-show"
            await self.act("POST", f"{base}/{done}", center)
        if view["state"] == "paused":
            await self.act("POST", f"{base}/resume", center)
        if view["state"] == "closed":
            await self.act("POST", f"{base}/open", center, {})


@pytest.fixture(scope="module")
async def crew(live_server: LiveServer) -> AsyncIterator[Crew]:
    tag = uuid.uuid4().hex[:6]
    boot = Bootstrap(live_server.redis_url)
    people = {MAIN: f"wa{tag}", TRIM: f"wb{tag}", SLOW: f"wc{tag}", "province": f"wp{tag}"}

    def make(center: str) -> str:
        role = "province" if center == "province" else "supervisor"
        boot.account(people[center], role, None if role == "province" else center)
        return login(live_server, people[center])

    with ThreadPoolExecutor(4) as pool:  # password hashing is slow on purpose
        tokens = dict(zip(people, await asyncio.gather(
            *(asyncio.wrap_future(pool.submit(make, c)) for c in people)), strict=True))
    displays = {c: await asyncio.to_thread(boot.device, "display", c) for c in (MAIN, TRIM, SLOW)}
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=10) as http:
        yield Crew(http, tokens, displays, tokens["province"])


@pytest.fixture(scope="module")
def quick(live_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A second server: heartbeats every 0.5 s, and a socket more than 4 KiB behind resyncs."""
    server = LiveServer(live_redis_url, tmp_path_factory.mktemp("quick"),
                        extra_env={"QMS_WS_HEARTBEAT_S": "0.5",
                                   "QMS_WS_BUFFER_BYTES": "4096"}).start()
    yield server
    server.stop()


def decode(message: bytes | str) -> dict[str, Any]:
    return msgpack.unpackb(message) if isinstance(message, bytes) else json.loads(message)


async def next_frame(ws: ClientConnection, timeout: float = 5.0,
                     heartbeats: bool = False) -> dict[str, Any]:
    while True:
        frame = decode(await asyncio.wait_for(ws.recv(), scaled(timeout)))
        if heartbeats or frame["type"] != "heartbeat":
            return frame


async def event_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while (frame := await next_frame(ws))["type"] != "event" or frame["event"]["type"] != kind:
        pass
    return frame


async def silent(ws: ClientConnection, seconds: float = 0.5) -> bool:
    try:
        await next_frame(ws, seconds)
    except TimeoutError:
        return True
    return False


def id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def display_url(server: LiveServer, crew: Crew, center: str, **query: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"{server.ws_url}/ws/display/{center}?token={crew.display[center]}{extra}"


# ---------------------------------------------------------------------- display channel


async def test_snapshot_first_then_each_call_with_its_stream_id(live_server: LiveServer,
                                                                crew: Crew) -> None:
    await crew.free_counter(MAIN, "1")
    async with connect(display_url(live_server, crew, MAIN)) as ws:
        first = await next_frame(ws)
        assert first["type"] == "snapshot" and first["snapshot"]["center"] == MAIN
        assert first["id"] == first["snapshot"]["last_id"]
        issued = await crew.issue()
        called = await crew.act("POST", f"/api/v1/centers/{MAIN}/counters/1/call",
                                body={"ticket_id": issued["ticket"]["id"]})
        arrived = await event_of(ws, "called")
        assert arrived["id"] == called["event_id"]
        assert arrived["event"]["ticket"]["id"] == issued["ticket"]["id"]
        assert arrived["event"]["counter"]["id"] == "1"


async def test_json_subprotocol_gives_json_frames(live_server: LiveServer, crew: Crew) -> None:
    async with connect(display_url(live_server, crew, MAIN), subprotocols=["qms.json"]) as ws:
        assert ws.subprotocol == "qms.json"
        first = await asyncio.wait_for(ws.recv(), scaled(5))
        assert isinstance(first, str) and json.loads(first)["type"] == "snapshot"
        issued = await crew.issue()
        while (text := await asyncio.wait_for(ws.recv(), scaled(5))) and \
                json.loads(text)["type"] != "event":
            pass
        assert isinstance(text, str)
        assert json.loads(text)["event"]["ticket"]["id"] == issued["ticket"]["id"]


async def test_resume_replays_exactly_the_missed_events(live_server: LiveServer,
                                                        crew: Crew) -> None:
    services = {"2": "land", "3": "business", "4": "results"}
    for counter in services:
        await crew.free_counter(MAIN, counter)
    async with connect(display_url(live_server, crew, MAIN)) as ws:
        await next_frame(ws)
        tickets = {counter: (await crew.issue(service=service))["ticket"]["id"]
                   for counter, service in services.items()}
        for _ in tickets:
            last_seen = (await event_of(ws, "issued"))["id"]
    # Offline: three calls the display does not see.
    missed = [await crew.act("POST", f"/api/v1/centers/{MAIN}/counters/{counter}/call",
                             body={"ticket_id": ticket})
              for counter, ticket in tickets.items()]
    async with connect(display_url(live_server, crew, MAIN, last_id=last_seen)) as ws:
        replayed = [await next_frame(ws) for _ in missed]
        assert [f["type"] for f in replayed] == ["event"] * 3, "no snapshot first"
        assert [f["id"] for f in replayed] == [m["event_id"] for m in missed]
        assert [f["event"]["ticket"]["id"] for f in replayed] == list(tickets.values())
        assert await silent(ws), "exactly the missed events, nothing more"
        # and live again after the replay
        more = await crew.issue()
        assert (await event_of(ws, "issued"))["event"]["ticket"]["id"] == more["ticket"]["id"]


async def test_a_gap_older_than_the_stream_gets_a_snapshot(live_server: LiveServer,
                                                           crew: Crew) -> None:
    for _ in range(3):
        await crew.issue(TRIM)
    client = aioredis.Redis.from_url(live_server.redis_url)
    try:
        oldest = (await client.xrange(center_stream_key(TRIM), count=1))[0][0].decode()
        # only the newest is kept (exactly: "~" would keep whole nodes)
        await client.xtrim(center_stream_key(TRIM), maxlen=1, approximate=False)
        newest = (await client.xrevrange(center_stream_key(TRIM), count=1))[0][0].decode()
    finally:
        await client.aclose()
    for last_id in (oldest, "99999999999999-0"):  # trimmed away; from the future
        async with connect(display_url(live_server, crew, TRIM, last_id=last_id)) as ws:
            first = await next_frame(ws)
            assert first["type"] == "snapshot" and first["id"] == newest


async def closed_with(url: str) -> int | None:
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), scaled(5))
    return ws.close_code


async def test_refusals_close_with_4401_4403_4404_4400(live_server: LiveServer,
                                                       crew: Crew) -> None:
    ws_url, display = live_server.ws_url, crew.display[MAIN]
    issued = await crew.issue()
    cases = [
        (f"/ws/display/{MAIN}?token=st.forged", 4401),
        (f"/ws/display/{MAIN}", 4401),
        (f"/ws/display/{TRIM}?token={display}", 4403),          # another center's display
        (f"/ws/counter/{MAIN}/1?token={display}", 4403),        # a display is not staff
        (f"/ws/province?token={display}", 4403),
        (f"/ws/ticket/{issued['ticket']['id']}?token=tk.not-its-secret", 4403),
        (f"/ws/lobby/{MAIN}?token={display}", 4404),
        (f"/ws/display/99999?token={display}", 4404),
        (f"/ws/display/{MAIN}?token={display}&last_id=yesterday", 4400),
    ]
    got = [(path, await closed_with(ws_url + path)) for path, _ in cases]
    assert got == [(path, code) for path, code in cases]


# ---------------------------------------------------------------------- ticket, province


async def test_the_ticket_channel_follows_its_ticket_through_a_transfer(
        live_server: LiveServer, crew: Crew) -> None:
    await crew.free_counter(MAIN, "1")
    await crew.free_counter(MAIN, "2")
    mine = await crew.issue()
    ticket, token = mine["ticket"]["id"], mine["token"]
    async with connect(f"{live_server.ws_url}/ws/ticket/{ticket}?token={token}") as ws:
        first = await next_frame(ws)
        assert first["type"] == "ticket" and first["ticket"]["ticket"]["id"] == ticket
        await crew.issue()  # someone else's ticket: not an event on this channel
        base = f"/api/v1/centers/{MAIN}/counters"
        await crew.act("POST", f"{base}/1/call", body={"ticket_id": ticket})
        assert (await event_of(ws, "called"))["event"]["ticket"]["id"] == ticket
        moved = await crew.act("POST", f"{base}/1/transfer", body={"to_service": "land"})
        new = moved["new_ticket"]["id"]
        transferred = await event_of(ws, "transferred")
        assert transferred["event"]["new_ticket"]["id"] == new
        await crew.act("POST", f"{base}/2/call", body={"ticket_id": new})
        called_again = await event_of(ws, "called")
        assert called_again["event"]["ticket"]["id"] == new
        assert called_again["event"]["counter"]["id"] == "2"


async def test_the_province_channel_sees_every_center(live_server: LiveServer,
                                                      crew: Crew) -> None:
    async with connect(f"{live_server.ws_url}/ws/province?token={crew.province}") as ws:
        first = await next_frame(ws)
        assert first["type"] == "snapshot"
        assert len(first["snapshot"]["centers"]) == 54
        await crew.issue(TRIM)
        while (frame := await next_frame(ws))["center"] != TRIM:
            pass
        assert frame["type"] == "event" and frame["event"]["type"] == "issued"
        assert frame["event"]["totals"]["waiting"] >= 1


# ---------------------------------------------------------------------- heartbeats, slow


async def test_heartbeats_arrive_on_a_quiet_channel(quick: LiveServer, crew: Crew) -> None:
    async with connect(display_url(quick, crew, SLOW)) as ws:
        snapshot = await next_frame(ws)
        beats = [await next_frame(ws, 2, heartbeats=True) for _ in range(3)]
        assert [b["type"] for b in beats] == ["heartbeat"] * 3
        assert all(b["id"] == snapshot["id"] and isinstance(b["at"], int) for b in beats)


class StalledClient:
    """A WebSocket client (JSON frames) that upgrades, then reads nothing until told to.

    A small receive buffer and a small MSS: on loopback the server's kernel would otherwise
    autotune its send buffer to megabytes (64 KiB segments) and absorb every frame, and the
    server's own backlog, the thing under test, would never grow."""

    def __init__(self, url: str) -> None:
        self.protocol = ClientProtocol(parse_uri(url), subprotocols=[Subprotocol("qms.json")],
                                       max_size=None)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        uri = parse_uri(url)
        self.sock.connect((uri.host, uri.port))
        self.sock.settimeout(scaled(5))
        self.early: list[dict[str, Any]] = []  # what came with the handshake (the snapshot)
        self.protocol.send_request(self.protocol.connect())
        self.sock.sendall(b"".join(self.protocol.data_to_send()))
        while not any(isinstance(e, Response) for e in self._feed(self.sock.recv(4096))):
            pass
        assert self.protocol.handshake_exc is None, self.protocol.handshake_exc

    def _feed(self, data: bytes) -> list[Any]:
        """Hand bytes to the protocol; the frames decoded (kept in ``early``), and the rest."""
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        events = self.protocol.events_received()
        for frame in (e for e in events if isinstance(e, Frame)):
            if frame.opcode is Opcode.CLOSE:
                self.early.append({"type": "close", "code": Close.parse(frame.data).code})
            elif frame.opcode is Opcode.TEXT:
                self.early.append(json.loads(frame.data))
        return events

    def read_until(self, found: Any, seconds: float, quiet: float = 1e9) -> list[dict[str, Any]]:
        """Read again until ``found(frames)``, the server closes, or nothing came for ``quiet``
        seconds; the frames since the last call (or the upgrade)."""
        deadline, data, last = time.monotonic() + scaled(seconds), b".", time.monotonic()
        self.sock.settimeout(0.1)
        while data and not found(self.early) and time.monotonic() < deadline:
            try:
                self._feed(data := self.sock.recv(65536))
                last = time.monotonic()
            except TimeoutError:
                if time.monotonic() - last > quiet:
                    break
        frames, self.early = self.early, []
        return frames


async def test_a_slow_client_is_resynced_and_the_others_keep_up(quick: LiveServer,
                                                                crew: Crew) -> None:
    stalled = await asyncio.to_thread(StalledClient, display_url(quick, crew, SLOW))
    seen: dict[str, float] = {}

    async def issue() -> tuple[str, float]:
        ticket = await crew.issue(SLOW, "land", base=quick.base_url)
        return ticket["ticket"]["id"], time.monotonic()

    async def watch(ws: ClientConnection) -> None:
        while frame := await next_frame(ws, 30):
            if frame["type"] == "event":
                seen[frame["event"]["ticket"]["id"]] = time.monotonic()

    try:
        async with connect(display_url(quick, crew, SLOW)) as ws:
            await next_frame(ws)
            watcher = asyncio.create_task(watch(ws))
            issued: list[tuple[str, float]] = []
            for _ in range(SLOW_EVENTS // 10):
                issued += await asyncio.gather(*(issue() for _ in range(10)))
            deadline = time.monotonic() + scaled(5)
            while len(seen) < len(issued) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            watcher.cancel()
        assert {t for t, _ in issued} <= seen.keys(), "the reading client got every event"
        lag = max(seen[t] - at for t, at in issued)
        assert lag < scaled(1.5), f"and promptly: worst {lag:.2f}s"

        # Reading again: the whole backlog, at once.
        frames = await asyncio.to_thread(stalled.read_until, lambda _: False, 15, quiet=0.5)
        kinds = [f["type"] for f in frames]
        if "close" in kinds:  # it did not drain in time: closed, to reconnect and resume
            assert frames[kinds.index("close")]["code"] == 4408
            return
        assert kinds.count("snapshot") >= 2, f"no fresh snapshot: {kinds[:5]}…{kinds[-5:]}"
        assert kinds.count("event") < SLOW_EVENTS, "it missed events: snapshots replaced them"
        # The stream never runs backwards: events, a fresh snapshot, then only newer events.
        current = [id_key(f["id"]) for f in frames[1:] if f["type"] in ("event", "snapshot")]
        assert current == sorted(current) and len(set(current)) == len(current)
        # Caught up, it is live again.
        wanted, _ = await issue()

        def has_it(frames: list[dict[str, Any]]) -> bool:
            return any(f.get("event", {}).get("ticket", {}).get("id") == wanted for f in frames)

        assert has_it(await asyncio.to_thread(stalled.read_until, has_it, 5))
    finally:
        stalled.sock.close()


# ---------------------------------------------------------------------- dead peers


@pytest.fixture(scope="module")
def pinging(live_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A third server: the hub pings every socket every 0.5 s."""
    server = LiveServer(live_redis_url, tmp_path_factory.mktemp("pinging"),
                        extra_env={"QMS_WS_PING_S": "0.5"}).start()
    yield server
    server.stop()


async def test_a_peer_that_answers_no_ping_is_closed(pinging: LiveServer, crew: Crew) -> None:
    """The hub's pings (one task for every socket): a client that reads but never answers is
    closed with 1011 after a round; one whose library answers stays, however long it idles."""
    mute = await asyncio.to_thread(StalledClient, display_url(pinging, crew, SLOW))
    try:
        async with connect(display_url(pinging, crew, SLOW)) as ws:
            await next_frame(ws)
            frames = await asyncio.to_thread(
                mute.read_until, lambda fs: any(f["type"] == "close" for f in fs), 5)
            closes = [f for f in frames if f["type"] == "close"]
            assert closes and closes[0]["code"] == 1011, frames[-3:]
            assert await silent(ws, 1.5)  # three more rounds, and still there
            assert ws.protocol.state.name == "OPEN"
    finally:
        mute.sock.close()
