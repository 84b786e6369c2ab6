"""The ticket engine: every transition is one Lua script, called by SHA (DESIGN.md §2).

Python here only checks argument shapes, builds keys and decodes answers; every rule that
depends on state runs inside Redis, atomically. The pure mirror of those rules lives in
``queue_server.rules`` and ``tests/model.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from queue_server import keys
from queue_server.errors import InvalidInput
from queue_server.models import Outcome, Ticket, TicketState
from queue_server.province import Center, Province
from queue_server.rules.calendar import CloseInstant
from queue_server.rules.center_model import CALENDAR_DAYS
from queue_server.rules.clock import TIMEZONE
from queue_server.rules.eta import estimate_wait_seconds, expected_call, mean_service_seconds
from queue_server.rules.numbering import center_of_ticket
from queue_server.script_runner import Arg, ScriptRunner
from queue_server.snapshots import expand_snapshot


@dataclass(frozen=True)
class Actor:
    """Who asks for a transition and from where: recorded in its event (the audit trail).
    ``who`` is ``staff:<username>``, ``supervisor:<username>``, ``province:<username>``,
    ``kiosk:<device>``, ``display:<device>``, ``citizen`` or ``system``."""

    who: str = "system"
    origin: str = ""


SYSTEM = Actor()

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
STAFF_ID = re.compile(r"^[A-Za-z0-9_.@-]{0,64}$")


def _text(name: str, value: object, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text, got {type(value).__name__}", field=name)
    if pattern is not None and not pattern.match(value):
        raise InvalidInput(f"{name} {value!r} has an unexpected form", field=name)
    return value


def _note(note: str) -> str:
    if len(_text("note", note)) > 500:
        raise InvalidInput("a transfer note has at most 500 characters", reason="note_too_long",
                           field="note")
    return note


def _idempotency(key: str | None) -> str:
    if key is None:
        return ""
    return _text("idempotency key", key, IDEMPOTENCY_KEY)


def _decode(raw: Any) -> dict[str, Any]:
    value = msgpack.unpackb(raw, raw=False)
    if not isinstance(value, dict):
        raise TypeError(f"script answered {value!r}, expected a map")
    return value


def _estimate(center: Center, ticket: Ticket, ahead: int, active: int, done_today: Any,
              typical: Any, now: int, token_hash: str) -> TicketState:
    """A ticket's place from a script's answer (issue.lua, ticket_read.lua)."""
    completed, total_ms = (int(v) for v in done_today)
    eta = None
    if ahead >= 0:
        mean = mean_service_seconds(total_ms, completed, float(typical))
        eta = estimate_wait_seconds(ahead, active, mean)
    expected_at, after_closing = expected_call(center.calendar, now, eta)
    return TicketState(ticket, ahead if ahead >= 0 else None, eta, active, now, token_hash,
                       expected_at, after_closing)


class Engine:
    """Async API over the scripts; one instance per process, shared by all requests."""

    def __init__(self, runner: ScriptRunner, province: Province) -> None:
        self.runner = runner
        self.province = province

    # ------------------------------------------------------------------ plumbing

    def _center(self, center_id: object) -> Center:
        return self.province.center(_text("center", center_id))

    async def _call(
        self, name: str, center_id: str, idempotency_key: str | None, actor: Actor, *args: Arg
    ) -> Any:
        idem = _idempotency(idempotency_key)
        # The request, not who sent it from where: a retry from another address replays.
        fingerprint = hashlib.sha1(repr((name, args)).encode()).hexdigest() if idem else ""
        return await self.runner.run(
            name, [keys.center_meta_key(center_id)],
            [idem, fingerprint, actor.who, actor.origin, *args],
        )

    async def _transition(
        self, name: str, center_id: str, idempotency_key: str | None, actor: Actor, *args: Arg
    ) -> Outcome:
        outcome = Outcome.from_reply(
            await self._call(name, center_id, idempotency_key, actor, *args))
        # Every number an answer carries is remembered: after a Redis crash that lost the last
        # writes the numbering is raised back past it (queue_server/high_water.py).
        self.runner.high_water.observe_outcome(outcome)
        return outcome

    # ------------------------------------------------------------------ configuration

    async def sync_province(self, today: dt.date | None = None) -> None:
        """Write every center's configuration for the scripts; live counter state is kept."""
        for center in self.province.centers:
            await self.sync_center(center, today)

    def center_config(self, center: Center, today: dt.date | None = None) -> dict[str, Any]:
        """What sync_center.lua writes into the center's meta, and its closing instants from
        yesterday on (a day left open by a stopped server still closes at its instant)."""
        policy = self.province.policy
        first = (today or dt.datetime.now(TIMEZONE).date()) - dt.timedelta(days=1)
        closes: list[CloseInstant] = center.calendar.close_instants(first, CALENDAR_DAYS)
        return {
            "name": center.display_name,
            "max_in_row": policy.priority_max_in_row,
            "window_ms": policy.appointment_window_s * 1000,
            "max_recalls": policy.max_recalls,
            "maxlen": policy.stream_max_events,
            "recent_n": policy.recent_calls,
            "idem_ttl": policy.idempotency_s,
            "late_ms": policy.appointment_late_s * 1000,
            "keep_ms": policy.redis_keep_days * 86_400_000,
            "target_s": center.wait_target_s,
            "prios": [p.id for p in self.province.priorities],
            "reasons": [r.id for r in self.province.pause_reasons],
            "services": [
                {"id": s.id, "prefix": s.prefix, "typical_s": s.typical_s,
                 "slot_ms": s.slot_minutes * 60_000}
                for s in self.province.services
            ],
            "counters": [
                {"id": c.id, "name": c.name, "services": list(c.services)}
                for c in center.counters
            ],
            "closes": [[c.member, c.at_ms] for c in closes],
        }

    async def sync_center(self, center: Center, today: dt.date | None = None) -> None:
        """Write one center's configuration (services, counters, policy, calendar)."""
        config = json.dumps(self.center_config(center, today), ensure_ascii=False)
        await self._call("sync_center", center.id, None, SYSTEM, config)

    async def close_day_if_due(self, center_id: str) -> tuple[bool, int]:
        """Close the center's day if its closing instant has passed (docs/rules.md);
        answers (closed now, the next closing instant in ms)."""
        center = self._center(center_id)
        closed, closes_at, _ = await self._call("close_day", center.id, None, SYSTEM)
        return bool(closed), int(closes_at)

    # ------------------------------------------------------------------ tickets

    async def issue(
        self,
        center_id: str,
        service: str,
        *,
        channel: str = "kiosk",
        priority: str | None = None,
        token_hash: str = "",
        citizen_hash: str = "",
        idempotency_key: str | None = None,
        actor: Actor = SYSTEM,
    ) -> Ticket:
        """Issue a walk-in ticket (kiosk, or online "now") and return it."""
        state = await self.issue_with_estimate(
            center_id, service, channel=channel, priority=priority, token_hash=token_hash,
            citizen_hash=citizen_hash, idempotency_key=idempotency_key, actor=actor)
        return state.ticket

    async def issue_with_estimate(
        self,
        center_id: str,
        service: str,
        *,
        channel: str = "kiosk",
        priority: str | None = None,
        token_hash: str = "",
        citizen_hash: str = "",
        idempotency_key: str | None = None,
        actor: Actor = SYSTEM,
    ) -> TicketState:
        """Issue, and answer in the same round trip the people ahead and the estimated wait."""
        center = self._center(center_id)
        _, event, ahead, active, done_today, typical, now = await self._call(
            "issue", center.id, idempotency_key, actor, _text("service", service),
            _text("channel", channel), _text("priority", priority or ""),
            _text("token hash", token_hash), _text("citizen hash", citizen_hash),
        )
        ticket = Ticket.from_record(msgpack.unpackb(event)[2])
        self.runner.high_water.observe_ticket(ticket)
        return _estimate(center, ticket, ahead, active, done_today, typical, now, token_hash)

    async def book(
        self,
        center_id: str,
        service: str,
        slot: tuple[int, int],
        *,
        capacity: int,
        priority: str | None = None,
        token_hash: str = "",
        citizen_hash: str = "",
        idempotency_key: str | None = None,
        actor: Actor = SYSTEM,
    ) -> tuple[Ticket, int]:
        """Book the slot ``(start_ms, end_ms)`` (checked against the calendar by the caller:
        rules/booking.py); answers the booked ticket and the slot's bookings with it."""
        center = self._center(center_id)
        start, end = slot
        reply = await self._call(
            "book", center.id, idempotency_key, actor, _text("service", service), start, end,
            capacity, _text("priority", priority or ""), _text("token hash", token_hash),
            _text("citizen hash", citizen_hash))
        ticket = Ticket.from_record(msgpack.unpackb(reply[1])[2])
        self.runner.high_water.observe_ticket(ticket)
        return ticket, int(reply[2])

    async def slot_bookings(self, center_id: str, day: str) -> dict[tuple[str, int], int]:
        """How many bookings each slot of a day holds: {(service, start ms): count}."""
        center = self._center(center_id)
        flat = await self.runner.client.hgetall(keys.center_key(center.id, "slots", day))
        out: dict[tuple[str, int], int] = {}
        for field, value in flat.items():
            service, _, start = (field.decode() if isinstance(field, bytes) else field) \
                .partition("|")
            out[(service, int(start))] = int(value)
        return out

    async def check_in(self, ticket_id: str, *, idempotency_key: str | None = None,
                       actor: Actor = SYSTEM) -> Outcome:
        return await self._ticket_action("check_in", ticket_id, idempotency_key, actor)

    async def cancel(self, ticket_id: str, *, token_hash: str = "",
                     idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        """Cancel; with ``token_hash`` the script checks the citizen's secret atomically."""
        return await self._ticket_action("cancel", ticket_id, idempotency_key, actor,
                                         _text("token hash", token_hash))

    async def rate(
        self, ticket_id: str, level: int, *, token_hash: str = "",
        idempotency_key: str | None = None, actor: Actor = SYSTEM,
    ) -> Outcome:
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            raise InvalidInput(f"rating must be a whole number from 1 to 5, got {level!r}",
                               reason="rating_invalid", field="level", rating=level)
        return await self._ticket_action("rate", ticket_id, idempotency_key, actor, level,
                                         _text("token hash", token_hash))

    async def _ticket_action(
        self, name: str, ticket_id: str, idempotency_key: str | None, actor: Actor,
        *args: Arg,
    ) -> Outcome:
        center = self._center(center_of_ticket(_text("ticket", ticket_id)))
        return await self._transition(name, center.id, idempotency_key, actor, ticket_id,
                                      *args)

    async def transfer(
        self,
        ticket_id: str,
        *,
        counter: str = "",
        staff: str = "",
        to_service: str = "",
        to_counter: str = "",
        note: str = "",
        force: bool = False,
        idempotency_key: str | None = None,
        actor: Actor = SYSTEM,
    ) -> Outcome:
        """Transfer (or, for a supervisor, move) a ticket; ``force``: a supervisor's choice to
        send it to a counter that is not open, where it waits for that counter."""
        center = self._center(center_of_ticket(_text("ticket", ticket_id)))
        return await self._transition(
            "transfer", center.id, idempotency_key, actor, ticket_id, _text("counter", counter),
            _text("staff", staff, STAFF_ID), _text("service", to_service),
            _text("target counter", to_counter), _note(note), "1" if force else "0",
        )

    async def transfer_in_hand(
        self, center_id: str, counter: str, staff: str = "", *, to_service: str = "",
        to_counter: str = "", note: str = "", force: bool = False,
        idempotency_key: str | None = None, actor: Actor = SYSTEM,
    ) -> Outcome:
        """Transfer whatever the counter holds (the script finds it: no read beforehand)."""
        center = self._center(center_id)
        return await self._transition(
            "transfer", center.id, idempotency_key, actor, "", _text("counter", counter),
            _text("staff", staff, STAFF_ID), _text("service", to_service),
            _text("target counter", to_counter), _note(note), "1" if force else "0",
        )

    # ------------------------------------------------------------------ counter actions

    async def _counter_action(
        self, name: str, center_id: str, counter: str, staff: str,
        idempotency_key: str | None, actor: Actor, *args: Arg,
    ) -> Outcome:
        center = self._center(center_id)
        return await self._transition(
            name, center.id, idempotency_key, actor, _text("counter", counter),
            _text("staff", staff, STAFF_ID), *args,
        )

    async def call_next(self, center_id: str, counter: str, staff: str = "", *,
                        idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        """Call the next ticket by the routing policy; ``outcome.ticket`` is None if none waits."""
        return await self._counter_action("call_next", center_id, counter, staff,
                                          idempotency_key, actor)

    async def call_ticket(self, center_id: str, counter: str, ticket_id: str, staff: str = "", *,
                          idempotency_key: str | None = None,
                          actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("call_ticket", center_id, counter, staff,
                                          idempotency_key, actor, _text("ticket", ticket_id))

    async def recall(self, center_id: str, counter: str, staff: str = "", *,
                     idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("recall", center_id, counter, staff,
                                          idempotency_key, actor)

    async def start(self, center_id: str, counter: str, staff: str = "", *,
                    idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("start", center_id, counter, staff,
                                          idempotency_key, actor)

    async def complete(self, center_id: str, counter: str, staff: str = "", *,
                       idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("complete", center_id, counter, staff,
                                          idempotency_key, actor)

    async def no_show(self, center_id: str, counter: str, staff: str = "", *,
                      idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("no_show", center_id, counter, staff,
                                          idempotency_key, actor)

    async def open_counter(self, center_id: str, counter: str, staff: str, *, force: bool = False,
                           idempotency_key: str | None = None,
                           actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("counter_open", center_id, counter, staff,
                                          idempotency_key, actor, "1" if force else "0")

    async def pause(self, center_id: str, counter: str, reason: str, staff: str = "", *,
                    idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("counter_pause", center_id, counter, staff,
                                          idempotency_key, actor, _text("reason", reason))

    async def resume(self, center_id: str, counter: str, staff: str = "", *,
                     idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("counter_resume", center_id, counter, staff,
                                          idempotency_key, actor)

    async def close_counter(self, center_id: str, counter: str, staff: str = "", *,
                            idempotency_key: str | None = None, actor: Actor = SYSTEM) -> Outcome:
        return await self._counter_action("counter_close", center_id, counter, staff,
                                          idempotency_key, actor)

    async def set_counter_services(self, center_id: str, counter: str, services: Sequence[str], *,
                                   idempotency_key: str | None = None,
                                   actor: Actor = SYSTEM) -> Outcome:
        for service in services:
            if "," in _text("service", service):
                raise InvalidInput(f"service {service!r} must not contain a comma",
                                   field="services")
        center = self._center(center_id)
        return await self._transition("counter_services", center.id, idempotency_key, actor,
                                      _text("counter", counter), ",".join(services))

    # ------------------------------------------------------------------ reads

    async def ticket(self, ticket_id: str) -> TicketState:
        """A ticket with its place in the queue and estimated wait (an estimate: rules.md)."""
        center = self._center(center_of_ticket(_text("ticket", ticket_id)))
        record, ahead, active, done_today, typical, now, token_hash = await self._call(
            "ticket_read", center.id, None, SYSTEM, ticket_id)
        ticket = Ticket.from_record(msgpack.unpackb(record))
        self.runner.high_water.observe_ticket(ticket)
        return _estimate(center, ticket, ahead, active, done_today, typical, now,
                         token_hash.decode() if isinstance(token_hash, bytes) else token_hash)

    async def snapshot(
        self, center_id: str, *, tickets_per_queue: int = 0, metrics: bool = False,
        day: bool = False, recent: bool = False,
    ) -> dict[str, Any]:
        """One center, consistent to the stream id ``last_id`` (see snapshot.lua); ``recent``
        adds the last calls (read back from the stream, so ask only where they are shown)."""
        center = self._center(center_id)
        if not isinstance(tickets_per_queue, int) or not 0 <= tickets_per_queue <= 200:
            raise InvalidInput("tickets per queue must be 0..200", field="tickets_per_queue")
        raw = _decode(await self._call("snapshot", center.id, None, SYSTEM, tickets_per_queue,
                                        "1" if metrics else "0", "1" if day else "0",
                                        "1" if recent else "0"))
        return expand_snapshot(raw)
