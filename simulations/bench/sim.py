"""``sim``: how fast the offline day runs, against the bare rules it runs on.

Method: the province's day (54 centers, the shipped demand profile, seed 1) is simulated in
rounds for ``--seconds``; each ticket is a citizen's whole stay (issue or booking, the call,
recalls, start, complete or transfer, with patience and breaks scheduled), so the figure is
``tickets_per_s``. The ceiling, measured in alternating rounds of the same length: one
center's ``CenterModel`` doing bare issue → call next → start → complete cycles, nothing
scheduled (``bare_cycles_per_s``). The ratio says what the day's bookkeeping (events,
citizens, figures) costs over the rules themselves. Goal: a province day (about 7,000
tickets) in under 2 s, so ``python -m simulations.staffing`` over 54 centers stays a matter of
minutes: ``tickets_per_s ≥ 3500``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from typing import Any

from queue_server.province import load_province
from queue_server.rules.center_model import CenterModel
from queue_server.rules.routing import RoutingPolicy
from simulations.bench import Benchmark
from simulations.demand import check_centers, load_demand
from simulations.offline import simulate_day

GOAL = 3500.0


def _province_round(seconds: float, seed: int) -> tuple[int, float]:
    province = load_province()
    profile = check_centers(load_demand(), province, province.centers)
    tickets, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for center in province.centers:
            record = simulate_day(province, profile, center, dt.date(2026, 11, 23), seed)
            tickets += len(record.visits)
            seed += 1
    return tickets, time.perf_counter() - start


def _bare_round(seconds: float) -> tuple[int, float]:
    model = CenterModel("B", prefixes={"s": "A"}, counter_services={"1": ["s"], "2": ["s"]},
                        reasons=["break"], policy=RoutingPolicy(2, 900_000), max_recalls=2)
    for counter in ("1", "2"):
        model.open_counter(0, counter, f"staff{counter}")
    cycles, now, start = 0, 1_700_000_000_000, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(500):
            now += 1000
            counter = "12"[cycles % 2]
            model.issue(now, "s")
            model.call_next(now, counter)
            model.start(now, counter)
            model.complete(now, counter)
            cycles += 1
    return cycles, time.perf_counter() - start


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    rounds = max(2, int(args.seconds))
    tickets = cycles = 0
    day_s = bare_s = 0.0
    for r in range(rounds):
        order = ("day", "bare") if r % 2 == 0 else ("bare", "day")
        for kind in order:
            if kind == "day":
                n, s = _province_round(args.seconds / rounds, args.seed + r * 1000)
                tickets, day_s = tickets + n, day_s + s
            else:
                n, s = _bare_round(args.seconds / rounds)
                cycles, bare_s = cycles + n, bare_s + s
    tickets_per_s = tickets / day_s
    bare = cycles / bare_s
    return {
        "bench": "sim",
        "tickets_per_s": round(tickets_per_s),
        "bare_cycles_per_s": round(bare),
        "tickets_per_s_ceiling": "bare_cycles_per_s",
        "tickets_per_s_goal": f">= {GOAL:g}",
        "goals": {f"tickets_per_s_at_least_{GOAL:g}": tickets_per_s >= GOAL},
        "setup": {"seconds": args.seconds, "rounds": rounds, "tickets": tickets,
                  "cycles": cycles},
        "machine": {"cpus": os.cpu_count(),
                    "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
    }


def render(result: dict[str, Any]) -> str:
    met = "met" if all(result["goals"].values()) else "NOT met"
    return (f"sim: offline day {result['tickets_per_s']:,} tickets/s, bare CenterModel "
            f"{result['bare_cycles_per_s']:,} cycles/s (ceiling), goal ≥ {GOAL:g}: {met}; "
            f"load average {result['machine']['loadavg_1min']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")


BENCH = Benchmark(
    name="sim",
    summary="offline day simulation: tickets/s against bare CenterModel cycles",
    description=__doc__ or "",
    add_arguments=add_arguments,
    run=run,
    render=render,
)
