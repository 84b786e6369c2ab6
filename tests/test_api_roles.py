"""The whole role matrix, as a table: every endpoint of /openapi.json × every role × own and
other center, each cell the status class the live server must answer.

Roles: anonymous, citizen (a ticket's ``tk.`` token), kiosk, display and counter screen
(device tokens of center A), staff and supervisor (accounts of center A), province. "own"
targets center A (or the citizen's own ticket); "other" targets center B (or a ticket of B
with A's token). A cell expected to pass gets fresh state first (a waiting ticket, a counter
holding a called ticket, …), so it must answer 2xx, not merely "not 401/403". A new endpoint
without a row fails ``test_the_matrix_covers_every_endpoint``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.live import Bootstrap, LiveServer, login, next_free_slot

A, B = "06862", "07060"      # centers no other test uses
ROLES = ("anonymous", "citizen", "kiosk", "display", "screen", "staff", "supervisor",
         "province")
OK = "2xx"
ACT_COUNTER = "1"            # the counter the counter rows act on
DONE_COUNTER = "4"           # the counter that serves tickets to completion for the rating row


def random_ip() -> str:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1: each booking gets its own client address,
    # so the per-IP booking limit of the shared server never trips this matrix.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@dataclass
class Call:
    """One request of a cell: its path parameters, query, body and the citizen's token."""

    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    ticket_token: str = ""
    token_for: Callable[[str], str | None] | None = None   # a role's own token for this cell


@dataclass
class World:
    server: LiveServer
    http: httpx.Client
    names: dict[str, str]
    tokens: dict[str, str]            # role -> credential of center A
    setup: dict[str, str]             # center -> a supervisor token used only to prepare state
    cached: dict[str, tuple[str, str]] = field(default_factory=dict)  # center -> (ticket, token)

    def ask(self, method: str, path: str, token: str | None = None,
            **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, path, headers=headers, **kwargs)

    def prep(self, method: str, path: str, center: str = A, **kwargs: Any) -> dict[str, Any]:
        response = self.ask(method, path, self.setup[center], **kwargs)
        assert response.is_success, f"preparing {method} {path}: {response.text}"
        return response.json() if response.content else {}

    # ------------------------------------------------------------------ tickets

    def issue(self, center: str = A, service: str = "certification") -> tuple[str, str]:
        issued = self.prep("POST", f"/api/v1/centers/{center}/tickets", center,
                           json={"service": service})
        return issued["ticket"]["id"], issued["token"]

    def any_ticket(self, center: str) -> tuple[str, str]:
        """A ticket for cells that must be refused before any state is touched."""
        if center not in self.cached:
            self.cached[center] = self.issue(center)
        return self.cached[center]

    def booked(self, center: str) -> str:
        at = next_free_slot(self.server.base_url, center)
        response = self.http.post("/api/v1/bookings", headers={"X-Forwarded-For": random_ip()},
                                  json={"center": center, "service": "land",
                                        "appointment_at": at})
        assert response.status_code == 201, response.text
        return str(response.json()["ticket"]["id"])

    def booked_with_token(self, center: str) -> tuple[str, str]:
        at = next_free_slot(self.server.base_url, center)
        response = self.http.post("/api/v1/bookings", headers={"X-Forwarded-For": random_ip()},
                                  json={"center": center, "service": "land",
                                        "appointment_at": at})
        assert response.status_code == 201, response.text
        return str(response.json()["ticket"]["id"]), str(response.json()["token"])

    def booked_today(self, center: str) -> tuple[str, str]:
        return Bootstrap(self.server.redis_url).booking_today(center)

    def done(self) -> tuple[str, str]:
        self.settle(DONE_COUNTER, "open")
        ticket, token = self.issue(A, "civil_status")
        base = f"/api/v1/centers/{A}/counters/{DONE_COUNTER}"
        self.prep("POST", f"{base}/call", json={"ticket_id": ticket})
        self.prep("POST", f"{base}/start")
        self.prep("POST", f"{base}/complete")
        return ticket, token

    # ------------------------------------------------------------------ counters

    def settle(self, counter: str, state: str) -> None:
        """Bring a counter of A to ``state`` (closed/open/paused/called/serving), held by the
        staff account, whatever it was before."""
        base = f"/api/v1/centers/{A}/counters/{counter}"
        live = self.prep("GET", f"/api/v1/centers/{A}/live", params={"tickets": 0})
        view = next(c for c in live["counters"] if c["id"] == counter)
        if view["ticket"]:
            status = self.prep("GET", f"/api/v1/tickets/{view['ticket']}")["ticket"]["status"]
            self.prep("POST", f"{base}/{'complete' if status == 'serving' else 'no-show'}")
        if view["state"] == "paused":
            self.prep("POST", f"{base}/resume")
        if state == "closed":
            if view["state"] != "closed":
                self.prep("POST", f"{base}/close")
            return
        if view["state"] == "closed" or view["staff"] != self.names["staff"]:
            self.prep("POST", f"{base}/open", json={"staff": self.names["staff"], "force": True})
        if state == "paused":
            self.prep("POST", f"{base}/pause", json={"reason": "break"})
        if state in ("called", "serving"):
            ticket, _ = self.issue(A, "certification")
            self.prep("POST", f"{base}/call", json={"ticket_id": ticket})
        if state == "serving":
            self.prep("POST", f"{base}/start")


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> Any:
    tag = uuid.uuid4().hex[:6]
    names = {"staff": f"rs{tag}a", "supervisor": f"rv{tag}a", "province": f"rp{tag}",
             "setup_b": f"rv{tag}b"}
    boot = Bootstrap(live_server.redis_url)
    people = {"staff": ("staff", A), "supervisor": ("supervisor", A),
              "setup_b": ("supervisor", B), "province": ("province", None)}
    # Password hashing is deliberately slow: make the four accounts side by side.
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda key: boot.account(names[key], *people[key]), people))
        tokens = dict(zip(people, pool.map(lambda key: login(live_server, names[key]), people),
                          strict=True))
    tokens["kiosk"] = boot.device("kiosk", A)
    tokens["display"] = boot.device("display", A)
    tokens["screen"] = boot.device("screen", A)
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        yield World(live_server, http, names, tokens,
                    {A: tokens["supervisor"], B: tokens.pop("setup_b")})


