"""Staff logins that can end before they expire, and a brake on password guessing.

**Logins.** A login token (``st.…``, queue_server.auth) is signed and expires after
``QMS_STAFF_TOKEN_HOURS``; it also names a login id, recorded in the account's hash
``qms:logins:<username>`` (field: id, value: expiry). A token works only while its id is
there: logout removes it, revoking an account's logins or deactivating it removes them all, a
password change removes all but the one that changed it. Each process checks a login at most
every ``LOGIN_CACHE_S`` seconds (one HGET), so an ended login stops on every replica within
that time, on HTTP and, through queue_server.live.guard, on its open sockets.

**Guessing.** Failed logins are counted per account and per client address in fixed windows
(the rate-limit script). Past ``per_account`` failures for an account, or ``per_address`` from
one address, within ``window_s``, logins are refused with 429 and ``Retry-After`` until the
window ends, before any password is checked: guessing is slowed to a few tries per quarter
hour. The account limit lets an attacker make a real user wait at most one window; the
address limit is higher because a center's staff may share one public address.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass

from queue_server.auth import Principal
from queue_server.errors import RateLimited, Unauthenticated
from queue_server.keys import ROOT, rate_limit_key
from queue_server.outages import store_errors
from queue_server.script_runner import ScriptRunner

LOGIN_CACHE_S = 2.0
_CACHE_LIMIT = 50_000


def logins_key(username: str) -> str:
    return f"{ROOT}:logins:{username}"


class Sessions:
    """The login records of staff accounts (see the module docstring)."""

    def __init__(self, runner: ScriptRunner) -> None:
        self.runner = runner
        self._checked: dict[str, tuple[float, bool]] = {}   # login id -> (when, valid)

    async def open(self, username: str, expires_at: float) -> str:
        """Record a new login; returns its id (it goes into the signed token)."""
        login_id = secrets.token_hex(8)
        await self.runner.run("logins", [logins_key(username)],
                              ["add", login_id, str(int(expires_at) + 1), str(int(time.time()))])
        self._checked[login_id] = (time.monotonic(), True)
        return login_id

    async def check(self, principal: Principal) -> None:
        """Unauthenticated unless the principal's login still exists."""
        login_id = principal.session
        if not login_id:
            raise Unauthenticated("this login predates login records: log in again",
                                  reason="login_invalid")
        cached = self._checked.get(login_id)
        now = time.monotonic()
        if cached is None or now - cached[0] > LOGIN_CACHE_S:
            with store_errors():
                expiry = await self.runner.client.hget(logins_key(principal.subject), login_id)
            valid = expiry is not None and float(expiry) > time.time()
            if len(self._checked) > _CACHE_LIMIT:
                self._checked.clear()
            cached = self._checked[login_id] = (now, valid)
        if not cached[1]:
            raise Unauthenticated("this login has ended (logged out, revoked or the account "
                                  "deactivated): log in again", reason="login_ended")

    async def close(self, username: str, login_id: str) -> None:
        with store_errors():
            await self.runner.client.hdel(logins_key(username), login_id)
        self._checked[login_id] = (time.monotonic(), False)

    async def close_all(self, username: str) -> None:
        with store_errors():
            await self.runner.client.delete(logins_key(username))
        self._forget_local()

    async def close_others(self, username: str, keep: str) -> None:
        await self.runner.run("logins", [logins_key(username)], ["keep", keep])
        self._forget_local()

    def _forget_local(self) -> None:
        # This process notices at once; the others within LOGIN_CACHE_S.
        self._checked = {k: v for k, v in self._checked.items() if not v[1]}


@dataclass(frozen=True)
class LoginLimits:
    per_account: int = 10
    per_address: int = 50
    window_s: int = 900


class LoginThrottle:
    """Counts failed logins per account and per address (see the module docstring)."""

    def __init__(self, runner: ScriptRunner, limits: LoginLimits) -> None:
        self.runner = runner
        self.limits = limits

    def _keys(self, username: str, address: str, now: int) -> list[tuple[str, str, int]]:
        window = now // self.limits.window_s
        # A hash of the name: anything may be typed into the username field.
        who = hashlib.sha256(username.encode()).hexdigest()[:24]
        return [("account", rate_limit_key("login-account", who, window),
                 self.limits.per_account),
                ("address", rate_limit_key("login-address", address or "unknown", window),
                 self.limits.per_address)]

    async def check(self, username: str, address: str) -> None:
        """RateLimited while the account or the address is past its limit of failures."""
        now = int(time.time())
        keys = self._keys(username, address, now)
        with store_errors():
            counts = await asyncio.gather(*(self.runner.client.get(key) for _, key, _ in keys))
        for (scope, _, limit), count in zip(keys, counts, strict=True):
            if count is not None and int(count) >= limit:
                retry = self.limits.window_s - now % self.limits.window_s
                raise RateLimited(f"too many failed logins for this {scope}: try again in "
                                  f"{retry} s", retry_after=retry,
                                  reason="login_throttled_account" if scope == "account"
                                  else "login_throttled_address")

    async def failed(self, username: str, address: str) -> None:
        keys = self._keys(username, address, int(time.time()))
        await asyncio.gather(*(self.runner.run("rate_limit", [key],
                                               [str(limit), str(self.limits.window_s)])
                               for _, key, limit in keys))
