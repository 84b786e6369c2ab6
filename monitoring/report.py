"""``python -m monitoring.report``: reports over any period from the archive, as a table, CSV
and XLSX; ``--live`` for today's staff day from Redis (with time paused).

The archive's reports are those of ``GET /api/v1/reports`` (queue_server/archive/reports.py:
one SQL statement each); ``--live`` is :mod:`monitoring.staff_day`. Nothing is written.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg

from monitoring import staff_day
from queue_server.archive.export import report_csv, report_table, report_xlsx
from queue_server.archive.migrate import resolve_url
from queue_server.archive.report_query import DIMENSIONS, PERIODS, build_query, period_of
from queue_server.archive.reports import Report, run_report
from queue_server.embedded import running_server_url
from queue_server.errors import QmsError
from queue_server.province import Province, load_province
from queue_server.rules.clock import TIMEZONE
from queue_server.settings import Settings

# Kept importable from here, as before the archive (tests, scripts).
StaffDay = staff_day.StaffDay
CSV_COLUMNS = staff_day.CSV_COLUMNS


class ReportError(Exception):
    """One sentence for the person at the terminal, and the exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a day as YYYY-MM-DD, got {text!r}") from None


DESCRIPTION = """\
Báo cáo theo kỳ / Reports over any period.

From the archive (PostgreSQL): the tickets of a day, week (Monday to Sunday),
month, quarter, year or range of days, by center, service, counter, staff,
channel, priority or time, with a total line: tickets, served, no-shows,
transfers, cancellations, expirations, waits (mean, median, 90th percentile,
share called within the center's target), service times, ratings by level,
mean rating and the share satisfied (4-5). Times in seconds, shares 0 to 1.

With --live: today's staff productivity of one center from Redis (served,
waits, service time, no-shows, ratings and time paused), as before the archive."""

