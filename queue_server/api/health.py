"""Liveness (the process answers) and readiness (it can reach Redis)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import JSONResponse

from queue_server.api.deps import ServicesDep
from queue_server.api.problems import problem
from queue_server.outages import RETRY_AFTER_S
from queue_server.redis_client import RedisClient, read_retry

router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 1.0


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


async def _dropped(_error: Exception) -> None:
    """redis-py's Retry has already let the failed connection go; nothing else to do."""


async def ping_again_once_dropped(client: RedisClient) -> None:
    """PING, sent again on a dropped connection (the hub's read_retry): after a restart of
    Redis the pool still holds connections to the old process, and each fails once before it
    reconnects; a PING is safe to resend, and readiness is about the server, not one stale
    socket."""
    await read_retry().call_with_retry(client.ping, _dropped)


@router.get("/health/ready", summary="Ready to serve: Redis answers")
async def ready(services: ServicesDep) -> JSONResponse:
    try:
        await asyncio.wait_for(ping_again_once_dropped(services.engine.runner.client),
                               READY_TIMEOUT_S)
    except Exception as error:  # any failure to reach Redis means not ready
        return problem(503, "unavailable", f"Redis does not answer: {type(error).__name__}",
                       retry_after=RETRY_AFTER_S)
    return JSONResponse({"status": "ready"})
