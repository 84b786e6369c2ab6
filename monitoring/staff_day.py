"""Staff productivity of one center on one day, from the day's projected totals in Redis.

``python -m monitoring.report --live --center C [--day YYYY-MM-DD]`` shows it. The
projection of the center's event stream keeps per-staff totals in the center's
``day:<YYYYMMDD>`` hash (local day, Asia/Ho_Chi_Minh; kept 40 days; brought up to date
first by this module, an idempotent step any replica may take), which
:func:`queue_server.snapshots.expand_day` names: ``st:<staff>:`` ``served``, ``svc_ms``,
``wait_ms`` (of the tickets they completed), ``noshow``, ``rating_sum``, ``rating_n`` and
``paused_ms``. This module only reads that hash (one HGETALL) and the staff members' display
names. Reports over longer periods come from the archive
(:mod:`queue_server.archive.reports`); time paused is only here.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from queue_server import keys
from queue_server.projector import Projector
from queue_server.province import Province, load_province
from queue_server.redis_client import RedisClient, connect
from queue_server.script_runner import ScriptRunner
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
