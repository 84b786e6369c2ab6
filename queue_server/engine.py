"""The ticket engine: every transition is one Lua script, called by SHA (DESIGN.md §2).

Python here only checks argument shapes, builds keys and decodes answers; every rule that
depends on state runs inside Redis, atomically. The pure mirror of those rules lives in
``queue_server.rules`` and ``tests/model.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import msgpack

from queue_server import keys
from queue_server.errors import InvalidInput
from queue_server.models import Outcome, Ticket, TicketState
from queue_server.province import Center, Province
from queue_server.records import day_pair
from queue_server.rules.eta import estimate_wait_seconds, mean_service_seconds
from queue_server.rules.numbering import center_of_ticket
from queue_server.script_runner import Arg, ScriptRunner
from queue_server.snapshots import expand_snapshot

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
STAFF_ID = re.compile(r"^[A-Za-z0-9_.@-]{0,64}$")


def _text(name: str, value: object, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text, got {type(value).__name__}", field=name)
    if pattern is not None and not pattern.match(value):
        raise InvalidInput(f"{name} {value!r} has an unexpected form", field=name)
    return value


def _idempotency(key: str | None) -> str:
    if key is None:
        return ""
    return _text("idempotency key", key, IDEMPOTENCY_KEY)


def _decode(raw: Any) -> dict[str, Any]:
    value = msgpack.unpackb(raw, raw=False)
    if not isinstance(value, dict):
        raise TypeError(f"script answered {value!r}, expected a map")
    return value


def _estimate(ticket: Ticket, ahead: int, active: int, done_today: Any, typical: Any,
              now: int, token_hash: str) -> TicketState:
    """A ticket's place from a script's answer (issue.lua, ticket_read.lua)."""
    completed, total_ms = day_pair(done_today)
    eta = None
    if ahead >= 0:
        mean = mean_service_seconds(total_ms, completed, float(typical))
        eta = estimate_wait_seconds(ahead, active, mean)
    return TicketState(ticket, ahead if ahead >= 0 else None, eta, active, now, token_hash)


class Engine:
    """Async API over the scripts; one instance per process, shared by all requests."""

    def __init__(self, runner: ScriptRunner, province: Province) -> None:
        self.runner = runner
        self.province = province

    # ------------------------------------------------------------------ plumbing

    def _center(self, center_id: object) -> Center:
        return self.province.center(_text("center", center_id))

    async def _call(
        self, name: str, center_id: str, idempotency_key: str | None, *args: Arg
    ) -> Any:
        idem = _idempotency(idempotency_key)
        fingerprint = hashlib.sha1(repr((name, args)).encode()).hexdigest() if idem else ""
        return await self.runner.run(
            name, [keys.center_meta_key(center_id)], [idem, fingerprint, *args]
        )

    async def _transition(
        self, name: str, center_id: str, idempotency_key: str | None, *args: Arg
    ) -> Outcome:
        return Outcome.from_reply(await self._call(name, center_id, idempotency_key, *args))

    # ------------------------------------------------------------------ configuration

    async def sync_province(self) -> None:
        """Write every center's configuration for the scripts; live counter state is kept."""
        for center in self.province.centers:
            await self.sync_center(center)

    async def sync_center(self, center: Center) -> None:
        """Write one center's configuration (services, counters, policy) for the scripts."""
        policy = self.province.policy
        config = {
            "name": center.display_name,
            "max_in_row": policy.priority_max_in_row,
            "window_ms": policy.appointment_window_s * 1000,
            "max_recalls": policy.max_recalls,
            "maxlen": policy.stream_max_events,
            "recent_n": policy.recent_calls,
            "idem_ttl": policy.idempotency_s,
            "target_s": center.wait_target_s,
            "prios": [p.id for p in self.province.priorities],
            "reasons": [r.id for r in self.province.pause_reasons],
            "services": [
                {"id": s.id, "prefix": s.prefix, "typical_s": s.typical_s}
                for s in self.province.services
            ],
            "counters": [
                {"id": c.id, "name": c.name, "services": list(c.services)}
                for c in center.counters
            ],
        }
        await self.runner.run(
            "sync_center",
            [keys.center_meta_key(center.id)],
            ["", "", json.dumps(config, ensure_ascii=False)],
        )

    # ------------------------------------------------------------------ tickets

    async def issue(
        self,
        center_id: str,
        service: str,
        *,
        channel: str = "kiosk",
        priority: str | None = None,
        appointment_ms: int | None = None,
        booked: bool = False,
        token_hash: str = "",
        idempotency_key: str | None = None,
    ) -> Ticket:
        """Issue a ticket (kiosk, online, appointment booking) and return it."""
        state = await self.issue_with_estimate(
            center_id, service, channel=channel, priority=priority,
            appointment_ms=appointment_ms, booked=booked, token_hash=token_hash,
            idempotency_key=idempotency_key)
        return state.ticket

    async def issue_with_estimate(
        self,
        center_id: str,
        service: str,
        *,
        channel: str = "kiosk",
        priority: str | None = None,
        appointment_ms: int | None = None,
        booked: bool = False,
        token_hash: str = "",
        idempotency_key: str | None = None,
    ) -> TicketState:
        """Issue, and answer in the same round trip the people ahead and the estimated wait."""
        center = self._center(center_id)
        _text("service", service)
        _text("channel", channel)
        if appointment_ms is not None and (
            not isinstance(appointment_ms, int) or isinstance(appointment_ms, bool)
            or appointment_ms < 0
        ):
            raise InvalidInput("appointment must be epoch milliseconds ≥ 0", field="appointment")
        _, event, ahead, active, done_today, typical, now = await self._call(
            "issue", center.id, idempotency_key, service, channel,
            _text("priority", priority or ""), appointment_ms or 0, "1" if booked else "0",
            _text("token hash", token_hash),
        )
        ticket = Ticket.from_record(msgpack.unpackb(event)[2])
        return _estimate(ticket, ahead, active, done_today, typical, now, token_hash)

    async def check_in(self, ticket_id: str, *, idempotency_key: str | None = None) -> Outcome:
        return await self._ticket_action("check_in", ticket_id, idempotency_key)

    async def cancel(self, ticket_id: str, *, token_hash: str = "",
                     idempotency_key: str | None = None) -> Outcome:
        """Cancel; with ``token_hash`` the script checks the citizen's secret atomically."""
        return await self._ticket_action("cancel", ticket_id, idempotency_key,
                                         _text("token hash", token_hash))

    async def rate(
        self, ticket_id: str, level: int, *, token_hash: str = "",
        idempotency_key: str | None = None,
    ) -> Outcome:
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            raise InvalidInput(f"rating must be a whole number from 1 to 5, got {level!r}",
                               field="level")
        return await self._ticket_action("rate", ticket_id, idempotency_key, level,
                                         _text("token hash", token_hash))

    async def _ticket_action(
        self, name: str, ticket_id: str, idempotency_key: str | None, *args: Arg
    ) -> Outcome:
        center = self._center(center_of_ticket(_text("ticket", ticket_id)))
        return await self._transition(name, center.id, idempotency_key, ticket_id, *args)

    async def transfer(
        self,
        ticket_id: str,
        *,
        counter: str = "",
        staff: str = "",
        to_service: str = "",
        to_counter: str = "",
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Outcome:
        center = self._center(center_of_ticket(_text("ticket", ticket_id)))
        if len(_text("note", note)) > 500:
            raise InvalidInput("a transfer note has at most 500 characters", field="note")
        return await self._transition(
            "transfer", center.id, idempotency_key, ticket_id, _text("counter", counter),
            _text("staff", staff, STAFF_ID), _text("service", to_service),
            _text("target counter", to_counter), note,
        )

    async def transfer_in_hand(
        self, center_id: str, counter: str, staff: str = "", *, to_service: str = "",
        to_counter: str = "", note: str = "", idempotency_key: str | None = None,
    ) -> Outcome:
        """Transfer whatever the counter holds (the script finds it: no read beforehand)."""
        center = self._center(center_id)
        if len(_text("note", note)) > 500:
            raise InvalidInput("a transfer note has at most 500 characters", field="note")
        return await self._transition(
            "transfer", center.id, idempotency_key, "", _text("counter", counter),
            _text("staff", staff, STAFF_ID), _text("service", to_service),
            _text("target counter", to_counter), note,
        )

    # ------------------------------------------------------------------ counter actions

    async def _counter_action(
        self, name: str, center_id: str, counter: str, staff: str,
        idempotency_key: str | None, *args: Arg,
    ) -> Outcome:
        center = self._center(center_id)
        return await self._transition(
            name, center.id, idempotency_key, _text("counter", counter),
            _text("staff", staff, STAFF_ID), *args,
        )

    async def call_next(self, center_id: str, counter: str, staff: str = "", *,
                        idempotency_key: str | None = None) -> Outcome:
        """Call the next ticket by the routing policy; ``outcome.ticket`` is None if none waits."""
        return await self._counter_action("call_next", center_id, counter, staff, idempotency_key)

    async def call_ticket(self, center_id: str, counter: str, ticket_id: str, staff: str = "", *,
                          idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("call_ticket", center_id, counter, staff,
                                          idempotency_key, _text("ticket", ticket_id))

    async def recall(self, center_id: str, counter: str, staff: str = "", *,
                     idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("recall", center_id, counter, staff, idempotency_key)

    async def start(self, center_id: str, counter: str, staff: str = "", *,
                    idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("start", center_id, counter, staff, idempotency_key)

    async def complete(self, center_id: str, counter: str, staff: str = "", *,
                       idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("complete", center_id, counter, staff, idempotency_key)

    async def no_show(self, center_id: str, counter: str, staff: str = "", *,
                      idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("no_show", center_id, counter, staff, idempotency_key)

    async def open_counter(self, center_id: str, counter: str, staff: str, *, force: bool = False,
                           idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("counter_open", center_id, counter, staff,
                                          idempotency_key, "1" if force else "0")

    async def pause(self, center_id: str, counter: str, reason: str, staff: str = "", *,
                    idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("counter_pause", center_id, counter, staff,
                                          idempotency_key, _text("reason", reason))

    async def resume(self, center_id: str, counter: str, staff: str = "", *,
                     idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("counter_resume", center_id, counter, staff,
                                          idempotency_key)

    async def close_counter(self, center_id: str, counter: str, staff: str = "", *,
                            idempotency_key: str | None = None) -> Outcome:
        return await self._counter_action("counter_close", center_id, counter, staff,
                                          idempotency_key)

    async def set_counter_services(self, center_id: str, counter: str, services: Sequence[str], *,
                                   idempotency_key: str | None = None) -> Outcome:
        for service in services:
            if "," in _text("service", service):
                raise InvalidInput(f"service {service!r} must not contain a comma",
                                   field="services")
        center = self._center(center_id)
        return await self._transition("counter_services", center.id, idempotency_key,
                                      _text("counter", counter), ",".join(services))

    # ------------------------------------------------------------------ reads

    async def ticket(self, ticket_id: str) -> TicketState:
        """A ticket with its place in the queue and estimated wait (an estimate: rules.md)."""
        center = self._center(center_of_ticket(_text("ticket", ticket_id)))
        record, ahead, active, done_today, typical, now, token_hash = await self._call(
            "ticket_read", center.id, None, ticket_id)
        ticket = Ticket.from_record(msgpack.unpackb(record))
        return _estimate(ticket, ahead, active, done_today, typical, now,
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
        raw = _decode(await self._call("snapshot", center.id, None, tickets_per_queue,
                                        "1" if metrics else "0", "1" if day else "0",
                                        "1" if recent else "0"))
        return expand_snapshot(raw)
