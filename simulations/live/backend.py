"""The day's backend through the real HTTP API: the server decides who is called.

Implements :class:`simulations.process.Backend`. Staff act with their own login on the counter
they hold; the kiosk issues and checks in with the center's device token; citizens book
anonymously (simulations/live/booking.py) and cancel with their ticket's secret. Every answer's
server time maps back to simulated time (:class:`WallClock`), and every call and recall the
server confirms is remembered with its stream id, to be found on the display sockets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from simulations.citizens import APPOINTMENT, Citizen
from simulations.live import booking
from simulations.live.client import Api, ServerRefused
from simulations.live.clock import WallClock
from simulations.process import Entry


@dataclass
class Credentials:
    kiosk: dict[str, str] = field(default_factory=dict)      # center → device token
    display: dict[str, str] = field(default_factory=dict)
    devices: list[tuple[str, str]] = field(default_factory=list)  # (device id, center)
    staff: dict[str, str] = field(default_factory=dict)      # username → staff token
    province: str = ""


@dataclass
class Tally:
    calls: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # center →
    # stream ids of "called" and "recalled" events the driver caused
    ticket_tokens: dict[str, str] = field(default_factory=dict)
    called_tickets: set[str] = field(default_factory=set)
    races: list[str] = field(default_factory=list)
    bookings: int = 0


class LiveBackend:
    def __init__(self, api: Api, clock: WallClock, credentials: Credentials, run_id: str,
                 on_ticket: Any = None) -> None:
        self.api, self.clock, self.credentials, self.run = api, clock, credentials, run_id
        self.tally = Tally()
        self.codes: dict[str, str | None] = {}  # ticket -> its check-in code (None: walked in)
        self.on_ticket = on_ticket  # called with (ticket id, token) of each online booking

    def _key(self, *parts: str) -> dict[str, str]:
        return {"Idempotency-Key": "-".join((self.run, *parts))}

    def _at(self, wall_ms: int) -> int:
        return self.clock.sim_of_wall(int(wall_ms))

    async def _counter(self, center: str, counter: str, staff: str, action: str,
                       body: dict[str, Any] | None = None) -> dict[str, Any]:
        path = f"/api/v1/centers/{center}/counters/{counter}/{action}"
        answer: dict[str, Any] = await self.api.call(
            "POST", path, token=self.credentials.staff[staff], body=body)
        return answer

    async def open_counter(self, center: str, counter: str, staff: str) -> None:
        await self._counter(center, counter, staff, "open", {})

    async def close_counter(self, center: str, counter: str, staff: str) -> None:
        await self._counter(center, counter, staff, "close")

    async def pause(self, center: str, counter: str, staff: str, reason: str) -> None:
        await self._counter(center, counter, staff, "pause", {"reason": reason})

    async def resume(self, center: str, counter: str, staff: str) -> None:
        await self._counter(center, counter, staff, "resume")

    async def issue(self, citizen: Citizen) -> Entry:
        body: dict[str, Any] = {"service": citizen.service}
        if citizen.priority:
            body["priority"] = citizen.priority
        answer = await self.api.call(
            "POST", f"/api/v1/centers/{citizen.center}/tickets",
            token=self.credentials.kiosk[citizen.center], body=body,
            headers=self._key(citizen.key, "issue"))
        ticket = answer["ticket"]
        self.tally.ticket_tokens[ticket["id"]] = answer["token"]
        return Entry(ticket["id"], self._at(ticket["arrived"]))

    async def book(self, citizen: Citizen) -> Entry:
        slot = (self.clock.wall_of_sim(citizen.slot_ms) if citizen.channel == APPOINTMENT
                else None)
        booked = await booking.book(self.api, citizen.center, citizen.service, slot,
                                    f"{self.run}-{citizen.key}",
                                    f"{self.run}-{citizen.key}-booking")
        self.tally.bookings += 1
        ticket = booked.ticket
        self.codes[ticket["id"]] = booked.code
        self.tally.ticket_tokens[ticket["id"]] = booked.token
        if self.on_ticket is not None:
            self.on_ticket(ticket["id"], booked.token)
        return Entry(ticket["id"], self._at(ticket["arrived"]))

    async def check_in(self, citizen: Citizen, ticket: str) -> Entry:
        code = self.codes.get(ticket)
        if code is None:  # no slot was left today: the citizen joined the queue at booking
            return Entry(ticket, self.clock.now())
        answer = await booking.check_in(self.api, self.credentials.kiosk[citizen.center],
                                        citizen.center, code,
                                        f"{self.run}-{citizen.key}-check-in")
        return Entry(ticket, self._at(answer["arrived"]))

    async def cancel(self, citizen: Citizen, ticket: str) -> bool:
        try:
            await self.api.call("POST", f"/api/v1/tickets/{ticket}/cancel", headers={
                "X-Ticket-Token": self.tally.ticket_tokens[ticket],
                **self._key(citizen.key, "cancel")})
        except ServerRefused as refusal:
            if refusal.status == 409:  # called in the same instant: the citizen is too late
                self.tally.races.append(f"{ticket}: {refusal.detail}")
                return False
            raise
        return True

    async def call_next(self, center: str, counter: str, staff: str) -> Entry | None:
        answer = await self._counter(center, counter, staff, "call-next")
        ticket = answer.get("ticket")
        if ticket is None:
            return None
        self.tally.calls[center].append(answer["event_id"])
        self.tally.called_tickets.add(ticket["id"])
        return Entry(ticket["id"], self._at(ticket["called"]))

    async def recall(self, center: str, counter: str, staff: str) -> bool:
        answer = await self._counter(center, counter, staff, "recall")
        still_called = answer["ticket"]["status"] == "called"
        if still_called:
            self.tally.calls[center].append(answer["event_id"])
        return bool(still_called)

    async def start(self, center: str, counter: str, staff: str) -> None:
        await self._counter(center, counter, staff, "start")

    async def complete(self, center: str, counter: str, staff: str) -> None:
        await self._counter(center, counter, staff, "complete")

    async def no_show(self, center: str, counter: str, staff: str) -> None:
        await self._counter(center, counter, staff, "no-show")

    async def transfer(self, center: str, counter: str, staff: str, to_service: str) -> Entry:
        answer = await self._counter(center, counter, staff, "transfer",
                                     {"to_service": to_service})
        new = answer["new_ticket"]
        return Entry(new["id"], self._at(new["issued"]))
