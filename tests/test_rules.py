"""The pure rules, table-style and with hypothesis: no Redis except the Lua ``local_day`` check."""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from queue_server.errors import CounterStateError, InvalidInput
from queue_server.province import Province
from queue_server.rules.center_model import CenterModel
from queue_server.rules.clock import local_day
from queue_server.rules.eta import (
    MIN_SAMPLES_FOR_MEAN,
    estimate_wait_seconds,
    mean_service_seconds,
)
from queue_server.rules.numbering import center_of_ticket, format_number, ticket_id
from queue_server.rules.routing import Head, QueueClass, RoutingPolicy, pick_next, source_order
from queue_server.rules.states import Action, TicketStatus, is_legal, target_status

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
DAY_MS = 86_400_000
WINDOW_MS = 15 * 60_000
POLICY = RoutingPolicy(priority_max_in_row=2, appointment_window_ms=WINDOW_MS)
NOW = 1_800_000_000_000
# Counter "1" serving a then b: 0 qkp:1, 1 qk:1, 2 qp:a, 3 qa:a, 4 q:a, 5 qp:b, 6 qa:b, 7 q:b
SOURCES = source_order("1", ["a", "b"])
INDEX = {s.suffix: i for i, s in enumerate(SOURCES)}
P, N = QueueClass.PRIORITY, QueueClass.NORMAL


def heads(**by_suffix: int) -> list[Head | None]:
    """Heads keyed by suffix with ':' spelled '_' (q_a=100 is a ticket at 100 in q:a)."""
    out: list[Head | None] = [None] * len(SOURCES)
    for name, score in by_suffix.items():
        suffix = name.replace("_", ":", 1)
        out[INDEX[suffix]] = Head(score, suffix)
    return out


# ---------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("queues", "streak", "expected", "new_streak"),
    [
        ({}, 0, None, None),
        ({"q_a": 100}, 0, "q:a", 0),
        ({"qp_a": 500, "q_a": 100}, 0, "qp:a", 1),  # priority first, though younger
        ({"qp_a": 500, "q_a": 100}, 1, "qp:a", 2),
        ({"qp_a": 500, "q_a": 100}, 2, "q:a", 0),  # the interleave: a normal gets a turn
        ({"qp_a": 500}, 2, "qp:a", 3),  # nobody else waits: priority goes on
        ({"qp_a": 500}, 7, "qp:a", 8),
        ({"qp_a": 500, "qa_a": NOW + WINDOW_MS + 1}, 2, "qp:a", 3),  # a non-due one is nobody
        ({"qp_a": 500, "qa_a": NOW}, 2, "qa:a", 0),  # a due one is somebody
        ({"qp_a": 500, "qa_a": NOW}, 0, "qp:a", 1),
        ({"q_a": 100, "qa_a": NOW - 60_000}, 0, "qa:a", 0),  # due, late
        ({"q_a": 100, "qa_a": NOW + WINDOW_MS - 1}, 0, "qa:a", 0),
        ({"q_a": 100, "qa_a": NOW + WINDOW_MS}, 0, "qa:a", 0),  # exactly at the window edge
        ({"q_a": 100, "qa_a": NOW + WINDOW_MS + 1}, 0, "q:a", 0),  # just past it
        ({"qa_a": NOW + 3_600_000}, 0, "qa:a", 0),  # not due, but nobody else waits
        ({"qa_a": NOW, "qa_b": NOW - 1}, 0, "qa:b", 0),  # earliest appointment first
        ({"q_a": 200, "q_b": 100}, 0, "q:b", 0),  # oldest arrival across services
        ({"qp_a": 200, "qp_b": 100}, 0, "qp:b", 1),
        ({"qk_1": 300, "q_a": 200}, 0, "q:a", 0),  # own queue only wins on time or a tie
        ({"q_a": 100, "q_b": 100}, 0, "q:a", 0),  # tie: the counter's service order
        ({"q_b": 100, "qk_1": 100}, 0, "qk:1", 0),  # tie: the counter's own queue first
        ({"qp_b": 100, "qkp_1": 100}, 0, "qkp:1", 1),
        ({"qkp_1": 900, "qk_1": 100}, 0, "qkp:1", 1),
    ],
)
def test_pick_next_table(
    queues: dict[str, int], streak: int, expected: str | None, new_streak: int | None
) -> None:
    pick = pick_next(SOURCES, heads(**queues), streak, POLICY, NOW)
    if expected is None:
        assert pick is None
        return
    assert pick is not None
    assert (pick.ticket_id, pick.new_streak) == (expected, new_streak)
    assert pick.source_index == INDEX[expected]
    assert pick.queue_class is SOURCES[pick.source_index].queue_class