EPILOG = f"""\
Dimensions for --by (up to three): {", ".join(DIMENSIONS)}.
--priority none selects tickets without statutory priority.

CSV: one header line of column names, one line per group with row=group and
a last line with row=total (UTF-8). XLSX: a workbook with a Vietnamese and an
English header line.

Exit codes: 0 report written (also when no ticket matched); 1 the database
(or Redis, with --live) could not be read; 2 wrong arguments (an inverted or
unbounded range, an unknown center, service, counter or staff member, no
database)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m monitoring.report",
                                     description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--period", choices=PERIODS, default=None,
                        help="the period holding --date (default: month), or range")
    parser.add_argument("--date", type=parse_day, metavar="YYYY-MM-DD",
                        help="a day of the period (default: today, Asia/Ho_Chi_Minh)")
    parser.add_argument("--day", type=parse_day, metavar="YYYY-MM-DD",
                        help="one day: the same as --period day --date DAY")
    parser.add_argument("--from", dest="start", type=parse_day, metavar="YYYY-MM-DD",
                        help="first day of --period range")
    parser.add_argument("--to", dest="end", type=parse_day, metavar="YYYY-MM-DD",
                        help="last day of --period range")
    parser.add_argument("--center", action="append", metavar="C",
                        help="a center's code, e.g. 07054 (repeat; default: every center)")
    parser.add_argument("--by", action="append", metavar="DIM", help="group by (repeat)")
    for name, what in (("service", "a service id, e.g. land"), ("counter", "a counter id"),
                       ("staff", "a staff member's username"),
                       ("channel", "kiosk, online, appointment or transfer"),
                       ("priority", "a priority group, or none")):
        parser.add_argument(f"--{name}", metavar=name.upper(), help=f"only {what}")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="also write the rows as CSV to FILE; '-' writes the CSV to "
                        "standard output instead of the table")
    parser.add_argument("--xlsx", type=Path, metavar="FILE", help="also write an Excel workbook")
    parser.add_argument("--database-url", metavar="URL",
                        help="the archive (postgresql://…); default: $QMS_DATABASE_URL, else "
                        "the embedded PostgreSQL running under $QMS_DATA_DIR")
    parser.add_argument("--province-file", type=Path, metavar="FILE",
                        help="province configuration; default: $QMS_PROVINCE_FILE or the "
                        "bundled Quang Ninh file")
    parser.add_argument("--live", action="store_true",
                        help="today's staff day of one --center from Redis instead")
    parser.add_argument("--redis-url", metavar="URL",
                        help="with --live: the Redis the queue server uses; default: "
                        "$QMS_REDIS_URL, else the embedded server under $QMS_DATA_DIR")
    return parser


def _province(path: Path | None) -> Province:
    return load_province(path or os.environ.get("QMS_PROVINCE_FILE"))


def _today() -> dt.date:
    return dt.datetime.now(TIMEZONE).date()


async def _read(url: str, province: Province, args: argparse.Namespace) -> Report:
    if args.day is not None:
        if args.period not in (None, "day") or args.date is not None:
            raise ReportError("--day is one day: give it alone, or --period with --date.")
        period = period_of("day", args.day, today=_today())
    else:
        period = period_of(args.period or "month", args.date, args.start, args.end,
                           today=_today())
    query = build_query(province, period, centers=args.center or [], by=args.by or [],
                        service=args.service, counter=args.counter, staff=args.staff,
                        channel=args.channel, priority=args.priority)
    try:
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=10) as conn:
            return await run_report(conn, province, query)
    except psycopg.OperationalError as error:
        raise ReportError(f"Could not read the archive at {url.rpartition('@')[2]}: "
                          f"{str(error).strip().splitlines()[0]}", exit_code=1) from None


def _title(report: Report, province: Province) -> str:
    centers = report.query.centers
    where = (f"{province.center(centers[0]).display_name} ({centers[0]})" if len(centers) == 1
             else "toàn tỉnh / whole province" if len(centers) == len(province.centers)
             else f"{len(centers)} trung tâm / centers")
    return f"Báo cáo / Report — {where}, {report.query.period.label()}"


def run_archive(args: argparse.Namespace) -> int:
    province = _province(args.province_file)
    try:
        url = resolve_url(args.database_url)
    except QmsError as error:
        raise ReportError(str(error)) from None
    report = asyncio.run(_read(url, province, args))
    title = _title(report, province)
    if args.csv is not None and str(args.csv) == "-":
        sys.stdout.write(report_csv(report))
        return 0
    sys.stdout.write(report_table(title, report))
    if args.csv is not None:
        args.csv.write_text(report_csv(report), encoding="utf-8")
        print(f"\nCSV: {args.csv} ({len(report.rows) + 1} dòng / rows)")
    if args.xlsx is not None:
        args.xlsx.write_bytes(report_xlsx(title, report))
        print(f"XLSX: {args.xlsx}")
    return 0


def run_live(args: argparse.Namespace) -> int:
    province = _province(args.province_file)
    if not args.center or len(args.center) != 1:
        raise ReportError("--live reads one center: give --center C once.")
    try:
        center = province.center(args.center[0])
    except QmsError:
        raise ReportError(f"Unknown center {args.center[0]!r}: the province has "
                          f"{len(province.centers)} centers, e.g. "
                          f"{', '.join(c.id for c in province.centers[:3])} "
                          "(python -m queue_server summary lists them).") from None
    url = (args.redis_url or os.environ.get("QMS_REDIS_URL")
           or running_server_url(Settings.from_env().data_dir / "redis"))
    if not url:
        raise ReportError("No Redis to read: pass --redis-url URL or set QMS_REDIS_URL to the "
                          "Redis the queue server uses (or run it from the folder where "
                          "`python -m queue_server run` keeps its data).")
    day = args.day or args.date or _today()
    try:
        rows = asyncio.run(staff_day.collect(url, center.id, day, province))
    except (QmsError, OSError, TimeoutError) as error:
        raise ReportError(f"Could not read Redis at {url.rpartition('@')[2]}: "
                          f"{type(error).__name__}: {error}", exit_code=1) from None
    except Exception as error:  # redis-py's own errors: one sentence, not a traceback
        if type(error).__module__.startswith("redis"):
            raise ReportError(f"Could not read Redis at {url.rpartition('@')[2]}: "
                              f"{type(error).__name__}: {error}", exit_code=1) from None
        raise
    title = (f"Năng suất cán bộ / Staff productivity — {center.display_name} ({center.id}), "
             f"{day:%d/%m/%Y}")
    if args.csv is not None and str(args.csv) == "-":
        staff_day.write_csv(rows, sys.stdout)
        return 0
    if rows:
        sys.stdout.write(staff_day.table(title, rows))
    else:
        print(f"{title}\n\nKhông có số liệu cán bộ cho ngày này. / No staff activity recorded "
              "on this day (or it is older than the 40 days kept).")
    if args.csv is not None:
        with args.csv.open("w", encoding="utf-8", newline="") as target:
            staff_day.write_csv(rows, target)
        print(f"\nCSV: {args.csv} ({len(rows)} dòng / rows)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_live(args) if args.live else run_archive(args)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except QmsError as error:   # bad input named by the query, or a malformed province file
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
