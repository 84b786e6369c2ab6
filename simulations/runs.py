"""Replications: the same day simulated with seeds ``seed, seed + 1, …``, and their estimates.

Replication 0 uses ``seed`` itself, so it is the day the live driver drives with that seed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from queue_server.province import Center, Province
from simulations.demand import DemandProfile
from simulations.errors import PlanningInputError
from simulations.measures import (
    Estimate,
    Figures,
    combine,
    combine_day,
    day_figures,
    hourly_figures,
)
from simulations.offline import Window, simulate_day
from simulations.opening import opening_intervals
from simulations.roster import Roster, full_roster


@dataclass
class CenterResult:
    center: Center
    roster: Roster
    hours: dict[int, dict[str, Estimate]]
    day: dict[str, Estimate]
    replications: list[dict[int, Figures]] = field(default_factory=list)


@dataclass
class DayResult:
    date: dt.date
    seed: int
    replications: int
    target_share: float
    target_wait_s: float
    centers: list[CenterResult]


def simulate_center(province: Province, profile: DemandProfile, center: Center,
                    date: dt.date, seed: int, replications: int, roster: Roster | None,
                    window: Window | None = None) -> CenterResult:
    hourly: list[dict[int, Figures]] = []
    daily: list[Figures] = []
    for r in range(replications):
        record = simulate_day(province, profile, center, date, seed + r, roster, window)
        hourly.append(hourly_figures(record, profile.target_wait_s))
        daily.append(day_figures(record, profile.target_wait_s))
    used = roster if roster is not None else full_roster(
        center, opening_intervals(province, center, date))
    return CenterResult(center, used, combine(hourly), combine_day(daily), hourly)


def simulate_province(province: Province, profile: DemandProfile, centers: Sequence[Center],
                      date: dt.date, seed: int, replications: int,
                      rosters: dict[str, Roster] | None = None) -> DayResult:
    """Every center's day, ``replications`` times; refuses a date on which a center is closed."""
    if replications < 1:
        raise PlanningInputError("--replications", "replications",
                                 f"expected at least 1, got {replications}")
    results = []
    for center in centers:
        if not opening_intervals(province, center, date):
            raise PlanningInputError(province.source, "hours",
                                     f"{center.display_name} is closed on {date:%A %Y-%m-%d}: "
                                     "pick a working day (--date)", center=center.id)
        roster = (rosters or {}).get(center.id)
        results.append(simulate_center(province, profile, center, date, seed, replications,
                                       roster))
    return DayResult(date, seed, replications, profile.target_share, profile.target_wait_s,
                     results)
