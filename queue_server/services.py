"""The process's services: everything a request or a socket may need, built once in the
application's lifespan and handed down (never import-time globals). Independent of HTTP and
WebSocket: the API (``queue_server.api``) and the channels (``queue_server.live``) both use it.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from queue_server.accounts import Account, AccountStore
from queue_server.auth import Principal, Role, TokenSigner, required_bearer
from queue_server.booking import Bookings
from queue_server.engine import Engine
from queue_server.errors import Forbidden, RateLimited, Unauthenticated
from queue_server.keys import rate_limit_key
from queue_server.projector import Projector
from queue_server.province import Province
from queue_server.settings import Settings


@dataclass
class Services:
    """Everything a request may need, built once in the lifespan (never import-time globals)."""

    settings: Settings
    province: Province
    engine: Engine
    accounts: AccountStore
    signer: TokenSigner
    bookings: Bookings
    projector: Projector
    extras: dict[str, Any] = field(default_factory=dict)  # hub, speech cache … set at start

    async def principal_from_token(self, token: str) -> Principal:
        if token.startswith("st."):
            principal = self.signer.read_staff_token(token)
            await self.accounts.sessions.check(principal)   # logged out, revoked, deactivated
            return principal
        if token.startswith("dev."):
            return await self.accounts.device_principal(token)
        raise Unauthenticated("expected a staff (st.…) or device (dev.…) token",
                              reason="token_kind_unknown")

    async def log_in(self, username: str, password: str, address: str) -> tuple[Account, str]:
        """Check the password (throttled), record a login, sign its token."""
        account = await self.accounts.login(username, password, address)
        return account, await self.login_token(account.username, account.role, account.center)

    async def login_token(self, username: str, role: Role, center: str | None) -> str:
        """A recorded login's token (also for tools and benchmarks that skip the password)."""
        session = await self.accounts.sessions.open(username,
                                                    time.time() + self.signer.max_age_s)
        return self.signer.staff_token(username, role, center, session)

    @property
    def scrape_token(self) -> str:
        """What Prometheus sends to read /metrics: QMS_METRICS_TOKEN, or one derived from the
        secret key (``python -m qms metrics-token`` prints it)."""
        return self.settings.metrics_token or scrape_token_of(self.signer)

    async def require_scraper(self, authorization: str | None) -> None:
        """/metrics names staff and their productivity: the scrape token or a province login."""
        token = required_bearer(authorization)
        if hmac.compare_digest(token.encode(), self.scrape_token.encode()):
            return
        principal = await self.principal_from_token(token)
        if principal.role is not Role.PROVINCE:
            raise Forbidden("metrics are for Prometheus (the scrape token) and the province",
                            reason="metrics_scrape_only")

    def ticket_token_hash(self, token: str) -> str:
        return self.signer.secret_hash(token.removeprefix("tk."), "ticket")

    async def rate_limit(self, scope: str, subject: str, limit: int, window_s: int,
                         now_s: int) -> None:
        window = now_s // window_s
        key = rate_limit_key(scope, subject, window)
        allowed, retry_after = await self.engine.runner.run(
            "rate_limit", [key], [limit, window_s])
        if not allowed:
            raise RateLimited(f"at most {limit} requests per {window_s} s for this {scope}",
                              retry_after=max(int(retry_after), 1),
                              reason=f"rate_limited_{scope}", limit=limit,
                              window_s=window_s, retry_min=-(-int(retry_after) // 60))


def scrape_token_of(signer: TokenSigner) -> str:
    return "mt." + signer.secret_hash("scrape", "metrics")[:40]
