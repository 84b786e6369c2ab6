"""The concurrency proof: many counters and thousands of tickets at once, on real Redis.

A whole busy morning is squeezed into a few seconds: issuer tasks hand out tickets at random
centers while every counter of those centers loops call next → start → complete (with some
recalls and no-shows), all as asyncio tasks sharing one engine. Afterwards the test reads the
outcomes, the centers' event streams, every ticket, the snapshots and the metric counters, and
requires that they all tell the same story:

- no ticket is called twice, and every issued ticket is called exactly once;
- none is lost: each ends ``done`` or ``no_show`` and every queue is empty;
- numbers per center, service and local day are unique and gapless (1..n);
- each ticket's events follow the lifecycle (issued, called, recalled*, started+completed or
  no_show);
- the live totals carried by every event equal a replay of the stream, and the metric counters
  and day totals equal the counts the tasks observed.

Then the burst: 50 presses of "call next" on one counter at the same instant call one ticket.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack
import pytest

from queue_server import keys
from queue_server.engine import Engine
from queue_server.errors import CounterStateError
from queue_server.models import Outcome, Ticket, TicketState
from queue_server.projections import COUNTER_VIEW
from queue_server.projector import Projector
from queue_server.province import Center, Province
from queue_server.records import event_view
from queue_server.rules.states import TicketStatus
from tests.conftest import close_engine, flat_pairs, make_engine

SERVED_SHARE = 0.80  # the rest: recalled to no-show, or marked no-show at once
LIFECYCLE = re.compile(r"^issued called (recalled )*(started completed|no_show)$")
# How the live totals (waiting, called, serving) move with each event type.
TOTALS_DELTA: dict[str, tuple[int, int, int]] = {
    "issued": (1, 0, 0),
    "called": (-1, 1, 0),
    "recalled": (0, 0, 0),
    "started": (0, -1, 1),
    "completed": (0, 0, -1),
    "no_show": (0, -1, 0),
    "counter_opened": (0, 0, 0),
}


@dataclass
class DayLog:
    """What the tasks saw; the checks compare it with what Redis holds."""

    issued: list[Ticket] = field(default_factory=list)
    called: list[Ticket] = field(default_factory=list)
    outcome: dict[str, TicketStatus] = field(default_factory=dict)
    recalls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (center, service)
    served_by: Counter[str] = field(default_factory=Counter)  # by staff
    no_shows_by: Counter[str] = field(default_factory=Counter)  # by staff



def bucket_total(metrics: dict[str, int], histogram: str) -> int:
    """A histogram's count: the scripts keep only its buckets and sum."""
    return sum(v for k, v in metrics.items() if k.startswith(f"{histogram}|b"))

def pick_centers(province: Province, wards: int, communes: int) -> list[Center]:
    chosen = [c for c in province.centers if c.type == "ward"][:wards]
    chosen += [c for c in province.centers if c.type == "commune"][:communes]
    for center in chosen:
        # Every service must have a counter here, or its tickets could never be called.
        served = {s for counter in center.counters for s in counter.services}
        assert served == set(province.service_ids), center.id
    return chosen


def staff_of(center: Center, counter: str) -> str:
    return f"st-{center.id}-{counter}"


async def issue_tickets(
    engine: Engine, centers: list[Center], count: int, rng: random.Random, log: DayLog
) -> None:
    services = engine.province.service_ids
    priorities = [p.id for p in engine.province.priorities]
    for _ in range(count):
        priority = rng.choice(priorities) if rng.random() < 0.1 else None
        ticket = await engine.issue(
            rng.choice(centers).id, rng.choice(services),
            channel=rng.choice(("kiosk", "online")), priority=priority,
        )
        assert ticket.status is TicketStatus.WAITING
        log.issued.append(ticket)


