"""The day at one center as citizens and staff live it, over any backend and any clock.

:class:`CenterDay` is the one description of behaviour: citizens take kiosk tickets, book
online or for a slot and check in, give up after their patience (cancelling on the phone, or
just leaving), answer a call or not; staff open and close counters by the roster, call next,
recall, press no-show, start, complete, transfer and pause for breaks. It never decides who is
called: the backend does — :mod:`simulations.offline` on ``CenterModel`` (the engine's rules in
memory), :mod:`simulations.live` through the real HTTP API. The clock decides what "later"
means: a virtual clock jumps, the live clock maps simulated time onto wall time at a speed.

What happened is kept in a :class:`CenterRecord` (every ticket's stay, the waiting count's
steps, counters' open, busy and paused spans), from which :mod:`simulations.measures` computes
the figures.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from simulations.citizens import APPOINTMENT, KIOSK, ONLINE, Citizen
from simulations.demand import DemandProfile
from simulations.opening import Interval
from simulations.roster import Desk

Action = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Entry:
    """A ticket the backend made (or, for a booking, holds), and when (simulated ms)."""

    ticket: str
    at_ms: int


class Backend(Protocol):
    async def open_counter(self, center: str, counter: str, staff: str) -> None: ...
    async def close_counter(self, center: str, counter: str, staff: str) -> None: ...
    async def pause(self, center: str, counter: str, staff: str, reason: str) -> None: ...
    async def resume(self, center: str, counter: str, staff: str) -> None: ...
    async def issue(self, citizen: Citizen) -> Entry: ...
    async def book(self, citizen: Citizen) -> Entry: ...
    async def check_in(self, citizen: Citizen, ticket: str) -> Entry: ...
    async def cancel(self, citizen: Citizen, ticket: str) -> bool: ...
    async def call_next(self, center: str, counter: str, staff: str) -> Entry | None: ...
    async def recall(self, center: str, counter: str, staff: str) -> bool: ...
    async def start(self, center: str, counter: str, staff: str) -> None: ...
    async def complete(self, center: str, counter: str, staff: str) -> None: ...
    async def no_show(self, center: str, counter: str, staff: str) -> None: ...
    async def transfer(self, center: str, counter: str, staff: str, to_service: str) -> Entry: ...


class Clock(Protocol):
    def now(self) -> int: ...
    def at(self, when_ms: int, action: Action) -> None: ...
    async def spawn(self, action: Action) -> None: ...


@dataclass
class Visit:
    """One ticket's stay: from entering the queue to leaving it (simulated ms)."""

    ticket: str
    citizen: Citizen
    service: str
    channel: str
    entered_ms: int
    called_ms: int | None = None
    started_ms: int | None = None
    ended_ms: int | None = None
    outcome: str = "waiting"  # done, transferred, no_show, cancelled, expired
    gave_up_ms: int | None = None  # when the holder gave up (cancelled or left)
    second: bool = False      # the ticket a transfer made

    @property
    def gave_up(self) -> bool:
        return self.gave_up_ms is not None

    @property
    def wait_ms(self) -> int | None:
        return None if self.called_ms is None else self.called_ms - self.entered_ms


@dataclass
class CenterRecord:
    center: str
    visits: list[Visit] = field(default_factory=list)
    waiting_steps: list[tuple[int, int]] = field(default_factory=list)  # (ms, +1 | -1)
    staffed: list[tuple[int, int]] = field(default_factory=list)        # counter open spans
    busy: list[tuple[int, int]] = field(default_factory=list)           # call → counter free
    paused: list[tuple[int, int]] = field(default_factory=list)
    booked_unused: int = 0
    foreign_calls: list[str] = field(default_factory=list)  # tickets the day did not make


@dataclass
class DeskRun:
    desk: Desk
    staff: str
    breaks: list[int]
    state: str = "closed"  # closed | idle | acting | paused
    wanted: bool = False
    visit: Visit | None = None
    since_ms: int = 0      # open since
    busy_since_ms: int = 0
    paused_since_ms: int = 0


