"""One WebSocket as a hub subscriber: live frames written without awaiting, a bounded
backlog, and a resync (fresh snapshot) for a socket that falls behind.

The fan-out writes into each socket's transport directly, the way ``websockets.broadcast``
does, so one event costs one loop over the sockets and no task switch per socket. The
transport's write buffer is the send queue: when a socket has more than ``limit_bytes``
unsent, it stops getting live frames, and once it has drained it gets a fresh snapshot and
continues from there. One that does not drain within ``drain_timeout_s`` is closed with 4408.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from queue_server.live.frames import StreamEvent, encode, id_tuple, websocket_frame

log = logging.getLogger("qms.sockets")
CLOSE_TOO_SLOW = 4408
SYNC_BUFFER_LIMIT = 10_000

# (socket, event) -> frame to send, or None to skip this event
Filter = Callable[["SocketSubscriber", StreamEvent], dict[str, Any] | bool | None]
# Sends the socket what it lacks; returns, per center, the stream id it is now current to.
Resync = Callable[["SocketSubscriber"], Awaitable[dict[str, str]]]


class SocketSubscriber:
    # Thousands of idle lobby screens per process: keep each one small.
    __slots__ = ("_buffer", "_closing", "_pong", "_resync", "_resync_task", "accept",
                 "connection", "drain_timeout_s", "fmt", "last_write", "limit_bytes", "resyncs",
                 "sent")

    def __init__(
        self,
        connection: ServerConnection,
        fmt: str,
        resync: Resync,
        *,
        accept: Filter | None = None,
        limit_bytes: int = 256 * 1024,
        drain_timeout_s: float = 10.0,
    ) -> None:
        self.connection = connection
        self.fmt = fmt
        self.accept = accept
        self.limit_bytes = limit_bytes
        self.drain_timeout_s = drain_timeout_s
        self._resync = resync
        self.sent: dict[str, str] = {}  # per center: the last stream id this socket has
        self.last_write = time.monotonic()
        self._buffer: list[StreamEvent] | None = []  # not None while syncing
        self._resync_task: asyncio.Task[None] | None = None
        self._pong: Awaitable[float] | None = None
        self._closing: asyncio.Task[None] | None = None
        self.resyncs = 0

    # ------------------------------------------------------------------ writing

    def _unsent(self) -> int:
        transport = self.connection.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def write(self, payload: bytes | str) -> bool:
        """Queue one frame without waiting; False if the socket is closing."""
        if self.connection.protocol.state is not State.OPEN:
            return False
        try:
            if isinstance(payload, str):
                self.connection.protocol.send_text(payload.encode())
            else:
                self.connection.protocol.send_binary(payload)
            self.connection.send_data()
        except Exception as error:  # the peer vanished mid-write: the handler will see it
            log.debug("write failed: %s", error)
            return False
        self.last_write = time.monotonic()
        return True

    def write_wire(self, framed: bytes) -> bool:
        """Queue a frame already serialized as WebSocket bytes (StreamEvent.wire): the fan-out
        path, which skips framing the same bytes once per socket."""
        connection = self.connection
        transport = connection.transport
        if connection.protocol.state is not State.OPEN or transport is None:
            return False
        if connection.protocol.writes:
            connection.send_data()  # whatever the protocol queued goes first, in order
        try:
            transport.write(framed)
        except Exception as error:  # the peer vanished mid-write: the handler will see it
            log.debug("write failed: %s", error)
            return False
        self.last_write = time.monotonic()
        return True

    def send_frame(self, frame: dict[str, Any]) -> bool:
        return self.write(encode(frame, self.fmt))

    # ------------------------------------------------------------------ hub side

    def deliver(self, events: list[StreamEvent]) -> None:
        if self._buffer is not None:
            room = SYNC_BUFFER_LIMIT - len(self._buffer)
            self._buffer.extend(events[:max(room, 0)])
            return
        if len(events) == 1 and self.accept is None:
            # The fan-out's common case (one event, a display): nothing to filter or join.
            event = events[0]
            if id_tuple(event.id) > id_tuple(self.sent.get(event.center, "0-0")):
                if self._unsent() > self.limit_bytes:
                    self.start_resync()
                elif self.write_wire(event.wire(self.fmt)):
                    self.sent[event.center] = event.id
            return
        self._send_events(events)

    def _send_events(self, events: list[StreamEvent]) -> None:
        """The events this socket lacks and accepts, as one write of their WebSocket frames."""
        frames: list[bytes] = []
        last = self.sent.get(events[0].center, "0-0")
        for event in events:
            if id_tuple(event.id) <= id_tuple(last):
                continue
            custom: dict[str, Any] | bool | None = True
            if self.accept is not None:
                custom = self.accept(self, event)
                if not custom:
                    continue
            if custom is True:
                frames.append(event.wire(self.fmt))
            else:
                frames.append(websocket_frame(encode(custom, self.fmt)))  # type: ignore[arg-type]
            last = event.id
        if not frames:
            return
        if self._unsent() > self.limit_bytes:
            self.start_resync()
            return
        if self.write_wire(frames[0] if len(frames) == 1 else b"".join(frames)):
            self.sent[events[0].center] = last

    def heartbeat(self, now_ms: int, quiet_s: float = 0.0) -> None:
        """A heartbeat frame, unless a frame went out in the last ``quiet_s`` seconds: in a
        busy hall the events themselves show the link is alive, and 10,000 heartbeats at once
        would delay the calls behind them."""
        if time.monotonic() - self.last_write < quiet_s:
            return
        if self._buffer is None and self._unsent() <= self.limit_bytes:
            last = next(iter(self.sent.values()), "0-0") if len(self.sent) == 1 else "0-0"
            self.send_frame({"type": "heartbeat", "id": last, "at": now_ms})

    def status(self, store: str, now_ms: int) -> None:
        """A ``status`` frame: whether the state store answers (hub outages)."""
        if self._buffer is None:
            last = next(iter(self.sent.values()), "0-0") if len(self.sent) == 1 else "0-0"
            self.send_frame({"type": "status", "id": last, "store": store, "at": now_ms})

    async def keepalive(self) -> None:
        """One round of the hub's pings: a peer that has not answered the previous ping for a
        whole round is gone (or hung) and is closed with 1011; else it is pinged again."""
        pong, self._pong = self._pong, None
        if self.connection.protocol.state is not State.OPEN:
            return
        if isinstance(pong, asyncio.Future) and not pong.done():
            # Held on the subscriber: the task must outlive this call.
            self._closing = asyncio.create_task(
                self.connection.close(1011, "keepalive ping timeout"))
            return
        with contextlib.suppress(ConnectionClosed):
            self._pong = await self.connection.ping()

    # ------------------------------------------------------------------ syncing

    async def sync(self) -> dict[str, str]:
        """Send the first frames (snapshot or replay); returns what they are current to."""
        return await self._resync(self)

    def go_live(self, synced: dict[str, str]) -> None:
        """The first frames are out, current to ``synced``: deliver what came meanwhile."""
        for center, stream_id in synced.items():
            self.sent[center] = max(self.sent.get(center, "0-0"), stream_id, key=id_tuple)
        buffered, self._buffer = self._buffer or [], None
        for event in buffered:
            self._send_events([event])

    def start_resync(self) -> None:
        if self._resync_task is not None and not self._resync_task.done():
            return
        self._buffer = []
        self.resyncs += 1
        self._resync_task = asyncio.create_task(self._drain_and_resync())

    async def _drain_and_resync(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout_s
        while self._unsent() > self.limit_bytes // 4:
            if loop.time() > deadline or self.connection.protocol.state is not State.OPEN:
                with contextlib.suppress(Exception):
                    await self.connection.close(CLOSE_TOO_SLOW, "too slow: reconnect")
                return
            await asyncio.sleep(0.05)
        try:
            synced = await self._resync(self)
        except Exception as error:
            log.warning("resync failed: %s", error)
            with contextlib.suppress(Exception):
                await self.connection.close(1011, "resync failed")
            return
        self.go_live(synced)
