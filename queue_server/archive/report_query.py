"""What a report asks, checked, and the one SQL statement that answers it (no I/O here).

A report covers the tickets whose day (the day of their number) lies in a period — a day, an
ISO week (Monday to Sunday), a month, a quarter, a year, or a range of days — optionally
filtered by center, service, counter, staff member, channel and priority, grouped by up to
three dimensions, with a total row. Every measure is computed by PostgreSQL in one pass
(``GROUPING SETS``): no row is looped over in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from queue_server.errors import InvalidInput, UnknownCounter
from queue_server.province import Province

PERIODS = ("day", "week", "month", "quarter", "year", "range")
MAX_RANGE_DAYS = 366 * 10 + 3
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
CHANNELS = ("kiosk", "online", "appointment", "transfer")
NORMAL = "none"  # the priority filter value of tickets without statutory priority

# Dimension -> SQL expression over the ticket row ``t``.
DIMENSIONS: dict[str, str] = {
    "center": "t.center", "service": "t.service", "counter": "t.counter",
    "staff": "t.staff", "channel": "t.channel", "priority": "t.priority",
    "day": "t.day", "week": "date_trunc('week', t.day)::date",
    "month": "date_trunc('month', t.day)::date",
    "quarter": "date_trunc('quarter', t.day)::date",
    "year": "date_trunc('year', t.day)::date",
}
MAX_DIMENSIONS = 3


def _share(condition: str, present: str) -> str:
    return f"avg(CASE WHEN {present} IS NULL THEN NULL WHEN {condition} THEN 1.0 ELSE 0.0 END)"


# What PostgreSQL aggregates per group (alias, SQL). The median and the 90th percentile of
# waits come from one ordered-set aggregate: one sort of the waits per group, not two.
AGGREGATES: tuple[tuple[str, str], ...] = (
    ("tickets", "count(*)"),
    ("served", "count(*) FILTER (WHERE t.status = 'done')"),
    ("no_shows", "count(*) FILTER (WHERE t.status = 'no_show')"),
    ("transfers", "count(*) FILTER (WHERE t.status = 'transferred')"),
    ("cancellations", "count(*) FILTER (WHERE t.status = 'cancelled')"),
    ("expirations", "count(*) FILTER (WHERE t.status = 'expired')"),
    ("called", "count(t.wait_ms)"),
    ("wait_mean", "avg(t.wait_ms)"),
    ("wait_q", "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY t.wait_ms)"),
    ("within_target_share", _share("t.wait_ms <= g.target_ms", "t.wait_ms")),
    ("service_mean", "avg(t.service_ms)"),
    ("service_median", "percentile_cont(0.5) WITHIN GROUP (ORDER BY t.service_ms)"),
    ("ratings", "count(t.rating)"),
    *((f"rating_{level}", f"count(*) FILTER (WHERE t.rating = {level})")
      for level in range(1, 6)),
    ("rating_mean", "avg(t.rating)"),
    ("satisfied_share", _share("t.rating >= 4", "t.rating")),
)

# (name, SQL over the aggregates, Vietnamese, English): the columns of every report.
MEASURES: tuple[tuple[str, str, str, str], ...] = (
    ("tickets", "tickets", "Số phiếu", "Tickets"),
    ("served", "served", "Đã phục vụ", "Served"),
    ("no_shows", "no_shows", "Vắng mặt", "No-shows"),
    ("transfers", "transfers", "Chuyển", "Transfers"),
    ("cancellations", "cancellations", "Hủy", "Cancelled"),
    ("expirations", "expirations", "Hết hạn", "Expired"),
    ("called", "called", "Đã gọi", "Called"),
    ("wait_mean_s", "wait_mean / 1000.0", "Chờ TB (s)", "Mean wait (s)"),
    ("wait_median_s", "wait_q[1] / 1000.0", "Chờ trung vị (s)", "Median wait (s)"),
    ("wait_p90_s", "wait_q[2] / 1000.0", "Chờ P90 (s)", "P90 wait (s)"),
    ("within_target_share", "within_target_share", "Gọi trong mục tiêu",
     "Called within target"),
    ("service_mean_s", "service_mean / 1000.0", "Phục vụ TB (s)", "Mean service (s)"),
    ("service_median_s", "service_median / 1000.0", "Phục vụ trung vị (s)",
     "Median service (s)"),
    ("ratings", "ratings", "Lượt đánh giá", "Ratings"),
    *((f"rating_{level}", f"rating_{level}", f"Mức {level}", f"Level {level}")
      for level in range(1, 6)),
    ("rating_mean", "rating_mean", "Đánh giá TB", "Mean rating"),
    ("satisfied_share", "satisfied_share", "Hài lòng (4–5)", "Satisfied (4–5)"),
)
COUNTS = frozenset(name for name, sql in AGGREGATES if sql.startswith("count"))
MEASURE_NAMES = tuple(name for name, *_ in MEASURES)
SHARES = ("within_target_share", "satisfied_share")


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date
    end: dt.date          # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def label(self) -> str:
        if self.start == self.end:
            return f"{self.start:%d/%m/%Y}"
        return f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"


def _checked_day(name: str, value: dt.date) -> dt.date:
    if not EARLIEST <= value <= LATEST:
        raise InvalidInput(f"{name} {value.isoformat()} is outside {EARLIEST.year}–"
                           f"{LATEST.year}", field=name)
    return value


def period_of(kind: str, anchor: dt.date | None = None, start: dt.date | None = None,
              end: dt.date | None = None, *, today: dt.date) -> Period:
    """The period of ``kind`` that holds ``anchor`` (default today), or the range
    ``start``–``end`` (both needed, in order, at most ten years)."""
    if kind not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, got {kind!r}",
                           field="period")
    if kind == "range":
        if start is None or end is None:
            missing = "from" if start is None else "to"
            raise InvalidInput(f"a range needs both ends: '{missing}' is missing (an unbounded "
                               "report is not allowed)", field=missing)
        _checked_day("from", start)
        _checked_day("to", end)
        if start > end:
            raise InvalidInput(f"the range is inverted: from {start.isoformat()} is after to "
                               f"{end.isoformat()}", field="from")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise InvalidInput(f"a range covers at most ten years, got {(end - start).days + 1}"
                               " days", field="to")
        return Period(kind, start, end)
    if start is not None or end is not None:
        raise InvalidInput(f"'from' and 'to' go with period=range, not period={kind}",
                           field="from")
    day = _checked_day("date", anchor or today)
    if kind == "day":
        return Period(kind, day, day)
    if kind == "week":
        first = day - dt.timedelta(days=day.weekday())
        return Period(kind, first, first + dt.timedelta(days=6))
    if kind == "month":
        first = day.replace(day=1)
    elif kind == "quarter":
        first = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    else:
        first = day.replace(month=1, day=1)
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    month_index = first.month - 1 + months
    after = first.replace(year=first.year + month_index // 12, month=month_index % 12 + 1)
    return Period(kind, first, after - dt.timedelta(days=1))


@dataclass(frozen=True)
class ReportQuery:
    """A checked report request: which tickets, grouped how."""

    period: Period
    centers: tuple[str, ...]               # never empty: the caller's own, or all
    by: tuple[str, ...] = ()
    service: str | None = None
    counter: str | None = None
    staff: str | None = None
    channel: str | None = None
    priority: str | None = None            # NORMAL for tickets without one
    filters: dict[str, str] = field(default_factory=dict, compare=False)


def build_query(province: Province, period: Period, *, centers: Sequence[str] = (),
                by: Sequence[str] = (), service: str | None = None,
                counter: str | None = None, staff: str | None = None,
                channel: str | None = None, priority: str | None = None) -> ReportQuery:
    """Check every part against the province (unknown center, service, counter, channel,
    priority, dimension: an error naming it). Staff members are checked against the archive
    by the caller (:func:`queue_server.archive.reports.run_report`)."""
    chosen = tuple(dict.fromkeys(centers)) or tuple(c.id for c in province.centers)
    for center in chosen:
        province.center(center)
    if service is not None:
        province.service(service)
    if counter is not None and not any(province.center(c).counter(counter) for c in chosen):
        raise UnknownCounter(f"unknown counter {counter!r} at "
                             f"{'center ' + chosen[0] if len(chosen) == 1 else 'these centers'}",
                             counter=counter)
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}",
                           field="channel")
    priorities = {p.id for p in province.priorities}
    if priority is not None and priority != NORMAL and priority not in priorities:
        raise InvalidInput(f"priority must be {NORMAL} or one of {', '.join(sorted(priorities))}"
                           f", got {priority!r}", field="priority")
    dims = tuple(dict.fromkeys(by))
    for dim in dims:
        if dim not in DIMENSIONS:
            raise InvalidInput(f"'by' must be among {', '.join(DIMENSIONS)}, got {dim!r}",
                               field="by")
    if len(dims) > MAX_DIMENSIONS:
        raise InvalidInput(f"a report groups by at most {MAX_DIMENSIONS} dimensions, got "
                           f"{len(dims)}", field="by")
    if staff is not None and not staff.strip():
        raise InvalidInput("staff must be a username, got an empty text", field="staff")
    for name, value in (("service", service), ("counter", counter), ("staff", staff),
                        ("channel", channel), ("priority", priority), *(
                            ("center", c) for c in centers)):
        if value is not None and not value.isprintable():
            raise InvalidInput(f"{name} must be printable text, got {value!r}", field=name)
    filters = {k: v for k, v in (("service", service), ("counter", counter), ("staff", staff),
                                 ("channel", channel), ("priority", priority)) if v is not None}
    return ReportQuery(period, chosen, dims, service, counter, staff, channel, priority,
                       filters)


def report_sql(query: ReportQuery, province: Province) -> tuple[str, dict[str, Any]]:
    """The statement and its parameters: dimension columns ``d0…``, a ``grand`` flag (1 on
    the total row), then :data:`MEASURE_NAMES`. Each center's wait target comes from the
    province as it is configured now."""
    params: dict[str, Any] = {
        "start": query.period.start, "end": query.period.end, "centers": list(query.centers),
        "targets": [province.center(c).wait_target_s for c in query.centers]}
    where = ["t.day BETWEEN %(start)s AND %(end)s"]
    for name in ("service", "counter", "staff", "channel"):
        value = getattr(query, name)
        if value is not None:
            where.append(f"t.{name} = %({name})s")
            params[name] = value
    if query.priority is not None:
        where.append("t.priority = %(priority)s")
        params["priority"] = "" if query.priority == NORMAL else query.priority
    dims = [DIMENSIONS[d] for d in query.by]
    select = [f"{expr} AS d{i}" for i, expr in enumerate(dims)]
    grouping = f"GROUPING SETS (({', '.join(dims)}), ())" if dims else "()"
    grand = f"GROUPING({', '.join(dims)}) > 0" if dims else "true"
    aggregates = [f"{sql} AS {alias}" for alias, sql in AGGREGATES]
    columns = [f"d{i}" for i in range(len(dims))]
    inner = (f"SELECT {', '.join([*select, f'({grand})::int AS grand', *aggregates])} "
             "FROM tickets AS t JOIN targets AS g ON g.center = t.center "
             f"WHERE {' AND '.join(where)} GROUP BY {grouping}")
    outer = [*columns, "grand", *(f"{sql} AS {name}" for name, sql, *_ in MEASURES)]
    sql = (f"SELECT {', '.join(outer)} FROM ({inner}) AS a "
           f"ORDER BY {', '.join(['grand', *columns])}")
    return ("WITH targets AS (SELECT center, target_s * 1000 AS target_ms FROM "
            "unnest(%(centers)s::text[], %(targets)s::bigint[]) AS x(center, target_s)) "
            + sql, params)
