"""The staffing advisor: counters per center and clock hour that meet a target such as "90 %
called within 15 minutes", first from Erlang C, then checked and corrected by the simulation.

1. **Load per hour** (:func:`hourly_load`): the expected tickets entering in each clock hour
   (the demand profile's volume, service mix and intensities over the day's open minutes;
   appointment holders who never come removed; tickets made by transfers added), and the mean
   counter time a ticket takes: walking up, the service (half of it, then the other service,
   when transferred), and the recalls spent on those who do not come.
2. **First cut** (:func:`first_cut`): per hour the fewest counters for which M/M/c (Erlang C,
   the whole center pooled) gives ``P(wait ≤ target) ≥ share``, the load raised by the share
   of time counters spend on breaks; never fewer than the counters that together serve every
   service citizens come for (simulations/roster.py).
3. **Checked by the simulation** (:func:`advise`): the day is simulated (same seeds for every
   trial: common random numbers) and each hour's share called within target is pooled over
   the replications. While an hour misses it, the earliest such hour gets one more counter
   (or, at the ceiling, the hour before it: its queue is what spills over). Then, from the last
   hour back, one counter fewer is tried wherever the day still meets the target without it.
   Pooled M/M/c is optimistic where counters serve different services and pessimistic where
   citizens give up or do not come; the simulation is the judge.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from queue_server.province import Center, Province
from simulations.demand import DemandProfile
from simulations.erlang import servers_for
from simulations.errors import PlanningInputError
from simulations.inputs import add_input_arguments, read_inputs, refusing
from simulations.measures import Figures
from simulations.opening import clock_hours, opening_intervals
from simulations.roster import Roster, cover_size
from simulations.runs import CenterResult, simulate_center

MAX_TRIALS = 60


@dataclass(frozen=True)
class HourLoad:
    hour: int
    open_minutes: int
    tickets: float        # expected tickets entering the queue in this hour
    work_min: float       # mean counter time per ticket, minutes

    @property
    def offered_erlangs(self) -> float:
        return self.tickets * self.work_min / self.open_minutes if self.open_minutes else 0.0


@dataclass
class Advice:
    center: Center
    loads: dict[int, HourLoad]
    first_cut: Roster
    roster: Roster
    result: CenterResult
    met: bool
    trials: int
    notes: list[str] = field(default_factory=list)


def _open_minutes(intervals: tuple[tuple[int, int], ...], hour: int) -> int:
    return sum(max(0, min(end, hour * 60 + 60) - max(start, hour * 60))
               for start, end in intervals)


def work_minutes(profile: DemandProfile) -> float:
    """Mean counter time per ticket entering the queue (see the module docstring)."""
    service = 0.0
    transferred = 0.0
    for demand in profile.services.values():
        mean = demand.time.mean_s
        share = demand.transfer_share if demand.transfer_to else 0.0
        service += demand.share * ((1 - share) * mean + share * 0.5 * mean)
        if share:
            transferred += demand.share * share * profile.services[demand.transfer_to].time.mean_s
        # a transfer makes a second ticket: its service counts once per first ticket
    recalls = (profile.called_absent * (profile.no_show_after_recalls + 1)
               + profile.slow_to_answer) * profile.recall_after_s
    per_first = profile.walk_up_s + service + transferred + recalls
    tickets_per_first = 1 + sum(d.share * d.transfer_share for d in profile.services.values()
                                if d.transfer_to)
    return per_first / tickets_per_first / 60


def hourly_load(province: Province, profile: DemandProfile, center: Center,
                date: dt.date) -> dict[int, HourLoad]:
    intervals = opening_intervals(province, center, date)
    daily = profile.tickets_per_day(province, center, date.weekday())
    coming = 1 - profile.appointment_share * profile.appointment_no_show
    work = work_minutes(profile)
    tickets: dict[int, float] = {h: 0.0 for h in clock_hours(intervals)}
    for service, demand in profile.services.items():
        weights = {h: profile.intensity_of(service, h) * _open_minutes(intervals, h)
                   for h in tickets}
        total = sum(weights.values())
        if total <= 0:
            continue
        seconds = 1 + (demand.transfer_share if demand.transfer_to else 0.0)
        for hour, weight in weights.items():
            tickets[hour] += daily * demand.share * coming * seconds * weight / total
    return {h: HourLoad(h, _open_minutes(intervals, h), n, work) for h, n in tickets.items()}


def first_cut(profile: DemandProfile, center: Center, loads: dict[int, HourLoad],
              intervals: tuple[tuple[int, int], ...]) -> Roster:
    demanded = [s for s, d in profile.services.items() if d.share > 0]
    floor = cover_size(center, demanded)
    open_s = sum(end - start for start, end in intervals) * 60
    break_s = profile.breaks_per_interval * profile.break_s * len(intervals)
    busy_share = min(break_s / open_s, 0.5) if open_s else 0.0
    roster: Roster = {}
    for hour, load in loads.items():
        if load.open_minutes == 0 or load.tickets <= 0:
            roster[hour] = floor
            continue
        lam = load.tickets / load.open_minutes / (1 - busy_share)  # per minute
        needed = servers_for(lam, 1 / load.work_min, profile.target_wait_s / 60,
                             profile.target_share)
        roster[hour] = max(floor, needed)
    return roster


def pooled_within(replications: list[dict[int, Figures]], hour: int) -> float | None:
    """The hour's share called within target over all replications' tickets together."""
    within = sum(rep.get(hour, {}).get("within_n", 0.0) for rep in replications)
    eligible = sum(rep.get(hour, {}).get("eligible_n", 0.0) for rep in replications)
    return within / eligible if eligible else None


def missing_hours(result: CenterResult, share: float) -> list[int]:
    hours = sorted({h for rep in result.replications for h in rep})
    out = []
    for hour in hours:
        pooled = pooled_within(result.replications, hour)
        if pooled is not None and pooled < share:
            out.append(hour)
    return out


def advise(province: Province, profile: DemandProfile, center: Center, date: dt.date,
           seed: int, replications: int, max_counters: int) -> Advice:
    loads = hourly_load(province, profile, center, date)
    cut = first_cut(profile, center, loads, opening_intervals(province, center, date))
    demanded = [s for s, d in profile.services.items() if d.share > 0]
    floor = cover_size(center, demanded)
    cache: dict[tuple[tuple[int, int], ...], CenterResult] = {}

    def run(roster: Roster) -> CenterResult:
        key = tuple(sorted(roster.items()))
        if key not in cache:
            cache[key] = simulate_center(province, profile, center, date, seed, replications,
                                         roster)
        return cache[key]

    roster = {h: min(n, max_counters) for h, n in cut.items()}
    result = run(roster)
    notes: list[str] = []
    while len(cache) < MAX_TRIALS:
        failing = missing_hours(result, profile.target_share)
        if not failing:
            break
        grown = _grow(roster, failing[0], max_counters)
        if grown is None:
            notes.append(f"{failing[0]:02d}:00 misses the target even with {max_counters} "
                         "counters (--max-counters)")
            break
        roster, result = grown, run(grown)
    met = not missing_hours(result, profile.target_share)
    if met:
        for hour in sorted(roster, reverse=True):
            while roster[hour] > floor and len(cache) < MAX_TRIALS:
                trial = {**roster, hour: roster[hour] - 1}
                trial_result = run(trial)
                if missing_hours(trial_result, profile.target_share):
                    break
                roster, result = trial, trial_result
    if len(cache) >= MAX_TRIALS:
        notes.append(f"stopped after {MAX_TRIALS} simulated rosters")
    if max(roster.values(), default=0) > len(center.counters):
        notes.append(f"needs {max(roster.values())} counters; the province file configures "
                     f"{len(center.counters)}")
    return Advice(center, loads, cut, roster, result, met, len(cache), notes)


def _grow(roster: Roster, hour: int, ceiling: int) -> Roster | None:
    hours = sorted(roster)
    index = hours.index(hour)
    for candidate in (hours[index], *reversed(hours[:index])):
        if roster[candidate] < ceiling:
            return {**roster, candidate: roster[candidate] + 1}
    return None


# ---------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulations.staffing",
        description="Tư vấn số quầy theo giờ / staffing advisor: counters per center and hour "
                    "for a target such as 90 %% called within 15 minutes; Erlang C first, then "
                    "checked and corrected by the simulation (docs/planning.md).")
    add_input_arguments(parser)
    add = parser.add_argument
    add("--share", type=float, metavar="S",
        help="target share called within --within (default: the demand profile's, 0.90)")
    add("--within", type=float, metavar="MIN",
        help="target wait in minutes (default: the demand profile's, 15)")
    add("--replications", type=int, default=8, metavar="N",
        help="replications per simulated roster (default 8)")
    add("--max-counters", type=int, default=12, metavar="N",
        help="most counters a center may staff in an hour (default 12)")
    add("--csv", type=Path, metavar="FILE",
        help="write the roster (center,hour,counters + what backs it); --roster reads it")
    add("--png", type=Path, metavar="FILE", help="draw the roster into FILE")
    add("--json", action="store_true", help="print the rows as JSON instead of the table")
    return parser


def _with_target(profile: DemandProfile, args: argparse.Namespace) -> DemandProfile:
    share = profile.target_share if args.share is None else args.share
    within = profile.target_wait_s / 60 if args.within is None else args.within
    if not 0 < share <= 1:
        raise PlanningInputError("--share", "share", f"expected a share in (0, 1], got {share:g}")
    if not within > 0:
        raise PlanningInputError("--within", "within",
                                 f"expected minutes above 0, got {within:g}")
    if args.replications < 1 or args.max_counters < 1:
        raise PlanningInputError("--replications/--max-counters", "replications",
                                 "expected whole numbers ≥ 1")
    return dataclasses.replace(profile, target_share=share, target_wait_s=within * 60)


@refusing
def main(argv: Sequence[str] | None = None) -> int:
    from simulations.staffing_report import plot_roster, roster_table, rows, write_csv

    args = _parser().parse_args(argv)
    inputs = read_inputs(args)
    profile = _with_target(inputs.profile, args)
    advice = []
    for n, center in enumerate(inputs.centers, 1):
        print(f"\r{n}/{len(inputs.centers)} {center.display_name:<30}", end="", file=sys.stderr,
              flush=True)
        advice.append(advise(inputs.province, profile, center, inputs.date, args.seed,
                             args.replications, args.max_counters))
    print("\r" + " " * 40 + "\r", end="", file=sys.stderr)
    if args.json:
        print(json.dumps(rows(advice), indent=1, ensure_ascii=False))
    else:
        print(roster_table(advice, profile.target_share, profile.target_wait_s))
    if args.csv:
        print(f"CSV: {write_csv(args.csv, advice)}", file=sys.stderr)
    if args.png:
        print(f"PNG: {plot_roster(args.png, advice, profile.target_share)}", file=sys.stderr)
    return 0 if all(a.met for a in advice) else 1


if __name__ == "__main__":
    sys.exit(main())
