"""Liveness (the process answers) and readiness (it can reach Redis)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import JSONResponse

from queue_server.api.deps import ServicesDep
from queue_server.api.problems import problem
from queue_server.outages import RETRY_AFTER_S

router = APIRouter(tags=["health"])
READY_TIMEOUT_S = 1.0


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", summary="Ready to serve: Redis answers")
async def ready(services: ServicesDep) -> JSONResponse:
    try:
        await asyncio.wait_for(services.engine.runner.client.ping(), READY_TIMEOUT_S)
    except Exception as error:  # any failure to reach Redis means not ready
        return problem(503, "unavailable", f"Redis does not answer: {type(error).__name__}",
                       retry_after=RETRY_AFTER_S)
    return JSONResponse({"status": "ready"})
