"""The simulated day driven through a real server: HTTP API, display, ticket and province
sockets; every call accounted for; a refusing server refused in one sentence, nothing made."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from queue_server.embedded import free_port
from queue_server.province import DEFAULT_PROVINCE_FILE
from queue_server.rules.clock import TIMEZONE
from simulations.demand import DEFAULT_DEMAND_FILE
from simulations.live.cli import main as live_main
from tests.live import Bootstrap, LiveServer, login
from tests.servers import start_standalone

CENTERS = ("07054", "06862")  # Quảng La, Tiên Yên: quiet communes


def _open_all_day(tmp: Path) -> Path:
    """The shipped province open 00:00-24:00 every day of the year. The drive books real
    slots of today on the server's calendar and the wall clock; with the shipped hours the
    suite, run after 17:00 or on a day off, would find none left, and every appointment would
    join the queue at once (simulations/live/booking.py), leaving check-in untried."""
    text = DEFAULT_PROVINCE_FILE.read_text(encoding="utf-8")
    text, weekly = re.subn(r'(?m)^(mon|tue|wed|thu|fri|sat|sun) = \[.*\]$',
                           r'\1 = ["00:00-24:00"]', text)
    text, days_off = re.subn(r"(?ms)^holidays = \[.*?^\]$", "holidays = []", text)
    assert (weekly, days_off) == (7, 1)
    path = tmp / DEFAULT_PROVINCE_FILE.name
    path.write_text(text, encoding="utf-8")
    csv = DEFAULT_PROVINCE_FILE.parent / "quangninh_units.csv"
    shutil.copy(csv, tmp / csv.name)
    return path


@pytest.fixture(scope="module")
def province_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _open_all_day(tmp_path_factory.mktemp("live-driver-province"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, province_file: Path
           ) -> Iterator[LiveServer]:
    """A server of its own (its Redis is never flushed by other tests), open at any hour the
    suite runs, with a province account for the driver."""
    tmp = tmp_path_factory.mktemp("live-driver")
    store = start_standalone(tmp / "redis")
    live = LiveServer(store.url, tmp / "server",
                      extra_env={"QMS_PROVINCE_FILE": str(province_file)}).start()
    Bootstrap(store.url).account("simprov", "province", None)
    yield live
    live.stop()
    store.stop()


def _lively_demand(tmp: Path) -> Path:
    """The shipped profile with more of what the drive must exercise: transfers, citizens
    who do not answer, impatient ones."""
    text = DEFAULT_DEMAND_FILE.read_text(encoding="utf-8")
    for old, new in (("called_absent = 0.03", "called_absent = 0.10"),
                     ("transfer_share = 0.05\ntransfer_to = \"certification\"",
                      "transfer_share = 0.40\ntransfer_to = \"certification\""),
                     ("mean_minutes = 60\ncv = 0.8", "mean_minutes = 12\ncv = 0.8")):
        assert old in text
        text = text.replace(old, new)
    path = tmp / "demand.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _made(url: str) -> list[str]:
    """The keys a drive could make (accounts, devices, tickets, counters …), leaving out what
    the server writes of its own: failed-login counts, live counts and projections."""
    return [k for k in _keys(url, "*")
            if not re.search(r"^qms:rl:|:(live|m|proj|day:\d{8})$", k)]


def _keys(url: str, pattern: str) -> list[str]:
    with redis.Redis.from_url(url, decode_responses=True) as client:
        return sorted(client.scan_iter(match=pattern))


def test_a_short_day_through_the_real_server(server: LiveServer, province_file: Path,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.json"
    args = ["--url", server.base_url, "--user", "simprov", "--from", "08:30", "--until",
            "09:30", "--speed", "900", "--serve-after-closing", "5", "--json", str(report),
            "--demand", str(_lively_demand(tmp_path)), "--province", str(province_file)]
    for code in CENTERS:
        args += ["--center", code]
    code = live_main(args)
    out = capsys.readouterr().out
    data = json.loads(report.read_text())
    assert code == 0, out
    assert data["ok"] and data["errors"] == [], out
    for center in CENTERS:
        tickets = data["tickets"][center]
        assert tickets["live"] == tickets["offline"] > 0  # the same citizens came
    actions = data["actions"]
    for done in ("POST tickets", "POST bookings", "POST check-in", "POST open", "POST call-next",
                 "POST recall", "POST no-show", "POST start", "POST complete", "POST transfer",
                 "POST pause", "POST resume", "POST close", "POST login", "POST devices"):
        assert actions.get(done, 0) > 0, (done, actions)
    displays = [s for s in data["sockets"] if s["name"].startswith("display")]
    assert len(displays) == len(CENTERS)
    for check in data["sockets"]:
        assert check["ok"] and check["expected"] == check["seen"] > 0, check
    for check in displays:  # cut once mid-drive, resumed by last_id: no snapshot needed
        assert check["connects"] == 2 and check["snapshots_after_reconnect"] == 0
    assert data["ticket_pages"]["called"] == data["ticket_pages"]["saw_call"] > 0
    assert "mean wait" in out and "Xã Tiên Yên" in out and "RESULT: ok" in out
    # Nothing left behind: counters closed, the drive's devices revoked.
    for center in CENTERS:
        answer = httpx.get(f"{server.base_url}/api/v1/centers/{center}", timeout=10).json()
        assert answer["open_counters"] == 0
    devices = _keys(server.redis_url, "*:device:*")
    assert len(devices) == 2 * len(CENTERS)
    with redis.Redis.from_url(server.redis_url, decode_responses=True) as client:
        assert all(client.hget(key, "revoked") == "1" for key in devices)


def _refusal(capsys: pytest.CaptureFixture[str], code: int, pattern: str) -> None:
    err = capsys.readouterr().err
    assert code == 2, err
    assert re.fullmatch(r"error: [^\n]+\n", err) and re.search(pattern, err), err


def test_a_server_that_refuses_the_drive(server: LiveServer, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    quick = ["--center", "07054", "--from", "08:00", "--until", "08:10", "--speed", "600"]
    _refusal(capsys, live_main(["--url", f"http://127.0.0.1:{free_port()}", *quick]),
             "cannot reach a queue server at http://127.0.0.1:")
    before = _made(server.redis_url)
    _refusal(capsys, live_main(["--url", server.base_url, "--user", "nobody", *quick]),
             "has no account 'nobody'")
    assert _made(server.redis_url) == before  # nothing made
    Bootstrap(server.redis_url).account("quangla1", "staff", "07054")
    token = login(server, "quangla1")
    httpx.post(f"{server.base_url}/api/v1/centers/07054/counters/1/open", json={},
               headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()
    devices = _keys(server.redis_url, "*:device:*")
    _refusal(capsys, live_main(["--url", server.base_url, "--user", "simprov", *quick]),
             "counter 1 of Xã Quảng La .07054. is open .held by quangla1.")
    assert _keys(server.redis_url, "*:device:*") == devices  # no new device
    httpx.post(f"{server.base_url}/api/v1/centers/07054/counters/1/close",
               headers={"Authorization": f"Bearer {token}"}, timeout=10).raise_for_status()


def test_closed_hours_refused_before_anything_is_made(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """A server that enforces opening hours, whose centers are closed all of today."""
    today = dt.datetime.now(TIMEZONE).date()
    other = today + dt.timedelta(days=1)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    hours = "\n".join(f'{d} = {["07:30-11:30"] if i == other.weekday() else []}'.replace(
        "'", '"') for i, d in enumerate(days))
    text = DEFAULT_PROVINCE_FILE.read_text(encoding="utf-8")
    start = text.index("[hours]")
    end = text.index("\n\n", start)
    folder = tmp_path / "province"
    folder.mkdir()
    shutil.copy(DEFAULT_PROVINCE_FILE.parent / "quangninh_units.csv", folder)
    province = folder / "province.toml"
    province.write_text(text[:start] + "[hours]\n" + hours + text[end:], encoding="utf-8")
    store = start_standalone(tmp_path / "redis")
    live = LiveServer(store.url, tmp_path / "server",
                      extra_env={"QMS_ENFORCE_HOURS": "1",
                                 "QMS_PROVINCE_FILE": str(province)}).start()
    try:
        Bootstrap(store.url).account("simprov", "province", None)
        code = live_main(["--url", live.base_url, "--user", "simprov", "--province",
                          str(province), "--date", other.isoformat(), "--center", "07054",
                          "--from", "08:00", "--until", "08:10"])
        _refusal(capsys, code, "refuses tickets outside opening hours .*QMS_ENFORCE_HOURS=0")
        assert _keys(store.url, "*:device:*") == []
        assert _keys(store.url, "*:staff:sim-*") == []
    finally:
        live.stop()
        store.stop()
