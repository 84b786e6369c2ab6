"""The working calendar and appointment slots (rules/calendar.py, rules/booking.py): pure,
table-style; and the calendar read from the province file, with its bad input."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from queue_server.errors import ConfigError, InvalidInput
from queue_server.province import DEFAULT_PROVINCE_FILE, Province, load_province
from queue_server.rules.booking import check_slot, day_slots, next_free
from queue_server.rules.calendar import Calendar, OpeningHours, slot_starts
from queue_server.rules.clock import TIMEZONE, epoch_ms
from queue_server.rules.eta import expected_call

WEEKLY = OpeningHours(tuple([((450, 690), (810, 1020))] * 5 + [((450, 690),), ()]))
HOLIDAY = dt.date(2026, 4, 30)       # a Thursday
MAKE_UP = dt.date(2026, 5, 3)        # a Sunday worked
CAL = Calendar(WEEKLY, frozenset({HOLIDAY}), {MAKE_UP: ((450, 690),)}, close_grace_s=1800)


def at(day: dt.date, hhmm: str) -> int:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return epoch_ms(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TIMEZONE))


@pytest.mark.parametrize(("day", "hours"), [
    (dt.date(2026, 4, 29), ((450, 690), (810, 1020))),   # Wednesday
    (HOLIDAY, ()),
    (dt.date(2026, 5, 2), ((450, 690),)),                 # Saturday morning
    (MAKE_UP, ((450, 690),)),
    (dt.date(2026, 5, 10), ()),                           # an ordinary Sunday
])
def test_hours_of_a_day(day: dt.date, hours: tuple[tuple[int, int], ...]) -> None:
    assert CAL.hours(day) == hours
    assert CAL.is_working_day(day) == bool(hours)


def test_close_instants_are_closing_plus_grace_and_every_midnight() -> None:
    instants = CAL.close_instants(dt.date(2026, 4, 29), 3)
    assert [(i.day.isoformat(), i.kind, i.at_ms) for i in instants] == [
        ("2026-04-29", "close", at(dt.date(2026, 4, 29), "17:30")),
        ("2026-04-29", "midnight", at(dt.date(2026, 4, 30), "00:00")),
        ("2026-04-30", "midnight", at(dt.date(2026, 5, 1), "00:00")),    # holiday: no close
        ("2026-05-01", "close", at(dt.date(2026, 5, 1), "17:30")),
        ("2026-05-01", "midnight", at(dt.date(2026, 5, 2), "00:00")),
    ]
    late = Calendar(OpeningHours(tuple([((450, 1430),)] * 7)), close_grace_s=3600)
    assert [i.kind for i in late.close_instants(dt.date(2026, 5, 1), 1)] == ["midnight"]


def test_is_open_follows_breaks_and_days_off() -> None:
    wednesday = dt.date(2026, 4, 29)
    for hhmm, open_ in (("07:29", False), ("07:30", True), ("11:29", True), ("11:30", False),
                        ("13:30", True), ("16:59", True), ("17:00", False)):
        moment = dt.datetime.fromtimestamp(at(wednesday, hhmm) / 1000, TIMEZONE)
        assert CAL.is_open(moment) is open_, hhmm
    assert not CAL.is_open(dt.datetime(2026, 4, 30, 9, 0, tzinfo=TIMEZONE))


@pytest.mark.parametrize(("start", "wait_s", "expected"), [
    ("08:00", 600, "08:10"),
    ("11:20", 1200, "13:40"),           # ten minutes before lunch, ten after
    ("06:00", 600, "07:40"),            # before opening: from the opening
    ("16:50", 600, "17:00"),            # at the closing minute still
    ("16:55", 600, None),               # past closing
    ("18:00", 60, None),
])
def test_expected_call_counts_opening_time(start: str, wait_s: int, expected: str | None
                                           ) -> None:
    wednesday = dt.date(2026, 4, 29)
    when, after = expected_call(CAL, at(wednesday, start), wait_s)
    assert when == (at(wednesday, expected) if expected else None)
    assert after is (expected is None)
    assert expected_call(CAL, at(wednesday, start), None) == (None, False)


def test_slots_never_straddle_a_break() -> None:
    assert slot_starts(((450, 690), (810, 1020)), 100) == [450, 550, 810, 910]
    assert slot_starts((), 15) == []
    with pytest.raises(ValueError):
        slot_starts(((450, 690),), 0)


def test_day_slots_count_their_room() -> None:
    wednesday = dt.date(2026, 4, 29)
    slots = day_slots(CAL, wednesday, 60, 2, {at(wednesday, "08:30"): 2,
                                               at(wednesday, "09:30"): 1})
    assert [s.free for s in slots[:3]] == [2, 0, 1]
    assert len(slots) == 4 + 3       # 07:30-11:30 and 13:30-17:00 in hours
    first = next_free([slots], at(wednesday, "08:00"), limit=2)
    assert [s.start_ms for s in first] == [at(wednesday, "09:30"), at(wednesday, "10:30")]


@pytest.mark.parametrize(("moment", "reason"), [
    (dt.datetime(2026, 4, 28, 9, 0, tzinfo=TIMEZONE), "slot_past"),
    (dt.datetime(2026, 6, 29, 9, 0, tzinfo=TIMEZONE), "slot_beyond_horizon"),
    (dt.datetime(2026, 4, 30, 9, 0, tzinfo=TIMEZONE), "slot_day_off"),
    (dt.datetime(2026, 4, 29, 9, 5, tzinfo=TIMEZONE), "slot_not_offered"),
    (dt.datetime(2026, 4, 29, 12, 0, tzinfo=TIMEZONE), "slot_not_offered"),
])
def test_a_slot_that_is_not_offered_is_refused(moment: dt.datetime, reason: str) -> None:
    now = dt.datetime(2026, 4, 28, 10, 0, tzinfo=TIMEZONE)
    with pytest.raises(InvalidInput) as refused:
        check_slot(CAL, moment, 15, now, 30)
    assert refused.value.reason == reason


def test_a_slot_as_offered_is_its_start_and_end() -> None:
    now = dt.datetime(2026, 4, 28, 10, 0, tzinfo=TIMEZONE)
    start = dt.datetime(2026, 5, 3, 9, 0, tzinfo=TIMEZONE)           # the make-up Sunday
    assert check_slot(CAL, start, 15, now, 30) == (epoch_ms(start), epoch_ms(start) + 900_000)
    naive = dt.datetime(2026, 4, 29, 7, 30)                           # local time implied
    assert check_slot(CAL, naive, 15, now, 30)[0] == at(dt.date(2026, 4, 29), "07:30")


def test_the_default_file_carries_the_holidays(province: Province) -> None:
    cal = province.calendar
    for holiday in ("2026-01-01", "2026-02-17", "2026-04-30", "2026-09-02", "2027-01-01",
                    "2027-09-02"):
        assert not cal.is_working_day(dt.date.fromisoformat(holiday)), holiday
    assert cal.is_working_day(dt.date(2026, 12, 2))
    assert cal.close_grace_s == 1800
    assert all(c.calendar == cal for c in province.centers)
    land = province.service("land")
    assert land.slot_minutes == 20 and land.slot_capacity is None


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "province"
    folder.mkdir()
    text = DEFAULT_PROVINCE_FILE.read_text(encoding="utf-8")
    assert old in text
    (folder / "province.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    shutil.copy(DEFAULT_PROVINCE_FILE.parent / "quangninh_units.csv", folder)
    return folder / "province.toml"


@pytest.mark.parametrize(("old", "new", "message"), [
    ('"2026-01-01",', '"2026-13-01",', "calendar.holidays[0]': expected a date 'YYYY-MM-DD'"),
    ("working_days = []", 'working_days = ["2026-01-01"]',
     "calendar.working_days': expected no date that is also a holiday"),
    ("close_grace_minutes = 30", "close_grace_minutes = -5",
     "calendar.close_grace_minutes': expected a whole number ≥ 0"),
    ('mon = ["07:30-11:30", "13:30-17:00"]', 'mon = ["13:30-17:00", "07:30-11:30"]',
     "hours.mon[1]': expected intervals in order, not overlapping"),
])
def test_a_bad_calendar_names_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_province(_edited(tmp_path, old, new))


def test_a_center_may_have_hours_of_its_own(tmp_path: Path) -> None:
    source = _edited(tmp_path, "[counters]", '''[[center_override]]
code = "07054"
hours = {mon = ["08:00-12:00"], tue = [], wed = [], thu = [], fri = [], sat = [], sun = []}

[counters]''')
    province = load_province(source)
    own = province.center("07054").calendar
    assert own.hours(dt.date(2026, 5, 4)) == ((480, 720),)   # a Monday
    assert own.hours(dt.date(2026, 4, 27)) == ()              # a holiday still
    assert own.holidays == province.calendar.holidays
    assert province.center("06862").calendar == province.calendar
