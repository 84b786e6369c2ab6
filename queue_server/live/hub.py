"""The stream hub: each process reads each watched center's stream once, and hands every
event to the local subscribers of that center.

Reading: on a single node or under Sentinel, one ``XREAD BLOCK`` covers every watched stream;
on a Cluster (where one XREAD cannot span slots) the streams are polled with one pipeline per
round, which redis-py splits per node. Starting points: a center that gains its first
subscriber is read from the earliest point any of its subscribers synced to (see
``start_from``), so a subscriber never misses an event between its snapshot and the live feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from queue_server.keys import center_stream_key
from queue_server.live.frames import StreamEvent, id_tuple
from queue_server.redis_client import RedisClient, is_cluster

log = logging.getLogger("qms.hub")
ROUND_SLICE_S = 0.25  # heartbeat and ping rounds go out in slices this far apart
TELL_AFTER_S = 0.5    # a blip shorter than this is not worth a frame to every screen


class Subscriber(Protocol):
    def deliver(self, events: list[StreamEvent]) -> None:
        """Consecutive events of one center, oldest first."""

    def heartbeat(self, now_ms: int, quiet_s: float = 0.0) -> None: ...

    async def keepalive(self) -> None:
        """Close the peer if it left the last ping unanswered, then ping it again."""

    def status(self, store: str, now_ms: int) -> None:
        """Tell the peer whether the state store answers ("ok", "unavailable")."""

    def start_resync(self) -> None:
        """Send a fresh snapshot (what was delivered may be gone from the stream)."""


class Hub:
    def __init__(
        self,
        client: RedisClient,
        *,
        block_ms: int = 250,
        poll_ms: int = 50,
        batch: int = 1000,
        heartbeat_s: float = 15.0,
        ping_s: float = 20.0,
    ) -> None:
        self.client = client
        self.block_ms = block_ms
        self.poll_ms = poll_ms
        self.batch = batch
        self.heartbeat_s = heartbeat_s
        self.ping_s = ping_s
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._positions: dict[str, str] = {}     # next read starts after this id
        self._read: set[str] = set()             # centers whose stream the reader has read
        self._pending: dict[str, list[StreamEvent]] = {}  # read, not yet delivered
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.events_read = 0
        self.on_error: Callable[[Exception], None] | None = None
        self.on_events: Callable[[list[StreamEvent]], None] | None = None
        self._failing_since: float | None = None
        self._told = False

    # ------------------------------------------------------------------ registry

    def subscribe(self, center: str, subscriber: Subscriber) -> None:
        self._subscribers.setdefault(center, set()).add(subscriber)

    def unsubscribe(self, center: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(center)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._subscribers[center]
            self._positions.pop(center, None)
            self._read.discard(center)
            self._pending.pop(center, None)

    def start_from(self, center: str, stream_id: str) -> None:
        """A subscriber of ``center`` is current up to ``stream_id``: make sure the reader
        starts no later than that (it may already be further: that subscriber registered
        before its snapshot, so what the reader dispatched since reached its buffer)."""
        if center not in self._subscribers or center in self._read:
            return
        current = self._positions.get(center)
        if current is None or id_tuple(stream_id) < id_tuple(current):
            self._positions[center] = stream_id
        self._changed.set()

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._read_forever(), name="qms-hub-reader"),
                       asyncio.create_task(self._beat_forever(), name="qms-hub-heartbeat")]
        if self.ping_s > 0:
            self._tasks.append(asyncio.create_task(self._ping_forever(), name="qms-hub-ping"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _read_forever(self) -> None:
        backoff = 0.1
        while True:
            streams = self._watched()
            if not streams:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                replies = await self._read_once(streams, block=True)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis away: keep positions, retry with backoff
                self._failed(error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 0.5)  # back within half a second of Redis
                continue
            backoff = 0.1
            if self._failing_since is not None:
                await self._recovered()
            self._take(replies)
            await self._deliver_pending()

    def _failed(self, error: Exception) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            log.warning("stream read failed (%s); retrying", error)
        if self.on_error is not None:
            self.on_error(error)
        if not self._told and now - self._failing_since >= TELL_AFTER_S:
            self._told = True
            self._tell("unavailable")

    def _tell(self, store: str) -> None:
        now_ms = int(time.time() * 1000)
        for subscriber in {s for group in self._subscribers.values() for s in group}:
            subscriber.status(store, now_ms)

    async def _recovered(self) -> None:
        log.warning("stream reads work again after %.1f s",
                    time.monotonic() - (self._failing_since or 0.0))
        self._failing_since = None
        if self._told:
            self._told = False
            self._tell("ok")
        try:
            tips = await self._tips(list(self._read))
        except Exception as error:  # gone again: the next failure is reported as usual
            log.debug("reading stream tips after an outage failed: %s", error)
            return
        for center, tip in tips.items():
            position = self._positions.get(center)
            if position is not None and id_tuple(tip) < id_tuple(position):
                log.warning("center %s: the stream came back without its events after %s "
                            "(last now %s): its screens get a fresh snapshot",
                            center, tip, position)
                self._positions[center] = tip
                for subscriber in tuple(self._subscribers.get(center, ())):
                    subscriber.start_resync()

    async def _tips(self, centers: list[str]) -> dict[str, str]:
        pipe = self.client.pipeline(transaction=False)
        for center in centers:
            pipe.xrevrange(center_stream_key(center), count=1)
        results = await pipe.execute()
        tips = {}
        for center, entries in zip(centers, results, strict=True):
            tip = entries[0][0] if entries else b"0-0"
            tips[center] = tip.decode() if isinstance(tip, bytes) else tip
        return tips

    def _watched(self) -> dict[str, str]:
        return {center_stream_key(c): p for c, p in self._positions.items()
                if c in self._subscribers}

    async def _read_once(self, streams: dict[str, str], block: bool) -> list[Any]:
        if is_cluster(self.client):
            pipe = self.client.pipeline(transaction=False)
            for key, position in streams.items():
                pipe.xread({key: position}, count=self.batch)
            results = await pipe.execute()
            replies = [entry for result in results if result for entry in result]
            if not replies and block:
                await asyncio.sleep(self.poll_ms / 1000)
            return replies
        # A new subscription waits at most block_ms to join the read: small enough for a
        # display that just connected, large enough to cost nothing when all is quiet.
        return await self.client.xread(streams, count=self.batch,
                                       block=self.block_ms if block else None) or []

    def _take(self, replies: list[Any]) -> None:
        """Events read, queued per center until delivered; the next read starts after them."""
        for stream, entries in replies:
            key = stream.decode() if isinstance(stream, bytes) else stream
            center = key.split("{c:", 1)[1].split("}", 1)[0]
            if not entries or center not in self._subscribers:
                continue
            self._read.add(center)
            events = [StreamEvent(center, stream_id.decode() if isinstance(stream_id, bytes)
                                  else stream_id, fields[b"d"]) for stream_id, fields in entries]
            self._positions[center] = events[-1].id
            self.events_read += len(events)
            self._pending.setdefault(center, []).extend(events)
            if self.on_events is not None:
                self.on_events(events)

    async def _deliver_pending(self) -> None:
        """Centers with a call first: a number called is what a lobby is waiting for, a waiting
        count or a service started can wait a few ms. Between two other deliveries, a quick
        read for calls that came meanwhile, so a burst of calls is not queued behind the
        other events of a busy minute. Within a center the stream's order is kept: a center's
        earlier events go with its call."""
        while self._pending:
            for center in [c for c, events in self._pending.items()
                           if any(e.is_call for e in events)]:
                self._deliver(center, self._pending.pop(center))
            if not self._pending:
                return
            center = next(iter(self._pending))
            self._deliver(center, self._pending.pop(center))
            if self._pending:
                try:
                    self._take(await self._read_once(self._watched(), block=False))
                except Exception as error:  # delivered what we have; the main read retries
                    log.debug("stream read between deliveries failed: %s", error)

    def _deliver(self, center: str, events: list[StreamEvent]) -> None:
        # A subscriber may leave while we deliver: iterate over a copy. Events that came
        # together go to each socket together: under load, one write carries several.
        for subscriber in tuple(self._subscribers.get(center, ())):
            subscriber.deliver(events)

    async def _each_subscriber(self, seconds: float,
                               act: Callable[[Subscriber], Awaitable[None] | None]) -> None:
        """Runs ``act`` once for every subscriber, spread evenly over ``seconds`` in slices of
        ``ROUND_SLICE_S``: a round over 10,000 sockets done at once stops the event loop for a
        few hundred ms (every call in flight waits), spread out it costs a few ms a slice."""
        everyone = list({s for subscribers in self._subscribers.values() for s in subscribers})
        slices = max(1, math.ceil(seconds / ROUND_SLICE_S))
        size = math.ceil(len(everyone) / slices)
        for index in range(slices):
            for subscriber in everyone[index * size:(index + 1) * size]:
                pending = act(subscriber)
                if pending is not None:
                    await pending
            await asyncio.sleep(seconds / slices)

    async def _beat_forever(self) -> None:
        """A heartbeat frame to every socket that was quiet for half a period."""
        quiet_s = self.heartbeat_s / 2
        while True:
            await self._each_subscriber(self.heartbeat_s, lambda subscriber: subscriber.heartbeat(
                int(time.time() * 1000), quiet_s))

    async def _ping_forever(self) -> None:
        """Protocol pings from one task for every socket, instead of the ``websockets``
        keepalive task per connection: 10,000 sockets each sleeping 20 s between pings keep
        ~50,000 objects alive in the young generations, and every collection of those stopped
        the event loop for 20-70 ms (docs/benchmarks.md). A peer that left a ping
        unanswered for a whole round is closed."""
        while True:
            await self._each_subscriber(self.ping_s, lambda subscriber: subscriber.keepalive())
