"""The national sizing is arithmetic on measured costs: checked on a small made-up run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulations.national import main as national_main

SCALE = {
    "centers": [{"redis_cpu_usec_per_op": 35.0, "redis_cpu_usec_per_ticket_read": 40.0,
                 "memory_bytes_per_center": 8500, "memory_bytes_per_ticket": 1400,
                 "stream_bytes_per_event": 280}],
    "sockets": [{"sockets": 1000, "server_cpu_usec_per_frame": 15.0,
                 "server_cpu_usec_per_request": 500.0, "redis_cpu_usec_per_cycle": 1000.0,
                 "kib_per_socket": 14.5}],
    "replicas": [{"replicas": 2, "xread_usec_per_event_per_replica": 30.0}],
}


def test_sizing_from_measured_costs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(SCALE))
    assert national_main([str(path), "--readers-per-center", "1"]) == 0
    out = capsys.readouterr().out
    # 3,321 centers × 5.07 counters × 200 calls an hour × 4.5 transitions ÷ 3,600 s.
    assert "transitions_per_s                          4213" in out
    assert "redis_us_per_stream_read                   30.0" in out
    assert "server_us_per_request                      500.0" in out
    path.write_text("{}")
    assert national_main([str(path)]) == 2
    assert "not the JSON of a full" in capsys.readouterr().err
