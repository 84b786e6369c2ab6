"""Reports read from the archive: one SQL statement per report, rows named for people.

:func:`run_report` checks what the archive itself must answer (a staff member it has never
seen is unknown), runs :func:`queue_server.archive.report_query.report_sql` and gives each
row its dimension values, their names (center, service, channel, priority) and the measures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

from queue_server.archive.report_query import (
    COUNTS,
    MEASURE_NAMES,
    ReportQuery,
    report_sql,
)
from queue_server.errors import NotFound
from queue_server.province import Province

CHANNEL_NAMES = {"kiosk": ("Kiosk", "Kiosk"), "online": ("Trực tuyến", "Online"),
                 "appointment": ("Hẹn trước", "Appointment"),
                 "transfer": ("Chuyển đến", "Transferred in")}
NAMED = ("center", "service", "channel", "priority", "staff", "counter")
NOBODY = "(chưa gọi / not called)"
DIGITS = 3
REPORT_WORK_MEM = "128MB"


@dataclass(frozen=True)
class Report:
    query: ReportQuery
    rows: list[dict[str, Any]]      # one per group, in dimension order
    total: dict[str, Any]           # the whole selection

    def columns(self) -> list[str]:
        """Row keys in order: each dimension (and its name where it has one), the measures."""
        return [*dimension_columns(self.query.by), *MEASURE_NAMES]


def dimension_columns(by: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for dim in by:
        out.append(dim)
        if dim in NAMED:
            out.append(f"{dim}_name")
    return out


def name_of(province: Province, dim: str, value: str) -> str:
    """What a person reads for a dimension's value (Vietnamese / English where both)."""
    if dim == "center":
        try:
            return province.center(value).display_name
        except NotFound:
            return value   # a center since removed from the province file
    if dim == "service":
        service = next((s for s in province.services if s.id == value), None)
        return service.name if service else value
    if dim == "channel":
        vi, en = CHANNEL_NAMES.get(value, (value, value))
        return vi if vi == en else f"{vi} / {en}"
    if dim == "priority":
        if not value:
            return "Thường / Normal"
        named = next((p for p in province.priorities if p.id == value), None)
        return named.name if named else value
    return value or NOBODY


def _value(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return round(float(value), DIGITS)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


async def _check_staff(conn: AsyncConnection[Any], query: ReportQuery) -> None:
    if query.staff is None:
        return
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM tickets WHERE staff = %s AND center = ANY(%s))",
        (query.staff, list(query.centers)))
    row = await cursor.fetchone()
    if not (row and row[0]):
        where = (f"center {query.centers[0]}" if len(query.centers) == 1
                 else f"{len(query.centers)} centers")
        raise NotFound(f"unknown staff member {query.staff!r}: the archive has no ticket "
                       f"served by them at {where}", reason="report_staff_unknown",
                       field="staff", staff=query.staff)


async def run_report(conn: AsyncConnection[Any], province: Province, query: ReportQuery,
                     *, rollup: bool | None = None) -> Report:
    """``rollup``: force (True) or forbid (False) the monthly rollup; None chooses."""
    await _check_staff(conn, query)
    sql, params = report_sql(query, province, rollup)
    async with conn.transaction():
        # Sorts for the percentiles in memory; JIT compiles longer than these plans run.
        await conn.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
        await conn.execute("SET LOCAL jit = off")
        cursor = await conn.execute(sql, params)
        records = await cursor.fetchall()
    rows: list[dict[str, Any]] = []
    total: dict[str, Any] = {}
    width = len(query.by)
    for record in records:
        values = dict(zip(MEASURE_NAMES, (_value(v) for v in record[width + 1:]), strict=True))
        if record[width]:
            total = values
            continue
        row: dict[str, Any] = {}
        for dim, raw in zip(query.by, record[:width], strict=True):
            row[dim] = _value(raw)
            if dim in NAMED:
                row[f"{dim}_name"] = name_of(province, dim, str(raw or ""))
        rows.append({**row, **values})
    if not total:  # no ticket at all: the total row of an empty selection
        total = {name: (0 if name in COUNTS else None) for name in MEASURE_NAMES}
    return Report(query, rows, total)


def describe(report: Report) -> dict[str, Any]:
    """The report as the API answers it (JSON)."""
    query = report.query
    return {
        "period": {"kind": query.period.kind, "from": query.period.start.isoformat(),
                   "to": query.period.end.isoformat(), "days": query.period.days},
        "centers": list(query.centers), "by": list(query.by), "filters": query.filters,
        "columns": report.columns(), "rows": report.rows, "total": report.total,
    }

