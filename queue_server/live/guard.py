"""Open sockets follow their token: a login that ends (logout, revocation, deactivation, a
password change elsewhere) or a device that is revoked has its sockets closed with 4401.

One task per process re-checks every distinct token of the open sockets every ``every_s``
(a lobby of 5,000 screens has a few dozen device tokens), through the same lookups as HTTP
(queue_server.sessions, the device cache of queue_server.accounts), so a socket stops within
``every_s`` plus those caches' few seconds, on every replica. A check that cannot reach Redis
closes nothing: an outage is not a revocation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import ServerConnection

from queue_server.auth import Principal
from queue_server.errors import QmsError, Unauthenticated

log = logging.getLogger("qms.ws")
CLOSE_REVOKED = 4401

Check = Callable[[str], Awaitable[Principal]]


class TokenGuard:
    def __init__(self, check: Check, every_s: float = 2.0) -> None:
        self.check = check
        self.every_s = every_s
        self._sockets: dict[str, set[ServerConnection]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def watch(self, token: str, connection: ServerConnection) -> None:
        self._sockets.setdefault(token, set()).add(connection)

    def forget(self, token: str, connection: ServerConnection) -> None:
        sockets = self._sockets.get(token)
        if sockets is not None:
            sockets.discard(connection)
            if not sockets:
                del self._sockets[token]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="qms-token-guard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._closing):
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            await self.sweep()

    async def sweep(self) -> None:
        """Check every token once; close the sockets of those that no longer hold."""
        for token in list(self._sockets):
            try:
                await self.check(token)
            except Unauthenticated as refused:
                self._close(token, str(refused))
            except QmsError as error:   # Redis away: keep the sockets, check again later
                log.debug("token check skipped: %s", error)
            except Exception:
                log.exception("token check failed")

    def _close(self, token: str, reason: str) -> None:
        for connection in self._sockets.pop(token, ()):
            task = asyncio.create_task(connection.close(CLOSE_REVOKED, reason[:120]))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
