"""Local days in Asia/Ho_Chi_Minh, computed from epoch milliseconds.

Vietnam keeps UTC+7 all year (no daylight saving), so a fixed offset is exact; the Lua prelude
uses the same arithmetic, and a test compares both with ``zoneinfo``.
"""

from __future__ import annotations

import datetime as dt

UTC_OFFSET_S = 7 * 3600
TIMEZONE = dt.timezone(dt.timedelta(seconds=UTC_OFFSET_S), "Asia/Ho_Chi_Minh")


def local_day(epoch_ms: int) -> str:
    """The local calendar day of an instant, as ``YYYYMMDD``."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, TIMEZONE).strftime("%Y%m%d")


def local_datetime(epoch_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, TIMEZONE)


def epoch_ms(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TIMEZONE)
    return int(moment.timestamp() * 1000)
