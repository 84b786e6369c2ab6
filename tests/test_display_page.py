"""The lobby display in a real Chromium against a real server: calls shown within a second,
spoken with the server's audio (a valid WAV of the right sentence), one after another, again
on a recall; it survives a server restart without missing a call, and says what is wrong
when the center or the token is. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from pathlib import Path
from typing import Any

import msgpack
import pytest

from displays.speech import DEFAULT_RATE, SpeechRenderer, SpeechSettings
from tests.live import LiveServer
from tests.pages import (  # noqa: F401  (browser is a fixture)
    FULL_HD,
    HD,
    Center,
    browser,
    call_next_with_engine,
    ms,
    off_loop,
    screenshot,
    wait_board_live,
)
from tests.servers import scaled

pytestmark = pytest.mark.browser
SHOWN = "n => (window.qmsShown || []).some(s => s.number === n[0] && s.recall === n[1])"


def audio_for(page: Any, number: str, recall: bool = False) -> dict[str, Any]:
    page.wait_for_function(
        "n => (window.qmsAudio || []).some(a => a.number === n[0] && a.recall === n[1])",
        arg=[number, recall], timeout=ms(15))
    found: dict[str, Any] = page.evaluate(
        "n => window.qmsAudio.find(a => a.number === n[0] && a.recall === n[1])", [number, recall])
    return found


def no_overflow(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollHeight <= innerHeight + 1 && "
        "document.documentElement.scrollWidth <= innerWidth + 1"))


def test_kiosk_ticket_called_is_shown_within_a_second_and_spoken(
    browser: Any, live_server: LiveServer
) -> None:
    center = Center.ready(live_server, "07081", counters=("1", "3"))
    display = browser.new_page(viewport=FULL_HD)
    audio_bodies: dict[str, bytes] = {}
    display.on("response", lambda r: "/audio/" in r.url and r.ok and audio_bodies.setdefault(
        r.url.split("/audio/")[1], r.body()))
    display.goto(center.display_url())
    wait_board_live(display)
    kiosk = browser.new_page(viewport=FULL_HD)
    kiosk.goto(f"{live_server.base_url}/kiosk/{center.id}?print=0&token={center.kiosk}")
    kiosk.click("[data-service=certification]", timeout=ms(10))
    kiosk.wait_for_function("window.qmsLastTicket", timeout=ms(10))
    number = kiosk.evaluate("window.qmsLastTicket.number")
    kiosk.close()
    center.issue("land", priority="elderly")  # something for the other counter and the waits

    started = time.monotonic()
    called = center.act("1", "call-next")
    assert called["ticket"]["number"] == number
    display.wait_for_function(SHOWN, arg=[number, False], timeout=ms(1))
    assert time.monotonic() - started < scaled(1.0)
    card = display.locator("[data-counter='1'] .counter-number")
    assert card.inner_text() == number
    assert number in display.locator("#callout").inner_text()
    assert "Mời công dân có số thứ tự" in display.locator("#callout").inner_text()

    # The audio the page fetched is the speech module's rendering of the expected sentence.
    expected = SpeechSettings(voice="north").text_for(number, "1")
    assert expected.startswith("Mời công dân có số thứ tự bê, không, ")
    assert expected.endswith(" đến quầy số một")
    spoken = audio_for(display, number)
    assert spoken["text"] == expected
    key = spoken["url"].split("/audio/")[1]
    body = audio_bodies[key]
    with wave.open(io.BytesIO(body)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        assert wav.getnframes() / wav.getframerate() > 1.0  # a sentence, not a click
    reference = off_loop(asyncio.run, SpeechRenderer().render(expected, "north", DEFAULT_RATE))
    assert body == reference

    # A priority call is marked; a recall is shown and spoken again.
    center.act("3", "call-next")
    display.wait_for_selector("[data-counter='3'].prio", timeout=ms(2))
    center.act("1", "recall")
    display.wait_for_function(SHOWN, arg=[number, True], timeout=ms(2))
    assert audio_for(display, number, recall=True)["text"].startswith("Nhắc lại: mời công dân")
    display.wait_for_function(
        "n => (window.qmsSpeech || []).some(s => s.number === n && s.recall && s.end && s.played)",
        arg=number, timeout=ms(30))

    screenshot(display, "display-1920x1080")
    assert no_overflow(display)
    display.set_viewport_size(HD)
    display.wait_for_timeout(200)
    screenshot(display, "display-1280x720")
    assert no_overflow(display)
    display.close()


def test_calls_arriving_together_are_spoken_one_after_another(
    browser: Any, live_server: LiveServer
) -> None:
    center = Center.ready(live_server, "07069", counters=("1", "3"))
    page = browser.new_page(viewport=HD)
    page.goto(center.display_url())
    wait_board_live(page)
    first = center.issue("certification")["ticket"]["number"]
    second = center.issue("land")["ticket"]["number"]
    center.act("1", "call-next")
    center.act("3", "call-next")
    page.wait_for_function("(window.qmsSpeech || []).filter(s => s.end).length >= 2",
                           timeout=ms(40))
    speech = page.evaluate("window.qmsSpeech")
    assert [s["number"] for s in speech[:2]] == [first, second]
    assert all(s["played"] for s in speech[:2])
    assert speech[1]["start"] >= speech[0]["end"], "the second call cut the first one off"
    page.close()


def test_display_survives_a_restart_without_missing_a_call(
    browser: Any, live_redis_url: str, tmp_path: Path
) -> None:
    server = LiveServer(live_redis_url, tmp_path / "server").start()
    try:
        center = Center.ready(server, "07114", counters=("1",))
        first = center.issue("certification")["ticket"]["number"]
        missed = center.issue("certification")["ticket"]["number"]
        page = browser.new_page(viewport=FULL_HD)
        page.goto(center.display_url())
        wait_board_live(page)
        center.act("1", "call-next")
        page.wait_for_function(SHOWN, arg=[first, False], timeout=ms(2))
        center.clear("1")

        server.stop()
        page.wait_for_selector("#status", state="visible", timeout=ms(10))
        assert "Reconnecting" in page.locator("#status").inner_text()
        screenshot(page, "display-reconnecting")
        # The call happens while no HTTP or WebSocket server is up.
        assert call_next_with_engine(live_redis_url, center.id, "1", center.staff) == missed

        server.start()
        page.wait_for_function(SHOWN, arg=[missed, False], timeout=ms(30))
        page.wait_for_selector("#status", state="hidden", timeout=ms(5))
        assert page.locator("[data-counter='1'] .counter-number").inner_text() == missed
        page.close()
    finally:
        server.stop()


def test_unknown_center_and_bad_tokens_are_explained(
    browser: Any, live_server: LiveServer
) -> None:
    center = Center.ready(live_server, "06832", counters=())
    other = Center.ready(live_server, "06820", counters=())
    page = browser.new_page(viewport=HD)
    cases = [
        (f"{live_server.base_url}/display/99999?token={center.display}",
         "Không tìm thấy trung tâm", False),
        (f"{live_server.base_url}/display/{center.id}?token=dev.nothere.secret",
         "Mã thiết bị không hợp lệ hoặc đã bị thu hồi", True),
        (f"{live_server.base_url}/display/{center.id}?token={other.display}",
         "Mã thiết bị không dành cho trung tâm này", True),
        (f"{live_server.base_url}/display/{center.id}?token=dev.nothere.secret&lang=en",
         "Device token invalid or revoked", True),
    ]
    for url, title, asks_token in cases:
        page.goto(url)
        page.wait_for_selector("#message", state="visible", timeout=ms(10))
        assert title in page.locator("#message-title").inner_text(), url
        assert page.locator("#token-form").is_visible() == asks_token
        assert "token=" not in page.url  # the secret left the address bar
    screenshot(page, "display-bad-token")
    page.close()


def test_a_malformed_frame_is_logged_once_and_skipped(
    browser: Any, live_server: LiveServer
) -> None:
    center = Center.ready(live_server, "06811", counters=("1",))
    page = browser.new_page(viewport=HD)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))

    def inject(route: Any) -> None:
        route.connect_to_server()  # the server's frames keep flowing to the page
        for junk in (b"\xc1", msgpack.packb([1, 2, 3]), b"\xc1\xc1"):
            route.send(junk)

    page.route_web_socket("**/ws/display/**", inject)
    page.goto(center.display_url())
    wait_board_live(page)
    number = center.issue("certification")["ticket"]["number"]
    center.act("1", "call-next")
    page.wait_for_function(SHOWN, arg=[number, False], timeout=ms(3))
    assert sum("malformed frame" in e for e in errors) == 1, errors
    page.close()