# ---------------------------------------------------------------------- the expectations

Expect = dict[str, tuple[str, str]]


def public() -> Expect:
    return {role: (OK, OK) for role in ROLES}


def only(*roles: str, anywhere: tuple[str, ...] = (), citizen: tuple[str, str] = ("401", "401"),
         refused: str = "403") -> Expect:
    """``roles`` act in their own center only, ``anywhere`` in every center; the rest are
    refused (403), anonymous callers are asked to log in (401)."""
    table = {role: (refused, refused) for role in ROLES}
    table.update({role: (OK, "403") for role in roles})
    table.update({role: (OK, OK) for role in anywhere})
    table["anonymous"] = ("401", "401")
    table["citizen"] = citizen
    return table


def centerless(table: Expect) -> Expect:
    """An endpoint without a center answers the same for "own" and "other"."""
    return {role: (own, own) for role, (own, _) in table.items()}


def ticket_target(state: str) -> Callable[[World, str, bool], Call]:
    makers: dict[str, Callable[[World], tuple[str, str]]] = {
        "waiting": lambda w: w.issue(A),
        "done": World.done,
        "booked": lambda w: (w.booked(A), ""),
        "booked, with its token": lambda w: w.booked_with_token(A),
        "booked today": lambda w: (w.booked_today(A)[0], ""),
    }

    def prepare(world: World, center: str, ready: bool) -> Call:
        ticket, token = makers[state](world) if ready else world.any_ticket(center)
        # the citizen holds a ticket of A: its own ticket, or, for B, another one
        own_token = token if center == A else world.any_ticket(A)[1]
        return Call({"ticket_id": ticket}, ticket_token=own_token)

    return prepare


def counter_target(state: str, body: Any = None,
                   make_body: Callable[[World], Any] | None = None) -> Callable[..., Call]:
    def prepare(world: World, center: str, ready: bool) -> Call:
        if ready:
            world.settle(ACT_COUNTER, state)
        payload = make_body(world) if make_body and ready else body
        return Call({"center_id": center, "counter_id": ACT_COUNTER}, body=payload)

    return prepare


def plain(**kwargs: Any) -> Callable[[World, str, bool], Call]:
    return lambda world, center, ready: Call(**kwargs)


