"""The center's day ends, day after day (issue "day two"): a center driven through several
days with a moved clock — a midnight, a holiday, a month's end — on the real engine, with no
stale call and no unknown ticket; staff time that stops at the closing instant; what Redis
keeps and for how long; bookings numbered on their own day."""

from __future__ import annotations

import datetime as dt

import msgpack

from displays.board import Board
from queue_server import keys
from queue_server.engine import Engine
from queue_server.projector import Projector
from queue_server.rules.clock import TIMEZONE, epoch_ms
from queue_server.rules.states import TicketStatus
from tests.conftest import book_at, flat_pairs, redis_ms, shift_clock

C = "07054"          # Quảng La: counter 1 certification, civil_status, results
HOUR = 3_600_000


def coming(weekday: int) -> dt.date:
    """The first such weekday (0 = Monday) at least a week ahead and not a holiday week:
    Redis expires keys by its real clock, so the days driven here lie in the future."""
    day = dt.datetime.now(TIMEZONE).date() + dt.timedelta(days=7)
    while day.weekday() != weekday or day.month in (1, 2):   # clear of Tết
        day += dt.timedelta(days=1)
    return day


async def move_to(engine: Engine, day: dt.date, hhmm: str) -> int:
    """Set the center's clock to ``day`` at local ``hhmm``; answers that instant."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    target = epoch_ms(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TIMEZONE))
    client = engine.runner.client
    await shift_clock(client, C, target - await redis_ms(client))
    return target


async def start_at(engine: Engine, day: dt.date) -> None:
    """A fresh center whose day opens at 08:00 of ``day`` (sync writes its calendar)."""
    await engine.runner.client.flushdb()
    await move_to(engine, day, "08:00")
    await engine.sync_center(engine.province.center(C), today=day)


async def stream_types(engine: Engine) -> list[str]:
    entries = await engine.runner.client.xrange(keys.center_stream_key(C))
    return [msgpack.unpackb(fields[b"d"])[0] for _, fields in entries]


async def test_yesterdays_leftovers_are_never_called(engine: Engine) -> None:
    monday = coming(0)
    await start_at(engine, monday)
    await engine.open_counter(C, "1", "an")
    left = [await engine.issue(C, "certification") for _ in range(3)]
    called = await engine.call_next(C, "1", "an")
    assert called.ticket is not None and called.ticket.id == left[0].id
    booked = await book_at(engine, C, "civil_status", await move_to(engine, monday, "15:00")
                           + HOUR)
    # Tuesday morning: nobody ran a scheduler; the first press closes Monday first.
    await move_to(engine, monday + dt.timedelta(days=1), "07:35")
    fresh = await engine.issue(C, "certification")
    tuesday = monday + dt.timedelta(days=1)
    assert fresh.number == "B001" and fresh.id.endswith(f"{tuesday:%Y%m%d}-B001")
    await engine.open_counter(C, "1", "an")
    nxt = await engine.call_next(C, "1", "an")
    assert nxt.ticket is not None and nxt.ticket.id == fresh.id       # no stale call
    states = [await engine.ticket(t.id) for t in left]
    assert [s.ticket.status for s in states] == [TicketStatus.EXPIRED] * 3
    assert (await engine.ticket(booked.id)).ticket.status is TicketStatus.NO_SHOW
    types = await stream_types(engine)
    close = types.index("day_closed")
    assert types[close - 5:close] == ["expired", "counter_closed", "expired", "expired",
                                      "no_show"]
    # Nothing of Monday is left in a queue; the counter started Tuesday closed.
    snap = await engine.snapshot(C)
    assert snap["totals"] == {"waiting": 0, "called": 1, "serving": 0}
    assert snap["open_day"] == f"{tuesday:%Y%m%d}"


async def test_the_day_closes_at_closing_time_plus_grace(engine: Engine) -> None:
    wednesday = coming(2)
    closing = epoch_ms(dt.datetime.combine(wednesday, dt.time(17, 30), TIMEZONE))
    midnight = epoch_ms(dt.datetime.combine(wednesday + dt.timedelta(days=1), dt.time(),
                                            TIMEZONE))
    await start_at(engine, wednesday)
    ticket = await engine.issue(C, "results")
    await move_to(engine, wednesday, "17:29")
    assert await engine.close_day_if_due(C) == (False, closing)
    await move_to(engine, wednesday, "17:31")
    closed, next_close = await engine.close_day_if_due(C)
    assert closed and next_close == midnight
    expired = (await engine.ticket(ticket.id)).ticket
    assert (expired.status, expired.ended) == (TicketStatus.EXPIRED, closing)
    # A display opened now learns from its snapshot that the day is over.
    snap = await engine.snapshot(C, recent=True)
    assert snap["closed_day"] == snap["open_day"] == f"{wednesday:%Y%m%d}"
    board = Board()
    board.apply_snapshot(snap)
    assert board.day_closed and board.closed_day == f"{wednesday:%Y%m%d}"
    # After hours the day's numbering goes on; the midnight ends what is left.
    late = await engine.issue(C, "results")
    assert late.number == "H002"
    await move_to(engine, wednesday + dt.timedelta(days=1), "00:01")
    assert (await engine.close_day_if_due(C))[0]
    assert (await engine.ticket(late.id)).ticket.status is TicketStatus.EXPIRED
    snap = await engine.snapshot(C)
    assert snap["closed_day"] != snap["open_day"]     # a new day, not closed yet


async def test_a_holiday_and_a_months_end(engine: Engine) -> None:
    """30 April 2027 is a holiday: its only end is the midnight; 31 December turns to the
    next year's numbering."""
    await start_at(engine, dt.date(2027, 4, 29))
    await engine.issue(C, "land")
    await move_to(engine, dt.date(2027, 4, 30), "10:00")
    on_holiday = await engine.issue(C, "land")   # the API refuses it (hours); the engine not
    assert on_holiday.id.endswith("20270430-C001")
    await move_to(engine, dt.date(2027, 4, 30), "18:00")
    assert not (await engine.close_day_if_due(C))[0]   # no closing time on a holiday
    await move_to(engine, dt.date(2027, 5, 1), "00:00")
    assert (await engine.close_day_if_due(C))[0]
    assert (await engine.ticket(on_holiday.id)).ticket.status is TicketStatus.EXPIRED
    await start_at(engine, dt.date(2026, 12, 31))
    year_end = await engine.issue(C, "land")
    await move_to(engine, dt.date(2027, 1, 1), "00:00")
    new_year = await engine.issue(C, "land")
    assert (year_end.id, new_year.id) == ("07054-20261231-C001", "07054-20270101-C001")
    assert (await engine.ticket(year_end.id)).ticket.status is TicketStatus.EXPIRED


