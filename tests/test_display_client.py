"""The terminal display client (``python -m displays.client``) as a real subprocess against a
real server, its board rules without I/O, and the ``QMS_SPEECH_*`` settings."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from displays.board import Board, render_lines
from displays.speech_config import SpeechConfig
from queue_server.errors import ConfigError
from tests.live import ROOT, LiveServer
from tests.pages import Center
from tests.servers import scaled

# ---------------------------------------------------------------- the board, pure

SNAPSHOT = {
    "type": "snapshot", "id": "100-0",
    "snapshot": {
        "name": "Phường Thử", "now": 1_000, "last_id": "100-0",
        "totals": {"waiting": 2, "called": 0, "serving": 0},
        "counters": [
            {"id": "1", "name": "Quầy 1", "state": "open", "services": "land,construction"},
            {"id": "2", "name": "Quầy 2", "state": "closed", "services": "land"},
        ],
        "services": [{"id": "land", "waiting": 2, "mean_service_s": 600},
                     {"id": "construction", "waiting": 0, "mean_service_s": 900}],
        "recent": [{"number": "C001", "counter": "1", "service": "land", "priority": "",
                    "at": 900, "type": "called"}],
    },
}


def event(kind: str, stream_id: str, **fields: object) -> dict[str, object]:
    return {"type": "event", "id": stream_id, "event": {"type": kind, "at": 2_000, **fields}}


def ticket(number: str, status: str, priority: str = "") -> dict[str, str]:
    return {"id": f"07090-20260101-{number}", "number": number, "service": "land",
            "status": status, "priority": priority}


def test_board_follows_snapshot_and_events() -> None:
    board = Board()
    assert board.apply_frame(SNAPSHOT) is None
    assert board.last_id == "100-0" and board.services["land"].eta_s == 1200  # 2 × 600 ÷ 1
    counter = {"id": "1", "state": "open", "ticket": "07090-20260101-C002",
               "services": "land,construction"}
    call = board.apply_frame(event("called", "101-0", ticket=ticket("C002", "called", "elderly"),
                                   counter=counter, waiting={"land": 1}))
    assert call is not None and (call.number, call.counter, call.recall) == ("C002", "1", False)
    assert call.priority == "elderly"
    assert board.counters["1"].number == "C002" and board.services["land"].eta_s == 600
    recall = board.apply_frame(event("recalled", "102-0", ticket=ticket("C002", "called"),
                                     counter=counter))
    assert recall is not None and recall.recall
    assert [c.number for c in board.recent[:3]] == ["C002", "C002", "C001"]
    # Opening counter 2 halves the wait; completing clears counter 1's number.
    board.apply_frame(event("counter_opened", "103-0",
                            counter={"id": "2", "state": "open", "ticket": "", "services": "land"}))
    assert board.services["land"].eta_s == 300
    done = board.apply_frame(event("completed", "104-0", ticket=ticket("C002", "done"),
                                   counter={**counter, "ticket": ""}))
    assert done is None and board.counters["1"].number == ""
    board.apply_frame({"type": "heartbeat", "id": "104-0", "at": 5_000})
    assert (board.last_id, board.now_ms) == ("104-0", 5_000)
    lines = "\n".join(render_lines(board, {"land": "Đất đai"}))
    assert "Phường Thử" in lines and "C002 → quầy 1 (nhắc lại)" in lines


def test_board_at_the_day_close() -> None:
    """A ticket sent back from a closing counter, then the engine's end of the day: every
    counter closed, nothing waiting, the history cleared, the sentence of the catalogue."""
    board = Board()
    board.apply_frame(SNAPSHOT)
    counter = {"id": "1", "state": "open", "ticket": "07090-20260101-C002", "services": "land"}
    board.apply_frame(event("called", "101-0", ticket=ticket("C002", "called"), counter=counter))
    board.counters["2"].queued = 2
    board.apply_frame(event("requeued", "102-0", ticket=ticket("C003", "waiting"),
                            waiting={"land": 3}, info={"from_counter": "2"}))
    assert board.counters["2"].queued == 1 and board.services["land"].waiting == 3
    board.apply_frame(event("expired", "103-0", ticket=ticket("C002", "expired"),
                            counter={**counter, "ticket": ""}))
    assert board.banner() is None and board.recent and not board.day_closed
    board.apply_frame(event("day_closed", "104-0", totals={"waiting": 0, "called": 0,
                                                           "serving": 0},
                            info={"day": "20260101", "expired": 4, "no_show": 1,
                                  "counters": 2}))
    assert board.day_closed and board.closed_day == "20260101" and board.recent == []
    assert {c.state for c in board.counters.values()} == {"closed"}
    assert sum(c.queued for c in board.counters.values()) == 0
    assert board.services["land"].waiting == 0 and board.services["land"].eta_s is None
    assert "Đã hết giờ làm việc hôm nay." in "\n".join(render_lines(board, {}))
    board.apply_frame(SNAPSHOT)  # the next day's first snapshot
    assert not board.day_closed


@pytest.mark.parametrize("frame", [None, [1, 2], {"id": "1-0"}, {"type": "event", "event": 3}])
def test_board_refuses_what_is_not_a_frame(frame: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        Board().apply_frame(frame)


# ---------------------------------------------------------------- QMS_SPEECH_*


def test_speech_settings_from_the_environment() -> None:
    default = SpeechConfig.from_env({})
    assert (default.reading, default.repeat, default.rate) == ("digits", 1, 150)
    config = SpeechConfig.from_env({
        "QMS_SPEECH_READING": "number", "QMS_SPEECH_REPEAT": "2", "QMS_SPEECH_RATE": "140",
        "QMS_SPEECH_CALL_VI": "Xin mời số {number} tới quầy {counter}",
    })
    settings = config.settings_for("vi", "south")
    assert settings.repeat == 2 and settings.rate == 140
    assert settings.text_for("A023", "5") == "Xin mời số A, hai mươi ba tới quầy năm"


@pytest.mark.parametrize(("name", "value"), [
    ("QMS_SPEECH_READING", "words"), ("QMS_SPEECH_REPEAT", "4"), ("QMS_SPEECH_RATE", "fast"),
    ("QMS_SPEECH_WORKERS", "0"), ("QMS_SPEECH_CALL_VI", "Mời số {number}"),
])
def test_bad_speech_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        SpeechConfig.from_env({name: value})


# ---------------------------------------------------------------- the client, for real


class Client:
    """``python -m displays.client --no-speech`` with its output read line by line."""

    def __init__(self, server: LiveServer, center: str, token: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "displays.client", "--center", center, "--token", token,
             "--server", server.base_url, "--no-speech"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {scaled(timeout)} s: {self.seen}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(scaled(10))
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    started: list[Client] = []
    yield started
    for client in started:
        client.stop()


def test_client_shows_calls_and_says_why_it_cannot_connect(
    live_server: LiveServer, clients: list[Client]
) -> None:
    center = Center.ready(live_server, "06685", counters=("1",))
    client = Client(live_server, center.id, center.display)
    clients.append(client)
    client.expect("connected to ws://")
    number = center.issue("certification", priority="pregnant")["ticket"]["number"]
    center.act("1", "call-next")
    assert "★ ưu tiên" in client.expect(f"gọi {number} → quầy 1")
    center.act("1", "recall")
    client.expect(f"nhắc lại {number} → quầy 1")

    refused = Client(live_server, center.id, "dev.nothere.secret")
    clients.append(refused)
    refused.expect("display token is invalid or revoked")
    assert refused.process.wait(scaled(10)) == 3
    unknown = Client(live_server, "99999", center.display)
    clients.append(unknown)
    unknown.expect("Không có trung tâm 99999")
    assert unknown.process.wait(scaled(10)) == 2
