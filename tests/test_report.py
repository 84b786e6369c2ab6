"""``python -m monitoring.report``: reports from the archive (table, CSV, XLSX) and, with
``--live``, the staff day from the scripts' totals in Redis.

Pure parts table-style; then the real command line (a child process): against the archive
holding a known set of tickets (tests/test_archive_reports.py), and against a Redis the
engine wrote a known day into; each one-sentence error with its exit code.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from monitoring.staff_day import (
    CSV_COLUMNS,
    HEADERS,
    StaffDay,
    center_total,
    duration,
    staff_days,
    table,
)
from queue_server.accounts import AccountStore
from queue_server.auth import Role
from queue_server.engine import Engine
from queue_server.rules.clock import local_datetime
from tests.conftest import pin_morning, shift_clock
from tests.test_archive_reports import known, province  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
C = "07054"


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "–"), (0, "0:00"), (59.6, "1:00"), (61, "1:01"), (3600, "1:00:00"),
    (3725, "1:02:05"),
])
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_staff_days_from_a_day_hash() -> None:
    day = {"called": "9", "served": "7", "st:lan:served": "4", "st:lan:svc_ms": "1200000",
           "st:lan:wait_ms": "2400000", "st:lan:noshow": "1", "st:lan:rating_sum": "9",
           "st:lan:rating_n": "2", "st:lan:paused_ms": "600000", "st:hung.le:served": "5",
           "st:hung.le:svc_ms": "500000", "st:hung.le:wait_ms": "0", "st:x:paused_ms": "1000",
           "svc_ms:land": "3", "st::served": "1"}
    rows = staff_days(day, {"lan": "Nguyễn Thị Lan"})
    assert [r.staff for r in rows] == ["hung.le", "lan", "x"]   # most served first
    lan = rows[1]
    assert (lan.name, lan.served, lan.mean_service_s, lan.mean_wait_s) == (
        "Nguyễn Thị Lan", 4, 300.0, 600.0)
    assert lan.no_show_rate == pytest.approx(1 / 5)
    assert lan.mean_rating == 4.5
    assert lan.csv_row()["paused_s"] == "600"
    idle = rows[2]
    assert idle.mean_wait_s is idle.mean_rating is idle.no_show_rate is None
    assert idle.csv_row()["mean_wait_s"] == ""
    whole = center_total(rows)
    assert (whole.served, whole.no_shows, whole.ratings) == (9, 1, 2)


def test_table_is_aligned_with_vietnamese_headers() -> None:
    rows = [StaffDay("lan", "Nguyễn Thị Lan", 12, 12 * 300_000, 12 * 400_000, 1, 40, 9,
                     900_000)]
    text = table("Năng suất", rows)
    lines = text.splitlines()
    assert lines[2].startswith("Cán bộ") and lines[3].startswith("Staff")
    assert all(vi in lines[2] and en in lines[3] for vi, en in HEADERS)
    assert "Nguyễn Thị Lan (lan)" in text
    assert "5:00" in text and "6:40" in text and "4,44 (9)" in text and "7,7 %" in text
    assert lines[-1].startswith("Cả trung tâm / Whole center")
    # Right-aligned columns end at the same place on every line (combining marks take none).
    assert len({len(line) for line in lines[2:] if not line.startswith("-")}) == 1


# ---------------------------------------------------------------------- the command line


def report(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitoring.report", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, **(env or {})})


async def drive_day(engine: Engine) -> dt.date:
    client = engine.runner.client
    store = AccountStore(engine.runner)
    morning = await pin_morning(client, C)
    await store.create_staff("lan.nguyen", "matkhau123", "Nguyễn Thị Lan", Role.STAFF, C)
    await engine.open_counter(C, "1", "lan.nguyen")
    await engine.open_counter(C, "2", "hung")
    first = await engine.issue(C, "certification")
    await engine.issue(C, "results")
    await engine.issue(C, "land")
    await shift_clock(client, C, morning + 120_000)                  # waited 2 minutes
    await engine.call_next(C, "1", "lan.nguyen")
    await engine.start(C, "1", "lan.nguyen")
    await shift_clock(client, C, morning + 420_000)                  # served 5 minutes
    await engine.complete(C, "1", "lan.nguyen")
    await engine.rate(first.id, 4)
    await engine.call_next(C, "1", "lan.nguyen")
    await engine.no_show(C, "1", "lan.nguyen")
    await engine.pause(C, "2", "break", "hung")
    await shift_clock(client, C, morning + 480_000)                  # a one-minute break
    await engine.resume(C, "2", "hung")
    await engine.call_next(C, "2", "hung")
    await engine.start(C, "2", "hung")
    await engine.complete(C, "2", "hung")
    now = (await engine.snapshot(C))["now"]
    return local_datetime(now).date()


async def test_report_of_a_known_day(engine: Engine, redis_url: str, tmp_path: Path) -> None:
    day = await drive_day(engine)
    target = tmp_path / "staff.csv"
    done = await asyncio.to_thread(report, "--live", "--center", C, "--day", day.isoformat(),
                                   "--redis-url", redis_url, "--csv", str(target))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Xã Quảng La (07054)" in out
    assert f"{day:%d/%m/%Y}" in out
    assert "Nguyễn Thị Lan (lan.nguyen)" in out
    lan_line = next(line for line in out.splitlines() if "lan.nguyen" in line)
    assert "2:00" in lan_line and "5:00" in lan_line and "50,0 %" in lan_line
    assert "4,00 (1)" in lan_line
    hung_line = next(line for line in out.splitlines() if line.startswith("hung"))
    assert "1:00" in hung_line                          # the break
    rows = list(csv.DictReader(target.read_text(encoding="utf-8").splitlines()))
    assert tuple(rows[0]) == CSV_COLUMNS
    lan = next(r for r in rows if r["staff"] == "lan.nguyen")
    assert lan["name"] == "Nguyễn Thị Lan"
    assert (lan["served"], lan["no_shows"], lan["no_show_rate"], lan["ratings"]) == (
        "1", "1", "0.5000", "1")
    assert 120 <= float(lan["mean_wait_s"]) < 121
    assert 300 <= float(lan["mean_service_s"]) < 301
    assert lan["mean_rating"] == "4.00" and lan["paused_s"] == "0"
    hung = next(r for r in rows if r["staff"] == "hung")
    assert hung["name"] == "hung" and hung["served"] == "1" and hung["paused_s"] == "60"
    assert hung["mean_rating"] == ""

    to_stdout = await asyncio.to_thread(report, "--live", "--center", C, "--day",
                                        day.isoformat(), "--redis-url", redis_url, "--csv", "-")
    assert to_stdout.returncode == 0
    assert to_stdout.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert len(to_stdout.stdout.splitlines()) == 3


async def test_report_of_a_quiet_day(engine: Engine, redis_url: str) -> None:
    done = await asyncio.to_thread(report, "--live", "--center", C, "--day", "2024-01-02",
                                   env={"QMS_REDIS_URL": redis_url})
    assert done.returncode == 0, done.stderr
    assert "No staff activity recorded" in done.stdout
    assert "02/01/2024" in done.stdout


@pytest.mark.parametrize(("args", "env", "code", "sentence"), [
    (["--live", "--center", "99999", "--redis-url", "redis://127.0.0.1:9/0"], {}, 2,
     "Unknown center '99999'"),
    (["--center", C, "--day", "2025-02-30", "--redis-url", "redis://127.0.0.1:9/0"], {}, 2,
     "expected a day as YYYY-MM-DD, got '2025-02-30'"),
    (["--live", "--center", C], {"QMS_REDIS_URL": ""}, 2, "No Redis to read"),
    (["--live", "--center", C, "--redis-url", "redis://127.0.0.1:9/0"], {}, 1,
     "Could not read Redis at redis://127.0.0.1:9/0"),
    (["--live", "--day", "2025-01-01"], {}, 2, "--live reads one center"),
    (["--period", "range", "--from", "2026-03-10", "--to", "2026-03-01", "--database-url",
      "postgresql://x@127.0.0.1:9/x"], {}, 2, "the range is inverted"),
    (["--period", "range", "--from", "2026-03-10", "--database-url",
      "postgresql://x@127.0.0.1:9/x"], {}, 2, "'to' is missing"),
    (["--center", "99999", "--database-url", "postgresql://x@127.0.0.1:9/x"], {}, 2,
     "unknown center '99999'"),
    (["--service", "passports", "--database-url", "postgresql://x@127.0.0.1:9/x"], {}, 2,
     "unknown service 'passports'"),
    (["--period", "year"], {"QMS_DATABASE_URL": "", "QMS_DATA_DIR": "/nonexistent"}, 2,
     "No archive database"),
    (["--database-url", "postgresql://x:y@127.0.0.1:9/x"], {}, 1,
     "Could not read the archive at 127.0.0.1:9/x"),
])
def test_errors_are_one_sentence(args: list[str], env: dict[str, str], code: int,
                                 sentence: str) -> None:
    done = report(*args, env=env)
    assert done.returncode == code, done.stderr
    assert sentence in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].count(". ") <= 1


def test_help_is_honest() -> None:
    done = report("--help")
    assert done.returncode == 0
    for words in ("--center", "--day", "--period", "--from", "--to", "--by", "--csv", "--xlsx",
                  "--database-url", "QMS_DATABASE_URL", "--live", "--redis-url",
                  "QMS_REDIS_URL", "Exit codes", "Báo cáo theo kỳ", "row=total"):
        assert words in done.stdout


# ---------------------------------------------------------------------- from the archive


@pytest.mark.usefixtures("known")
def test_a_report_from_the_archive(archive_url: str, tmp_path: Path) -> None:
    """The known tickets of tests/test_archive_reports.py, March 2026 by center (the command
    reads the bundled province: every wait target is 30 minutes)."""
    sheet = tmp_path / "march.xlsx"
    done = report("--period", "month", "--date", "2026-03-15", "--by", "center",
                  "--database-url", archive_url, "--xlsx", str(sheet))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Báo cáo / Report — toàn tỉnh / whole province, 01/03/2026 – 31/03/2026"
    assert lines[2].startswith("Mã TT") and lines[3].startswith("Center")
    quang_la = next(line for line in lines if line.startswith("07054"))
    assert "Xã Quảng La" in quang_la and " 6 " in quang_la and "100,0 %" in quang_la
    assert "516,0" in quang_la and "1202,5" in quang_la               # mean and P90 wait
    total = next(line for line in lines if line.startswith("Tổng / Total"))
    assert "83,3 %" in total and lines[-1] == f"XLSX: {sheet}"
    book = load_workbook(sheet)
    ws = book.active
    assert ws is not None and ws["A4"].value == "07054"
    to_stdout = report("--day", "2026-03-03", "--center", "07054", "--by", "staff",
                       "--database-url", archive_url, "--csv", "-")
    assert to_stdout.returncode == 0, to_stdout.stderr
    rows = list(csv.DictReader(to_stdout.stdout.splitlines()))
    assert {(r["row"], r["staff"], r["tickets"]) for r in rows} == {
        ("group", "hung", "2"), ("group", "lan", "1"), ("total", "", "3")}
    unknown = report("--staff", "nobody", "--center", "07054", "--database-url", archive_url)
    assert unknown.returncode == 2 and "unknown staff member 'nobody'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
