"""The ``soak`` benchmark's memory samples as one SVG (docs/soak-memory.svg shows it).

Written by hand, not with matplotlib: a few polylines on two axes need no plotting library,
and the file stays small, diffable text. One polyline per process (``data-process`` names
it), dashed lines for the extra series (Redis's own ``used_memory``), the second half of
the day shaded, where the growth slope is fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

WIDTH, HEIGHT = 900, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 50, 50
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


@dataclass(frozen=True)
class Series:
    name: str                              # the process (or what is measured of it)
    points: Sequence[tuple[float, float]]  # (simulated hour of the day, MiB)
    dashed: bool = False
    colour_of: str = ""                    # draw in the colour of this other series


def _ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round values spanning [low, high] (steps of 1, 2 or 5 × 10^n)."""
    span = max(high - low, 1e-9)
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _clock(hour: float) -> str:
    minutes = round(hour * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def write_svg(series: Sequence[Series], path: Path, title: str,
              shade_from: float | None = None) -> Path:
    """``series`` as polylines against simulated time (x, hours of the day) and MiB (y, from
    0); the span from ``shade_from`` to the last sample shaded."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x_low, x_high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_high - x_low < 1e-6:
        x_high = x_low + 1.0
    y_high = max(ys, default=1.0) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - y / y_high * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2:.0f}" y="24" text-anchor="middle" font-size="14">'
           f'{escape(title)}</text>']
    if shade_from is not None and x_low <= shade_from < x_high:
        out.append(f'<rect x="{px(shade_from):.1f}" y="{TOP}" '
                   f'width="{px(x_high) - px(shade_from):.1f}" height="{plot_h}" '
                   f'fill="#f2f2f2"><title>second half: growth fitted here</title></rect>')
    for tick in _ticks(0.0, y_high):
        y = py(tick)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{tick:g}</text>')
    for tick in _ticks(x_low, x_high, 8):
        x = px(tick)
        out.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" '
                   f'y2="{TOP + plot_h + 5}" stroke="black"/><text x="{x:.1f}" '
                   f'y="{TOP + plot_h + 18}" text-anchor="middle">{_clock(tick)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
               f'stroke="black"/>')
    out.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 12}" text-anchor="middle">'
               'simulated time of day</text>')
    out.append(f'<text x="18" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 18 {TOP + plot_h / 2:.0f})">MiB</text>')
    colours = {s.name: COLOURS[i % len(COLOURS)]
               for i, s in enumerate(s for s in series if not s.colour_of)}
    for index, one in enumerate(series):
        colour = colours.get(one.colour_of or one.name, COLOURS[index % len(COLOURS)])
        dash = ' stroke-dasharray="6 4"' if one.dashed else ""
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in one.points)
        out.append(f'<polyline data-process="{escape(one.name)}" points="{points}" '
                   f'fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        legend_y = TOP + 14 + index * 20
        out.append(f'<line x1="{LEFT + plot_w + 12}" y1="{legend_y - 4}" '
                   f'x2="{LEFT + plot_w + 36}" y2="{legend_y - 4}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/><text x="{LEFT + plot_w + 42}" y="{legend_y}">'
                   f'{escape(one.name)}</text>')
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path
