"""A center's working calendar: opening hours per weekday, public holidays, make-up working
days, the instant its day closes, appointment slots, and wall-clock time for an estimated wait.

Pure: dates in, dates and epoch milliseconds out (local time is Asia/Ho_Chi_Minh, UTC+7 all
year, :mod:`queue_server.rules.clock`). The Lua scripts never see the calendar: the server
writes each center's upcoming close instants into Redis (``Calendar.close_instants``), and the
scripts only compare the time with the next of them (docs/rules.md, "The center's day").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from queue_server.rules.clock import TIMEZONE, epoch_ms

Interval = tuple[int, int]           # minutes after local midnight: [start, end)
DayHours = tuple[Interval, ...]
MINUTE_MS = 60_000
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class OpeningHours:
    """Per weekday (0 = Monday) the open intervals, in order."""

    intervals: tuple[DayHours, ...]

    def of(self, weekday: int) -> DayHours:
        return self.intervals[weekday]

    def is_open(self, moment: dt.datetime) -> bool:
        minute = moment.hour * 60 + moment.minute
        return any(start <= minute < end for start, end in self.intervals[moment.weekday()])


@dataclass(frozen=True)
class CloseInstant:
    """A moment at which the center's live day ends: ``kind`` is ``close`` (closing time plus
    the grace) or ``midnight`` (the local day is over whatever happened)."""

    day: dt.date
    kind: str
    at_ms: int

    @property
    def member(self) -> str:
        return f"{self.day:%Y%m%d}:{self.kind}"


@dataclass(frozen=True)
class Calendar:
    """The weekly hours, less the holidays, plus the make-up working days (with their hours)."""

    weekly: OpeningHours
    holidays: frozenset[dt.date] = frozenset()
    working_days: Mapping[dt.date, DayHours] = field(default_factory=dict)
    close_grace_s: int = 0

    def hours(self, day: dt.date) -> DayHours:
        """The day's open intervals; () when the center is closed all day."""
        if day in self.working_days:
            return self.working_days[day]
        if day in self.holidays:
            return ()
        return self.weekly.of(day.weekday())

    def is_working_day(self, day: dt.date) -> bool:
        return bool(self.hours(day))

    def is_open(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(TIMEZONE)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.hours(local.date()))

    def closing_ms(self, day: dt.date) -> int | None:
        """When the day's last interval ends (before the grace); None on a day off."""
        hours = self.hours(day)
        if not hours:
            return None
        return _at(day, hours[-1][1])

    def close_instants(self, first: dt.date, days: int) -> list[CloseInstant]:
        """The instants at which a center's live day ends, from ``first`` for ``days`` days:
        each working day's closing time plus the grace (never past its midnight), and every
        local midnight, so that whatever happens after hours still ends with its day."""
        out = []
        for day in _days(first, days):
            midnight = _at(day + dt.timedelta(days=1), 0)
            closing = self.closing_ms(day)
            if closing is not None and closing + self.close_grace_s * 1000 < midnight:
                out.append(CloseInstant(day, "close", closing + self.close_grace_s * 1000))
            out.append(CloseInstant(day, "midnight", midnight))
        return out

    def next_working_day(self, after: dt.date, horizon_days: int = 60) -> dt.date | None:
        for day in _days(after + dt.timedelta(days=1), horizon_days):
            if self.is_working_day(day):
                return day
        return None

    def wall_after(self, start_ms: int, working_s: float) -> int | None:
        """The instant ``working_s`` seconds of opening time after ``start_ms`` (breaks, nights
        and days off skipped); None if that is past the day's closing time."""
        local = dt.datetime.fromtimestamp(start_ms / 1000, TIMEZONE)
        remaining_ms = working_s * 1000
        for start, end in self.hours(local.date()):
            begin = max(_at(local.date(), start), start_ms)
            finish = _at(local.date(), end)
            if begin >= finish:
                continue
            if begin + remaining_ms <= finish:
                return int(begin + remaining_ms)
            remaining_ms -= finish - begin
        return None


def slot_starts(hours: DayHours, length_min: int) -> list[int]:
    """Appointment slots of ``length_min`` minutes inside the open intervals, as minutes after
    midnight: a slot never straddles a break or the closing time."""
    if length_min <= 0:
        raise ValueError(f"a slot lasts at least one minute, got {length_min}")
    starts = []
    for start, end in hours:
        minute = start
        while minute + length_min <= end:
            starts.append(minute)
            minute += length_min
    return starts


def local_midnight_ms(day: dt.date) -> int:
    return _at(day, 0)


def _at(day: dt.date, minute: int) -> int:
    return epoch_ms(dt.datetime(day.year, day.month, day.day, tzinfo=TIMEZONE)
                    + dt.timedelta(minutes=minute))


def _days(first: dt.date, days: int) -> Iterator[dt.date]:
    for offset in range(days):
        yield first + dt.timedelta(days=offset)
