"""Accounts and device tokens from the command line, so a fresh install can be started."""

from __future__ import annotations

import contextlib
import json
import os
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from queue_server.accounts import AccountStore
from queue_server.auth import Role
from queue_server.errors import QmsError
from queue_server.province import load_province
from queue_server.redis_child import open_embedded
from queue_server.redis_client import close, connect
from queue_server.script_runner import ScriptRunner
from queue_server.settings import Settings


async def _store(settings: Settings, stack: AsyncExitStack) -> AccountStore:
    url = settings.redis_url
    if url is None:
        # The same data folder as `run` (its server if it is running), so the account is
        # there when the server starts.
        url, supervisor = open_embedded(settings.data_dir / "redis",
                                        appendfsync=settings.redis_appendfsync)
        if supervisor is not None:
            stack.callback(supervisor.stop)
    client = connect(url)
    stack.push_async_callback(close, client)
    runner = ScriptRunner(client, batch=False)
    await runner.load()
    return AccountStore(runner)


async def create_account(settings: Settings, username: str, password: str, name: str,
                         role: str, center: str | None) -> str:
    if center is not None:
        load_province(settings.province_file).center(center)
    async with AsyncExitStack() as stack:
        store = await _store(settings, stack)
        account = await store.create_staff(username, password, name, Role(role), center)
    where = f" of center {account.center}" if account.center else ""
    return f"created {account.role.value} {account.username}{where}"


async def create_device(settings: Settings, kind: str, center: str, label: str) -> str:
    load_province(settings.province_file).center(center)
    async with AsyncExitStack() as stack:
        store = await _store(settings, stack)
        device_id, token = await store.create_device(Role(kind), center, label)
    return f"{kind} {device_id} for center {center}: {token}"


DEMO_PASSWORD = "matkhau123"
DEMO_ACCOUNTS = (("province", Role.PROVINCE), ("supervisor", Role.SUPERVISOR),
                 ("staff1", Role.STAFF), ("staff2", Role.STAFF))
DEMO_DEVICES = (Role.KIOSK, Role.DISPLAY, Role.SCREEN)


@dataclass
class Demo:
    """What ``run --bootstrap`` prints: the demo logins and a working token per device kind."""

    accounts: list[str] = field(default_factory=list)
    devices: dict[str, str] = field(default_factory=dict)   # kind -> dev.… token


def _load_tokens(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_tokens(path: Path, tokens: dict[str, dict[str, str]]) -> None:
    # The tokens are secrets: the file is the user's alone (like ~/.config/qms/token).
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(tokens, out, indent=1)


async def _working(store: AccountStore, token: str, kind: Role, center: str) -> bool:
    try:
        principal = await store.device_principal(token)
    except QmsError:
        return False
    return principal.role is kind and principal.center == center


async def ensure_demo(store: AccountStore, center: str, tokens_file: Path) -> Demo:
    """Demo accounts (created once, password kept) and one device token of each kind for
    ``center``, reused from ``tokens_file`` while they still work, so a restart neither piles
    up devices nor leaves the printed addresses stale."""
    demo = Demo()
    for username, role in DEMO_ACCOUNTS:
        where = None if role is Role.PROVINCE else center
        with contextlib.suppress(QmsError):  # exists already: keep it
            await store.create_staff(username, DEMO_PASSWORD, username.title(), role, where)
        account = await store.get(username)
        if account is None:
            continue
        try:
            await store.login(username, DEMO_PASSWORD)
            password = DEMO_PASSWORD
        except QmsError:
            password = "(mật khẩu đã đổi / password changed)"
        home = f" ({account.center})" if account.center else ""
        demo.accounts.append(f"  {account.role.value:<10} {username} / {password}{home}")
    saved = _load_tokens(tokens_file)
    mine = dict(saved.get(center) or {})
    for kind in DEMO_DEVICES:
        token = mine.get(kind.value, "")
        if not token or not await _working(store, token, kind, center):
            _, token = await store.create_device(kind, center, f"demo {kind.value}")
            mine[kind.value] = token
        demo.devices[kind.value] = token
    if mine != saved.get(center):
        _save_tokens(tokens_file, {**saved, center: mine})
    return demo
