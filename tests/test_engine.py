"""Behaviour of the engine on real Redis: a single node and a 3-master cluster."""

from __future__ import annotations

import msgpack
import pytest

from queue_server import keys
from queue_server.engine import Engine
from queue_server.errors import (
    CounterStateError,
    IdempotencyMismatch,
    IllegalTransition,
    InvalidInput,
    UnknownCenter,
    UnknownCounter,
    UnknownService,
    UnknownTicket,
)
from queue_server.projector import Projector
from queue_server.records import event_view
from queue_server.rules.clock import local_day
from queue_server.rules.states import CounterState, TicketStatus
from tests.conftest import book_at, flat_pairs, set_local_time, shift_clock

C = "07054"  # Quảng La, a commune: counter 1 serves certification, civil_status, results


async def open_counter(engine: Engine, counter: str = "1", staff: str = "an") -> None:
    await engine.open_counter(C, counter, staff)


async def test_numbers_are_per_service_and_day(any_engine: Engine) -> None:
    a1 = await any_engine.issue(C, "civil_status")
    b1 = await any_engine.issue(C, "certification")
    a2 = await any_engine.issue(C, "civil_status")
    assert (a1.number, b1.number, a2.number) == ("A001", "B001", "A002")
    assert a1.id == f"{C}-{local_day(a1.issued)}-A001"
    other = await any_engine.issue("06799", "civil_status")
    assert other.number == "A001"


async def test_numbering_restarts_at_local_midnight(any_engine: Engine) -> None:
    first = await any_engine.issue(C, "land")
    # Jump one local day ahead: the same service starts again at 001 under a new day.
    await shift_clock(any_engine.runner.client, C, 24 * 3600 * 1000)
    second = await any_engine.issue(C, "land")
    assert first.number == second.number == "C001"
    assert first.id != second.id


async def test_call_next_takes_oldest_across_the_counters_services(any_engine: Engine) -> None:
    a = await any_engine.issue(C, "civil_status")
    # Later for sure: within one millisecond the counter's service order would decide.
    await shift_clock(any_engine.runner.client, C, 2)
    b = await any_engine.issue(C, "certification")
    await open_counter(any_engine)
    first = await any_engine.call_next(C, "1", "an")
    assert first.ticket is not None and first.ticket.id == a.id
    assert first.ticket.status is TicketStatus.CALLED
    await any_engine.start(C, "1", "an")
    await any_engine.complete(C, "1", "an")
    second = await any_engine.call_next(C, "1", "an")
    assert second.ticket is not None and second.ticket.id == b.id


async def test_priority_first_but_normal_citizens_not_starved(any_engine: Engine) -> None:
    normal = await any_engine.issue(C, "certification")
    prio = [await any_engine.issue(C, "certification", priority="elderly") for _ in range(3)]
    await open_counter(any_engine)
    order = []
    for _ in range(4):
        outcome = await any_engine.call_next(C, "1", "an")
        assert outcome.ticket is not None
        order.append(outcome.ticket.id)
        await any_engine.no_show(C, "1", "an")
    # priority_max_in_row = 2: two priority calls, then the waiting normal ticket, then priority.
    assert order == [prio[0].id, prio[1].id, normal.id, prio[2].id]


async def test_due_appointment_before_walk_ins(any_engine: Engine) -> None:
    ten = await set_local_time(any_engine.runner.client, C, "10:00")
    walk_in = await any_engine.issue(C, "civil_status")
    booked = await book_at(any_engine, C, "civil_status", ten + 10 * 60_000)
    assert booked.status is TicketStatus.BOOKED
    await open_counter(any_engine)
    assert (await any_engine.call_next(C, "1", "an")).ticket.id == walk_in.id  # type: ignore[union-attr]
    await any_engine.no_show(C, "1", "an")
    late = await any_engine.issue(C, "civil_status")
    checked = await any_engine.check_in(booked.id)
    assert checked.ticket is not None and checked.ticket.status is TicketStatus.WAITING
    assert (await any_engine.call_next(C, "1", "an")).ticket.id == booked.id  # type: ignore[union-attr]
    await any_engine.no_show(C, "1", "an")
    assert (await any_engine.call_next(C, "1", "an")).ticket.id == late.id  # type: ignore[union-attr]


async def test_empty_queue_calls_nobody(any_engine: Engine) -> None:
    await open_counter(any_engine)
    outcome = await any_engine.call_next(C, "1", "an")
    assert outcome.ticket is None and outcome.counter is not None


async def test_recall_limit_turns_into_no_show(any_engine: Engine) -> None:
    await any_engine.issue(C, "results")
    await open_counter(any_engine)
    await any_engine.call_next(C, "1", "an")
    assert (await any_engine.recall(C, "1", "an")).ticket.recalls == 1  # type: ignore[union-attr]
    assert (await any_engine.recall(C, "1", "an")).ticket.recalls == 2  # type: ignore[union-attr]
    last = await any_engine.recall(C, "1", "an")
    assert last.ticket is not None and last.ticket.status is TicketStatus.NO_SHOW
    assert last.counter is not None and last.counter.ticket == ""