async def work_counter(
    engine: Engine, center: Center, counter: str, rng: random.Random,
    issuing_done: asyncio.Event, log: DayLog,
) -> None:
    """One staff member: call, then serve, recall or mark no-show, until nothing is left."""
    staff = staff_of(center, counter)
    max_recalls = engine.province.policy.max_recalls
    while True:
        # Read before calling: if every issue had returned before this call was sent, an empty
        # answer means nothing will ever come for this counter again.
        finished = issuing_done.is_set()
        called = await engine.call_next(center.id, counter, staff)
        ticket = called.ticket
        if ticket is None:
            if finished:
                return
            await asyncio.sleep(0.002)
            continue
        assert ticket.status is TicketStatus.CALLED and ticket.counter == counter
        assert called.counter is not None and called.counter.ticket == ticket.id
        log.called.append(ticket)
        roll = rng.random()
        if roll < (1 - SERVED_SHARE) / 2:
            last = await engine.no_show(center.id, counter, staff)
        elif roll < 1 - SERVED_SHARE:
            for _ in range(max_recalls):
                await engine.recall(center.id, counter, staff)
            log.recalls[center.id, ticket.service] += max_recalls
            last = await engine.recall(center.id, counter, staff)  # one too many: no-show
        else:
            if roll > 0.9:
                await engine.recall(center.id, counter, staff)
                log.recalls[center.id, ticket.service] += 1
            await engine.start(center.id, counter, staff)
            last = await engine.complete(center.id, counter, staff)
        assert last.ticket is not None and last.ticket.id == ticket.id
        assert last.counter is not None and last.counter.ticket == ""
        assert ticket.id not in log.outcome, f"{ticket.id} finished twice"
        log.outcome[ticket.id] = last.ticket.status
        by = log.served_by if last.ticket.status is TicketStatus.DONE else log.no_shows_by
        by[staff] += 1


async def run_day(
    engine: Engine, centers: list[Center], tickets: int, issuers: int, seed: int
) -> DayLog:
    """Open every counter, then issue and serve ``tickets`` tickets, all concurrently."""
    log = DayLog()
    await asyncio.gather(*(
        engine.open_counter(center.id, counter.id, staff_of(center, counter.id))
        for center in centers for counter in center.counters
    ))
    issuing_done = asyncio.Event()

    async def issue_all() -> None:
        shares = [tickets // issuers + (i < tickets % issuers) for i in range(issuers)]
        await asyncio.gather(*(
            issue_tickets(engine, centers, share, random.Random(seed * 1000 + i), log)
            for i, share in enumerate(shares)
        ))
        issuing_done.set()

    workers = [
        work_counter(engine, center, counter.id, random.Random(f"{seed}-{center.id}-{counter.id}"),
                     issuing_done, log)
        for center in centers for counter in center.counters
    ]
    await asyncio.gather(issue_all(), *workers)
    return log


async def center_events(engine: Engine, center_id: str) -> list[dict[str, Any]]:
    stream = keys.center_stream_key(center_id)
    return [
        event_view(msgpack.unpackb(fields[b"d"]), center_id)
        for _, fields in await engine.runner.client.xrange(stream, "-", "+")
    ]


def check_numbers(issued: Iterable[Ticket], province: Province) -> dict[tuple[str, str, str], int]:
    """Per center, service and local day: numbers 1..n, each once, with the service's prefix."""
    prefixes = {s.id: s.prefix for s in province.services}
    numbers: defaultdict[tuple[str, str, str], list[int]] = defaultdict(list)
    for ticket in issued:
        center, day, number = ticket.id.split("-")
        assert number == ticket.number and number.startswith(prefixes[ticket.service])
        numbers[center, ticket.service, day].append(int(number[len(prefixes[ticket.service]):]))
    for group, seen in numbers.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), f"numbers of {group}: gap or twin"
    return {group: len(seen) for group, seen in numbers.items()}


async def check_tickets(engine: Engine, log: DayLog) -> None:
    issued_ids = [t.id for t in log.issued]
    called_ids = [t.id for t in log.called]
    assert len(set(issued_ids)) == len(issued_ids), "an id was issued twice"
    doubles = [tid for tid, n in Counter(called_ids).items() if n > 1]
    assert not doubles, f"called twice: {doubles[:10]}"
    assert set(called_ids) == set(issued_ids), "an issued ticket was never called"
    assert set(log.outcome) == set(issued_ids)
    # Bounded: unbatched, each read holds a connection, and the pools stop at 64.
    limit = asyncio.Semaphore(32)

    async def read(ticket_id: str) -> TicketState:
        async with limit:
            return await engine.ticket(ticket_id)

    states = await asyncio.gather(*(read(tid) for tid in issued_ids))
    for state in states:
        ticket = state.ticket
        assert ticket.status is log.outcome[ticket.id], ticket
        assert ticket.status in (TicketStatus.DONE, TicketStatus.NO_SHOW)
        assert state.ahead is None  # not waiting any more


