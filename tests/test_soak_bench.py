"""The soak benchmark, briefly: a few simulated minutes of two communes at high speed through
two real replicas sharing one Redis; nothing lost on any socket, memory sampled for every
process, the plot written. No timing is asserted (speed targets live in the benchmarks)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simulations.bench.__main__ import main as bench_main
from simulations.bench._report import rows_of
from simulations.bench._soak_memory import Sample, summary

CENTERS = ("07054", "06862")  # Quảng La, Tiên Yên: quiet communes
PROCESSES = ("replica_a", "replica_b", "redis")


def test_a_short_soak_through_two_replicas(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    svg = tmp_path / "soak.svg"
    argv = ["soak", "--json", "--speed", "600", "--hours", "0.25", "--centers",
            ",".join(CENTERS), "--sample-minutes", "1", "--serve-after-closing", "5",
            "--ticket-pages", "5", "--out", str(svg)]
    try:
        assert bench_main(argv) == 0
    except SystemExit as refusal:  # a real closing instant falls within the next minutes
        if "closes its real day" in str(refusal):
            pytest.skip(str(refusal))
        raise
    result = json.loads(capsys.readouterr().out)

    assert result["errors"] == [] and result["error_count"] == 0
    for count in ("missed_events", "doubled_events", "unexpected_events",
                  "ticket_pages_missed"):
        assert result[count] == 0, (count, result["drive"])
    assert result["calls"] > 0
    drive = result["drive"]
    assert drive["ok"]
    assert len(drive["requests_by_url"]) == 2 and all(
        n > 0 for n in drive["requests_by_url"].values())
    sockets = drive["sockets"]  # every display and the province, on each replica
    assert len(sockets) == 2 * len(CENTERS) + 2
    assert all(s["expected"] == s["seen"] > 0 for s in sockets), sockets

    assert len(result["samples"]) >= 3
    for sample in result["samples"]:
        assert all(sample["rss_mib"][p] > 0 for p in PROCESSES), sample
        assert sample["redis_used_memory_mib"] > 0
    for key in ("rss_mib_start", "rss_mib_middle", "rss_mib_end"):
        assert set(result[key]) == set(PROCESSES) and all(v > 0 for v in result[key].values())
    assert set(result["verdicts"]) == set(PROCESSES)

    text = svg.read_text(encoding="utf-8")
    assert result["svg"] == str(svg) and text.startswith("<svg")
    drawn = re.findall(r'<polyline data-process="([^"]+)" points="([^"]+)"', text)
    for process in PROCESSES:
        points = [p for name, p in drawn if name == f"{process} (VmRSS)"]
        assert len(points) == 1 and len(points[0].split()) == len(result["samples"]), process

    rows = {row.figure: row for row in rows_of("soak", result)}  # the report's conventions
    assert rows["error_count"].met is True and rows["missed_events"].met is True
    assert rows["second_half_growth_mib.replica_a"].goal == "≤ 10"


def _samples(mib_at: dict[float, float]) -> list[Sample]:
    return [Sample(int(hour * 3_600_000), {"app": int(mib * 1024)}, {"app": 0},
                   {"used_memory": 1}) for hour, mib in mib_at.items()]


@pytest.mark.parametrize(("growth_per_hour", "verdict"), [(0.0, "flat"), (1.0, "flat"),
                                                          (5.0, "growing")])
def test_growth_is_fitted_over_the_second_half_only(growth_per_hour: float, verdict: str
                                                    ) -> None:
    """Warm-up (the first half) climbs steeply and does not count; 10 hours, so the second
    half spans 5: 1 MiB/h grows 5 MiB (flat), 5 MiB/h grows 25 MiB (growing)."""
    hours = [h / 2 for h in range(21)]
    mib = {h: 100 + 20 * h if h < 5 else 200 + growth_per_hour * (h - 5) for h in hours}
    found = summary(_samples(mib), 0)
    assert found["slope"]["app"] == pytest.approx(growth_per_hour)
    assert found["growth"]["app"] == pytest.approx(5 * growth_per_hour)
    assert found["verdict"]["app"] == verdict
    assert found["start"]["app"] == 100 and found["middle"]["app"] == 200
