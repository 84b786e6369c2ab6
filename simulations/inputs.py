"""What every planning command reads, checked before anything runs: the province file, the
demand profile, the centers asked for, the date and a roster; and how they refuse."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec

from queue_server.errors import ConfigError
from queue_server.province import Center, Province, load_province
from simulations.demand import DEFAULT_DEMAND_FILE, DemandProfile, check_centers, load_demand
from simulations.errors import PlanningInputError
from simulations.opening import opening_intervals
from simulations.roster import Roster, read_roster

P = ParamSpec("P")

DEFAULT_DATE = dt.date(2026, 11, 23)  # a Monday: the same command gives the same day


@dataclass(frozen=True)
class Inputs:
    province: Province
    profile: DemandProfile
    centers: list[Center]
    date: dt.date
    rosters: dict[str, Roster]


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--province", type=Path, metavar="FILE",
        help="province file (default: the server's, queue_server/data/province.toml)")
    add("--demand", type=Path, metavar="FILE", default=DEFAULT_DEMAND_FILE,
        help="demand profile (default: simulations/data/demand_quangninh.toml)")
    add("--center", action="append", metavar="CODE",
        help="only this center (repeat for more; default: every center)")
    add("--date", type=dt.date.fromisoformat, default=DEFAULT_DATE, metavar="YYYY-MM-DD",
        help=f"the day to simulate (default {DEFAULT_DATE.isoformat()}, a Monday)")
    add("--seed", type=int, default=1, help="random seed (default 1)")
    add("--roster", type=Path, metavar="CSV",
        help="counters per center and hour (center,hour,counters: what simulations.staffing "
             "writes); default: every configured counter in every open hour")


def read_inputs(args: argparse.Namespace) -> Inputs:
    """Everything checked; PlanningInputError or ConfigError naming file, center and field."""
    province = load_province(args.province)
    if args.center:
        codes = {c.id for c in province.centers}
        for code in args.center:
            if code not in codes:
                raise PlanningInputError(province.source, "--center",
                                         f"no center {code!r} in this province file", code)
        centers = [province.center(code) for code in dict.fromkeys(args.center)]
    else:
        centers = list(province.centers)
    profile = check_centers(load_demand(args.demand), province, centers)
    for center in centers:
        if not opening_intervals(province, center, args.date):
            raise PlanningInputError(province.source, "hours",
                                     f"{center.display_name} is closed on "
                                     f"{args.date:%A %Y-%m-%d}: pick a working day (--date)",
                                     center.id)
    rosters = read_roster(args.roster, province) if args.roster else {}
    for code, roster in rosters.items():
        if any(n < 0 for n in roster.values()):
            raise PlanningInputError(args.roster, "counters", "expected ≥ 0", code)
    return Inputs(province, profile, centers, args.date, rosters)


def refusing(main: Callable[P, int]) -> Callable[P, int]:
    """Run a command; a bad input becomes one sentence on stderr and exit code 2."""

    @functools.wraps(main)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return guarded
