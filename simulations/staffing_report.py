"""The staffing advisor's roster for people: a table a director can post, a CSV, a plot."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from simulations.staffing import Advice, pooled_within

NAME_WIDTH = 24


def roster_table(advice: list[Advice], target_share: float, target_wait_s: float) -> str:
    hours = sorted({h for a in advice for h in a.roster})
    head = " ".join(f"{h:02d}" for h in hours)
    lines = [f"Số quầy theo giờ / counters per hour, mục tiêu / target: {target_share:.0%} "
             f"gọi trong / called within {target_wait_s / 60:g}′",
             f"{'Trung tâm / Center':<{NAME_WIDTH}} {head}  {'quầy·giờ':>8} {'hiện có':>7}  "
             "đạt / met",
             f"{'':<{NAME_WIDTH}} {' ' * len(head)}  {'ctr-hours':>8} {'config':>7}"]
    for a in advice:
        cells = " ".join(f"{a.roster.get(h, 0):>2}" if h in a.roster else " ·" for h in hours)
        hours_total = sum(a.roster.values())
        verdict = "✓" if a.met else "✗"
        notes = f"  {'; '.join(a.notes)}" if a.notes else ""
        lines.append(f"{a.center.display_name[:NAME_WIDTH]:<{NAME_WIDTH}} {cells}  "
                     f"{hours_total:>8} {len(a.center.counters):>7}  {verdict}{notes}")
    lines.append(f"{'Erlang C (first cut)':<{NAME_WIDTH}} " + " ".join(
        f"{sum(a.first_cut.get(h, 0) for a in advice):>2}" for h in hours) + "  (all centers)")
    lines.append(f"{'advised':<{NAME_WIDTH}} " + " ".join(
        f"{sum(a.roster.get(h, 0) for a in advice):>2}" for h in hours) + "  (all centers)")
    return "\n".join(lines)


def rows(advice: list[Advice]) -> list[dict[str, Any]]:
    """One row per center and hour: the roster (center, hour, counters, readable by
    ``--roster``) and what backs it."""
    out = []
    for a in advice:
        for hour in sorted(a.roster):
            load = a.loads.get(hour)
            figures = a.result.hours.get(hour, {})
            pooled = pooled_within(a.result.replications, hour)
            p90 = figures.get("p90_wait_min")
            busy = figures.get("utilisation")
            out.append({
                "center": a.center.id, "hour": hour, "counters": a.roster[hour],
                "erlang_c": a.first_cut.get(hour, ""),
                "tickets": round(load.tickets, 1) if load else "",
                "offered_erlangs": round(load.offered_erlangs, 2) if load else "",
                "within_target": round(pooled, 3) if pooled is not None else "",
                "p90_wait_min": round(p90.mean, 1) if p90 and not math.isnan(p90.mean) else "",
                "utilisation": round(busy.mean, 3) if busy and not math.isnan(busy.mean) else "",
                "configured": len(a.center.counters), "met": a.met,
            })
    return out


def write_csv(path: Path, advice: list[Advice]) -> Path:
    table = rows(advice)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]) if table else ["center"])
        writer.writeheader()
        writer.writerows(table)
    return path


def plot_roster(path: Path, advice: list[Advice], target_share: float) -> Path:
    """Counters by center and hour (numbers in the cells), and per hour the province's
    Erlang C first cut against the advised roster and the configured counters."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = sorted({h for a in advice for h in a.roster})
    grid = [[a.roster.get(h, 0) for h in hours] for a in advice]
    height = max(4.0, 0.22 * len(advice) + 2)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, height),
                                         gridspec_kw={"width_ratios": [3, 2]})
    image = left.imshow(grid, aspect="auto", cmap="YlOrRd")
    for row, line in enumerate(grid):
        for col, value in enumerate(line):
            left.text(col, row, str(value), ha="center", va="center", fontsize=7)
    left.set_xticks(range(len(hours)), [f"{h:02d}" for h in hours])
    left.set_yticks(range(len(advice)), [a.center.display_name for a in advice], fontsize=6)
    left.set_title(f"advised counters per hour (target {target_share:.0%})")
    figure.colorbar(image, ax=left)
    for label, values in (
            ("Erlang C first cut", [sum(a.first_cut.get(h, 0) for a in advice) for h in hours]),
            ("advised (simulation-checked)", [sum(a.roster.get(h, 0) for a in advice)
                                              for h in hours]),
            ("configured", [sum(len(a.center.counters) for a in advice if h in a.roster)
                            for h in hours])):
        right.plot(hours, values, marker="o", label=label)
    right.set_xlabel("hour")
    right.set_ylabel("counters, all centers shown")
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
