"""Logins that end, accounts that stop, and password guessing slowed, against a live server.

A login's HTTP calls stop at once on the replica that ended it (within LOGIN_CACHE_S on the
others) and its open sockets close with 4401 within the token guard's sweep; a revoked
device's sockets close the same way.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from queue_server.sessions import LoginLimits
from tests.live import Bootstrap, LiveServer, login
from tests.servers import scaled

CENTER, OTHER = "06994", "07090"
JSON_ONLY = [Subprotocol("qms.json")]
GUARD_S = 2.0 + 5.0   # the guard's sweep, plus the device cache of another replica


def ask(server: LiveServer, method: str, path: str, token: str | None = None,
        **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, server.base_url + path, headers=headers, timeout=10, **kwargs)


def new_account(server: LiveServer, role: str, center: str | None) -> tuple[str, str]:
    name = f"se{uuid.uuid4().hex[:8]}"
    Bootstrap(server.redis_url).account(name, role, center)
    return name, login(server, name)


async def closed_code(ws: ClientConnection, within: float) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), scaled(within))
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_logout_ends_the_login_and_its_socket(live_server: LiveServer) -> None:
    name, token = await asyncio.to_thread(new_account, live_server, "staff", CENTER)
    _, other = await asyncio.to_thread(new_account, live_server, "staff", CENTER)
    socket_url = f"{live_server.ws_url}/ws/counter/{CENTER}/1?token={token}"
    async with connect(socket_url, subprotocols=JSON_ONLY) as ws:
        await ws.recv()
        assert ask(live_server, "POST", "/api/v1/auth/logout", token).status_code == 204
        assert ask(live_server, "GET", "/api/v1/auth/me", token).status_code == 401
        assert await closed_code(ws, GUARD_S) == 4401
    assert ask(live_server, "GET", "/api/v1/auth/me", other).status_code == 200  # not theirs
    again = login(live_server, name)   # logging in again works
    assert ask(live_server, "GET", "/api/v1/auth/me", again).status_code == 200


def test_a_supervisor_ends_the_logins_of_their_staff(live_server: LiveServer) -> None:
    _, boss = new_account(live_server, "supervisor", CENTER)
    name, token = new_account(live_server, "staff", CENTER)
    second = login(live_server, name)
    assert ask(live_server, "DELETE", f"/api/v1/staff/{name}/logins", boss).status_code == 204
    for ended in (token, second):
        refused = ask(live_server, "GET", "/api/v1/auth/me", ended)
        assert refused.status_code == 401 and "ended" in refused.json()["detail"]
    # not another center's staff, not another supervisor, not themselves
    stranger, _ = new_account(live_server, "staff", OTHER)
    peer, _ = new_account(live_server, "supervisor", CENTER)
    assert ask(live_server, "DELETE", f"/api/v1/staff/{stranger}/logins", boss).status_code == 403
    assert ask(live_server, "DELETE", f"/api/v1/staff/{peer}/logins", boss).status_code == 403
    assert ask(live_server, "DELETE", "/api/v1/staff/nobody.here/logins", boss).status_code == 404


def test_a_deactivated_account_cannot_log_in_until_reactivated(live_server: LiveServer) -> None:
    _, province = new_account(live_server, "province", None)
    name, token = new_account(live_server, "staff", CENTER)
    off = ask(live_server, "POST", f"/api/v1/staff/{name}/deactivate", province)
    assert off.status_code == 200 and off.json()["active"] is False
    assert ask(live_server, "GET", "/api/v1/auth/me", token).status_code == 401
    refused = ask(live_server, "POST", "/api/v1/auth/login",
                  json={"username": name, "password": "matkhau123"})
    assert refused.status_code == 401
    on = ask(live_server, "POST", f"/api/v1/staff/{name}/activate", province)
    assert on.status_code == 200 and on.json()["active"] is True
    assert ask(live_server, "GET", "/api/v1/auth/me", login(live_server, name)).status_code == 200
    unknown = ask(live_server, "POST", "/api/v1/staff/nobody.here/deactivate", province)
    assert unknown.status_code == 404


def test_a_password_change_keeps_this_login_and_ends_the_others(live_server: LiveServer) -> None:
    name, token = new_account(live_server, "staff", CENTER)
    elsewhere = login(live_server, name)
    wrong = ask(live_server, "POST", "/api/v1/auth/password", token,
                json={"current_password": "not-it-at-all", "new_password": "matkhau456"})
    assert wrong.status_code == 401
    short = ask(live_server, "POST", "/api/v1/auth/password", token,
                json={"current_password": "matkhau123", "new_password": "short"})
    assert short.status_code == 422
    changed = ask(live_server, "POST", "/api/v1/auth/password", token,
                  json={"current_password": "matkhau123", "new_password": "matkhau456"})
    assert changed.status_code == 204, changed.text
    assert ask(live_server, "GET", "/api/v1/auth/me", token).status_code == 200
    assert ask(live_server, "GET", "/api/v1/auth/me", elsewhere).status_code == 401
    old = ask(live_server, "POST", "/api/v1/auth/login",
              json={"username": name, "password": "matkhau123"})
    assert old.status_code == 401
    assert login(live_server, name, "matkhau456")


def test_the_account_list_of_a_supervisor_and_of_the_province(live_server: LiveServer) -> None:
    boss_name, boss = new_account(live_server, "supervisor", CENTER)
    staff_name, _ = new_account(live_server, "staff", CENTER)
    stranger, _ = new_account(live_server, "staff", OTHER)
    _, province = new_account(live_server, "province", None)
    mine = ask(live_server, "GET", "/api/v1/staff", boss)
    assert mine.status_code == 200
    names = {row["username"]: row for row in mine.json()}
    assert {boss_name, staff_name} <= set(names) and stranger not in names
    assert {row["center"] for row in mine.json()} == {CENTER}
    assert names[staff_name] == {"username": staff_name, "name": staff_name, "role": "staff",
                                 "center": CENTER, "active": True}
    assert "hash" not in str(mine.json())
    everyone = {row["username"] for row in ask(live_server, "GET", "/api/v1/staff",
                                               province).json()}
    assert {boss_name, staff_name, stranger} <= everyone
    one = ask(live_server, "GET", "/api/v1/staff", province, params={"center": OTHER}).json()
    assert stranger in {row["username"] for row in one}
    assert {row["center"] for row in one} == {OTHER}


def test_password_guessing_is_slowed_per_account_and_per_address(live_redis_url: str,
                                                                  tmp_path: Path) -> None:
    # Small limits on a server of its own: each refused guess costs an Argon2 check.
    limits = LoginLimits(per_account=3, per_address=5)
    server = LiveServer(live_redis_url, tmp_path / "guard", extra_env={
        "QMS_LOGIN_FAILURES_PER_ACCOUNT": str(limits.per_account),
        "QMS_LOGIN_FAILURES_PER_ADDRESS": str(limits.per_address)}).start()
    def fresh_address() -> dict[str, str]:
        # Addresses of its own: other tests' refused logins from 127.0.0.1 share this Redis.
        return {"X-Forwarded-For": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}

    def right_password(name: str, headers: dict[str, str]) -> httpx.Response:
        return ask(server, "POST", "/api/v1/auth/login", headers=headers,
                   json={"username": name, "password": "matkhau123"})

    try:
        name = f"se{uuid.uuid4().hex[:8]}"
        Bootstrap(server.redis_url).account(name, "staff", CENTER)
        assert right_password(name, fresh_address()).status_code == 200
        address = {"X-Forwarded-For": f"10.9.{uuid.uuid4().int % 250}.1"}
        for n in range(limits.per_account):
            guess = ask(server, "POST", "/api/v1/auth/login", json={
                "username": name, "password": f"guess-{n}"},
                headers={"X-Forwarded-For": f"10.8.{n}.{uuid.uuid4().int % 250}"})
            assert guess.status_code == 401
        # from any address, even with the right password, until the window ends
        locked = ask(server, "POST", "/api/v1/auth/login", headers=address,
                     json={"username": name, "password": "matkhau123"})
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        assert locked.json()["type"] == "/problems/rate-limited"
        # one address trying many names is stopped too (a refusal before the check counts
        # for nothing)
        for n in range(limits.per_address):
            assert ask(server, "POST", "/api/v1/auth/login", headers=address, json={
                "username": f"nobody{n}", "password": "x"}).status_code == 401
        other = f"se{uuid.uuid4().hex[:8]}"
        Bootstrap(server.redis_url).account(other, "staff", CENTER)
        assert right_password(other, address).status_code == 429
        # from another address, that account is fine
        assert right_password(other, fresh_address()).status_code == 200
    finally:
        server.stop()


async def test_a_revoked_display_is_closed(live_server: LiveServer) -> None:
    _, boss = await asyncio.to_thread(new_account, live_server, "supervisor", CENTER)
    made = ask(live_server, "POST", "/api/v1/devices", boss,
               json={"kind": "display", "center": CENTER}).json()
    url = f"{live_server.ws_url}/ws/display/{CENTER}?token={made['token']}"
    async with connect(url, subprotocols=JSON_ONLY) as ws:
        await ws.recv()
        revoked = ask(live_server, "DELETE", f"/api/v1/devices/{made['id']}", boss,
                      params={"center": CENTER})
        assert revoked.status_code == 204
        assert await closed_code(ws, GUARD_S) == 4401
    async with connect(url, subprotocols=JSON_ONLY) as ws:   # and it cannot come back
        assert await closed_code(ws, 5) == 4401
