"""One center's queue as a pure, in-memory state machine: the reference for the Lua scripts.

Every method mirrors one script, including the order of its checks and of the events it
appends, so the same call gives the same records, the same events (as
``records.decode_event`` reads them), the same numbers and the same error class. Time is an
argument: the caller passes the instant the engine used. The day close runs first whenever
its instant has passed (lua/includes/day.lua). The offline simulation runs on this model too.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from queue_server.errors import (
    Conflict,
    CounterStateError,
    IllegalTransition,
    InvalidInput,
    UnknownCounter,
    UnknownService,
    UnknownTicket,
)
from queue_server.models import RENAMED, Ticket
from queue_server.province_model import Center, Province
from queue_server.records import TICKET_LAYOUT, ticket_view
from queue_server.rules.clock import local_datetime, local_day
from queue_server.rules.model_parts import (
    ModelCounter,
    ServiceRule,
    day_end,
    queue_suffix,
    whole_second,
)
from queue_server.rules.numbering import format_number, ticket_id
from queue_server.rules.routing import Head, RoutingPolicy, pick_next, source_order
from queue_server.rules.states import (
    BOOKING_LAPSES_TO,
    Action,
    CounterState,
    TicketStatus,
    allowed_text,
    is_legal,
    target_status,
)

WALK_IN_CHANNELS = ("kiosk", "online")
DEFAULT_POLICY = RoutingPolicy(2, 15 * 60_000)
CALENDAR_DAYS = 60  # as many closing instants as the engine writes (engine.CALENDAR_DAYS)
T = TicketStatus


@dataclass
class CenterModel:
    center_id: str
    services: Mapping[str, ServiceRule] = field(default_factory=dict)
    counter_services: Mapping[str, Sequence[str]] = field(default_factory=dict)
    priorities: Sequence[str] = ()
    reasons: Sequence[str] = ()
    policy: RoutingPolicy = DEFAULT_POLICY
    max_recalls: int = 2
    prefixes: Mapping[str, str] = field(default_factory=dict)  # services by prefix alone
    late_ms: int = 15 * 60_000
    closes: Sequence[int] = ()          # the instants the live day ends, ascending
    opened_at: int = 0
    tickets: dict[str, Ticket] = field(default_factory=dict)
    counters: dict[str, ModelCounter] = field(default_factory=dict)
    queues: dict[str, dict[str, int]] = field(default_factory=dict)
    sequences: dict[tuple[str, str], int] = field(default_factory=dict)
    booked: dict[str, int] = field(default_factory=dict)
    slots: dict[tuple[str, str, int], int] = field(default_factory=dict)
    citizens: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    day: str = ""
    closes_at: int = 0

    def __post_init__(self) -> None:
        if self.prefixes and not self.services:
            self.services = {s: ServiceRule(prefix) for s, prefix in self.prefixes.items()}
        for counter_id, services in self.counter_services.items():
            self.counters[counter_id] = ModelCounter(counter_id, list(services))
        self.day = self.day or local_day(self.opened_at)
        self.closes_at = self.closes_at or self._next_close(self.opened_at)

    @classmethod
    def for_center(cls, province: Province, center: Center, opened_at: int) -> CenterModel:
        """The model of one center as the engine syncs it (engine.center_config)."""
        policy = province.policy
        first = local_datetime(opened_at).date() - dt.timedelta(days=1)
        return cls(
            center_id=center.id,
            services={s.id: ServiceRule(s.prefix, s.typical_s, s.slot_minutes * 60_000)
                      for s in province.services},
            counter_services={c.id: c.services for c in center.counters},
            priorities=[p.id for p in province.priorities],
            reasons=[r.id for r in province.pause_reasons],
            policy=RoutingPolicy(policy.priority_max_in_row, policy.appointment_window_s * 1000),
            max_recalls=policy.max_recalls,
            late_ms=policy.appointment_late_s * 1000,
            closes=[c.at_ms for c in center.calendar.close_instants(first, CALENDAR_DAYS)],
            opened_at=opened_at,
        )

    # ------------------------------------------------------------------ the day

    def _next_close(self, after: int) -> int:
        index = bisect.bisect_right(self.closes, after)
        return self.closes[index] if index < len(self.closes) else day_end(after)

    def begin(self, now: int) -> None:
        """What every script does first: close the day if its instant has passed."""
        if now >= self.closes_at:
            self.close_day(now)

    def close_day(self, now: int) -> None:
        at = min(now, self.closes_at)
        closed = expired = 0
        for c in self.counters.values():
            if c.ticket:
                t = self.tickets[c.ticket]
                before = c.copy()
                c.ticket, c.held_since = "", 0
                if is_legal(Action.EXPIRE, t.status):
                    self._expire(t, at, c.copy(), before)
                    expired += 1
            if c.state is not CounterState.CLOSED:
                before = c.copy()
                c.state, c.staff, c.reason, c.streak, c.since = (
                    CounterState.CLOSED, "", "", 0, whole_second(at))
                self._emit("counter_closed", at, counter=c.copy(), before=before,
                           info={"reason": "day_close"})
                closed += 1
        for service in self.services:
            for queue_class in ("P", "A", "N"):
                expired += self._expire_queue(queue_suffix(queue_class, service), at)
        for counter_id in self.counters:
            for queue_class in ("KP", "K"):
                expired += self._expire_queue(queue_suffix(queue_class, counter_id), at)
        lapsed = 0
        for tid, appt in sorted(self.booked.items(), key=lambda item: (item[1], item[0])):
            if appt < day_end(at - 1):
                t = self.tickets[tid] = replace(self.tickets[tid], status=BOOKING_LAPSES_TO,
                                                ended=at)
                self._emit("no_show", at, ticket=t, info={"reason": "day_close"})
                del self.booked[tid]
                lapsed += 1
        closed_day = self.day
        self.day, self.opened_at, self.closes_at = local_day(now), now, self._next_close(now)
        self._emit("day_closed", at, totals=True, info={
            "day": closed_day, "expired": expired, "no_show": lapsed, "counters": closed})

    def _expire(self, t: Ticket, at: int, counter: ModelCounter | None = None,
                before: ModelCounter | None = None) -> None:
        t = self.tickets[t.id] = replace(t, status=target_status(Action.EXPIRE), ended=at,
                                         queue="")
        self._emit("expired", at, ticket=t, counter=counter, before=before)

    def _expire_queue(self, suffix: str, at: int) -> int:
        queue = self.queues.pop(suffix, {})
        for tid, _ in sorted(queue.items(), key=lambda item: (item[1], item[0])):
            self._expire(self.tickets[tid], at)
        return len(queue)

    # ------------------------------------------------------------------ counts and events

    def count(self, name: str) -> int:
        """A live count as the 'live' hash holds it (N:land, K:3, a:land, waiting …)."""
        if name in ("called", "serving"):
            return sum(1 for c in self.counters.values()
                       if c.ticket and self.tickets[c.ticket].status.value == name)
        if name == "waiting":
            return sum(len(q) for q in self.queues.values())
        kind, _, ident = name.partition(":")
        if kind == "a":
            return sum(1 for c in self.counters.values()
                       if c.state is CounterState.OPEN and ident in c.services)
        return len(self.queues.get(queue_suffix(kind, ident), {}))

    def service_waiting(self, service: str) -> int:
        return sum(self.count(f"{k}:{service}") for k in ("N", "A", "P"))

    def totals(self) -> dict[str, int]:
        return {name: self.count(name) for name in ("waiting", "called", "serving")}

    def _emit(self, kind: str, at: int, *, ticket: Ticket | None = None,
              counter: ModelCounter | None = None, before: ModelCounter | None = None,
              new_ticket: Ticket | None = None, totals: bool = False,
              waiting: Sequence[str] = (), info: dict[str, Any] | None = None) -> None:
        self.events.append({
            "type": kind, "at": at,
            "ticket": _ticket_map(ticket), "new_ticket": _ticket_map(new_ticket),
            "counter": counter.as_map() if counter else None,
            "before": before.as_map() if before else None,
            "totals": self.totals() if totals else None,
            "waiting": {s: self.service_waiting(s) for s in waiting},
            "info": info or {},
        })

    # ------------------------------------------------------------------ lookups and checks

    def _service(self, service: str) -> ServiceRule:
        if service not in self.services:
            raise UnknownService(f"unknown service {service}")
        return self.services[service]

    def _ticket(self, ticket: str) -> Ticket:
        if ticket not in self.tickets:
            raise UnknownTicket(f"unknown ticket {ticket}")
        return self.tickets[ticket]

    def _counter(self, counter: str) -> ModelCounter:
        if counter not in self.counters:
            raise UnknownCounter(f"unknown counter {counter}")
        return self.counters[counter]

    @staticmethod
    def _holder(c: ModelCounter, staff: str) -> None:
        if staff and c.staff != staff:
            raise CounterStateError(f"counter {c.id} is held by {c.staff or 'nobody'}")

    @staticmethod
    def _status(t: Ticket, action: Action) -> None:
        if not is_legal(action, t.status):
            raise IllegalTransition(f"cannot {action} ticket {t.number}: it is {t.status}, "
                                    f"expected {allowed_text(action)}")

    def _held(self, c: ModelCounter, action: Action) -> Ticket:
        if not c.ticket:
            raise IllegalTransition(f"cannot {action}: counter {c.id} has no ticket in hand")
        t = self.tickets[c.ticket]
        self._status(t, action)
        return t

    @staticmethod
    def _open_and_free(c: ModelCounter) -> None:
        if c.state is not CounterState.OPEN:
            raise CounterStateError(f"counter {c.id} is {c.state}, not open")
        if c.ticket:
            raise CounterStateError(f"counter {c.id} still has ticket {c.ticket} in hand")

    # ------------------------------------------------------------------ queues

    def _classify(self, t: Ticket, late_ms: int) -> str:
        if t.target_counter:
            return "KP" if t.priority else "K"
        if t.priority:
            return "P"
        if t.appt > 0 and t.arrived <= t.appt + late_ms:
            return "A"
        return "N"

    @staticmethod
    def _place(t: Ticket) -> tuple[str, int]:
        ident = t.target_counter if t.queue in ("K", "KP") else t.service
        return queue_suffix(t.queue, ident), t.appt if t.queue == "A" else t.arrived

    def _enqueue(self, t: Ticket) -> None:
        suffix, score = self._place(t)
        self.queues.setdefault(suffix, {})[t.id] = score

    def _dequeue(self, t: Ticket) -> Ticket:
        suffix, _ = self._place(t)
        del self.queues[suffix][t.id]
        return replace(t, queue="")

    def head(self, suffix: str) -> Head | None:
        queue = self.queues.get(suffix)
        if not queue:
            return None
        ticket, score = min(queue.items(), key=lambda item: (item[1], item[0]))
        return Head(score, ticket)

    def waiting(self, service: str) -> int:
        return self.service_waiting(service)

    def _number(self, day: str, service: str) -> tuple[str, str]:
        sequence = self.sequences.get((day, service), 0) + 1
        self.sequences[(day, service)] = sequence
        number = format_number(self.services[service].prefix, sequence)
        return ticket_id(self.center_id, day, number), number

    def _new_ticket(self, day: str, service: str, **values: Any) -> Ticket:
        tid, number = self._number(day, service)
        blank: dict[str, Any] = {name: default for name, default in _TICKET_DEFAULTS}
        return Ticket(**{**blank, "id": tid, "number": number, "service": service, **values})

    # ------------------------------------------------------------------ tickets

    def issue(self, now: int, service: str, channel: str = "kiosk", priority: str = "",
              token_hash: str = "", citizen_hash: str = "") -> Ticket:
        self.begin(now)
        self._service(service)
        if channel not in WALK_IN_CHANNELS:
            raise InvalidInput(f"channel must be kiosk or online, got {channel}")
        if priority and priority not in self.priorities:
            raise InvalidInput(f"unknown priority category {priority}")
        t = self._new_ticket(local_day(now), service, status=T.WAITING, priority=priority,
                             channel=channel, arrived=now, issued=now)
        t = self.tickets[t.id] = replace(t, queue=self._classify(t, 0))
        self._enqueue(t)
        self._emit("issued", now, ticket=t, totals=True, waiting=[service],
                   info={"citizen": citizen_hash, "token": token_hash})
        return t

    def ahead(self, ticket: str, now: int) -> int:
        """People before a waiting ticket as ticket_read.lua counts them (-1 unless waiting)."""
        t = self.tickets[ticket]
        if t.status is not T.WAITING:
            return -1
        suffix, _ = self._place(t)
        queue = self.queues[suffix]
        ahead = sorted(queue.items(), key=lambda item: (item[1], item[0])).index(
            (t.id, queue[t.id]))
        if t.queue == "K":
            ahead += self.count(f"KP:{t.target_counter}")
        elif t.queue == "N":
            due = now + self.policy.appointment_window_ms
            appointments = self.queues.get(queue_suffix("A", t.service), {})
            ahead += self.count(f"P:{t.service}") + sum(
                1 for score in appointments.values() if score <= due)
        elif t.queue == "A":
            ahead += self.count(f"P:{t.service}")
        return ahead

    def book(self, now: int, service: str, start: int, end: int, capacity: int,
             priority: str = "", token_hash: str = "", citizen_hash: str = "") -> Ticket:
        self.begin(now)
        self._service(service)
        if priority and priority not in self.priorities:
            raise InvalidInput(f"unknown priority category {priority}")
        if end <= start:
            raise InvalidInput(f"the appointment slot {start} is not valid")
        if start <= now:
            raise InvalidInput("the appointment time has passed")
        day = local_day(start)
        if self.slots.get((day, service, start), 0) >= capacity:
            raise Conflict(f"the {service} slot at {start} is fully booked")
        if citizen_hash:
            for other, other_start, other_end in self.citizens.get(citizen_hash, []):
                live = self.tickets[other].status in (T.BOOKED, T.WAITING)
                if other_start < end and other_end > start and live:
                    raise Conflict(f"overlapping booking {other}")
        t = self._new_ticket(day, service, status=T.BOOKED, priority=priority,
                             channel="appointment", issued=now, appt=start)
        self.tickets[t.id] = t
        self.booked[t.id] = start
        self.slots[(day, service, start)] = self.slots.get((day, service, start), 0) + 1
        if citizen_hash:
            self.citizens.setdefault(citizen_hash, []).append((t.id, start, end))
        self._emit("issued", now, ticket=t, info={"citizen": citizen_hash, "token": token_hash,
                                                  "slot_end": end})
        return t

    def check_in(self, now: int, ticket: str) -> Ticket:
        self.begin(now)
        t = self._ticket(ticket)
        self._status(t, Action.CHECK_IN)
        if local_day(t.appt) != local_day(now):
            raise IllegalTransition(f"ticket {t.number} is booked for another day")
        t = replace(t, status=T.WAITING, arrived=now)
        t = self.tickets[t.id] = replace(t, queue=self._classify(t, self.late_ms))
        self._enqueue(t)
        del self.booked[t.id]
        self._emit("checked_in", now, ticket=t, totals=True, waiting=[t.service])
        return t

    def _do_call(self, now: int, t: Ticket, c: ModelCounter, streak: int) -> Ticket:
        own = t.queue in ("K", "KP")
        before = c.copy()
        t = self._dequeue(t)
        t = self.tickets[t.id] = replace(t, status=T.CALLED, called=now, counter=c.id,
                                         staff=c.staff, recalls=0)
        c.ticket, c.streak, c.held_since = t.id, streak, whole_second(now)
        self._emit("called", now, ticket=t, counter=c.copy(), before=before, totals=True,
                   waiting=[] if own else [t.service])
        return t

    def call_next(self, now: int, counter: str, staff: str = "") -> Ticket | None:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        self._open_and_free(c)
        sources = source_order(c.id, c.services)
        heads = [self.head(s.suffix) for s in sources]
        pick = pick_next(sources, heads, c.streak, self.policy, now)
        if pick is None:
            return None
        return self._do_call(now, self.tickets[pick.ticket_id], c, pick.new_streak)

    def call_ticket(self, now: int, counter: str, ticket: str, staff: str = "") -> Ticket:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        self._open_and_free(c)
        t = self._ticket(ticket)
        self._status(t, Action.CALL)
        mine = (t.target_counter == c.id) if t.target_counter else t.service in c.services
        if not mine:
            raise CounterStateError(f"counter {c.id} does not serve ticket {t.number}")
        return self._do_call(now, t, c, c.streak)

    def _no_show(self, now: int, t: Ticket, c: ModelCounter, before: ModelCounter) -> Ticket:
        c.ticket, c.held_since = "", 0
        t = self.tickets[t.id] = replace(t, status=T.NO_SHOW, ended=now)
        self._emit("no_show", now, ticket=t, counter=c.copy(), before=before, totals=True)
        return t

    def recall(self, now: int, counter: str, staff: str = "") -> Ticket:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        t = self._held(c, Action.RECALL)
        if t.recalls >= self.max_recalls:
            return self._no_show(now, t, c, c.copy())
        t = self.tickets[t.id] = replace(t, recalls=t.recalls + 1)
        self._emit("recalled", now, ticket=t, counter=c.copy())
        return t

    def start(self, now: int, counter: str, staff: str = "") -> Ticket:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        t = self._held(c, Action.START)
        t = self.tickets[t.id] = replace(t, status=T.SERVING, started=now)
        self._emit("started", now, ticket=t, counter=c.copy(), totals=True)
        return t

    def complete(self, now: int, counter: str, staff: str = "") -> Ticket:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        t = self._held(c, Action.COMPLETE)
        before = c.copy()
        c.ticket, c.held_since = "", 0
        t = self.tickets[t.id] = replace(t, status=T.DONE, ended=now)
        self._emit("completed", now, ticket=t, counter=c.copy(), before=before, totals=True)
        return t

    def no_show(self, now: int, counter: str, staff: str = "") -> Ticket:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        return self._no_show(now, self._held(c, Action.NO_SHOW), c, c.copy())

    def transfer(self, now: int, ticket: str, counter: str = "", staff: str = "",
                 to_service: str = "", to_counter: str = "", note: str = "",
                 force: bool = False) -> tuple[Ticket, Ticket]:
        self.begin(now)
        t = self._ticket(ticket)
        self._status(t, Action.TRANSFER)
        c = None
        if t.status is not T.WAITING:
            c = self._counter(counter or t.counter)
            self._holder(c, staff)
            if c.ticket != t.id:
                raise CounterStateError(f"ticket {t.number} is not in hand at counter {c.id}")
        service = to_service or t.service
        self._service(service)
        if to_counter:
            target = self._counter(to_counter)
            if target.state is not CounterState.OPEN and not force:
                raise CounterStateError(f"counter {to_counter} is {target.state}")
        if service == t.service and not to_counter:
            raise InvalidInput("a transfer needs another service or a target counter")
        new = self._new_ticket(local_day(now), service, status=T.WAITING, priority=t.priority,
                               channel="transfer", arrived=t.arrived, issued=now,
                               from_ticket=t.id, note=note, target_counter=to_counter)
        new = replace(new, queue=self._classify(new, 0))
        waiting = []
        if t.status is T.WAITING:
            if t.queue not in ("K", "KP"):
                waiting.append(t.service)
            t = self._dequeue(t)
        self.tickets[new.id] = new
        self._enqueue(new)
        if new.queue not in ("K", "KP"):
            waiting.append(service)
        before = None
        if c is not None:
            before = c.copy()
            c.ticket, c.held_since = "", 0
        t = self.tickets[t.id] = replace(t, status=T.TRANSFERRED, to_ticket=new.id, ended=now,
                                         note=note)
        self._emit("transferred", now, ticket=t, counter=c.copy() if c else None, before=before,
                   new_ticket=new, totals=True, waiting=waiting)
        return t, new

    def cancel(self, now: int, ticket: str) -> Ticket:
        self.begin(now)
        t = self._ticket(ticket)
        self._status(t, Action.CANCEL)
        waiting: list[str] = []
        totals = False
        if t.status is T.BOOKED:
            del self.booked[t.id]
            slot = (local_day(t.appt), t.service, t.appt)
            if self.slots.get(slot, 0) > 0:
                self.slots[slot] -= 1
        else:
            if t.queue not in ("K", "KP"):
                waiting = [t.service]
            t = self._dequeue(t)
            totals = True
        t = self.tickets[t.id] = replace(t, status=T.CANCELLED, ended=now)
        self._emit("cancelled", now, ticket=t, totals=totals, waiting=waiting)
        return t

    def rate(self, now: int, ticket: str, level: int) -> Ticket:
        self.begin(now)
        t = self._ticket(ticket)
        if not 1 <= level <= 5:
            raise InvalidInput(f"rating must be a whole number from 1 to 5, got {level}")
        if t.status is not T.DONE:
            raise IllegalTransition(f"cannot rate ticket {t.number}: it is {t.status}")
        if t.rating:
            raise IllegalTransition(f"ticket {t.number} was already rated")
        t = self.tickets[t.id] = replace(t, rating=level)
        self._emit("rated", now, ticket=t)
        return t

    # ------------------------------------------------------------------ counters

    def open_counter(self, now: int, counter: str, staff: str, force: bool = False) -> None:
        self.begin(now)
        c = self._counter(counter)
        if not staff:
            raise InvalidInput("a counter is opened by a named staff member")
        if c.state is not CounterState.CLOSED and c.staff == staff:
            return
        if c.state is not CounterState.CLOSED and not force:
            raise CounterStateError(f"counter {c.id} is taken by {c.staff}")
        before = c.copy()
        if c.ticket:
            c.held_since = whole_second(now)
        c.state, c.staff, c.reason, c.since = CounterState.OPEN, staff, "", whole_second(now)
        self._emit("counter_opened", now, counter=c.copy(), before=before)

    def pause(self, now: int, counter: str, reason: str, staff: str = "") -> None:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        if reason not in self.reasons:
            raise InvalidInput(f"pause reason must be one of {list(self.reasons)}, got {reason}")
        if c.state is not CounterState.OPEN:
            raise CounterStateError(f"counter {c.id} is {c.state}, only an open counter pauses")
        if c.ticket:
            raise CounterStateError(f"counter {c.id} has ticket {c.ticket} in hand")
        before = c.copy()
        c.state, c.reason, c.since = CounterState.PAUSED, reason, whole_second(now)
        self._emit("counter_paused", now, counter=c.copy(), before=before)

    def resume(self, now: int, counter: str, staff: str = "") -> None:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        if c.state is not CounterState.PAUSED:
            raise CounterStateError(f"counter {c.id} is {c.state}, not paused")
        before = c.copy()
        c.state, c.reason, c.since = CounterState.OPEN, "", whole_second(now)
        self._emit("counter_resumed", now, counter=c.copy(), before=before)

    def close_counter(self, now: int, counter: str, staff: str = "") -> None:
        self.begin(now)
        c = self._counter(counter)
        self._holder(c, staff)
        if c.state is CounterState.CLOSED:
            raise CounterStateError(f"counter {c.id} is already closed")
        if c.ticket:
            raise CounterStateError(f"counter {c.id} has ticket {c.ticket} in hand")
        before = c.copy()
        for queue_class in ("KP", "K"):
            queue = self.queues.get(queue_suffix(queue_class, c.id), {})
            for tid, _ in sorted(queue.items(), key=lambda item: (item[1], item[0])):
                t = replace(self._dequeue(self.tickets[tid]), target_counter="")
                t = self.tickets[tid] = replace(t, queue=self._classify(t, 0))
                self._enqueue(t)
                self._emit("requeued", now, ticket=t, totals=True, waiting=[t.service],
                           info={"from_counter": c.id})
        c.state, c.staff, c.reason, c.streak, c.since = (
            CounterState.CLOSED, "", "", 0, whole_second(now))
        self._emit("counter_closed", now, counter=c.copy(), before=before)

    def set_services(self, now: int, counter: str, services: Sequence[str]) -> None:
        self.begin(now)
        c = self._counter(counter)
        if not services:
            raise InvalidInput("a counter serves at least one service")
        seen: set[str] = set()
        for service in services:
            self._service(service)
            if service in seen:
                raise InvalidInput(f"service {service} is listed twice")
            seen.add(service)
        before = c.copy()
        c.services = list(services)
        self._emit("counter_updated", now, counter=c.copy(), before=before)


def _ticket_map(t: Ticket | None) -> dict[str, Any] | None:
    return ticket_view(t.to_record()) if t is not None else None


# Every ticket field at its default (records.TICKET_LAYOUT), by its Python name.
_TICKET_DEFAULTS = tuple((RENAMED.get(name, name), default) for name, default in TICKET_LAYOUT)
