"""The application factory: ``create_app(settings)``; the lifespan owns every resource.

Start-up order: the embedded Redis (only when no ``QMS_REDIS_URL`` is given), the client and
its scripts, the province written for the scripts, the accounts, the stream hub and the
WebSocket server. Shutdown in reverse. Nothing lives at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from queue_server import __version__, gc_policy, web
from queue_server.accounts import AccountStore
from queue_server.api import (
    admin,
    appointments,
    counters,
    fast,
    health,
    problems,
    public,
    tickets,
)
from queue_server.api.deps import Services
from queue_server.auth import TokenSigner
from queue_server.booking import Bookings
from queue_server.day_scheduler import DayScheduler
from queue_server.embedded import start_or_reuse
from queue_server.engine import Engine
from queue_server.errors import Unavailable
from queue_server.live.hub import Hub
from queue_server.live.server import start_server
from queue_server.projector import Projector
from queue_server.province import load_province
from queue_server.redis_client import RedisClient, close, connect
from queue_server.script_runner import ScriptRunner
from queue_server.settings import Settings
from queue_server.web import SecurityHeaders

log = logging.getLogger("qms")
ROOT = Path(__file__).resolve().parent.parent
STARTUP_TRIES = 50


async def _load_scripts(runner: ScriptRunner) -> None:
    """Redis may still be starting (a container, a failover): retry for ~10 s, then say so."""
    for attempt in range(STARTUP_TRIES):
        try:
            await runner.load()
            return
        except Unavailable:
            if attempt == STARTUP_TRIES - 1:
                raise
            await asyncio.sleep(0.2)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def build_services(settings: Settings, stack: AsyncExitStack) -> Services:
    settings = settings.with_secret()
    url = settings.redis_url
    if url is None:
        url, embedded = start_or_reuse(settings.data_dir / "redis")
        if embedded is not None:
            stack.callback(embedded.stop)
    client: RedisClient = connect(url)
    stack.push_async_callback(close, client)
    runner = ScriptRunner(client, batch=settings.script_batching)
    stack.push_async_callback(runner.aclose)
    await _load_scripts(runner)
    province = load_province(settings.province_file)
    engine = Engine(runner, province)
    await engine.sync_province()
    projector = Projector(runner, province)
    services = Services(
        settings=settings, province=province, engine=engine, accounts=AccountStore(runner),
        signer=TokenSigner(settings.secret_key, settings.staff_token_hours * 3600),
        bookings=Bookings(engine, province), projector=projector)
    # Derived figures and the centers' days: every replica runs both (each step is atomic
    # and checks its own precondition in Redis, so running them twice changes nothing).
    for name, job in (("qms-projector", projector.run_forever()),
                      ("qms-day-scheduler", DayScheduler(engine).run_forever())):
        task = asyncio.create_task(job, name=name)
        stack.push_async_callback(_cancel, task)
    # The hub's blocking reads get their own connection pool.
    reader: RedisClient = connect(url, max_connections=4)
    stack.push_async_callback(close, reader)
    hub = Hub(reader, heartbeat_s=settings.ws_heartbeat_s, ping_s=settings.ws_ping_s)
    hub.start()
    stack.push_async_callback(hub.stop)
    if settings.gc_full_every_s > 0:
        old = gc_policy.apply()
        stack.callback(gc.set_threshold, *old)
        stack.callback(gc.unfreeze)
        collector = asyncio.create_task(gc_policy.collect_every(settings.gc_full_every_s))
        stack.callback(collector.cancel)
    server = await start_server(services, hub, settings.host, settings.ws_port)
    stack.push_async_callback(server.wait_closed)
    stack.callback(server.close)
    services.extras.update(hub=hub, ws_server=server, redis_url=url,
                           ws_port=next(iter(server.sockets)).getsockname()[1])
    return services


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            services = await build_services(settings, stack)
            app.state.services = services  # for tools and tests holding the app
            yield {"services": services}

    app = FastAPI(
        title="Hệ thống xếp hàng và giám sát dịch vụ công / Queue and service monitoring",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served by queue_server/web.py from the app's own Swagger UI copy
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    problems.install(app)
    app.add_api_route("/", web.index_page, include_in_schema=False)
    app.add_api_route("/docs", web.docs_page, include_in_schema=False)
    for module in (public, tickets, appointments, counters, admin, health):
        app.include_router(module.router)
    # Pages and their helpers live beside the code they show (displays/, counters/,
    # monitoring/); each package exposes one router.
    from counters.routes import router as counter_pages
    from displays.routes import router as display_pages
    from monitoring.routes import router as monitoring_pages

    for router in (display_pages, counter_pages, monitoring_pages):
        app.include_router(router)
    # The kiosk's issue path is served by a lean Starlette route (api/fast.py); the FastAPI
    # route of the same path behind it documents it.
    app.router.routes[:0] = fast.ROUTES
    for mount, folder in (("/static/site", "queue_server/static"),
                          ("/static/displays", "displays/static"),
                          ("/static/counters", "counters/static"),
                          ("/static/monitoring", "monitoring/static")):
        path = ROOT / folder
        if path.is_dir():
            app.mount(mount, StaticFiles(directory=path), name=mount.strip("/"))
    return app
