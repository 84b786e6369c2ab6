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


# The sums every report needs per group, from the tickets (alias, SQL over ``t`` and the
# center's target ``g``) and from the monthly rollup (SQL over ``r``).
SUMS: tuple[tuple[str, str, str], ...] = (
    ("tickets", "count(*)", "sum(r.tickets)::bigint"),
    ("served", "count(*) FILTER (WHERE t.status = 'done')", "sum(r.served)::bigint"),
    ("no_shows", "count(*) FILTER (WHERE t.status = 'no_show')", "sum(r.no_shows)::bigint"),
    ("transfers", "count(*) FILTER (WHERE t.status = 'transferred')",
     "sum(r.transfers)::bigint"),
    ("cancellations", "count(*) FILTER (WHERE t.status = 'cancelled')",
     "sum(r.cancellations)::bigint"),
    ("expirations", "count(*) FILTER (WHERE t.status = 'expired')", "sum(r.expirations)::bigint"),
    ("called", "count(t.wait_ms)", "sum(r.called)::bigint"),
    ("wait_sum", "sum(t.wait_ms)", "sum(r.wait_sum)::bigint"),
    ("service_n", "count(t.service_ms)", "sum(r.service_n)::bigint"),
    ("service_sum", "sum(t.service_ms)", "sum(r.service_sum)::bigint"),
    *((f"r{level}", f"count(*) FILTER (WHERE t.rating = {level})", f"sum(r.r{level})::bigint")
      for level in range(1, 6)),
)
_RATINGS = "(s.r1 + s.r2 + s.r3 + s.r4 + s.r5)"

# (name, SQL over the sums ``s`` and the percentiles ``p``, Vietnamese, English).
MEASURES: tuple[tuple[str, str, str, str], ...] = (
    ("tickets", "s.tickets", "Số phiếu", "Tickets"),
    ("served", "s.served", "Đã phục vụ", "Served"),
    ("no_shows", "s.no_shows", "Vắng mặt", "No-shows"),
    ("transfers", "s.transfers", "Chuyển", "Transfers"),
    ("cancellations", "s.cancellations", "Hủy", "Cancelled"),
    ("expirations", "s.expirations", "Hết hạn", "Expired"),
    ("called", "s.called", "Đã gọi", "Called"),
    ("wait_mean_s", "s.wait_sum::numeric / NULLIF(s.called, 0) / 1000.0", "Chờ TB (s)",
     "Mean wait (s)"),
    ("wait_median_s", "p.wait_median / 1000.0", "Chờ trung vị (s)", "Median wait (s)"),
    ("wait_p90_s", "p.wait_p90 / 1000.0", "Chờ P90 (s)", "P90 wait (s)"),
    ("within_target_share", "w.within_n::numeric / NULLIF(s.called, 0)",
     "Gọi trong mục tiêu", "Called within target"),
    ("service_mean_s", "s.service_sum::numeric / NULLIF(s.service_n, 0) / 1000.0", "Phục vụ TB (s)",
     "Mean service (s)"),
    ("service_median_s", "p.service_median / 1000.0", "Phục vụ trung vị (s)",
     "Median service (s)"),
    ("ratings", _RATINGS, "Lượt đánh giá", "Ratings"),
    *((f"rating_{level}", f"s.r{level}", f"Mức {level}", f"Level {level}")
      for level in range(1, 6)),
    ("rating_mean", f"(s.r1 + 2 * s.r2 + 3 * s.r3 + 4 * s.r4 + 5 * s.r5)::numeric"
     f" / NULLIF({_RATINGS}, 0)", "Đánh giá TB", "Mean rating"),
    ("satisfied_share", f"(s.r4 + s.r5)::numeric / NULLIF({_RATINGS}, 0)", "Hài lòng (4–5)",
     "Satisfied (4–5)"),
)
COUNTS = frozenset(name for name, sql, *_ in MEASURES
                   if (sql.startswith("s.") and "/" not in sql) or name == "ratings")
MEASURE_NAMES = tuple(name for name, *_ in MEASURES)
SHARES = ("within_target_share", "satisfied_share")
# Dimensions the monthly rollup can group by, as SQL over its row ``r``.
ROLLUP_DIMENSIONS: dict[str, str] = {
    "center": "r.center", "month": "r.month",
    "quarter": "date_trunc('quarter', r.month)::date",
    "year": "date_trunc('year', r.month)::date",
}


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
                           f"{LATEST.year}", reason="report_day_out_of_range", field=name,
                           value=value.isoformat(), earliest=EARLIEST.year, latest=LATEST.year)
    return value