def drain(queues: dict[int, list[tuple[int, str]]], streak: int, policy: RoutingPolicy,
          now: int) -> tuple[str | None, int]:
    """One call-next over in-memory queues: the pick, removed from its queue."""
    current = [Head(*min(queues[i])) if queues.get(i) else None for i in range(len(SOURCES))]
    pick = pick_next(SOURCES, current, streak, policy, now)
    if pick is None:
        return None, streak
    queues[pick.source_index].remove(min(queues[pick.source_index]))
    return pick.ticket_id, pick.new_streak


@pytest.mark.parametrize(("normals", "expected"), [
    (1, ["P1", "P2", "N1", "P3", "P4", "P5"]),  # P,P,N then only P: no normal waits
    (2, ["P1", "P2", "N1", "P3", "P4", "N2", "P5"]), (0, ["P1", "P2", "P3", "P4", "P5"]),
])
def test_priority_interleave_sequence(normals: int, expected: list[str]) -> None:
    queues = {INDEX["qp:a"]: [(10 + i, f"P{i}") for i in range(1, 6)],
              INDEX["q:b"]: [(i, f"N{i}") for i in range(1, normals + 1)]}
    order, streak = [], 0
    while True:
        ticket, streak = drain(queues, streak, POLICY, NOW)
        if ticket is None:
            break
        order.append(ticket)
    assert order == expected


head_lists = st.lists(
    st.none() | st.builds(Head, st.integers(0, 2 * NOW), st.text("xyz", min_size=1)),
    min_size=len(SOURCES), max_size=len(SOURCES),
)


@given(head_lists, st.integers(0, 5), st.integers(1, 4))
def test_pick_exists_whenever_a_head_does(hs: list[Head | None], streak: int, k: int) -> None:
    pick = pick_next(SOURCES, hs, streak, RoutingPolicy(k, WINDOW_MS), NOW)
    assert (pick is None) == all(h is None for h in hs)
    if pick is not None:
        head = hs[pick.source_index]
        assert head is not None and head.ticket_id == pick.ticket_id
        assert pick.new_streak == (streak + 1 if pick.queue_class is P else 0)


steps = st.lists(st.tuples(st.sampled_from(range(len(SOURCES))), st.integers(0, 50_000))
                 | st.just(None), max_size=80)


@settings(max_examples=300)
@given(steps, st.integers(1, 3))
def test_normal_never_passed_over_more_than_max_in_row(
    plan: list[tuple[int, int] | None], k: int
) -> None:
    """Arrivals (source, score) and calls (None) in random order, at advancing instants."""
    policy = RoutingPolicy(k, WINDOW_MS)
    queues: dict[int, list[tuple[int, str]]] = {}
    streak = passed = 0
    for step, action in enumerate(plan):
        now = step * 1000
        if action is not None:
            queues.setdefault(action[0], []).append((action[1], f"t{step}"))
            continue
        normal_waits = any(queues.get(i) for i, s in enumerate(SOURCES) if s.queue_class is N)
        anyone = any(queues.values())
        ticket, streak = drain(queues, streak, policy, now)
        assert (ticket is None) == (not anyone)
        passed = passed + 1 if streak > 0 and normal_waits else 0  # streak > 0: a priority pick
        assert passed <= k


# ---------------------------------------------------------------------------- numbering


