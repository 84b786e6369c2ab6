"""Inputs that cannot be simulated are refused with one sentence naming file, center and
field, and exit code 2 — before anything runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from queue_server.province import DEFAULT_PROVINCE_FILE
from simulations.day import main as day_main
from simulations.demand import DEFAULT_DEMAND_FILE
from simulations.staffing import main as staffing_main


def _demand(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_DEMAND_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "demand.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _refused(capsys: pytest.CaptureFixture[str], code: int, *parts: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    line = err.strip()
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in err
    for part in parts:
        assert part in line, line
    return line


def test_a_service_no_counter_serves(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    folder = tmp_path / "province"
    folder.mkdir()
    shutil.copy(DEFAULT_PROVINCE_FILE.parent / "quangninh_units.csv", folder)
    text = DEFAULT_PROVINCE_FILE.read_text(encoding="utf-8")
    text += '\n[[center_override]]\ncode = "07054"\ncounters = [["certification", "results"]]\n'
    (folder / "province.toml").write_text(text, encoding="utf-8")
    code = day_main(["--province", str(folder / "province.toml"), "--center", "07054"])
    _refused(capsys, code, str(DEFAULT_DEMAND_FILE), "center 07054",
             "field 'service.civil_status.share'", "no counter of Xã Quảng La serves")


@pytest.mark.parametrize(("old", "new", "field"), [
    ("tickets_per_thousand = 4.0", "tickets_per_thousand = -4.0", "volume.tickets_per_thousand"),
    ('"09" = 1.0', '"09" = -1.0', "arrivals.intensity.09"),
    ("wait_minutes = 15", "wait_minutes = 0", "target.wait_minutes"),
    ("share = 0.90", "share = 0", "target.share"),
    ('transfer_to = "land"', 'transfer_to = "parking"', "service.construction.transfer_to"),
    ("categories = { elderly = 0.70", "categories = { veteran = 0.70",
     "priority.categories"),
])
def test_a_demand_file_that_cannot_be_simulated(tmp_path: Path, old: str, new: str,
                                                field: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _demand(tmp_path, old, new)
    code = day_main(["--demand", str(path), "--center", "07054"])
    _refused(capsys, code, str(path), f"field '{field}")


def test_an_unknown_center_a_closed_day_a_zero_target(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(capsys, day_main(["--center", "99999"]), str(DEFAULT_PROVINCE_FILE),
             "center 99999", "field '--center'")
    _refused(capsys, day_main(["--center", "07054", "--date", "2026-11-22"]),
             "center 07054", "closed on Sunday 2026-11-22")
    _refused(capsys, staffing_main(["--center", "07054", "--within", "0"]),
             "field 'within'", "above 0")
    _refused(capsys, staffing_main(["--center", "07054", "--share", "0"]), "field 'share'")
    roster = tmp_path / "roster.csv"
    roster.write_text("center,hour,counters\n12345,9,3\n", encoding="utf-8")
    _refused(capsys, day_main(["--roster", str(roster)]), str(roster), "center 12345",
             "line 2: center")
