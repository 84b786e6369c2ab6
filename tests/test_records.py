"""The layouts the scripts share with Python (queue_server/records.py) and the decoding of a
snapshot's counts and today's totals (queue_server/snapshots.py): pure, table-style, and
against the real scripts where the Lua side is involved."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from queue_server import keys
from queue_server.engine import Engine
from queue_server.errors import InvalidInput
from queue_server.records import (
    COUNTER_QUEUE,
    DAY_PAIR_UNIT,
    SERVICE_QUEUE,
    TICKET_FIELDS,
    TOTALS,
    Packed,
    day_pair,
    event_view,
)
from queue_server.snapshots import expand_day

C = "07054"


@pytest.mark.parametrize("packed", [TOTALS, SERVICE_QUEUE, COUNTER_QUEUE])
def test_units_leave_room_and_stay_exact_in_lua_doubles(packed: Packed) -> None:
    units = [unit for _, unit in packed.units]
    assert units == sorted(units) and all(u & (u - 1) == 0 for u in units)  # powers of two
    biggest = packed.encode(**{name: packed.limit(name) for name, _ in packed.units})
    assert biggest < 2 ** 53


@given(st.data())
def test_packed_counts_round_trip(data: st.DataObject) -> None:
    packed = data.draw(st.sampled_from([TOTALS, SERVICE_QUEUE, COUNTER_QUEUE]))
    counts = {name: data.draw(st.integers(0, packed.limit(name))) for name, _ in packed.units}
    assert packed.decode(packed.encode(**counts)) == counts
    assert packed.decode(str(packed.encode(**counts)).encode()) == counts  # as Redis answers


@given(st.integers(0, DAY_PAIR_UNIT - 1), st.integers(0, 2 ** 35))
def test_day_pair(count: int, ms: int) -> None:
    assert day_pair(count + ms * DAY_PAIR_UNIT) == (count, ms)


def test_expand_day_names_the_packed_fields() -> None:
    flat = ["cw", str(3 + 90_000 * DAY_PAIR_UNIT), "sv:land", str(2 + 600_000 * DAY_PAIR_UNIT),
            "sv:results", str(1 + 60_000 * DAY_PAIR_UNIT), "st:an:sv", str(2 + 500_000 *
                                                                           DAY_PAIR_UNIT),
            "st:an:wait_ms", "42", "no_show", "1", "issued", "99"]
    totals = expand_day(flat, ["land", "4", "results", "2"])
    assert totals == {"issued": 6, "called": 3, "wait_ms": 90_000, "svc_n:land": 2,
                      "svc_ms:land": 600_000, "served": 3, "svc_n:results": 1,
                      "svc_ms:results": 60_000, "st:an:served": 2, "st:an:svc_ms": 500_000,
                      "st:an:wait_ms": 42, "no_show": 1}


def test_event_view_of_a_record_and_of_the_first_layout() -> None:
    ticket = [f"{C}-20261130-A001", "A001", "land", "called", "", "kiosk", "1", "an", 1, 2, 0,
              3, 0, 0, 0, 0, "", "", "", ""]
    counter = ["1", "open", "an", ticket[0], "", 1000, 1, ["land", "results"], 3000]
    view = event_view(["called", 3, ticket, counter, TOTALS.encode(called=1),
                       ["land", SERVICE_QUEUE.encode(N=2, A=1, P=1, active=3)], None], C)
    assert view["ticket"] == dict(zip(TICKET_FIELDS, ticket, strict=True))
    assert view["counter"] == {"id": "1", "state": "open", "staff": "an", "ticket": ticket[0],
                               "reason": "", "since": 1000, "services": "land,results"}
    assert view["totals"] == {"waiting": 0, "called": 1, "serving": 0}
    assert view["waiting"] == {"land": 4} and "new_ticket" not in view
    old = {"type": "called", "at": 3, "ticket": {"number": "A001"}}
    assert event_view(old, C) == {"center": C, **old}


# ---------------------------------------------------------------------- against the scripts


async def test_a_full_queue_refuses_before_any_write(engine: Engine) -> None:
    """A class of a service queue holds at most 32,767 tickets (records.SERVICE_QUEUE): the
    next issue is refused, and nothing changed, not even the day's numbering."""
    client = engine.runner.client
    live = keys.center_key(C, "live")
    full = SERVICE_QUEUE.encode(N=SERVICE_QUEUE.limit("N"))
    await client.hset(live, "w:land", full)
    stream_before = await client.xlen(keys.center_stream_key(C))
    with pytest.raises(InvalidInput, match="full"):
        await engine.issue(C, "land")
    assert int(await client.hget(live, "w:land")) == full
    assert await client.xlen(keys.center_stream_key(C)) == stream_before
    assert not [k async for k in client.scan_iter(keys.center_key(C, "seq", "*"))]
    # The other classes have room of their own.
    ticket = await engine.issue(C, "land", priority="elderly")
    assert SERVICE_QUEUE.decode(await client.hget(live, "w:land"))["P"] == 1
    assert ticket.priority == "elderly"


async def test_stored_records_are_what_answers_and_events_carry(engine: Engine) -> None:
    await engine.open_counter(C, "3", "an")
    service = engine.province.center(C).counter("3").services[0]  # type: ignore[union-attr]
    issued = await engine.issue(C, service, token_hash="secret-of-the-citizen")
    called = await engine.call_next(C, "3", "an")
    client = engine.runner.client
    record = msgpack.unpackb(await client.hget(keys.ticket_key(C, issued.id), "r"))
    assert called.ticket is not None
    assert dict(zip(TICKET_FIELDS, record, strict=True))["status"] == "called"
    assert record[TICKET_FIELDS.index("called")] == called.ticket.called
    entries = await client.xrevrange(keys.center_stream_key(C), count=1)
    event = msgpack.unpackb(entries[0][1][b"d"])
    assert event[2] == record  # the event embeds the stored bytes
    assert await client.hget(keys.ticket_key(C, issued.id), "h") == b"secret-of-the-citizen"
    for _, fields in await client.xrange(keys.center_stream_key(C)):
        assert b"secret-of-the-citizen" not in fields[b"d"]  # it never leaves Redis
