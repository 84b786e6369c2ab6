"""The staffing advisor: Erlang C first, the simulation the judge, a roster that meets the
target with no counter to spare in its busiest hour."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from queue_server.province import Province
from simulations.day import main as day_main
from simulations.demand import DemandProfile, check_centers, load_demand
from simulations.roster import read_roster
from simulations.runs import simulate_center
from simulations.staffing import advise, first_cut, hourly_load, missing_hours
from simulations.staffing import main as staffing_main

MONDAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def profile(province: Province) -> DemandProfile:
    return check_centers(load_demand(), province, province.centers)


def test_load_follows_the_profile(province: Province, profile: DemandProfile) -> None:
    center = province.center("06862")
    loads = hourly_load(province, profile, center, MONDAY)
    assert sorted(loads) == [7, 8, 9, 10, 11, 13, 14, 15, 16]
    assert loads[7].open_minutes == 30 and loads[9].open_minutes == 60
    expected = profile.tickets_per_day(province, center, MONDAY.weekday())
    total = sum(load.tickets for load in loads.values())
    assert expected * 0.95 < total < expected * 1.1  # minus no-shows, plus transfers
    assert loads[9].tickets > loads[11].tickets
    cut = first_cut(profile, center, loads, ((450, 690), (810, 1020)))
    assert cut[9] >= cut[11] >= 3  # never below the counters that serve every service


def test_advice_meets_the_target_with_none_to_spare(province: Province,
                                                    profile: DemandProfile) -> None:
    center = province.center("06862")  # Tiên Yên
    advice = advise(province, profile, center, MONDAY, seed=1, replications=4, max_counters=10)
    assert advice.met and not missing_hours(advice.result, profile.target_share)
    peak = max(advice.roster, key=lambda h: advice.roster[h])
    assert advice.roster[peak] > 3
    fewer = {**advice.roster, peak: advice.roster[peak] - 1}
    check = simulate_center(province, profile, center, MONDAY, 1, 4, fewer)
    assert peak in missing_hours(check, profile.target_share)


def test_command_writes_a_roster_the_day_reads(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               province: Province) -> None:
    roster, png = tmp_path / "roster.csv", tmp_path / "roster.png"
    code = staffing_main(["--center", "07054", "--replications", "2", "--csv", str(roster),
                          "--png", str(png), "--within", "20", "--share", "0.8"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Xã Quảng La" in out and "80%" in out and "20′" in out
    rows = read_roster(roster, province)
    assert set(rows) == {"07054"} and sorted(rows["07054"]) == [7, 8, 9, 10, 11, 13, 14, 15, 16]
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert day_main(["--center", "07054", "--roster", str(roster), "--replications", "1"]) == 0
