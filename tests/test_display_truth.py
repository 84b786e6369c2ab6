"""Every screen tells the truth now (issue 14, items 1 and 2): the lobby banner and cards
follow transfers, pauses, no-shows, expiry and the day's close; tickets waiting for one
particular counter are counted everywhere, and the counts add up on every page and in the API.

The board rules are tested pure (displays/board.py, and the page's board.js in Chromium with
the same frames); the live path drives the real server and reads the real page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from displays.board import Board
from tests.live import LiveServer
from tests.pages import Center, chromium, ms, screenshot, wait_board_live

CENTER = "06979"      # a center no other test uses


def counter(id_: str, state: str = "open", ticket: str = "", reason: str = "") -> dict[str, Any]:
    return {"id": id_, "state": state, "ticket": ticket, "reason": reason,
            "services": "land,results"}


def ticket(id_: str, number: str, status: str, counter_id: str = "",
           target: str = "") -> dict[str, Any]:
    return {"id": id_, "number": number, "status": status, "service": "land", "priority": "",
            "counter": counter_id, "target_counter": target}


SNAPSHOT = {"type": "snapshot", "id": "1-0", "snapshot": {
    "name": "Test", "now": 1, "last_id": "1-0",
    "counters": [counter("1"), counter("2"), counter("3", "closed")],
    "services": [{"id": "land", "waiting": 2, "mean_service_s": 600}],
    "recent": [], "totals": {"waiting": 2, "called": 0, "serving": 0}}}


def event(kind: str, **parts: Any) -> dict[str, Any]:
    return {"type": "event", "id": f"{len(kind)}-1", "event": {"type": kind, "at": 5, **parts}}


FRAMES: list[tuple[dict[str, Any], str | None]] = [
    # (frame, the banner's number after it)
    (SNAPSHOT, None),
    (event("called", ticket=ticket("t1", "C001", "called", "1"), counter=counter("1", ticket="t1"),
           waiting={"land": 1}, totals={"waiting": 1, "called": 1, "serving": 0}), "C001"),
    # transferred to counter 2: a new ticket waits for counter 2 in particular
    (event("transferred", ticket=ticket("t1", "C001", "transferred", "1"),
           counter=counter("1"), new_ticket=ticket("t9", "C009", "waiting", target="2"),
           totals={"waiting": 2, "called": 0, "serving": 0}), None),
    (event("called", ticket=ticket("t2", "C002", "called", "2"), counter=counter("2", ticket="t2"),
           waiting={"land": 0}, totals={"waiting": 1, "called": 1, "serving": 0}), "C002"),
    (event("no_show", ticket=ticket("t2", "C002", "no_show", "2"), counter=counter("2"),
           totals={"waiting": 1, "called": 0, "serving": 0}), None),
    (event("called", ticket=ticket("t9", "C009", "called", "2", target="2"),
           counter=counter("2", ticket="t9"), totals={"waiting": 0, "called": 1, "serving": 0}),
     "C009"),
    (event("expired", ticket=ticket("t9", "C009", "expired", "2", target="2")), None),
    (event("counter_paused", counter=counter("1", "paused", reason="break")), None),
    (event("day_closed"), None),
]


def test_the_board_follows_every_kind_of_event() -> None:
    board = Board()
    for frame, banner in FRAMES:
        board.apply_frame(frame)
        shown = board.banner()
        assert (shown.number if shown else None) == banner, frame["type"]
        if frame.get("event", {}).get("type") == "transferred":
            assert board.counters["2"].queued == 1 and board.waiting_for_counters() == 1
            assert board.counters["1"].number == ""      # the card follows the transfer
        if frame.get("event", {}).get("type") == "counter_paused":
            assert board.counters["1"].state == "paused"
    assert board.day_closed and all(c.state == "closed" for c in board.counters.values())
    assert board.totals["waiting"] == 0 and all(c.queued == 0 for c in board.counters.values())


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


def test_the_page_board_follows_the_same_frames(browser: Any, live_server: LiveServer) -> None:
    """board.js, the page's copy of the rules, on the same frames in Chromium."""
    page = browser.new_page()
    page.goto(f"{live_server.base_url}/display/{CENTER}")
    page.wait_for_function("Boolean(window.QMS && window.QMS.Board)")
    banners = page.evaluate("""frames => {
        const board = new QMS.Board();
        return frames.map((f) => {
            if (f.type === 'snapshot') board.applySnapshot(f.snapshot);
            else board.applyEvent(f.event, f.id);
            const b = board.banner();
            return [b ? b.number : null, board.waitingForCounters(), board.dayClosed];
        });
    }""", [frame for frame, _ in FRAMES])
    assert [b[0] for b in banners] == [banner for _, banner in FRAMES]
    assert banners[2][1] == 1 and banners[-1] == [None, 0, True]
    page.close()