async def test_illegal_moves_are_refused_without_writes(any_engine: Engine) -> None:
    client = any_engine.runner.client
    await any_engine.issue(C, "results")
    before = await client.xlen(keys.center_stream_key(C))
    with pytest.raises(CounterStateError, match="closed"):
        await any_engine.call_next(C, "1")
    await open_counter(any_engine)
    with pytest.raises(IllegalTransition, match="no ticket in hand"):
        await any_engine.complete(C, "1", "an")
    await any_engine.call_next(C, "1", "an")
    with pytest.raises(IllegalTransition, match="expected serving"):
        await any_engine.complete(C, "1", "an")
    with pytest.raises(CounterStateError, match="held by an"):
        await any_engine.start(C, "1", "binh")
    with pytest.raises(InvalidInput, match="priority category"):
        await any_engine.issue(C, "results", priority="vip")
    with pytest.raises(UnknownService):
        await any_engine.issue(C, "passport")
    with pytest.raises(UnknownCenter):
        await any_engine.issue("99999", "results")
    with pytest.raises(UnknownCounter):
        await any_engine.call_next(C, "42")
    with pytest.raises(UnknownTicket):
        await any_engine.cancel(f"{C}-20260101-A001")
    with pytest.raises(InvalidInput, match="CENTER-YYYYMMDD"):
        await any_engine.cancel("not-a-ticket")
    # Only the open and the call wrote events; the refusals left no trace, not even a number.
    assert await client.xlen(keys.center_stream_key(C)) == before + 2
    seq = await client.hgetall(keys.center_key(C, "seq", local_day(
        (await any_engine.snapshot(C))["now"])))
    assert seq == {b"results": b"1"}


async def test_transfer_keeps_arrival_and_targets_counter(any_engine: Engine) -> None:
    first = await any_engine.issue(C, "certification")
    # One millisecond later for sure: equal arrivals would be ordered by ticket id instead.
    await shift_clock(any_engine.runner.client, C, 2)
    await any_engine.issue(C, "land")
    await open_counter(any_engine)
    await open_counter(any_engine, "2", "binh")  # counter 2: land, construction
    await any_engine.call_next(C, "1", "an")
    moved = await any_engine.transfer(first.id, counter="1", staff="an", to_service="land",
                                      note="cần xác minh thửa đất")
    assert moved.ticket is not None and moved.ticket.status is TicketStatus.TRANSFERRED
    new = moved.new_ticket
    assert new is not None and new.number == "C002" and new.arrived == first.arrived
    assert new.from_ticket == first.id and moved.ticket.to_ticket == new.id
    # The transferred ticket arrived earlier than the land ticket C001, so it goes first.
    called = await any_engine.call_next(C, "2", "binh")
    assert called.ticket is not None and called.ticket.id == new.id
    # To a counter: only that counter calls it; a closed one only by a supervisor's choice.
    with pytest.raises(CounterStateError) as refused:
        await any_engine.transfer(new.id, counter="2", staff="binh", to_counter="4")
    assert refused.value.reason == "target_counter_not_open"
    await open_counter(any_engine, "4", "chi")
    await any_engine.transfer(new.id, counter="2", staff="binh", to_counter="4")
    state = await any_engine.snapshot(C, tickets_per_queue=5)
    counter4 = next(c for c in state["counters"] if c["id"] == "4")
    assert counter4["queued"] == 1
    assert (await any_engine.call_next(C, "4", "chi")).ticket.from_ticket == new.id  # type: ignore[union-attr]


async def test_cancel_and_rating(any_engine: Engine) -> None:
    t = await any_engine.issue(C, "results")
    cancelled = await any_engine.cancel(t.id)
    assert cancelled.ticket.status is TicketStatus.CANCELLED  # type: ignore[union-attr]
    with pytest.raises(IllegalTransition):
        await any_engine.cancel(t.id)
    served = await any_engine.issue(C, "results")
    with pytest.raises(IllegalTransition, match="expected done"):
        await any_engine.rate(served.id, 5)
    await open_counter(any_engine)
    await any_engine.call_next(C, "1", "an")
    await any_engine.start(C, "1", "an")
    await any_engine.complete(C, "1", "an")
    assert (await any_engine.rate(served.id, 4)).ticket.rating == 4  # type: ignore[union-attr]
    with pytest.raises(IllegalTransition, match="already rated"):
        await any_engine.rate(served.id, 5)


