"""Every action's event says who acted and from where (the audit trail the archive keeps):
staff, a supervisor, a kiosk, a citizen, the system. Real server (tests/live.py)."""

from __future__ import annotations

import uuid

import httpx
import msgpack
import redis

from queue_server import keys
from queue_server.records import EVENT_FIELDS, decode_event, event_view
from tests.live import Bootstrap, LiveServer, login

CENTER = "06967"   # no other test acts here (grep the code before reusing it)


def events(url: str) -> list[dict[str, object]]:
    with redis.Redis.from_url(url) as client:
        return [decode_event(fields[b"d"], CENTER)
                for _, fields in client.xrange(keys.center_stream_key(CENTER))]


def test_each_event_names_its_actor_and_origin(live_server: LiveServer) -> None:
    boot = Bootstrap(live_server.redis_url)
    staff, chief = f"ea{uuid.uuid4().hex[:6]}", f"es{uuid.uuid4().hex[:6]}"
    boot.account(staff, "staff", CENTER)
    boot.account(chief, "supervisor", CENTER)
    kiosk = boot.device("kiosk", CENTER)
    kiosk_id = kiosk.split(".")[1]
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        def as_(token: str, address: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}

        issued = http.post(f"/api/v1/centers/{CENTER}/tickets", json={"service": "land"},
                           headers=as_(kiosk, "10.9.0.1"))
        assert issued.status_code == 201, issued.text
        booked = http.post("/api/v1/bookings", json={"center": CENTER, "service": "results"},
                           headers={"X-Forwarded-For": "10.9.0.2"})
        assert booked.status_code == 201, booked.text
        worker, boss = login(live_server, staff), login(live_server, chief)
        base = f"/api/v1/centers/{CENTER}/counters/2"
        assert http.post(f"{base}/open", json={}, headers=as_(worker, "10.9.0.3")).is_success
        assert http.post(f"{base}/call-next", headers=as_(worker, "10.9.0.3")).is_success
        moved = http.post(f"/api/v1/tickets/{booked.json()['ticket']['id']}/move",
                          json={"to_service": "land"}, headers=as_(boss, "10.9.0.4"))
        assert moved.is_success, moved.text
    seen = [(e["type"], e["actor"], e["origin"]) for e in events(live_server.redis_url)]
    assert ("issued", f"kiosk:{kiosk_id}", "10.9.0.1") in seen
    assert ("issued", "citizen", "10.9.0.2") in seen
    assert ("counter_opened", f"staff:{staff}", "10.9.0.3") in seen
    assert ("called", f"staff:{staff}", "10.9.0.3") in seen
    assert ("transferred", f"supervisor:{chief}", "10.9.0.4") in seen
    # The stream keeps them for the archive; a frame a display gets carries neither.
    with redis.Redis.from_url(live_server.redis_url) as client:
        raw = client.xrange(keys.center_stream_key(CENTER))[0][1][b"d"]
    assert msgpack.unpackb(raw)[EVENT_FIELDS.index("actor")] == f"kiosk:{kiosk_id}"
    assert not {"actor", "origin"} & set(event_view(raw, CENTER))
