"""The lobby display in a real Chromium against a real server: calls shown within a second,
spoken with the server's audio (a valid WAV of the right sentence), one after another, again
on a recall, and says what is wrong when the center or the token is (riding a server
restart without missing a call is tests/test_live_protocol.py's, with the terminal client).
Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest

from displays.speech import DEFAULT_RATE, SpeechRenderer, SpeechSettings
from tests.live import Bootstrap, LiveServer
from tests.pages import (
    FULL_HD,
    HD,
    Center,
    chromium,
    ms,
    off_loop,
    screenshot,
    wait_board_live,
)
from tests.servers import scaled

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()

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


# ---------------------------------------------------------------- the display's HTTP side


def test_announcement_and_audio_endpoints(live_server: LiveServer) -> None:
    boot = Bootstrap(live_server.redis_url)
    display = off_loop(boot.device, "display", "06676")
    kiosk = off_loop(boot.device, "kiosk", "06676")
    other = off_loop(boot.device, "display", "06658")
    url = f"{live_server.base_url}/api/v1/centers/06676/announcement"
    auth = {"Authorization": f"Bearer {display}"}
    with httpx.Client(timeout=30) as http:
        answer = http.get(url, params={"number": "B007", "counter": "2", "lang": "en"},
                          headers=auth)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["text"] == "Ticket number B, zero, zero, seven, please go to counter two"
        assert body["display_text"] == "Ticket number B007, please go to counter 2"
        assert body["voice"] == "english"
        audio = http.get(live_server.base_url + body["audio_url"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        assert audio.headers["cache-control"] == "public, max-age=31536000, immutable"
        etag = audio.headers["etag"]
        assert etag == f'"{body["key"]}"'
        assert http.get(live_server.base_url + body["audio_url"],
                        headers={"If-None-Match": etag}).status_code == 304
        # A key that does not match its parameters renders nothing.
        forged = body["audio_url"].replace(body["key"], "0" * 64)
        assert http.get(live_server.base_url + forged, headers=auth).status_code == 404

        refusals = [
            ({"number": "B007", "counter": "2", "voice": "west"}, auth, 422, "invalid-input"),
            ({"number": "B007", "counter": "99"}, auth, 404, "unknown-counter"),
            ({"number": "7B7", "counter": "2"}, auth, 422, "invalid-input"),
            ({"number": "B007", "counter": "2", "lang": "fr"}, auth, 422, "invalid-input"),
            ({"number": "B007", "counter": "2"}, {}, 401, "unauthenticated"),
            ({"number": "B007", "counter": "2"}, {"Authorization": f"Bearer {kiosk}"}, 403,
             "forbidden"),
            ({"number": "B007", "counter": "2"}, {"Authorization": f"Bearer {other}"}, 403,
             "forbidden"),
        ]
        for params, headers, status, kind in refusals:
            refused = http.get(url, params=params, headers=headers)
            assert refused.status_code == status, (params, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"] == f"/problems/{kind}"
        unknown = http.get(f"{live_server.base_url}/api/v1/centers/99999/announcement",
                           params={"number": "A1", "counter": "1"}, headers=auth)
        assert unknown.status_code == 404
        assert unknown.json()["type"] == "/problems/unknown-center"


def test_page_config_and_qr(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        config = http.get("/api/v1/centers/06676/page-config").json()
        assert config["center"]["name"].startswith("Phường ")
        assert config["ws_port"] == live_server.ws_port
        assert config["hours"]["mon"] == ["07:30-11:30", "13:30-17:00"]
        assert config["open_now"] is True  # LiveServer turns opening hours off
        assert "{number}" in config["templates"]["vi"]["call"]
        assert http.get("/api/v1/centers/99999/page-config").status_code == 404

        link = "https://dichvucong.quangninh.gov.vn/book"
        svg = http.get("/api/v1/qr", params={"data": link})
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.content.startswith(b"<?xml") and b"<svg" in svg.content
        posted = http.post("/api/v1/qr", json={"data": link})
        assert posted.content == svg.content
        for bad in ("javascript:alert(1)", "ftp://x.vn/a", "https://x.vn/" + "a" * 600,
                    "http://x.vn/a b"):
            refused = http.get("/api/v1/qr", params={"data": bad})
            assert refused.status_code == 422, bad
            assert refused.headers["content-type"] == "application/problem+json"
        for page in ("/display/06676", "/kiosk/06676", "/book", "/t/06676-20260101-A001"):
            answer = http.get(page)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(
                "text/html")


def test_a_call_that_cannot_be_rendered_is_a_503_logged_once(
    live_redis_url: str, tmp_path: Path
) -> None:
    # A pyttsx3 that cannot load, first on the speech worker's path: every render fails.
    broken = tmp_path / "broken" / "pyttsx3"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('no synthesizer here')\n")
    server = LiveServer(live_redis_url, tmp_path / "server",
                        extra_env={"PYTHONPATH": str(broken.parent)}).start()
    try:
        display = off_loop(Bootstrap(live_redis_url).device, "display", "06685")
        for _ in range(3):
            refused = httpx.get(f"{server.base_url}/api/v1/centers/06685/announcement",
                                params={"number": "A404", "counter": "1"},
                                headers={"Authorization": f"Bearer {display}"}, timeout=30)
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["retry-after"] == "5"
            assert refused.json()["type"] == "/problems/unavailable"
        assert server.log_tail(200).count("cannot render the call A404") == 1
    finally:
        server.stop()
