"""Reports and the audit trail, read from the archive (docs/archive.md, docs/api.md).

A supervisor reads their own center (the report is limited to it when no center is named);
the province reads every center. Without the archive (``QMS_ARCHIVE=0``) or while its
database cannot be reached, both answer a fast 503.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from queue_server.api.deps import PrincipalDep, ServicesDep
from queue_server.archive.audit import ticket_id_of, ticket_trail, trail_csv
from queue_server.archive.export import report_csv, report_xlsx
from queue_server.archive.report_query import build_query, period_of
from queue_server.archive.reports import describe, run_report
from queue_server.archive.runtime import ArchiveService
from queue_server.auth import Principal, Role
from queue_server.errors import Forbidden, Unavailable
from queue_server.rules.clock import TIMEZONE

router = APIRouter(prefix="/api/v1", tags=["archive"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
FORMATS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}, XLSX: {}}}}
TRAIL_FORMATS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}}}}


def archive_of(services: Any) -> ArchiveService:
    archive: ArchiveService | None = services.extras.get("archive")
    if archive is None:
        raise Unavailable("this server keeps no archive (QMS_ARCHIVE=0): reports and audit "
                          "trails are served by a server that does", reason="archive_off")
    return archive


def allowed_centers(principal: Principal, centers: list[str] | None) -> list[str]:
    """The centers the caller may read: a supervisor their own, the province any."""
    if principal.role is Role.PROVINCE:
        return centers or []
    if principal.role is not Role.SUPERVISOR or principal.center is None:
        raise Forbidden(f"reports need the role supervisor or province; you are "
                        f"{principal.role.value}", reason="role_not_allowed",
                        roles="supervisor, province", role=principal.role.value)
    others = sorted(set(centers or []) - {principal.center})
    if others:
        raise Forbidden(f"you belong to center {principal.center}, not {', '.join(others)}",
                        reason="other_center", own=principal.center, center=", ".join(others))
    return [principal.center]


def today() -> dt.date:
    return dt.datetime.now(TIMEZONE).date()


def _attachment(body: str | bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports", responses=FORMATS,
            summary="A report over any period: tickets, waits, service, ratings, by dimension")
async def report(
    services: ServicesDep,
    principal: PrincipalDep,
    period: Annotated[Literal["day", "week", "month", "quarter", "year", "range"], Query(
        description="the period holding `date`, or `range` from `from` to `to`")] = "month",
    date: Annotated[dt.date | None, Query(description="a day of the period (default: today)"
                                          )] = None,
    start: Annotated[dt.date | None, Query(alias="from", description="first day of a range"
                                           )] = None,
    end: Annotated[dt.date | None, Query(alias="to", description="last day of a range")] = None,
    center: Annotated[list[str] | None, Query(
        description="centers (repeat); default: a supervisor's own, all for the province")
    ] = None,
    by: Annotated[list[str] | None, Query(
        description="group by up to three of center, service, counter, staff, channel, "
                    "priority, day, week, month, quarter, year")] = None,
    service: Annotated[str | None, Query(max_length=64)] = None,
    counter: Annotated[str | None, Query(max_length=64)] = None,
    staff: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    priority: Annotated[str | None, Query(max_length=64, description="`none`: no priority"
                                          )] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Response:
    centers = allowed_centers(principal, center)
    archive = archive_of(services)
    chosen = period_of(period, date, start, end, today=today())
    query = build_query(services.province, chosen, centers=centers, by=by or [],
                        service=service, counter=counter, staff=staff, channel=channel,
                        priority=priority)
    async with archive.connection() as conn:
        result = await run_report(conn, services.province, query)
    name = f"qms-report-{chosen.start:%Y%m%d}-{chosen.end:%Y%m%d}"
    if format == "csv":
        return _attachment(report_csv(result), CSV, name + ".csv")
    if format == "xlsx":
        title = (f"Báo cáo / Report {chosen.label()} — "
                 f"{', '.join(query.centers) if len(query.centers) <= 3 else 'toàn tỉnh'}")
        return _attachment(report_xlsx(title, result), XLSX, name + ".xlsx")
    return JSONResponse(describe(result))


@router.get("/centers/{center_id}/audit",
            responses=TRAIL_FORMATS,
            summary="The audit trail of one ticket, found by its day and number")
async def audit(
    center_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    day: Annotated[dt.date, Query(description="the day on the ticket (local day)")],
    number: Annotated[str, Query(min_length=2, max_length=8, description="e.g. A023")],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    principal.require(center_id, Role.SUPERVISOR, Role.PROVINCE)
    services.province.center(center_id)
    archive = archive_of(services)
    ticket_id = ticket_id_of(center_id, day, number)
    async with archive.connection() as conn:
        trail = await ticket_trail(conn, ticket_id)
    if format == "csv":
        return _attachment(trail_csv(trail), CSV, f"qms-audit-{ticket_id}.csv")
    return JSONResponse(trail.describe())
