"""The province configuration: the default loads, and every malformed file is named precisely.

Each bad case copies ``queue_server/data/province.toml`` and its CSV into ``tmp_path``, edits
one thing, and requires a ``ConfigError`` whose text names the file, the key path or CSV line,
and what was expected.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter as Tally
from collections.abc import Callable
from pathlib import Path

import pytest

from queue_server.errors import ConfigError
from queue_server.province import DEFAULT_PROVINCE_FILE, Province, load_province

DATA = DEFAULT_PROVINCE_FILE.parent
CSV_NAME = "quangninh_units.csv"
Edit = Callable[[str], str]


def replace(old: str, new: str, count: int = 1) -> Edit:
    """An edit that must find ``old`` (so a changed default file fails loudly, not silently)."""

    def edit(text: str) -> str:
        assert old in text, f"{old!r} is no longer in the default file"
        return text.replace(old, new, count)

    return edit


def append(extra: str) -> Edit:
    return lambda text: text + extra


def build(folder: Path, toml: Edit | None = None, csv: Edit | None = None) -> Path:
    """A copy of the default province in ``folder``, with the edits applied; its TOML path."""
    toml_text = (DATA / "province.toml").read_text(encoding="utf-8")
    csv_text = (DATA / CSV_NAME).read_text(encoding="utf-8")
    (folder / "province.toml").write_text(toml(toml_text) if toml else toml_text, "utf-8")
    (folder / CSV_NAME).write_text(csv(csv_text) if csv else csv_text, "utf-8")
    return folder / "province.toml"


def refused(path: Path, *fragments: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_province(path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return info.value


# ---------------------------------------------------------------------------- the default


def test_default_province(province: Province) -> None:
    assert province.id == "quangninh"
    assert len(province.centers) == 54
    assert Tally(c.type for c in province.centers) == {"ward": 30, "commune": 22,
                                                       "special_zone": 2}
    codes = [c.id for c in province.centers]
    assert len(set(codes)) == len(codes)
    assert len({s.prefix for s in province.services}) == len(province.services)
    service_ids = set(province.service_ids)
    for center in province.centers:
        assert center.counters, center.id
        assert [c.id for c in center.counters] == [str(i + 1) for i in
                                                   range(len(center.counters))]
        for counter in center.counters:
            assert set(counter.services) <= service_ids, (center.id, counter.id)
        assert center.voice == "north"
        assert center.wait_target_s == province.policy.wait_target_s == 30 * 60


def test_default_centers_data(province: Province) -> None:
    mong_cai_1 = next(c for c in province.centers if c.name == "Móng Cái 1")
    assert mong_cai_1.population is None and mong_cai_1.area_km2 == pytest.approx(82.47)
    others = [c for c in province.centers if c is not mong_cai_1]
    assert all(c.population is not None and c.population > 0 for c in others)
    quang_la = province.center("07054")
    assert (quang_la.display_name, quang_la.population) == ("Xã Quảng La", 9183)
    assert len(quang_la.counters) == 4
    assert province.center("06712").display_name == "Phường Móng Cái 1"


def test_default_policy_and_hours(province: Province) -> None:
    policy = province.policy
    assert (policy.priority_max_in_row, policy.appointment_window_s, policy.max_recalls) == (
        2, 15 * 60, 2)
    assert policy.idempotency_s == 24 * 3600
    assert province.service("civil_status").prefix == "A"
    assert {p.id for p in province.priorities} >= {"elderly", "disability", "pregnant"}
    monday = dt.datetime(2026, 3, 2)
    assert province.hours.is_open(monday.replace(hour=7, minute=30))
    assert not province.hours.is_open(monday.replace(hour=11, minute=30))
    assert not province.hours.is_open(monday.replace(hour=12))
    assert province.hours.is_open(monday.replace(hour=16, minute=59))
    assert not province.hours.is_open(monday.replace(day=8, hour=9))  # Sunday


def test_center_override_applies(tmp_path: Path) -> None:
    path = build(tmp_path, toml=append(
        '\n[[center_override]]\ncode = "07054"\ncounters = [["civil_status"], ["land", "results"]]'
        '\nwait_target_minutes = 20\nvoice = "south"\n'
    ))
    center = load_province(path).center("07054")
    assert [c.services for c in center.counters] == [("civil_status",), ("land", "results")]
    assert (center.wait_target_s, center.voice) == (20 * 60, "south")
    assert load_province(path).center("07060").voice == "north"


def test_a_csv_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = build(tmp_path, csv=lambda text: "\ufeff" + text)
    assert len(load_province(path).centers) == 54


# ---------------------------------------------------------------------------- the province file


def test_missing_file(tmp_path: Path) -> None:
    refused(tmp_path / "nowhere.toml", str(tmp_path / "nowhere.toml"), "not found")


def test_invalid_toml(tmp_path: Path) -> None:
    path = build(tmp_path, toml=append("\n[policy\n"))
    refused(path, str(path), "not valid TOML", "line")


def test_province_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "province.toml"
    path.write_bytes(b'[province]\nname = "T\xe1nh"\n')
    refused(path, str(path), "expected UTF-8")


BAD_TOML: list[tuple[str, Edit, tuple[str, ...]]] = [
    ("missing key", replace("max_recalls = 2 ", "# gone "),
     ("key 'policy.max_recalls'", "expected a whole number ≥ 0 (missing)")),
    ("missing table", replace("[hours]", "[opening]"), ("key 'hours'", "a table (missing)")),
    ("wrong type", replace("priority_max_in_row = 2 ", 'priority_max_in_row = "two" '),
     ("key 'policy.priority_max_in_row'", "expected a whole number ≥ 1", "got 'two'")),
    ("bool for a number", replace("max_recalls = 2 ", "max_recalls = true "),
     ("key 'policy.max_recalls'", "got True")),
    ("below the minimum", replace("stream_max_events = 10000", "stream_max_events = 5"),
     ("key 'policy.stream_max_events'", "≥ 100", "got 5")),
    ("no pause reasons", replace("[[pause_reason]]", "[[reason]]", 5),
     ("key 'pause_reason'", "an array of tables (missing)")),
    ("text, not an array", lambda text: 'priority = "elderly"\n' + text.replace(
        "[[priority]]", "[[old_priority]]"), ("key 'priority'", "an array of tables",
                                              "got 'elderly'")),
    ("bad province id", replace('id = "quangninh"', 'id = "Quang Ninh"'),
     ("key 'province.id'", "an id of a-z, 0-9 and _", "got 'Quang Ninh'")),
    ("bad prefix", replace('prefix = "A"', 'prefix = "a1"'),
     ("key 'service[0].prefix'", "1 to 3 capital letters A-Z", "got 'a1'")),
    ("duplicate service id", replace('id = "certification"', 'id = "civil_status"'),
     ("key 'service[1].id'", "a unique id (already used by service[0])", "'civil_status'")),
    ("duplicate prefix", replace('prefix = "B"', 'prefix = "A"'),
     ("key 'service[1].prefix'", "a unique prefix (already used by service[0])", "got 'A'")),
    ("duplicate priority id", replace('id = "pregnant"', 'id = "elderly"'),
     ("key 'priority[2].id'", "a unique id")),
    ("typical time zero", replace("typical_minutes = 3", "typical_minutes = 0"),
     ("key 'service[7].typical_minutes'", "≥ 1", "got 0")),
    ("unknown service in a counter", replace('["certification", "results"]',
                                             '["certification", "passport"]'),
     ("key 'counters.ward[0]'", "service ids among ['business'", "got 'passport'")),
    ("a service twice at a counter", replace('["certification", "results"]',
                                             '["results", "results"]'),
     ("key 'counters.ward[0]'", "each service once")),
    ("an empty counter", replace('["certification", "results"]', "[]"),
     ("key 'counters.ward[0]'", "a non-empty list of service ids")),
    ("a table as a service", replace('["certification", "results"]', '[{id = "results"}]'),
     ("key 'counters.ward[0]'", "service ids among")),
    ("no counters for a type", replace("special_zone = [", "special_zone = []\nold_zone = ["),
     ("key 'counters.special_zone'", "at least one counter")),
    ("hours backwards", replace('sat = ["07:30-11:30"]', 'sat = ["11:30-07:30"]'),
     ("key 'hours.sat[0]'", "a start before its end within a day", "got '11:30-07:30'")),
    ("hours past midnight", replace('sat = ["07:30-11:30"]', 'sat = ["07:30-24:30"]'),
     ("key 'hours.sat[0]'", "a start before its end within a day")),
    ("minutes out of range", replace('sat = ["07:30-11:30"]', 'sat = ["07:75-11:30"]'),
     ("key 'hours.sat[0]'", "a start before its end within a day")),
    ("hours form", replace('sat = ["07:30-11:30"]', 'sat = ["7:30-11:30"]'),
     ("key 'hours.sat[0]'", "expected 'HH:MM-HH:MM'", "got '7:30-11:30'")),
    ("a missing day", replace("sun = []", ""),
     ("key 'hours.sun'", "a list of 'HH:MM-HH:MM' (missing)")),
    ("bad override voice", append('\n[[center_override]]\ncode = "07054"\nvoice = "west"\n'),
     ("key 'center_override[0].voice'", "one of ['north', 'central', 'south']", "got 'west'")),
    ("override of an unknown center", append('\n[[center_override]]\ncode = "99999"\n'),
     ("key 'center_override[0].code'", f"the code of a center in {CSV_NAME}", "got '99999'")),
    ("override twice", append('\n[[center_override]]\ncode = "07054"\n'
                              '[[center_override]]\ncode = "07054"\n'),
     ("key 'center_override[1].code'", "each center overridden once")),
    ("override counters", append('\n[[center_override]]\ncode = "07054"\n'
                                 'counters = [["land"], ["visa"]]\n'),
     ("key 'center_override[0].counters[1]'", "service ids among", "got 'visa'")),
    ("override target", append('\n[[center_override]]\ncode = "07054"\n'
                               'wait_target_minutes = 0\n'),
     ("key 'center_override[0].wait_target_minutes'", "≥ 1", "got 0")),
]


@pytest.mark.parametrize(("edit", "fragments"), [(e, f) for _, e, f in BAD_TOML],
                         ids=[name for name, _, _ in BAD_TOML])
def test_malformed_province_file(tmp_path: Path, edit: Edit, fragments: tuple[str, ...]) -> None:
    path = build(tmp_path, toml=edit)
    refused(path, str(path), *fragments)


# ---------------------------------------------------------------------------- the centers CSV

LINE_2 = "07054,Quảng La,commune,165.67,9183,"
LINE_3 = "07060,Thống Nhất,commune,276.12,1731,"

BAD_CSV: list[tuple[str, Edit, tuple[str, ...]]] = [
    ("bad type", replace(LINE_2, "07054,Quảng La,village,165.67,9183,"),
     ("line 2: column 'type'", "expected one of ['ward', 'commune', 'special_zone']",
      "got 'village'")),
    ("bad population", replace(LINE_2, "07054,Quảng La,commune,165.67,chín nghìn,"),
     ("line 2: column 'population'", "expected a number ≥ 0 or an empty cell",
      "got 'chín nghìn'")),
    ("fractional population", replace(LINE_3, "07060,Thống Nhất,commune,276.12,1731.5,"),
     ("line 3: column 'population'", "got '1731.5'")),
    ("negative area", replace(LINE_3, "07060,Thống Nhất,commune,-276.12,1731,"),
     ("line 3: column 'area_km2'", "a number ≥ 0", "got '-276.12'")),
    ("area not a number", replace(LINE_3, "07060,Thống Nhất,commune,nan,1731,"),
     ("line 3: column 'area_km2'", "got 'nan'")),
    ("duplicate code", replace(LINE_3, "07054,Thống Nhất,commune,276.12,1731,"),
     ("line 3: column 'code'", "expected a unique code", "got '07054'",
      "already on line 2")),
    ("bad code", replace(LINE_3, "07 060,Thống Nhất,commune,276.12,1731,"),
     ("line 3: column 'code'", "1-16 letters or digits", "got '07 060'")),
    ("empty name", replace(LINE_3, "07060,,commune,276.12,1731,"),
     ("line 3: column 'name'", "expected the unit's name")),
    ("short row", append("99999,Nowhere\n"), ("line 56: column 'type'", "got ''")),
    ("missing column", replace("code,name,type,", "code,name,kind,"),
     ("line 1", "missing columns ['type']")),
    ("no rows", lambda text: text.splitlines(keepends=True)[0], ("no centers",)),
]


@pytest.mark.parametrize(("edit", "fragments"), [(e, f) for _, e, f in BAD_CSV],
                         ids=[name for name, _, _ in BAD_CSV])
def test_malformed_centers_csv(tmp_path: Path, edit: Edit, fragments: tuple[str, ...]) -> None:
    path = build(tmp_path, csv=edit)
    refused(path, str(tmp_path / CSV_NAME), *fragments)


def test_centers_csv_missing(tmp_path: Path) -> None:
    path = build(tmp_path)
    (tmp_path / CSV_NAME).unlink()
    error = refused(path, str(tmp_path / CSV_NAME), "centers CSV not found")
    assert error.fields["key"] == "province.centers_csv"


def test_centers_csv_not_a_file(tmp_path: Path) -> None:
    path = build(tmp_path, toml=replace(f'centers_csv = "{CSV_NAME}"', 'centers_csv = "."'))
    refused(path, str(tmp_path), "cannot read the centers CSV")


def test_centers_csv_not_utf8(tmp_path: Path) -> None:
    path = build(tmp_path)
    (tmp_path / CSV_NAME).write_bytes(
        (DATA / CSV_NAME).read_text(encoding="utf-8").encode("cp1258", errors="replace"))
    refused(path, str(tmp_path / CSV_NAME), "expected UTF-8")


def test_the_error_carries_the_key(tmp_path: Path) -> None:
    path = build(tmp_path, toml=replace('prefix = "A"', 'prefix = "a"'))
    assert refused(path).fields == {"key": "service[0].prefix"}

