"""The WebSocket server: the ``websockets`` library's asyncio server, in the app's process.

Why not Starlette's WebSocket route: a lobby of 5,000 screens is mostly idle sockets, and the
``websockets`` server keeps one in about 14 kB against 24–33 kB through uvicorn's ASGI layer,
and writes a frame in half the CPU (../shared/PERFORMANCE.md). So HTTP is served by uvicorn on
``QMS_PORT`` and the channels by this server on ``QMS_WS_PORT``, started and stopped by the
same lifespan, sharing the engine and the hub. Compression is off: frames are small and
permessage-deflate multiplies memory per socket by 2.5–3.8.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from functools import partial

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

from queue_server.api.deps import Services
from queue_server.auth import Principal
from queue_server.errors import QmsError
from queue_server.live import channels
from queue_server.live.frames import JSON, MSGPACK, SUBPROTOCOLS
from queue_server.live.hub import Hub
from queue_server.live.sockets import SocketSubscriber

log = logging.getLogger("qms.ws")
CLOSE_CODES = {400: 4400, 401: 4401, 403: 4403, 404: 4404, 409: 4409, 422: 4400, 503: 1013}
COUNTER_TICKETS = 20


async def handle(services: Services, hub: Hub, connection: ServerConnection) -> None:
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
        async for _ in connection:
            pass  # clients only listen; anything they send is ignored
    except QmsError as error:
        await connection.close(CLOSE_CODES.get(error.status, 1011), str(error)[:120])
    finally:
        if expiry is not None:
            expiry.cancel()
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
    (msgpack, the default) — a plain ``new WebSocket(url)`` must work."""
    for wanted in SUBPROTOCOLS:
        if wanted in offered:
            return Subprotocol(wanted)
    return None


async def start_server(services: Services, hub: Hub, host: str, port: int) -> Server:
    # No keepalive task per connection: the hub pings every socket from one task.
    return await serve(
        partial(handle, services, hub),
        host,
        port,
        select_subprotocol=choose_subprotocol,
        compression=None,
        max_size=4096,           # clients send nothing of size
        ping_interval=None,
        ping_timeout=None,
        reuse_port=True,         # several uvicorn workers can share the port
        logger=log,
    )
