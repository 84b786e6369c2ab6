"""The simulator against the closed forms of M/M/c, so its figures can be trusted.

One service, one class (no priority, no appointments, nobody gives up or fails to come),
Poisson arrivals all day, exponential service, c = 3 counters at 70 % load, driven through the
whole offline pipeline (citizens drawn from a demand profile file, CenterDay, CenterModel).
Each simulated day is a batch; the first 2 hours (the queue starts empty) and the last 2 (the
day ends) are left out. Stated tolerance: the closed-form value lies inside the 99 %
confidence interval of the simulated figure over 60 days, and that interval is narrower than
±12 % of the mean wait and ±0.04 of a probability, so the check has teeth.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from pathlib import Path

import pytest

from queue_server.province import (
    Calendar,
    Center,
    Counter,
    Named,
    OpeningHours,
    Policy,
    Province,
    Service,
)
from simulations import erlang
from simulations.demand import check_centers, load_demand
from simulations.measures import local_midnight_of
from simulations.offline import simulate_day

COUNTERS, MEAN_MIN, LOAD, DAYS = 3, 5.0, 0.7, 60
LAM = LOAD * COUNTERS / MEAN_MIN  # arrivals per minute
T99 = 2.66  # Student's t, 99.5 % quantile, 59 degrees of freedom

PROFILE = """
[profile]
id = "mmc"
version = 1
province = "mmc"
[volume]
tickets_per_thousand = 0
min_trusted_population = 0
[arrivals]
intensity = {{ {hours} }}
[priority]
share = 0
[channels]
appointment = 0
online = 0
online_lead_minutes = [0, 0]
appointment_slot_minutes = 15
appointment_arrival_minutes = [0, 0]
[no_show]
appointment = 0
called_absent = 0
slow_to_answer = 0
recall_after_seconds = 30
no_show_after_recalls = 1
walk_up_seconds = 0
[patience]
distribution = "fixed"
mean_minutes = 1000000
cancel_share = 0
[staff]
breaks_per_interval = 0
break_minutes = 0
break_reason = "break"
serve_after_closing_minutes = 0
[target]
share = 0.9
wait_minutes = 5
[service.svc]
share = 1.0
distribution = "exponential"
[[center]]
code = "M1"
tickets_per_day = {per_day}
"""


def mmc_province() -> Province:
    counters = tuple(Counter(str(k), f"Quầy {k}", ("svc",)) for k in range(1, COUNTERS + 1))
    calendar = Calendar(OpeningHours(tuple(((0, 24 * 60),) for _ in range(7))))
    center = Center("M1", "Kiểm định", "ward", None, None, counters, 1800, "north", calendar)
    return Province(
        id="mmc", name="Tỉnh kiểm định", name_en="Test province", centers=(center,),
        services=(Service("svc", "Dịch vụ", "Service", "A", "Kiểm định", int(MEAN_MIN * 60),
                          15, None),),
        priorities=(Named("elderly", "Người cao tuổi", "Elderly"),),
        pause_reasons=(Named("break", "Nghỉ giải lao", "Break"),),
        calendar=calendar,
        policy=Policy(2, 900, 2, 1800, 10000, 12, 24), source=Path("mmc-province.toml"))


def _interval(samples: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(samples)
    return mean, T99 * statistics.stdev(samples) / math.sqrt(len(samples))


def test_waits_match_erlang_c(tmp_path: Path) -> None:
    province = mmc_province()
    hours = ", ".join(f'"{h:02d}" = 1.0' for h in range(24))
    path = tmp_path / "mmc.toml"
    path.write_text(PROFILE.format(hours=hours, per_day=LAM * 24 * 60))
    profile = check_centers(load_demand(path), province, province.centers)
    center = province.centers[0]
    marks = (0.0, 5.0, 10.0)
    mean_waits: list[float] = []
    tails: dict[float, list[float]] = {t: [] for t in marks}
    for day in range(DAYS):
        record = simulate_day(province, profile, center, dt.date(2026, 1, 1)
                              + dt.timedelta(days=day), seed=11)
        midnight = local_midnight_of(min(v.entered_ms for v in record.visits))
        waits = [v.wait_ms / 60_000 for v in record.visits
                 if v.wait_ms is not None and 2 <= (v.entered_ms - midnight) / 3.6e6 < 22]
        mean_waits.append(statistics.fmean(waits))
        for t in marks:
            tails[t].append(sum(w > t for w in waits) / len(waits))
    mu = 1 / MEAN_MIN
    mean, half = _interval(mean_waits)
    theory = erlang.mean_wait(COUNTERS, LAM, mu)
    assert half < 0.12 * theory
    assert abs(mean - theory) <= half, f"E[W] simulated {mean:.3f}±{half:.3f}, M/M/c {theory:.3f}"
    for t in marks:
        share, half = _interval(tails[t])
        closed = erlang.wait_exceeds(COUNTERS, LAM, mu, t) if t else erlang.erlang_c(
            COUNTERS, LAM / mu)
        assert half < 0.04
        assert abs(share - closed) <= half, f"P(W>{t}) simulated {share:.3f}, M/M/c {closed:.3f}"


@pytest.mark.parametrize(("c", "a", "expected"), [
    (1, 0.5, 0.5),          # M/M/1: P(wait) = rho
    (2, 1.0, 1 / 3),        # textbook value
    (3, 2.1, 0.4923445),    # the configuration above (sum form, by hand)
    (2, 2.0, 1.0),          # unstable: everyone waits
])
def test_erlang_c_values(c: int, a: float, expected: float) -> None:
    assert erlang.erlang_c(c, a) == pytest.approx(expected, rel=1e-6)


def test_servers_for_a_service_level() -> None:
    # 30 arrivals an hour, 5-minute services (2.5 Erlangs); 80 % within 20 s.
    lam, mu = 0.5, 0.2
    c = erlang.servers_for(lam, mu, target_wait=1 / 3, target_share=0.8)
    assert 1 - erlang.wait_exceeds(c, lam, mu, 1 / 3) >= 0.8
    assert 1 - erlang.wait_exceeds(c - 1, lam, mu, 1 / 3) < 0.8
    assert erlang.mean_wait(1, 1.0, 1.0) == math.inf
