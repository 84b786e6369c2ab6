"""HTTP routes of the monitoring package, mounted by queue_server.app.create_app.

- ``GET /metrics``: Prometheus text format from the counters kept in Redis
  (:mod:`monitoring.collector`); ``?center=C`` (repeatable) limits it to some centers. It
  names staff members with their productivity, so it needs ``Authorization: Bearer`` with the
  scrape token (``QMS_METRICS_TOKEN``, docs/monitoring.md) or a province login. When
  Redis does not answer within ``READ_TIMEOUT_S`` the answer is a 503 problem, at once, so
  Prometheus marks the target down instead of waiting for its scrape timeout.
- ``GET /province``: the province live view (``monitoring/static/province.html``); its script
  and style are served from ``/static/monitoring/``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query
from starlette.responses import FileResponse, Response

from monitoring.archive_metrics import archive_families
from monitoring.collector import CONTENT_TYPE, build_families, read_snapshots
from monitoring.exposition import render
from queue_server.api.deps import ServicesDep
from queue_server.api.problems import problem
from queue_server.errors import Unavailable, UnknownCenter
from queue_server.outages import RETRY_AFTER_S

router = APIRouter(tags=["monitoring"])
READ_TIMEOUT_S = 1.0
STATIC = Path(__file__).resolve().parent / "static"


@router.get(
    "/metrics",
    summary="Prometheus metrics (docs/metrics.md), read from Redis",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, 401: {"description": "no scrape token"},
               404: {"description": "unknown center"},
               503: {"description": "Redis did not answer in time"}},
)
async def metrics(
    services: ServicesDep,
    center: Annotated[list[str] | None, Query(
        description="only these centers (repeat the parameter); default: all")] = None,
    authorization: Annotated[str | None, Header(
        description="Bearer <scrape token> (QMS_METRICS_TOKEN) or a province login")] = None,
) -> Response:
    await services.require_scraper(authorization)
    province = services.province
    try:
        # dict.fromkeys: a code given twice must not export its series twice
        centers = ([province.center(code) for code in dict.fromkeys(center)] if center
                   else province.centers)
    except UnknownCenter as error:
        return problem(404, "unknown-center", str(error))
    try:
        snapshots = await asyncio.wait_for(
            read_snapshots(services.engine, centers, services.projector), READ_TIMEOUT_S)
    except TimeoutError:
        return problem(503, "unavailable",
                       f"Redis did not answer within {READ_TIMEOUT_S:g} s; no metrics to report",
                       retry_after=RETRY_AFTER_S)
    except Unavailable as error:
        return problem(503, "unavailable", str(error), retry_after=RETRY_AFTER_S)
    # Building and rendering tens of thousands of lines is CPU work: off the event loop, so
    # the requests and sockets of this replica keep being served meanwhile.
    archive = await archive_families(services, centers)
    body = await asyncio.to_thread(
        lambda: render([*build_families(province, centers, snapshots), *archive]))
    return Response(body, media_type=CONTENT_TYPE)


@router.get("/province", include_in_schema=False)
async def province_page() -> FileResponse:
    return FileResponse(STATIC / "province.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})
