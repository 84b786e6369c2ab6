"""A demand profile measured from archived tickets, instead of assumed.

:func:`derive_profile` works on plain rows, one per ticket, as the archive keeps them
(``center``, ``service``, ``priority``, ``channel``, ``status``, and epoch milliseconds
``arrived``, ``called``, ``started``, ``ended``; optionally ``appt``, ``id`` and ``from``):

- volume: each center's tickets per working day (``[[center]] tickets_per_day``), and the
  province's tickets per 1,000 inhabitants;
- arrivals: tickets entering by local clock hour ÷ that hour's open minutes over the days,
  scaled to a peak of 1, for all services and per service;
- service mix, priority share and groups (kiosk tickets), appointment and online shares;
- service times: mean and coefficient of variation of ``ended − started`` of completed
  tickets, per service (lognormal);
- transfers: the share of a service's tickets that were transferred, and where to (the
  ``from`` of the new ticket, else the most common service of transfer tickets);
- no-shows: appointments never checked in ÷ appointments; other called tickets that became
  no-shows ÷ called;
- patience: exponential, mean = total time tickets waited (called or not) ÷ tickets cancelled
  while waiting, the estimate that accounts for those who were called before giving up.

What the archive cannot show (walking up, recall habits, breaks, the target, what share of
those who give up cancel) is kept from a base profile. The result is TOML text in the layout of
``simulations/data/demand_quangninh.toml``.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from queue_server.province import Province
from queue_server.rules.clock import local_datetime
from simulations.demand import DemandProfile
from simulations.errors import PlanningInputError
from simulations.opening import opening_intervals

Row = Mapping[str, Any]


def _open_minutes_by_hour(province: Province, days: Iterable[dt.date]) -> Counter[int]:
    minutes: Counter[int] = Counter()
    center = province.centers[0]  # the hours are the province's (per center once the calendar
    # has exceptions: then per row's center)
    for day in days:
        for start, end in opening_intervals(province, center, day):
            for minute in range(start, end):
                minutes[minute // 60] += 1
    return minutes


def _shape(counts: Counter[int], minutes: Counter[int]) -> dict[int, float]:
    rates = {h: counts[h] / minutes[h] for h in sorted(minutes) if minutes[h] and counts[h]}
    peak = max(rates.values(), default=0.0)
    return {h: round(r / peak, 3) for h, r in rates.items()} if peak else {}


def _time_figures(durations: list[float]) -> tuple[float, float] | None:
    if len(durations) < 2:
        return None
    mean = statistics.fmean(durations)
    return mean, (statistics.stdev(durations) / mean if mean else 0.0)


def _check(rows: list[Row], province: Province, source: str) -> None:
    codes, services = {c.id for c in province.centers}, set(province.service_ids)
    for index, row in enumerate(rows):
        for key in ("center", "service", "channel", "status", "arrived"):
            if key not in row:
                raise PlanningInputError(source, f"row {index}: {key}", "missing")
        if row["center"] not in codes:
            raise PlanningInputError(source, f"row {index}: center",
                                     f"no such center in {province.source}", str(row["center"]))
        if row["service"] not in services:
            raise PlanningInputError(source, f"row {index}: service",
                                     f"no such service in {province.source}: "
                                     f"{row['service']!r}", str(row["center"]))


def derive_profile(rows: Iterable[Row], province: Province, base: DemandProfile,
                   source: str = "archive") -> str:
    """The profile the rows show, as TOML text (see the module docstring)."""
    rows = list(rows)
    if not rows:
        raise PlanningInputError(source, "rows", "no tickets to derive a profile from")
    _check(rows, province, source)
    firsts = [r for r in rows if r["channel"] != "transfer"]
    days = sorted({local_datetime(int(r["arrived"])).date() for r in firsts})
    minutes = _open_minutes_by_hour(province, days)
    by_center = Counter(r["center"] for r in firsts)
    per_day = {code: n / len(days) for code, n in sorted(by_center.items())}
    populations = {c.id: base.trusted_population(province, c) for c in province.centers}
    per_thousand = statistics.fmean(
        per_day[c] / populations[c] * 1000 for c in per_day if populations[c])
    hourly: Counter[int] = Counter()
    hourly_by_service: dict[str, Counter[int]] = defaultdict(Counter)
    for row in firsts:
        hour = local_datetime(int(row["arrived"])).hour
        hourly[hour] += 1
        hourly_by_service[row["service"]][hour] += 1
    mix = Counter(r["service"] for r in firsts)
    kiosk = [r for r in firsts if r["channel"] == "kiosk"]
    priority = Counter(r.get("priority") or "" for r in kiosk)
    appointments = [r for r in firsts if int(r.get("appt") or 0) > 0
                    or r["channel"] == "appointment"]
    online = [r for r in firsts if r["channel"] == "online" and not int(r.get("appt") or 0)]
    lines = _head(base, days, source)
    lines += ["", "[volume]", f"tickets_per_thousand = {per_thousand:.3f}",
              f"min_trusted_population = {base.min_trusted_population}", "",
              "[arrivals]", f"intensity = {_inline(_shape(hourly, minutes))}", ""]
    with_priority = len(kiosk) - priority[""]
    lines += ["[priority]", f"share = {with_priority / len(kiosk) if kiosk else 0:.4f}",
              "categories = " + _inline({k: round(v / with_priority, 4)
                                         for k, v in sorted(priority.items()) if k}), ""]
    lines += _behaviour(rows, base, firsts, appointments, online)
    lines += _services(rows, mix, len(firsts), hourly_by_service, minutes)
    for code, tickets in per_day.items():
        lines += ["", "[[center]]", f'code = "{code}"', f"tickets_per_day = {tickets:.2f}"]
    return "\n".join(lines) + "\n"


def _head(base: DemandProfile, days: list[dt.date], source: str) -> list[str]:
    return ["# Demand profile derived from the archive by `python -m simulations.derive`.",
            "[profile]", f'id = "{base.id}-derived"', f"version = {base.version + 1}",
            f'province = "{base.province_id}"',
            f'description = "Measured over {len(days)} working days '
            f'({days[0].isoformat()} to {days[-1].isoformat()}) from {source}"',
            f'sources = ["{source}: {len(days)} working days of tickets"]',
            'assumptions = ["Walking up, recalls, breaks, the target and the share of those '
            f'giving up who cancel are kept from {base.source.name}"]']


def _behaviour(rows: list[Row], base: DemandProfile, firsts: list[Row],
               appointments: list[Row], online: list[Row]) -> list[str]:
    total = len(firsts)
    never = sum(1 for r in appointments if not r.get("called") and r["status"] != "cancelled"
                and not r.get("started"))
    booked = {id(r) for r in appointments}
    called = [r for r in rows if r.get("called") and id(r) not in booked]
    absent = sum(1 for r in called if r["status"] == "no_show")
    waited_ms = sum(int(r.get("called") or r.get("ended") or r["arrived"]) - int(r["arrived"])
                    for r in rows if r["status"] != "booked")
    gave_up = sum(1 for r in rows if r["status"] == "cancelled" and not r.get("called"))
    patience_min = waited_ms / gave_up / 60_000 if gave_up else 600.0
    lo, hi = (v / 60 for v in base.online_lead_s)
    early = [v / 60 for v in base.appointment_arrival_s]
    return [
        "[channels]", f"appointment = {len(appointments) / total:.4f}",
        f"online = {len(online) / total:.4f}", f"online_lead_minutes = [{lo:g}, {hi:g}]",
        f"appointment_slot_minutes = {base.appointment_slot_s // 60}",
        f"appointment_arrival_minutes = [{early[0]:g}, {early[1]:g}]", "",
        "[no_show]",
        f"appointment = {never / len(appointments) if appointments else 0:.4f}",
        f"called_absent = {absent / len(called) if called else 0:.4f}",
        f"slow_to_answer = {base.slow_to_answer}",
        f"recall_after_seconds = {base.recall_after_s:g}",
        f"no_show_after_recalls = {base.no_show_after_recalls}",
        f"walk_up_seconds = {base.walk_up_s:g}", "",
        "[patience]", 'distribution = "exponential"', f"mean_minutes = {patience_min:.1f}",
        f"cancel_share = {base.cancel_share}", "",
        "[staff]", f"breaks_per_interval = {base.breaks_per_interval}",
        f"break_minutes = {base.break_s / 60:g}", f'break_reason = "{base.break_reason}"',
        f"serve_after_closing_minutes = {base.serve_after_closing_s / 60:g}", "",
        "[target]", f"share = {base.target_share}", f"wait_minutes = {base.target_wait_s / 60:g}",
    ]


def _services(rows: list[Row], mix: Counter[str], total: int,
              hourly: dict[str, Counter[int]], minutes: Counter[int]) -> list[str]:
    by_id = {r["id"]: r for r in rows if "id" in r}
    targets: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        if row["channel"] == "transfer":
            origin = by_id.get(row.get("from") or "")
            targets[origin["service"] if origin else "*"][row["service"]] += 1
    lines: list[str] = []
    shares = {s: n / total for s, n in sorted(mix.items())}
    shares[max(shares, key=lambda s: shares[s])] += 1 - sum(shares.values())  # sums to 1
    for service, share in shares.items():
        own = [r for r in rows if r["service"] == service and r["channel"] != "transfer"]
        durations = [(int(r["ended"]) - int(r["started"])) / 1000 for r in rows
                     if r["service"] == service and r["status"] == "done"
                     and r.get("started") and r.get("ended")]
        lines += ["", f"[service.{service}]", f"share = {share:.6f}"]
        figures = _time_figures(durations)
        if figures is not None:
            lines += ['distribution = "lognormal"', f"mean_minutes = {figures[0] / 60:.2f}",
                      f"cv = {figures[1]:.3f}"]
        else:
            lines += ['distribution = "lognormal"', "cv = 0.5"]
        moved = sum(1 for r in own if r["status"] == "transferred")
        if moved and own:
            where = targets.get(service) or targets.get("*") or Counter()
            if where:
                lines += [f"transfer_share = {moved / len(own):.4f}",
                          f'transfer_to = "{where.most_common(1)[0][0]}"']
        shape = _shape(hourly[service], minutes)
        if shape and sum(hourly[service].values()) >= 50:
            lines.append(f"intensity = {_inline(shape)}")
    return lines


def _inline(values: Mapping[Any, float]) -> str:
    def key(k: Any) -> str:
        return f'"{k:02d}"' if isinstance(k, int) else str(k)

    body = ", ".join(f"{key(k)} = {v:g}" for k, v in values.items() if not math.isnan(v))
    return "{ " + body + " }"