def test_the_lobby_screen_follows_transfers_no_shows_and_pauses(
        browser: Any, live_server: LiveServer) -> None:
    center = Center.ready(live_server, CENTER, counters=("1", "2"))
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(center.display_url())
    wait_board_live(page)

    def banner_is(number: str) -> None:
        page.wait_for_function("n => document.getElementById('callout').dataset.number === n",
                               arg=number, timeout=ms(5))

    first = center.issue("certification")["ticket"]
    second = center.issue("certification")["ticket"]
    called = center.act("1", "call-next")["ticket"]
    assert called["id"] == first["id"]
    banner_is(first["number"])
    moved = center.act("1", "transfer", json={"to_counter": "2"})["new_ticket"]
    banner_is("")  # the invitation to counter 1 is taken down at once
    page.wait_for_function("document.querySelector(\"[data-counter='1']\").dataset.number === ''",
                           timeout=ms(5))
    page.wait_for_function(
        "document.querySelector(\"[data-counter='2']\").dataset.queued === '1'", timeout=ms(5))
    screenshot(page, "display-after-transfer")
    assert_counts_agree(live_server, center, page)

    center.act("1", "call-next")  # the second ticket
    banner_is(second["number"])
    center.act("1", "no-show")
    banner_is("")
    center.act("1", "pause", json={"reason": "break"})
    page.wait_for_function(
        "document.querySelector(\"[data-counter='1']\").dataset.state === 'paused'",
        timeout=ms(5))
    call = center.act("2", "call-next")["ticket"]
    assert call["id"] == moved["id"]   # counter 2 calls the one sent to it first
    banner_is(moved["number"])
    page.wait_for_function(
        "document.querySelector(\"[data-counter='2']\").dataset.queued === '0'", timeout=ms(5))
    center.act("2", "start")
    center.act("2", "complete")
    banner_is("")
    assert_counts_agree(live_server, center, page)
    page.close()


def assert_counts_agree(server: LiveServer, center: Center, page: Any) -> None:
    """The API's center line, the live snapshot and the lobby screen say the same."""
    base = server.base_url
    line = httpx.get(f"{base}/api/v1/centers/{center.id}", timeout=10).json()
    assert line["waiting"] == (sum(s["waiting"] for s in line["services"])
                               + line["waiting_for_counters"])
    assert sum(line["counters_waiting"].values()) == line["waiting_for_counters"]
    snap = httpx.get(f"{base}/api/v1/centers/{center.id}/live?tickets=50",
                     headers={"Authorization": f"Bearer {center.staff_token}"}, timeout=10).json()
    assert snap["totals"]["waiting"] == (sum(s["waiting"] for s in snap["services"])
                                         + sum(int(c["queued"]) for c in snap["counters"]))
    assert snap["totals"]["waiting"] == line["waiting"]
    for c in snap["counters"]:
        assert int(c["queued"]) == len(c["tickets"]) == line["counters_waiting"].get(c["id"], 0)
    shown = page.evaluate("""() => {
        const cards = [...document.querySelectorAll('[data-counter]')];
        const queued = cards.reduce((n, c) => n + Number(c.dataset.queued || 0), 0);
        const board = [...document.querySelectorAll('#waits .wait')]
            .filter((w) => w.dataset.service !== '@counters')
            .reduce((n, w) => n + parseInt(w.querySelector('.w-count').textContent, 10), 0);
        const apart = document.querySelector("#waits [data-service='@counters'] .w-count");
        return {queued, services: board, apart: apart ? parseInt(apart.textContent, 10) : 0};
    }""")
    assert shown["queued"] == shown["apart"] == line["waiting_for_counters"]
    assert shown["services"] + shown["apart"] == line["waiting"]
