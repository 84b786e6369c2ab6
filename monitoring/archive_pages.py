"""The pages over the archive, mounted by queue_server.app.create_app.

- ``GET /reports``: reports over any period with charts (``monitoring/static/report.*``,
  Chart.js vendored under ``monitoring/static/vendor/chartjs/`` with its licence);
- ``GET /audit``: the audit trail of one ticket, searched by day and number, with CSV export
  (``monitoring/static/audit.*``); the supervisor page links here.

Both read ``/api/v1/reports`` and ``/api/v1/centers/{center}/audit`` with the login of a
supervisor (their center) or the province (every center).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse

router = APIRouter(tags=["monitoring"])
STATIC = Path(__file__).resolve().parent / "static"


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


@router.get("/reports", include_in_schema=False)
async def report_page() -> FileResponse:
    return _page("report.html")


@router.get("/audit", include_in_schema=False)
async def audit_page() -> FileResponse:
    return _page("audit.html")
