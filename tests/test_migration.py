"""A center written by the first layout (hashes of fields, no 'format' in meta) is converted
when the server syncs it at start, and then works: routing, the ticket in hand, old tickets,
old events, the day's totals and staff time carry on. The first layout's keys are written here
field by field, as its scripts wrote them."""

from __future__ import annotations

import hashlib
import json
import time

import msgpack
import pytest

from monitoring.collector import read_families
from monitoring.exposition import render
from queue_server import keys
from queue_server.engine import Engine
from queue_server.errors import IdempotencyMismatch
from queue_server.live.frames import MSGPACK, StreamEvent
from queue_server.rules.clock import local_day
from queue_server.rules.states import TicketStatus
from tests.test_metrics import parse, value

C = "07054"  # ward: counter 1 serves certification, results; 2 civil_status, certification
MIN = 60_000


def first_layout_ticket(number: str, service: str, status: str, arrived: int, **extra: object
                        ) -> dict[str, object]:
    day = local_day(arrived)
    fields: dict[str, object] = {
        "id": f"{C}-{day}-{number}", "number": number, "service": service, "status": status,
        "prio": "", "channel": "kiosk", "arrived": arrived, "issued": arrived, "appt": 0,
        "called": 0, "started": 0, "ended": 0, "counter": "", "staff": "", "recalls": 0,
        "rating": 0, "from": "", "to": "", "note": "", "tc": "", "th": "hash-of-secret"}
    fields.update(extra)
    return fields


async def write_first_layout(engine: Engine, now: int) -> dict[str, str]:
    """One morning of the first layout at C: a done ticket, one in hand, one waiting."""
    client = engine.runner.client
    await client.flushall()
    key = lambda name, arg="": keys.center_key(C, name, arg)  # noqa: E731
    await client.hset(keys.center_meta_key(C), mapping={
        "name": "Phường", "max_in_row": 2, "window_ms": 900_000, "max_recalls": 2,
        "maxlen": 10_000, "recent_n": 12, "idem_ttl": 86_400, "target_s": 1800,
        "services": "certification,results", "counters": "1,2"})
    done = first_layout_ticket("B001", "certification", "done", now - 60 * MIN,
                               called=now - 50 * MIN, started=now - 49 * MIN,
                               ended=now - 40 * MIN, counter="1", staff="an")
    held = first_layout_ticket("B002", "certification", "called", now - 30 * MIN,
                               called=now - 5 * MIN, counter="1", staff="an")
    waiting = first_layout_ticket("A001", "civil_status", "waiting", now - 20 * MIN)
    for ticket in (done, held, waiting):
        await client.hset(key("ticket", str(ticket["id"])), mapping=ticket)  # type: ignore[arg-type]
        await client.expire(key("ticket", str(ticket["id"])), 3 * 86_400)
    await client.zadd(key("queue", "civil_status"), {str(waiting["id"]): now - 20 * MIN})
    await client.hset(key("counter", "1"), mapping={
        "state": "open", "staff": "an", "tk": str(held["id"]), "reason": "", "since": now - 5 * MIN,
        "streak": 0, "svcs": "certification,results", "name": "Quầy 1"})
    await client.hset(key("counter", "2"), mapping={
        "state": "open", "staff": "binh", "tk": "", "reason": "", "since": now - 10 * MIN,
        "streak": 0, "svcs": "civil_status,certification", "name": "Quầy 2"})
    await client.hset(key("metrics"), mapping={
        "s_time|an|idle": 600_000, "s_time|an|serving": 1_200_000, "calls|certification": 2,
        "s_served|an": 1, "wait|certification|b2": 2, "wait|certification|sum": 1_200_000})
    await client.hset(key("live"), mapping={"waiting": 1, "called": 1, "serving": 0,
                                            "w:civil_status": 1, "a:certification": 2})
    await client.hset(key("day", local_day(now)), mapping={
        "issued": 3, "called": 2, "wait_ms": 1_200_000, "served": 1,
        "svc_ms:certification": 540_000, "svc_n:certification": 1, "st:an:served": 1})
    await client.hset(key("seq", local_day(now)), mapping={"certification": 2, "civil_status": 1})
    old_call = {"type": "called", "at": now - 5 * MIN, "center": C,
                "ticket": {"id": held["id"], "number": "B002", "service": "certification",
                           "priority": "", "status": "called"},
                "counter": {"id": "1", "state": "open", "staff": "an", "ticket": held["id"]},
                "totals": {"waiting": 1, "called": 1, "serving": 0}}
    await client.xadd(keys.center_stream_key(C), {"d": msgpack.packb(old_call)})
    # A start the first layout answered, with the fingerprint Engine gives start("1", "an").
    fingerprint = hashlib.sha1(repr(("start", ("1", "an"))).encode()).hexdigest()
    await client.set(key("idempotency", "retry-1"), fingerprint.encode() + b"\n"
                     + msgpack.packb({"ticket": old_call["ticket"], "event": "1-0"}))
    return {"done": str(done["id"]), "held": str(held["id"]), "waiting": str(waiting["id"])}


