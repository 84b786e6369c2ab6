"""WebSocket frames: msgpack by default, JSON for clients that ask (subprotocol ``qms.json``).

Every frame is a map with ``type`` and ``id`` (the stream id it is current to):

- ``snapshot``: ``{"type", "id", "snapshot"}`` — the first frame, and after a resync;
- ``event``: ``{"type", "id", "event"}`` — one transition (the script's compact record,
  records.event_view, as a map);
- ``ticket``: ``{"type", "id", "ticket"}`` — a citizen's ticket state (ticket channel);
- ``heartbeat``: ``{"type", "id", "at"}`` — every few seconds, so a client can tell a quiet
  hall from a dead link.

An event is decoded and encoded once per process, whatever the number of sockets, and even
framed once: with compression off, the server's unmasked WebSocket frame of an event is the same
bytes for every socket (:meth:`StreamEvent.wire`), so the fan-out writes those bytes as they are.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack
from websockets.frames import Frame, Opcode

from queue_server.records import event_view
from queue_server.stream_ids import id_tuple

__all__ = ["JSON", "MSGPACK", "StreamEvent", "encode", "id_tuple", "websocket_frame"]

MSGPACK = "qms.msgpack"
JSON = "qms.json"
SUBPROTOCOLS = (MSGPACK, JSON)
CALL_TYPES = frozenset({"called", "recalled"})

_EVENT_HEAD = b"\x83" + msgpack.packb("type") + msgpack.packb("event") + msgpack.packb("id")
_EVENT_KEY = msgpack.packb("event")


def websocket_frame(payload: bytes | str) -> bytes:
    """A payload as the one WebSocket frame the server sends for it (unmasked, uncompressed)."""
    if isinstance(payload, str):
        return Frame(Opcode.TEXT, payload.encode()).serialize(mask=False)
    return Frame(Opcode.BINARY, payload).serialize(mask=False)


class StreamEvent:
    """One stream entry, decoded, encoded and framed lazily and at most once."""

    __slots__ = ("_decoded", "_json", "_msgpack", "_wire", "center", "id", "raw")

    def __init__(self, center: str, stream_id: str, raw: bytes) -> None:
        self.center = center
        self.id = stream_id
        self.raw = raw
        self._decoded: dict[str, Any] | None = None
        self._json: str | None = None
        self._msgpack: bytes | None = None
        self._wire: dict[str, bytes] = {}

    @property
    def data(self) -> dict[str, Any]:
        if self._decoded is None:
            self._decoded = event_view(msgpack.unpackb(self.raw), self.center)
        return self._decoded

    def frame(self, fmt: str) -> bytes | str:
        if fmt == MSGPACK:
            if self._msgpack is None:
                self._msgpack = (_EVENT_HEAD + msgpack.packb(self.id) + _EVENT_KEY
                                 + msgpack.packb(self.data))
            return self._msgpack
        if self._json is None:
            self._json = json.dumps({"type": "event", "id": self.id, "event": self.data},
                                    ensure_ascii=False, separators=(",", ":"))
        return self._json

    @property
    def is_call(self) -> bool:
        """A number called (or called again) at a counter."""
        return self.data["type"] in CALL_TYPES

    def wire(self, fmt: str) -> bytes:
        """The frame as WebSocket bytes, the same for every socket of that format."""
        framed = self._wire.get(fmt)
        if framed is None:
            framed = self._wire[fmt] = websocket_frame(self.frame(fmt))
        return framed


def encode(frame: dict[str, Any], fmt: str) -> bytes | str:
    if fmt == MSGPACK:
        return msgpack.packb(frame)  # type: ignore[no-any-return]
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)