async def test_staff_time_stops_at_the_closing_instant(engine: Engine) -> None:
    """A counter left open overnight books its open time up to the close (17:30), not up to
    the next morning."""
    thursday = coming(3)
    await start_at(engine, thursday)
    await move_to(engine, thursday, "09:00")
    await engine.open_counter(C, "1", "an")
    await move_to(engine, thursday + dt.timedelta(days=1), "07:30")
    await engine.issue(C, "results")                   # closes Thursday first
    await Projector(engine.runner, engine.province).catch_up([engine.province.center(C)])
    metrics = flat_pairs((await engine.snapshot(C, metrics=True))["metrics"])
    assert int(metrics["s_time|an|open"]) == 8.5 * HOUR
    assert metrics["k|1"].split("|")[:2] == ["", "closed"]


async def test_what_redis_keeps_and_how_long(engine: Engine) -> None:
    """Tickets and numbering expire a set time after their day (redis_keep_days, 2) — the
    archive keeps them; day totals forty days; no queue entry outlives its ticket."""
    friday = coming(4)
    await start_at(engine, friday)
    client = engine.runner.client
    ticket = await engine.issue(C, "results")
    slot = await move_to(engine, friday, "09:00") + 24 * HOUR     # Saturday 09:00
    booked = await book_at(engine, C, "results", slot)
    await Projector(engine.runner, engine.province).catch_up([engine.province.center(C)])
    keep = 2 * 24 * HOUR
    friday_end = epoch_ms(dt.datetime.combine(friday + dt.timedelta(days=1), dt.time(),
                                              TIMEZONE))
    day = f"{friday:%Y%m%d}"
    assert await client.pexpiretime(keys.ticket_key(C, ticket.id)) == friday_end + keep
    assert await client.pexpiretime(keys.center_key(C, "seq", day)) == friday_end + keep
    assert await client.pexpiretime(keys.ticket_key(C, booked.id)) == (
        friday_end + 24 * HOUR + keep)        # a booking lives until its own day is over
    assert await client.pexpiretime(keys.center_key(C, "day", day)) == (
        friday_end + 40 * 24 * HOUR)
    await move_to(engine, friday + dt.timedelta(days=3), "08:00")
    await engine.close_day_if_due(C)
    queues = [k async for k in client.scan_iter(keys.center_prefix(C) + "q*")]
    assert queues == []


async def test_a_booking_takes_the_number_of_its_own_day(engine: Engine) -> None:
    monday = coming(0)
    wednesday = monday + dt.timedelta(days=2)
    await start_at(engine, monday)
    booked = await book_at(engine, C, "land", epoch_ms(
        dt.datetime.combine(wednesday, dt.time(9, 0), TIMEZONE)))
    assert booked.id == f"07054-{wednesday:%Y%m%d}-C001"
    assert booked.status is TicketStatus.BOOKED
    await move_to(engine, wednesday, "08:00")
    walk_in = await engine.issue(C, "land")
    assert walk_in.number == "C002"                     # never two C001 in one lobby
    await move_to(engine, wednesday, "09:20")   # 20 minutes late: a walk-in now
    checked = await engine.check_in(booked.id)
    assert checked.ticket is not None and checked.ticket.queue == "N"
