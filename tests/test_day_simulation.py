"""The offline day simulation runs on the real rules and plans counters that meet targets."""

from __future__ import annotations

from queue_server.province import Province
from simulations.day import daily_arrivals, plan_center, simulate_center


def test_everyone_is_called_and_numbers_follow_the_rules(province: Province) -> None:
    center = province.center("07054")
    day = simulate_center(province, center, len(center.counters), arrivals=120, seed=3)
    assert day.served + day.no_shows == 120
    assert 0 < day.mean_wait_s <= day.max_wait_s


def test_plan_meets_the_target_with_fewest_counters(province: Province) -> None:
    center = province.center("06862")  # Tiên Yên
    plan = plan_center(province, center, arrivals=200, seed=1, max_counters=10)
    assert plan.meets_target
    fewer = simulate_center(province, center, plan.counters - 1, arrivals=200, seed=1)
    assert not fewer.meets_target


def test_untrusted_populations_use_the_median(province: Province) -> None:
    low = province.center("07060")  # Thống Nhất: 1,731 inhabitants, flagged in the data README
    assert daily_arrivals(low, 20_000, 4.0) == 80
    missing = next(c for c in province.centers if c.population is None)
    assert daily_arrivals(missing, 20_000, 4.0) == 80
