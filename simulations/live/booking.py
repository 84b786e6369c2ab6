"""Online booking and appointment check-in, the calls the booking API will change.

Kept apart so that the coming API (appointment slots, check-in by booking code) changes this
module only. Today: ``POST /api/v1/bookings`` (anonymous; ``appointment_at`` for a slot, none
to join the queue now) and ``POST /api/v1/tickets/{id}/check-in`` by the center's kiosk.

Each simulated citizen books from an address of its own (``X-Forwarded-For``, which uvicorn
trusts from loopback), as phones do, so the server's per-address booking limit sees many
citizens, not one driver. An appointment is sent at the slot's wall time, but at least
``MIN_LEAD_S`` ahead of now (the server takes only future appointments): the engine's "due"
window is in wall minutes, so at any speed above 1 a checked-in appointment is due at once,
as it almost always is in the offline day too (citizens come at most 15 minutes early).
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


@dataclass(frozen=True)
class Booked:
    ticket: dict[str, Any]
    token: str


def citizen_address(key: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return f"10.{digest[0]}.{digest[1]}.{max(digest[2], 1)}"


async def book(api: Api, center: str, service: str, appointment_wall_ms: float | None,
               citizen_key: str, idempotency: str) -> Booked:
    body: dict[str, Any] = {"center": center, "service": service}
    if appointment_wall_ms is not None:
        at_ms = max(appointment_wall_ms, (time.time() + MIN_LEAD_S) * 1000)
        body["appointment_at"] = dt.datetime.fromtimestamp(at_ms / 1000, TIMEZONE).isoformat(
            timespec="milliseconds")
    answer = await api.call("POST", "/api/v1/bookings", body=body, headers={
        "X-Forwarded-For": citizen_address(citizen_key), "Idempotency-Key": idempotency})
    return Booked(answer["ticket"], answer["token"])


async def check_in(api: Api, kiosk_token: str, ticket_id: str, idempotency: str
                   ) -> dict[str, Any]:
    answer = await api.call("POST", f"/api/v1/tickets/{ticket_id}/check-in", token=kiosk_token,
                            headers={"Idempotency-Key": idempotency})
    return dict(answer["ticket"])


async def hours_enforced(api: Api, center: str, service: str, closed_at: dt.datetime
                         ) -> bool | None:
    """Whether the server refuses tickets outside opening hours, asked without making one:
    an appointment at a closed moment with a too-short Idempotency-Key is refused either for
    the hours (409: enforced) or, past that check, for the key (422: not enforced). None when
    the answer is neither (the booking API changed: then assume nothing)."""
    body = {"center": center, "service": service,
            "appointment_at": closed_at.isoformat(timespec="seconds")}
    try:
        await api.call("POST", "/api/v1/bookings", body=body,
                       headers={"Idempotency-Key": "probe", "X-Forwarded-For": "10.255.255.254"})
    except ServerRefused as refusal:
        if refusal.status == 409:
            return True
        if refusal.status == 422 and "Idempotency-Key" in refusal.detail:
            return False
    return None
