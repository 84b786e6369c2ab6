"""Derived figures as projections of the event stream (queue_server/projections.py): the pure
rules table-style, and their application by project.lua exactly once, whoever applies, with
an event that cannot be read stopping its center, reported, never skipped."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgpack
import pytest

from queue_server import keys
from queue_server.engine import Engine
from queue_server.projections import Deltas, bucket, day_key, project, wait_start
from queue_server.projector import NAME, Projector
from tests.conftest import flat_pairs

C = "07054"
T0 = 1_796_200_000_000   # 2026-12-02 09:26:40 local
DAY = day_key(T0)


def ticket(**values: Any) -> dict[str, Any]:
    base = {"id": f"{C}-20261202-A001", "number": "A001", "service": "land", "status": "done",
            "priority": "", "channel": "kiosk", "counter": "1", "staff": "an", "arrived": T0,
            "issued": T0, "appt": 0, "called": T0 + 60_000, "started": T0 + 90_000,
            "ended": T0 + 390_000, "recalls": 0, "rating": 0, "from": "", "to": "",
            "note": "", "target_counter": "", "queue": ""}
    return {**base, **values}


def counter(**values: Any) -> dict[str, Any]:
    base = {"id": "1", "state": "open", "staff": "an", "ticket": "", "reason": "",
            "since": T0 - T0 % 1000, "streak": 0, "services": ["land"], "held_since": 0}
    return {**base, **values}


def event(kind: str, at: int = T0, **values: Any) -> dict[str, Any]:
    return {"type": kind, "at": at, "center": C, "ticket": None, "new_ticket": None,
            "counter": None, "before": None, "totals": None, "waiting": {}, "actor": "system",
            "origin": "", "info": {}, **values}


@pytest.mark.parametrize(("given", "metrics", "day"), [
    (event("issued", ticket=ticket(status="waiting", priority="elderly")),
     {"issued|land|kiosk|elderly": 1}, {"issued": 1}),
    (event("called", ticket=ticket(status="called")),
     {"calls|land": 1, "wait|land|b1": 1, "wait|land|sum": 60_000},
     {"called": 1, "wait_ms": 60_000}),
    (event("completed", ticket=ticket()),
     {"served|land": 1, "svc|land|b3": 1, "svc|land|sum": 300_000, "s_served|an": 1,
      "s_svc|an|b3": 1, "s_svc|an|sum": 300_000},
     {"served": 1, "svn:land": 1, "svms:land": 300_000, "st:an:served": 1,
      "st:an:svc_ms": 300_000, "st:an:wait_ms": 60_000}),
    (event("no_show", ticket=ticket(status="no_show"), before=counter(), counter=counter()),
     {"noshow|land": 1, "s_noshow|an": 1}, {"no_show": 1, "st:an:noshow": 1}),
    (event("transferred", ticket=ticket(status="transferred"),
           new_ticket=ticket(service="results", channel="transfer", status="waiting")),
     {"transfers|land": 1, "issued|results|transfer|none": 1},
     {"transferred": 1, "issued": 1}),
    (event("cancelled", ticket=ticket(status="cancelled")), {"cancels|land": 1},
     {"cancelled": 1}),
    (event("expired", ticket=ticket(status="expired")), {"expired|land": 1}, {"expired": 1}),
    (event("rated", ticket=ticket(rating=4)), {"ratings|land|4": 1, "s_ratings|an|4": 1},
     {"rating_sum": 4, "rating_n": 1, "st:an:rating_sum": 4, "st:an:rating_n": 1}),
    (event("recalled", ticket=ticket(status="called"), counter=counter()),
     {"recalls|land": 1, "s_recalls|an": 1}, {}),
    (event("started", ticket=ticket(status="serving"), counter=counter()), {}, {}),
])
def test_each_event_kind(given: dict[str, Any], metrics: dict[str, int], day: dict[str, int]
                         ) -> None:
    deltas = project([given])
    assert dict(deltas.incr.get("m", {})) == metrics
    assert dict(deltas.incr.get(DAY, {})) == day
    assert DAY in deltas.expire


@pytest.mark.parametrize(("before", "after", "at", "booked"), [
    # open 10 min, then paused: 600 s open
    (counter(), counter(state="paused", reason="break", since=T0 + 600_000), T0 + 600_123,
     {"s_time|an|open": 600_000}),
    # paused 5 min for a meeting, resumed
    (counter(state="paused", reason="meeting"), counter(since=T0 + 300_000), T0 + 300_000,
     {"s_time|an|paused": 300_000, "s_pause|an|meeting": 300_000}),
    # a ticket in hand for 4 min, completed
    (counter(ticket="t1", held_since=T0 - T0 % 1000), counter(), T0 + 240_000,
     {"s_time|an|serving": 240_000}),
    # handed over with a ticket in hand: the old holder's spans end here
    (counter(ticket="t1", held_since=T0 - T0 % 1000),
     counter(staff="binh", ticket="t1", held_since=T0 + 60_000, since=T0 + 60_000),
     T0 + 60_000, {"s_time|an|open": 60_000, "s_time|an|serving": 60_000}),
    # opened from closed: nothing booked yet
    (counter(state="closed", staff="", since=0), counter(), T0, {}),
])
def test_staff_time_from_the_counter_before_and_after(before: dict[str, Any],
                                                       after: dict[str, Any], at: int,
                                                       booked: dict[str, int]) -> None:
    deltas = project([event("counter_paused", at=at, before=before, counter=after)])
    assert {k: v for k, v in deltas.incr.get("m", {}).items()} == booked
    assert deltas.set["m"]["k|1"].startswith(f"{after['staff']}|{after['state']}|")


def test_rules_of_arithmetic() -> None:
    assert [bucket(ms, (60, 300)) for ms in (0, 60_000, 60_001, 300_000, 10**9)] == [
        1, 1, 2, 2, 3]
    assert wait_start(ticket(channel="transfer", arrived=1, issued=5)) == 5
    assert wait_start(ticket(arrived=1, issued=5)) == 1
    assert Deltas().is_empty()


async def test_two_replicas_apply_a_batch_once(engine: Engine) -> None:
    await engine.open_counter(C, "1", "an")
    for _ in range(5):
        await engine.issue(C, "results")
    first, second = (Projector(engine.runner, engine.province) for _ in range(2))
    center = [engine.province.center(C)]
    applied = await asyncio.gather(first.catch_up(center), second.catch_up(center))
    assert sum(applied) == 6                           # the 6 events, once in all
    metrics = flat_pairs((await engine.snapshot(C, metrics=True))["metrics"])
    assert metrics["issued|results|kiosk|none"] == "5"
    assert await first.catch_up(center) == 0 and await second.catch_up(center) == 0


async def test_an_unreadable_event_stops_its_center_and_is_reported(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    client = engine.runner.client
    await engine.issue(C, "results")
    await client.xadd(keys.center_stream_key(C), {"d": msgpack.packb(["issued", "x"])})
    await engine.issue(C, "results")
    await engine.issue("06862", "results")
    projector = Projector(engine.runner, engine.province)
    with caplog.at_level(logging.ERROR, "qms.projector"):
        await projector.catch_up([engine.province.center(C), engine.province.center("06862")])
    assert "projection of center 07054 stopped" in caplog.text
    assert projector.progress(C).stalled
    # Nothing after the bad event was applied, nor the bad one skipped; the other center ran.
    metrics = flat_pairs((await engine.snapshot(C, metrics=True))["metrics"])
    assert metrics["issued|results|kiosk|none"] == "1"
    checkpoint = (await client.hget(keys.center_key(C, "projection"), NAME)).decode()
    first = (await client.xrange(keys.center_stream_key(C)))[0][0].decode()
    assert checkpoint == first
    other = flat_pairs((await engine.snapshot("06862", metrics=True))["metrics"])
    assert other["issued|results|kiosk|none"] == "1"
    # /metrics reports the lag: the newest event is not in the figures.
    snap = await engine.snapshot(C, metrics=True)
    assert snap["unprojected_at"] is not None
