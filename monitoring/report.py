"""Staff productivity of one center on one day, from the day's projected totals in Redis.

``python -m monitoring.report --center C [--day YYYY-MM-DD] [--csv FILE] [--redis-url URL]``

The projection of the center's event stream keeps per-staff totals in the center's
``day:<YYYYMMDD>`` hash (local day, Asia/Ho_Chi_Minh; kept 40 days; queue_server/projections.py;
this command brings it up to date first), which
:func:`queue_server.snapshots.expand_day` names: ``st:<staff>:`` ``served``, ``svc_ms``,
``wait_ms`` (of the tickets they completed), ``noshow``, ``rating_sum``, ``rating_n`` and
``paused_ms``. Besides bringing the projection up to date (an idempotent step any replica
may take), this module only reads that hash (one HGETALL) and the staff members' display
names.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from queue_server import keys
from queue_server.embedded import running_server_url
from queue_server.errors import QmsError
from queue_server.projector import Projector
from queue_server.province import Province, load_province
from queue_server.redis_client import RedisClient, connect
from queue_server.rules.clock import TIMEZONE
from queue_server.script_runner import ScriptRunner
from queue_server.settings import Settings
from queue_server.snapshots import expand_day

STAFF_PREFIX = "st:"
CSV_COLUMNS = ("staff", "name", "served", "mean_wait_s", "mean_service_s", "no_shows",
               "no_show_rate", "mean_rating", "ratings", "paused_s")
# Two header lines: Vietnamese first, English under it.
HEADERS = (("Cán bộ", "Staff"), ("Đã phục vụ", "Served"), ("Chờ TB", "Mean wait"),
           ("Phục vụ TB", "Mean service"), ("Vắng mặt", "No-shows"),
           ("Tỷ lệ vắng", "No-show rate"), ("Đánh giá TB", "Mean rating"),
           ("Tạm dừng", "Paused"))
READ_TIMEOUT_S = 10.0


class ReportError(Exception):
    """One sentence for the person at the terminal, and the exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class StaffDay:
    """One staff member's day; means are None when there is nothing to average."""

    staff: str
    name: str
    served: int
    wait_ms: int
    service_ms: int
    no_shows: int
    rating_sum: int
    ratings: int
    paused_ms: int

    @property
    def mean_wait_s(self) -> float | None:
        return self.wait_ms / self.served / 1000 if self.served else None

    @property
    def mean_service_s(self) -> float | None:
        return self.service_ms / self.served / 1000 if self.served else None

    @property
    def no_show_rate(self) -> float | None:
        """No-shows among the tickets this person ended (completed or no-show)."""
        ended = self.served + self.no_shows
        return self.no_shows / ended if ended else None

    @property
    def mean_rating(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None

    def csv_row(self) -> dict[str, Any]:
        def fixed(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        return {"staff": self.staff, "name": self.name, "served": self.served,
                "mean_wait_s": fixed(self.mean_wait_s, 1),
                "mean_service_s": fixed(self.mean_service_s, 1), "no_shows": self.no_shows,
                "no_show_rate": fixed(self.no_show_rate, 4),
                "mean_rating": fixed(self.mean_rating, 2), "ratings": self.ratings,
                "paused_s": f"{self.paused_ms / 1000:.0f}"}


def staff_days(day_hash: Mapping[str, str], names: Mapping[str, str]) -> list[StaffDay]:
    """Per-staff rows from the day hash (pure); most served first, then by staff id."""
    totals: dict[str, dict[str, int]] = {}
    for field, raw in day_hash.items():
        if not field.startswith(STAFF_PREFIX):
            continue
        staff, _, what = field[len(STAFF_PREFIX):].rpartition(":")
        if staff:
            totals.setdefault(staff, {})[what] = int(raw)
    rows = [StaffDay(staff=staff, name=names.get(staff) or staff, served=t.get("served", 0),
                     wait_ms=t.get("wait_ms", 0), service_ms=t.get("svc_ms", 0),
                     no_shows=t.get("noshow", 0), rating_sum=t.get("rating_sum", 0),
                     ratings=t.get("rating_n", 0), paused_ms=t.get("paused_ms", 0))
            for staff, t in totals.items()]
    return sorted(rows, key=lambda row: (-row.served, row.staff))


def center_total(rows: Sequence[StaffDay]) -> StaffDay:
    """The whole center as one row, summed from the staff rows."""
    return StaffDay("", "Cả trung tâm / Whole center", *(
        sum(getattr(row, name) for row in rows)
        for name in ("served", "wait_ms", "service_ms", "no_shows", "rating_sum", "ratings",
                     "paused_ms")))


# ---------------------------------------------------------------------- formatting


def duration(seconds: float | None) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour; ``–`` when there is nothing to show."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _decimal(value: float | None, digits: int, suffix: str = "") -> str:
    # Vietnamese writes a decimal comma.
    return "–" if value is None else f"{value:.{digits}f}".replace(".", ",") + suffix


def _cells(row: StaffDay) -> list[str]:
    who = f"{row.name} ({row.staff})" if row.staff and row.name != row.staff else row.name
    return [who, str(row.served), duration(row.mean_wait_s), duration(row.mean_service_s),
            str(row.no_shows), _decimal(None if row.no_show_rate is None
                                        else row.no_show_rate * 100, 1, " %"),
            _decimal(row.mean_rating, 2) + (f" ({row.ratings})" if row.ratings else ""),
            duration(row.paused_ms / 1000)]


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: combining marks take none."""
    return sum(1 for ch in unicodedata.normalize("NFC", text) if not unicodedata.combining(ch))


def table(title: str, rows: Sequence[StaffDay]) -> str:
    """The report as an aligned text table, with the whole center as the last line."""
    body = [_cells(row) for row in rows]
    total = _cells(center_total(rows))
    heads = [[vi for vi, _ in HEADERS], [en for _, en in HEADERS]]
    grid = [*heads, *body, total]
    widths = [max(_width(line[i]) for line in grid) for i in range(len(HEADERS))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell))
            out.append(cell + pad if i == 0 else pad + cell)
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, "", *(line(h) for h in heads), rule, *(line(c) for c in body),
                      rule, line(total)]) + "\n"


def write_csv(rows: Sequence[StaffDay], target: TextIO) -> None:
    writer = csv.DictWriter(target, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.csv_row())


# ---------------------------------------------------------------------- reading


async def read_day(client: RedisClient, center: str, day: dt.date) -> dict[str, str]:
    """The day's totals by their plain names (queue_server/snapshots.py decodes the hash)."""
    raw = await client.hgetall(keys.center_key(center, "day", day.strftime("%Y%m%d")))
    totals = expand_day([item for pair in raw.items() for item in pair])
    return {name: str(value) for name, value in totals.items()}


async def read_names(client: RedisClient, staff: Sequence[str]) -> dict[str, str]:
    names = await asyncio.gather(*(client.hget(keys.staff_key(s), "name") for s in staff))
    return {s: n.decode() for s, n in zip(staff, names, strict=True) if n}


async def collect(url: str, center: str, day: dt.date,
                  province: Province | None = None) -> list[StaffDay]:
    client = connect(url)
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            # The day's totals are a projection of the events: bring it up to date first.
            runner = ScriptRunner(client, batch=False)
            await runner.load()
            chosen = province or load_province()
            await Projector(runner, chosen).catch_up([chosen.center(center)])
            day_hash = await read_day(client, center, day)
            staff = sorted({f[len(STAFF_PREFIX):].rpartition(":")[0] for f in day_hash
                            if f.startswith(STAFF_PREFIX)} - {""})
            return staff_days(day_hash, await read_names(client, staff))
    finally:
        await client.aclose()


# ---------------------------------------------------------------------- command line


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a day as YYYY-MM-DD, got {text!r}") from None


DESCRIPTION = """\
Báo cáo năng suất cán bộ / Staff productivity report.

For one center and one local day (Asia/Ho_Chi_Minh), per staff member:
tickets served, mean wait of the citizens they served, mean service time,
no-shows and no-show rate (no-shows among the tickets they completed or
marked no-show), mean rating (1-5, with the number of ratings) and time
paused. Read from the day totals the queue server keeps in Redis (40 days);
nothing is written."""

EPILOG = f"""\
A pause is counted on the day it ends, once it ends: a pause still running
is not in the report yet.

CSV columns (UTF-8, one row per staff member, no total row):
  {", ".join(CSV_COLUMNS[:5])},
  {", ".join(CSV_COLUMNS[5:])}
Times in seconds, no_show_rate from 0 to 1; empty when there is nothing to
average.

Exit codes: 0 report written (also for a day without activity);
1 Redis could not be read; 2 wrong arguments (unknown center, malformed
day, no Redis URL)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m monitoring.report",
                                     description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--center", required=True, metavar="C",
                        help="the center's code, e.g. 07054 (python -m queue_server summary)")
    parser.add_argument("--day", type=parse_day, metavar="YYYY-MM-DD",
                        help="the local day (Asia/Ho_Chi_Minh); default: today")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="also write the rows as CSV (UTF-8) to FILE; '-' writes the CSV to "
                        "standard output instead of the table")
    parser.add_argument("--redis-url", metavar="URL",
                        help="the Redis the queue server uses (redis://, redis+sentinel://, "
                        "redis+cluster://); default: $QMS_REDIS_URL, else the embedded "
                        "server running under $QMS_DATA_DIR")
    parser.add_argument("--province-file", type=Path, metavar="FILE",
                        help="province configuration; default: $QMS_PROVINCE_FILE or the "
                        "bundled Quang Ninh file")
    return parser


def _province(path: Path | None) -> Province:
    chosen = path or os.environ.get("QMS_PROVINCE_FILE")
    return load_province(chosen)


def run(args: argparse.Namespace) -> int:
    province = _province(args.province_file)
    try:
        center = province.center(args.center)
    except QmsError:
        raise ReportError(f"Unknown center {args.center!r}: the province has "
                          f"{len(province.centers)} centers, e.g. "
                          f"{', '.join(c.id for c in province.centers[:3])} "
                          "(python -m queue_server summary lists them).") from None
    # Else the embedded server that `python -m queue_server run` keeps under QMS_DATA_DIR.
    url = (args.redis_url or os.environ.get("QMS_REDIS_URL")
           or running_server_url(Settings.from_env().data_dir / "redis"))
    if not url:
        raise ReportError("No Redis to read: pass --redis-url URL or set QMS_REDIS_URL to the "
                          "Redis the queue server uses (or run it from the folder where "
                          "`python -m queue_server run` keeps its data).")
    day = args.day or dt.datetime.now(TIMEZONE).date()
    try:
        rows = asyncio.run(collect(url, center.id, day, province))
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
        write_csv(rows, sys.stdout)
        return 0
    if rows:
        sys.stdout.write(table(title, rows))
    else:
        print(f"{title}\n\nKhông có số liệu cán bộ cho ngày này. / No staff activity recorded "
              "on this day (or it is older than the 40 days kept).")
    if args.csv is not None:
        with args.csv.open("w", encoding="utf-8", newline="") as target:
            write_csv(rows, target)
        print(f"\nCSV: {args.csv} ({len(rows)} dòng / rows)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except QmsError as error:   # a malformed province file, named by the loader
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
