"""``python -m queue_server run``: Redis (embedded by default), then uvicorn, then the pages."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import Counter
from contextlib import AsyncExitStack

import uvicorn

from queue_server.bootstrap import Demo
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


def print_pages(settings: Settings, center: str, demo: Demo | None = None) -> None:
    """Every page's address; with the demo devices, each with the token it needs."""
    base = f"http://{settings.host}:{settings.port}"
    devices = demo.devices if demo else {}

    def with_token(path: str, kind: str) -> str:
        token = devices.get(kind)
        return f"{base}{path}?token={token}" if token else f"{base}{path}?token=dev.…"

    counter = _first_counter(settings, center)
    print(f"""
Trang / Pages (center {center}; python -m queue_server run --center CODE for another):
  Danh sách các trang / all pages   {base}/
  Kiosk lấy số / kiosk              {with_token(f"/kiosk/{center}", "kiosk")}
  Màn hình sảnh / lobby display     {with_token(f"/display/{center}", "display")}
  Màn hình quầy / counter screen    {with_token(f"/screen/{center}/{counter}", "screen")}
  Máy đánh giá / rating tablet      {base}/rating/{center}/{counter}   (đăng nhập / log in: staff1)
  Quầy / counter console            {base}/counter   (staff1, staff2)
  Giám sát trung tâm / supervisor   {base}/supervisor   (supervisor)
  Đặt số trực tuyến / book online   {base}/book
  Toàn tỉnh / province view         {base}/province   (province)
  API (OpenAPI)                     {base}/docs   {base}/openapi.json
  Prometheus metrics                {base}/metrics
  WebSocket channels                ws://{settings.host}:{settings.ws_port}/ws/…
""", flush=True)


def _first_counter(settings: Settings, center: str) -> str:
    counters = load_province(settings.province_file).center(center).counters
    return counters[0].id if counters else "1"


async def _bootstrap(settings: Settings, center: str) -> Demo:
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
        return await bootstrap.ensure_demo(AccountStore(runner), center,
                                           settings.data_dir / "demo-devices.json")


def run(settings: Settings, *, workers: int = 1, bootstrap: bool = False,
        center: str | None = None) -> int:
    embedded = None
    if settings.redis_url is None:
        # Started here, not in each worker, so every worker shares one store.
        url, embedded = start_or_reuse(settings.data_dir / "redis")
        settings = dataclasses.replace(settings, redis_url=url)
        print(f"Redis (embedded, AOF under {settings.data_dir / 'redis'}): {url}")
    try:
        settings = settings.with_secret()
        print_summary(settings)
        province = load_province(settings.province_file)
        center = province.center(center).id if center else province.centers[0].id
        demo = None
        if bootstrap:
            demo = asyncio.run(_bootstrap(settings, center))
            print("Tài khoản mẫu / demo accounts:")
            print("\n".join(demo.accounts))
        print_pages(settings, center, demo)
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
