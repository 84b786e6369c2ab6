"""Reports from the archive: every period, dimension and filter against figures worked out by
hand from a small known set of tickets; and every kind of bad input, named.

The tickets are written as the archiver writes them (projection + store, which also keeps
the monthly rollup) into the real PostgreSQL of the suite; centre 07054's wait target is set
to 10 minutes for these tests so that the share within target differs between the two
centres. Percentiles are read from classes of durations (5 s wide below an hour): the value
where the cumulative count reaches p·N, interpolated inside its class — e.g. the median of
60, 120, 300, 900 and 1200 s is 300 + 5 × (2.5 − 2) / 1 = 302.5 s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from queue_server.archive.projection import StreamId, ticket_row
from queue_server.archive.report_query import build_query, period_of
from queue_server.archive.reports import Report, run_report
from queue_server.archive.store import upsert_tickets
from queue_server.errors import (
    InvalidInput,
    NotFound,
    UnknownCenter,
    UnknownCounter,
    UnknownService,
)
from queue_server.province import Province
from queue_server.rules.clock import epoch_ms

A, B = "07054", "07060"
MARCH = dt.date(2026, 3, 15)
# (day, center, number, service, status, staff, counter, channel, priority, wait s,
#  service s, rating)
TICKETS = [
    ("2026-03-02", A, "A001", "civil_status", "done", "lan", "1", "kiosk", "", 300, 600, 5),
    ("2026-03-02", A, "A002", "civil_status", "done", "lan", "1", "kiosk", "elderly", 900, 300,
     4),
    ("2026-03-03", A, "B001", "certification", "no_show", "hung", "2", "online", "", 1200,
     None, None),
    ("2026-03-03", A, "B002", "certification", "transferred", "hung", "2", "kiosk", "", 60,
     None, None),
    # The transferred citizen: waited 120 s from the transfer (not from the first arrival).
    ("2026-03-03", A, "A003", "civil_status", "done", "lan", "1", "transfer", "", 120, 200, 2),
    ("2026-03-10", A, "B003", "certification", "cancelled", "", "", "online", "", None, None,
     None),
    ("2026-03-31", B, "A001", "civil_status", "done", "minh", "1", "appointment", "", 2000,
     400, 3),
    ("2026-03-31", B, "A002", "civil_status", "expired", "", "", "kiosk", "disability", None,
     None, None),
    ("2026-04-01", A, "A001", "civil_status", "done", "lan", "1", "kiosk", "", 100, 100, 5),
    ("2026-02-28", B, "A009", "civil_status", "done", "minh", "1", "kiosk", "", 30, 30, None),
]


def ticket_map(spec: tuple[Any, ...]) -> dict[str, Any]:
    day, center, number, service, status, staff, counter, channel, priority, wait, svc, \
        rating = spec
    start = epoch_ms(dt.datetime.fromisoformat(day + "T08:00:00"))
    issued = start + 3_600_000 if channel == "transfer" else start   # transferred an hour on
    called = issued + wait * 1000 if wait is not None else 0
    ended = called + svc * 1000 if svc is not None else (called + 1000 if called else 0)
    return {"id": f"{center}-{day.replace('-', '')}-{number}", "number": number,
            "service": service, "status": status, "priority": priority, "channel": channel,
            "counter": counter, "staff": staff, "arrived": start, "issued": issued, "appt": 0,
            "called": called, "started": called if svc is not None else 0, "ended": ended,
            "recalls": 0, "rating": rating or 0, "from": "", "to": "", "note": "",
            "target_counter": ""}


@pytest.fixture
def province(province: Province) -> Province:
    centers = tuple(dataclasses.replace(c, wait_target_s=600) if c.id == A else c
                    for c in province.centers)
    return dataclasses.replace(province, centers=centers)


@pytest.fixture
async def known(archive_pool: AsyncConnectionPool[Any]) -> AsyncConnectionPool[Any]:
    rows = [ticket_row(ticket_map(spec), spec[1], StreamId(1, i), "completed")
            for i, spec in enumerate(TICKETS)]
    async with archive_pool.connection() as conn, conn.transaction():
        await upsert_tickets(conn, rows)
    return archive_pool


async def report(pool: AsyncConnectionPool[Any], province: Province, kind: str = "month",
                 anchor: dt.date | None = MARCH, start: dt.date | None = None,
                 end: dt.date | None = None, **options: Any) -> Report:
    period = period_of(kind, anchor if kind != "range" else None, start, end, today=MARCH)
    query = build_query(province, period, **options)
    async with pool.connection() as conn:
        return await run_report(conn, province, query)


def by(report: Report, dim: str) -> dict[Any, dict[str, Any]]:
    return {row[dim]: row for row in report.rows}


# ---------------------------------------------------------------------- periods (pure)


@pytest.mark.parametrize(("kind", "anchor", "start", "end"), [
    ("day", "2026-03-04", "2026-03-04", "2026-03-04"),
    ("week", "2026-03-04", "2026-03-02", "2026-03-08"),      # ISO week: Monday to Sunday
    ("week", "2026-03-01", "2026-02-23", "2026-03-01"),      # a Sunday belongs to its Monday
    ("month", "2026-02-10", "2026-02-01", "2026-02-28"),
    ("month", "2028-02-10", "2028-02-01", "2028-02-29"),
    ("month", "2026-12-31", "2026-12-01", "2026-12-31"),
    ("quarter", "2026-05-20", "2026-04-01", "2026-06-30"),
    ("quarter", "2026-12-01", "2026-10-01", "2026-12-31"),
    ("year", "2026-07-01", "2026-01-01", "2026-12-31"),
])
def test_periods(kind: str, anchor: str, start: str, end: str) -> None:
    period = period_of(kind, dt.date.fromisoformat(anchor), today=MARCH)
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)


def test_a_period_defaults_to_today() -> None:
    assert period_of("month", today=MARCH).start == dt.date(2026, 3, 1)


@pytest.mark.parametrize(("kind", "anchor", "start", "end", "words"), [
    ("range", None, "2026-03-10", "2026-03-01", "the range is inverted"),
    ("range", None, "2026-03-10", None, "'to' is missing"),
    ("range", None, None, "2026-03-10", "'from' is missing"),
    ("range", None, "2000-01-01", "2020-01-01", "at most ten years"),
    ("decade", "2026-03-01", None, None, "period must be one of"),
    ("month", "2026-03-01", "2026-03-01", None, "go with period=range"),
    ("day", "1999-12-31", None, None, "outside 2000"),
])
def test_bad_periods(kind: str, anchor: str | None, start: str | None, end: str | None,
                     words: str) -> None:
    def day(text: str | None) -> dt.date | None:
        return dt.date.fromisoformat(text) if text else None

    with pytest.raises(InvalidInput, match=words):
        period_of(kind, day(anchor), day(start), day(end), today=MARCH)


# ---------------------------------------------------------------------- measures


async def test_month_by_center(known: AsyncConnectionPool[Any], province: Province) -> None:
    result = await report(known, province, by=["center"])
    rows = by(result, "center")
    a, b, total = rows[A], rows[B], result.total
    assert a["center_name"] == "Xã Quảng La"
    assert (a["tickets"], a["served"], a["no_shows"], a["transfers"], a["cancellations"],
            a["expirations"], a["called"]) == (6, 3, 1, 1, 1, 0, 5)
    # waits 60, 120, 300, 900, 1200 s; target 600 s at A
    assert (a["wait_mean_s"], a["wait_median_s"], a["wait_p90_s"]) == (516.0, 302.5, 1202.5)
    assert a["within_target_share"] == 0.6
    assert (a["service_mean_s"], a["service_median_s"]) == (366.667, 302.5)
    assert (a["ratings"], a["rating_5"], a["rating_4"], a["rating_3"], a["rating_2"],
            a["rating_1"]) == (3, 1, 1, 0, 1, 0)
    assert (a["rating_mean"], a["satisfied_share"]) == (3.667, 0.667)
    assert (b["tickets"], b["served"], b["expirations"], b["called"]) == (2, 1, 1, 1)
    assert (b["wait_median_s"], b["within_target_share"], b["satisfied_share"]) == (
        2002.5, 0.0, 0.0)
    # all eight: waits 60, 120, 300, 900, 1200, 2000
    assert (total["tickets"], total["served"], total["called"]) == (8, 4, 6)
    assert (total["wait_mean_s"], total["wait_median_s"], total["wait_p90_s"]) == (
        763.333, 305.0, 2002.0)
    assert total["within_target_share"] == 0.5          # each centre against its own target
    assert (total["service_mean_s"], total["service_median_s"]) == (375.0, 305.0)
    assert (total["rating_mean"], total["satisfied_share"]) == (3.5, 0.5)


@pytest.mark.parametrize(("dim", "centers", "expected"), [
    ("service", (), {"civil_status": 5, "certification": 3}),
    ("staff", (A,), {"lan": 3, "hung": 2, "": 1}),
    ("counter", (A,), {"1": 3, "2": 2, "": 1}),
    ("channel", (), {"kiosk": 4, "online": 2, "transfer": 1, "appointment": 1}),
    ("priority", (), {"": 6, "elderly": 1, "disability": 1}),
    ("day", (), {"2026-03-02": 2, "2026-03-03": 3, "2026-03-10": 1, "2026-03-31": 2}),
    ("week", (), {"2026-03-02": 5, "2026-03-09": 1, "2026-03-30": 2}),
])
async def test_every_dimension(known: AsyncConnectionPool[Any], province: Province, dim: str,
                               centers: tuple[str, ...], expected: dict[str, int]) -> None:
    result = await report(known, province, by=[dim], centers=centers)
    assert {key: row["tickets"] for key, row in by(result, dim).items()} == expected
    assert result.total["tickets"] == sum(expected.values())


async def test_names_of_dimension_values(known: AsyncConnectionPool[Any],
                                         province: Province) -> None:
    result = await report(known, province, by=["priority", "channel"])
    names = {(r["priority_name"], r["channel_name"]) for r in result.rows}
    assert ("Người cao tuổi", "Kiosk") in names
    assert ("Thường / Normal", "Trực tuyến / Online") in names
    staff = await report(known, province, by=["staff"], centers=[A])
    assert by(staff, "staff")[""]["staff_name"] == "(chưa gọi / not called)"


async def test_two_dimensions_and_a_total(known: AsyncConnectionPool[Any],
                                          province: Province) -> None:
    result = await report(known, province, by=["center", "service"])
    cells = {(r["center"], r["service"]): r["tickets"] for r in result.rows}
    assert cells == {(A, "certification"): 3, (A, "civil_status"): 3, (B, "civil_status"): 2}
    assert result.total["tickets"] == 8


@pytest.mark.parametrize(("options", "tickets", "served"), [
    ({"staff": "lan"}, 3, 3),
    ({"service": "certification"}, 3, 0),
    ({"channel": "online"}, 2, 0),
    ({"priority": "none"}, 6, 3),
    ({"priority": "elderly"}, 1, 1),
    ({"counter": "2", "centers": [A]}, 2, 0),
    ({"centers": [B]}, 2, 1),
])
async def test_filters(known: AsyncConnectionPool[Any], province: Province,
                       options: dict[str, Any], tickets: int, served: int) -> None:
    result = await report(known, province, **options)
    assert (result.total["tickets"], result.total["served"]) == (tickets, served)


@pytest.mark.parametrize(("kind", "anchor", "start", "end", "tickets"), [
    ("day", dt.date(2026, 3, 3), None, None, 3),
    ("week", dt.date(2026, 3, 4), None, None, 5),
    ("month", dt.date(2026, 3, 1), None, None, 8),
    ("quarter", dt.date(2026, 2, 1), None, None, 9),
    ("year", dt.date(2026, 8, 1), None, None, 10),
    ("range", None, dt.date(2026, 3, 31), dt.date(2026, 4, 1), 3),
])
async def test_every_period(known: AsyncConnectionPool[Any], province: Province, kind: str,
                            anchor: dt.date | None, start: dt.date | None,
                            end: dt.date | None, tickets: int) -> None:
    result = await report(known, province, kind, anchor, start, end)
    assert result.total["tickets"] == tickets


async def test_months_of_a_quarter(known: AsyncConnectionPool[Any],
                                   province: Province) -> None:
    result = await report(known, province, "quarter", MARCH, by=["month"])
    assert {k: r["tickets"] for k, r in by(result, "month").items()} == {
        "2026-02-01": 1, "2026-03-01": 8}


async def test_an_empty_period(known: AsyncConnectionPool[Any], province: Province) -> None:
    result = await report(known, province, "day", dt.date(2025, 1, 1), by=["center"])
    assert result.rows == []
    assert result.total["tickets"] == 0 and result.total["wait_median_s"] is None


@pytest.mark.parametrize(("kind", "by", "centers"), [
    ("month", [], ()), ("month", ["center"], ()), ("quarter", ["month"], ()),
    ("year", ["center", "quarter"], ()), ("month", ["year"], (A,)),
])
async def test_the_rollup_answers_as_the_tickets_do(
        known: AsyncConnectionPool[Any], province: Province, kind: str, by: list[str],
        centers: tuple[str, ...]) -> None:
    query = build_query(province, period_of(kind, MARCH, today=MARCH), by=by,
                        centers=centers)
    async with known.connection() as conn:
        rolled = await run_report(conn, province, query, rollup=True)
        counted = await run_report(conn, province, query, rollup=False)
    assert rolled.rows == counted.rows and rolled.total == counted.total
    assert rolled.total["tickets"] > 0


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("options", "error", "words"), [
    ({"centers": ["99999"]}, UnknownCenter, "unknown center '99999'"),
    ({"service": "passports"}, UnknownService, "unknown service 'passports'"),
    ({"counter": "9", "centers": [A]}, UnknownCounter, "unknown counter '9' at center 07054"),
    ({"staff": "nobody", "centers": [A]}, NotFound, "unknown staff member 'nobody'"),
    ({"staff": "minh", "centers": [A]}, NotFound, "no ticket served by them at center 07054"),
    ({"by": ["colour"]}, InvalidInput, "'by' must be among"),
    ({"by": ["center", "service", "staff", "day"]}, InvalidInput, "at most 3 dimensions"),
    ({"channel": "fax"}, InvalidInput, "channel must be one of"),
    ({"priority": "vip"}, InvalidInput, "priority must be none or one of"),
])
async def test_bad_input_is_named(known: AsyncConnectionPool[Any], province: Province,
                                  options: dict[str, Any], error: type[Exception],
                                  words: str) -> None:
    with pytest.raises(error, match=words):
        await report(known, province, **options)
