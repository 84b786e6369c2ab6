"""When a center is open on a given date: the one place the planning code asks.

The answer is the center's calendar (queue_server/rules/calendar.py: the weekly ``[hours]``,
or the center's own, less the public holidays, plus the make-up working days), as the server
uses it. Everything else in ``simulations`` (the day, the staffing advisor, the live driver)
calls it and never reads the hours itself.
"""

from __future__ import annotations

import datetime as dt

from queue_server.province import Center, Province
from queue_server.rules.clock import TIMEZONE, epoch_ms

Interval = tuple[int, int]  # minutes after local midnight, start inclusive, end exclusive


def opening_intervals(province: Province, center: Center, date: dt.date) -> tuple[Interval, ...]:
    """The center's open intervals on ``date`` (local time), in order; empty when it is closed
    (a day off, a holiday)."""
    del province  # the center carries its calendar (the province's, or its own hours)
    return tuple(center.calendar.hours(date))


def is_working_day(province: Province, center: Center, date: dt.date) -> bool:
    return bool(opening_intervals(province, center, date))


def local_midnight_ms(date: dt.date) -> int:
    """Epoch milliseconds of local midnight (Asia/Ho_Chi_Minh) starting ``date``."""
    return epoch_ms(dt.datetime(date.year, date.month, date.day, tzinfo=TIMEZONE))


def next_working_day(province: Province, center: Center, start: dt.date,
                     search_days: int = 31) -> dt.date | None:
    """The first date from ``start`` on which the center opens, within ``search_days``."""
    for offset in range(search_days):
        date = start + dt.timedelta(days=offset)
        if is_working_day(province, center, date):
            return date
    return None


def open_minutes(intervals: tuple[Interval, ...]) -> int:
    return sum(end - start for start, end in intervals)


def clock_hours(intervals: tuple[Interval, ...]) -> list[int]:
    """The local clock hours (7 for 07:00-08:00) that contain some opening minute."""
    hours: set[int] = set()
    for start, end in intervals:
        hours.update(range(start // 60, (end - 1) // 60 + 1))
    return sorted(hours)
