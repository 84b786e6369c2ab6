"""Random operation sequences through the pure model and the real engine: same outcomes.

Each step runs on Redis first, then on ``CenterModel`` with the instant the engine used (read
from the ticket it returned). Both must raise the same error class or return the same ticket,
number and status; after every step the counters and every ticket's status must agree.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from queue_server.engine import Engine
from queue_server.errors import QmsError
from queue_server.keys import center_prefix
from queue_server.models import Ticket
from queue_server.province import Province
from queue_server.rules.center_model import CenterModel, ModelTicket
from queue_server.rules.routing import RoutingPolicy
from tests.conftest import close_engine, make_engine

CENTER = "07054"
SERVICES = ["civil_status", "certification", "land", "passport"]  # passport is unknown
COUNTERS = ["1", "1", "2", "3", "9"]  # 9 is unknown
# "holder" stands for whoever holds the counter now, so most actions are legal ones.
STAFF = ["holder", "holder", "", "s3"]
PRIORITIES = ["", "elderly", "", "pregnant", "vip"]  # vip is not a statutory category
REASONS = ["break", "meeting", "nap"]
HOUR_MS = 3_600_000
T = TypeVar("T")


class EngineMatchesModel(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    engine: Engine
    province: Province
    seen: ClassVar[Counter[str]] = Counter()  # which paths the runs took, printed by the test

    def __init__(self) -> None:
        super().__init__()
        self.run(self.engine.runner.client.flushdb())
        center = self.province.center(CENTER)
        self.run(self.engine.sync_center(center))
        policy = self.province.policy
        self.model = CenterModel(
            center_id=CENTER,
            prefixes={s.id: s.prefix for s in self.province.services},
            counter_services={c.id: c.services for c in center.counters},
            priorities=[p.id for p in self.province.priorities],
            reasons=[r.id for r in self.province.pause_reasons],
            policy=RoutingPolicy(policy.priority_max_in_row, policy.appointment_window_s * 1000),
            max_recalls=policy.max_recalls,
        )
        self.ids: list[str] = []
        self.now = int(time.time() * 1000)

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

    def staff(self, counter: str, who: str) -> str:
        if who != "holder":
            return who
        held = self.model.counters.get(counter)
        return held.staff if held is not None else ""

    def ticket_id(self, index: int) -> str:
        if not self.ids or index % 7 == 6:
            return f"{CENTER}-20200101-A001"  # well-formed but unknown
        return self.ids[index % len(self.ids)]

    def same_ticket(self, real: Ticket | None, expected: ModelTicket | None) -> None:
        if expected is None:
            assert real is None
            return
        assert real is not None
        assert (real.id, real.number, real.status.value) == (
            expected.id, expected.number, expected.status.value)
        if real.id not in self.ids:
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
            self.issue(service, priority, "walk_in")

    @rule(service=st.sampled_from(SERVICES), priority=st.sampled_from(PRIORITIES),
          kind=st.sampled_from(["walk_in", "walk_in", "online", "due", "later"]))
    def issue(self, service: str, priority: str, kind: str) -> None:
        wall = int(time.time() * 1000)
        appt = {"due": wall - HOUR_MS, "later": wall + 2 * HOUR_MS}.get(kind, 0)
        booked = appt > 0
        channel = "kiosk" if kind == "walk_in" else "online"
        result = self.both(
            lambda: self.engine.issue(CENTER, service, channel=channel, priority=priority or None,
                                      appointment_ms=appt, booked=booked),
            lambda now: self.model.issue(now, service, channel, priority, appt, booked),
            lambda t: t.issued,
        )
        if result:
            self.same_ticket(*result)

    def _ticket_rule(self, name: str, index: int, *extra: Any) -> None:
        ticket = self.ticket_id(index)
        result = self.both(
            lambda: getattr(self.engine, name)(ticket, *extra),
            lambda now: getattr(self.model, name)(now, ticket, *extra),
            lambda o: o.ticket.arrived if name == "check_in" else None,
        )
        if result:
            self.same_ticket(result[0].ticket, result[1])

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
            lambda o: o.ticket.called if o.ticket else None,
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
            lambda o: o.ticket.called,
        )
        if result:
            self.same_ticket(result[0].ticket, result[1])

    @rule(counter=st.sampled_from(["1", "1", "2"]), served=st.lists(st.booleans(), min_size=1,
                                                                    max_size=5))
    def next_citizens(self, counter: str, served: list[bool]) -> None:
        """A counter's working rhythm: finish the ticket in hand, call the next, again."""
        for done in served:
            if self.model.counters[counter].ticket:
                if done:
                    self.counter_ticket_action("start", counter, "holder")
                    self.counter_ticket_action("complete", counter, "holder")
                else:
                    self.counter_ticket_action("no_show", counter, "holder")
            self.call_next(counter, "holder")

    @rule(action=st.sampled_from(["recall", "start", "complete", "no_show"]),
          counter=st.sampled_from(COUNTERS), staff=st.sampled_from(STAFF))
    def counter_ticket_action(self, action: str, counter: str, staff: str) -> None:
        staff = self.staff(counter, staff)
        result = self.both(
            lambda: getattr(self.engine, action)(CENTER, counter, staff),
            lambda now: getattr(self.model, action)(now, counter, staff),
            lambda o: None,
        )
        if result:
            self.same_ticket(result[0].ticket, result[1])
            self.seen[f"{action} {result[1].status}"] += 1

    @rule(index=st.integers(0, 1000), counter=st.sampled_from(["", *COUNTERS]),
          staff=st.sampled_from(STAFF), to_service=st.sampled_from(["", *SERVICES]),
          to_counter=st.sampled_from(["", "", "3", "9"]))
    def transfer(self, index: int, counter: str, staff: str, to_service: str,
                 to_counter: str) -> None:
        staff = self.staff(counter, staff)
        ticket = self.ticket_id(index)
        result = self.both(
            lambda: self.engine.transfer(ticket, counter=counter, staff=staff,
                                         to_service=to_service, to_counter=to_counter),
            lambda now: self.model.transfer(now, ticket, counter, staff, to_service, to_counter),
            lambda o: o.new_ticket.issued,
        )
        if result:
            real, (old, new) = result
            self.same_ticket(real.ticket, old)
            self.same_ticket(real.new_ticket, new)
            assert real.new_ticket.arrived == old.arrived
            self.seen["transfer"] += 1

    @rule(counter=st.sampled_from(COUNTERS), staff=st.sampled_from(["s1", "s2", "s3"]),
          force=st.booleans())
    def open_counter(self, counter: str, staff: str, force: bool) -> None:
        self.both(lambda: self.engine.open_counter(CENTER, counter, staff, force=force),
                  lambda now: self.model.open_counter(now, counter, staff, force), lambda o: None)

    @rule(counter=st.sampled_from(COUNTERS), staff=st.sampled_from(STAFF),
          reason=st.sampled_from(REASONS))
    def pause(self, counter: str, staff: str, reason: str) -> None:
        staff = self.staff(counter, staff)
        self.both(lambda: self.engine.pause(CENTER, counter, reason, staff),
                  lambda now: self.model.pause(now, counter, reason, staff), lambda o: None)

    @rule(action=st.sampled_from(["resume", "close_counter"]),
          counter=st.sampled_from(COUNTERS), staff=st.sampled_from(STAFF))
    def resume_or_close(self, action: str, counter: str, staff: str) -> None:
        staff = self.staff(counter, staff)
        self.both(lambda: getattr(self.engine, action)(CENTER, counter, staff),
                  lambda now: getattr(self.model, action)(now, counter, staff), lambda o: None)

    @rule(counter=st.sampled_from(COUNTERS),
          services=st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3))
    def set_services(self, counter: str, services: list[str]) -> None:
        self.both(lambda: self.engine.set_counter_services(CENTER, counter, services),
                  lambda now: self.model.set_services(now, counter, services), lambda o: None)

    # ------------------------------------------------------------------ invariants

    def zcard(self, suffix: str) -> int:
        key = center_prefix(CENTER) + suffix
        return int(self.run(self.engine.runner.client.zcard(key)))

    @invariant()
    def counters_and_tickets_agree(self) -> None:
        snapshot = self.run(self.engine.snapshot(CENTER))
        for counter in snapshot["counters"]:
            expected = self.model.counters[counter["id"]]
            assert (counter["state"], counter["staff"], counter["ticket"], counter["streak"]) == (
                expected.state.value, expected.staff, expected.ticket, expected.streak)
            assert counter["services"] == ",".join(expected.services)
        for service in snapshot["services"]:
            assert service["waiting"] == self.model.waiting(service["id"])
            # The counts the scripts keep incrementally agree with the queues themselves.
            assert [service["normal"], service["appointment"], service["priority"]] == [
                self.zcard(suffix + service["id"]) for suffix in ("q:", "qa:", "qp:")]
            open_here = sum(1 for c in self.model.counters.values()
                            if c.state.value == "open" and service["id"] in c.services)
            assert service["load"]["active"] == open_here
        for counter in snapshot["counters"]:
            assert counter["queued"] == self.zcard(f"qk:{counter['id']}") + self.zcard(
                f"qkp:{counter['id']}")
        statuses = Counter(t.status.value for t in self.model.tickets.values())
        assert snapshot["totals"] == {name: statuses[name]
                                      for name in ("waiting", "called", "serving")}
        for ticket_id in self.ids[-3:]:
            state = self.run(self.engine.ticket(ticket_id))
            assert state.ticket.status == self.model.tickets[ticket_id].status


def test_engine_and_model_agree(redis_url: str, province: Province) -> None:
    loop = asyncio.new_event_loop()
    try:
        engine = loop.run_until_complete(make_engine(redis_url, province))
        EngineMatchesModel.loop, EngineMatchesModel.engine = loop, engine
        EngineMatchesModel.province = province
        runner = EngineMatchesModel.TestCase()
        runner.settings = settings(
            max_examples=80, stateful_step_count=50, deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        runner.runTest()
        print(dict(EngineMatchesModel.seen))
        loop.run_until_complete(close_engine(engine))
    finally:
        loop.close()

