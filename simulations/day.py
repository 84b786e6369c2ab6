"""``python -m simulations.day``: a province's working day simulated offline, with confidence.

Reads the province file (services, typical times, centers, counters and their services,
hours, priority groups, calling policy: the file the server loads) and the demand profile
(``simulations/data/demand_quangninh.toml``: arrivals by hour and service, priority,
appointments, no-shows, patience, service times). Each center's day runs on ``CenterModel``,
the engine's own rules in memory (simulations/offline.py), ``--replications`` times with seeds
``seed, seed + 1, …``; every figure is a mean with its 95 % confidence interval.

Output: a table per center (``--hourly``: per center and hour), ``--json FILE`` (``-`` for
stdout) and ``--png FILE``, a plot of the day. docs/planning.md defines every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from simulations.inputs import add_input_arguments, read_inputs, refusing
from simulations.report import as_json, day_table, hour_table, plot_day
from simulations.runs import simulate_province


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulations.day",
        description="Mô phỏng một ngày làm việc của toàn tỉnh / simulate a province's working "
                    "day offline on the engine's rules, with confidence intervals. "
                    "docs/planning.md explains the inputs and every figure.")
    add_input_arguments(parser)
    parser.add_argument("--replications", type=int, default=10, metavar="N",
                        help="independent days with seeds seed..seed+N-1 (default 10)")
    parser.add_argument("--hourly", action="store_true",
                        help="print each center's figures by hour as well")
    parser.add_argument("--json", metavar="FILE",
                        help="write every figure as JSON to FILE ('-': standard output)")
    parser.add_argument("--png", type=Path, metavar="FILE", help="draw the day into FILE")
    return parser


@refusing
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    inputs = read_inputs(args)
    result = simulate_province(inputs.province, inputs.profile, inputs.centers, inputs.date,
                               args.seed, args.replications, inputs.rosters)
    if args.json == "-":
        print(json.dumps(as_json(result), indent=1, ensure_ascii=False))
        return 0
    print(f"{inputs.date:%A %Y-%m-%d}, seed {args.seed}, {args.replications} replications; "
          f"mean ± 95 % CI / trung bình ± khoảng tin cậy 95 %")
    print(day_table(result))
    if args.hourly:
        for center in result.centers:
            print()
            print(hour_table(center, result.target_wait_s / 60))
    if args.json:
        Path(args.json).write_text(json.dumps(as_json(result), indent=1, ensure_ascii=False),
                                   encoding="utf-8")
        print(f"\nJSON: {args.json}")
    if args.png:
        print(f"PNG: {plot_day(result, args.png)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
