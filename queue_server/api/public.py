"""Public reads: centers, services, live waits, the shortest-wait suggestion, client config."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from queue_server.api.deps import ServicesDep
from queue_server.api.schemas import CenterOut, SuggestionOut
from queue_server.views import all_summaries, summary

router = APIRouter(prefix="/api/v1", tags=["public"])


@router.get("/services", summary="Services, priority groups and pause reasons")
async def list_services(services: ServicesDep) -> dict[str, Any]:
    province = services.province
    return {
        "services": [
            {"id": s.id, "name": s.name, "name_en": s.name_en, "field": s.field,
             "prefix": s.prefix, "typical_s": s.typical_s} for s in province.services],
        "priorities": [{"id": p.id, "name": p.name, "name_en": p.name_en}
                       for p in province.priorities],
        "pause_reasons": [{"id": r.id, "name": r.name, "name_en": r.name_en}
                          for r in province.pause_reasons],
    }


@router.get("/centers", response_model=list[CenterOut],
            summary="Every center with live waiting counts and estimated waits")
async def list_centers(services: ServicesDep) -> list[dict[str, Any]]:
    return await all_summaries(services.engine, day=False)


@router.get("/centers/{center_id}", response_model=CenterOut, summary="One center, live")
async def get_center(center_id: str, services: ServicesDep) -> dict[str, Any]:
    center = services.province.center(center_id)
    snapshot = await services.engine.snapshot(center.id)
    return summary(services.province, center, snapshot)


@router.get("/suggest", response_model=list[SuggestionOut],
            summary="Centers with the shortest estimated wait for a service")
async def suggest(
    services: ServicesDep,
    service: str = Query(min_length=1, max_length=64),
    limit: int = Query(5, ge=1, le=54),
) -> list[dict[str, Any]]:
    services.province.service(service)  # 404 for an unknown service
    rows = []
    for center in await all_summaries(services.engine, day=False):
        row = next(r for r in center["services"] if r["id"] == service)
        rows.append({"center": center["id"], "name": center["name"], "waiting": row["waiting"],
                     "active_counters": row["active_counters"],
                     "estimated_wait_s": row["estimated_wait_s"]})
    # Unknown waits (no open counter) go last; then the shortest estimate, then fewest waiting.
    rows.sort(key=lambda r: (r["estimated_wait_s"] is None, r["estimated_wait_s"] or 0,
                             r["waiting"]))
    return rows[:limit]


@router.get("/config", summary="What pages need to connect: WebSocket address, province")
async def client_config(services: ServicesDep) -> dict[str, Any]:
    hub_port = services.extras.get("ws_port")
    return {"province": services.province.name, "ws_port": hub_port,
            "ws_path": "/ws", "ws_url": services.settings.public_ws_url or None,
            "public_url": services.settings.public_url}