def check_stream(center: Center, events: list[dict[str, Any]], log: DayLog) -> set[str]:
    """The lifecycle of each ticket and the live totals of each event; returns called ids."""
    opened = [e for e in events if e["type"] == "counter_opened"]
    # All counters opened before the first ticket: if they are all here, nothing was trimmed.
    assert len(opened) == len(center.counters), "the stream was trimmed: raise stream_max_events"
    totals = [0, 0, 0]
    history: defaultdict[str, list[str]] = defaultdict(list)
    called: list[str] = []
    for event in events:
        kind = event["type"]
        assert event["center"] == center.id
        totals = [a + b for a, b in zip(totals, TOTALS_DELTA[kind], strict=True)]
        # An event that moves the totals carries them; one that does not may leave them out.
        live = event.get("totals")
        assert live is not None or TOTALS_DELTA[kind] == (0, 0, 0), event
        if live is not None:
            assert [live["waiting"], live["called"], live["serving"]] == totals, event
        if "ticket" in event:
            history[event["ticket"]["id"]].append(kind)
        if kind == "called":
            called.append(event["ticket"]["id"])
    assert totals == [0, 0, 0]
    doubles = [tid for tid, n in Counter(called).items() if n > 1]
    assert not doubles, f"stream of {center.id} calls twice: {doubles[:10]}"
    for ticket_id, kinds in history.items():
        assert LIFECYCLE.match(" ".join(kinds)), f"{ticket_id}: {kinds}"
        expected = "completed" if log.outcome[ticket_id] is TicketStatus.DONE else "no_show"
        assert kinds[-1] == expected
    return set(called)


def check_metrics(center: Center, snap: dict[str, Any], log: DayLog) -> None:
    """The metric counters and today's totals against the counts the tasks observed."""
    mine = [t for t in log.issued if t.center == center.id]
    done = [t for t in mine if log.outcome[t.id] is TicketStatus.DONE]
    gone = [t for t in mine if log.outcome[t.id] is TicketStatus.NO_SHOW]
    metrics = {k: int(v) for k, v in flat_pairs(snap["metrics"]).items()
               if not k.startswith(COUNTER_VIEW)}
    issued: Counter[str] = Counter()
    for name, value in metrics.items():
        if name.startswith("issued|"):
            issued[name.split("|")[1]] += value
    by_service = Counter(t.service for t in mine)
    assert issued == by_service
    labels: Counter[str] = Counter()
    for ticket in mine:
        labels[f"issued|{ticket.service}|{ticket.channel}|{ticket.priority or 'none'}"] += 1
    assert {k: v for k, v in metrics.items() if k.startswith("issued|")} == labels
    for service in by_service:
        served = sum(t.service == service for t in done)
        no_shows = sum(t.service == service for t in gone)
        # A call is a wait observed, a completion a service time.
        assert bucket_total(metrics, f"wait|{service}") == by_service[service]
        assert metrics[f"calls|{service}"] == by_service[service]
        assert metrics.get(f"served|{service}", 0) == served
        assert metrics.get(f"noshow|{service}", 0) == no_shows
        assert bucket_total(metrics, f"svc|{service}") == served
        assert metrics.get(f"recalls|{service}", 0) == log.recalls[center.id, service]
        buckets = sum(v for k, v in metrics.items()
                      if k.startswith(f"wait|{service}|b"))
        assert buckets == by_service[service]
    for counter in center.counters:
        staff = staff_of(center, counter.id)
        assert bucket_total(metrics, f"s_svc|{staff}") == log.served_by[staff]
        assert metrics.get(f"s_noshow|{staff}", 0) == log.no_shows_by[staff]
    day = {k: int(v) for k, v in flat_pairs(snap["day"]).items()}
    assert (day["issued"], day["called"]) == (len(mine), len(mine))
    assert (day.get("served", 0), day.get("no_show", 0)) == (len(done), len(gone))
    assert snap["totals"] == {"waiting": 0, "called": 0, "serving": 0}
    for service in snap["services"]:
        assert service["waiting"] == 0, service
    for counter_view in snap["counters"]:
        assert counter_view["state"] == "open" and counter_view["ticket"] == ""
        assert counter_view["queued"] == 0


async def check_day(engine: Engine, centers: list[Center], log: DayLog) -> None:
    last_numbers = check_numbers(log.issued, engine.province)
    # The day's sequence in Redis ends at n too: no refused or lost issue consumed a number.
    for center, day in {(center, day) for center, _, day in last_numbers}:
        seq = await engine.runner.client.hgetall(keys.center_key(center, "seq", day))
        assert {k.decode(): int(v) for k, v in seq.items()} == {
            service: n for (c, service, d), n in last_numbers.items() if (c, d) == (center, day)
        }
    await check_tickets(engine, log)
    # Whatever the projectors racing during the day applied, catching up completes it: each
    # event counted exactly once (check_metrics).
    await Projector(engine.runner, engine.province).catch_up(centers)
    streamed: set[str] = set()
    for center in centers:
        called = check_stream(center, await center_events(engine, center.id), log)
        assert not called & streamed, "a ticket id called in two centers"
        streamed |= called
        snap = await engine.snapshot(center.id, metrics=True, day=True)
        check_metrics(center, snap, log)
    assert streamed == {t.id for t in log.called}


