"""The offline day: real rules (CenterModel), every citizen accounted for, seeded, confident."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from queue_server.province import Province
from simulations.day import main as day_main
from simulations.demand import DemandProfile, check_centers, load_demand
from simulations.offline import simulate_day
from simulations.process import CenterRecord
from simulations.roster import full_roster
from simulations.runs import simulate_center

MONDAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def profile(province: Province) -> DemandProfile:
    return check_centers(load_demand(), province, province.centers)


def _day(province: Province, profile: DemandProfile, code: str, seed: int = 3,
         roster: dict[int, int] | None = None) -> CenterRecord:
    return simulate_day(province, profile, province.center(code), MONDAY, seed, roster)


def test_every_ticket_ends_and_numbers_follow_the_rules(province: Province,
                                                        profile: DemandProfile) -> None:
    record = _day(province, profile, "06688")  # Hạ Long: a busy ward
    outcomes = Counter(v.outcome for v in record.visits)
    assert set(outcomes) <= {"done", "no_show", "cancelled", "transferred", "expired"}
    assert outcomes["done"] > 50 and outcomes["transferred"] >= 1 and outcomes["cancelled"] >= 1
    prefixes = {s.id: s.prefix for s in province.services}
    numbers = [v.ticket.rsplit("-", 1)[1] for v in record.visits]
    assert len(set(numbers)) == len(numbers)  # never two alike in a center and day
    for visit, number in zip(record.visits, numbers, strict=True):
        assert re.fullmatch(prefixes[visit.service] + r"\d{3,}", number)
        assert visit.ticket.startswith("06688-20261123-")
    # A transfer's new ticket keeps the citizen's place: it is in the target service.
    for visit in record.visits:
        if visit.second:
            assert visit.service == visit.citizen.transfer_to
    # Waiting steps balance: every entry leaves the queue once.
    assert sum(step for _, step in record.waiting_steps) == 0
    assert record.paused, "counters take their breaks"


def test_same_seed_same_day_other_seed_other_day(province: Province,
                                                 profile: DemandProfile) -> None:
    first, again = _day(province, profile, "07054", 5), _day(province, profile, "07054", 5)
    other = _day(province, profile, "07054", 6)
    key = [(v.ticket, v.entered_ms, v.called_ms, v.outcome) for v in first.visits]
    assert key == [(v.ticket, v.entered_ms, v.called_ms, v.outcome) for v in again.visits]
    assert key != [(v.ticket, v.entered_ms, v.called_ms, v.outcome) for v in other.visits]


def test_more_counters_shorter_waits(province: Province, profile: DemandProfile) -> None:
    center = province.center("06799")
    hours = full_roster(center, ((450, 690), (810, 1020)))
    few = simulate_center(province, profile, center, MONDAY, 1, 4, {h: 3 for h in hours})
    many = simulate_center(province, profile, center, MONDAY, 1, 4, {h: 6 for h in hours})
    assert few.day["mean_wait_min"].mean > 2 * many.day["mean_wait_min"].mean
    assert few.day["utilisation"].mean > many.day["utilisation"].mean
    estimate = few.day["mean_wait_min"]
    assert estimate.n == 4 and estimate.half > 0  # replications give a confidence interval
    assert set(few.hours) >= set(hours)


def test_command_writes_table_json_and_png(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "day.json", tmp_path / "day.png"
    code = day_main(["--center", "07054", "--center", "06799", "--replications", "2",
                     "--hourly", "--json", str(out), "--png", str(png)])
    assert code == 0
    text = capsys.readouterr().out
    assert "Xã Quảng La" in text and "09:00" in text
    data = json.loads(out.read_text())
    assert [c["id"] for c in data["centers"]] == ["07054", "06799"]
    nine = data["centers"][1]["hours"]["09"]
    assert {"mean_wait_min", "p90_wait_min", "within_target", "utilisation", "queue",
            "abandoned"} <= set(nine)
    assert nine["arrivals"]["n"] == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
