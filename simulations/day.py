"""``python -m simulations.day``: simulate a province's working day offline, to plan staffing.

Each center runs on ``CenterModel`` — the same routing, priority interleave and numbering the
Lua scripts implement — in a discrete-event simulation: citizens arrive through the opening
hours (a morning and an early-afternoon peak), each for a service of the configured mix, some
with a statutory priority; every open counter calls the next ticket by the real policy and
serves it for a time drawn around the service's typical time; some called citizens do not
show up. Counters keep serving whoever still waits when arrivals pause (lunch, closing).
Arrivals scale with the center's population (missing or implausibly low figures are raised to
the median, see ../shared/data/README.md).

``--plan`` searches, per center, the smallest number of counters (cycling the center's
configured counter layouts) whose 90th-percentile wait stays within the center's target, and
prints the staffing table. Everything is seeded: the same command gives the same day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from queue_server.province import Center, Province, load_province
from queue_server.rules.center_model import CenterModel
from queue_server.rules.clock import epoch_ms
from queue_server.rules.routing import RoutingPolicy

# Share of the day's arrivals by local hour (07:30-11:30, 13:30-17:00 open).
HOURLY_PROFILE = {7: 0.06, 8: 0.16, 9: 0.17, 10: 0.13, 11: 0.04, 13: 0.08, 14: 0.15, 15: 0.13,
                  16: 0.08}
SERVICE_MIX = {"certification": 0.30, "civil_status": 0.20, "land": 0.15, "results": 0.12,
               "construction": 0.06, "business": 0.07, "social_protection": 0.06, "merit": 0.04}
PRIORITY_SHARE = 0.10
NO_SHOW_SHARE = 0.04
LOW_POPULATION = 8000  # below this a figure is not trusted (data README) and the median is used


@dataclass
class CenterDay:
    center: str
    counters: int
    arrivals: int
    served: int
    no_shows: int
    mean_wait_s: float
    p90_wait_s: float
    max_wait_s: float
    load: float  # busy time over open hours; above 1 means serving past closing
    target_s: int

    @property
    def meets_target(self) -> bool:
        """Everyone was called (no service left without a counter) within the target."""
        return self.served + self.no_shows == self.arrivals and self.p90_wait_s <= self.target_s


def daily_arrivals(center: Center, median_population: int, per_thousand: float) -> int:
    population = center.population or 0
    if population < LOW_POPULATION:
        population = median_population
    return max(1, round(population * per_thousand / 1000))


def _arrival_times(rng: random.Random, count: int, day_start_ms: int) -> list[int]:
    hours, weights = zip(*HOURLY_PROFILE.items(), strict=True)
    times = []
    for hour in rng.choices(hours, weights, k=count):
        start = 30 if hour in (7, 13) else 0
        end = 30 if hour == 11 else 60
        minute = rng.uniform(start, end)
        times.append(day_start_ms + int((hour * 60 + minute) * 60_000))
    return sorted(times)


def simulate_center(province: Province, center: Center, counters: int, arrivals: int,
                    seed: int, day: str = "2026-11-23") -> CenterDay:
    rng = random.Random(f"{seed}:{center.id}:{counters}")
    layouts = [c.services for c in center.counters]
    counter_services = {str(i + 1): layouts[i % len(layouts)] for i in range(counters)}
    policy = province.policy
    model = CenterModel(
        center_id=center.id, prefixes={s.id: s.prefix for s in province.services},
        counter_services=counter_services, priorities=[p.id for p in province.priorities],
        reasons=[r.id for r in province.pause_reasons],
        policy=RoutingPolicy(policy.priority_max_in_row, policy.appointment_window_s * 1000),
        max_recalls=policy.max_recalls)
    typical = {s.id: s.typical_s for s in province.services}
    midnight = epoch_ms(dt.datetime.fromisoformat(day))
    events: list[tuple[int, int, str, str]] = []  # (time, order, kind, counter or service)
    order = 0
    for at in _arrival_times(rng, arrivals, midnight):
        service = rng.choices(list(SERVICE_MIX), list(SERVICE_MIX.values()))[0]
        events.append((at, order, "arrive", service))
        order += 1
    heapq.heapify(events)
    for counter in counter_services:
        model.open_counter(midnight, counter, f"staff{counter}")
    idle = set(counter_services)
    waits: list[float] = []
    busy_ms = 0
    served = no_shows = 0
    while events:
        now, _, kind, what = heapq.heappop(events)
        if kind == "arrive":
            model.issue(now, what, priority="elderly" if rng.random() < PRIORITY_SHARE else "")
        else:
            idle.add(what)
        for counter in sorted(idle):
            ticket = model.call_next(now, counter)
            if ticket is None:
                continue
            idle.discard(counter)
            waits.append((now - ticket.arrived) / 1000)
            if rng.random() < NO_SHOW_SHARE:
                model.no_show(now, counter)
                no_shows += 1
                duration = 60_000  # the recalls before giving up
            else:
                model.start(now, counter)
                model.complete(now, counter)
                served += 1
                duration = int(rng.lognormvariate(0, 0.45) * typical[ticket.service] * 1000)
            busy_ms += duration
            order += 1
            heapq.heappush(events, (now + duration, order, "free", counter))
    open_ms = int(7.5 * 3_600_000)  # 07:30-11:30 and 13:30-17:00
    deciles = statistics.quantiles(waits, n=10) if len(waits) >= 2 else [0.0] * 9
    return CenterDay(
        center=center.id, counters=counters, arrivals=arrivals, served=served,
        no_shows=no_shows, mean_wait_s=statistics.fmean(waits) if waits else 0.0,
        p90_wait_s=deciles[8], max_wait_s=max(waits, default=0.0),
        load=busy_ms / (counters * open_ms), target_s=center.wait_target_s)


def plan_center(province: Province, center: Center, arrivals: int, seed: int,
                max_counters: int) -> CenterDay:
    """The fewest counters that keep the 90th-percentile wait within target."""
    for counters in range(1, max_counters + 1):
        result = simulate_center(province, center, counters, arrivals, seed)
        if result.meets_target:
            return result
    return result


def _table(rows: Sequence[CenterDay], province: Province) -> str:
    names = {c.id: c.display_name for c in province.centers}
    lines = [f"{'Trung tâm / Center':<28} {'quầy':>4} {'đến':>5} {'phục vụ':>7} "
             f"{'chờ TB':>7} {'chờ p90':>8} {'tải':>5}  đạt / meets"]
    for r in rows:
        lines.append(
            f"{names[r.center]:<28} {r.counters:>4} {r.arrivals:>5} {r.served:>7} "
            f"{r.mean_wait_s / 60:>6.1f}' {r.p90_wait_s / 60:>7.1f}' {r.load:>5.0%}  "
            f"{'✓' if r.meets_target else '✗ over target'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulations.day",
        description="Mô phỏng một ngày làm việc của toàn tỉnh / simulate a province's day "
                    "offline on the real queue rules, and plan counters per center.")
    parser.add_argument("--per-thousand", type=float, default=4.0,
                        help="tickets per day per 1,000 inhabitants (default 4)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--plan", action="store_true",
                        help="find the fewest counters meeting each center's wait target")
    parser.add_argument("--max-counters", type=int, default=12,
                        help="largest staffing tried by --plan (default 12)")
    parser.add_argument("--center", action="append", help="only these center codes")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args(argv)
    province = load_province()
    centers = [province.center(c) for c in args.center] if args.center else province.centers
    known = [c.population for c in province.centers if c.population]
    median = int(statistics.median(known))
    rows = []
    for center in centers:
        arrivals = daily_arrivals(center, median, args.per_thousand)
        if args.plan:
            rows.append(plan_center(province, center, arrivals, args.seed, args.max_counters))
        else:
            rows.append(simulate_center(province, center, len(center.counters), arrivals,
                                        args.seed))
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
    else:
        print(_table(rows, province))
        total = sum(r.counters for r in rows)
        print(f"\n{len(rows)} trung tâm / centers, {total} quầy / counters, "
              f"{sum(r.arrivals for r in rows)} lượt / tickets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