@pytest.mark.parametrize(("prefix", "sequence", "number"), [
    ("A", 1, "A001"), ("A", 23, "A023"), ("A", 999, "A999"), ("A", 1000, "A1000"),
    ("ABC", 7, "ABC007"), ("H", 12345, "H12345"), ("A", 0, None), ("A", -1, None),
])
def test_format_number(prefix: str, sequence: int, number: str | None) -> None:
    if number is not None:
        assert format_number(prefix, sequence) == number
        return
    with pytest.raises(InvalidInput, match="at least 1"):
        format_number("A", sequence)


@pytest.mark.parametrize(("center", "day", "number"), [
    ("07054", "20261122", "A023"), ("06712", "20250701", "H1000"),
    ("demo_1", "20260101", "ABC99999"),
])
def test_ticket_id_round_trip(center: str, day: str, number: str) -> None:
    made = ticket_id(center, day, number)
    assert made == f"{center}-{day}-{number}"
    assert center_of_ticket(made) == center


@pytest.mark.parametrize("text", [
    "", "07054", "07054-20261122", "07054-2026112-A023", "07054-20261122-a023",
    "07054_20261122_A023", "07054-20261122-A02", "-20261122-A023", "07054-20261122-ABCD001",
    "07054-20261122-A023-x", "0705/4-20261122-A023", "07054-20261122-A123456",
])
def test_center_of_malformed_ids(text: str) -> None:
    with pytest.raises(InvalidInput, match="CENTER-YYYYMMDD-A023") as info:
        center_of_ticket(text)
    assert info.value.fields["ticket"] == text


# ---------------------------------------------------------------------------- clock

FIRST_MS = 189_302_400_000  # 1976-01-01: Asia/Ho_Chi_Minh is UTC+7 from mid-1975 on
LAST_MS = 4_102_444_800_000  # 2100-01-01
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def zone_day(ms: int) -> str:
    return (EPOCH + dt.timedelta(milliseconds=ms)).astimezone(HCM).strftime("%Y%m%d")


