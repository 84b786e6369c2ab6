"""HTTP routes of the counters package, mounted by qms.app.create_app.

Three pages, each a static HTML file whose scripts talk to ``/api/v1`` and the WebSocket
channels (their assets are served under ``/static/counters/``):

=================================  ==============================================
``/counter``                       the counter console (staff)
``/supervisor``                    the center supervisor's page
``/rating/{center}/{counter}``     the satisfaction tablet facing the citizen
=================================  ==============================================
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse

from queue_server.api.deps import ServicesDep
from queue_server.errors import UnknownCounter

router = APIRouter(tags=["pages"])
STATIC = Path(__file__).resolve().parent / "static"
# A page must never be served stale after an upgrade: it is small, its assets carry ETags.
NO_CACHE = {"Cache-Control": "no-cache"}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers=NO_CACHE)


@router.get("/counter", include_in_schema=False)
async def counter_console() -> FileResponse:
    return _page("counter.html")


@router.get("/supervisor", include_in_schema=False)
async def supervisor_page() -> FileResponse:
    return _page("supervisor.html")


@router.get("/rating/{center_id}/{counter_id}", include_in_schema=False)
async def rating_tablet(center_id: str, counter_id: str, services: ServicesDep) -> FileResponse:
    # A mistyped tablet address says so at once, not after someone has logged in on it.
    center = services.province.center(center_id)
    if center.counter(counter_id) is None:
        raise UnknownCounter(f"unknown counter {counter_id!r} at center {center_id}",
                             reason="no_such_counter", center=center_id, counter=counter_id)
    return _page("rating.html")
