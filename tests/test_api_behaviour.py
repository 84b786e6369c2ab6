"""What the HTTP API promises beyond roles: bookings, the CCCD kept only as a hash, rate limits,
Idempotency-Key, the problem+json shape of every error, readiness that follows Redis, and bad
input that never leaves half a write behind. Real servers only (tests/live.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from queue_server.rules.clock import TIMEZONE
from tests.live import SECRET, Bootstrap, LiveServer, login, next_free_slot
from tests.servers import scaled, start_standalone

CENTER = "06874"       # bookings and idempotency
QUIET = "06877"        # the partial-write checks compare every key of this center
LIMITED = "3"          # bookings per address and hour on the rate-limited server


PROJECTED = re.compile(rb":(m|proj|day:\d{8})$")


def address() -> str:
    """A client address of its own (uvicorn trusts X-Forwarded-For from 127.0.0.1), so the
    per-address booking limit of the shared server is never shared between tests."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def cccd(digits: int = 12) -> str:
    """A citizen id: a province code 001-096 and random digits."""
    return (f"{random.randint(1, 96):03d}" + "".join(random.choices("0123456789", k=9)))[:digits]


@dataclass
class Team:
    http: httpx.Client
    supervisor: str
    kiosk: str
    display: str
    quiet: str  # a supervisor of QUIET

    def auth(self, token: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **headers}

    def book(self, center: str = CENTER, key: str | None = None, **body: Any) -> httpx.Response:
        headers = {"X-Forwarded-For": address()}
        if key:
            headers["Idempotency-Key"] = key
        return self.http.post("/api/v1/bookings", headers=headers,
                              json={"center": center, "service": "certification", **body})

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, path, headers=self.auth(self.supervisor), **kwargs)
        assert response.is_success, f"{method} {path}: {response.text}"
        return response.json()  # type: ignore[no-any-return]

    def issue(self, center: str, service: str = "certification") -> str:
        return str(self.ok("POST", f"/api/v1/centers/{center}/tickets",
                           json={"service": service})["ticket"]["id"])

    def waiting(self, center: str, service: str) -> int:
        summary = self.http.get(f"/api/v1/centers/{center}").json()
        return int(next(s for s in summary["services"] if s["id"] == service)["waiting"])


@pytest.fixture(scope="module")
def team(live_server: LiveServer) -> Iterator[Team]:
    tag = uuid.uuid4().hex[:6]
    boot = Bootstrap(live_server.redis_url)
    people = [(f"bv{tag}a", CENTER), (f"bv{tag}q", QUIET)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda p: boot.account(p[0], "supervisor", p[1]), people))
        tokens = list(pool.map(lambda p: login(live_server, p[0]), people))
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        yield Team(http, tokens[0], boot.device("kiosk", CENTER),
                   boot.device("display", CENTER), tokens[1])


