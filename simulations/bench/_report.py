"""One table of every benchmark's figures, beside the ceiling measured in the same run and the
goal: what ``python -m simulations.bench all`` writes (``bench-results.json``, ``.md``).

Generic over whatever benchmarks are registered; it reads their JSON by these conventions
(docs/benchmarks.md, "One report"):

- a **figure** is a number at the top level of a result (``engine_ops_per_s``), or one level
  down in a table of numbers (``redis_usec_per_call.issue``, ``shown_ms.p99``); the
  bookkeeping tables (``setup``, ``machine``, ``versions``, ``phases``, ``workloads``, …) are
  not figures;
- **its ceiling**: ``<figure>_ceiling`` names another figure of the same result (or is a
  number): the reference measured in the same run (a ceiling for rates, a floor for times);
- **its goal**: ``<figure>_goal`` is a text with an operator (``">= 0.8"``, ``"≤ 30"``,
  ``"< 250"``); or an entry of ``goals`` (name → met) whose name reads
  ``<figure>_<at_least|at_most|under|over|below|above>_<number>[_<unit>]`` (the unit may be the
  figure's last word: ``scrape_under_250_ms`` is the goal of ``scrape_ms``); an entry that
  names no figure is a row of its own;
- a result with ``skipped`` is listed as skipped.

Benchmarks written before these conventions get their ceilings from :data:`KNOWN_CEILINGS`.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import os
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOOKKEEPING = frozenset({"bench", "setup", "machine", "versions", "phases", "workloads",
                         "per_script_phase", "goals", "errors", "skipped", "http", "in_process",
                         "day", "rounds", "png", "centers", "sockets", "replicas"})
KNOWN_CEILINGS = {
    "engine": {"engine_ops_per_s": "noop_script_ops_per_s",
               **{f"redis_usec_per_call.{s}": "redis_usec_per_call.noop"
                  for s in ("issue", "call_next", "start", "complete")}},
    "api": {"issue_rps": "hello_rps"},
    "display": {"shown_ms.p50": "bare_ws_ms.p50", "shown_ms.p99": "bare_ws_ms.p99"},
}
OPERATORS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    ">=": ("≥", operator.ge), "≥": ("≥", operator.ge), "<=": ("≤", operator.le),
    "≤": ("≤", operator.le), "<": ("<", operator.lt), ">": (">", operator.gt),
    "at_least": ("≥", operator.ge), "at_most": ("≤", operator.le), "under": ("<", operator.lt),
    "below": ("<", operator.lt), "over": (">", operator.gt), "above": (">", operator.gt),
}
GOAL_NAME = re.compile(r"^(?P<subject>.+?)_(?P<op>at_least|at_most|under|below|over|above)_"
                       r"(?P<number>\d+(?:\.\d+)?)(?:_(?P<unit>[a-z]+))?$")
GOAL_TEXT = re.compile(r"^\s*(?P<op>>=|<=|≥|≤|<|>)\s*(?P<number>-?\d+(?:\.\d+)?)")


@dataclass
class Row:
    bench: str
    figure: str
    value: float | None
    ceiling: str = ""
    ceiling_value: float | None = None
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.ceiling_value:
            return None
        return self.value / self.ceiling_value

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {"bench": self.bench, "figure": self.figure, "value": self.value,
                "ceiling": self.ceiling or None, "ceiling_value": self.ceiling_value,
                "ratio": None if ratio is None else round(ratio, 3),
                "goal": self.goal or None, "met": self.met}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def figures(result: dict[str, Any]) -> dict[str, float | None]:
    """Every figure of a result by its dotted name (see the module docstring)."""
    out: dict[str, float | None] = {}
    for key, value in result.items():
        if key in BOOKKEEPING or key.startswith("goal") or key.endswith(("_goal", "_ceiling")):
            continue
        if _number(value) is not None or (value is None and key.endswith(("_ms", "_s"))):
            out[key] = _number(value)
        elif isinstance(value, dict) and value and all(
                _number(v) is not None or v is None for v in value.values()):
            for sub, number in value.items():
                out[f"{key}.{sub}"] = _number(number)
    return out


def _goal_of_text(text: str, value: float | None) -> tuple[str, bool | None]:
    match = GOAL_TEXT.match(text)
    if match is None:
        return text, None
    symbol, compare = OPERATORS[match["op"]]
    number = float(match["number"])
    return f"{symbol} {number:g}", (None if value is None else compare(value, number))


def rows_of(name: str, result: dict[str, Any]) -> list[Row]:
    if "skipped" in result:
        return [Row(name, f"skipped: {result['skipped']}", None)]
    found = figures(result)
    rows = {figure: Row(name, figure, value) for figure, value in found.items()}
    known = KNOWN_CEILINGS.get(name, {})
    for figure, row in rows.items():
        ceiling = result.get(f"{figure}_ceiling", known.get(figure))
        if isinstance(ceiling, str) and ceiling in found:
            row.ceiling, row.ceiling_value = ceiling, found[ceiling]
        elif _number(ceiling) is not None:
            row.ceiling, row.ceiling_value = "given", _number(ceiling)
        goal = result.get(f"{figure}_goal")
        if isinstance(goal, str):
            row.goal, row.met = _goal_of_text(goal, row.value)
    extra: list[Row] = []
    for goal_name, met in (result.get("goals") or {}).items():
        match = GOAL_NAME.match(goal_name)
        target = None
        if match is not None:
            subject, unit = match["subject"], match["unit"]
            target = next((f for f in (subject, f"{subject}_{unit}") if f in rows), None)
        if target is not None and match is not None:
            symbol = OPERATORS[match["op"]][0]
            rows[target].goal = f"{symbol} {float(match['number']):g}"
            rows[target].met = bool(met)
        else:
            extra.append(Row(name, goal_name.replace("_", " "), None, goal="(as named)",
                             met=bool(met)))
    return list(rows.values()) + extra


def _cell(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def markdown(rows: list[Row], results: dict[str, Any]) -> str:
    lines = ["| benchmark | figure | value | ceiling in the same run | ratio | goal | met |",
             "|---|---|---:|---|---:|---|---|"]
    for row in rows:
        ceiling = f"{row.ceiling} = {_cell(row.ceiling_value)}" if row.ceiling else ""
        ratio = row.ratio
        met = {True: "met", False: "**not met**", None: ""}[row.met]
        lines.append(f"| {row.bench} | {row.figure} | {_cell(row.value)} | {ceiling} | "
                     f"{'' if ratio is None else f'{ratio:.3f}'} | {row.goal} | {met} |")
    loads = []
    for name, result in results.items():
        load = (result.get("machine") or {}).get("loadavg_1min") if isinstance(
            result, dict) else None
        if load:
            loads.append(f"{name} {load}")
    if loads:
        lines.append("")
        lines.append("1-minute load average before and after each benchmark (other processes "
                     "share the cores): " + "; ".join(loads))
    return "\n".join(lines) + "\n"


def report(results: dict[str, Any]) -> dict[str, Any]:
    """``bench-results.json``: when, where, every result as it came, and the table."""
    rows: list[Row] = []
    for name, result in results.items():
        if name != "errors" and isinstance(result, dict):
            rows += rows_of(name, result)
    return {"generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "table": [row.as_dict() for row in rows], "results": results,
            "markdown": markdown(rows, results)}
