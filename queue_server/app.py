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
import signal
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.staticfiles import StaticFiles

from queue_server import __version__, gc_policy, web
from queue_server.accounts import AccountStore
from queue_server.api import (
    admin,
    appointments,
    counters,
    fast,
    faults,
    health,
    problems,
    public,
    reports,
    staff,
    tickets,
)
from queue_server.archive.runtime import start_archive
from queue_server.auth import TokenSigner
from queue_server.booking import Bookings
from queue_server.day_scheduler import DayScheduler
from queue_server.engine import Engine
from queue_server.errors import Unavailable
from queue_server.high_water import HighWater
from queue_server.live.guard import TokenGuard
from queue_server.live.hub import Hub
from queue_server.live.server import start_server
from queue_server.logs import log_to_stderr
from queue_server.projector import Projector
from queue_server.province import load_province
from queue_server.redis_child import open_embedded
from queue_server.redis_client import RedisClient, close, connect, read_retry
from queue_server.script_runner import ScriptRunner
from queue_server.services import Services
from queue_server.sessions import LoginLimits
from queue_server.settings import Settings
from queue_server.web import SecurityHeaders

log = logging.getLogger("qms")
SITE_STATIC = Path(__file__).resolve().parent / "static"
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
@contextmanager
def stop_on_hangup() -> Iterator[None]:
    """SIGHUP stops the server like SIGTERM (uvicorn's graceful shutdown, then this lifespan
    stops the children it started), instead of killing it and leaving them orphaned."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL):
        yield
        return
    signal.signal(signal.SIGHUP, lambda *_: signal.raise_signal(signal.SIGTERM))
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


async def build_services(settings: Settings, stack: AsyncExitStack) -> Services:
    settings = settings.with_secret()
    url = settings.redis_url
    if url is None:
        url, supervisor = open_embedded(settings.data_dir / "redis",
                                        appendfsync=settings.redis_appendfsync)
        if supervisor is not None:
            stack.callback(supervisor.stop)
            stack.enter_context(stop_on_hangup())
    # Every connection to a Redis process not met before first puts back the ticket numbers
    # this process has seen (high_water.py): a crash that lost writes never reissues one.
    high_water = HighWater()
    client: RedisClient = connect(url, on_connect=high_water.on_connect)
    stack.push_async_callback(close, client)
    runner = ScriptRunner(client, batch=settings.script_batching, high_water=high_water,
                          wait_replicas=settings.redis_wait_replicas,
                          wait_ms=settings.redis_wait_ms)
    stack.push_async_callback(runner.aclose)
    await _load_scripts(runner)
    province = load_province(settings.province_file)
    engine = Engine(runner, province)
    await engine.sync_province()
    projector = Projector(runner, province)
    services = Services(
        settings=settings, province=province, engine=engine,
        accounts=AccountStore(runner, LoginLimits(settings.login_failures_per_account,
                                                  settings.login_failures_per_address,
                                                  settings.login_window_s)),
        signer=TokenSigner(settings.secret_key, settings.staff_token_hours * 3600),
        bookings=Bookings(engine, province), projector=projector)
    # The durable record (docs/archive.md): PostgreSQL and the archiver, off the request path.
    services.extras["archive"] = await start_archive(settings, url, province, stack)
    # Derived figures and the centers' days: every replica runs both (each step is atomic
    # and checks its own precondition in Redis, so running them twice changes nothing).
    for name, job in (("qms-projector", projector.run_forever()),
                      ("qms-day-scheduler", DayScheduler(engine).run_forever())):
        task = asyncio.create_task(job, name=name)
        stack.push_async_callback(_cancel, task)
    # The hub's blocking reads get their own connection pool.
    reader: RedisClient = connect(url, max_connections=4, retry=read_retry(),
                                  on_connect=high_water.on_connect)
    stack.push_async_callback(close, reader)
    hub = Hub(reader, heartbeat_s=settings.ws_heartbeat_s, ping_s=settings.ws_ping_s)
    hub.on_events = high_water.observe_events
    hub.start()
    stack.push_async_callback(hub.stop)
    if settings.gc_full_every_s > 0:
        old = gc_policy.apply()
        stack.callback(gc.set_threshold, *old)
        stack.callback(gc.unfreeze)
        collector = asyncio.create_task(gc_policy.collect_every(settings.gc_full_every_s))
        stack.callback(collector.cancel)
    guard = TokenGuard(services.principal_from_token)
    guard.start()
    stack.push_async_callback(guard.stop)
    services.extras["guard"] = guard
    server = await start_server(services, hub, settings.host, settings.ws_port)
    stack.push_async_callback(server.wait_closed)
    stack.callback(server.close)
    services.extras.update(hub=hub, ws_server=server, redis_url=url,
                           ws_port=next(iter(server.sockets)).getsockname()[1])
    return services


def create_app(settings: Settings | None = None, *, routers: Sequence[APIRouter] = (),
               static: Sequence[tuple[str, Path]] = ()) -> FastAPI:
    """The core application: the HTTP API, the channels' server and every resource in the
    lifespan; ``routers`` and ``static`` (mount path, folder) add what the composition root
    (``qms.app``) brings: the pages of displays/, counters/ and monitoring/, which this
    package never imports."""
    settings = settings or Settings.from_env()
    log_to_stderr(settings.log_level)

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
    faults.install(app)
    app.add_api_route("/", web.index_page, include_in_schema=False)
    app.add_api_route("/docs", web.docs_page, include_in_schema=False)
    for module in (public, tickets, appointments, counters, admin, staff, reports, health):
        app.include_router(module.router)
    for router in routers:
        app.include_router(router)
    # The kiosk's issue path is served by a lean Starlette route (api/fast.py); the FastAPI
    # route of the same path behind it documents it. Kept because the API goal needs it:
    # issue/hello 0.66 with it, 0.39 without (simulations.bench api --phases http --rounds 5,
    # docs/benchmarks.md); both call the same implementation.
    app.router.routes[:0] = fast.ROUTES
    for mount, folder in (("/static/site", SITE_STATIC), *static):
        if folder.is_dir():
            app.mount(mount, StaticFiles(directory=folder), name=mount.strip("/"))
    return app
