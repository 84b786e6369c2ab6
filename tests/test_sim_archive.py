"""A profile derived from archived tickets gives back what produced them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from queue_server.province import Province
from simulations.archive import derive_profile
from simulations.demand import check_centers, load_demand
from simulations.derive import main as derive_main
from simulations.offline import simulate_day
from simulations.process import Visit


def _row(center: str, visit: Visit) -> dict[str, Any]:
    """A ticket as the archive keeps it (times in epoch ms; 0 when it never happened)."""
    return {"center": center, "id": visit.ticket, "service": visit.service,
            "priority": visit.citizen.priority if not visit.second else "",
            "channel": visit.channel if visit.channel != "appointment" else "online",
            "appt": visit.citizen.slot_ms if visit.channel == "appointment" else 0,
            "status": visit.outcome, "arrived": visit.entered_ms,
            "called": visit.called_ms or 0, "started": visit.started_ms or 0,
            "ended": visit.ended_ms or 0}


@pytest.fixture(scope="module")
def rows(province: Province) -> list[dict[str, Any]]:
    profile = check_centers(load_demand(), province, province.centers)
    out = []
    for day in range(5):
        date = dt.date(2026, 11, 23) + dt.timedelta(days=day)
        for code in ("07069", "06688", "06862"):
            record = simulate_day(province, profile, province.center(code), date, 1)
            by_ticket = {v.ticket: v for v in record.visits}
            for visit in record.visits:
                row = _row(code, visit)
                if visit.second:  # a transfer's new ticket names the one it came from
                    row["from"] = next(t for t, v in by_ticket.items()
                                       if v.citizen is visit.citizen and not v.second)
                out.append(row)
    return out


def test_derived_profile_matches_the_one_simulated(rows: list[dict[str, Any]],
                                                   province: Province, tmp_path: Path) -> None:
    base = check_centers(load_demand(), province, [])
    path = tmp_path / "derived.toml"
    path.write_text(derive_profile(rows, province, base, "test rows"), encoding="utf-8")
    derived = check_centers(load_demand(path), province, province.centers)
    assert derived.version == base.version + 1
    for service, demand in base.services.items():
        assert derived.services[service].share == pytest.approx(demand.share, abs=0.035)
    for service in ("certification", "civil_status", "land"):
        assert derived.services[service].time.mean_s == pytest.approx(
            base.services[service].time.mean_s, rel=0.15)
    assert derived.services["civil_status"].transfer_to == "certification"
    assert derived.priority_share == pytest.approx(base.priority_share, abs=0.03)
    assert derived.appointment_share == pytest.approx(base.appointment_share, abs=0.02)
    assert derived.intensity[9] > derived.intensity[11]
    # Monday to Friday: Monday is busier, so the mean is a little above a mid-week day.
    midweek = base.tickets_per_day(province, province.center("07069"), 2)
    per_day = derived.center_tickets["07069"]
    assert midweek * 0.9 < per_day < midweek * 1.2


def test_command_needs_the_archive_or_rows(rows: list[dict[str, Any]], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("QMS_DATABASE_URL", raising=False)
    assert derive_main([]) == 2
    err = capsys.readouterr().err
    assert "QMS_DATABASE_URL" in err and "--rows" in err
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    out = tmp_path / "profile.toml"
    assert derive_main(["--rows", str(source), "--out", str(out)]) == 0
    assert load_demand(out).services["land"].share > 0.1
    source.write_text("not json\n", encoding="utf-8")
    assert derive_main(["--rows", str(source)]) == 2
    assert "line 1" in capsys.readouterr().err
