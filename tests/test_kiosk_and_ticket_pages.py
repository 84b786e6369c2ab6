"""The kiosk, the booking page and the citizen's ticket page in a real Chromium against a real
server: a ticket with its QR code and its 80 mm print, "center closed" with the hours, online
booking with the shortest-wait suggestion, and a ticket page that follows its call, a
transfer, a cancel and a rating. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from displays.qr import qr_svg
from queue_server.province import DEFAULT_PROVINCE_FILE
from queue_server.rules.clock import TIMEZONE
from tests.live import LiveServer, next_free_slot
from tests.pages import (
    FULL_HD,
    HD,
    PHONE,
    Center,
    chromium,
    ms,
    screenshot,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()

POINTS_PER_MM = 72 / 25.4
MM80_IN_POINTS = 80 * POINTS_PER_MM


def ticket_state(server: LiveServer, ticket_id: str, token: str) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/api/v1/tickets/{ticket_id}",
                         headers={"X-Ticket-Token": token}, timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_kiosk_issues_a_priority_ticket_with_qr_and_prints_it(
    browser: Any, live_server: LiveServer
) -> None:
    center = Center.ready(live_server, "07180", counters=("3",))
    page = browser.new_page(viewport=FULL_HD)
    page.add_init_script("window.qmsPrints = 0; window.print = () => { window.qmsPrints += 1; };")
    page.goto(f"{live_server.base_url}/kiosk/{center.id}?token={center.kiosk}")
    page.wait_for_selector("[data-service=land]", timeout=ms(10))
    assert "token=" not in page.url
    fields = page.locator(".group h3").all_inner_texts()
    assert "Đất đai - Xây dựng" in fields and len(fields) == len(set(fields))
    assert page.locator("[data-service=land]").bounding_box()["height"] >= 90  # a fingertip
    screenshot(page, "kiosk-home-1920x1080")
    page.set_viewport_size(HD)
    screenshot(page, "kiosk-home-1280x720")
    page.set_viewport_size(FULL_HD)

    page.click("#priority-open")
    page.wait_for_selector("[data-priority=elderly]")
    screenshot(page, "kiosk-priority-1920x1080")
    page.click("[data-priority=elderly]")
    page.wait_for_selector("#priority-chosen:has-text('Người cao tuổi')", timeout=ms(2))
    page.click("[data-service=land]")
    page.wait_for_function("window.qmsLastTicket && window.qmsPrints === 1", timeout=ms(10))
    issued = page.evaluate("window.qmsLastTicket")
    assert page.locator("#ticket-number").inner_text() == issued["number"]
    assert "Người cao tuổi" in page.locator("#ticket-service").inner_text()
    assert "Thời gian chờ dự kiến" in page.locator("#ticket-facts").inner_text()
    # The QR code on screen is the server's drawing of the ticket's link (with its secret).
    page.wait_for_function("document.getElementById('ticket-qr').naturalWidth > 0")
    shown_svg = page.evaluate("fetch(document.getElementById('ticket-qr').src).then(r => r.text())")
    assert shown_svg == qr_svg(issued["url"]).decode()
    ticket_id, token = issued["url"].split("/t/")[1].split("#")
    state = ticket_state(live_server, ticket_id, token)
    assert (state["ticket"]["status"], state["ticket"]["priority"]) == ("waiting", "elderly")
    screenshot(page, "kiosk-ticket-1920x1080")

    # The print: only the ticket, on an 80 mm roll.
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 302, "height": 560})
    assert page.locator("#print-ticket").is_visible()
    assert not page.locator("#ticket").is_visible()
    assert page.locator("#p-number").inner_text() == issued["number"]
    screenshot(page, "kiosk-print-80mm")
    pdf = page.pdf(prefer_css_page_size=True)
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box is not None and abs(float(box.group(1)) - MM80_IN_POINTS) < 1.0
    assert 60 * POINTS_PER_MM < float(box.group(2)) < 130 * POINTS_PER_MM  # cut after it
    page.close()


def test_kiosk_says_closed_with_the_hours(
    browser: Any, live_server: LiveServer, live_redis_url: str, tmp_path: Path
) -> None:
    # A province whose only opening hour is twelve hours from now: closed, whatever the time.
    now = dt.datetime.now(TIMEZONE)
    start = (now.hour + 12) % 24
    hours = f'["{start:02d}:00-{start:02d}:30"]'
    source = DEFAULT_PROVINCE_FILE.read_text(encoding="utf-8")
    days = "\n".join(f"{day} = {hours}" for day in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                      "sun"))
    closed = re.sub(r"\[hours\]\n(?:\w+ = .*\n)+", f"[hours]\n{days}\n", source)
    folder = tmp_path / "province"
    folder.mkdir()
    (folder / "province.toml").write_text(closed, encoding="utf-8")
    shutil.copy(DEFAULT_PROVINCE_FILE.parent / "quangninh_units.csv", folder)
    server = LiveServer(live_redis_url, tmp_path / "server", extra_env={
        "QMS_ENFORCE_HOURS": "1", "QMS_PROVINCE_FILE": str(folder / "province.toml")}).start()
    try:
        center = Center.ready(server, "06706", counters=())
        page = browser.new_page(viewport=FULL_HD)
        page.goto(f"{server.base_url}/kiosk/{center.id}?print=0&token={center.kiosk}")
        page.wait_for_selector("#closed", state="visible", timeout=ms(10))
        assert "Trung tâm đã đóng cửa" in page.locator("#closed-title").inner_text()
        assert "Center closed" in page.locator("#closed-sub").inner_text()
        assert f"{start:02d}:00-{start:02d}:30" in page.locator("#hours").inner_text()
        screenshot(page, "kiosk-closed-1920x1080")

        # A kiosk that still thinks the center is open is told so by the API's 409.
        def still_open(route: Any) -> None:
            body = route.fetch().json()
            route.fulfill(json={**body, "open_now": True})

        page.route("**/page-config", still_open)
        page.reload()
        page.click("[data-service=land]", timeout=ms(10))
        page.wait_for_selector("#closed", state="visible", timeout=ms(10))
        page.close()
    finally:
        server.stop()


def test_booking_suggests_the_shortest_wait_and_the_ticket_page_follows_the_call(
    browser: Any, live_server: LiveServer
) -> None:
    center = Center.ready(live_server, "06661", counters=("1",))
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_init_script("window.qmsVibrations = []; "
                            "navigator.vibrate = (p) => { qmsVibrations.push(p); return true; };")
    page = context.new_page()
    page.goto(f"{live_server.base_url}/book")
    page.wait_for_selector("[data-service=certification]", timeout=ms(10))
    screenshot(page, "book-services-phone")
    page.click("[data-service=certification]")
    page.wait_for_selector("#centers .choice", timeout=ms(10))
    suggested = httpx.get(f"{live_server.base_url}/api/v1/suggest",
                          params={"service": "certification", "limit": 54}, timeout=10).json()
    first = page.locator("#centers .choice").first
    assert first.get_attribute("data-center") == suggested[0]["center"]
    assert "best" in (first.get_attribute("class") or "")
    screenshot(page, "book-centers-phone")
    page.fill("#center-search", "viet hung")  # Phường Việt Hưng: accents are optional
    page.click(f"[data-center='{center.id}']")
    page.fill("#cccd", "022190001234")
    screenshot(page, "book-confirm-phone")
    page.click("#book-submit")
    page.wait_for_url(re.compile(r"/t/"), timeout=ms(10))
    page.wait_for_selector("body[data-status=waiting]", timeout=ms(10))
    ticket_id = page.url.split("/t/")[1].split("#")[0].split("?")[0]
    assert "#tk." in page.url  # the secret stays in the fragment: the link can be copied
    token = page.evaluate(f"localStorage.getItem('qms.ticket.{ticket_id}')")
    assert token.startswith("tk.")
    number = page.locator("#number").inner_text()
    screenshot(page, "ticket-waiting-phone")

    called = center.act("1", "call-next")
    assert called["ticket"]["id"] == ticket_id
    page.wait_for_selector("#called", state="visible", timeout=ms(3))
    assert "ĐẾN LƯỢT ÔNG/BÀ" in page.locator("#called").inner_text()
    assert "Quầy 1" in page.locator("#called-where").inner_text()
    assert page.evaluate("window.qmsVibrations.length") == 1
    assert page.locator("#number").inner_text() == number
    screenshot(page, "ticket-called-phone")

    center.clear("1")
    page.wait_for_selector("body[data-status=done] #rating button", timeout=ms(5))
    page.click("#rating button[data-level='4']")
    page.wait_for_selector("#rated", state="visible", timeout=ms(5))
    assert ticket_state(live_server, ticket_id, token)["ticket"]["rating"] == 4
    screenshot(page, "ticket-done-phone")
    context.close()


def test_ticket_page_follows_a_transfer_and_cancels(browser: Any, live_server: LiveServer) -> None:
    center = Center.ready(live_server, "06673", counters=("1",))
    issued = center.issue("certification")
    page = browser.new_page(viewport=PHONE)
    page.goto(issued["ticket_url"])
    page.wait_for_selector("body[data-status=waiting]", timeout=ms(10))
    center.act("1", "call-next")
    page.wait_for_selector("body[data-status=called]", timeout=ms(3))
    moved = center.act("1", "transfer", json={"to_service": "results"})["new_ticket"]
    page.wait_for_function("n => document.getElementById('number').textContent === n",
                           arg=moved["number"], timeout=ms(5))
    assert page.url.split("#")[0].split("?")[0].endswith(f"/t/{moved['id']}")
    page.wait_for_selector("body[data-status=waiting]", timeout=ms(5))
    assert moved["number"] in page.locator("#error").inner_text()  # "moved to number …"
    screenshot(page, "ticket-transferred-phone")
    page.click("#cancel")
    assert "xác nhận" in page.locator("#cancel").inner_text()
    page.click("#cancel")
    page.wait_for_selector("body[data-status=cancelled]", timeout=ms(5))
    assert page.locator("#cancel-box").is_hidden()
    page.close()


def test_booking_an_appointment_and_bad_ticket_links(
    browser: Any, live_server: LiveServer
) -> None:
    center = Center.ready(live_server, "06652", counters=())
    # Booked through the API (tests/test_appointment_pages.py books through the page).
    start = next_free_slot(live_server.base_url, center.id, "civil_status")
    made = httpx.post(f"{live_server.base_url}/api/v1/bookings", timeout=10,
                      headers={"X-Forwarded-For": "10.66.52.1"},
                      json={"center": center.id, "service": "civil_status",
                            "appointment_at": start})
    assert made.status_code == 201, made.text
    page = browser.new_page(viewport=PHONE)
    page.goto(made.json()["ticket_url"].replace("#", "?lang=en#"))
    page.wait_for_selector("body[data-status=booked]", timeout=ms(10))
    assert "Appointment" in page.locator("#note").inner_text()
    assert start[11:16] in page.locator("#note").inner_text()
    page.wait_for_selector("#booking-box:not([hidden])", timeout=ms(10))
    assert made.json()["check_in_code"] in page.locator("#checkin-code").inner_text()
    screenshot(page, "ticket-booked-phone")

    ticket_id = page.url.split("/t/")[1].split("#")[0].split("?")[0]
    for url, message in (
        (f"/t/{ticket_id}#tk.not-the-secret", "Mã không khớp với số thứ tự này"),
        (f"/t/{center.id}-20200101-A999#tk.whatever", "Không tìm thấy số thứ tự"),
        (f"/t/{center.id}-20200101-A998", "Không tìm thấy số thứ tự"),  # no secret: public
    ):
        fresh = browser.new_page(viewport=PHONE)
        fresh.goto(live_server.base_url + url)
        fresh.wait_for_selector("#error", state="visible", timeout=ms(10))
        assert message in fresh.locator("#error").inner_text(), (url, json.dumps(message))
        fresh.close()
    page.close()