async def test_idempotency_key_acts_once(any_engine: Engine) -> None:
    one = await any_engine.issue(C, "land", idempotency_key="k-1")
    again = await any_engine.issue(C, "land", idempotency_key="k-1")
    assert one == again
    await open_counter(any_engine, "2", "binh")
    call = await any_engine.call_next(C, "2", "binh", idempotency_key="press-1")
    double = await any_engine.call_next(C, "2", "binh", idempotency_key="press-1")
    assert call == double
    with pytest.raises(IdempotencyMismatch):
        await any_engine.issue(C, "results", idempotency_key="k-1")


async def test_counter_states_and_takeover(any_engine: Engine) -> None:
    await open_counter(any_engine)
    with pytest.raises(CounterStateError, match="taken by an"):
        await any_engine.open_counter(C, "1", "binh")
    taken = await any_engine.open_counter(C, "1", "binh", force=True)
    assert taken.counter is not None and taken.counter.staff == "binh"
    with pytest.raises(InvalidInput, match="pause reason"):
        await any_engine.pause(C, "1", "nap", "binh")
    paused = await any_engine.pause(C, "1", "meeting", "binh")
    assert paused.counter.state is CounterState.PAUSED  # type: ignore[union-attr]
    with pytest.raises(CounterStateError):
        await any_engine.call_next(C, "1", "binh")
    await any_engine.resume(C, "1", "binh")
    closed = await any_engine.close_counter(C, "1", "binh")
    assert closed.counter.state is CounterState.CLOSED  # type: ignore[union-attr]
    updated = await any_engine.set_counter_services(C, "1", ["land", "results"])
    assert updated.counter.services == ("land", "results")  # type: ignore[union-attr]
    with pytest.raises(UnknownService):
        await any_engine.set_counter_services(C, "1", ["land", "passport"])


async def test_events_metrics_and_snapshot(any_engine: Engine) -> None:
    client = any_engine.runner.client
    await open_counter(any_engine)
    t = await any_engine.issue(C, "results", priority="pregnant")
    await any_engine.call_next(C, "1", "an")
    await any_engine.start(C, "1", "an")
    await any_engine.complete(C, "1", "an")
    events = await client.xrange(keys.center_stream_key(C))
    views = [event_view(msgpack.unpackb(fields[b"d"]), C) for _, fields in events]
    kinds = [view["type"] for view in views]
    assert kinds == ["counter_opened", "issued", "called", "started", "completed"]
    called = views[2]
    assert called["ticket"]["number"] == t.number and called["counter"]["id"] == "1"
    assert called["totals"] == {"waiting": 0, "called": 1, "serving": 0}
    assert called["waiting"] == {"results": 0} and views[1]["waiting"] == {"results": 1}
    # The transitions wrote no metric: they are the projection of these events.
    assert not (await any_engine.snapshot(C, metrics=True))["metrics"]
    assert await Projector(any_engine.runner, any_engine.province).catch_up() == len(events)
    metrics = flat_pairs(
        (await any_engine.snapshot(C, metrics=True))["metrics"]
    )
    assert metrics["issued|results|kiosk|pregnant"] == "1"
    assert metrics["served|results"] == "1" and metrics["calls|results"] == "1"
    assert metrics["wait|results|b1"] == "1" and metrics["svc|results|b1"] == "1"
    assert metrics["s_svc|an|b1"] == "1"
    snap = await any_engine.snapshot(C, tickets_per_queue=3, day=True, recent=True)
    assert snap["last_id"] == events[-1][0].decode()
    assert snap["recent"][0]["number"] == t.number
    assert flat_pairs(snap["day"])["served"] == "1"


async def test_estimated_wait(any_engine: Engine) -> None:
    tickets = [await any_engine.issue(C, "construction") for _ in range(3)]
    state = await any_engine.ticket(tickets[2].id)
    assert state.ahead == 2 and state.estimated_wait_s is None  # no open counter: unknown
    await open_counter(any_engine, "2", "binh")  # serves land and construction
    state = await any_engine.ticket(tickets[2].id)
    assert state.active_counters == 1
    assert state.estimated_wait_s == 2 * 20 * 60  # two ahead, typical 20 minutes, one counter
    snap = await any_engine.snapshot(C)
    construction = next(s for s in snap["services"] if s["id"] == "construction")
    assert construction["waiting"] == 3 and construction["estimated_wait_s"] == 3 * 20 * 60


async def test_transfer_of_the_ticket_in_hand(any_engine: Engine) -> None:
    await open_counter(any_engine)
    with pytest.raises(IllegalTransition, match="no ticket in hand"):
        await any_engine.transfer_in_hand(C, "1", "an", to_service="land")
    t = await any_engine.issue(C, "results")
    await any_engine.call_next(C, "1", "an")
    moved = await any_engine.transfer_in_hand(C, "1", "an", to_service="land", note="đất")
    assert moved.ticket is not None and moved.ticket.id == t.id
    assert moved.new_ticket is not None and moved.new_ticket.service == "land"
    assert moved.counter is not None and moved.counter.ticket == ""
