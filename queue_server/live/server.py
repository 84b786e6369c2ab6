"""The WebSocket server: the ``websockets`` library's asyncio server, in the app's process.

Why not Starlette's WebSocket route: a lobby of 5,000 screens is mostly idle sockets, and the
``websockets`` server keeps one in about 14 kB against 24–33 kB through uvicorn's ASGI layer,
and writes a frame in half the CPU (../shared/PERFORMANCE.md). So HTTP is served by uvicorn on
``QMS_PORT`` and the channels by this server on ``QMS_WS_PORT``, started and stopped by the
same lifespan, sharing the engine and the hub. Compression is off: frames are small and
permessage-deflate multiplies memory per socket by 2.5–3.8.

What a client may send: nothing but an occasional ``{"type": "ping"}`` (JSON text or msgpack
binary; answered with a heartbeat frame). Anything else is closed at once: a frame that is not
such a map 1003, more than ``BURST`` messages at once or ``RATE_PER_S`` a second on average
1008, a frame over ``MAX_FRAME`` bytes 1009 (by the library). A handshake that offers only
subprotocols the server does not speak is refused (400). None of that, nor a peer that just
vanishes, is logged above info: it is the peer's business, not a fault of the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from functools import partial

import msgpack
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.typing import Data, Subprotocol

from queue_server.api.deps import Services
from queue_server.auth import Principal
from queue_server.errors import QmsError
from queue_server.live import channels
from queue_server.live.frames import JSON, MSGPACK, SUBPROTOCOLS
from queue_server.live.guard import TokenGuard
from queue_server.live.hub import Hub
from queue_server.live.sockets import SocketSubscriber
from queue_server.outages import is_outage

log = logging.getLogger("qms.ws")
CLOSE_CODES = {400: 4400, 401: 4401, 403: 4403, 404: 4404, 409: 4409, 422: 4400, 503: 1013}
COUNTER_TICKETS = 20
MAX_FRAME = 1024          # a client's ping is a dozen bytes
BURST, RATE_PER_S = 5, 1.0
CLOSE_UNSUPPORTED, CLOSE_POLICY = 1003, 1008


class Misbehaving(Exception):
    """The peer sent what the protocol does not allow; carries the close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class MessageBudget:
    """A token bucket: ``BURST`` messages at once, ``RATE_PER_S`` a second after that."""

    __slots__ = ("_at", "_tokens")

    def __init__(self) -> None:
        self._tokens = float(BURST)
        self._at = time.monotonic()

    def spend(self) -> bool:
        now = time.monotonic()
        self._tokens = min(BURST, self._tokens + (now - self._at) * RATE_PER_S)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def client_message(data: Data) -> str:
    """The type of an allowed client message, or Misbehaving(1003)."""
    try:
        message = json.loads(data) if isinstance(data, str) else msgpack.unpackb(data)
    except Exception:   # any decoding failure of a peer's bytes is the same refusal
        raise Misbehaving(CLOSE_UNSUPPORTED, "unsupported data: send nothing, or "
                          '{"type": "ping"}') from None
    if not isinstance(message, dict) or message.get("type") != "ping":
        raise Misbehaving(CLOSE_UNSUPPORTED, 'unsupported message: only {"type": "ping"}')
    return "ping"


async def listen(connection: ServerConnection, socket: SocketSubscriber) -> None:
    """Read what the client sends until it goes; a ping gets a heartbeat."""
    budget = MessageBudget()
    async for data in connection:
        if not budget.spend():
            raise Misbehaving(CLOSE_POLICY, f"too many messages: at most {RATE_PER_S:g} a "
                                            "second")
        client_message(data)
        socket.heartbeat(int(time.time() * 1000))


async def handle(services: Services, hub: Hub, connection: ServerConnection) -> None:
    try:
        await serve_channel(services, hub, connection)
    except ConnectionClosed as closed:   # the peer went away (or sent an oversize frame)
        log.debug("socket closed by the peer: %s", closed)
    except Misbehaving as bad:
        log.info("closing a socket with %d: %s", bad.code, bad)
        # Fail it (close frame, then end the TCP connection) rather than close it: a flood
        # fills the socket's incoming queue, which stops the reading that a closing
        # handshake would wait for.
        connection.protocol.fail(bad.code, str(bad)[:120])
        connection.send_data()
    except QmsError as error:
        await connection.close(CLOSE_CODES.get(error.status, 1011), str(error)[:120])
    except Exception as error:
        if not is_outage(error):
            raise
        await connection.close(1013, "the state store is unavailable: reconnect later")