def break_times(seed: int, center: str, date_key: str, desks: list[Desk],
                intervals: tuple[Interval, ...], midnight_ms: int, per_interval: int
                ) -> dict[str, list[int]]:
    """When each counter's breaks fall due: uniform over the middle 60 % of each interval."""
    rng = random.Random(f"{seed}:{center}:{date_key}:breaks")
    out: dict[str, list[int]] = {}
    for desk in desks:
        times = []
        for start, end in intervals:
            for _ in range(per_interval):
                length = end - start
                times.append(midnight_ms + int((start + rng.uniform(0.2, 0.8) * length)
                                               * 60_000))
        out[desk.id] = sorted(times)
    return out


class CenterDay:
    """One center's day; :meth:`begin` schedules it, the clock runs it, :meth:`close` ends it."""

    def __init__(self, center: str, citizens: list[Citizen], desks: list[Desk],
                 changes: list[tuple[int, int]], breaks: dict[str, list[int]],
                 profile: DemandProfile, backend: Backend, clock: Clock,
                 staff_prefix: str = "sim") -> None:
        self.center, self.citizens, self.changes = center, citizens, changes
        self.profile, self.backend, self.clock = profile, backend, clock
        self.runs = [DeskRun(d, f"{staff_prefix}-{center}-{d.id}", list(breaks.get(d.id, [])))
                     for d in desks]
        self.record = CenterRecord(center)
        self.visits: dict[str, Visit] = {}
        self.booked: dict[str, str] = {}  # citizen key → ticket, appointments not checked in
        self.gone: set[str] = set()
        self.early: set[str] = set()
        self.unclaimed: dict[str, tuple[DeskRun, int]] = {}  # called before its entry landed
        self.entries = 0

    # ------------------------------------------------------------------ scheduling

    def begin(self) -> None:
        for when, wanted in self.changes:
            self.clock.at(when, partial(self._staff, wanted))
        for citizen in self.citizens:
            if citizen.channel == KIOSK:
                self.clock.at(citizen.arrive_ms, partial(self._kiosk, citizen))
            else:
                self.clock.at(citizen.book_ms, partial(self._book, citizen))
                if citizen.channel == APPOINTMENT and citizen.shows_up:
                    self.clock.at(citizen.arrive_ms, partial(self._check_in, citizen))

    def settled(self, now_ms: int) -> bool:
        """Nothing left to happen: everyone has come, nobody waits, no counter has anyone."""
        if self.early or any(max(c.arrive_ms, c.book_ms) > now_ms for c in self.citizens):
            return False
        if any(v.outcome == "waiting" for v in self.visits.values()):
            return False
        return all(run.state in ("closed", "idle", "paused") for run in self.runs)

    async def stop_staffing(self) -> None:
        """Close every counter now (each after the ticket in hand, if any)."""
        await self._staff(0)

    def close(self, now_ms: int) -> CenterRecord:
        """The day's end: whoever still waits expires, counters still open are closed."""
        for visit in self.visits.values():
            if visit.outcome == "waiting" and visit.called_ms is None:
                visit.outcome, visit.ended_ms = "expired", now_ms
                self.record.waiting_steps.append((now_ms, -1))
        for run in self.runs:
            if run.state in ("idle", "paused", "acting"):
                self._closed_span(run, now_ms)
        self.record.booked_unused = len(self.booked)
        self.record.foreign_calls = sorted(self.unclaimed)
        return self.record

    # ------------------------------------------------------------------ citizens

    async def _kiosk(self, citizen: Citizen) -> None:
        entry = await self.backend.issue(citizen)
        await self._enter(citizen, entry, KIOSK)

    async def _book(self, citizen: Citizen) -> None:
        entry = await self.backend.book(citizen)
        if citizen.channel == ONLINE:
            await self._enter(citizen, entry, ONLINE)
        else:
            self.booked[citizen.key] = entry.ticket
            if citizen.key in self.early:  # came in while the booking was still being made
                self.early.discard(citizen.key)
                await self._check_in(citizen)

    async def _check_in(self, citizen: Citizen) -> None:
        ticket = self.booked.pop(citizen.key, None)
        if ticket is None:  # live: the booking is still on its way; check in when it lands
            self.early.add(citizen.key)
            return
        entry = await self.backend.check_in(citizen, ticket)
        await self._enter(citizen, entry, APPOINTMENT)

    async def _enter(self, citizen: Citizen, entry: Entry, channel: str,
                     second: bool = False) -> None:
        visit = Visit(entry.ticket, citizen, citizen.transfer_to if second else citizen.service,
                      channel, entry.at_ms, second=second)
        self.visits[entry.ticket] = visit
        self.record.visits.append(visit)
        self.record.waiting_steps.append((entry.at_ms, +1))
        self.entries += 1
        claimed = self.unclaimed.pop(entry.ticket, None)
        if claimed is not None:  # a counter called it before this answer arrived (live)
            self._take(claimed[0], visit, claimed[1])
            return
        if not second:
            self.clock.at(entry.at_ms + citizen.patience_ms, lambda: self._give_up(visit))
        for run in self.runs:
            if run.state == "idle" and visit.service in run.desk.services:
                run.state = "acting"
                await self.clock.spawn(partial(self._call, run))
                break

    async def _give_up(self, visit: Visit) -> None:
        if visit.called_ms is not None or visit.outcome != "waiting":
            return
        self.gone.add(visit.citizen.key)
        visit.gave_up_ms = self.clock.now()
        if visit.citizen.cancels_when_leaving and await self.backend.cancel(
                visit.citizen, visit.ticket):
            visit.outcome, visit.ended_ms = "cancelled", self.clock.now()
            self.record.waiting_steps.append((visit.ended_ms, -1))

    def _present(self, visit: Visit) -> bool:
        citizen = visit.citizen
        if visit.second:
            return True
        return (citizen.arrive_ms <= self.clock.now() and citizen.key not in self.gone
                and not citizen.absent_when_called)

    # ------------------------------------------------------------------ counters

    async def _staff(self, wanted: int) -> None:
        for index, run in enumerate(self.runs):
            run.wanted = index < wanted
            if run.wanted and run.state == "closed":
                run.state = "acting"
                await self.clock.spawn(partial(self._open, run))
            elif not run.wanted and run.state in ("idle", "paused"):
                run.state = "acting"
                await self.clock.spawn(partial(self._close, run))

    async def _open(self, run: DeskRun) -> None:
        await self.backend.open_counter(self.center, run.desk.id, run.staff)
        run.since_ms = self.clock.now()
        await self._free(run)

    async def _close(self, run: DeskRun) -> None:
        await self.backend.close_counter(self.center, run.desk.id, run.staff)
        self._closed_span(run, self.clock.now())

    def _closed_span(self, run: DeskRun, now: int) -> None:
        if run.paused_since_ms:
            self.record.paused.append((run.paused_since_ms, now))
            run.paused_since_ms = 0
        self.record.staffed.append((run.since_ms, now))
        run.state = "closed"

    async def _free(self, run: DeskRun) -> None:
        """The counter has nothing in hand: close, take a break, or call the next citizen."""
        now = self.clock.now()
        if not run.wanted:
            await self._close(run)
        elif run.breaks and run.breaks[0] <= now:
            run.breaks.pop(0)
            await self.backend.pause(self.center, run.desk.id, run.staff,
                                     self.profile.break_reason)
            run.state, run.paused_since_ms = "paused", self.clock.now()
            self.clock.at(run.paused_since_ms + int(self.profile.break_s * 1000),
                          lambda: self._resume(run))
        else:
            await self._call(run)

    async def _resume(self, run: DeskRun) -> None:
        if run.state != "paused":  # closed meanwhile by the roster
            return
        run.state = "acting"
        await self.backend.resume(self.center, run.desk.id, run.staff)
        self.record.paused.append((run.paused_since_ms, self.clock.now()))
        run.paused_since_ms = 0
        await self._free(run)

    async def _call(self, run: DeskRun) -> None:
        run.state = "acting"
        while True:
            seen = self.entries
            called = await self.backend.call_next(self.center, run.desk.id, run.staff)
            if called is not None or self.entries == seen:
                break  # an empty answer stands unless someone entered while it was asked
        if called is None:
            run.state = "idle"
            if not run.wanted:  # the roster dropped it while it asked
                run.state = "acting"
                await self._close(run)
            return
        visit = self.visits.get(called.ticket)
        if visit is None:
            # Live: the answer that made this ticket (issue, booking, check-in, transfer) is
            # still on its way; the call goes on when it lands (_enter). A ticket the day never
            # made stays here and is reported at the close.
            self.unclaimed[called.ticket] = (run, called.at_ms)
            return
        self._take(run, visit, called.at_ms)

    def _take(self, run: DeskRun, visit: Visit, at_ms: int) -> None:
        visit.called_ms = at_ms
        self.record.waiting_steps.append((at_ms, -1))
        run.visit, run.busy_since_ms = visit, at_ms
        self._answer(run, visit, recalls=0)

    def _answer(self, run: DeskRun, visit: Visit, recalls: int) -> None:
        profile, now = self.profile, self.clock.now()
        slow = visit.citizen.slow_to_answer and recalls == 0 and not visit.second
        if self._present(visit) and not slow:
            due = now + int(profile.walk_up_s * 1000)
            self.clock.at(due, lambda: self._start(run, visit, due))
        elif recalls >= profile.no_show_after_recalls:
            self.clock.at(now + int(profile.recall_after_s * 1000),
                          lambda: self._no_show(run, visit))
        else:
            self.clock.at(now + int(profile.recall_after_s * 1000),
                          lambda: self._recall(run, visit, recalls))

    async def _recall(self, run: DeskRun, visit: Visit, recalls: int) -> None:
        if await self.backend.recall(self.center, run.desk.id, run.staff):
            self._answer(run, visit, recalls + 1)
        else:  # the recall limit of the rules made it a no-show
            await self._leave(run, visit, "no_show")

    async def _no_show(self, run: DeskRun, visit: Visit) -> None:
        await self.backend.no_show(self.center, run.desk.id, run.staff)
        await self._leave(run, visit, "no_show")

    async def _start(self, run: DeskRun, visit: Visit, due_ms: int) -> None:
        await self.backend.start(self.center, run.desk.id, run.staff)
        visit.started_ms = self.clock.now()
        citizen = visit.citizen
        duration = citizen.second_service_ms if visit.second else citizen.service_ms
        # From when the service was due, not when the answer came (but never less than half
        # of it): a live clock that lags on a loaded machine delays a step, but the delays do
        # not add up along the day.
        self.clock.at(max(due_ms, visit.started_ms - duration // 2) + duration,
                      lambda: self._finish(run, visit))

    async def _finish(self, run: DeskRun, visit: Visit) -> None:
        citizen = visit.citizen
        if citizen.transfer_to and not visit.second:
            entry = await self.backend.transfer(self.center, run.desk.id, run.staff,
                                                citizen.transfer_to)
            await self._leave(run, visit, "transferred", then_free=False)
            await self._enter(citizen, entry, "transfer", second=True)
            await self._free(run)
            return
        await self.backend.complete(self.center, run.desk.id, run.staff)
        await self._leave(run, visit, "done")

    async def _leave(self, run: DeskRun, visit: Visit, outcome: str,
                     then_free: bool = True) -> None:
        now = self.clock.now()
        visit.outcome, visit.ended_ms = outcome, now
        self.record.busy.append((run.busy_since_ms, now))
        run.visit = None
        if then_free:
            await self._free(run)
