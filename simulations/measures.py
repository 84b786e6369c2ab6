"""Figures of a simulated day per center and clock hour, and their confidence over replications.

Definitions (docs/planning.md has the reasoning):

- a ticket belongs to the hour it **entered the queue** (kiosk issue, online booking, check-in
  of an appointment, or the transfer that made it);
- ``wait`` is from entering to being called, over the tickets whose holder stayed (citizens who
  gave up are counted in ``abandoned``, not in the waits: their ticket's later call as a
  no-show measures nobody's wait);
- ``within_target`` = tickets called within the target ÷ tickets that could have been: those
  whose holder did not give up before the target had passed;
- ``utilisation`` = time counters had a ticket in hand (call to free) ÷ time they were open and
  not paused, within the hour;
- ``queue`` = time-average number of waiting tickets within the hour, ``queue_max`` its peak;
- ``abandoned`` = citizens who gave up (cancelled, or left and were no-shows) ÷ tickets entered;
- ``counters`` = average number of open counters in the hour.

Across replications each figure is a mean with the half-width of its 95 % confidence interval
(Student's t with n − 1 degrees of freedom); a replication in which a figure is undefined (no
ticket called that hour) does not count towards it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from queue_server.rules.clock import local_datetime
from simulations.process import CenterRecord, Visit
from simulations.roster import HOUR_MS, hour_of

Figures = dict[str, float]
# Student's t, 97.5 % quantile, by degrees of freedom 1..30.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


@dataclass(frozen=True)
class Estimate:
    mean: float
    half: float  # half-width of the 95 % confidence interval (0 with one replication)
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": round(self.mean, 4), "ci95": round(self.half, 4), "n": self.n}


def t975(degrees: int) -> float:
    if degrees < 1:
        return math.nan
    return _T975[degrees - 1] if degrees <= len(_T975) else 1.96 + 2.4 / degrees


def estimate(values: Sequence[float]) -> Estimate:
    if not values:
        return Estimate(math.nan, math.nan, 0)
    mean = statistics.fmean(values)
    if len(values) == 1:
        return Estimate(mean, 0.0, 1)
    half = t975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return Estimate(mean, half, len(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _overlap(spans: Iterable[tuple[int, int]], start: int, end: int) -> int:
    return sum(max(0, min(b, end) - max(a, start)) for a, b in spans)


def _queue(steps: list[tuple[int, int]], start: int, end: int) -> tuple[float, int]:
    """Time-average and peak of the waiting count over [start, end)."""
    level, area, peak, last = 0, 0, 0, start
    for when, change in sorted(steps):
        if when >= end:
            break
        if when > start:
            area += level * (when - max(last, start))
            last = when
        level += change
        if when >= start:
            peak = max(peak, level)
    peak = max(peak, level)
    area += level * (end - max(last, start))
    return area / (end - start), peak


def _wait_figures(visits: list[Visit], target_ms: float) -> Figures:
    stayed = [v.wait_ms for v in visits if not v.gave_up and v.wait_ms is not None]
    could = [v for v in visits
             if v.gave_up_ms is None or v.gave_up_ms - v.entered_ms >= target_ms]
    within = sum(1 for wait in stayed if wait <= target_ms)
    out: Figures = {"arrivals": float(sum(1 for v in visits if not v.second)),
                    "abandoned": (sum(1 for v in visits if v.gave_up) / len(visits)
                                  if visits else math.nan)}
    if stayed:
        out["mean_wait_min"] = statistics.fmean(stayed) / 60_000
        out["p90_wait_min"] = percentile(stayed, 0.9) / 60_000
    if could:
        out["within_target"] = within / len(could)
    # Counts behind the share, so replications can be pooled (the staffing advisor does).
    out["within_n"], out["eligible_n"] = float(within), float(len(could))
    return out


def local_midnight_of(epoch_ms: int) -> int:
    moment = local_datetime(epoch_ms)
    return epoch_ms - ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000 \
        - moment.microsecond // 1000


def hourly_figures(record: CenterRecord, target_wait_s: float) -> dict[int, Figures]:
    """Each clock hour's figures for one replication of one center."""
    by_hour: dict[int, list[Visit]] = defaultdict(list)
    for visit in record.visits:
        by_hour[hour_of(visit.entered_ms)].append(visit)
    hours = set(by_hour)
    for a, b in record.staffed:
        hours.update(range(hour_of(a), hour_of(max(a, b - 1)) + 1))
    firsts = [v.entered_ms for v in record.visits] + [a for a, _ in record.staffed]
    if not firsts:
        return {}
    midnight = local_midnight_of(min(firsts))
    out: dict[int, Figures] = {}
    for hour in sorted(hours):
        start = midnight + hour * HOUR_MS
        end = start + HOUR_MS
        figures = _wait_figures(by_hour.get(hour, []), target_wait_s * 1000)
        open_ms = _overlap(record.staffed, start, end) - _overlap(record.paused, start, end)
        if open_ms > 0:
            figures["utilisation"] = _overlap(record.busy, start, end) / open_ms
        figures["counters"] = _overlap(record.staffed, start, end) / HOUR_MS
        figures["queue"], peak = _queue(record.waiting_steps, start, end)
        figures["queue_max"] = float(peak)
        out[hour] = figures
    return out


def day_figures(record: CenterRecord, target_wait_s: float) -> Figures:
    """The whole day's figures of one replication of one center."""
    figures = _wait_figures(record.visits, target_wait_s * 1000)
    spans = record.staffed
    if spans:
        start, end = min(a for a, _ in spans), max(b for _, b in spans)
        open_ms = _overlap(spans, start, end) - _overlap(record.paused, start, end)
        figures["utilisation"] = _overlap(record.busy, start, end) / open_ms if open_ms else 0.0
        figures["queue"], peak = _queue(record.waiting_steps, start, end)
        figures["queue_max"] = float(peak)
    figures["expired"] = float(sum(1 for v in record.visits if v.outcome == "expired"))
    figures["no_show"] = float(sum(1 for v in record.visits if v.outcome == "no_show"))
    figures["booked_unused"] = float(record.booked_unused)
    return figures


def combine(replications: Sequence[dict[int, Figures]]) -> dict[int, dict[str, Estimate]]:
    """Per hour and figure: the estimate over the replications that define it."""
    hours = sorted({h for rep in replications for h in rep})
    out: dict[int, dict[str, Estimate]] = {}
    for hour in hours:
        names = sorted({k for rep in replications for k in rep.get(hour, {})})
        out[hour] = {name: estimate([rep[hour][name] for rep in replications
                                     if hour in rep and name in rep[hour]
                                     and not math.isnan(rep[hour][name])])
                     for name in names}
    return out


def combine_day(replications: Sequence[Figures]) -> dict[str, Estimate]:
    names = sorted({k for rep in replications for k in rep})
    return {name: estimate([rep[name] for rep in replications
                            if name in rep and not math.isnan(rep[name])]) for name in names}
