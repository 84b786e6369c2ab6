"""The four WebSocket channels: who may open them, their first frames, and what they pass on.

=========================================  ===========================  =====================
path                                        who                          first frame, resume
=========================================  ===========================  =====================
``/ws/display/{center}``                    display device, staff,       snapshot, or the
                                            supervisor, province         events after last_id
``/ws/counter/{center}/{counter}``          staff, supervisor            same, with tickets
``/ws/ticket/{ticket_id}``                  the ticket's token, staff    the ticket's state
``/ws/province``                            province                     every center's line
=========================================  ===========================  =====================

Query parameters: ``token`` (browsers cannot send headers), ``last_id`` (resume).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from queue_server.auth import Principal, Role, same_hash
from queue_server.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from queue_server.keys import center_stream_key
from queue_server.live.frames import StreamEvent, id_tuple
from queue_server.live.sockets import SocketSubscriber
from queue_server.redis_client import stream_range
from queue_server.rules.numbering import center_of_ticket
from queue_server.services import Services
from queue_server.views import all_summaries, ticket_state_view

REPLAY_LIMIT = 2000          # more missed events than this: a snapshot is cheaper
TICKET_REFRESH_S = 3.0       # a citizen's position is re-read at most this often
PAGE_ROLES = (Role.STAFF, Role.SUPERVISOR, Role.PROVINCE)


@dataclass
class ChannelRequest:
    kind: str
    center: str | None
    counter: str | None
    ticket: str | None
    token: str
    last_id: str | None


def parse(path: str) -> ChannelRequest:
    parts = urlsplit(path)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0] != "ws":
        raise NotFound(f"no channel at {parts.path}", reason="unknown_channel")
    kind, rest = segments[1], segments[2:]
    shapes = {"display": 1, "counter": 2, "ticket": 1, "province": 0}
    if kind not in shapes or len(rest) != shapes[kind]:
        raise NotFound(f"no channel at {parts.path}: expected /ws/display/CENTER, "
                       "/ws/counter/CENTER/COUNTER, /ws/ticket/TICKET or /ws/province",
                       reason="unknown_channel")
    last_id = query.get("last_id") or None
    if last_id is not None:
        try:
            id_tuple(last_id)
        except ValueError:
            raise InvalidInput(f"last_id {last_id!r} is not a stream id like 1700000000000-0",
                               reason="last_id_malformed", field="last_id") from None
    return ChannelRequest(
        kind=kind,
        center=rest[0] if kind in ("display", "counter") else None,
        counter=rest[1] if kind == "counter" else None,
        ticket=rest[0] if kind == "ticket" else None,
        token=query.get("token", ""),
        last_id=last_id,
    )


async def authorize(services: Services, request: ChannelRequest) -> Principal | None:
    """The caller, checked against the channel; None for a citizen holding a ticket token."""
    if request.kind == "ticket":
        assert request.ticket is not None
        center = center_of_ticket(request.ticket)
        services.province.center(center)
        if request.token.startswith("tk."):
            state = await services.engine.ticket(request.ticket)
            if not same_hash(services.ticket_token_hash(request.token), state.token_hash):
                raise Forbidden("the ticket token does not match this ticket",
                                reason="ticket_token_mismatch")
            return None
    if not request.token:
        raise Unauthenticated("this channel needs ?token=", reason="channel_token_missing")
    principal = await services.principal_from_token(request.token)
    if request.kind == "province":
        if principal.role is not Role.PROVINCE:
            raise Forbidden("the province channel is for the provincial monitoring team",
                            reason="province_only")
        return principal
    center = request.center or center_of_ticket(request.ticket or "")
    services.province.center(center)
    roles = {"display": (Role.DISPLAY, Role.SCREEN, *PAGE_ROLES),
             "counter": (Role.STAFF, Role.SUPERVISOR), "ticket": PAGE_ROLES}[request.kind]
    principal.require(center, *roles)
    if request.kind == "counter":
        assert request.center is not None and request.counter is not None
        if services.province.center(request.center).counter(request.counter) is None:
            raise NotFound(f"no counter {request.counter} at center {request.center}",
                           reason="no_such_counter", counter=request.counter,
                           center=request.center)
    return principal


async def center_sync(services: Services, socket: SocketSubscriber, center: str,
                      last_id: str | None, tickets: int) -> dict[str, str]:
    """Send what the socket lacks: the missed events if the stream still has them all, else
    a snapshot. Returns the stream id the socket is now current to."""
    client = services.engine.runner.client
    key = center_stream_key(center)
    if last_id is not None:
        first = await stream_range(client, key, count=1)
        first_id = first[0][0].decode() if first else None
        # Resumable only if nothing after last_id can have been trimmed away.
        if first_id is not None and id_tuple(first_id) <= id_tuple(last_id):
            missed = await stream_range(client, key, min=f"({last_id}", count=REPLAY_LIMIT + 1)
            tip = await stream_range(client, key, reverse=True, count=1)
            tip_id = tip[0][0].decode() if tip else last_id
            if len(missed) <= REPLAY_LIMIT and id_tuple(last_id) <= id_tuple(tip_id):
                for stream_id, fields in missed:
                    event = StreamEvent(center, stream_id.decode(), fields[b"d"])
                    socket.write(event.frame(socket.fmt))
                return {center: missed[-1][0].decode() if missed else last_id}
    snapshot = await services.engine.snapshot(center, tickets_per_queue=tickets, recent=True)
    socket.send_frame({"type": "snapshot", "id": snapshot["last_id"], "snapshot": snapshot})
    return {center: str(snapshot["last_id"])}


async def province_sync(services: Services, socket: SocketSubscriber) -> dict[str, str]:
    centers = await all_summaries(services.engine, day=True)
    socket.send_frame({"type": "snapshot", "id": "0-0",
                       "snapshot": {"province": services.province.name, "centers": centers,
                                    "now": int(time.time() * 1000)}})
    return {row["id"]: row["last_id"] for row in centers}


def province_frame(services: Services) -> Any:
    """Province sockets get each event with its center, ids compared per center."""

    def accept(socket: SocketSubscriber, event: StreamEvent) -> dict[str, Any]:
        data = event.data
        return {"type": "event", "id": event.id, "center": event.center,
                "event": {"type": data.get("type"), "at": data.get("at"),
                          "totals": data.get("totals"), "waiting": data.get("waiting"),
                          "counter": data.get("counter")}}

    return accept


class TicketFollower:
    """Filters a center's events down to one citizen's ticket, and refreshes its place."""

    def __init__(self, services: Services, ticket_id: str) -> None:
        self.services = services
        self.ticket_id = ticket_id
        self.service = ""
        self._last_refresh = 0.0
        self._pending = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def state_frame(self, stream_id: str) -> dict[str, Any]:
        state = await self.services.engine.ticket(self.ticket_id)
        self.service = state.ticket.service
        return {"type": "ticket", "id": stream_id,
                "ticket": ticket_state_view(state)}

    async def sync(self, socket: SocketSubscriber) -> dict[str, str]:
        client = self.services.engine.runner.client
        center = center_of_ticket(self.ticket_id)
        # The tip first: anything after it reaches the socket's buffer and is filtered live.
        tip = await stream_range(client, center_stream_key(center), reverse=True, count=1)
        tip_id = tip[0][0].decode() if tip else "0-0"
        socket.send_frame(await self.state_frame(tip_id))
        return {center: tip_id}

    def accept(self, socket: SocketSubscriber, event: StreamEvent) -> dict[str, Any] | None:
        data = event.data
        ticket = data.get("ticket") or {}
        new = data.get("new_ticket") or {}
        if ticket.get("id") == self.ticket_id:
            if new:
                self.ticket_id = new["id"]  # a transfer: follow the citizen to the new ticket
            self._schedule_refresh(socket, event.id, at_once=True)
            return {"type": "event", "id": event.id, "event": data}
        if ticket.get("service") == self.service or new.get("service") == self.service:
            self._schedule_refresh(socket, event.id, at_once=False)
        return None

    def _schedule_refresh(self, socket: SocketSubscriber, stream_id: str, at_once: bool) -> None:
        now = time.monotonic()
        if self._pending or (not at_once and now - self._last_refresh < TICKET_REFRESH_S):
            return
        self._pending, self._last_refresh = True, now

        async def refresh() -> None:
            try:
                socket.send_frame(await self.state_frame(stream_id))
            finally:
                self._pending = False

        task = asyncio.get_running_loop().create_task(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
