"""One center's queue as a pure, in-memory state machine: the reference for the Lua scripts.

Every method mirrors one script, including the order of its checks, so the same call gives the
same ticket, the same statuses, the same numbers and the same error class. Time is an argument:
the caller passes the instant the engine used. The offline simulation runs on this model too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from queue_server.errors import (
    CounterStateError,
    IllegalTransition,
    InvalidInput,
    UnknownCounter,
    UnknownService,
    UnknownTicket,
)
from queue_server.rules.clock import local_day
from queue_server.rules.numbering import format_number, ticket_id
from queue_server.rules.routing import (
    Head,
    QueueClass,
    RoutingPolicy,
    counter_queue_suffix,
    pick_next,
    service_queue_suffix,
    source_order,
)
from queue_server.rules.states import Action, CounterState, TicketStatus, is_legal

CHANNELS = ("kiosk", "online", "appointment")


@dataclass
class ModelTicket:
    id: str
    number: str
    service: str
    status: TicketStatus
    priority: str
    channel: str
    arrived: int
    issued: int
    appt: int
    counter: str = ""
    staff: str = ""
    recalls: int = 0
    rating: int = 0
    target_counter: str = ""
    from_ticket: str = ""
    to_ticket: str = ""


@dataclass
class ModelCounter:
    id: str
    services: list[str]
    state: CounterState = CounterState.CLOSED
    staff: str = ""
    ticket: str = ""
    reason: str = ""
    streak: int = 0


@dataclass
class CenterModel:
    center_id: str
    prefixes: dict[str, str]
    counter_services: Mapping[str, Sequence[str]]
    priorities: Sequence[str]
    reasons: Sequence[str]
    policy: RoutingPolicy
    max_recalls: int
    tickets: dict[str, ModelTicket] = field(default_factory=dict)
    counters: dict[str, ModelCounter] = field(default_factory=dict)
    queues: dict[str, dict[str, int]] = field(default_factory=dict)
    sequences: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for counter_id, services in self.counter_services.items():
            self.counters[counter_id] = ModelCounter(counter_id, list(services))

    # ------------------------------------------------------------------ lookups and checks

    def _service(self, service: str) -> None:
        if service not in self.prefixes:
            raise UnknownService(f"unknown service {service}")

    def _ticket(self, ticket: str) -> ModelTicket:
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
    def _status(t: ModelTicket, action: Action, allowed: Iterable[TicketStatus] = ()) -> None:
        if not is_legal(action, t.status):
            raise IllegalTransition(f"cannot {action} ticket {t.number}: it is {t.status}")

    def _held(self, c: ModelCounter, action: Action) -> ModelTicket:
        if not c.ticket:
            raise IllegalTransition(f"cannot {action}: counter {c.id} has no ticket in hand")
        t = self.tickets[c.ticket]
        self._status(t, action)
        return t

    def _open_and_free(self, c: ModelCounter) -> None:
        if c.state is not CounterState.OPEN:
            raise CounterStateError(f"counter {c.id} is {c.state}, not open")
        if c.ticket:
            raise CounterStateError(f"counter {c.id} still has ticket {c.ticket} in hand")

    # ------------------------------------------------------------------ queues

    def _queue_of(self, t: ModelTicket) -> tuple[str, int]:
        if t.target_counter:
            return counter_queue_suffix(t.target_counter, bool(t.priority)), t.arrived
        if t.priority:
            return service_queue_suffix(t.service, QueueClass.PRIORITY), t.arrived
        if t.appt > 0:
            return service_queue_suffix(t.service, QueueClass.APPOINTMENT), t.appt
        return service_queue_suffix(t.service, QueueClass.NORMAL), t.arrived

    def _enqueue(self, t: ModelTicket) -> None:
        suffix, score = self._queue_of(t)
        self.queues.setdefault(suffix, {})[t.id] = score

    def _dequeue(self, t: ModelTicket) -> None:
        suffix, _ = self._queue_of(t)
        del self.queues[suffix][t.id]

    def head(self, suffix: str) -> Head | None:
        queue = self.queues.get(suffix)
        if not queue:
            return None
        ticket, score = min(queue.items(), key=lambda item: (item[1], item[0]))
        return Head(score, ticket)

    def waiting(self, service: str) -> int:
        return sum(
            len(self.queues.get(service_queue_suffix(service, k), {})) for k in QueueClass
        )

    def _create(self, now: int, service: str, channel: str, priority: str, arrived: int,
                appt: int, status: TicketStatus) -> ModelTicket:
        day = local_day(now)
        sequence = self.sequences.get((day, service), 0) + 1
        self.sequences[(day, service)] = sequence
        number = format_number(self.prefixes[service], sequence)
        t = ModelTicket(ticket_id(self.center_id, day, number), number, service, status,
                        priority, channel, arrived, now, appt)
        self.tickets[t.id] = t
        return t

    # ------------------------------------------------------------------ transitions

    def issue(self, now: int, service: str, channel: str = "kiosk", priority: str = "",
              appt: int = 0, booked: bool = False) -> ModelTicket:
        self._service(service)
        if channel not in CHANNELS:
            raise InvalidInput(f"channel must be kiosk, online or appointment, got {channel}")
        if priority and priority not in self.priorities:
            raise InvalidInput(f"unknown priority category {priority}")
        if appt < 0:
            raise InvalidInput("appointment must be epoch milliseconds >= 0")
        if booked and appt == 0:
            raise InvalidInput("a booking needs an appointment time")
        status = TicketStatus.BOOKED if booked else TicketStatus.WAITING
        t = self._create(now, service, channel, priority, now, appt, status)
        if not booked:
            self._enqueue(t)
        return t

    def check_in(self, now: int, ticket: str) -> ModelTicket:
        t = self._ticket(ticket)
        self._status(t, Action.CHECK_IN)
        t.status, t.arrived = TicketStatus.WAITING, now
        self._enqueue(t)
        return t

    def _do_call(self, t: ModelTicket, c: ModelCounter, streak: int) -> ModelTicket:
        self._dequeue(t)
        c.ticket, c.streak = t.id, streak
        t.status, t.counter, t.staff, t.recalls = TicketStatus.CALLED, c.id, c.staff, 0
        return t

    def call_next(self, now: int, counter: str, staff: str = "") -> ModelTicket | None:
        c = self._counter(counter)
        self._holder(c, staff)
        self._open_and_free(c)
        sources = source_order(c.id, c.services)
        heads = [self.head(s.suffix) for s in sources]
        pick = pick_next(sources, heads, c.streak, self.policy, now)
        if pick is None:
            return None
        return self._do_call(self.tickets[pick.ticket_id], c, pick.new_streak)

    def call_ticket(self, now: int, counter: str, ticket: str, staff: str = "") -> ModelTicket:
        c = self._counter(counter)
        self._holder(c, staff)
        self._open_and_free(c)
        t = self._ticket(ticket)
        self._status(t, Action.CALL)
        mine = (t.target_counter == c.id) if t.target_counter else t.service in c.services
        if not mine:
            raise CounterStateError(f"counter {c.id} does not serve ticket {t.number}")
        return self._do_call(t, c, c.streak)

    def _no_show(self, t: ModelTicket, c: ModelCounter) -> ModelTicket:
        c.ticket = ""
        t.status = TicketStatus.NO_SHOW
        return t

    def recall(self, now: int, counter: str, staff: str = "") -> ModelTicket:
        c = self._counter(counter)
        self._holder(c, staff)
        t = self._held(c, Action.RECALL)
        if t.recalls >= self.max_recalls:
            return self._no_show(t, c)
        t.recalls += 1
        return t

    def start(self, now: int, counter: str, staff: str = "") -> ModelTicket:
        c = self._counter(counter)
        self._holder(c, staff)
        t = self._held(c, Action.START)
        t.status = TicketStatus.SERVING
        return t

    def complete(self, now: int, counter: str, staff: str = "") -> ModelTicket:
        c = self._counter(counter)
        self._holder(c, staff)
        t = self._held(c, Action.COMPLETE)
        c.ticket = ""
        t.status = TicketStatus.DONE
        return t

    def no_show(self, now: int, counter: str, staff: str = "") -> ModelTicket:
        c = self._counter(counter)
        self._holder(c, staff)
        return self._no_show(self._held(c, Action.NO_SHOW), c)

    def transfer(self, now: int, ticket: str, counter: str = "", staff: str = "",
                 to_service: str = "", to_counter: str = "") -> tuple[ModelTicket, ModelTicket]:
        t = self._ticket(ticket)
        self._status(t, Action.TRANSFER)
        c = None
        if t.status is not TicketStatus.WAITING:
            c = self._counter(counter or t.counter)
            self._holder(c, staff)
            if c.ticket != t.id:
                raise CounterStateError(f"ticket {t.number} is not in hand at counter {c.id}")
        service = to_service or t.service
        self._service(service)
        if to_counter:
            self._counter(to_counter)
        if service == t.service and not to_counter:
            raise InvalidInput("a transfer needs another service or a target counter")
        if t.status is TicketStatus.WAITING:
            self._dequeue(t)
        if c is not None:
            c.ticket = ""
        new = self._create(now, service, "transfer", t.priority, t.arrived, 0,
                           TicketStatus.WAITING)
        new.target_counter, new.from_ticket = to_counter, t.id
        self._enqueue(new)
        t.status, t.to_ticket = TicketStatus.TRANSFERRED, new.id
        return t, new

    def cancel(self, now: int, ticket: str) -> ModelTicket:
        t = self._ticket(ticket)
        self._status(t, Action.CANCEL)
        if t.status is TicketStatus.WAITING:
            self._dequeue(t)
        t.status = TicketStatus.CANCELLED
        return t

    def rate(self, now: int, ticket: str, level: int) -> ModelTicket:
        t = self._ticket(ticket)
        if not 1 <= level <= 5:
            raise InvalidInput(f"rating must be a whole number from 1 to 5, got {level}")
        if t.status is not TicketStatus.DONE:
            raise IllegalTransition(f"cannot rate ticket {t.number}: it is {t.status}")
        if t.rating:
            raise IllegalTransition(f"ticket {t.number} was already rated")
        t.rating = level
        return t

    # ------------------------------------------------------------------ counters

    def open_counter(self, now: int, counter: str, staff: str, force: bool = False) -> None:
        c = self._counter(counter)
        if not staff:
            raise InvalidInput("a counter is opened by a named staff member")
        if c.state is not CounterState.CLOSED and c.staff == staff:
            return
        if c.state is not CounterState.CLOSED and not force:
            raise CounterStateError(f"counter {c.id} is taken by {c.staff}")
        c.state, c.staff, c.reason = CounterState.OPEN, staff, ""

    def pause(self, now: int, counter: str, reason: str, staff: str = "") -> None:
        c = self._counter(counter)
        self._holder(c, staff)
        if reason not in self.reasons:
            raise InvalidInput(f"pause reason must be one of {list(self.reasons)}, got {reason}")
        if c.state is not CounterState.OPEN:
            raise CounterStateError(f"counter {c.id} is {c.state}, only an open counter pauses")
        if c.ticket:
            raise CounterStateError(f"counter {c.id} has ticket {c.ticket} in hand")
        c.state, c.reason = CounterState.PAUSED, reason

    def resume(self, now: int, counter: str, staff: str = "") -> None:
        c = self._counter(counter)
        self._holder(c, staff)
        if c.state is not CounterState.PAUSED:
            raise CounterStateError(f"counter {c.id} is {c.state}, not paused")
        c.state, c.reason = CounterState.OPEN, ""

    def close_counter(self, now: int, counter: str, staff: str = "") -> None:
        c = self._counter(counter)
        self._holder(c, staff)
        if c.state is CounterState.CLOSED:
            raise CounterStateError(f"counter {c.id} is already closed")
        if c.ticket:
            raise CounterStateError(f"counter {c.id} has ticket {c.ticket} in hand")
        c.state, c.staff, c.reason, c.streak = CounterState.CLOSED, "", "", 0

    def set_services(self, now: int, counter: str, services: Sequence[str]) -> None:
        c = self._counter(counter)
        if not services:
            raise InvalidInput("a counter serves at least one service")
        seen: set[str] = set()
        for service in services:
            self._service(service)
            if service in seen:
                raise InvalidInput(f"service {service} is listed twice")
            seen.add(service)
        c.services = list(services)
