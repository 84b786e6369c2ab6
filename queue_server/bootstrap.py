"""Accounts and device tokens from the command line, so a fresh install can be started."""

from __future__ import annotations

from contextlib import AsyncExitStack

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


async def ensure_demo(store: AccountStore, center: str) -> list[str]:
    """Demo accounts for a first look (``run --bootstrap``): created once, printed once."""
    lines = []
    for username, role, where in (("province", Role.PROVINCE, None),
                                  ("supervisor", Role.SUPERVISOR, center),
                                  ("staff1", Role.STAFF, center), ("staff2", Role.STAFF, center)):
        try:
            await store.create_staff(username, "matkhau123", username.title(), role, where)
            lines.append(f"  {role.value:<10} {username} / matkhau123")
        except QmsError:
            continue  # exists already: keep its password
    for kind in (Role.KIOSK, Role.DISPLAY):
        _, token = await store.create_device(kind, center, f"demo {kind.value}")
        lines.append(f"  {kind.value:<10} token {token}")
    return lines
