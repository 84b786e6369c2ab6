"""`make run` (``run --bootstrap``): the demo logins are printed at every start, and the demo
devices are made once and reused while they work (a revoked one is replaced)."""

from __future__ import annotations

import stat
from pathlib import Path

from queue_server.accounts import AccountStore
from queue_server.bootstrap import ensure_demo
from queue_server.engine import Engine


async def test_demo_devices_are_reused_and_logins_printed_every_time(
        engine: Engine, tmp_path: Path) -> None:
    store = AccountStore(engine.runner)
    tokens = tmp_path / "demo-devices.json"
    first = await ensure_demo(store, "07054", tokens)
    again = await ensure_demo(AccountStore(engine.runner), "07054", tokens)
    assert first.devices == again.devices and set(first.devices) == {"kiosk", "display", "screen"}
    assert len(again.accounts) == 4 and all("matkhau123" in line for line in again.accounts)
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    for kind, token in again.devices.items():
        principal = await store.device_principal(token)
        assert principal.role.value == kind and principal.center == "07054"
    revoked = again.devices["display"].split(".")[1]
    assert await store.revoke_device(revoked)
    third = await ensure_demo(AccountStore(engine.runner), "07054", tokens)
    assert third.devices["display"] != again.devices["display"]
    assert third.devices["kiosk"] == again.devices["kiosk"]
    other = await ensure_demo(store, "06799", tokens)   # another center: its own devices
    assert other.devices["kiosk"] != third.devices["kiosk"]