def with_center(body: Callable[[World, str], Any] | None = None,
                **kwargs: Any) -> Callable[[World, str, bool], Call]:
    return lambda world, center, ready: Call(
        {"center_id": center}, body=body(world, center) if body else None, **kwargs)


def audio_key(world: World, center: str, ready: bool) -> Call:
    said = world.prep("GET", f"/api/v1/centers/{A}/announcement",
                      params={"number": "B001", "counter": "1"})
    return Call({"key": said["key"]})


def archived_ticket(world: World, center: str, ready: bool) -> Call:
    """A ticket of ``center`` already in the archive (the archiver polls every 0.1 s)."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date().isoformat()
    if not ready:
        return Call({"center_id": center}, query={"day": today, "number": "A001"})
    ticket, _ = world.issue(center)
    query = {"day": today, "number": ticket.rsplit("-", 1)[1]}
    path = f"/api/v1/centers/{center}/audit"
    for _ in range(100):
        if world.ask("GET", path, world.tokens["province"], params=query).status_code == 200:
            break
        time.sleep(0.05)
    return Call({"center_id": center}, query=query)


def device_to_revoke(world: World, center: str, ready: bool) -> Call:
    made = world.ask("POST", "/api/v1/devices", world.tokens["province"],
                     json={"kind": "display", "center": center}).json()
    return Call({"device_id": made["id"]}, query={"center": center})


def fresh_logins(world: World, center: str, ready: bool) -> Call:
    """Logins of their own for the cells that end them (the matrix's others must live)."""
    people = {"staff": A, "supervisor": A, "province": None}

    def token_for(role: str) -> str | None:
        if role not in people:
            return None
        boot = Bootstrap(world.server.redis_url)
        return asyncio.run(boot.logins([world.names[role]], role, people[role]))[0]

    return Call(token_for=token_for)


def own_accounts(world: World, center: str, ready: bool) -> Call:
    """Accounts made for the cell, with a password each role changes."""
    people = {"staff": A, "supervisor": A, "province": None}

    def token_for(role: str) -> str | None:
        if role not in people:
            return None
        name = f"rw{uuid.uuid4().hex[:10]}"
        Bootstrap(world.server.redis_url).account(name, role, people[role])
        return login(world.server, name)

    return Call(body={"current_password": "matkhau123", "new_password": "matkhau456"},
                token_for=token_for)


def staff_account(world: World, center: str, ready: bool) -> Call:
    name = f"rt{uuid.uuid4().hex[:10]}"
    Bootstrap(world.server.redis_url).bare_account(name, "staff", center)
    return Call({"username": name})


WORKERS = only("staff", "supervisor")
SUPERVISOR = only("supervisor")
TICKET_ACTION = only("staff", "supervisor", citizen=(OK, "403"))


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: Expect
    prepare: Callable[[World, str, bool], Call]
    centers: tuple[str, ...] = (A, B)   # (A,): no center in the request, one column is enough


ONE = (A,)
C = "/api/v1/centers/{center_id}"
K = C + "/counters/{counter_id}"
T = "/api/v1/tickets/{ticket_id}"
ROWS = [
    Row("GET", "/api/v1/services", public(), plain(), ONE),
    Row("GET", "/api/v1/centers", public(), plain(), ONE),
    Row("GET", C, public(), with_center()),
    Row("GET", "/api/v1/suggest", public(), plain(query={"service": "land"}), ONE),
    Row("GET", "/api/v1/config", public(), plain(), ONE),
    Row("GET", "/api/v1/messages", public(), plain(), ONE),
    Row("GET", "/api/v1/public/tickets/{ticket_id}", public(), ticket_target("waiting")),
    Row("GET", "/health/live", public(), plain(), ONE),
    Row("GET", "/health/ready", public(), plain(), ONE),
    Row("POST", "/api/v1/bookings", public(),
        lambda w, center, ready: Call(body={"center": center, "service": "certification"})),
    Row("POST", C + "/tickets", only("kiosk", "supervisor"),
        with_center(lambda w, c: {"service": "certification"})),
    # devices read a ticket only with its secret, as a citizen does (docs/api.md)
    Row("GET", T, only("staff", "supervisor", anywhere=("province",), citizen=(OK, "403")),
        ticket_target("waiting")),
    Row("POST", T + "/cancel", TICKET_ACTION, ticket_target("waiting")),
    Row("POST", T + "/rating", TICKET_ACTION, lambda w, c, ready: Call(
        **{**ticket_target("done")(w, c, ready).__dict__, "body": {"level": 5}})),
    Row("POST", T + "/check-in", WORKERS, ticket_target("booked today")),
    Row("POST", C + "/check-in", only("kiosk", "staff", "supervisor"),
        lambda w, c, ready: Call({"center_id": c}, body={
            "code": w.booked_today(c)[1] if ready else "A001-0000"})),
    Row("GET", C + "/calendar", public(), with_center()),
    # api/appointments.py: today's bookings for staff, a booking's code for its holder
    Row("GET", C + "/bookings", WORKERS, with_center()),
    Row("GET", T + "/check-in-code", TICKET_ACTION, ticket_target("booked, with its token")),
    Row("GET", C + "/slots", public(), lambda w, c, ready: Call(
        {"center_id": c}, query={"service": "land", "day": dt.date.today().isoformat()})),
    Row("POST", T + "/move", SUPERVISOR, lambda w, c, ready: Call(
        **{**ticket_target("waiting")(w, c, ready).__dict__, "body": {"to_service": "land"}})),
    Row("POST", "/api/v1/auth/login", public(), lambda w, c, ready: Call(
        body={"username": w.names["staff"], "password": "matkhau123"}), ONE),
    Row("GET", "/api/v1/auth/me", centerless(only("kiosk", "display", "screen", "staff",
                                                  "supervisor", "province")), plain(), ONE),
    Row("GET", "/api/v1/me/day", centerless(WORKERS), plain(), ONE),
    Row("POST", K + "/call-next", WORKERS,
        counter_target("open", make_body=lambda w: w.issue(A) and None)),
    Row("POST", K + "/recall", WORKERS, counter_target("called")),
    Row("POST", K + "/start", WORKERS, counter_target("called")),
    Row("POST", K + "/complete", WORKERS, counter_target("serving")),
    Row("POST", K + "/no-show", WORKERS, counter_target("called")),
    Row("POST", K + "/resume", WORKERS, counter_target("paused")),
    Row("POST", K + "/close", WORKERS, counter_target("open")),
    Row("POST", K + "/open", WORKERS, counter_target("closed", body={})),
    Row("POST", K + "/call", WORKERS, counter_target(
        "open", body={"ticket_id": "06862-20250101-B001"},
        make_body=lambda w: {"ticket_id": w.issue(A)[0]})),
    Row("POST", K + "/pause", WORKERS, counter_target("open", body={"reason": "break"})),
    Row("POST", K + "/transfer", WORKERS, counter_target("called", body={"to_service": "land"})),
    Row("PUT", K + "/services", SUPERVISOR, lambda w, c, ready: Call(
        {"center_id": c, "counter_id": "3"},
        body={"services": ["business", "social_protection", "merit"]})),
    Row("GET", C + "/live", only("display", "staff", "supervisor", anywhere=("province",)),
        with_center()),
    Row("POST", "/api/v1/staff", only("supervisor", anywhere=("province",)),
        lambda w, c, ready: Call(body={"username": f"rn{uuid.uuid4().hex[:10]}",
                                       "password": "matkhau123", "name": "Nguyễn Văn An",
                                       "role": "staff", "center": c})),
    Row("POST", "/api/v1/devices", only("supervisor", anywhere=("province",)),
        lambda w, c, ready: Call(body={"kind": "kiosk", "center": c})),
    Row("DELETE", "/api/v1/devices/{device_id}", only("supervisor", anywhere=("province",)),
        device_to_revoke),
    Row("GET", "/api/v1/province", centerless(only("province")), plain(), ONE),
    Row("POST", "/api/v1/auth/logout", centerless(only("staff", "supervisor", "province")),
        fresh_logins, ONE),
    Row("POST", "/api/v1/auth/password", centerless(only("staff", "supervisor", "province")),
        own_accounts, ONE),
    Row("GET", "/api/v1/staff", only("supervisor", anywhere=("province",)),
        lambda w, c, ready: Call(query={"center": c})),
    Row("POST", "/api/v1/staff/{username}/deactivate", only("supervisor", anywhere=("province",)),
        staff_account),
    Row("POST", "/api/v1/staff/{username}/activate", only("supervisor", anywhere=("province",)),
        staff_account),
    Row("DELETE", "/api/v1/staff/{username}/logins", only("supervisor",
                                                          anywhere=("province",)),
        staff_account),
    # the pages' helpers (displays/routes.py)
    Row("GET", C + "/page-config", public(), with_center()),
    Row("GET", C + "/announcement", only("display", "staff", "supervisor",
                                         anywhere=("province",)),
        with_center(query={"number": "B001", "counter": "1"})),
    Row("GET", "/audio/{key}.wav", public(), audio_key, ONE),  # immutable, named by its hash
    Row("GET", "/api/v1/qr", public(), plain(query={"data": "https://dichvucong.gov.vn/"}),
        ONE),
    Row("POST", "/api/v1/qr", public(), plain(body={"data": "https://dichvucong.gov.vn/t/x"}),
        ONE),
    # queue_server/api/reports.py: the archive
    Row("GET", "/api/v1/reports", only("supervisor", anywhere=("province",)),
        lambda w, c, ready: Call(query={"center": c, "period": "day", "by": "service"})),
    Row("GET", C + "/audit", only("supervisor", anywhere=("province",)), archived_ticket),
    # monitoring/routes.py: the scrape token (tests/test_metrics.py) or a province login
    Row("GET", "/metrics", centerless(only(anywhere=("province",))), plain(query={"center": A}),
        ONE),
]


def status_class(status: int) -> str:
    return OK if 200 <= status < 300 else str(status)


def run_cell(world: World, row: Row, role: str, center: str, expected: str) -> str | None:
    call = row.prepare(world, center, expected == OK)
    headers = {"X-Forwarded-For": random_ip()}
    if role == "citizen":
        headers["Authorization"] = f"Bearer {call.ticket_token or world.any_ticket(A)[1]}"
    elif role != "anonymous":
        token = call.token_for(role) if call.token_for else None
        headers["Authorization"] = f"Bearer {token or world.tokens[role]}"
    response = world.http.request(row.method, row.path.format(**call.params), params=call.query,
                                  json=call.body, headers=headers)
    got = status_class(response.status_code)
    if got == expected:
        return None
    scope = "own" if center == A else "other"
    return f"{role:<10} {scope:<5} expected {expected}, got {got}: {response.text[:160]}"


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.method} {r.path}" for r in ROWS])
def test_role_matrix(world: World, row: Row) -> None:
    wrong = [problem for role in ROLES
             for center, expected in zip(row.centers, row.expect[role], strict=False)
             if (problem := run_cell(world, row, role, center, expected))]
    assert not wrong, f"{row.method} {row.path}:\n" + "\n".join(wrong)


