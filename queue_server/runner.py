"""``python -m queue_server run``: Redis (embedded by default), then uvicorn, then the pages.

Stopping: SIGTERM (systemd, Docker), SIGINT (Ctrl-C) and SIGHUP (a closed terminal) all stop
uvicorn gracefully (no new connections, requests in flight finish, the lifespan closes the
WebSocket server, the hub and the Redis clients), then the embedded Redis is shut down (its
AOF flushed): in that order, whichever signal came.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from queue_server.bootstrap import Demo
from queue_server.logs import log_to_stderr
from queue_server.province import load_province
from queue_server.redis_child import open_embedded, public_url
from queue_server.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 10  # requests still running this long after a stop signal are cancelled


class _Server(uvicorn.Server):
    """uvicorn's server, stopped gracefully by SIGHUP too, and without re-raising the signal
    afterwards (uvicorn does, and a re-raised SIGTERM would end the process before the
    embedded Redis is stopped)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _Workers(Multiprocess):
    """uvicorn's worker manager, where SIGHUP stops everything (uvicorn restarts workers)."""

    def handle_hup(self) -> None:
        self.handle_term()


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
  Prometheus metrics                {base}/metrics  (Authorization: Bearer, see docs/operations.md)
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


def serve(settings: Settings, workers: int) -> None:
    """uvicorn in this process (one worker) or its worker processes, until a stop signal."""
    if workers > 1:
        os.environ.update(QMS_REDIS_URL=settings.redis_url or "",
                          QMS_SECRET_KEY=settings.secret_key)
        config = uvicorn.Config("queue_server.asgi:create", factory=True, host=settings.host,
                                port=settings.port, workers=workers,
                                log_level=settings.log_level, access_log=False,
                                timeout_graceful_shutdown=GRACE_S)
        _Workers(config, sockets=[config.bind_socket()]).run()
        return
    from queue_server.app import create_app

    _Server(uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                           log_level=settings.log_level, access_log=False,
                           timeout_graceful_shutdown=GRACE_S)).run()


def _stop_now(sig: int, frame: object) -> None:
    # Before and after uvicorn serves: unwind through run()'s finally (Redis is stopped).
    raise SystemExit(128 + sig)


def run(settings: Settings, *, workers: int = 1, bootstrap: bool = False,
        center: str | None = None) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop_now)
    log_to_stderr(settings.log_level)
    supervisor = None
    if settings.redis_url is None:
        # Started and supervised here, not in each worker, so every worker shares one store.
        url, supervisor = open_embedded(settings.data_dir / "redis",
                                        appendfsync=settings.redis_appendfsync)
        settings = dataclasses.replace(settings, redis_url=url)
        how = "embedded"
        if supervisor is None:
            how = "embedded, supervised by another process"
        elif any(getattr(child, "adopted", False) for child in supervisor.children):
            how = "embedded, adopted: left running on this folder by an earlier start"
        print(f"Redis ({how}; AOF under {settings.data_dir / 'redis'}, appendfsync "
              f"{settings.redis_appendfsync}): {public_url(url)}")
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
        serve(settings, workers)
    finally:
        if supervisor is not None:
            supervisor.stop()
    return 0
