"""Parsing and validation of province files (the model: queue_server.province_model)."""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from queue_server.errors import ConfigError
from queue_server.province_model import (
    WEEKDAYS,
    Calendar,
    Center,
    Counter,
    Named,
    OpeningHours,
    Policy,
    Province,
    Service,
)
from queue_server.rules.calendar import DayHours
from queue_server.rules.numbering import PREFIX_PATTERN

ID_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")
CENTER_ID_PATTERN = re.compile(r"^[0-9A-Za-z_]{1,16}$")
INTERVAL_PATTERN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
CENTER_TYPES = ("ward", "commune", "special_zone")
VOICES = ("north", "central", "south")
V = TypeVar("V")
N = TypeVar("N", int, float)


class _Reader:
    """Typed access to a TOML table that names the file and key path in every error."""

    def __init__(self, source: Path, table: dict[str, Any], path: str = "") -> None:
        self.source, self.table, self.path = source, table, path

    def fail(self, key: str, expected: str, got: Any = None) -> ConfigError:
        where = f"{self.path}.{key}" if self.path else key
        tail = "" if got is None else f", got {got!r}"
        return ConfigError(f"{self.source}: key '{where}': expected {expected}{tail}", key=where)

    def get(self, key: str, kind: type[V], expected: str, default: V | None = None) -> V:
        if key not in self.table:
            if default is not None:
                return default
            raise self.fail(key, expected + " (missing)")
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(key, expected, value)
        return value

    def text(self, key: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = self.get(key, str, what or "a text")
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, what, value)
        return value

    def positive(self, key: str, default: int | None = None, minimum: int = 1) -> int:
        value = self.get(key, int, f"a whole number ≥ {minimum}", default)
        if value < minimum:
            raise self.fail(key, f"a whole number ≥ {minimum}", value)
        return value

    def sub(self, key: str) -> _Reader:
        return _Reader(self.source, self.get(key, dict, "a table"), self._join(key))

    def items(self, key: str) -> list[_Reader]:
        rows = self.get(key, list, "an array of tables")
        readers = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise self.fail(f"{key}[{index}]", "a table", row)
            readers.append(_Reader(self.source, row, self._join(f"{key}[{index}]")))
        return readers

    def _join(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key


def read_province(source: Path) -> Province:
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{source}: province file not found", key="") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}", key="") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{source}: expected UTF-8 text: {error}", key="") from None
    except OSError as error:
        raise ConfigError(f"{source}: cannot read the province file: {error}", key="") from None
    root = _Reader(source, data)
    head = root.sub("province")
    services = tuple(_service(r) for r in root.items("service"))
    _unique(root, "service", [s.id for s in services], "id")
    _unique(root, "service", [s.prefix for s in services], "prefix")
    service_ids = {s.id for s in services}
    priorities = tuple(_named(r) for r in root.items("priority"))
    _unique(root, "priority", [p.id for p in priorities], "id")
    reasons = tuple(_named(r) for r in root.items("pause_reason"))
    _unique(root, "pause_reason", [p.id for p in reasons], "id")
    policy = _policy(root.sub("policy"))
    templates = _counter_templates(root.sub("counters"), service_ids)
    overrides = _overrides(root) if "center_override" in data else {}
    weekly = _hours(root.sub("hours"))
    calendar = _calendar(root.sub("calendar"), weekly) if "calendar" in data else Calendar(weekly)
    csv_path = source.parent / head.text("centers_csv")
    centers = _centers(csv_path, templates, policy, overrides, service_ids, calendar)
    codes = {c.id for c in centers}
    for code, override in overrides.items():
        if code not in codes:
            raise override.fail("code", f"the code of a center in {csv_path.name}", code)
    return Province(
        id=head.text("id", ID_PATTERN, "an id of a-z, 0-9 and _"),
        name=head.text("name"),
        name_en=head.text("name_en"),
        centers=centers,
        services=services,
        priorities=priorities,
        pause_reasons=reasons,
        calendar=calendar,
        policy=policy,
        source=source,
    )


