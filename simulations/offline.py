"""The day offline: :class:`~simulations.process.CenterDay` on ``CenterModel`` and a virtual clock.

``CenterModel`` is the engine's own rules in memory (routing, priority interleave, numbering,
the lifecycle), the reference the Lua scripts are tested against, so the offline day calls the
same tickets the server would. The clock is a heap of events in simulated milliseconds; the
backend never waits, so every coroutine runs to its end at once and no event loop is needed.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from queue_server.errors import IllegalTransition
from queue_server.province import Center, Province
from queue_server.rules.center_model import CenterModel
from queue_server.rules.routing import RoutingPolicy
from queue_server.rules.states import TicketStatus
from simulations.citizens import APPOINTMENT, Citizen, draw_citizens
from simulations.demand import DemandProfile
from simulations.opening import local_midnight_ms, opening_intervals
from simulations.process import Action, CenterDay, CenterRecord, Entry, break_times
from simulations.roster import Desk, Roster, change_points, desks, full_roster


def run_now(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never suspends (the offline backend answers at once)."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("an offline simulation step waited for something")


class VirtualClock:
    def __init__(self, start_ms: int) -> None:
        self._now = start_ms
        self._events: list[tuple[int, int, Action]] = []
        self._order = 0

    def now(self) -> int:
        return self._now

    def at(self, when_ms: int, action: Action) -> None:
        self._order += 1
        heapq.heappush(self._events, (max(when_ms, self._now), self._order, action))

    async def spawn(self, action: Action) -> None:
        await action()

    def run(self, until_ms: int | None = None) -> None:
        while self._events and (until_ms is None or self._events[0][0] <= until_ms):
            self._now, _, action = heapq.heappop(self._events)
            run_now(action())  # type: ignore[arg-type]


class ModelBackend:
    """One center's ``CenterModel``, answering as the engine would, at the clock's time."""

    def __init__(self, province: Province, center: Center, counters: list[Desk],
                 clock: VirtualClock) -> None:
        policy = province.policy
        self.clock = clock
        self.model = CenterModel(
            center_id=center.id, prefixes={s.id: s.prefix for s in province.services},
            counter_services={d.id: list(d.services) for d in counters},
            priorities=[p.id for p in province.priorities],
            reasons=[r.id for r in province.pause_reasons],
            policy=RoutingPolicy(policy.priority_max_in_row, policy.appointment_window_s * 1000),
            max_recalls=policy.max_recalls)

    def _entry(self, ticket: str) -> Entry:
        return Entry(ticket, self.clock.now())

    async def open_counter(self, center: str, counter: str, staff: str) -> None:
        self.model.open_counter(self.clock.now(), counter, staff)

    async def close_counter(self, center: str, counter: str, staff: str) -> None:
        self.model.close_counter(self.clock.now(), counter, staff)

    async def pause(self, center: str, counter: str, staff: str, reason: str) -> None:
        self.model.pause(self.clock.now(), counter, reason, staff)

    async def resume(self, center: str, counter: str, staff: str) -> None:
        self.model.resume(self.clock.now(), counter, staff)

    async def issue(self, citizen: Citizen) -> Entry:
        ticket = self.model.issue(self.clock.now(), citizen.service, "kiosk", citizen.priority)
        return self._entry(ticket.id)

    async def book(self, citizen: Citizen) -> Entry:
        # "Join now" online is a walk-in of channel "online"; an appointment books its slot
        # (the simulation drew a slot with room: capacity is not what it studies).
        now = self.clock.now()
        if citizen.channel != APPOINTMENT:
            return self._entry(self.model.issue(now, citizen.service, "online").id)
        rule = self.model.services[citizen.service]
        ticket = self.model.book(now, citizen.service, citizen.slot_ms,
                                 citizen.slot_ms + rule.slot_ms, capacity=1 << 30)
        return self._entry(ticket.id)

    async def check_in(self, citizen: Citizen, ticket: str) -> Entry:
        return self._entry(self.model.check_in(self.clock.now(), ticket).id)

    async def cancel(self, citizen: Citizen, ticket: str) -> bool:
        try:
            self.model.cancel(self.clock.now(), ticket)
        except IllegalTransition:
            return False
        return True

    async def call_next(self, center: str, counter: str, staff: str) -> Entry | None:
        ticket = self.model.call_next(self.clock.now(), counter, staff)
        return None if ticket is None else self._entry(ticket.id)

    async def recall(self, center: str, counter: str, staff: str) -> bool:
        ticket = self.model.recall(self.clock.now(), counter, staff)
        return ticket.status is TicketStatus.CALLED

    async def start(self, center: str, counter: str, staff: str) -> None:
        self.model.start(self.clock.now(), counter, staff)

    async def complete(self, center: str, counter: str, staff: str) -> None:
        self.model.complete(self.clock.now(), counter, staff)

    async def no_show(self, center: str, counter: str, staff: str) -> None:
        self.model.no_show(self.clock.now(), counter, staff)

    async def transfer(self, center: str, counter: str, staff: str, to_service: str) -> Entry:
        held = self.model.counters[counter].ticket
        _, new = self.model.transfer(self.clock.now(), held, counter, staff,
                                     to_service=to_service)
        return self._entry(new.id)


@dataclass(frozen=True)
class Window:
    """The part of the day to simulate (simulated ms); citizens entering outside are left out."""

    start_ms: int
    end_ms: int


def day_plan(province: Province, profile: DemandProfile, center: Center, date: dt.date,
             seed: int, roster: Roster | None, window: Window | None = None
             ) -> tuple[list[Citizen], list[Desk], list[tuple[int, int]], dict[str, list[int]]]:
    """What a day at a center consists of: citizens, counters, roster changes, breaks; the
    same for the offline day and the live driver."""
    intervals = opening_intervals(province, center, date)
    midnight = local_midnight_ms(date)
    roster = roster if roster is not None else full_roster(center, intervals)
    demanded = [s for s, d in profile.services.items() if d.share > 0]
    counters = desks(center, demanded, max(roster.values(), default=0))
    grace = int(profile.serve_after_closing_s * 1000)
    changes = change_points(roster, intervals, midnight, grace)
    citizens = draw_citizens(profile, province, center, date, seed)
    if window is not None:
        citizens = [c for c in citizens
                    if window.start_ms <= c.queue_entry_ms < window.end_ms]
        changes = [(max(t, window.start_ms), n) for t, n in changes if t < window.end_ms]
        changes.append((window.end_ms + grace, 0))
    breaks = break_times(seed, center.id, date.isoformat(), counters, intervals, midnight,
                         profile.breaks_per_interval)
    return citizens, counters, changes, breaks


def simulate_day(province: Province, profile: DemandProfile, center: Center, date: dt.date,
                 seed: int, roster: Roster | None = None,
                 window: Window | None = None) -> CenterRecord:
    """One replication of one center's day on ``CenterModel``."""
    citizens, counters, changes, breaks = day_plan(province, profile, center, date, seed,
                                                   roster, window)
    clock = VirtualClock(local_midnight_ms(date))
    day = CenterDay(center.id, citizens, counters, changes, breaks, profile,
                    ModelBackend(province, center, counters, clock), clock)
    day.begin()
    clock.run()
    return day.close(clock.now())
