"""An open counter socket closes when its login expires, as its HTTP calls would then fail."""

from __future__ import annotations

import asyncio
import time

import pytest
from itsdangerous import URLSafeTimedSerializer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.live import SECRET, Bootstrap, LiveServer

CENTER = "06856"


def token_signed_at(username: str, center: str, signed_at: float, session: str) -> str:
    """A staff token as the server signs it, but dated ``signed_at``."""
    serializer = URLSafeTimedSerializer(SECRET, salt="qms-staff")
    signer = serializer.make_signer(serializer.salt)
    signer.get_timestamp = lambda: int(signed_at)  # type: ignore[method-assign]
    payload = serializer.dump_payload({"u": username, "r": "staff", "c": center,
                                       "s": session})
    return "st." + signer.sign(payload).decode()


async def test_counter_socket_closes_when_login_expires(live_server: LiveServer) -> None:
    boot = Bootstrap(live_server.redis_url)
    await asyncio.to_thread(boot.account, "expiry.staff", "staff", CENTER)
    session = await boot.session("expiry.staff")
    lifetime = 12 * 3600
    almost = token_signed_at("expiry.staff", CENTER, time.time() - lifetime + 2, session)
    url = f"{live_server.ws_url}/ws/counter/{CENTER}/1?token={almost}"
    async with connect(url, subprotocols=["qms.json"]) as ws:  # type: ignore[list-item]
        await ws.recv()  # the snapshot: the login is still valid
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    expired = token_signed_at("expiry.staff", CENTER, time.time() - lifetime - 5, session)
    async with connect(f"{live_server.ws_url}/ws/counter/{CENTER}/1?token={expired}") as ws:
        with pytest.raises(ConnectionClosed) as refused:
            await asyncio.wait_for(ws.recv(), 10)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
