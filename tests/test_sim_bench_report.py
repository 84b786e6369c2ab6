"""``simulations.bench all``: one report of every figure beside its ceiling and goal, generic
over the benchmarks' JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulations.bench.__main__ import main as bench_main
from simulations.bench._report import report, rows_of

# Shapes of the registered benchmarks' results (abridged from real runs).
ENGINE = {"bench": "engine", "engine_ops_per_s": 6309, "noop_script_ops_per_s": 21477,
          "ratio": 0.293, "redis_usec_per_call": {"issue": 54.0, "call_next": 88.0,
                                                  "start": 47.0, "complete": 84.0, "noop": 6.3},
          "goals": {"ratio_at_least_0.8": False, "each_script_at_most_30_usec": False},
          "workloads": {"engine": {"ops": 1}}, "setup": {"clients": 50},
          "machine": {"loadavg_1min": [1.0, 1.1]}}
METRICS = {"bench": "metrics", "scrape_ms": 211.0, "goal_ms": 250.0,
           "goals": {"scrape_under_250_ms": True}, "day": {"tickets_issued": 3}}
NEW_STYLE = {"bench": "archive", "rows_per_s": 900.0, "copy_rows_per_s": 1500.0,
             "rows_per_s_ceiling": "copy_rows_per_s", "rows_per_s_goal": ">= 1000"}


def _row(rows: list[dict[str, object]], figure: str) -> dict[str, object]:
    return next(r for r in rows if r["figure"] == figure)


def test_figures_ceilings_and_goals_from_any_benchmark() -> None:
    table = [r.as_dict() for r in rows_of("engine", ENGINE)]
    ops = _row(table, "engine_ops_per_s")
    assert ops["ceiling"] == "noop_script_ops_per_s" and ops["ratio"] == pytest.approx(0.294,
                                                                                     abs=1e-3)
    ratio = _row(table, "ratio")
    assert ratio["goal"] == "≥ 0.8" and ratio["met"] is False
    issue = _row(table, "redis_usec_per_call.issue")
    assert issue["ceiling"] == "redis_usec_per_call.noop"
    assert _row(table, "each script at most 30 usec")["met"] is False
    assert not any(str(r["figure"]).startswith(("workloads", "setup")) for r in table)
    scrape = _row([r.as_dict() for r in rows_of("metrics", METRICS)], "scrape_ms")
    assert scrape["goal"] == "< 250" and scrape["met"] is True
    new = _row([r.as_dict() for r in rows_of("archive", NEW_STYLE)], "rows_per_s")
    assert new["ceiling_value"] == 1500.0 and new["goal"] == "≥ 1000" and new["met"] is False
    written = report({"engine": ENGINE, "metrics": METRICS, "archive": NEW_STYLE,
                      "display": {"skipped": "no Chromium"}})
    assert "| engine | engine_ops_per_s | 6,309 | noop_script_ops_per_s = 21,477 | 0.294 |" \
        in written["markdown"]
    assert "skipped: no Chromium" in written["markdown"]


def test_all_writes_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    assert bench_main(["all", "--only", "sim", "--seconds", "0.5", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "bench-results.json").read_text())
    assert set(data["results"]) == {"sim"}
    row = _row(data["table"], "tickets_per_s")
    assert row["ceiling"] == "bare_cycles_per_s" and row["goal"] == "≥ 3500"
    assert row["value"] > 0 and 0 < row["ratio"] < 10
    assert (tmp_path / "bench-results.md").read_text() == data["markdown"]
    assert "| sim | tickets_per_s |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown benchmark"):
        bench_main(["all", "--only", "nosuch", "--out", str(tmp_path)])