@pytest.fixture(scope="module")
def limited(live_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server on the same Redis, allowing three bookings per address and hour."""
    server = LiveServer(live_redis_url, tmp_path_factory.mktemp("limited"),
                        extra_env={"QMS_BOOKING_LIMIT_PER_IP_HOUR": LIMITED}).start()
    yield server.base_url
    server.stop()


# ---------------------------------------------------------------------- bookings


def test_booking_now_and_with_an_appointment(team: Team) -> None:
    now = team.book()
    assert now.status_code == 201, now.text
    issued = now.json()
    assert issued["ticket"]["status"] == "waiting" and issued["ticket"]["channel"] == "online"
    assert issued["token"].startswith("tk.") and issued["ticket_url"].endswith(
        f"/t/{issued['ticket']['id']}#{issued['token']}")
    mine = team.http.get(f"/api/v1/tickets/{issued['ticket']['id']}",
                         headers={"X-Ticket-Token": issued["token"]})
    assert mine.status_code == 200 and mine.json()["ticket"]["status"] == "waiting"

    # The first free slot, in local time without its zone (local time is implied).
    at = dt.datetime.fromisoformat(next_free_slot(str(team.http.base_url), CENTER,
                                                  "certification")).replace(tzinfo=None)
    later = team.book(appointment_at=at.isoformat())
    assert later.status_code == 201, later.text
    ticket = later.json()["ticket"]
    assert ticket["status"] == "booked"
    assert ticket["appt"] == int(at.replace(tzinfo=TIMEZONE).timestamp() * 1000)

    past = team.book(appointment_at=(dt.datetime.now(TIMEZONE) - dt.timedelta(hours=1))
                     .isoformat())
    assert past.status_code == 422 and "appointment_at" in past.text


def test_a_cccd_is_validated_and_kept_only_as_a_hash(team: Team, live_redis_url: str) -> None:
    short = team.book(citizen_id=cccd(11))
    assert short.status_code == 422, short.text
    assert short.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in short.json()["errors"]] == ["body.citizen_id"]
    assert "citizen_id" in short.json()["detail"]

    number = cccd()
    booked = team.book(citizen_id=number)
    assert booked.status_code == 201, booked.text
    digest = hmac.new(SECRET.encode(), f"citizen:{number}".encode(), hashlib.sha256).hexdigest()
    raw, seen_digest = number.encode(), False
    with redis.Redis.from_url(live_redis_url) as client:
        for key in client.scan_iter(count=1000):
            assert raw not in key, f"the raw CCCD is in the key name {key!r}"
            seen_digest = seen_digest or digest.encode() in key
            for value in values_of(client, key):
                assert raw not in value, f"the raw CCCD is stored in {key!r}"
    assert seen_digest, "the CCCD's salted hash keys the per-citizen limit"


def values_of(client: redis.Redis, key: bytes) -> Iterator[bytes]:
    kind = client.type(key)
    if kind == b"string":
        yield client.get(key) or b""
    elif kind == b"hash":
        for field, value in client.hgetall(key).items():
            yield field + b"=" + value
    elif kind == b"list":
        yield from client.lrange(key, 0, -1)
    elif kind == b"set":
        yield from client.smembers(key)
    elif kind == b"zset":
        yield from (member for member, _ in client.zrange(key, 0, -1, withscores=True))
    elif kind == b"stream":
        for _, fields in client.xrange(key):
            yield from (k + b"=" + v for k, v in fields.items())


def test_bookings_are_rate_limited_per_address_and_per_citizen(team: Team, limited: str) -> None:
    me = address()
    with httpx.Client(base_url=limited, headers={"X-Forwarded-For": me}, timeout=10) as http:
        body = {"center": CENTER, "service": "certification"}
        answers = [http.post("/api/v1/bookings", json=body) for _ in range(int(LIMITED) + 1)]
        assert [a.status_code for a in answers] == [201] * int(LIMITED) + [429]
        assert_problem(answers[-1], 429, "rate-limited")
        assert 1 <= int(answers[-1].headers["Retry-After"]) <= 3600
        assert answers[-1].json()["retry_after"] == int(answers[-1].headers["Retry-After"])
        elsewhere = http.post("/api/v1/bookings", json=body,
                              headers={"X-Forwarded-For": address()})
        assert elsewhere.status_code == 201, "another address has its own allowance"
    citizen = cccd()  # three bookings per citizen and day, from any address
    statuses = [team.book(citizen_id=citizen).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]


# ---------------------------------------------------------------------- idempotency


def test_a_double_call_next_with_one_key_calls_one_ticket(team: Team) -> None:
    base = f"/api/v1/centers/{CENTER}/counters/1"
    team.ok("POST", f"{base}/open", json={})
    first, second = team.issue(CENTER), team.issue(CENTER)
    before = team.waiting(CENTER, "certification")
    key = {"Idempotency-Key": f"call-{uuid.uuid4()}"}
    taps = [team.http.post(f"{base}/call-next", headers=team.auth(team.supervisor, **key))
            for _ in range(2)]
    assert [t.status_code for t in taps] == [200, 200], taps[1].text
    assert taps[0].json() == taps[1].json(), "the retry answers what the first tap did"
    called = taps[0].json()["ticket"]["id"]
    assert team.waiting(CENTER, "certification") == before - 1
    again = team.http.post(f"{base}/call-next", headers=team.auth(team.supervisor))
    assert again.status_code == 409, "a new key is a new call: the counter still holds one"
    team.ok("POST", f"{base}/no-show")
    for ticket in {first, second} - {called}:
        state = team.ok("GET", f"/api/v1/tickets/{ticket}")["ticket"]["status"]
        assert state == "waiting"


def test_a_resent_booking_makes_one_ticket(team: Team) -> None:
    before = team.waiting(CENTER, "certification")
    key = f"book-{uuid.uuid4()}"
    first, resent = team.book(key=key), team.book(key=key)
    assert first.status_code == resent.status_code == 201, resent.text
    assert first.json()["ticket"]["id"] == resent.json()["ticket"]["id"]
    assert first.json()["token"] == resent.json()["token"], "the same secret, so it still works"
    assert team.waiting(CENTER, "certification") == before + 1
    other = team.book(key=key, service="land")
    assert_problem(other, 422, "idempotency-mismatch")
    # A short key could be guessed, and a replay hands out the secret: refused.
    assert_problem(team.book(key="abc123"), 422, "invalid-input")


# ---------------------------------------------------------------------- errors


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"/problems/{code}" and body["status"] == status
    vietnamese, _, english = body["detail"].partition(" — ")
    assert english and not vietnamese.isascii(), f"Vietnamese first: {body['detail']!r}"
    assert " / " in body["title"]
    for leak in ("Traceback", 'File "', ".py", "redis."):
        assert leak not in response.text, f"{leak!r} leaked: {response.text}"
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(("status", "code", "request_"), [
    (400, "bad-request", ("POST", "/api/v1/bookings", {"content": b"{not json"})),
    (401, "unauthenticated", ("GET", "/api/v1/auth/me", {})),
    (401, "unauthenticated", ("GET", "/api/v1/auth/me", {"token": "st.forged"})),
    (403, "forbidden", ("GET", "/api/v1/province", {"token": "display"})),
    (404, "unknown-center", ("GET", "/api/v1/centers/99999", {})),
    (404, "not-found", ("GET", "/api/v1/no-such-thing", {})),
    (405, "method-not-allowed", ("DELETE", "/api/v1/services", {})),
    (409, "counter-state", ("POST", f"/api/v1/centers/{CENTER}/counters/3/call-next",
                            {"token": "supervisor"})),
    (422, "invalid-input", ("POST", "/api/v1/bookings", {"json": {"center": CENTER}})),
    (422, "invalid-input", ("GET", "/api/v1/tickets/not-a-ticket", {"token": "supervisor"})),
], ids=lambda v: str(v) if isinstance(v, int) else None)
def test_errors_are_problem_json(team: Team, status: int, code: str,
                                 request_: tuple[str, str, dict[str, Any]]) -> None:
    method, path, options = request_
    options = dict(options)
    headers = {"Content-Type": "application/json", "X-Forwarded-For": address()}
    token = options.pop("token", None)
    if token:
        headers["Authorization"] = f"Bearer {getattr(team, token, token)}"
    assert_problem(team.http.request(method, path, headers=headers, **options), status, code)


# ---------------------------------------------------------------------- readiness


def test_readiness_follows_redis(tmp_path: Path) -> None:
    store = start_standalone(tmp_path / "redis")
    server = LiveServer(store.url, tmp_path / "server").start()
    try:
        ready = httpx.get(server.base_url + "/health/ready", timeout=5)
        assert ready.status_code == 200
        store.kill()
        gone = time.monotonic()
        answer = poll_ready(server, until=503, within=scaled(2.5))
        assert time.monotonic() - gone < scaled(2.5)
        assert_problem(answer, 503, "unavailable")
        assert httpx.get(server.base_url + "/health/live", timeout=5).status_code == 200
        assert_problem(httpx.get(server.base_url + "/api/v1/centers", timeout=10), 503,
                       "unavailable")
        store.start()
        poll_ready(server, until=200, within=scaled(5))
    finally:
        server.stop()
        store.stop()


def poll_ready(server: LiveServer, until: int, within: float) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = httpx.get(server.base_url + "/health/ready", timeout=5)
        if response.status_code == until:
            return response
        assert time.monotonic() < deadline, f"/health/ready still {response.status_code}"
        time.sleep(0.05)


# ---------------------------------------------------------------------- no partial writes


def key_content(client: redis.Redis, key: bytes) -> object:
    """A key's value in a canonical form (DUMP is not one: a read can move a hash table's
    incremental rehashing on, which reorders its entries)."""
    kind = client.type(key)
    if kind == b"hash":
        return sorted(client.hgetall(key).items())
    if kind == b"zset":
        return client.zrange(key, 0, -1, withscores=True)
    if kind == b"stream":
        return client.xrange(key)
    if kind == b"string":
        return client.get(key)
    return client.dump(key)


def center_state(client: redis.Redis, center: str) -> dict[bytes, object]:
    return {key: key_content(client, key) for key in client.scan_iter(f"qms:{{c:{center}}}:*")}


def test_bad_input_never_writes_half(team: Team, live_redis_url: str) -> None:
    headers = {"Authorization": f"Bearer {team.quiet}"}
    base = f"/api/v1/centers/{QUIET}/counters/1"

    def ask(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return team.http.request(method, path, headers={**headers, **kwargs.pop("h", {})},
                                 **kwargs)

    assert ask("POST", f"{base}/open", json={}).is_success
    issued = ask("POST", f"/api/v1/centers/{QUIET}/tickets", json={"service": "certification"})
    ticket = issued.json()["ticket"]["id"]
    assert ask("POST", f"{base}/call", json={"ticket_id": ticket}).is_success
    land = ask("POST", f"/api/v1/centers/{QUIET}/tickets", json={"service": "land"})
    key = f"k-{uuid.uuid4()}"
    assert ask("POST", f"/api/v1/tickets/{land.json()['ticket']['id']}/cancel",
               h={"Idempotency-Key": key}).is_success
    bad = [
        ("POST", f"/api/v1/centers/{QUIET}/tickets", {"json": {"service": "nope"}}, 404),
        ("POST", f"/api/v1/centers/{QUIET}/tickets",
         {"json": {"service": "land", "priority": "vip"}}, 422),
        ("POST", "/api/v1/bookings", {"json": {"center": QUIET, "service": "land",
                                               "citizen_id": cccd(11)}}, 422),
        ("POST", "/api/v1/bookings", {"json": {"center": QUIET, "service": "nope"}}, 404),
        ("POST", f"{base}/transfer", {"json": {"to_service": "nope"}}, 404),
        ("POST", f"{base}/transfer", {"json": {"to_counter": "99"}}, 404),
        ("POST", f"{base}/transfer", {"json": {}}, 422),
        ("POST", f"{base}/pause", {"json": {"reason": "nap"}}, 422),
        ("POST", f"{base}/call-next", {}, 409),
        ("POST", f"{base}/complete", {}, 409),
        ("PUT", f"{base}/services", {"json": {"services": ["land", "nope"]}}, 404),
        ("PUT", f"{base}/services", {"json": {"services": ["land", "land"]}}, 422),
        ("POST", f"/api/v1/tickets/{ticket}/cancel", {}, 409),
        ("POST", f"/api/v1/tickets/{ticket}/rating", {"json": {"level": 6}}, 422),
        ("POST", f"/api/v1/tickets/{ticket}/cancel", {"h": {"Idempotency-Key": key}}, 422),
        ("POST", f"/api/v1/centers/{QUIET}/counters/9/open", {"json": {}}, 404),
    ]
    with redis.Redis.from_url(live_redis_url) as client:
        before = center_state(client, QUIET)
        assert len(before) > 5, "the center has its meta, counters, tickets, stream …"
        for method, path, options, status in bad:
            response = ask(method, path, **{**options, "h": {**options.get("h", {}),
                                                             "X-Forwarded-For": address()}})
            assert response.status_code == status, f"{method} {path}: {response.text}"
            after = center_state(client, QUIET)
            # The projections (metrics, day totals) are applied in the background from earlier
            # events: not this request's writes.
            changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)
                       and not PROJECTED.search(k)}
            assert not changed, f"{method} {path} ({status}) changed {sorted(changed)}"
    assert ask("POST", f"{base}/no-show").is_success


def test_the_lean_kiosk_route_answers_like_the_documented_one(team: Team) -> None:
    """The kiosk's issue path is served by a plain Starlette route (queue_server/api/fast.py):
    its refusals must be the same problems FastAPI's validation gives."""
    path = f"/api/v1/centers/{CENTER}/tickets"
    kiosk = team.auth(team.kiosk)
    missing = assert_problem(team.http.post(path, headers=kiosk, json={}), 422, "invalid-input")
    assert missing["errors"][0]["field"] == "body.service"
    extra = team.http.post(path, headers=kiosk, json={"service": "land", "colour": "red"})
    assert assert_problem(extra, 422, "invalid-input")["errors"][0]["field"] == "body.colour"
    assert_problem(team.http.post(path, headers=kiosk, content=b"{not json"), 400, "bad-request")
    assert_problem(team.http.post(path, json={"service": "land"}), 401, "unauthenticated")
    long_key = team.auth(team.kiosk, **{"Idempotency-Key": "k" * 129})
    assert_problem(team.http.post(path, headers=long_key, json={"service": "land"}), 422,
                   "invalid-input")
    once = team.auth(team.kiosk, **{"Idempotency-Key": f"kiosk-{uuid.uuid4()}"})
    first = team.http.post(path, headers=once, json={"service": "land"})
    again = team.http.post(path, headers=once, json={"service": "land"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