def period_of(kind: str, anchor: dt.date | None = None, start: dt.date | None = None,
              end: dt.date | None = None, *, today: dt.date) -> Period:
    """The period of ``kind`` that holds ``anchor`` (default today), or the range
    ``start``–``end`` (both needed, in order, at most ten years)."""
    if kind not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, got {kind!r}",
                           reason="report_period_invalid", field="period",
                           allowed=", ".join(PERIODS), value=kind)
    if kind == "range":
        if start is None or end is None:
            missing = "from" if start is None else "to"
            raise InvalidInput(f"a range needs both ends: '{missing}' is missing (an unbounded "
                               "report is not allowed)", reason="report_range_open", field=missing)
        _checked_day("from", start)
        _checked_day("to", end)
        if start > end:
            raise InvalidInput(f"the range is inverted: from {start.isoformat()} is after to "
                               f"{end.isoformat()}", reason="report_range_inverted", field="from",
                               start=start.isoformat(), end=end.isoformat())
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise InvalidInput(f"a range covers at most ten years, got {(end - start).days + 1}"
                               " days", reason="report_range_too_long", field="to",
                               days=(end - start).days + 1)
        return Period(kind, start, end)
    if start is not None or end is not None:
        raise InvalidInput(f"'from' and 'to' go with period=range, not period={kind}",
                           reason="report_range_only", field="from", period=kind)
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
                             reason="report_counter_unknown", counter=counter)
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}",
                           reason="report_channel_invalid", field="channel",
                           allowed=", ".join(CHANNELS), value=channel)
    priorities = {p.id for p in province.priorities}
    if priority is not None and priority != NORMAL and priority not in priorities:
        raise InvalidInput(f"priority must be {NORMAL} or one of {', '.join(sorted(priorities))}"
                           f", got {priority!r}", reason="report_priority_invalid",
                           field="priority", allowed=", ".join([NORMAL, *sorted(priorities)]),
                           value=priority)
    dims = tuple(dict.fromkeys(by))
    for dim in dims:
        if dim not in DIMENSIONS:
            raise InvalidInput(f"'by' must be among {', '.join(DIMENSIONS)}, got {dim!r}",
                               reason="report_dimension_invalid", field="by",
                               allowed=", ".join(DIMENSIONS), value=dim)
    if len(dims) > MAX_DIMENSIONS:
        raise InvalidInput(f"a report groups by at most {MAX_DIMENSIONS} dimensions, got "
                           f"{len(dims)}", reason="report_too_many_dimensions", field="by",
                           maximum=MAX_DIMENSIONS, got=len(dims))
    if staff is not None and not staff.strip():
        raise InvalidInput("staff must be a username, got an empty text",
                           reason="report_staff_empty", field="staff")
    for name, value in (("service", service), ("counter", counter), ("staff", staff),
                        ("channel", channel), ("priority", priority), *(
                            ("center", c) for c in centers)):
        if value is not None and not value.isprintable():
            raise InvalidInput(f"{name} must be printable text, got {value!r}",
                               reason="report_text_invalid", field=name)
    filters = {k: v for k, v in (("service", service), ("counter", counter), ("staff", staff),
                                 ("channel", channel), ("priority", priority)) if v is not None}
    return ReportQuery(period, chosen, dims, service, counter, staff, channel, priority,
                       filters)


def uses_rollup(query: ReportQuery) -> bool:
    """Whole months, grouped and filtered by nothing the rollup does not keep."""
    period = query.period
    whole = period.start.day == 1 and (period.end + dt.timedelta(days=1)).day == 1
    return whole and not query.filters and set(query.by) <= set(ROLLUP_DIMENSIONS)


def _grouping(dims: list[str]) -> tuple[str, str, list[str]]:
    """GROUP BY clause, the total-row flag and the dimension columns."""
    if not dims:
        return "()", "1", []
    return (f"GROUPING SETS (({', '.join(dims)}), ())",
            f"(GROUPING({', '.join(dims)}) > 0)::int",
            [f"{expr} AS d{i}" for i, expr in enumerate(dims)])


def _by_class(dims: list[str], classes: str) -> str:
    """The histogram's GROUP BY: each group and the total, per kind and class."""
    if not dims:
        return classes
    return f"GROUPING SETS (({', '.join(dims)}, {classes}), ({classes}))"


def _percentile(p: float, kind: str) -> str:
    """The value where the cumulative count reaches ``p`` of the total, interpolated inside
    the class that holds it (classes: qms_bucket, migration 0002)."""
    return (f"min(qms_bucket_low(c.bucket) + (qms_bucket_high(c.bucket) - "
            f"qms_bucket_low(c.bucket)) * ({p} * c.total - (c.cum - c.n)) / c.n) "
            f"FILTER (WHERE c.kind = '{kind}' AND c.cum >= {p} * c.total)")


