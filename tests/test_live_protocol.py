"""The live protocol (docs/live-protocol.md), written once and implemented twice: the pages'
``queue_server/static/live.js`` and the terminal display's ``displays/live.py``. Their numbers
agree with each other and with the document; the Python half is checked rule by rule; and a
lobby display page and the terminal client ride one server restart together, both resuming
from their last id (the call made while the server was down is their first frame back, not a
fresh snapshot). Center used only here: 07114.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from displays import live
from tests.live import LiveServer
from tests.pages import Center, call_next_with_engine, chromium, ms, screenshot
from tests.test_display_client import Client
from tests.test_pages_everywhere import Watched, until

ROOT = Path(__file__).resolve().parent.parent
LIVE_JS = (ROOT / "queue_server/static/live.js").read_text(encoding="utf-8")
DOC = (ROOT / "docs/live-protocol.md").read_text(encoding="utf-8")


def js_protocol() -> dict[str, str]:
    block = re.search(r"const PROTOCOL = \{(.*?)\};", LIVE_JS, re.S)
    assert block is not None, "live.js has no PROTOCOL"
    code = re.sub(r"//[^\n]*", "", block.group(1))
    return dict(re.findall(r"(\w+): (\[[^\]]*\]|[^,\n]+)", code))


def test_both_halves_and_the_document_have_the_same_numbers() -> None:
    js = js_protocol()
    assert float(js["backoffFirstMs"]) == live.BACKOFF_FIRST_S * 1000
    assert float(js["backoffMaxMs"]) == live.BACKOFF_MAX_S * 1000
    assert float(js["jitter"]) == live.JITTER
    assert float(js["silenceMs"]) == live.SILENCE_S * 1000
    assert {int(c) for c in re.findall(r"\d+", js["fatal"])} == set(live.FATAL)
    assert int(js["badResume"]) == live.BAD_RESUME
    for name, value in js.items():   # every number of the table is the one in the code
        assert f"`{name}: {value}`" in DOC, name
    for name in ("BACKOFF_FIRST_S = 0.5", "BACKOFF_MAX_S = 15.0", "JITTER = 0.3",
                 "SILENCE_S = 45.0", "BAD_RESUME = 4400"):
        assert f"`{name}`" in DOC and name.replace(" ", "") in \
            (ROOT / "displays/live.py").read_text().replace(" ", "")
    # Every page that stays live uses the one module, and none opens a socket of its own.
    for page in ("displays/static/display.html", "displays/static/screen.html",
                 "displays/static/ticket.html", "counters/static/counter.html",
                 "counters/static/supervisor.html", "counters/static/rating.html",
                 "monitoring/static/province.html"):
        assert "/static/site/live.js" in (ROOT / page).read_text(), page
    for script in [*ROOT.glob("displays/static/js/*.js"), *ROOT.glob("counters/static/*.js"),
                   *ROOT.glob("monitoring/static/*.js")]:
        assert "new WebSocket(" not in script.read_text(), script


@pytest.mark.parametrize(("attempt", "draw", "seconds"), [
    (1, 0.5, 0.5), (2, 0.5, 1.0), (3, 0.5, 2.0), (5, 0.5, 8.0), (6, 0.5, 15.0),
    (12, 0.5, 15.0), (1, 0.0, 0.35), (1, 0.999999, 0.65), (6, 0.0, 10.5),
])
def test_backoff_doubles_to_its_cap_with_jitter(attempt: int, draw: float,
                                                seconds: float) -> None:
    assert live.backoff(attempt, draw) == pytest.approx(seconds, abs=1e-4)


def frame(kind: str, stream_id: str, **more: Any) -> bytes:
    return msgpack.packb({"type": kind, "id": stream_id, **more})  # type: ignore[no-any-return]


def test_a_session_resumes_from_the_last_snapshot_or_event_it_applied() -> None:
    session = live.LiveSession("ws://h:1/ws/display/07114", "dev.a b", draw=lambda: 0.5)
    assert session.connecting() == "ws://h:1/ws/display/07114?token=dev.a%20b"
    assert session.subprotocols == ["qms.msgpack"]
    got, first = session.receive(frame("snapshot", "10-0", snapshot={}))
    assert got is not None and first and not session.resumed
    assert session.receive(frame("heartbeat", "99-0", at=1))[0] is not None
    assert session.receive(frame("event", "11-0", event={"type": "called"}))[0] is not None
    assert session.last_id == "11-0"            # a heartbeat's id is not a resume point
    assert session.closed(1006) == pytest.approx(0.5)
    assert session.connecting().endswith("&last_id=11-0")
    # The replay overlaps what was applied: the old event is dropped, the new one is first.
    assert session.receive(frame("event", "11-0", event={})) == (None, False)
    got, first = session.receive(frame("event", "12-3", event={}))
    assert got is not None and first and session.resumed and session.resumed_from == "11-0"
    assert session.attempt == 0                 # a frame came: the backoff starts again


def test_closes_that_stop_a_session_and_one_that_forgets_the_resume_point() -> None:
    session = live.LiveSession("ws://h:1/ws/display/07114", "dev.x", draw=lambda: 0.5)
    session.receive(frame("snapshot", "5-0", snapshot={}))
    assert session.closed(4400) is not None and session.last_id is None
    assert "last_id" not in session.connecting()
    assert session.closed(4400) is None        # a malformed address: retrying cannot help
    for code in (4401, 4403, 4404):
        assert live.LiveSession("u", "t").closed(code) is None
    for code in (1001, 1006, 1011, 1013, 4408):
        assert live.LiveSession("u", "t").closed(code) == pytest.approx(0.5, rel=0.31)
    province = live.LiveSession("ws://h:1/ws/province", "st.x", resume=False)
    province.receive(frame("event", "7-0", event={}))
    assert province.last_id is None and "last_id" not in province.connecting()


@pytest.mark.parametrize("junk", [b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"id": "1-0"}),
                                  "not json", '{"type": 3}'])
def test_a_malformed_frame_is_skipped(junk: bytes | str) -> None:
    session = live.LiveSession("u", "t", fmt=live.JSON if isinstance(junk, str) else live.MSGPACK)
    assert session.receive(junk) == (None, False)
    assert session.bad_frames == 1 and session.last_error and not session.live


# ---------------------------------------------------------------- both through a restart


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    started: list[Client] = []
    yield started
    for client in started:
        client.stop()


SHOWN = "n => (window.qmsShown || []).some(s => s.number === n)"


@pytest.mark.browser
def test_a_page_and_the_terminal_client_resume_through_a_restart(
    browser: Any, live_redis_url: str, tmp_path: Path, clients: list[Client]
) -> None:
    server = LiveServer(live_redis_url, tmp_path / "server").start()
    try:
        center = Center.ready(server, "07114", counters=("1",))
        first = center.issue("certification")["ticket"]["number"]
        missed = center.issue("certification")["ticket"]["number"]
        watched = Watched(browser, 1920, 1080)
        page = watched.page
        page.goto(center.display_url())
        page.wait_for_selector("[data-counter]", timeout=ms(10))
        until(page, "() => document.getElementById('status').hidden")
        client = Client(server, center.id, center.display)
        clients.append(client)
        client.expect("connected to ws://")
        center.act("1", "call-next")
        until(page, SHOWN, first, timeout=2)
        client.expect(f"gọi {first} → quầy 1")
        center.clear("1")

        server.stop()
        page.wait_for_selector("#status", state="visible", timeout=ms(10))
        assert "Reconnecting" in page.locator("#status").inner_text()
        screenshot(page, "display-reconnecting")
        client.expect("Reconnecting")
        # The call happens while no HTTP or WebSocket server is up.
        assert call_next_with_engine(live_redis_url, center.id, "1", center.staff) == missed

        server.start()
        until(page, SHOWN, missed, timeout=30)
        page.wait_for_selector("#status", state="hidden", timeout=ms(5))
        assert page.locator("[data-counter='1'] .counter-number").inner_text() == missed
        stats = page.evaluate("window.qmsLive[0].stats")
        # Resumed: the snapshot of the first connection is the only one; after the restart
        # the server replayed what the page had missed.
        assert stats["snapshots"] == 1 and stats["resumed"] == 1 and stats["connections"] >= 2
        client.expect("resumed after", timeout=30)
        client.expect(f"gọi {missed} → quầy 1")
        watched.close()
    finally:
        server.stop()
