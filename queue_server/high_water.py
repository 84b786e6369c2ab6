"""No ticket number is issued twice, even after Redis loses its last writes.

A Redis that crashes may come back without the writes of its last moments (AOF
``everysec``: up to about two seconds; a Sentinel failover to a replica that lagged: its
lag), although the app had already answered them: a kiosk printed ``A642``, a display called
it. The day's numbering (``seq:<day>``, one HINCRBY per ticket) then moves back, and the next
ticket would be ``A642`` again.

So every process remembers the highest number per center, service and local day it has
seen, in the answers it gave (the engine reports them: :meth:`HighWater.observe_ticket`,
:meth:`observe_outcome`) and in the stream events its hub read (:meth:`observe_events`), and
puts it back when it meets a Redis it has not talked to before: every new connection asks
the server's ``run_id`` (a new one for every Redis process: a restart, a failover), and the
first connection to a new one runs ``seq_floor.lua`` for every remembered center before any
command of the app goes through it; other connections opened meanwhile wait for that. The
script raises a service's number to the floor only if it is lower (never lowers it).

What this does not cover: numbers no live process has seen (one replica issued them, and
that replica died in the same crash), and a process restarted since. docs/reliability.md
says what each appendfsync setting promises, and why the embedded default is ``always``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, ResponseError

from queue_server.keys import center_key
from queue_server.live.frames import StreamEvent
from queue_server.models import Outcome, Ticket
from queue_server.scripts import all_scripts

log = logging.getLogger("qms.high_water")
TICKET_ID = re.compile(r"^(?P<center>[^-]+)-(?P<day>\d{8})-\D*(?P<seq>\d+)$")
# Days remembered per center: bookings are numbered on their own day, up to the booking horizon
# (30 days) ahead, besides today and yesterday.
KEEP_DAYS = 40


class HighWater:
    """The highest numbers this process has seen, and their re-assertion (module docstring)."""

    def __init__(self) -> None:
        # center -> day -> service -> the highest number seen
        self._floors: dict[str, dict[str, dict[str, int]]] = {}
        self._servers: set[str] = set()     # run ids already brought up to the floors
        self._asserting: dict[str, asyncio.Future[None]] = {}
        self.raised = 0                      # services raised so far (tests, logs)

    # ------------------------------------------------------------------ observing

    def observe(self, center: str, day: str, service: str, seq: int) -> None:
        days = self._floors.setdefault(center, {})
        services = days.get(day)
        if services is None:
            services = days[day] = {}
            for old in sorted(days)[:-KEEP_DAYS]:
                del days[old]
        if seq > services.get(service, 0):
            services[service] = seq

    def observe_ticket(self, ticket: Ticket | None) -> None:
        """A ticket an answer carries (issue, a transition, a read)."""
        if ticket is not None:
            self._observe_id(ticket.id, ticket.service)

    def observe_outcome(self, outcome: Outcome) -> None:
        """A transition's answer: its ticket and, for a transfer, the new one."""
        self.observe_ticket(outcome.ticket)
        self.observe_ticket(outcome.new_ticket)

    def observe_events(self, events: Iterable[StreamEvent]) -> None:
        """Events the hub read (Hub.on_events)."""
        for event in events:
            data = event.data
            for name in ("ticket", "new_ticket"):
                ticket = data.get(name)
                if isinstance(ticket, dict):
                    self._observe_id(str(ticket.get("id", "")), str(ticket.get("service", "")))

    def _observe_id(self, ticket_id: str, service: str) -> None:
        match = TICKET_ID.match(ticket_id)
        if match is not None and service:
            self.observe(match["center"], match["day"], service, int(match["seq"]))

    def floors(self) -> dict[str, dict[str, dict[str, int]]]:
        return {c: {d: dict(s) for d, s in days.items()} for c, days in self._floors.items()}

    # ------------------------------------------------------------------ re-asserting

    async def on_connect(self, connection: AbstractConnection) -> None:
        """redis-py's ``redis_connect_func``: the usual handshake, then the floors, once per
        Redis process, before the connection serves anything."""
        await connection.on_connect()
        run_id = await _run_id(connection)
        if run_id in self._servers:
            return
        pending = self._asserting.get(run_id)
        if pending is not None:
            await asyncio.shield(pending)
            return
        pending = self._asserting[run_id] = asyncio.get_running_loop().create_future()
        try:
            raised = await self._reassert(connection)
        except BaseException as error:
            pending.set_exception(error)
            pending.exception()  # retrieved here: the waiters, if any, raise it too
            raise
        else:
            pending.set_result(None)
            self._servers.add(run_id)
            if raised:
                log.warning("Redis %s came back without some numbers already given out: "
                            "%d service numberings raised back to what answers and events "
                            "showed", run_id[:8], raised)
        finally:
            del self._asserting[run_id]

    async def _reassert(self, connection: AbstractConnection) -> int:
        script = all_scripts()["seq_floor"]
        raised = 0
        for center, days in self.floors().items():
            for day, services in days.items():
                pairs = [str(v) for item in sorted(services.items()) for v in item]
                args = [1, center_key(center, "seq", day), *pairs]
                try:
                    raised += int(await _call(connection, script.sha, script.source, args))
                except ResponseError as error:  # a Cluster node that does not hold the center
                    log.debug("seq floor of %s on this node: %s", center, error)
        self.raised += raised
        return raised


async def _run_id(connection: AbstractConnection) -> str:
    await connection.send_command("INFO", "server")
    info = await connection.read_response()
    text = info.decode() if isinstance(info, bytes) else str(info)
    for line in text.splitlines():
        if line.startswith("run_id:"):
            return line.split(":", 1)[1].strip()
    return ""


async def _call(connection: AbstractConnection, sha: str, source: str, args: list[Any]) -> Any:
    try:
        await connection.send_command("EVALSHA", sha, *args)
        return await connection.read_response()
    except NoScriptError:
        await connection.send_command("EVAL", source, *args)
        return await connection.read_response()
