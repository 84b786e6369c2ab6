"""The stream hub's dispatch, with subscribers that record what they get: the events of one
read reach each socket together and in stream order, and centers with a call go first."""

from __future__ import annotations

import msgpack
import redis

from queue_server import keys
from queue_server.live.frames import StreamEvent
from queue_server.live.hub import Hub
from queue_server.records import EVENT_FIELDS
from queue_server.redis_client import close, connect


class Recorder:
    """A subscriber that writes down each delivery: (its name, the event ids)."""

    def __init__(self, name: str, log: list[tuple[str, list[str]]]) -> None:
        self.name = name
        self.log = log

    def deliver(self, events: list[StreamEvent]) -> None:
        self.log.append((self.name, [event.id for event in events]))

    def heartbeat(self, now_ms: int, quiet_s: float = 0.0) -> None:
        pass

    async def keepalive(self) -> None:
        pass


def entry(stream_id: str, kind: str) -> tuple[bytes, dict[bytes, bytes]]:
    return stream_id.encode(), {b"d": msgpack.packb([kind, 1, *[None] * (len(EVENT_FIELDS) - 2)])}


async def test_calls_first_and_each_center_in_its_order(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        hub = Hub(client)
        log: list[tuple[str, list[str]]] = []
        for center, name in (("A", "a1"), ("A", "a2"), ("B", "b"), ("C", "c")):
            hub.subscribe(center, Recorder(name, log))
        hub._take([  # one read's reply, as XREAD gives it
            (keys.center_stream_key("A").encode(), [entry("5-0", "issued"),
                                                     entry("6-0", "started")]),
            (keys.center_stream_key("B").encode(), [entry("3-0", "issued"),
                                                     entry("4-0", "called")]),
            (keys.center_stream_key("C").encode(), [entry("7-0", "recalled")]),
        ])
        await hub._deliver_pending()
        order = [name for name, _ in log]
        assert order[:2] == ["b", "c"] and sorted(order[2:]) == ["a1", "a2"]
        assert dict(log) == {"a1": ["5-0", "6-0"], "a2": ["5-0", "6-0"], "b": ["3-0", "4-0"],
                             "c": ["7-0"]}
        assert hub.events_read == 5
    finally:
        await close(client)


class Writer(Recorder):
    """A subscriber whose first delivery makes another center call someone (in Redis)."""

    def __init__(self, name: str, log: list[tuple[str, list[str]]], redis_url: str,
                 stream: str) -> None:
        super().__init__(name, log)
        self.redis_url, self.stream = redis_url, stream

    def deliver(self, events: list[StreamEvent]) -> None:
        super().deliver(events)
        with redis.Redis.from_url(self.redis_url) as client:
            client.xadd(self.stream, entry("0-0", "called")[1], id="9-0")


async def test_a_call_that_comes_meanwhile_overtakes_other_events(redis_url: str) -> None:
    """Between two deliveries of other events the hub reads again: a call made meanwhile
    goes before the events that were already waiting."""
    client = connect(redis_url)
    calling, quiet, busy = "hubcall", "hubquiet", "hubbusy"
    try:
        await client.delete(*(keys.center_stream_key(c) for c in (calling, quiet, busy)))
        hub = Hub(client)
        log: list[tuple[str, list[str]]] = []
        hub.subscribe(busy, Writer("busy", log, redis_url, keys.center_stream_key(calling)))
        hub.subscribe(quiet, Recorder("quiet", log))
        hub.subscribe(calling, Recorder("calling", log))
        hub.start_from(calling, "0-0")
        hub._take([(keys.center_stream_key(busy).encode(), [entry("5-0", "issued")]),
                   (keys.center_stream_key(quiet).encode(), [entry("6-0", "completed")])])
        await hub._deliver_pending()
        assert log == [("busy", ["5-0"]), ("calling", ["9-0"]), ("quiet", ["6-0"])]
    finally:
        await client.delete(*(keys.center_stream_key(c) for c in (calling, quiet, busy)))
        await close(client)
