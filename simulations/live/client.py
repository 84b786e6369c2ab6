"""HTTP to the server under test, answers and refusals as plain values.

Every answer that is not a success becomes :class:`ServerRefused`, carrying the request, the
status and the problem's ``type`` and ``detail`` (application/problem+json), so the driver can
report it in one sentence; a server that cannot be reached becomes :class:`Unreachable`.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx


class Unreachable(Exception):
    """The server did not answer at all."""


class ServerRefused(Exception):
    def __init__(self, method: str, path: str, status: int, problem: str, detail: str) -> None:
        super().__init__(f"{method} {path} → {status} {problem}: {detail}")
        self.method, self.path, self.status = method, path, status
        self.problem, self.detail = problem, detail


class Api:
    """One keep-alive HTTP client for the whole drive."""

    def __init__(self, base_url: str, connections: int = 64, timeout_s: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout_s,
            limits=httpx.Limits(max_connections=connections,
                                max_keepalive_connections=connections))
        self.requests = 0
        self.actions: Counter[str] = Counter()  # by the path's last word: call-next, …
        self.latencies_ms: list[float] = []

    async def call(self, method: str, path: str, token: str | None = None,
                   body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                   ) -> Any:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        self.requests += 1
        words = [w for w in path.split("?", 1)[0].split("/") if w and not any(
            c.isdigit() for c in w)]  # the route's last word, not an id: call-next, devices
        self.actions[f"{method} {words[-1] if words else path}"] += 1
        started = time.perf_counter()
        try:
            answer = await self.http.request(method, path, json=body, headers=sent)
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        except httpx.HTTPError as error:
            raise Unreachable(f"{method} {self.base_url}{path}: {error or type(error).__name__}"
                              ) from None
        if answer.status_code >= 400:
            problem, detail = "", answer.text[:300]
            try:
                data = answer.json()
                problem = str(data.get("type", "")).rsplit("/", 1)[-1]
                detail = str(data.get("detail", detail))
            except ValueError:
                pass
            raise ServerRefused(method, path, answer.status_code, problem, detail)
        return answer.json() if answer.content else None

    async def aclose(self) -> None:
        await self.http.aclose()