async def test_first_layout_is_converted_and_works(engine: Engine) -> None:
    now = int(time.time() * 1000)
    ids = await write_first_layout(engine, now)
    await engine.sync_province()

    snap = await engine.snapshot(C, day=True, recent=True)
    assert snap["totals"] == {"waiting": 1, "called": 1, "serving": 0}
    assert [r["number"] for r in snap["recent"]] == ["B002"]  # the old event, read back
    day = dict(zip(snap["day"][::2], snap["day"][1::2], strict=True))
    assert (day["issued"], day["called"], day["served"]) == ("3", "2", "1")
    counter = next(c for c in snap["counters"] if c["id"] == "1")
    assert (counter["state"], counter["staff"], counter["ticket"]) == ("open", "an", ids["held"])

    assert (await engine.ticket(ids["done"])).ticket.status is TicketStatus.DONE
    called = await engine.call_next(C, "2", "binh")
    assert called.ticket is not None and called.ticket.id == ids["waiting"]
    assert called.ticket.arrived == now - 20 * MIN
    # A retry whose first answer the first layout kept is refused, not answered wrongly.
    with pytest.raises(IdempotencyMismatch, match="earlier version"):
        await engine.start(C, "1", "an", idempotency_key="retry-1")
    await engine.start(C, "1", "an")
    completed = await engine.complete(C, "1", "an")
    assert completed.ticket is not None and completed.ticket.status is TicketStatus.DONE

    # Staff time carries on: idle stays what the first layout booked (open minus serving).
    series = parse(render(await read_families(engine, [engine.province.center(C)])))
    idle = value(series, "qms_staff_time_seconds_total", center=C, staff="an", activity="idle")
    serving = value(series, "qms_staff_time_seconds_total", center=C, staff="an",
                    activity="serving")
    assert idle == pytest.approx(600, abs=2)
    assert serving >= 1_200 + 5 * 60 - 2  # the old span, and the ticket held since its call

    # The hub reads the old event as the view it always was.
    entries = await engine.runner.client.xrange(keys.center_stream_key(C), count=1)
    event = StreamEvent(C, entries[0][0].decode(), entries[0][1][b"d"])
    assert event.data["ticket"]["number"] == "B002" and event.is_call
    assert json.loads(event.frame("qms.json"))["event"]["type"] == "called"
    assert event.wire(MSGPACK)


async def test_sync_twice_changes_nothing(engine: Engine) -> None:
    now = int(time.time() * 1000)
    await write_first_layout(engine, now)
    await engine.sync_province()
    client = engine.runner.client
    before = await client.get(keys.counter_key(C, "1"))
    await engine.sync_province()
    assert await client.get(keys.counter_key(C, "1")) == before
