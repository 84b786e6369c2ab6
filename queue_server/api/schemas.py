"""Request and response bodies: one definition drives validation and /openapi.json."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from queue_server.models import CounterView, Outcome, Ticket, TicketState

CCCD = re.compile(r"^\d{12}$")
Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------- requests


def check_cccd(value: str | None) -> str | None:
    if value is not None and not CCCD.match(value):
        raise ValueError("a CCCD number has exactly 12 digits")
    if value is not None and not 1 <= int(value[:3]) <= 96:
        raise ValueError("a CCCD number starts with a province code 001-096")
    return value


class BookingIn(Body):
    center: str = Id
    service: str = Id
    appointment_at: dt.datetime | None = Field(
        None, description="local time of an appointment; none to join the queue now")
    citizen_id: str | None = Field(
        None, description="12-digit CCCD number; stored only as a salted hash")
    priority: str | None = Field(None, max_length=32,
                                 description="a statutory priority group (appointments)")

    _cccd = field_validator("citizen_id")(classmethod(lambda cls, v: check_cccd(v)))


class KioskTicketIn(Body):
    service: str = Id
    priority: str | None = Field(None, max_length=32, description="a statutory priority group")
    citizen_id: str | None = Field(
        None, description="CCCD (12 digits), e.g. read from the chip card's QR; only a salted "
                          "hash is kept")

    _cccd = field_validator("citizen_id")(classmethod(lambda cls, v: check_cccd(v)))


class CheckInIn(Body):
    code: str = Field(min_length=4, max_length=64,
                      description="the booking's check-in code (A001-4821) or its QR text")


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class OpenCounterIn(Body):
    force: bool = Field(False, description="a supervisor hands over a counter someone holds")
    staff: str | None = Field(None, max_length=64,
                              description="(supervisor) open it for this staff member")


class CallTicketIn(Body):
    ticket_id: str = Field(min_length=1, max_length=64)


class TransferIn(Body):
    to_service: str | None = Field(None, max_length=64)
    to_counter: str | None = Field(None, max_length=64)
    note: str = Field("", max_length=500)
    force: bool = Field(False, description="a supervisor's move only: send it to a counter "
                                           "that is not open, where it waits for that counter")


class PauseIn(Body):
    reason: str = Field(min_length=1, max_length=32)


class CounterServicesIn(Body):
    services: list[str] = Field(min_length=1, max_length=20)


class RatingIn(Body):
    level: int = Field(ge=1, le=5, description="1 (very unhappy) … 5 (very happy)")


class StaffIn(Body):
    username: str = Field(min_length=3, max_length=32, pattern=r"^[a-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=256)
    name: str = Field(min_length=1, max_length=100)
    role: Literal["staff", "supervisor", "province"] = "staff"
    center: str | None = Field(None, max_length=16)


class DeviceIn(Body):
    kind: Literal["kiosk", "display", "screen"]
    center: str = Field(min_length=1, max_length=16)
    label: str = Field("", max_length=100)


# ---------------------------------------------------------------- responses


_TICKET_FIELDS = tuple(f.name for f in fields(Ticket))


class _TicketBase(BaseModel):
    center: str = Field(description="the center's code")

    @classmethod
    def of(cls, ticket: Ticket) -> TicketOut:
        # Without dataclasses.asdict, whose recursive deep copy cost an eighth of a kiosk
        # request's CPU: every field of a Ticket is a str, an int or the status.
        data: dict[str, Any] = {name: getattr(ticket, name) for name in _TICKET_FIELDS}
        data["status"] = ticket.status.value
        data["center"] = ticket.center
        return TicketOut(**data)


# The ticket as the API shows it: the engine's Ticket field for field (models.py, itself the
# record of records.TICKET_LAYOUT), plus its center; generated, so the three never drift.
if TYPE_CHECKING:
    class TicketOut(_TicketBase):
        def __getattr__(self, name: str) -> Any: ...
else:
    TicketOut = create_model(
        "TicketOut", __base__=_TicketBase,
        **{f.name: (str if f.name == "status" else f.type, ...) for f in fields(Ticket)})


class CounterOut(BaseModel):
    id: str
    state: str
    staff: str
    ticket: str
    reason: str
    since: int
    services: list[str]

    @classmethod
    def of(cls, counter: CounterView) -> CounterOut:
        return cls(**counter.to_dict())


class OutcomeOut(BaseModel):
    ticket: TicketOut | None
    new_ticket: TicketOut | None = None
    counter: CounterOut | None
    event_id: str

    @classmethod
    def of(cls, outcome: Outcome) -> OutcomeOut:
        return cls(
            ticket=TicketOut.of(outcome.ticket) if outcome.ticket else None,
            new_ticket=TicketOut.of(outcome.new_ticket) if outcome.new_ticket else None,
            counter=CounterOut.of(outcome.counter) if outcome.counter else None,
            event_id=outcome.event_id,
        )


class TicketStateOut(BaseModel):
    ticket: TicketOut
    ahead: int | None = Field(description="people before this ticket (an estimate)")
    estimated_wait_s: int | None = Field(description="None when no counter serving it is open")
    active_counters: int
    now: int
    expected_at: int | None = Field(
        None, description="epoch ms the call is expected, counting opening hours only")
    after_closing: bool = Field(False, description="the expected call falls after closing")

    @classmethod
    def of(cls, state: TicketState) -> TicketStateOut:
        return cls(ticket=TicketOut.of(state.ticket), ahead=state.ahead,
                   estimated_wait_s=state.estimated_wait_s,
                   active_counters=state.active_counters, now=state.now,
                   expected_at=state.expected_at, after_closing=state.after_closing)


class IssuedOut(BaseModel):
    ticket: TicketOut
    token: str = Field(description="the ticket's secret: keep it to follow, cancel and rate")
    ticket_url: str
    estimated_wait_s: int | None
    ahead: int | None
    expected_at: int | None = Field(
        None, description="epoch ms the call is expected, counting opening hours only")
    after_closing: bool = Field(False, description="the expected call falls after closing")
    check_in_code: str | None = Field(None, description="a booking's code for the kiosk")
    check_in_qr: str | None = Field(None, description="the text of the booking's QR code")


class LoginOut(BaseModel):
    token: str
    username: str
    name: str
    role: str
    center: str | None
    expires_in: int


class ServiceWaitOut(BaseModel):
    id: str
    name: str
    name_en: str
    field: str
    prefix: str
    waiting: int
    active_counters: int
    estimated_wait_s: int | None


class CenterOut(BaseModel):
    id: str
    name: str
    type: str
    open_counters: int
    waiting: int = Field(description="everyone waiting: the services' queues plus "
                         "waiting_for_counters")
    waiting_for_counters: int = Field(0, description="tickets waiting for one particular "
                                      "counter (transferred or moved to it)")
    counters_waiting: dict[str, int] = Field(
        default_factory=dict, description="per counter with any: its waiting_for_counters")
    services: list[ServiceWaitOut]


class SuggestionOut(BaseModel):
    center: str
    name: str
    waiting: int
    active_counters: int
    estimated_wait_s: int | None


class DeviceOut(BaseModel):
    id: str
    kind: str
    center: str
    token: str = Field(description="shown once; configure it on the device")


class Snapshot(BaseModel):
    """A center's live state as the engine's snapshot script reports it."""

    model_config = ConfigDict(extra="allow")
    center: str
    name: str
    now: int
    last_id: str
    counters: list[dict[str, Any]]
    services: list[dict[str, Any]]
    recent: list[dict[str, Any]]
