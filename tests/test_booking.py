"""Appointments over the HTTP API: the calendar and free slots a citizen sees, booking a slot,
a full slot or a day off refused with the next free slots, no overlapping bookings for one
citizen, and the check-in by the booking's code at the kiosk. Real server (tests/live.py)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from queue_server.province import Province
from tests.live import Bootstrap, LiveServer, login, next_free_slot

CENTER = "06913"   # no other test books here


def address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def cccd() -> str:
    return f"{random.randint(1, 96):03d}" + "".join(random.choices("0123456789", k=9))


@dataclass
class Desk:
    http: httpx.Client
    kiosk: str
    staff: str

    def book(self, **body: Any) -> httpx.Response:
        return self.http.post("/api/v1/bookings", headers={"X-Forwarded-For": address()},
                              json={"center": CENTER, **body})


@pytest.fixture(scope="module")
def desk(live_server: LiveServer) -> Iterator[Desk]:
    boot = Bootstrap(live_server.redis_url)
    name = f"bk{uuid.uuid4().hex[:6]}"
    boot.account(name, "staff", CENTER)
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        yield Desk(http, boot.device("kiosk", CENTER), login(live_server, name))


def test_the_calendar_shows_hours_and_holidays(desk: Desk) -> None:
    answer = desk.http.get(f"/api/v1/centers/{CENTER}/calendar",
                           params={"start": "2027-04-29", "days": 3}).json()
    assert answer["days"] == [
        {"day": "2027-04-29", "open": True, "holiday": False,
         "hours": ["07:30-11:30", "13:30-17:00"]},
        {"day": "2027-04-30", "open": False, "holiday": True, "hours": []},
        {"day": "2027-05-01", "open": False, "holiday": True, "hours": []},
    ]
    bad = desk.http.get(f"/api/v1/centers/{CENTER}/calendar", params={"days": 400})
    assert bad.status_code == 422 and bad.json()["reason"] == "days_invalid"


def test_a_slot_is_booked_once_per_counter_and_then_full(desk: Desk, province: Province
                                                         ) -> None:
    service = province.service("construction")
    capacity = province.center(CENTER).slot_capacity(service)
    start = next_free_slot(desk.http.base_url.__str__(), CENTER, service.id)
    day = start[:10]
    slots = desk.http.get(f"/api/v1/centers/{CENTER}/slots",
                          params={"service": service.id, "day": day}).json()
    assert slots["slot_minutes"] == service.slot_minutes == 20
    first = next(s for s in slots["slots"] if s["start"] == start)
    assert first["capacity"] == capacity and first["free"] == capacity
    tickets = []
    for _ in range(capacity):
        booked = desk.book(service=service.id, appointment_at=start)
        assert booked.status_code == 201, booked.text
        body = booked.json()
        assert body["ticket"]["status"] == "booked" and body["ticket"]["id"].split("-")[1] == (
            day.replace("-", ""))                      # numbered on the day it is used
        assert body["check_in_code"] == f"{body['ticket']['number']}-" + body[
            "check_in_qr"].rsplit(".", 1)[1]
        tickets.append(body)
    full = desk.book(service=service.id, appointment_at=start)
    assert full.status_code == 409, full.text
    problem = full.json()
    assert problem["reason"] == "slot_full" and problem["fields"]["next_free"]
    assert start not in problem["fields"]["next_free"]
    assert "hết chỗ" in problem["detail"] and problem["fields"]["slot"] == (
        dt.datetime.fromisoformat(start).strftime("%H:%M %d/%m/%Y"))
    after = desk.http.get(f"/api/v1/centers/{CENTER}/slots",
                          params={"service": service.id, "day": day}).json()
    assert next(s for s in after["slots"] if s["start"] == start)["free"] == 0
    # A cancelled booking gives its place back.
    cancel = desk.http.post(f"/api/v1/tickets/{tickets[0]['ticket']['id']}/cancel",
                            headers={"X-Ticket-Token": tickets[0]["token"]})
    assert cancel.status_code == 200, cancel.text
    assert desk.book(service=service.id, appointment_at=start).status_code == 201


@pytest.mark.parametrize(("when", "reason"), [
    ("next-sunday", "slot_day_off"),
    ("next-free+5min", "slot_not_offered"),
    ("2020-01-06T09:00:00+07:00", "slot_past"),
])
def test_a_slot_that_is_not_offered_is_refused_with_the_next_free(desk: Desk, when: str,
                                                                  reason: str) -> None:
    if when == "next-sunday":
        day = dt.date.today() + dt.timedelta(days=2)
        while day.weekday() != 6:
            day += dt.timedelta(days=1)
        when = f"{day.isoformat()}T09:00:00+07:00"
    if when.startswith("next-free"):
        start = dt.datetime.fromisoformat(next_free_slot(str(desk.http.base_url), CENTER))
        when = (start + dt.timedelta(minutes=5)).isoformat()
    refused = desk.book(service="land", appointment_at=when)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["reason"] == reason
    if reason != "slot_past":
        assert problem["fields"]["next_free"], problem


def test_one_citizen_cannot_hold_overlapping_bookings(desk: Desk) -> None:
    citizen = cccd()
    start = next_free_slot(str(desk.http.base_url), CENTER, "land")
    assert desk.book(service="land", appointment_at=start, citizen_id=citizen).status_code == 201
    # civil_status slots are 10 minutes, land ones 20: this one falls inside the first.
    inside = (dt.datetime.fromisoformat(start) + dt.timedelta(minutes=10)).isoformat()
    again = desk.book(service="civil_status", appointment_at=inside, citizen_id=citizen)
    assert again.status_code == 409 and again.json()["reason"] == "booking_overlap"
    other = desk.book(service="civil_status", appointment_at=inside, citizen_id=cccd())
    assert other.status_code == 201, other.text


def test_the_kiosk_checks_a_booking_in_by_its_code(desk: Desk, live_server: LiveServer) -> None:
    ticket_id, code = Bootstrap(live_server.redis_url).booking_today(CENTER)
    kiosk = {"Authorization": f"Bearer {desk.kiosk}"}
    wrong = desk.http.post(f"/api/v1/centers/{CENTER}/check-in", headers=kiosk,
                           json={"code": code[:-1] + str((int(code[-1]) + 1) % 10)})
    assert wrong.status_code == 422 and wrong.json()["reason"] == "check_in_code_unknown"
    garbage = desk.http.post(f"/api/v1/centers/{CENTER}/check-in", headers=kiosk,
                             json={"code": "hello world"})
    assert garbage.status_code == 422 and garbage.json()["reason"] == "check_in_code_invalid"
    typed = desk.http.post(f"/api/v1/centers/{CENTER}/check-in", headers=kiosk,
                           json={"code": code.replace("-", " ").lower()})
    assert typed.status_code == 200, typed.text
    assert typed.json()["ticket"]["id"] == ticket_id
    assert typed.json()["ticket"]["status"] == "waiting"
    twice = desk.http.post(f"/api/v1/centers/{CENTER}/check-in", headers=kiosk,
                           json={"code": code})
    assert twice.status_code == 409 and twice.json()["reason"] == "ticket_status"


def test_staff_check_in_by_the_ticket_and_the_qr_text(desk: Desk, live_server: LiveServer
                                                      ) -> None:
    boot = Bootstrap(live_server.redis_url)
    ticket_id, _ = boot.booking_today(CENTER)
    staff = {"Authorization": f"Bearer {desk.staff}"}
    done = desk.http.post(f"/api/v1/tickets/{ticket_id}/check-in", headers=staff)
    assert done.status_code == 200 and done.json()["ticket"]["status"] == "waiting"
    other_id, code = boot.booking_today(CENTER)
    pin = code.rsplit("-", 1)[1]
    scanned = desk.http.post(f"/api/v1/centers/{CENTER}/check-in", headers=staff,
                             json={"code": f"{other_id}.{pin}"})
    assert scanned.status_code == 200 and scanned.json()["ticket"]["id"] == other_id
