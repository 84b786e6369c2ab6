"""The layouts the scripts share with Python (queue_server/records.py), the decoding of a
snapshot's day totals (queue_server/snapshots.py), and the constants rendered for Lua from
their one Python definition: pure, table-style, and against the real scripts."""

from __future__ import annotations

from dataclasses import fields

import msgpack

from queue_server import keys
from queue_server.engine import Engine
from queue_server.live.frames import StreamEvent
from queue_server.models import RENAMED, Ticket
from queue_server.records import (
    COUNTER_FIELDS,
    EVENT_FIELDS,
    TICKET_FIELDS,
    decode_event,
    event_view,
    lua_constants,
)
from queue_server.rules import states
from queue_server.scripts import all_scripts, lua_header
from queue_server.snapshots import expand_day

C = "07054"
TICKET = [f"{C}-20261130-A001", "A001", "land", "called", "", "kiosk", "1", "an", 1, 2, 0,
          3, 0, 0, 0, 0, "", "", "", "", ""]
COUNTER = ["1", "open", "an", TICKET[0], "", 1000, 1, ["land", "results"], 3000]


def test_the_ticket_type_is_the_record_field_for_field() -> None:
    names = [RENAMED.get(name, name) for name in TICKET_FIELDS]
    assert [f.name for f in fields(Ticket)] == names
    assert Ticket.from_record(TICKET).to_record() == TICKET


def test_expand_day_names_the_fields_and_counts_the_numbers_given() -> None:
    flat = ["called", "3", "wait_ms", "90000", "svn:land", "2", "svms:land", "600000"]
    assert expand_day(flat, ["land", "4", "results", "2"]) == {
        "called": 3, "wait_ms": 90_000, "svn:land": 2, "svms:land": 600_000, "numbered": 6}


def test_event_view_keeps_secrets_and_internals_from_sockets() -> None:
    event = ["issued", 3, TICKET, COUNTER, COUNTER, None, [5, 1, 0], ["land", 4],
             "kiosk:k1", "10.0.0.1", {"citizen": "c-hash", "token": "t-hash", "day": "x"}]
    view = event_view(msgpack.packb(event), C)
    assert view["ticket"] == dict(zip(TICKET_FIELDS, TICKET, strict=True))
    assert view["counter"] == {"id": "1", "state": "open", "staff": "an", "ticket": TICKET[0],
                               "reason": "", "since": 1000, "services": "land,results"}
    assert view["totals"] == {"waiting": 5, "called": 1, "serving": 0}
    assert view["waiting"] == {"land": 4} and view["info"] == {"day": "x"}
    assert "before" not in view and "actor" not in view and "new_ticket" not in view
    full = decode_event(msgpack.packb(event), C)
    assert full["before"] == {**dict(zip(COUNTER_FIELDS, COUNTER, strict=True))}
    assert (full["actor"], full["origin"]) == ("kiosk:k1", "10.0.0.1")
    assert full["info"]["token"] == "t-hash"


def test_lua_gets_every_layout_and_the_lifecycle_from_python() -> None:
    header = lua_header()
    assert lua_constants() in header and states.lua_constants() in header
    for action, (_, target) in states.TRANSITIONS.items():
        assert f"{action.value} = {target.value!r}" in header
        assert f"{action.value} = {states.allowed_text(action)!r}" in header
    # No script writes a record positionally, nor names a status list of its own.
    for name, script in all_scripts().items():
        body = script.source.removeprefix(header)
        assert "{id, number" not in body and "'waiting,called" not in body, name
    assert f"'\\{0x90 + len(EVENT_FIELDS)}'" in lua_constants()


async def test_stored_records_are_what_answers_and_events_carry(engine: Engine) -> None:
    await engine.open_counter(C, "3", "an")
    service = engine.province.center(C).counter("3").services[0]  # type: ignore[union-attr]
    issued = await engine.issue(C, service, token_hash="secret-of-the-citizen")
    called = await engine.call_next(C, "3", "an")
    client = engine.runner.client
    record = msgpack.unpackb(await client.hget(keys.ticket_key(C, issued.id), "r"))
    assert called.ticket is not None and called.ticket.to_record() == record
    entries = await client.xrevrange(keys.center_stream_key(C), count=1)
    event = msgpack.unpackb(entries[0][1][b"d"])
    assert event[EVENT_FIELDS.index("ticket")] == record  # the event embeds the stored bytes
    assert await client.hget(keys.ticket_key(C, issued.id), "h") == b"secret-of-the-citizen"
    # The hash travels in the stream for the archive, never in a frame to a socket.
    for stream_id, data in await client.xrange(keys.center_stream_key(C)):
        frame = StreamEvent(C, stream_id.decode(), data[b"d"])
        for fmt in ("qms.msgpack", "qms.json"):
            wire = frame.frame(fmt)
            assert "secret-of-the-citizen" not in (
                wire if isinstance(wire, str) else wire.decode("latin-1"))
