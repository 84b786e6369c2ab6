"""``python -m queue_server run``: Redis (embedded by default), then uvicorn, then the pages."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import Counter
from contextlib import AsyncExitStack

import uvicorn

from queue_server.embedded import start_or_reuse
from queue_server.province import load_province
from queue_server.settings import Settings


def print_summary(settings: Settings) -> None:
    province = load_province(settings.province_file)
    kinds = Counter(c.type for c in province.centers)
    print(f"{province.name} / {province.name_en}: {len(province.centers)} centers "
          f"({kinds['ward']} wards, {kinds['commune']} communes, "
          f"{kinds['special_zone']} special zones), "
          f"{sum(len(c.counters) for c in province.centers)} counters")
    print("services: " + ", ".join(f"{s.prefix} {s.name}" for s in province.services))
    print("priority groups: " + ", ".join(p.name for p in province.priorities))


def print_pages(settings: Settings, center: str) -> None:
    base = f"http://{settings.host}:{settings.port}"
    print(f"""
Trang / Pages (center {center}; any of the 54 codes works):
  Kiosk lấy số / kiosk            {base}/kiosk/{center}
  Màn hình sảnh / lobby display   {base}/display/{center}
  Quầy / counter console          {base}/counter
  Giám sát trung tâm / supervisor {base}/supervisor
  Đặt số trực tuyến / book online {base}/book
  Toàn tỉnh / province view       {base}/province
  API (OpenAPI)                   {base}/docs   {base}/openapi.json
  Prometheus metrics              {base}/metrics
  WebSocket channels              ws://{settings.host}:{settings.ws_port}/ws/…
""", flush=True)


async def _bootstrap(settings: Settings, center: str) -> list[str]:
    from queue_server import bootstrap
    from queue_server.accounts import AccountStore
    from queue_server.redis_client import close, connect
    from queue_server.script_runner import ScriptRunner

    assert settings.redis_url is not None
    async with AsyncExitStack() as stack:
        client = connect(settings.redis_url)
        stack.push_async_callback(close, client)
        runner = ScriptRunner(client, batch=False)
        await runner.load()
        return await bootstrap.ensure_demo(AccountStore(runner), center)


def run(settings: Settings, *, workers: int = 1, bootstrap: bool = False) -> int:
    embedded = None
    if settings.redis_url is None:
        # Started here, not in each worker, so every worker shares one store.
        url, embedded = start_or_reuse(settings.data_dir / "redis")
        settings = dataclasses.replace(settings, redis_url=url)
        print(f"Redis (embedded, AOF under {settings.data_dir / 'redis'}): {url}")
    try:
        settings = settings.with_secret()
        print_summary(settings)
        center = load_province(settings.province_file).centers[0].id
        if bootstrap:
            print("Tài khoản mẫu / demo accounts:")
            print("\n".join(asyncio.run(_bootstrap(settings, center))) or "  (already there)")
        print_pages(settings, center)
        if workers > 1:
            os.environ.update(QMS_REDIS_URL=settings.redis_url or "",
                              QMS_SECRET_KEY=settings.secret_key)
            uvicorn.run("queue_server.asgi:create", factory=True, host=settings.host,
                        port=settings.port, workers=workers, log_level=settings.log_level,
                        access_log=False)
        else:
            from queue_server.app import create_app

            uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                        log_level=settings.log_level, access_log=False)
    finally:
        if embedded is not None:
            embedded.stop()
    return 0
