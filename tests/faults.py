"""Helpers for the fault tests: a kiosk load that records every answer, and its audit.

``IssueLoad`` runs a few HTTP clients issuing tickets against a live server while a test
breaks something; every answer is kept (status, Retry-After, transport errors), and every
acknowledged ticket with the secret its answer carried. ``audit`` then asks Redis whether
each one is still there and still the same ticket (the stored secret hash is the answer's):
"lost" and "reissued" (its number now belongs to another ticket) must both stay empty.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from queue_server.auth import TokenSigner
from queue_server.keys import ticket_key
from queue_server.redis_client import close, connect
from tests.live import SECRET
from tests.servers import scaled


@dataclass
class IssueLoad:
    base_url: str
    kiosks: dict[str, str]                  # center -> kiosk token
    clients: int = 4
    service: str = "certification"
    idempotent: bool = False
    statuses: Counter[str] = field(default_factory=Counter)
    issued: list[tuple[str, str]] = field(default_factory=list)   # (ticket id, secret)
    missing_retry_after: int = 0
    last_ok: float = 0.0                    # when the last request that succeeded was sent
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> IssueLoad:
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(self.clients)]
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _client(self, index: int) -> None:
        centers = list(self.kiosks)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=scaled(10)) as http:
            n = index
            while not self._stop.is_set():
                n += 1
                center = centers[n % len(centers)]
                headers = {"Authorization": f"Bearer {self.kiosks[center]}"}
                if self.idempotent:
                    headers["Idempotency-Key"] = uuid.uuid4().hex
                sent = time.monotonic()
                try:
                    answer = await http.post(f"/api/v1/centers/{center}/tickets",
                                             json={"service": self.service}, headers=headers)
                except httpx.HTTPError as error:   # a reset or a hang: never expected
                    self.statuses[type(error).__name__] += 1
                    await asyncio.sleep(0.02)
                    continue
                self.statuses[str(answer.status_code)] += 1
                if answer.status_code == 201:
                    body = answer.json()
                    self.issued.append((body["ticket"]["id"], body["token"]))
                    self.last_ok = max(self.last_ok, sent)
                    await asyncio.sleep(0.005)
                else:
                    if answer.status_code == 503 and "retry-after" not in answer.headers:
                        self.missing_retry_after += 1
                    await asyncio.sleep(0.02)

    async def served_since(self, moment: float, timeout: float) -> float:
        """Seconds from ``moment`` to the first ticket issued by a request sent after it."""
        deadline = time.monotonic() + scaled(timeout)
        while self.last_ok <= moment:
            assert time.monotonic() < deadline, f"no ticket issued again: {self.statuses}"
            await asyncio.sleep(0.01)
        return time.monotonic() - moment   # its answer came within the last poll

    def unexpected(self) -> dict[str, int]:
        """Answers other than 201 and 503 (a 500, a reset connection, a hang)."""
        return {k: v for k, v in self.statuses.items() if k not in ("201", "503")}


async def audit(redis_url: str, issued: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Acknowledged tickets missing from Redis, and those whose number was handed out again."""
    signer = TokenSigner(SECRET, 3600)
    client = connect(redis_url)
    try:
        pipe = client.pipeline(transaction=False)
        for ticket_id, _ in issued:
            pipe.hget(ticket_key(ticket_id.split("-", 1)[0], ticket_id), "h")
        stored = await pipe.execute()
    finally:
        await close(client)
    lost, reissued = [], []
    for (ticket_id, token), held in zip(issued, stored, strict=True):
        if held is None:
            lost.append(ticket_id)
        elif held.decode() != signer.secret_hash(token.removeprefix("tk."), "ticket"):
            reissued.append(ticket_id)
    return {"lost": lost, "reissued": reissued}