# ---------------------------------------------------------------------------------- the tests


async def test_fifty_counters_five_thousand_tickets(redis_url: str, province: Province) -> None:
    centers = pick_centers(province, wards=6, communes=6)
    assert sum(len(c.counters) for c in centers) >= 50
    engine = await make_engine(redis_url, province)
    try:
        # Two replicas' projectors apply the day's events while it runs.
        projectors = [asyncio.create_task(Projector(engine.runner, province).run_forever(0.01))
                      for _ in range(2)]
        try:
            log = await run_day(engine, centers, tickets=5000, issuers=50, seed=1)
        finally:
            for task in projectors:
                task.cancel()
            await asyncio.gather(*projectors, return_exceptions=True)
        assert len(log.issued) == 5000
        await check_day(engine, centers, log)
    finally:
        await close_engine(engine)


@pytest.mark.cluster
@pytest.mark.parametrize(
    "batch",
    [pytest.param(True, id="batched"), pytest.param(False, id="one-call-per-connection")],
)
async def test_concurrency_on_a_cluster(cluster_url: str, province: Province, batch: bool) -> None:
    centers = pick_centers(province, wards=0, communes=5)
    assert sum(len(c.counters) for c in centers) == 20
    engine = await make_engine(cluster_url, province, batch=batch)
    try:
        log = await run_day(engine, centers, tickets=1000, issuers=20, seed=2)
        await check_day(engine, centers, log)
    finally:
        await close_engine(engine)


@pytest.mark.cluster
async def test_two_concurrent_calls_on_a_cluster(cluster_url: str, province: Province) -> None:
    """Two requests in the same loop turn share one pipeline, which a cluster splits by node
    (redis-py's ClusterPipeline refuses .evalsha(); the runner sends EVALSHA as a command)."""
    engine = await make_engine(cluster_url, province)
    try:
        first, second = await asyncio.gather(
            engine.issue("07054", "results"), engine.issue("06799", "results")
        )
        assert (first.number, second.number) == ("H001", "H001")
    finally:
        await close_engine(engine)


@pytest.mark.parametrize("batch", [True, False], ids=["batched", "one-call-per-connection"])
async def test_fifty_presses_on_one_counter_call_one_ticket(
    redis_url: str, province: Province, batch: bool
) -> None:
    center = pick_centers(province, wards=1, communes=0)[0]
    counter = center.counters[0]
    engine = await make_engine(redis_url, province, batch=batch)
    try:
        for i in range(60):
            await engine.issue(center.id, counter.services[i % len(counter.services)])
        await engine.open_counter(center.id, counter.id, "an")
        presses = await asyncio.gather(
            *(engine.call_next(center.id, counter.id, "an") for _ in range(50)),
            return_exceptions=True,
        )
        winners = [p for p in presses if isinstance(p, Outcome)]
        refused = [p for p in presses if isinstance(p, CounterStateError)]
        assert len(winners) == 1 and winners[0].ticket is not None, presses
        assert len(refused) == 49, presses
        assert all("in hand" in str(error) for error in refused)
        events = await center_events(engine, center.id)
        assert [e["ticket"]["id"] for e in events if e["type"] == "called"] == [
            winners[0].ticket.id
        ]
        snap = await engine.snapshot(center.id)
        assert snap["totals"] == {"waiting": 59, "called": 1, "serving": 0}
    finally:
        await close_engine(engine)


async def test_all_counters_press_at_once_for_fewer_tickets(
    redis_url: str, province: Province
) -> None:
    """Six counters press ten times each for three tickets: three calls, three tickets."""
    center = pick_centers(province, wards=1, communes=0)[0]
    engine = await make_engine(redis_url, province)
    try:
        for counter in center.counters:
            await engine.set_counter_services(center.id, counter.id, ["results"])
            await engine.open_counter(center.id, counter.id, staff_of(center, counter.id))
        issued = [await engine.issue(center.id, "results") for _ in range(3)]
        presses = await asyncio.gather(
            *(engine.call_next(center.id, counter.id, staff_of(center, counter.id))
              for _ in range(10) for counter in center.counters),
            return_exceptions=True,
        )
        called = [p.ticket for p in presses if isinstance(p, Outcome) and p.ticket is not None]
        empty = [p for p in presses if isinstance(p, Outcome) and p.ticket is None]
        refused = [p for p in presses if isinstance(p, CounterStateError)]
        assert len(called) + len(empty) + len(refused) == 60, presses
        assert sorted(t.id for t in called) == sorted(t.id for t in issued)
        assert len({t.counter for t in called}) == 3
    finally:
        await close_engine(engine)
