"""``python -m simulations.bench``: run one benchmark, or ``all`` of them in name order.

``all`` also writes ``bench-results.json`` and ``bench-results.md`` (into ``--out``): every
figure beside the ceiling measured in the same run and its goal (simulations/bench/_report.py
reads any benchmark's JSON by the conventions it documents).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulations.bench import Benchmark, add_common_arguments, discover
from simulations.bench._report import report


def build_parser(
    benches: dict[str, Benchmark],
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    common = argparse.ArgumentParser(add_help=False)
    add_common_arguments(common)
    parser = argparse.ArgumentParser(
        prog="python -m simulations.bench",
        description="Benchmarks of the queue system. Each measures its own ceiling in the same "
        "run and reports the ratio; docs/benchmarks.md explains the method and the figures.",
    )
    commands = parser.add_subparsers(dest="bench", required=True, metavar="BENCH")
    parsers = {}
    for bench in benches.values():
        sub = commands.add_parser(
            bench.name, parents=[common], help=bench.summary, description=bench.description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        bench.add_arguments(sub)
        parsers[bench.name] = sub
    every = commands.add_parser(
        "all", parents=[common],
        help=f"run every benchmark ({', '.join(benches) or 'none found'}) in turn, each with "
        "its own defaults and the --seconds given here; write bench-results.json and .md",
        description="Run every benchmark in name order with its defaults; write "
        "bench-results.json (every result and the table) and bench-results.md (every figure "
        "beside its ceiling from the same run and its goal) into --out; with --json, print "
        "one object keyed by benchmark name.",
    )
    every.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                       help="folder for bench-results.json and bench-results.md (default: .)")
    every.add_argument("--only", metavar="A,B", help="run only these benchmarks")
    every.add_argument("--skip", metavar="A,B", help="run all but these benchmarks")
    return parser, parsers


def chosen(benches: dict[str, Benchmark], only: str | None, skip: str | None
           ) -> dict[str, Benchmark]:
    names = set(benches)
    wanted = set(only.split(",")) if only else names
    unknown = (wanted | set((skip or "").split(",")) - {""}) - names
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; there are {sorted(names)}")
    wanted -= set((skip or "").split(","))
    return {name: bench for name, bench in benches.items() if name in wanted}


def main(argv: Sequence[str] | None = None) -> int:
    benches, broken = discover()
    for module, error in broken.items():
        print(f"warning: {module} could not be imported and is skipped: {error}",
              file=sys.stderr)
    parser, parsers = build_parser(benches)
    args = parser.parse_args(argv)
    if args.bench != "all":
        result = benches[args.bench].run(args)
        print(json.dumps(result, indent=2) if args.json
              else benches[args.bench].render(result))
        return 0
    results: dict[str, Any] = {}
    for name, bench in chosen(benches, args.only, args.skip).items():
        own = parsers[name].parse_args([])
        own.seconds, own.json = args.seconds, args.json
        results[name] = bench.run(own)
        if not args.json:
            print(bench.render(results[name]), end="\n\n", flush=True)
    if broken:
        results["errors"] = broken
    written = report(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-results.json").write_text(json.dumps(written, indent=2),
                                                 encoding="utf-8")
    (args.out / "bench-results.md").write_text(written["markdown"], encoding="utf-8")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(written["markdown"])
    print(f"wrote {args.out / 'bench-results.json'} and {args.out / 'bench-results.md'}",
          file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
