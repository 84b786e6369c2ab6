"""What the drive found: citizens' waits beside the offline prediction, every error, and every
call the driver made accounted for on the display and province sockets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from simulations.live.backend import Tally
from simulations.live.sockets import Follower
from simulations.measures import Figures, hourly_figures
from simulations.process import CenterRecord


@dataclass
class SocketCheck:
    name: str
    expected: int
    seen: int
    missing: list[str]
    doubled: list[str]
    unexpected: list[str]
    connects: int
    snapshots_after_reconnect: int

    @property
    def ok(self) -> bool:
        return not (self.missing or self.doubled or self.unexpected)


@dataclass
class DriveReport:
    speed: float
    seed: int
    centers: list[str]
    hours: dict[str, dict[int, dict[str, Figures]]]  # center → hour → live/offline figures
    tickets: dict[str, tuple[int, int]]              # center → (live, offline)
    errors: list[str]
    races: list[str]
    sockets: list[SocketCheck]
    ticket_pages: tuple[int, int]                    # followed tickets called, saw their call
    requests: int
    actions: dict[str, int]
    wall_s: float
    lag_s: dict[str, float]          # how late timers fired, simulated seconds
    http_ms: dict[str, float]        # request round trips, wall ms
    notes: list[str] = field(default_factory=list)
    by_url: dict[str, int] = field(default_factory=dict)  # requests per replica

    @property
    def ok(self) -> bool:
        return (not self.errors and all(s.ok for s in self.sockets)
                and self.ticket_pages[0] == self.ticket_pages[1])

    def as_json(self) -> dict[str, Any]:
        def clean(figures: Figures) -> dict[str, float | None]:
            return {k: (None if math.isnan(v) else round(v, 3)) for k, v in figures.items()}

        return {
            "ok": self.ok, "speed": self.speed, "seed": self.seed, "centers": self.centers,
            "requests": self.requests, "requests_by_url": self.by_url,
            "actions": self.actions,
            "wall_s": round(self.wall_s, 1), "clock_lag_s": self.lag_s,
            "http_ms": self.http_ms,
            "tickets": {c: {"live": a, "offline": b} for c, (a, b) in self.tickets.items()},
            "hours": {c: {f"{h:02d}": {side: clean(f) for side, f in sides.items()}
                          for h, sides in hours.items()} for c, hours in self.hours.items()},
            "errors": self.errors, "races": self.races,
            "sockets": [s.__dict__ | {"ok": s.ok} for s in self.sockets],
            "ticket_pages": {"called": self.ticket_pages[0], "saw_call": self.ticket_pages[1]},
            "notes": self.notes,
        }


def check_socket(follower: Follower, expected: dict[str, list[str]]) -> SocketCheck:
    wanted = {(center, event) for center, events in expected.items() for event in events}
    seen = set(follower.seen)
    return SocketCheck(
        name=f"{follower.name} via {follower.via}" if follower.via else follower.name,
        expected=len(wanted), seen=len(seen & wanted),
        missing=sorted(f"{c}:{e}" for c, e in wanted - seen),
        doubled=sorted(f"{c}:{e}" for (c, e), n in follower.seen.items() if n > 1),
        unexpected=sorted(f"{c}:{e}" for c, e in seen - wanted),
        connects=follower.connects,
        snapshots_after_reconnect=follower.snapshots_after_reconnect)


def compare(live: Sequence[CenterRecord], offline: Sequence[CenterRecord], target_wait_s: float
            ) -> tuple[dict[str, dict[int, dict[str, Figures]]], dict[str, tuple[int, int]]]:
    hours: dict[str, dict[int, dict[str, Figures]]] = {}
    tickets: dict[str, tuple[int, int]] = {}
    for here, there in zip(live, offline, strict=True):
        mine = hourly_figures(here, target_wait_s)
        theirs = hourly_figures(there, target_wait_s)
        hours[here.center] = {h: {"live": mine.get(h, {}), "offline": theirs.get(h, {})}
                              for h in sorted(set(mine) | set(theirs))}
        tickets[here.center] = (sum(1 for v in here.visits if not v.second),
                                sum(1 for v in there.visits if not v.second))
    return hours, tickets


def _spread(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in values.items())


def quantiles(values: Sequence[float], scale: float = 1.0) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * scale, 1)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1] * scale, 1)}


def _num(figures: Figures, name: str, digits: int = 1) -> str:
    value = figures.get(name)
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def render(report: DriveReport, names: dict[str, str]) -> str:
    lines = [f"Chờ theo trung tâm và giờ (phút mô phỏng) / waits by center and hour "
             f"(simulated minutes), live through the server | offline prediction, seed "
             f"{report.seed}, speed {report.speed:g}",
             f"{'center':<26} {'hour':>4} {'tickets':>13} {'mean wait':>13} {'p90 wait':>13}"]
    for center, hours in report.hours.items():
        for hour, sides in hours.items():
            live, offline = sides["live"], sides["offline"]
            if not live.get("arrivals") and not offline.get("arrivals"):
                continue
            lines.append(
                f"{names.get(center, center)[:26]:<26} {hour:>2}:00 "
                f"{_num(live, 'arrivals', 0):>6} | {_num(offline, 'arrivals', 0):<4} "
                f"{_num(live, 'mean_wait_min'):>6} | {_num(offline, 'mean_wait_min'):<4} "
                f"{_num(live, 'p90_wait_min'):>6} | {_num(offline, 'p90_wait_min'):<4}")
    total_live = sum(a for a, _ in report.tickets.values())
    total_offline = sum(b for _, b in report.tickets.values())
    lines.append(f"tickets: {total_live} live, {total_offline} offline; {report.requests} HTTP "
                 f"requests in {report.wall_s:.0f} s")
    lines.append("  " + ", ".join(f"{name} {n}" for name, n in sorted(report.actions.items())))
    if len(report.by_url) > 1:
        lines.append("  by replica: " + ", ".join(f"{url} {n}"
                                                  for url, n in report.by_url.items()))
    lines.append(f"HTTP round trips (wall ms): {_spread(report.http_ms)}; the driver's clock "
                 f"lag (simulated s): {_spread(report.lag_s)}. A lag of minutes means this "
                 "machine could not keep up with --speed: drive slower, or fewer centers.")
    lines.append("Lỗi / errors: " + ("none" if not report.errors else str(len(report.errors))))
    lines += [f"  {error}" for error in report.errors]
    if report.races:
        lines.append(f"expected races (a citizen cancelling as the counter called): "
                     f"{len(report.races)}")
    lines.append("Sự kiện hiển thị / display events (each call and recall the driver made):")
    for check in report.sockets:
        verdict = "ok" if check.ok else "NOT accounted"
        lines.append(f"  {check.name:<28} {check.seen}/{check.expected} seen, "
                     f"missing {len(check.missing)}, doubled {len(check.doubled)}, "
                     f"unexpected {len(check.unexpected)}; {check.connects} connection(s), "
                     f"{check.snapshots_after_reconnect} resync snapshot(s): {verdict}")
    called, saw = report.ticket_pages
    lines.append(f"  ticket pages: {saw} of {called} followed tickets saw their call")
    lines += report.notes
    lines.append("KẾT QUẢ / RESULT: " + ("ok" if report.ok else "PROBLEMS (see above)"))
    return "\n".join(lines)


def ticket_pages(followers: Sequence[Follower], tally: Tally) -> tuple[int, int]:
    called = [f for f in followers if f.name.split(" ", 1)[1] in tally.called_tickets]
    saw = sum(1 for f in called if f.name.split(" ", 1)[1] in f.ticket_calls)
    return len(called), saw
