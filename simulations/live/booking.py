"""Online booking and appointment check-in, as the API offers them.

``POST /api/v1/bookings`` (anonymous; ``appointment_at`` a slot start, none to join the
queue now), then at the kiosk ``POST /api/v1/centers/{c}/check-in`` with the booking's code.

Each simulated citizen books from an address of its own (``X-Forwarded-For``, which uvicorn
trusts from loopback), as phones do, so the server's per-address booking limit sees many
citizens, not one driver. The server's slots are real ones (its calendar, its clock), while
the driven day runs at ``--speed``: an appointment takes the first free slot of today at or
after its wall time (at least ``MIN_LEAD_S`` ahead); when today has none left (the driven day
runs past the real closing time, or at night), the citizen joins the queue now instead,
counted as such (``Booked.code`` None). Citizens booking at once may find the slot they saw
taken meanwhile (409 ``slot_full``): as a person would, the citizen takes the next free slot,
up to ``SLOT_TRIES`` times. The engine's "due" window is in wall minutes, so at
any speed above 1 a checked-in appointment is due at once, as it almost always is in the
offline day too (citizens come at most 15 minutes early).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from queue_server.rules.clock import TIMEZONE
from simulations.live.client import Api, ServerRefused

MIN_LEAD_S = 120
SLOT_TRIES = 5


@dataclass(frozen=True)
class Booked:
    ticket: dict[str, Any]
    token: str
    code: str | None     # the check-in code; None when the citizen joined the queue now


def citizen_address(key: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return f"10.{digest[0]}.{digest[1]}.{max(digest[2], 1)}"


async def free_slot(api: Api, center: str, service: str, not_before_ms: float) -> str | None:
    """The first slot of today with room, starting at or after ``not_before_ms``."""
    today = dt.datetime.now(TIMEZONE).date().isoformat()
    answer = await api.call(
        "GET", f"/api/v1/centers/{center}/slots?service={service}&day={today}")
    for slot in answer["slots"]:
        start = dt.datetime.fromisoformat(slot["start"]).timestamp() * 1000
        if slot["free"] > 0 and start >= not_before_ms:
            return str(slot["start"])
    return None


async def book(api: Api, center: str, service: str, appointment_wall_ms: float | None,
               citizen_key: str, idempotency: str) -> Booked:
    body: dict[str, Any] = {"center": center, "service": service}
    headers = {"X-Forwarded-For": citizen_address(citizen_key)}
    not_before = None if appointment_wall_ms is None else max(
        appointment_wall_ms, (time.time() + MIN_LEAD_S) * 1000)
    attempt = 0
    while True:
        if not_before is not None:
            at = await free_slot(api, center, service, not_before)
            if at is None:
                body.pop("appointment_at", None)  # none left today: join the queue now
                not_before = None
            else:
                body["appointment_at"] = at
        # another slot is another request: a key of its own (the refused one made nothing)
        key = idempotency if attempt == 0 else f"{idempotency}-{attempt}"
        try:
            answer = await api.call("POST", "/api/v1/bookings", body=body,
                                    headers={**headers, "Idempotency-Key": key})
        except ServerRefused as refusal:
            attempt += 1
            if (refusal.reason != "slot_full" or "appointment_at" not in body
                    or attempt == SLOT_TRIES):
                raise
            taken = dt.datetime.fromisoformat(body["appointment_at"]).timestamp() * 1000
            not_before = taken + 1
            continue
        return Booked(answer["ticket"], answer["token"], answer.get("check_in_code"))


async def check_in(api: Api, kiosk_token: str, center: str, code: str, idempotency: str
                   ) -> dict[str, Any]:
    """At the center's kiosk, by the booking's code (what its holder types or scans)."""
    answer = await api.call("POST", f"/api/v1/centers/{center}/check-in", token=kiosk_token,
                            body={"code": code}, headers={"Idempotency-Key": idempotency})
    return dict(answer["ticket"])


async def hours_enforced(api: Api, center: str, service: str, closed_at: dt.datetime
                         ) -> bool | None:
    """Whether the server refuses tickets outside opening hours now, asked without making
    one: joining the queue now with a too-short Idempotency-Key is refused either for the
    hours (409: enforced, and the center is closed now) or, past that check, for the key (422:
    not enforced, or open now). None when the answer is neither (then assume nothing).
    ``closed_at`` is kept for the callers: appointments are checked against the calendar
    whatever the setting."""
    del closed_at
    body = {"center": center, "service": service}
    try:
        await api.call("POST", "/api/v1/bookings", body=body,
                       headers={"Idempotency-Key": "probe", "X-Forwarded-For": "10.255.255.254"})
    except ServerRefused as refusal:
        if refusal.status == 409:
            return True
        if refusal.status == 422 and "Idempotency-Key" in refusal.detail:
            return False
    return None
