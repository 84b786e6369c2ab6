"""Rosters: how many counters a center staffs in each clock hour, and which ones.

A roster maps a local clock hour (7 for 07:00-07:59) to a number of counters. Counters open in
a fixed order: first the fewest of the center's counters that together serve every service
citizens come for (a greedy cover, in the province file's order on ties), then the others in
file order; a roster asking for more counters than the center has adds counters that repeat
the layouts in that order (what a planner would add: another desk like the busiest ones).
So "3 counters" always means the same three desks, and a roster of the cover size serves
everyone.

CSV form (what ``simulations.staffing`` writes and ``--roster`` reads):
``center,hour,counters`` with one row per center and hour.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from queue_server.province import Center, Province
from queue_server.rules.clock import TIMEZONE
from simulations.errors import PlanningInputError
from simulations.opening import Interval, clock_hours

Roster = dict[int, int]
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Desk:
    id: str
    services: tuple[str, ...]


def opening_order(center: Center, demanded: Iterable[str]) -> list[Desk]:
    """The center's counters in the order they open (see the module docstring)."""
    remaining = [Desk(c.id, c.services) for c in center.counters]
    uncovered = set(demanded)
    order: list[Desk] = []
    while uncovered and remaining:
        best = max(remaining, key=lambda d: len(uncovered & set(d.services)))
        if not uncovered & set(best.services):
            break
        order.append(best)
        remaining.remove(best)
        uncovered -= set(best.services)
    return order + remaining


def cover_size(center: Center, demanded: Iterable[str]) -> int:
    """How many counters (in opening order) it takes to serve every demanded service."""
    wanted = set(demanded)
    served: set[str] = set()
    for n, desk in enumerate(opening_order(center, wanted), 1):
        served |= set(desk.services)
        if wanted <= served:
            return n
    return len(center.counters)


def desks(center: Center, demanded: Iterable[str], count: int) -> list[Desk]:
    """The first ``count`` desks in opening order, extra ones repeating the layouts."""
    order = opening_order(center, demanded)
    out = list(order[:count])
    taken = {d.id for d in order}
    for extra in range(len(order), count):
        desk_id = str(extra + 1)
        while desk_id in taken:
            desk_id = "x" + desk_id
        taken.add(desk_id)
        out.append(Desk(desk_id, order[extra % len(order)].services))
    return out


def full_roster(center: Center, intervals: tuple[Interval, ...]) -> Roster:
    """Every configured counter in every open hour: the province file's staffing."""
    return {hour: len(center.counters) for hour in clock_hours(intervals)}


def change_points(roster: Roster, intervals: tuple[Interval, ...], midnight_ms: int,
                  grace_ms: int) -> list[tuple[int, int]]:
    """(instant, counters wanted) through the day: the roster's figure at the start of each
    open hour, kept ``grace_ms`` past each interval's end (serving those still holding a
    ticket), then 0 until the next interval."""
    points: list[tuple[int, int]] = []
    for start, end in intervals:
        minute = start
        while minute < end:
            points.append((midnight_ms + minute * 60_000, roster.get(minute // 60, 0)))
            minute = (minute // 60 + 1) * 60
        points.append((midnight_ms + end * 60_000 + grace_ms, 0))
    return points


def read_roster(path: Path, province: Province) -> dict[str, Roster]:
    """A roster CSV (``center,hour,counters``); every refusal names the file, line, field."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise PlanningInputError(path, "", f"cannot read the roster: {error}") from None
    codes = {c.id for c in province.centers}
    out: dict[str, Roster] = {}
    for line, row in enumerate(rows, 2):
        center = (row.get("center") or "").strip()
        if center not in codes:
            raise PlanningInputError(path, f"line {line}: center",
                                     f"no center {center!r} in {province.source}", center)
        for field in ("hour", "counters"):
            text = (row.get(field) or "").strip()
            if not text.isdigit():
                raise PlanningInputError(path, f"line {line}: {field}",
                                         f"expected a whole number, got {text!r}", center)
        hour, counters = int(row["hour"]), int(row["counters"])
        if not 0 <= hour <= 23:
            raise PlanningInputError(path, f"line {line}: hour",
                                     f"expected a clock hour 0-23, got {hour}", center)
        out.setdefault(center, {})[hour] = counters
    return out


def write_roster(path: Path, rosters: dict[str, Roster]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["center", "hour", "counters"])
        for center, roster in rosters.items():
            for hour in sorted(roster):
                writer.writerow([center, hour, roster[hour]])


def hour_of(epoch_ms: int) -> int:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, TIMEZONE).hour
