"""Random operation sequences through the pure model and the real engine: same outcomes.

Each step runs on Redis first, then on ``CenterModel`` with the instant the engine used (the
``at`` of its answer). Both must raise the same error class or agree; after every step the
whole stored records (tickets and counters), the events appended to the stream (decoded,
field for field), the live counts, and the place, open counters and estimated wait of recent
tickets must be the model's. The clock moves through the day, past the closing instant and
into the next days, so the day close runs on both sides.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import msgpack
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from queue_server import keys
from queue_server.engine import Engine
from queue_server.errors import QmsError
from queue_server.models import Outcome, Ticket
from queue_server.projections import DAY_SERVED, DAY_SERVED_MS, day_key, project
from queue_server.projector import Projector
from queue_server.province import Province
from queue_server.records import COUNTER_FIELDS, counter_map, decode_event
from queue_server.rules.center_model import CenterModel
from queue_server.rules.clock import TIMEZONE, local_datetime
from queue_server.rules.eta import estimate_wait_seconds, mean_service_seconds
from tests.conftest import close_engine, make_engine, redis_ms, set_local_time

CENTER = "07054"
SERVICES = ["civil_status", "certification", "land", "passport"]  # passport is unknown
COUNTERS = ["1", "1", "2", "3", "9"]  # 9 is unknown
# "holder" stands for whoever holds the counter now, so most actions are legal ones.
STAFF = ["holder", "holder", "", "s3"]
PRIORITIES = ["", "elderly", "", "pregnant", "vip"]  # vip is not a statutory category
REASONS = ["break", "meeting", "nap"]
CITIZENS = ["", "", "c-1", "c-2"]
MINUTE = 60_000
T = TypeVar("T")


class EngineMatchesModel(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    engine: Engine
    province: Province
    seen: ClassVar[Counter[str]] = Counter()  # which paths the runs took, printed by the test

    def __init__(self) -> None:
        super().__init__()
        client = self.engine.runner.client
        self.run(client.flushdb())
        # A known time of day (09:00 local, today) before the center is written, so the day
        # it opens and its closing instant are the model's too.
        self.now = self.run(set_local_time(client, CENTER, "09:00"))
        self.run(self.engine.sync_center(self.province.center(CENTER)))
        opened = int(self.run(client.hget(keys.center_meta_key(CENTER), "opened_at")))
        self.model = CenterModel.for_center(self.province, self.province.center(CENTER), opened)
        self.ids: list[str] = []
        self.stream_seen = "0-0"
        self.events_checked = 0

    def run(self, coroutine: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coroutine)  # type: ignore[arg-type]

    def both(self, engine_call: Callable[[], Awaitable[Any]],
             model_call: Callable[[int], Any], when: Callable[[Any], int | None]) -> Any:
        """Run one operation on both sides; the model gets the engine's instant."""
        try:
            real = self.run(engine_call())
        except QmsError as error:
            self.seen[type(error).__name__] += 1
            with pytest.raises(type(error)):
                model_call(self.now)
            return None
        self.now = when(real) or self.now
        expected = model_call(self.now)
        return real, expected

    @staticmethod
    def at(outcome: Outcome) -> int:
        return outcome.at

    def staff(self, counter: str, who: str) -> str:
        if who != "holder":
            return who
        held = self.model.counters.get(counter)
        return held.staff if held is not None else ""

    def ticket_id(self, index: int) -> str:
        if not self.ids or index % 7 == 6:
            return f"{CENTER}-20200101-A001"  # well-formed but unknown
        return self.ids[index % len(self.ids)]

    def same_ticket(self, real: Ticket | None, expected: Ticket | None) -> None:
        assert real == expected
        if real is not None and real.id not in self.ids:
            self.ids.append(real.id)

    # ------------------------------------------------------------------ rules

    @initialize(waiting=st.lists(
        st.tuples(st.sampled_from(SERVICES[:3]), st.sampled_from(PRIORITIES[:4])),
        min_size=3, max_size=10))
    def open_day(self, waiting: list[tuple[str, str]]) -> None:
        """Most runs start like a morning: two counters open and a few citizens waiting."""
        for counter, staff in (("1", "s1"), ("2", "s2")):
            self.open_counter(counter, staff, False)
        for service, priority in waiting:
            self.issue(service, priority, "kiosk", "")

    @rule(service=st.sampled_from(SERVICES), priority=st.sampled_from(PRIORITIES),
          channel=st.sampled_from(["kiosk", "kiosk", "online", "phone"]),
          citizen=st.sampled_from(CITIZENS))
    def issue(self, service: str, priority: str, channel: str, citizen: str) -> None:
        result = self.both(
            lambda: self.engine.issue(CENTER, service, channel=channel, priority=priority or None,
                                      citizen_hash=citizen),
            lambda now: self.model.issue(now, service, channel, priority, citizen_hash=citizen),
            lambda t: t.issued,
        )
        if result:
            self.same_ticket(*result)

    @rule(service=st.sampled_from(SERVICES[:3]), slot=st.integers(-1, 40),
          tomorrow=st.booleans(), capacity=st.integers(1, 2),
          citizen=st.sampled_from(CITIZENS), priority=st.sampled_from(PRIORITIES[:2]))
    def book(self, service: str, slot: int, tomorrow: bool, capacity: int, citizen: str,
             priority: str) -> None:
        """A slot of 10 minutes from the next whole 10 minutes (-1: one already begun)."""
        base = self.now - self.now % (10 * MINUTE) + (24 * 60 * MINUTE if tomorrow else 0)
        start = base + (slot + 1) * 10 * MINUTE
        result = self.both(
            lambda: self.engine.book(CENTER, service, (start, start + 10 * MINUTE),
                                     capacity=capacity, priority=priority or None,
                                     citizen_hash=citizen),
            lambda now: self.model.book(now, service, start, start + 10 * MINUTE, capacity,
                                        priority, citizen_hash=citizen),
            lambda answer: answer[0].issued,
        )
        if result:
            self.same_ticket(result[0][0], result[1])
            self.seen["booked"] += 1

    @rule(service=st.sampled_from(SERVICES[:3]), slot=st.integers(0, 3),
          arrives=st.sampled_from([-40, -5, 10, 16, 30]))
    def arrives_for_appointment(self, service: str, slot: int, arrives: int) -> None:
        """A booking made for later today, and its holder checking in ``arrives`` minutes
        after the slot begins (in time, or late enough to wait as a walk-in)."""
        before = len(self.ids)
        self.book(service, slot, False, 2, "", "")
        if len(self.ids) == before:
            return
        ticket = self.model.tickets[self.ids[-1]]
        target = ticket.appt + arrives * MINUTE
        if target > self.now:
            client = self.engine.runner.client
            self.run(client.hset(keys.center_meta_key(CENTER), "clock",
                                 target - self.run(redis_ms(client))))
            self.now = target
        self._ticket_rule("check_in", len(self.ids) - 1)

    def _ticket_rule(self, name: str, index: int, *extra: Any) -> None:
        ticket = self.ticket_id(index)
        result = self.both(
            lambda: getattr(self.engine, name)(ticket, *extra),
            lambda now: getattr(self.model, name)(now, ticket, *extra),
            self.at,
        )
        if result:
            self.same_ticket(result[0].ticket, result[1])
            self.seen[name] += 1

    @rule(index=st.integers(0, 1000))
    def check_in(self, index: int) -> None:
        self._ticket_rule("check_in", index)

    @rule(index=st.integers(0, 1000))
    def cancel(self, index: int) -> None:
        self._ticket_rule("cancel", index)

    @rule(index=st.integers(0, 1000), level=st.integers(1, 5))
    def rate(self, index: int, level: int) -> None:
        self._ticket_rule("rate", index, level)

    @rule(counter=st.sampled_from(COUNTERS), staff=st.sampled_from(STAFF))
    def call_next(self, counter: str, staff: str) -> None:
        staff = self.staff(counter, staff)
        result = self.both(
            lambda: self.engine.call_next(CENTER, counter, staff),
            lambda now: self.model.call_next(now, counter, staff),
            self.at,
        )
        if result:
            self.same_ticket(result[0].ticket, result[1])
            if result[1] is not None:
                self.seen[f"call streak {self.model.counters[counter].streak}"] += 1

    @rule(counter=st.sampled_from(COUNTERS), staff=st.sampled_from(STAFF),
          index=st.integers(0, 1000))
    def call_ticket(self, counter: str, staff: str, index: int) -> None:
        staff = self.staff(counter, staff)
        ticket = self.ticket_id(index)
        result = self.both(
            lambda: self.engine.call_ticket(CENTER, counter, ticket, staff),
            lambda now: self.model.call_ticket(now, counter, ticket, staff),
            self.at,
        )
        if result:
            self.same_ticket(result[0].ticket, result[1])

    @rule(counter=st.sampled_from(["1", "1", "2"]),
          served=st.lists(st.sampled_from(["done", "done", "absent", "recalled", "gone"]),
                          min_size=1, max_size=5))
    def next_citizens(self, counter: str, served: list[str]) -> None:
        """A counter's working rhythm: finish the ticket in hand, call the next, again; a
        citizen may need a recall, or never come (recalled past the limit)."""
        for how in served:
            if self.model.counters[counter].ticket:
                if how in ("recalled", "gone"):
                    for _ in range(1 if how == "recalled" else 3):
                        self.counter_ticket_action("recall", counter, "holder")
                if how in ("done", "recalled"):
                    self.counter_ticket_action("start", counter, "holder")
                    self.counter_ticket_action("complete", counter, "holder")
                elif how == "absent":
                    self.counter_ticket_action("no_show", counter, "holder")
            self.call_next(counter, "holder")

    @rule(level=st.integers(1, 5))
    def served_and_rated(self, level: int) -> None:
        """Counter 1 calls, serves and completes; the citizen rates it on the tablet."""
        self.call_next("1", "holder")
        held = self.model.counters["1"].ticket
        if held:
            self.counter_ticket_action("start", "1", "holder")
            self.counter_ticket_action("complete", "1", "holder")
            self._ticket_rule("rate", self.ids.index(held) if held in self.ids else 0, level)

    @rule(action=st.sampled_from(["recall", "start", "complete", "no_show"]),
          counter=st.sampled_from(COUNTERS), staff=st.sampled_from(STAFF))
    def counter_ticket_action(self, action: str, counter: str, staff: str) -> None:
        staff = self.staff(counter, staff)
        result = self.both(
            lambda: getattr(self.engine, action)(CENTER, counter, staff),
            lambda now: getattr(self.model, action)(now, counter, staff),
            self.at,
        )
        if result:
            self.same_ticket(result[0].ticket, result[1])
            self.seen[f"{action} {result[1].status}"] += 1

    @rule(index=st.integers(0, 1000), counter=st.sampled_from(["", *COUNTERS]),
          staff=st.sampled_from(STAFF), to_service=st.sampled_from(["", *SERVICES]),
          to_counter=st.sampled_from(["", "", "3", "9"]), force=st.booleans())
    def transfer(self, index: int, counter: str, staff: str, to_service: str,
                 to_counter: str, force: bool) -> None:
        staff = self.staff(counter, staff)
        ticket = self.ticket_id(index)
        result = self.both(
            lambda: self.engine.transfer(ticket, counter=counter, staff=staff,
                                         to_service=to_service, to_counter=to_counter,
                                         force=force),
            lambda now: self.model.transfer(now, ticket, counter, staff, to_service,
                                            to_counter, force=force),
            self.at,
        )
        if result:
            real, (old, new) = result
            self.same_ticket(real.ticket, old)
            self.same_ticket(real.new_ticket, new)
            self.seen["transfer"] += 1

    @rule(index=st.integers(0, 1000), to_service=st.sampled_from(["", "land"]))
    def sent_to_a_counter_that_closes(self, index: int, to_service: str) -> None:
        """A citizen sent to one counter, which then closes: back to the service's queue."""
        self.open_counter("3", "s3", False)
        self.transfer(index, "", "", to_service, "3", False)
        self.resume_or_close("close_counter", "3", "holder")

    @rule(counter=st.sampled_from(COUNTERS), staff=st.sampled_from(["s1", "s2", "s3"]),
          force=st.booleans())
    def open_counter(self, counter: str, staff: str, force: bool) -> None:
        self.both(lambda: self.engine.open_counter(CENTER, counter, staff, force=force),
                  lambda now: self.model.open_counter(now, counter, staff, force), self.at)

    @rule(counter=st.sampled_from(COUNTERS), staff=st.sampled_from(STAFF),
          reason=st.sampled_from(REASONS))
    def pause(self, counter: str, staff: str, reason: str) -> None:
        staff = self.staff(counter, staff)
        self.both(lambda: self.engine.pause(CENTER, counter, reason, staff),
                  lambda now: self.model.pause(now, counter, reason, staff), self.at)

    @rule(counter=st.sampled_from(["1", "2"]), reason=st.sampled_from(REASONS[:2]),
          minutes=st.booleans())
    def a_break(self, counter: str, reason: str, minutes: bool) -> None:
        """A counter's break: paused with a reason, time passes or not, resumed."""
        self.pause(counter, "holder", reason)
        if minutes:
            self.clock_moves("minutes")
        self.resume_or_close("resume", counter, "holder")

    @rule(action=st.sampled_from(["resume", "close_counter"]),
          counter=st.sampled_from(COUNTERS), staff=st.sampled_from(STAFF))
    def resume_or_close(self, action: str, counter: str, staff: str) -> None:
        staff = self.staff(counter, staff)
        self.both(lambda: getattr(self.engine, action)(CENTER, counter, staff),
                  lambda now: getattr(self.model, action)(now, counter, staff), self.at)

    @rule(counter=st.sampled_from(COUNTERS),
          services=st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3))
    def set_services(self, counter: str, services: list[str]) -> None:
        self.both(lambda: self.engine.set_counter_services(CENTER, counter, services),
                  lambda now: self.model.set_services(now, counter, services), self.at)

    @rule(step=st.sampled_from(["minutes", "minutes", "close", "tomorrow"]))
    def clock_moves(self, step: str) -> None:
        """Time passes: a few minutes, past the day's closing instant, or to 09:00 of the next
        day. The next script closes the day first if its instant has passed (the scheduler's
        close_day is the same step, taken here half of the time)."""
        target = {"minutes": self.now + 7 * MINUTE,
                  "close": self.model.closes_at + MINUTE,
                  "tomorrow": 0}[step]
        client = self.engine.runner.client
        if step == "tomorrow":
            days = (local_datetime(self.now).date() - dt.datetime.now(TIMEZONE).date()).days
            target = self.run(set_local_time(client, CENTER, "09:00", days=days + 1))
        else:
            offset = target - self.run(redis_ms(client))
            self.run(client.hset(keys.center_meta_key(CENTER), "clock", offset))
        self.now = target
        self.seen[f"clock {step}"] += 1
        if step != "minutes" and len(self.ids) % 2 == 0:
            closed, _ = self.run(self.engine.close_day_if_due(CENTER))
            if self.now >= self.model.closes_at:
                self.model.close_day(self.now)
            assert closed
            self.seen["scheduler closed"] += 1

    # ------------------------------------------------------------------ invariants

    @invariant()
    def stream_is_the_models_events(self) -> None:
        client = self.engine.runner.client
        entries = self.run(client.xrange(keys.center_stream_key(CENTER),
                                         min=f"({self.stream_seen}"))
        real = [decode_event(fields[b"d"], CENTER) for _, fields in entries]
        expected = self.model.events[self.events_checked:]
        assert [e["type"] for e in real] == [e["type"] for e in expected]
        for got, want in zip(real, expected, strict=True):
            got = {k: v for k, v in got.items() if k not in ("center", "actor", "origin")}
            assert got == want, got["type"]
            self.seen[f"event {got['type']}"] += 1
        if entries:
            self.stream_seen = entries[-1][0].decode()
        self.events_checked = len(self.model.events)

    @invariant()
    def records_agree(self) -> None:
        client = self.engine.runner.client
        ids = list(self.model.tickets)
        if ids:
            pipe = client.pipeline(transaction=False)
            for ticket_id in ids:
                pipe.hget(keys.ticket_key(CENTER, ticket_id), "r")
            for ticket_id, raw in zip(ids, self.run(pipe.execute()), strict=True):
                assert msgpack.unpackb(raw) == self.model.tickets[ticket_id].to_record()
        for counter_id, model_counter in self.model.counters.items():
            raw = self.run(client.get(keys.counter_key(CENTER, counter_id)))
            stored = counter_map(msgpack.unpackb(raw))
            assert stored == model_counter.as_map(), counter_id
            assert set(stored) == set(COUNTER_FIELDS)

    @invariant()
    def counts_agree(self) -> None:
        snapshot = self.run(self.engine.snapshot(CENTER))
        assert snapshot["totals"] == self.model.totals()
        for service in snapshot["services"]:
            sid = service["id"]
            assert [service["normal"], service["appointment"], service["priority"]] == [
                self.model.count(f"{k}:{sid}") for k in ("N", "A", "P")]
            assert service["load"]["active"] == self.model.count(f"a:{sid}")
        for counter in snapshot["counters"]:
            cid = counter["id"]
            assert counter["queued"] == self.model.count(f"K:{cid}") + self.model.count(
                f"KP:{cid}")

    @invariant()
    def places_and_waits_agree(self) -> None:
        """The estimated wait reads today's completions from the projection: project the
        engine's stream, and compute the model's from its own events the same way."""
        self.run(Projector(self.engine.runner, self.province).catch_up(
            [self.province.center(CENTER)]))
        day = project(self.model.events).incr.get(day_key(self.now), {})
        for ticket_id in self.ids[-3:]:
            state = self.run(self.engine.ticket(ticket_id))
            t = self.model.tickets[ticket_id]
            assert state.ticket == t
            ahead = self.model.ahead(ticket_id, self.now)
            assert (state.ahead if state.ahead is not None else -1) == ahead
            active = self.model.count(f"a:{t.service}")
            if t.target_counter:
                target = self.model.counters[t.target_counter]
                active = 1 if target.state.value == "open" else 0
            assert state.active_counters == active
            rule = self.model.services[t.service]
            mean = mean_service_seconds(day.get(DAY_SERVED_MS + t.service, 0),
                                        day.get(DAY_SERVED + t.service, 0), rule.typical_s)
            expected = estimate_wait_seconds(ahead, active, mean) if ahead >= 0 else None
            assert state.estimated_wait_s == expected


def test_engine_and_model_agree(redis_url: str, province: Province) -> None:
    loop = asyncio.new_event_loop()
    try:
        engine = loop.run_until_complete(make_engine(redis_url, province))
        EngineMatchesModel.loop, EngineMatchesModel.engine = loop, engine
        EngineMatchesModel.province = province
        runner = EngineMatchesModel.TestCase()
        runner.settings = settings(
            max_examples=int(os.environ.get("QMS_MODEL_EXAMPLES", "60")),
            stateful_step_count=50, deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        runner.runTest()
        seen = dict(EngineMatchesModel.seen)
        print(seen)
        # Every transition and the day close were taken, not only refused.
        for path in ("event issued", "event called", "event completed", "event expired",
                     "event day_closed", "event checked_in", "event transferred",
                     "event requeued", "event rated", "event cancelled", "event recalled",
                     "event counter_paused", "event counter_resumed", "event counter_closed",
                     "event counter_updated", "booked", "scheduler closed"):
            assert seen.get(path), f"no run took {path}: {seen}"
        loop.run_until_complete(close_engine(engine))
    finally:
        loop.close()
