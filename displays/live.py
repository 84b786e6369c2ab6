"""The client side of a live channel, without I/O: the Python half of docs/live-protocol.md.

``queue_server/static/live.js`` is the browser half (every page); the terminal display
(``displays.client``) drives this one with the ``websockets`` library. Both follow the same
rules with the same numbers, and ``tests/test_live_protocol.py`` holds them to it:

- connect to ``<base>/<channel>?token=…[&last_id=…]`` offering one subprotocol,
  ``qms.msgpack`` or ``qms.json``;
- keep the id of the last snapshot or event frame; on a resumable channel (display, counter)
  reconnect with it as ``last_id`` and drop a replayed event that is not after it;
- after a drop wait ``backoff(attempt)``: 0.5 s doubling to 15 s, ×[0.7, 1.3] at random;
  a frame resets the count;
- no frame at all for ``SILENCE_S`` (the server's heartbeats come every 15 s): the link is
  dead, reconnect as after a drop;
- closes 4401, 4403 and 4404 stop the client; 4400 while resuming forgets the last id and
  reconnects at once (a resume point the server cannot read), 4400 otherwise stops;
- a frame that cannot be decoded, or is not a map with a ``type``, is skipped.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import msgpack

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 15.0
JITTER = 0.3
SILENCE_S = 45.0
FATAL = frozenset({4401, 4403, 4404})
BAD_RESUME = 4400
MSGPACK, JSON = "qms.msgpack", "qms.json"
STREAM_ID = re.compile(r"^(\d+)-(\d+)$")


def id_after(a: str | None, b: str | None) -> bool:
    """Stream ids compare as (ms, seq): True when ``a`` is strictly later than ``b``."""
    x, y = STREAM_ID.match(a or ""), STREAM_ID.match(b or "")
    if x is None:
        return False
    if y is None:
        return True
    return (int(x[1]), int(x[2])) > (int(y[1]), int(y[2]))


def backoff(attempt: int, draw: float | None = None) -> float:
    """Seconds to wait before connection attempt ``attempt`` (1, 2, …) after a drop;
    ``draw`` in [0, 1) picks the jitter (random when None)."""
    base = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1))
    share = random.random() if draw is None else draw
    return float(base * (1 - JITTER + 2 * JITTER * share))


@dataclass
class LiveSession:
    """One channel followed across reconnections: what to connect to, what a message means,
    and how long to wait after a drop."""

    url: str                     # <base>/<channel>, e.g. ws://host:8001/ws/display/07054
    token: str
    resume: bool = True          # display and counter channels; not ticket or province
    fmt: str = MSGPACK
    last_id: str | None = None
    attempt: int = 0             # failed connections since the last frame
    bad_frames: int = 0
    draw: Callable[[], float] = field(default=random.random, repr=False)
    resumed_from: str | None = None   # what the current connection asked for
    resumed: bool = False        # its first frame was a replayed event, not a snapshot
    live: bool = False           # a frame came on the current connection
    last_error: str = ""         # why the last skipped message was skipped

    def address(self) -> str:
        query = f"token={quote(self.token, safe='')}"
        if self.resume and self.last_id:
            query += f"&last_id={quote(self.last_id, safe='')}"
        return f"{self.url}?{query}"

    @property
    def subprotocols(self) -> list[str]:
        return [self.fmt]

    def connecting(self) -> str:
        """A connection is about to be opened: its address."""
        self.live = self.resumed = False
        self.resumed_from = self.last_id if self.resume else None
        return self.address()

    def receive(self, message: bytes | str) -> tuple[dict[str, Any] | None, bool]:
        """A message as a frame to apply (None: skip it), and whether it is the connection's
        first frame (then ``resumed`` says if the server replayed what was missed)."""
        frame = self._decode(message)
        if frame is None:
            return None, False
        kind = frame["type"]
        resumable = self.resume and kind in ("snapshot", "event")
        stream_id = frame.get("id")
        if resumable and kind == "event" and self.last_id and not id_after(
                str(stream_id), self.last_id):
            return None, False   # a replay overlapping what was applied
        first = not self.live
        if first:
            self.live, self.attempt = True, 0
            self.resumed = bool(self.resumed_from) and kind == "event"
        if resumable and isinstance(stream_id, str) and STREAM_ID.match(stream_id) \
                and stream_id != "0-0":
            self.last_id = stream_id
        return frame, first

    def closed(self, code: int) -> float | None:
        """The connection ended with ``code`` (1006 if none came): seconds to wait before
        the next attempt, or None when the channel has stopped for good."""
        self.live = False
        if code == BAD_RESUME and self.resume and self.last_id:
            self.last_id = None   # start again from a snapshot
        elif code in FATAL or code == BAD_RESUME:
            return None
        self.attempt += 1
        return backoff(self.attempt, self.draw())

    def _decode(self, message: bytes | str) -> dict[str, Any] | None:
        try:
            frame = json.loads(message) if isinstance(message, str) else msgpack.unpackb(
                message, raw=False)
            if not isinstance(frame, Mapping) or not isinstance(frame.get("type"), str):
                raise ValueError(f"not a frame: {frame!r:.80}")
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            self.bad_frames += 1
            self.last_error = f"{type(error).__name__}: {error}"
            return None
        return dict(frame)
