"""HTTP to the server under test, answers and refusals as plain values.

Every answer that is not a success becomes :class:`ServerRefused`, carrying the request, the
status and the problem's ``type`` and ``detail`` (application/problem+json), so the driver can
report it in one sentence; a server that cannot be reached becomes :class:`Unreachable`.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx


class Unreachable(Exception):
    """The server did not answer at all."""


class ServerRefused(Exception):
    def __init__(self, method: str, path: str, status: int, problem: str, detail: str,
                 reason: str = "") -> None:
        super().__init__(f"{method} {path} → {status} {problem}: {detail}")
        self.method, self.path, self.status = method, path, status
        self.problem, self.detail, self.reason = problem, detail, reason


class Api:
    """One keep-alive HTTP client for the whole drive. Given the base URLs of several replicas
    of one server (one Redis behind them), requests take them in turn: any replica must
    answer any request (DESIGN.md, principle 1)."""

    def __init__(self, base_url: str | Sequence[str], connections: int = 64,
                 timeout_s: float = 15.0) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_urls = [url.rstrip("/") for url in urls]
        self.base_url = self.base_urls[0]
        self.clients = [httpx.AsyncClient(
            base_url=url, timeout=timeout_s,
            limits=httpx.Limits(max_connections=connections,
                                max_keepalive_connections=connections))
            for url in self.base_urls]
        self._turns = itertools.cycle(range(len(self.clients)))
        self.by_url: Counter[str] = Counter()   # requests sent to each replica
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
        turn = next(self._turns)
        base, http = self.base_urls[turn], self.clients[turn]
        self.by_url[base] += 1
        started = time.perf_counter()
        try:
            answer = await http.request(method, path, json=body, headers=sent)
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        except httpx.HTTPError as error:
            raise Unreachable(f"{method} {base}{path}: {error or type(error).__name__}"
                              ) from None
        if answer.status_code >= 400:
            problem, detail, reason = "", answer.text[:300], ""
            try:
                data = answer.json()
                problem = str(data.get("type", "")).rsplit("/", 1)[-1]
                detail = str(data.get("detail", detail))
                reason = str(data.get("reason", ""))
            except ValueError:
                pass
            raise ServerRefused(method, path, answer.status_code, problem, detail, reason)
        return answer.json() if answer.content else None

    async def aclose(self) -> None:
        for http in self.clients:
            await http.aclose()
