"""Benchmarks anyone can rerun: ``python -m simulations.bench <name> [--seconds N] [--json]``.

A benchmark is a module of this package that defines ``BENCH = Benchmark(...)``. The command
line lists the package to find them, so adding ``simulations/bench/api.py`` with its own
``BENCH`` adds an ``api`` subcommand (and includes it in ``all``) without touching this file or
``__main__.py``. Modules whose name starts with ``_`` are helpers and are not listed.

Every benchmark gets the common options ``--seconds`` and ``--json`` (see
``add_common_arguments``), adds its own in ``add_arguments``, returns one JSON-serialisable
``dict`` from ``run`` and renders it for people with ``render``. A benchmark measures its own
ceiling in the same run (../shared/PERFORMANCE.md): the figure that matters is the ratio.

``all`` writes one report (``bench-results.json``, ``bench-results.md``) of every figure beside
its ceiling and goal. It reads each result by conventions (``_report.py`` has them in full): a
figure is a number at the top of the result, or in a table of numbers one level down; name its
ceiling in ``<figure>_ceiling`` (another figure of the result) and its goal in
``<figure>_goal`` (``">= 0.8"``) or as a ``goals`` entry ``<figure>_at_least_<n>`` (also
``at_most``, ``under``, ``over``) mapped to whether it was met.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Benchmark", "add_common_arguments", "discover"]

DEFAULT_SECONDS = 5.0


@dataclass(frozen=True)
class Benchmark:
    """One subcommand of ``python -m simulations.bench``."""

    name: str
    summary: str  # one line, shown in ``--help``
    description: str  # shown in ``<name> --help``
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], dict[str, Any]]
    render: Callable[[dict[str, Any]], str]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark (and ``all``) accepts."""
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, metavar="N",
        help=f"measured duration of each workload, in seconds (default {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a table",
    )


def discover() -> tuple[dict[str, Benchmark], dict[str, str]]:
    """Every benchmark of this package by name, and the modules that failed to import."""
    found: dict[str, Benchmark] = {}
    broken: dict[str, str] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module_name = f"{__name__}.{info.name}"
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # one broken benchmark must not hide the others
            broken[module_name] = f"{type(error).__name__}: {error}"
            continue
        bench = getattr(module, "BENCH", None)
        if isinstance(bench, Benchmark):
            found[bench.name] = bench
    return dict(sorted(found.items())), broken
