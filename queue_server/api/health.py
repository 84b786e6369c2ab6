"""Liveness (the process answers) and readiness (it can reach Redis)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.responses import JSONResponse

from queue_server.api.deps import ServicesDep
from queue_server.api.problems import problem
from queue_server.outages import RETRY_AFTER_S
from queue_server.redis_client import RedisClient

router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 1.0
PING_ATTEMPTS = 3


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


async def ping_again_once_dropped(client: RedisClient) -> None:
    """PING, sent again on a dropped connection: after a restart of Redis the pool still
    holds connections to the old process, and each fails once before it reconnects; a PING
    is safe to resend, and readiness is about the server, not one stale socket."""
    for _ in range(PING_ATTEMPTS - 1):
        try:
            await client.ping()
            return
        except RedisConnectionError:
            continue
    await client.ping()


@router.get("/health/ready", summary="Ready to serve: Redis answers")
async def ready(services: ServicesDep) -> JSONResponse:
    try:
        await asyncio.wait_for(ping_again_once_dropped(services.engine.runner.client),
                               READY_TIMEOUT_S)
    except Exception as error:  # any failure to reach Redis means not ready
        return problem(503, "unavailable", f"Redis does not answer: {type(error).__name__}",
                       retry_after=RETRY_AFTER_S)
    return JSONResponse({"status": "ready"})