def _unique(reader: _Reader, key: str, values: list[str], what: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise reader.fail(
                f"{key}[{index}].{what}",
                f"a unique {what} (already used by {key}[{seen[value]}])",
                value,
            )
        seen[value] = index
    if not values:
        raise reader.fail(key, "at least one entry")


def _overrides(root: _Reader) -> dict[str, _Reader]:
    overrides: dict[str, _Reader] = {}
    for reader in root.items("center_override"):
        code = reader.text("code", CENTER_ID_PATTERN, "a center code of 1-16 letters or digits")
        if code in overrides:
            raise reader.fail("code", "each center overridden once", code)
        overrides[code] = reader
    return overrides


def _named(reader: _Reader) -> Named:
    return Named(
        id=reader.text("id", ID_PATTERN, "an id of a-z, 0-9 and _"),
        name=reader.text("name"),
        name_en=reader.text("name_en"),
    )


def _service(reader: _Reader) -> Service:
    named = _named(reader)
    typical_minutes = reader.positive("typical_minutes")
    # A slot is the typical time rounded up to 5 minutes, at least 10: short services share a
    # slot between two citizens rather than booking the counter minute by minute.
    default_slot = max(10, -(-typical_minutes // 5) * 5)
    capacity = reader.positive("slot_capacity") if "slot_capacity" in reader.table else None
    return Service(
        id=named.id,
        name=named.name,
        name_en=named.name_en,
        prefix=reader.text("prefix", PREFIX_PATTERN, "1 to 3 capital letters A-Z"),
        field=reader.text("field"),
        typical_s=typical_minutes * 60,
        slot_minutes=reader.positive("slot_minutes", default=default_slot),
        slot_capacity=capacity,
    )


def _policy(reader: _Reader) -> Policy:
    return Policy(
        priority_max_in_row=reader.positive("priority_max_in_row"),
        appointment_window_s=reader.positive("appointment_window_minutes", minimum=0) * 60,
        max_recalls=reader.positive("max_recalls", minimum=0),
        wait_target_s=reader.positive("wait_target_minutes") * 60,
        stream_max_events=reader.positive("stream_max_events", minimum=100),
        recent_calls=reader.positive("recent_calls"),
        idempotency_s=reader.positive("idempotency_hours") * 3600,
        appointment_late_s=reader.positive("appointment_late_minutes", default=15,
                                           minimum=0) * 60,
        booking_days_ahead=reader.positive("booking_days_ahead", default=30),
        redis_keep_days=reader.positive("redis_keep_days", default=2),
    )


def _hours(reader: _Reader) -> OpeningHours:
    return OpeningHours(tuple(_day_hours(reader, day) for day in WEEKDAYS))


def _day_hours(reader: _Reader, key: str) -> DayHours:
    intervals: list[tuple[int, int]] = []
    for index, text in enumerate(reader.get(key, list, "a list of 'HH:MM-HH:MM'")):
        match = INTERVAL_PATTERN.match(text) if isinstance(text, str) else None
        if match is None:
            raise reader.fail(f"{key}[{index}]", "'HH:MM-HH:MM'", text)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if not (0 <= start < end <= 24 * 60 and m1 < 60 and m2 < 60):
            raise reader.fail(f"{key}[{index}]", "a start before its end within a day", text)
        if intervals and start < intervals[-1][1]:
            raise reader.fail(f"{key}[{index}]", "intervals in order, not overlapping", text)
        intervals.append((start, end))
    return tuple(intervals)


def _dates(reader: _Reader, key: str) -> list[dt.date]:
    days = []
    for index, text in enumerate(reader.get(key, list, "a list of dates 'YYYY-MM-DD'", [])):
        try:
            days.append(dt.date.fromisoformat(text if isinstance(text, str) else ""))
        except ValueError:
            raise reader.fail(f"{key}[{index}]", "a date 'YYYY-MM-DD'", text) from None
    return days


def _calendar(reader: _Reader, weekly: OpeningHours) -> Calendar:
    holidays = _dates(reader, "holidays")
    working = _dates(reader, "working_days")
    both = sorted(set(holidays) & set(working))
    if both:
        raise reader.fail("working_days", "no date that is also a holiday", both[0].isoformat())
    hours = _day_hours(reader, "working_day_hours") if "working_day_hours" in reader.table \
        else weekly.of(0)
    return Calendar(weekly, frozenset(holidays), {day: hours for day in working},
                    reader.positive("close_grace_minutes", default=30, minimum=0) * 60)


def _counter_list(
    reader: _Reader, key: str, service_ids: set[str]
) -> tuple[Counter, ...]:
    rows = reader.get(key, list, "a list of counters, each a list of service ids")
    if not rows:
        raise reader.fail(key, "at least one counter", rows)
    counters = []
    for index, services in enumerate(rows):
        if not isinstance(services, list) or not services:
            raise reader.fail(f"{key}[{index}]", "a non-empty list of service ids", services)
        for service in services:
            if not isinstance(service, str) or service not in service_ids:
                raise reader.fail(
                    f"{key}[{index}]", f"service ids among {sorted(service_ids)}", service
                )
        if len(set(services)) != len(services):
            raise reader.fail(f"{key}[{index}]", "each service once", services)
        counters.append(Counter(str(index + 1), f"Quầy {index + 1}", tuple(services)))
    return tuple(counters)


def _counter_templates(reader: _Reader, service_ids: set[str]) -> dict[str, tuple[Counter, ...]]:
    return {kind: _counter_list(reader, kind, service_ids) for kind in CENTER_TYPES}


def _centers(
    csv_path: Path,
    templates: dict[str, tuple[Counter, ...]],
    policy: Policy,
    overrides: dict[str, _Reader],
    service_ids: set[str],
    calendar: Calendar,
) -> tuple[Center, ...]:
    try:
        # utf-8-sig: a CSV saved by a spreadsheet often starts with a byte-order mark.
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            return _center_rows(csv_path, handle, templates, policy, overrides, service_ids,
                                calendar)
    except FileNotFoundError:
        raise ConfigError(f"{csv_path}: centers CSV not found",
                          key="province.centers_csv") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{csv_path}: expected UTF-8 text: {error}", key="") from None
    except csv.Error as error:
        raise ConfigError(f"{csv_path}: not a readable CSV: {error}", key="") from None
    except OSError as error:
        raise ConfigError(f"{csv_path}: cannot read the centers CSV: {error}",
                          key="province.centers_csv") from None


def _center_rows(
    csv_path: Path,
    handle: Iterable[str],
    templates: dict[str, tuple[Counter, ...]],
    policy: Policy,
    overrides: dict[str, _Reader],
    service_ids: set[str],
    calendar: Calendar,
) -> tuple[Center, ...]:
    centers: list[Center] = []
    lines: dict[str, int] = {}
    rows = csv.DictReader(handle)
    missing = {"code", "name", "type"} - set(rows.fieldnames or [])
    if missing:
        raise ConfigError(f"{csv_path}: line 1: missing columns {sorted(missing)}", key="")
    for row in rows:
        center = _center(csv_path, rows.line_num, row, templates, policy, overrides, service_ids,
                         calendar)
        if center.id in lines:
            raise ConfigError(
                f"{csv_path}: line {rows.line_num}: column 'code': expected a unique code, "
                f"got {center.id!r} (already on line {lines[center.id]})",
                key="code",
            )
        lines[center.id] = rows.line_num
        centers.append(center)
    if not centers:
        raise ConfigError(f"{csv_path}: no centers", key="")
    return tuple(centers)


def _optional(text: str | None, parse: Callable[[str], N], csv_path: Path, line: int,
              column: str) -> N | None:
    """An optional, non-negative, finite number from a CSV cell (an empty cell is None)."""
    if text is None or not text.strip():
        return None
    try:
        value: N | None = parse(text.strip())
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"{csv_path}: line {line}: column {column!r}: expected a number ≥ 0 or an empty "
            f"cell, got {text!r}",
            key=column,
        )
    return value


def _center(
    csv_path: Path,
    line: int,
    row: dict[str, str],
    templates: dict[str, tuple[Counter, ...]],
    policy: Policy,
    overrides: dict[str, _Reader],
    service_ids: set[str],
    calendar: Calendar,
) -> Center:
    code, kind = (row.get("code") or "").strip(), (row.get("type") or "").strip()
    if not CENTER_ID_PATTERN.match(code):
        raise ConfigError(f"{csv_path}: line {line}: column 'code': expected 1-16 letters or "
                          f"digits, got {code!r}", key="code")
    if kind not in CENTER_TYPES:
        raise ConfigError(f"{csv_path}: line {line}: column 'type': expected one of "
                          f"{list(CENTER_TYPES)}, got {kind!r}", key="type")
    name = (row.get("name") or "").strip()
    if not name:
        raise ConfigError(f"{csv_path}: line {line}: column 'name': expected the unit's name, "
                          "got an empty cell", key="name")
    counters, target, voice = templates[kind], policy.wait_target_s, "north"
    override = overrides.get(code)
    if override is not None:
        if "counters" in override.table:
            counters = _counter_list(override, "counters", service_ids)
        if "wait_target_minutes" in override.table:
            target = override.positive("wait_target_minutes") * 60
        if "voice" in override.table:
            voice = override.text("voice")
            if voice not in VOICES:
                raise override.fail("voice", f"one of {list(VOICES)}", voice)
        if "hours" in override.table:
            calendar = replace(calendar, weekly=_hours(override.sub("hours")))
    return Center(
        id=code,
        name=name,
        type=kind,
        area_km2=_optional(row.get("area_km2"), float, csv_path, line, "area_km2"),
        population=_optional(row.get("population"), int, csv_path, line, "population"),
        counters=counters,
        wait_target_s=target,
        voice=voice,
        calendar=calendar,
    )
