"""Staff accounts and device tokens, kept in Redis (one hash each, written by one script).

Passwords are hashed with Argon2id (memory-hard). Device secrets are random and only their
hash is stored; a device record can be revoked, and a replica notices within
``DEVICE_CACHE_S`` seconds (lookups are cached briefly so a busy kiosk costs no extra trip).
Logins, their ending and the brake on password guessing are in queue_server.sessions. An
account is never deleted (the record of who did what names it): it is deactivated, which ends
its logins and refuses new ones. Redis being away is Unavailable (503), never a raw error.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from queue_server import keys
from queue_server.auth import DEVICE_ROLES, PEOPLE_ROLES, Principal, Role
from queue_server.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from queue_server.outages import store_errors
from queue_server.redis_client import RedisClient, is_cluster
from queue_server.script_runner import ScriptRunner
from queue_server.sessions import LoginLimits, LoginThrottle, Sessions

USERNAME = re.compile(r"^[a-z0-9_.-]{3,32}$")
DEVICE_CACHE_S = 5.0
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Checked when the username is unknown, so a wrong name costs the same time as a wrong
# password and the answer's timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    role: Role
    center: str | None
    active: bool = True

    @classmethod
    def of(cls, username: str, record: dict[bytes, bytes]) -> Account:
        return cls(username, _text(record.get(b"name")), Role(_text(record[b"role"])),
                   _text(record.get(b"center")) or None, record.get(b"active") == b"1")


def _text(value: bytes | None) -> str:
    return value.decode() if value else ""


class AccountStore:
    def __init__(self, runner: ScriptRunner, limits: LoginLimits | None = None) -> None:
        self.runner = runner
        self.client: RedisClient = runner.client
        self.sessions = Sessions(runner)
        self.throttle = LoginThrottle(runner, limits or LoginLimits())
        self._devices: dict[str, tuple[float, Principal | None, str]] = {}
        self._lookups: dict[str, asyncio.Future[tuple[float, Principal | None, str]]] = {}

    async def _record(self, key: str) -> dict[bytes, bytes]:
        with store_errors():
            record = await self.client.hgetall(key)
        return cast(dict[bytes, bytes], record)

    async def _put(self, key: str, only_new: bool, fields: dict[str, str]) -> bool:
        flat = [v for pair in fields.items() for v in pair]
        written = await self.runner.run("record_put", [key], ["1" if only_new else "0", *flat])
        return bool(written)

    async def create_staff(self, username: str, password: str, name: str, role: Role,
                           center: str | None) -> Account:
        if not USERNAME.match(username):
            raise InvalidInput("username: 3 to 32 of a-z, 0-9, '.', '_' or '-'",
                               reason="username_malformed", field="username")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"password: at least {MIN_PASSWORD} characters",
                               reason="password_too_short", field="password", min=MIN_PASSWORD)
        if role not in PEOPLE_ROLES:
            raise InvalidInput(f"role must be staff, supervisor or province, got {role}",
                               reason="role_not_a_person", field="role", role=str(role))
        if role is not Role.PROVINCE and not center:
            raise InvalidInput("staff and supervisors belong to a center",
                               reason="account_needs_center", field="center")
        # Hashing is deliberately slow: keep it off the event loop.
        hashed = await asyncio.to_thread(_hasher.hash, password)
        fields = {"name": name, "role": role.value, "center": center or "", "hash": hashed,
                  "active": "1"}
        if not await self._put(keys.staff_key(username), True, fields):
            raise Conflict(f"the username {username!r} is taken", reason="username_taken",
                           field="username", username=username)
        return Account(username, name, role, center)

    async def get(self, username: str) -> Account | None:
        """An active account, or None."""
        record = await self._record(keys.staff_key(username))
        if not record or record.get(b"active") != b"1":
            return None
        return Account.of(username, record)

    async def login(self, username: str, password: str, address: str = "") -> Account:
        """The account, if the password is right and it is active; failures are counted per
        account and address, and past the limit refused before any check (429)."""
        await self.throttle.check(username, address)
        record = await self._record(keys.staff_key(username))
        if not await _verify(_text(record.get(b"hash")), password) or \
                record.get(b"active") != b"1":
            await self.throttle.failed(username, address)
            raise Unauthenticated("wrong username or password", reason="login_failed")
        return Account.of(username, record)

    async def change_password(self, principal: Principal, current: str, new: str,
                              address: str = "") -> None:
        """The holder of a login changes their own password; their other logins end."""
        await self.throttle.check(principal.subject, address)
        record = await self._record(keys.staff_key(principal.subject))
        if not await _verify(_text(record.get(b"hash")), current):
            await self.throttle.failed(principal.subject, address)
            raise Unauthenticated("the current password is wrong", reason="current_password_wrong")
        if len(new) < MIN_PASSWORD:
            raise InvalidInput(f"new_password: at least {MIN_PASSWORD} characters",
                               reason="password_too_short", field="new_password",
                               min=MIN_PASSWORD)
        if new == current:
            raise InvalidInput("new_password: the same as the current one",
                               reason="password_unchanged", field="new_password")
        hashed = await asyncio.to_thread(_hasher.hash, new)
        await self._set(principal.subject, "hash", hashed)
        if principal.session:
            await self.sessions.close_others(principal.subject, principal.session)
        else:
            await self.sessions.close_all(principal.subject)

    async def set_active(self, username: str, active: bool) -> Account:
        """Deactivate (every login ends, none is accepted) or reactivate an account."""
        await self._set(username, "active", "1" if active else "0")
        if not active:
            await self.sessions.close_all(username)
        account = await self.account(username)
        assert account is not None
        return account

    async def _set(self, username: str, field: str, value: str) -> None:
        if not await self.runner.run("record_set", [keys.staff_key(username)], [field, value]):
            raise NotFound(f"no account {username!r}", reason="account_unknown",
                           field="username", username=username)

    async def account(self, username: str) -> Account | None:
        """An account, active or not."""
        record = await self._record(keys.staff_key(username))
        return Account.of(username, record) if record else None

    async def accounts(self, center: str | None = None) -> list[Account]:
        """Every account (of one center), by username: SCAN, so the list is what Redis holds
        and no index can drift from it (a province has hundreds of accounts, not millions)."""
        with store_errors():
            prefix = keys.staff_key("")
            names: set[str] = set()
            scan = (self.client.scan_iter(match=prefix + "*", count=1000, _type="hash")
                    if not is_cluster(self.client)
                    else self.client.scan_iter(match=prefix + "*", count=1000))
            async for key in scan:
                names.add(key.decode().removeprefix(prefix))
            ordered = sorted(names)
            records = await asyncio.gather(*(self.client.hgetall(keys.staff_key(name))
                                             for name in ordered))
        found = [Account.of(name, cast(dict[bytes, bytes], record))
                 for name, record in zip(ordered, records, strict=True)
                 if record and b"role" in record]
        return [a for a in found if center is None or a.center == center]

    async def create_device(self, role: Role, center: str, label: str) -> tuple[str, str]:
        """A new kiosk or display token: returns (device id, the token to configure)."""
        if role not in DEVICE_ROLES:
            raise InvalidInput(f"a device is a kiosk, a display or a counter screen, got {role}",
                               reason="device_kind_unknown", field="kind", kind=str(role))
        device_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24)
        fields = {"role": role.value, "center": center, "label": label[:100],
                  "hash": hashlib.sha256(secret.encode()).hexdigest(), "revoked": "0",
                  "created": str(int(time.time()))}
        await self._put(keys.device_key(device_id), True, fields)
        return device_id, f"dev.{device_id}.{secret}"

    async def _read_device(self, device_id: str) -> tuple[float, Principal | None, str]:
        record = await self._record(keys.device_key(device_id))
        principal = None
        digest = ""
        if record and record.get(b"revoked") == b"0":
            principal = Principal(Role(_text(record[b"role"])), device_id,
                                  _text(record[b"center"]))
            digest = _text(record[b"hash"])
        cached = (time.monotonic(), principal, digest)
        self._devices[device_id] = cached
        return cached

    async def revoke_device(self, device_id: str) -> bool:
        """True when a device record existed and is now revoked (its token stops working)."""
        written = await self.runner.run("record_set", [keys.device_key(device_id)],
                                        ["revoked", "1"])
        self._devices.pop(device_id, None)
        return bool(written)

    async def device_principal(self, token: str) -> Principal:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "dev":
            raise Unauthenticated("the device token is malformed", reason="device_token_malformed")
        _, device_id, secret = parts
        cached = self._devices.get(device_id)
        if cached is None or time.monotonic() - cached[0] > DEVICE_CACHE_S:
            # One read per device however many sockets ask at once: after a restart every
            # lobby screen reconnects within seconds, thousands for a few dozen devices.
            lookup = self._lookups.get(device_id)
            if lookup is None:
                lookup = asyncio.ensure_future(self._read_device(device_id))
                self._lookups[device_id] = lookup
                lookup.add_done_callback(lambda _: self._lookups.pop(device_id, None))
            cached = await asyncio.shield(lookup)
        _, principal, digest = cached
        expected = hashlib.sha256(secret.encode()).hexdigest()
        if principal is None or not secrets.compare_digest(digest, expected):
            raise Unauthenticated("the device token is unknown or revoked",
                                  reason="device_token_refused")
        return principal


async def _verify(stored: str, password: str) -> bool:
    # Hashing is deliberately slow: off the event loop.
    try:
        return await asyncio.to_thread(_hasher.verify, stored or _DUMMY_HASH, password) \
            and bool(stored)
    except (VerificationError, InvalidHashError):
        return False