def test_the_matrix_covers_every_endpoint(live_server: LiveServer) -> None:
    spec = httpx.get(live_server.base_url + "/openapi.json", timeout=10).json()
    served = {(method.upper(), path) for path, item in spec["paths"].items()
              for method in item if method in ("get", "post", "put", "patch", "delete")}
    table = {(row.method, row.path) for row in ROWS}
    assert served - table == set(), "endpoints without a row in the role matrix"
    assert table - served == set(), "rows for endpoints the server no longer has"
    assert len(table) == len(ROWS), "one row per endpoint"


def test_a_device_is_revoked_only_through_its_own_center(world: World) -> None:
    """Naming one's own center in the query must not reach another center's device."""
    other = world.ask("POST", "/api/v1/devices", world.tokens["province"],
                      json={"kind": "display", "center": B}).json()
    response = world.ask("DELETE", f"/api/v1/devices/{other['id']}",
                         world.tokens["supervisor"], params={"center": A})
    assert response.status_code == 404, response.text
    socket_still_valid = world.ask("GET", "/api/v1/auth/me", other["token"])
    assert socket_still_valid.status_code == 200, socket_still_valid.text


def test_staff_cannot_act_on_a_counter_held_by_someone_else(world: World) -> None:
    world.settle("2", "open")
    mine = world.ask("POST", f"/api/v1/centers/{A}/counters/2/open", world.tokens["staff"],
                     json={})
    assert mine.status_code == 200  # already theirs: taking it again changes nothing
    world.prep("POST", f"/api/v1/centers/{A}/counters/2/open",
               json={"staff": world.names["supervisor"], "force": True})
    taken = world.ask("POST", f"/api/v1/centers/{A}/counters/2/call-next", world.tokens["staff"])
    assert taken.status_code == 409, taken.text
    assert taken.json()["type"] == "/problems/counter-state"
