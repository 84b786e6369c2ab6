"""A center's day of citizens, drawn once from the demand profile and a seed.

The same list drives the offline simulation and the live driver, so "the same seed" means the
same people: who arrives when, for what, through which channel, with which priority, how
patient, whether they answer the call, how long their service takes and whether it ends in a
transfer. Each center draws from its own random stream (seed, center, date), so a run of a few
centers meets the same citizens there as a run of the whole province.

Arrivals per service are a non-homogeneous Poisson process: unit-rate exponential steps in
"expected tickets" space, mapped back to time through the cumulative intensity over the day's
open minutes (exact, no thinning).
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from dataclasses import dataclass

from queue_server.province import Center, Province
from simulations.demand import DemandProfile
from simulations.opening import Interval, local_midnight_ms, opening_intervals

MINUTE_MS = 60_000
KIOSK, ONLINE, APPOINTMENT = "kiosk", "online", "appointment"


@dataclass(frozen=True)
class Citizen:
    """One person's visit, all in simulated epoch milliseconds."""

    key: str                  # stable within the day: CENTER-n
    center: str
    service: str
    channel: str              # kiosk | online | appointment
    priority: str             # a priority group, or ""
    arrive_ms: int            # at the center (a kiosk citizen takes the ticket then)
    book_ms: int              # online and appointment: when the booking is made
    slot_ms: int              # appointment time, 0 otherwise
    shows_up: bool            # False: an appointment holder who never comes
    absent_when_called: bool  # stepped out: does not answer the call
    slow_to_answer: bool      # comes only after one recall
    patience_ms: int          # waiting longer than this, the citizen gives up
    cancels_when_leaving: bool
    service_ms: int           # at the counter (the first part, when transferred)
    transfer_to: str          # "" or the service the counter sends the citizen on to
    second_service_ms: int

    @property
    def queue_entry_ms(self) -> int:
        """When the ticket starts waiting: issue, online booking, or check-in on arrival."""
        return self.arrive_ms if self.channel == APPOINTMENT else self.book_ms