def report_sql(query: ReportQuery, province: Province,
               rollup: bool | None = None) -> tuple[str, dict[str, Any]]:
    """The statement and its parameters: dimension columns ``d0…``, a ``grand`` flag (1 on
    the total row), then :data:`MEASURE_NAMES`. Each center's wait target comes from the
    province as it is configured now.

    Whole months grouped by center or time read the monthly rollup; the rest read the
    tickets. Both give the percentiles from the same classes of durations, so a figure does
    not depend on which answered; counts, sums, means and shares are exact."""
    params: dict[str, Any] = {
        "start": query.period.start, "end": query.period.end, "centers": list(query.centers),
        "targets": [province.center(c).wait_target_s for c in query.centers]}
    if rollup is None:
        rollup = uses_rollup(query)
    elif rollup and not uses_rollup(query):
        raise ValueError("this report cannot be answered from the monthly rollup")
    dims = [(ROLLUP_DIMENSIONS if rollup else DIMENSIONS)[d] for d in query.by]
    grouping, grand, select = _grouping(dims)
    columns = [f"d{i}" for i in range(len(dims))]
    head = ", ".join([*select, f"{grand} AS grand"])
    if rollup:
        where = "r.month BETWEEN %(start)s AND %(end)s"
        sums = (f"SELECT {head}, {', '.join(f'{r} AS {a}' for a, _, r in SUMS)} "
                "FROM monthly AS r JOIN targets AS g ON g.center = r.center "
                f"WHERE {where} GROUP BY {grouping}")
        hist = (f"SELECT {head}, r.kind, r.bucket, sum(r.n) AS n FROM monthly_hist AS r "
                f"JOIN targets AS g ON g.center = r.center WHERE {where} "
                f"GROUP BY {_by_class(dims, 'r.kind, r.bucket')}")
        within = (f"SELECT {head}, coalesce(sum(r.n) FILTER (WHERE "
                  "qms_bucket_high(r.bucket) <= g.target_ms), 0) AS within_n "
                  "FROM monthly_hist AS r JOIN targets AS g "
                  f"ON g.center = r.center WHERE {where} AND r.kind = 'w' GROUP BY {grouping}")
    else:
        conditions = ["t.day BETWEEN %(start)s AND %(end)s"]
        for name in ("service", "counter", "staff", "channel"):
            value = getattr(query, name)
            if value is not None:
                conditions.append(f"t.{name} = %({name})s")
                params[name] = value
        if query.priority is not None:
            conditions.append("t.priority = %(priority)s")
            params["priority"] = "" if query.priority == NORMAL else query.priority
        where = " AND ".join(conditions)
        sums = (f"SELECT {head}, {', '.join(f'{t_} AS {a}' for a, t_, _ in SUMS)}, "
                "count(*) FILTER (WHERE t.wait_ms <= g.target_ms) AS within_n "
                "FROM tickets AS t JOIN targets AS g ON g.center = t.center "
                f"WHERE {where} GROUP BY {grouping}")
        classes = "v.kind, qms_bucket(v.ms)"
        hist = (f"SELECT {head}, v.kind, qms_bucket(v.ms) AS bucket, count(*) AS n "
                "FROM tickets AS t JOIN targets AS g ON g.center = t.center "
                "CROSS JOIN LATERAL (VALUES ('w'::\"char\", t.wait_ms), "
                "('s'::\"char\", t.service_ms)) AS v(kind, ms) "
                f"WHERE {where} AND v.ms IS NOT NULL GROUP BY {_by_class(dims, classes)}")
        within = f"SELECT {', '.join([*columns, 'grand'])}, within_n FROM sums"
    keys = ", ".join([*columns, "grand"])
    partition = ", ".join(["grand", *columns, "kind"])
    join = " AND ".join(["x.grand = s.grand",
                         *(f"x.{c} IS NOT DISTINCT FROM s.{c}" for c in columns)])
    sql = (
        "WITH targets AS (SELECT center, target_s * 1000 AS target_ms FROM "
        "unnest(%(centers)s::text[], %(targets)s::bigint[]) AS x(center, target_s)), "
        f"sums AS ({sums}), hist AS ({hist}), within AS ({within}), "
        f"cum AS (SELECT {keys}, kind, bucket, n, sum(n) OVER (PARTITION BY {partition} "
        f"ORDER BY bucket) AS cum, sum(n) OVER (PARTITION BY {partition}) AS total "
        "FROM hist WHERE n > 0), "
        f"pct AS (SELECT {', '.join(f'c.{k}' for k in [*columns, 'grand'])}, "
        f"{_percentile(0.5, 'w')} AS wait_median, {_percentile(0.9, 'w')} AS wait_p90, "
        f"{_percentile(0.5, 's')} AS service_median FROM cum AS c GROUP BY "
        f"{', '.join(f'c.{k}' for k in [*columns, 'grand'])}) "
        f"SELECT {', '.join([*(f's.{c}' for c in columns), 's.grand'])}, "
        + ", ".join(f"{sql} AS {name}" for name, sql, *_ in MEASURES)
        + " FROM sums AS s "
        f"LEFT JOIN pct AS p ON {join.replace('x.', 'p.')} "
        f"LEFT JOIN within AS w ON {join.replace('x.', 'w.')} "
        f"ORDER BY {', '.join(['s.grand', *(f's.{c}' for c in columns)])}")
    return sql, params