async def serve_channel(services: Services, hub: Hub, connection: ServerConnection) -> None:
    fmt = JSON if connection.subprotocol == JSON else MSGPACK
    try:
        request = channels.parse(connection.request.path if connection.request else "/")
        principal = await channels.authorize(services, request)
    except QmsError as error:
        code = CLOSE_CODES.get(error.status, 4400)
        # The reason is what a screen shows: keep it short (a close frame carries 123 bytes).
        await connection.close(code, str(error)[:120])
        return

    limit = services.settings.ws_buffer_bytes
    centers: list[str]
    if request.kind == "province":
        centers = [c.id for c in services.province.centers]
        socket = SocketSubscriber(connection, fmt, partial(channels.province_sync, services),
                                  accept=channels.province_frame(services), limit_bytes=limit)
    elif request.kind == "ticket":
        assert request.ticket is not None
        follower = channels.TicketFollower(services, request.ticket)
        centers = [request.ticket.split("-", 1)[0]]
        socket = SocketSubscriber(connection, fmt, follower.sync, accept=follower.accept,
                                  limit_bytes=limit)
    else:
        assert request.center is not None
        center = request.center
        tickets = COUNTER_TICKETS if request.kind == "counter" else 0
        centers = [center]

        async def resync(sock: SocketSubscriber) -> dict[str, str]:
            return await channels.center_sync(services, sock, center, None, tickets)

        socket = SocketSubscriber(connection, fmt, resync, limit_bytes=limit)

    expiry = _close_at_expiry(connection, principal)
    guard: TokenGuard | None = services.extras.get("guard")
    if guard is not None and principal is not None:
        guard.watch(request.token, connection)
    for center_id in centers:
        hub.subscribe(center_id, socket)
    try:
        if request.kind in ("display", "counter"):
            synced = await channels.center_sync(services, socket, centers[0], request.last_id,
                                                 COUNTER_TICKETS if request.kind == "counter"
                                                 else 0)
        else:
            synced = await socket.sync()
        for center_id, stream_id in synced.items():
            hub.start_from(center_id, stream_id)
        socket.go_live(synced)
        await listen(connection, socket)
    finally:
        if expiry is not None:
            expiry.cancel()
        if guard is not None and principal is not None:
            guard.forget(request.token, connection)
        for center_id in centers:
            hub.unsubscribe(center_id, socket)


def _close_at_expiry(connection: ServerConnection,
                     principal: Principal | None) -> asyncio.TimerHandle | None:
    """A login's socket closes when the login expires (4401), as its HTTP calls would fail."""
    if principal is None or principal.expires_at is None:
        return None
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []  # held here while the handler holds the timer

    def close() -> None:
        closing.append(loop.create_task(connection.close(4401, "login expired: log in again")))

    return loop.call_later(max(0.0, principal.expires_at - time.time()), close)


def choose_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """JSON if the client asks for it, msgpack if it asks for that; none offered is fine
    (msgpack, the default) — a plain ``new WebSocket(url)`` must work. Offering only others is
    refused (400): the client would not understand our frames."""
    for wanted in SUBPROTOCOLS:
        if wanted in offered:
            return Subprotocol(wanted)
    if offered:
        raise NegotiationError(f"unsupported subprotocol {', '.join(offered)}: offer "
                               f"{' or '.join(SUBPROTOCOLS)}, or none")
    return None


async def start_server(services: Services, hub: Hub, host: str, port: int) -> Server:
    # No keepalive task per connection: the hub pings every socket from one task.
    return await serve(
        partial(handle, services, hub),
        host,
        port,
        select_subprotocol=choose_subprotocol,
        compression=None,
        max_size=MAX_FRAME,      # clients send nothing of size: larger closes with 1009
        ping_interval=None,
        ping_timeout=None,
        reuse_port=True,         # several uvicorn workers can share the port
        logger=log,
    )