def _segments(profile: DemandProfile, service: str, intervals: tuple[Interval, ...]
              ) -> tuple[list[tuple[int, int, float]], list[float]]:
    """Open minutes cut at clock hours, each with its intensity, and the running weight."""
    segments: list[tuple[int, int, float]] = []
    cumulative = [0.0]
    for start, end in intervals:
        minute = start
        while minute < end:
            stop = min(end, (minute // 60 + 1) * 60)
            rate = profile.intensity_of(service, minute // 60)
            if rate > 0:
                segments.append((minute, stop, rate))
                cumulative.append(cumulative[-1] + rate * (stop - minute))
            minute = stop
    return segments, cumulative


def _arrival_minutes(rng: random.Random, expected: float, segments: list[tuple[int, int, float]],
                     cumulative: list[float]) -> list[float]:
    total = cumulative[-1]
    if expected <= 0 or total <= 0:
        return []
    minutes = []
    position = rng.expovariate(1.0)
    while position < expected:
        weight = position / expected * total
        index = bisect.bisect_right(cumulative, weight) - 1
        start, _, rate = segments[index]
        minutes.append(start + (weight - cumulative[index]) / rate)
        position += rng.expovariate(1.0)
    return minutes


def _slot_of(minute: float, slot_minutes: int, intervals: tuple[Interval, ...]) -> int:
    """The quarter-hour (or other slot) at or before ``minute``, inside its interval."""
    slot = int(minute // slot_minutes * slot_minutes)
    for start, end in intervals:
        if start <= minute < end:
            return max(slot, start)
    return slot


def _interval_start(minute: float, intervals: tuple[Interval, ...]) -> int:
    return next((start for start, end in intervals if start <= minute < end), intervals[0][0])


def draw_citizens(profile: DemandProfile, province: Province, center: Center, date: dt.date,
                  seed: int) -> list[Citizen]:
    """Every visit of the center's day, ordered by when it first touches the system."""
    intervals = opening_intervals(province, center, date)
    if not intervals:
        return []
    rng = random.Random(f"{seed}:{center.id}:{date.isoformat()}")
    midnight = local_midnight_ms(date)
    daily = profile.tickets_per_day(province, center, date.weekday())
    arrivals: list[tuple[float, str]] = []
    for service, demand in profile.services.items():
        segments, cumulative = _segments(profile, service, intervals)
        arrivals += [(m, service) for m in _arrival_minutes(
            rng, daily * demand.share, segments, cumulative)]
    arrivals.sort()
    categories = list(profile.priority_categories.items())
    citizens = []
    for n, (minute, service) in enumerate(arrivals, 1):
        citizens.append(_citizen(profile, rng, f"{center.id}-{n}", center.id, service,
                                 minute, intervals, midnight, categories))
    citizens.sort(key=lambda c: (min(c.book_ms, c.arrive_ms), c.key))
    return citizens


def _citizen(profile: DemandProfile, rng: random.Random, key: str, center: str, service: str,
             minute: float, intervals: tuple[Interval, ...], midnight: int,
             categories: list[tuple[str, float]]) -> Citizen:
    # Every draw happens for every citizen, in this order, so one changed share does not
    # shift the random stream of everything after it.
    channel_draw, priority_draw, category_draw = rng.random(), rng.random(), rng.random()
    lead_min = rng.uniform(*profile.online_lead_s) / 60
    early_min = rng.uniform(*profile.appointment_arrival_s) / 60
    shows_draw, absent_draw, slow_draw = rng.random(), rng.random(), rng.random()
    patience = profile.patience.sample(rng)
    cancel_draw, transfer_draw = rng.random(), rng.random()
    demand = profile.services[service]
    service_s = demand.time.sample(rng)
    second_s = (profile.services[demand.transfer_to].time.sample(rng)
                if demand.transfer_to in profile.services else 0.0)

    if channel_draw < profile.appointment_share:
        channel = APPOINTMENT
    elif channel_draw < profile.appointment_share + profile.online_share:
        channel = ONLINE
    else:
        channel = KIOSK
    priority = ""
    if channel == KIOSK and categories and priority_draw < profile.priority_share:
        acc = 0.0
        for category, weight in categories:
            acc += weight
            priority = category
            if category_draw < acc:
                break
    slot_min, arrive_min, book_min = 0.0, minute, minute
    if channel == APPOINTMENT:
        slot_min = _slot_of(minute, profile.appointment_slot_s // 60, intervals)
        arrive_min = max(slot_min + early_min, _interval_start(minute, intervals))
        book_min = intervals[0][0] - 60.0  # booked before the day: its number is today's
    elif channel == ONLINE:
        book_min = max(minute - lead_min, _interval_start(minute, intervals))
    transfer_to = demand.transfer_to if transfer_draw < demand.transfer_share else ""
    return Citizen(
        key=key, center=center, service=service, channel=channel, priority=priority,
        arrive_ms=midnight + int(arrive_min * MINUTE_MS),
        book_ms=midnight + int(book_min * MINUTE_MS),
        slot_ms=midnight + int(slot_min * MINUTE_MS) if channel == APPOINTMENT else 0,
        shows_up=channel != APPOINTMENT or shows_draw >= profile.appointment_no_show,
        absent_when_called=absent_draw < profile.called_absent,
        slow_to_answer=slow_draw < profile.slow_to_answer,
        patience_ms=max(int(patience * 1000), 1),
        cancels_when_leaving=cancel_draw < profile.cancel_share,
        service_ms=max(int(service_s * 1000 * (0.5 if transfer_to else 1.0)), 1000),
        transfer_to=transfer_to,
        second_service_ms=max(int(second_s * 1000), 1000) if transfer_to else 0,
    )