near_midnight = st.builds(
    lambda day, delta: day * DAY_MS + 17 * 3_600_000 + delta,
    st.integers(FIRST_MS // DAY_MS, LAST_MS // DAY_MS - 1),
    st.integers(-120_000, 120_000),
)


@settings(max_examples=500)
@given(st.integers(FIRST_MS, LAST_MS) | near_midnight)
def test_local_day_matches_zoneinfo(ms: int) -> None:
    assert local_day(ms) == zone_day(ms)


@pytest.mark.parametrize(("utc", "day"), [
    ("2025-12-31T16:59:59.999", "20251231"), ("2025-12-31T17:00:00.000", "20260101"),
    ("2024-02-28T17:00:00.000", "20240229"), ("2024-02-29T16:59:59.999", "20240229"),
    ("2024-02-29T17:00:00.000", "20240301"), ("2100-02-28T17:00:00.000", "21000301"),
])
def test_local_day_edges(utc: str, day: str) -> None:
    ms = int(dt.datetime.fromisoformat(utc + "+00:00").timestamp() * 1000)
    assert local_day(ms) == zone_day(ms) == day


def lua_local_day_function() -> str:
    """The prelude's own local_day, cut out by text so the test runs the shipped code."""
    base = Path(__file__).parent.parent / "queue_server" / "lua" / "includes" / "base.lua"
    match = re.search(r"^local function local_day\(ms\)\n.*?^end\n", base.read_text(),
                      re.MULTILINE | re.DOTALL)
    assert match is not None, "includes/base.lua no longer defines local_day(ms)"
    return match.group(0)


def lua_instants() -> list[int]:
    rng, edges = random.Random(20250701), []
    for year in (1999, 2000, 2024, 2025, 2028, 2099, 2100):
        for month, day in ((1, 1), (2, 29), (3, 1), (12, 31)):
            try:
                local_midnight = dt.datetime(year, month, day, tzinfo=HCM)
            except ValueError:  # no 29 February that year
                continue
            base = int(local_midnight.timestamp() * 1000)
            edges += [base - 1, base, base + 1, base + DAY_MS - 1]
    randoms = [rng.randrange(FIRST_MS, LAST_MS) for _ in range(200 - len(edges))]
    return edges + randoms


def test_lua_local_day_agrees(redis_url: str) -> None:
    instants = lua_instants()
    script = lua_local_day_function() + (
        "local out = {}\n"
        "for i, ms in ipairs(ARGV) do out[i] = local_day(tonumber(ms)) end\n"
        "return out\n"
    )
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        answers = client.eval(script, 0, *instants)
    finally:
        client.close()
    assert len(instants) == 200
    assert answers == [zone_day(ms) for ms in instants]


# ---------------------------------------------------------------------------- eta


@pytest.mark.parametrize(("total_ms", "completed", "typical_s", "mean"), [
    (0, 0, 600.0, 600.0), (10_000, MIN_SAMPLES_FOR_MEAN - 1, 600.0, 600.0),  # typical time
    (900_000, MIN_SAMPLES_FOR_MEAN, 600.0, 300.0), (1_000_000, 4, 60.0, 250.0),
    (1_500, 3, 600.0, 0.5),
])
def test_mean_service_seconds(total_ms: int, completed: int, typical_s: float,
                              mean: float) -> None:
    assert mean_service_seconds(total_ms, completed, typical_s) == pytest.approx(mean)


@pytest.mark.parametrize(("ahead", "counters", "mean", "wait"), [
    (5, 0, 300.0, None), (5, -1, 300.0, None), (0, 0, 300.0, None),  # unknown, not infinite
    (0, 2, 300.0, 0), (5, 1, 300.0, 1500), (5, 2, 300.0, 750), (1, 3, 100.0, 33),
    (3, 2, 45.0, 68), (1, 2, 45.0, 22),  # 67.5 and 22.5: Python rounds half to even
])
def test_estimate_wait_seconds(ahead: int, counters: int, mean: float, wait: int | None) -> None:
    assert estimate_wait_seconds(ahead, counters, mean) == wait


# ---------------------------------------------------------------------------- states

S = TicketStatus
# DESIGN.md, written out: (action, from status) → to status. Every other pair is refused.
LIFECYCLE: dict[tuple[Action, TicketStatus], TicketStatus] = {
    (Action.CHECK_IN, S.BOOKED): S.WAITING,
    (Action.CALL, S.WAITING): S.CALLED,
    (Action.RECALL, S.CALLED): S.CALLED,
    (Action.START, S.CALLED): S.SERVING,
    (Action.COMPLETE, S.SERVING): S.DONE,
    (Action.NO_SHOW, S.CALLED): S.NO_SHOW,
    (Action.TRANSFER, S.WAITING): S.TRANSFERRED,
    (Action.TRANSFER, S.CALLED): S.TRANSFERRED,
    (Action.TRANSFER, S.SERVING): S.TRANSFERRED,
    (Action.CANCEL, S.BOOKED): S.CANCELLED,
    (Action.CANCEL, S.WAITING): S.CANCELLED,
    (Action.EXPIRE, S.WAITING): S.EXPIRED,
    (Action.EXPIRE, S.CALLED): S.EXPIRED,
    (Action.EXPIRE, S.SERVING): S.EXPIRED,
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(TicketStatus))
def test_lifecycle(action: Action, status: TicketStatus) -> None:
    assert is_legal(action, status) == ((action, status) in LIFECYCLE)
    if (action, status) in LIFECYCLE:
        assert target_status(action) is LIFECYCLE[action, status]


# ---------------------------------------------------------------------------- center model

T0 = int(dt.datetime(2026, 3, 2, 8, 0, tzinfo=HCM).timestamp() * 1000)


@pytest.fixture
def model(province: Province) -> CenterModel:
    """Quảng La (commune): counter 1 certification, civil_status, results; 2 land, construction."""
    return CenterModel.for_center(province, province.center("07054"), T0 - 3_600_000)


def test_transfer_keeps_arrival(model: CenterModel) -> None:
    first = model.issue(T0, "civil_status")
    later = model.issue(T0 + 60_000, "land")
    model.open_counter(T0, "1", "an")
    model.open_counter(T0, "2", "binh")
    assert model.call_next(T0 + 120_000, "1", "an").id == first.id  # type: ignore[union-attr]
    model.start(T0 + 130_000, "1", "an")
    old, new = model.transfer(T0 + 300_000, first.id, "1", "an", to_service="land")
    assert (old.status, old.to_ticket) == (TicketStatus.TRANSFERRED, new.id)
    assert (new.status, new.number, new.channel) == (TicketStatus.WAITING, "C002", "transfer")
    assert (new.arrived, new.issued, new.from_ticket) == (T0, T0 + 300_000, first.id)
    assert model.counters["1"].ticket == ""
    # Issued after `later`, but arrived before it: called first.
    assert model.call_next(T0 + 310_000, "2", "binh") == replace(
        new, status=TicketStatus.CALLED, called=T0 + 310_000, counter="2", staff="binh",
        queue="")
    model.no_show(T0 + 320_000, "2", "binh")
    assert model.call_next(T0 + 330_000, "2", "binh").id == later.id  # type: ignore[union-attr]


def test_transfer_to_a_counter_waits_in_its_own_queue(model: CenterModel) -> None:
    walk_in = model.issue(T0 + 1, "land")
    moved = model.issue(T0 + 5, "civil_status")
    with pytest.raises(CounterStateError):  # counter 2 is closed: only a supervisor's choice
        model.transfer(T0 + 10, moved.id, to_counter="2")
    _, new = model.transfer(T0 + 10, moved.id, to_counter="2", force=True)
    assert new.target_counter == "2" and new.arrived == T0 + 5 and new.queue == "K"
    model.open_counter(T0 + 15, "2", "binh")
    called = model.call_next(T0 + 20, "2", "binh")
    assert called is not None and called.id == walk_in.id  # older arrival still wins


def test_a_closing_counter_sends_its_own_queue_back_by_arrival(model: CenterModel) -> None:
    model.open_counter(T0, "2", "binh")
    early = model.issue(T0 + 1, "civil_status")
    later = model.issue(T0 + 2, "land")
    _, new = model.transfer(T0 + 10, early.id, to_service="land", to_counter="2")
    model.close_counter(T0 + 20, "2", "binh")
    back = model.tickets[new.id]
    assert (back.target_counter, back.queue) == ("", "N")
    assert model.events[-2]["type"] == "requeued"
    model.open_counter(T0 + 30, "2", "binh")
    assert model.call_next(T0 + 40, "2", "binh").id == new.id  # type: ignore[union-attr]
    assert later.arrived > back.arrived


def test_recall_limit_makes_a_no_show(model: CenterModel) -> None:
    ticket = model.issue(T0, "certification")
    model.open_counter(T0, "1", "an")
    model.call_next(T0 + 1, "1", "an")
    for expected in (1, 2):
        assert model.recall(T0 + 2, "1", "an").recalls == expected
        assert model.tickets[ticket.id].status is TicketStatus.CALLED
    assert model.recall(T0 + 3, "1", "an").status is TicketStatus.NO_SHOW
    assert model.counters["1"].ticket == ""
    assert model.call_next(T0 + 4, "1", "an") is None


def test_counter_take_over(model: CenterModel) -> None:
    model.open_counter(T0, "1", "an")
    model.open_counter(T0, "1", "an")  # the holder again: nothing changes
    with pytest.raises(CounterStateError, match="taken by an"):
        model.open_counter(T0, "1", "binh")
    model.open_counter(T0, "1", "binh", force=True)
    assert model.counters["1"].staff == "binh"
    model.issue(T0, "results")
    with pytest.raises(CounterStateError, match="held by binh"):
        model.call_next(T0, "1", "an")
    assert model.call_next(T0, "1", "binh") is not None


def test_numbers_restart_at_local_midnight(model: CenterModel) -> None:
    midnight = int(dt.datetime(2026, 3, 3, tzinfo=HCM).timestamp() * 1000)
    before = model.issue(midnight - 1, "civil_status")
    assert model.issue(midnight - 1, "civil_status").number == "A002"
    after = model.issue(midnight, "civil_status")
    assert (before.number, after.number) == ("A001", "A001")
    assert (before.id, after.id) == ("07054-20260302-A001", "07054-20260303-A001")
