"""``python -m simulations.bench``: run one benchmark, or ``all`` of them in name order."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from simulations.bench import Benchmark, add_common_arguments, discover


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
    commands.add_parser(
        "all", parents=[common],
        help=f"run every benchmark ({', '.join(benches) or 'none found'}) in turn, each with "
        "its own defaults and the --seconds given here",
        description="Run every benchmark in name order with its defaults; with --json, print "
        "one object keyed by benchmark name.",
    )
    return parser, parsers


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
    for name, bench in benches.items():
        own = parsers[name].parse_args([])
        own.seconds, own.json = args.seconds, args.json
        results[name] = bench.run(own)
        if not args.json:
            print(bench.render(results[name]), end="\n\n", flush=True)
    if broken:
        results["errors"] = broken
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
