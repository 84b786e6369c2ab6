"""Real WebSocket channels following the drive: displays, the province, citizens' tickets.

Frames are msgpack (the channels' default). A display that loses its socket reconnects with
``?last_id=`` of the last event it saw and must get exactly the events it missed; the drive
also cuts each display once on purpose (:meth:`Follower.blip`) to prove it. Every call and
recall event is counted per stream id, so the report can say whether each call the driver made
reached every display once: none missed, none doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

CALL_EVENTS = frozenset({"called", "recalled"})
RECONNECT_S = 0.2


@dataclass
class Follower:
    """One channel, kept open for the drive; reconnects (resuming by last_id where the
    channel allows) until :meth:`stop`."""

    name: str
    url: str
    resumable: bool = True
    via: str = ""   # the replica it is connected to, when the drive has several
    seen: Counter[tuple[str, str]] = field(default_factory=Counter)  # (center, id) of calls
    events: int = 0
    connects: int = 0
    snapshots_after_reconnect: int = 0
    last_id: str | None = None
    errors: list[str] = field(default_factory=list)
    ticket_calls: set[str] = field(default_factory=set)  # ticket channel: tickets called
    _socket: ClientConnection | None = None
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_ready(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        return self._ready.is_set()

    def _address(self) -> str:
        if self.resumable and self.last_id is not None:
            return f"{self.url}&last_id={self.last_id}"
        return self.url

    async def _run(self) -> None:
        while not self._stopping:
            try:
                async with connect(self._address(), max_size=2**24, open_timeout=10) as ws:
                    self._socket = ws
                    self.connects += 1
                    async for raw in ws:
                        self._frame(raw)
            except (OSError, WebSocketException, TimeoutError) as error:
                if self._stopping:
                    break
                if self.connects == 0 and not self._ready.is_set():
                    self.errors.append(f"{self.name}: cannot connect: {error}")
                    self._ready.set()
                    return
            finally:
                self._socket = None
            if not self._stopping:
                await asyncio.sleep(RECONNECT_S)

    def _frame(self, raw: bytes | str) -> None:
        frame: dict[str, Any] = msgpack.unpackb(raw) if isinstance(raw, bytes) else {}
        kind = frame.get("type")
        if kind == "snapshot":
            if self.connects > 1:
                self.snapshots_after_reconnect += 1
            self.last_id = str(frame.get("id"))
            self._ready.set()
        elif kind == "ticket":
            # A citizen's page: a state frame after the call (the socket opened, or
            # refreshed, after it) shows the call as well as the event does.
            ticket = (frame.get("ticket") or {}).get("ticket") or {}
            if ticket.get("called"):
                self.ticket_calls.add(str(ticket.get("id")))
            self._ready.set()
        elif kind == "event":
            self.events += 1
            event = frame.get("event") or {}
            center = str(frame.get("center") or event.get("center") or "")
            if event.get("type") in CALL_EVENTS:
                self.seen[(center, str(frame["id"]))] += 1
                if event.get("type") == "called":
                    self.ticket_calls.add(str((event.get("ticket") or {}).get("id", "")))
            if self.resumable:
                self.last_id = str(frame["id"])

    async def blip(self) -> None:
        """Drop the socket as a network blip would; the follower comes back by itself."""
        socket = self._socket
        if socket is not None:
            await socket.close(code=1001, reason="simulated network blip")

    async def stop(self) -> None:
        self._stopping = True
        socket = self._socket
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)


def ws_base(config: dict[str, Any], http_base: str) -> str:
    """The channels' address from ``GET /api/v1/config`` (its ws_url, else host + ws_port)."""
    path = config.get("ws_path") or "/ws"
    if config.get("ws_url"):  # as the pages do (displays/static/js/common.js)
        return str(config["ws_url"]).rstrip("/") + path
    host = http_base.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    scheme = "wss" if http_base.startswith("https") else "ws"
    return f"{scheme}://{host}:{config['ws_port']}{path}"
