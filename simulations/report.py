"""A simulated day for people and machines: tables, JSON and a PNG plot of the day."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from simulations.measures import Estimate
from simulations.runs import CenterResult, DayResult

NAME_WIDTH = 26


def _cell(e: Estimate | None, scale: float = 1.0, digits: int = 1, percent: bool = False
          ) -> str:
    if e is None or math.isnan(e.mean):
        return "—"
    if percent:
        text = f"{e.mean * 100:.0f}%"
        return text + (f"±{e.half * 100:.0f}" if e.n > 1 else "")
    text = f"{e.mean * scale:.{digits}f}"
    return text + (f"±{e.half * scale:.{digits}f}" if e.n > 1 else "")


def _row(label: str, figures: dict[str, Estimate], counters: str) -> str:
    get = figures.get
    return (f"{label:<{NAME_WIDTH}} {counters:>5} {_cell(get('arrivals'), digits=0):>8} "
            f"{_cell(get('mean_wait_min')):>10} {_cell(get('p90_wait_min')):>10} "
            f"{_cell(get('within_target'), percent=True):>8} "
            f"{_cell(get('utilisation'), percent=True):>8} {_cell(get('queue')):>9} "
            f"{_cell(get('abandoned'), percent=True):>7}")


def _header(first: str, target_min: float) -> str:
    return (f"{first:<{NAME_WIDTH}} {'quầy':>5} {'lượt':>8} {'chờ TB′':>10} {'chờ p90′':>10} "
            f"{f'≤{target_min:g}′':>8} {'bận':>8} {'hàng':>9} {'bỏ về':>7}\n"
            f"{'':<{NAME_WIDTH}} {'ctrs':>5} {'tickets':>8} {'mean wait':>10} "
            f"{'p90 wait':>10} {'within':>8} {'busy':>8} {'queue':>9} {'gave up':>7}")


def day_table(result: DayResult) -> str:
    """One line per center: the whole day, mean ± 95 % CI half-width over replications."""
    target_min = result.target_wait_s / 60
    lines = [_header("Trung tâm / Center", target_min)]
    for c in result.centers:
        counters = f"{max(c.roster.values(), default=0)}"
        lines.append(_row(c.center.display_name[:NAME_WIDTH], c.day, counters))
    return "\n".join(lines)


def hour_table(center: CenterResult, target_min: float) -> str:
    lines = [f"{center.center.display_name} ({center.center.id})",
             _header("Giờ / Hour", target_min)]
    for hour, figures in center.hours.items():
        counters = f"{center.roster.get(hour, 0)}"
        lines.append(_row(f"{hour:02d}:00", figures, counters))
    return "\n".join(lines)


def as_json(result: DayResult) -> dict[str, Any]:
    return {
        "date": result.date.isoformat(), "seed": result.seed,
        "replications": result.replications,
        "target": {"share": result.target_share, "wait_minutes": result.target_wait_s / 60},
        "figures": "mean and ci95 (half-width of the 95 % confidence interval) over "
                   "replications; docs/planning.md defines each",
        "centers": [{
            "id": c.center.id, "name": c.center.display_name,
            "roster": {f"{h:02d}": n for h, n in sorted(c.roster.items())},
            "day": {k: e.as_dict() for k, e in c.day.items()},
            "hours": {f"{h:02d}": {k: e.as_dict() for k, e in figures.items()}
                      for h, figures in c.hours.items()},
        } for c in result.centers],
    }


def _series(center: CenterResult, name: str, scale: float = 1.0
            ) -> tuple[list[int], list[float], list[float]]:
    hours, means, halves = [], [], []
    for hour, figures in center.hours.items():
        e = figures.get(name)
        if e is not None and not math.isnan(e.mean):
            hours.append(hour)
            means.append(e.mean * scale)
            halves.append((e.half if not math.isnan(e.half) else 0.0) * scale)
    return hours, means, halves


def plot_day(result: DayResult, path: Path, centers: int = 3) -> Path:
    """The day as a PNG: per center (the ``centers`` furthest from the target) waits with
    their confidence band, queue and counters, utilisation and share within target; with more
    centers, heat maps of every center and hour as well."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def worst(c: CenterResult) -> float:
        e = c.day.get("within_target")
        return e.mean if e is not None and not math.isnan(e.mean) else 1.0

    shown = sorted(result.centers, key=worst)[:centers]
    heat = len(result.centers) > centers
    columns = len(shown) + (1 if heat else 0)
    figure, axes = plt.subplots(3, columns, figsize=(5.2 * columns, 9), squeeze=False)
    target_min = result.target_wait_s / 60
    for col, center in enumerate(shown):
        top, mid, low = axes[0][col], axes[1][col], axes[2][col]
        for name, label in (("mean_wait_min", "mean wait"), ("p90_wait_min", "p90 wait")):
            hours, means, halves = _series(center, name)
            top.plot(hours, means, marker="o", label=label)
            top.fill_between(hours, [max(m - h, 0) for m, h in zip(means, halves, strict=True)],
                             [m + h for m, h in zip(means, halves, strict=True)], alpha=0.2)
        top.axhline(target_min, color="red", linestyle="--", linewidth=1, label="target")
        top.set_title(f"{center.center.display_name} ({center.center.id})")
        top.set_ylabel("minutes")
        top.legend(fontsize=8)
        hours, means, _ = _series(center, "queue")
        mid.bar(hours, means, color="tab:gray", label="queue (mean)")
        hours_c, counters, _ = _series(center, "counters")
        mid.step(hours_c, counters, where="mid", color="tab:green", label="open counters")
        mid.set_ylabel("people / counters")
        mid.legend(fontsize=8)
        for name, label in (("utilisation", "busy"), ("within_target", f"≤ {target_min:g} min"),
                            ("abandoned", "gave up")):
            hours, means, _ = _series(center, name, 100)
            low.plot(hours, means, marker=".", label=label)
        low.set_ylim(0, 105)
        low.set_ylabel("%")
        low.set_xlabel("hour")
        low.legend(fontsize=8)
    if heat:
        _heat_maps(result, [axes[row][-1] for row in range(3)], figure)
    figure.suptitle(f"Simulated day {result.date.isoformat()}, seed {result.seed}, "
                    f"{result.replications} replications (bands: 95 % CI)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _heat_maps(result: DayResult, axes: list[Any], figure: Any) -> None:
    hours = sorted({h for c in result.centers for h in c.hours})
    for ax, (name, label, scale) in zip(axes, (
            ("within_target", "share within target (%)", 100),
            ("p90_wait_min", "p90 wait (min)", 1),
            ("utilisation", "busy (%)", 100)), strict=True):
        grid = [[(c.hours.get(h, {}).get(name) or Estimate(math.nan, 0, 0)).mean * scale
                 for h in hours] for c in result.centers]
        image = ax.imshow(grid, aspect="auto", cmap="viridis_r" if scale == 1 else "viridis")
        ax.set_xticks(range(len(hours)), [f"{h:02d}" for h in hours], fontsize=7)
        ax.set_yticks([])
        ax.set_ylabel(f"{len(result.centers)} centers")
        ax.set_title(label, fontsize=9)
        figure.colorbar(image, ax=ax)
