"""Appointments and the day's close in a real Chromium against the real server, with the
pages' own security policy enforced: booking a slot on a phone (the coming days' hours with a
holiday, a slot filled meanwhile refused with the next free slots offered, the confirmation
with the check-in code and its QR code, the ticket page of the booking), checking in at the
kiosk by typing the code and by scanning its QR code, at the counter console by code and on
the supervisor page by number, a supervisor's move to a closed counter, and the center's day
closing under every live page at once (lobby display, counter screen, console, supervisor,
ticket pages). Redis is read after the steps that change it. Centers used only here: 06913
(booking), 06895 (kiosk), 06724 (console, supervisor, day close). Screenshots go to
test-artifacts/appointment-*.png and day-closed-*.png.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from queue_server.auth import TokenSigner
from queue_server.booking import check_in_code
from queue_server.engine import Engine
from queue_server.province import DEFAULT_PROVINCE_FILE, load_province
from queue_server.redis_client import close, connect
from queue_server.rules.clock import TIMEZONE
from queue_server.script_runner import ScriptRunner
from tests.conftest import set_local_time, stored_ticket
from tests.live import SECRET, Bootstrap, LiveServer, login, next_free_slot
from tests.pages import Center, chromium, ms, off_loop, screenshot
from tests.test_pages_everywhere import Watched, axe_violations, until, visible_in_viewport

pytestmark = pytest.mark.browser
BOOKING, KIOSK, DAY = "06913", "06895", "06724"
PASSWORD = "matkhau123"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


# ---------------------------------------------------------------- state made in Redis


async def _with_engine(redis_url: str, work: Any) -> Any:
    client = connect(redis_url)
    try:
        runner = ScriptRunner(client, batch=False)
        await runner.load()
        return await work(Engine(runner, load_province()), client)
    finally:
        await close(client)


def engine_do(redis_url: str, work: Any) -> Any:
    """Run ``work(engine, client)`` off Playwright's loop (the HTTP server may be anyone's)."""
    return off_loop(asyncio.run, _with_engine(redis_url, work))


def booking_today(redis_url: str, center: str, service: str = "land") -> dict[str, str]:
    """A booking of a slot a few minutes from now, straight through the engine (at night the
    calendar offers no slot today), with the code and QR text its confirmation carries."""

    async def book(engine: Engine, _client: Any) -> dict[str, str]:
        start = int(dt.datetime.now(TIMEZONE).timestamp() * 1000) + 5 * 60_000
        ticket, _ = await engine.book(center, service, (start, start + 20 * 60_000),
                                      capacity=1000)
        code = check_in_code(TokenSigner(SECRET, 3600), ticket)
        return {"id": ticket.id, "number": ticket.number, "code": code.code, "qr": code.qr}

    result: dict[str, str] = engine_do(redis_url, book)
    return result


def fill_slot(redis_url: str, center: str, service: str, start: str) -> None:
    """Take every place of a slot, as other citizens would between two taps."""
    province = load_province()
    place, chosen = province.center(center), province.service(service)
    start_ms = int(dt.datetime.fromisoformat(start).timestamp() * 1000)

    async def fill(engine: Engine, _client: Any) -> None:
        for _ in range(place.slot_capacity(chosen)):
            await engine.book(center, service, (start_ms, start_ms + chosen.slot_minutes * 60_000),
                              capacity=place.slot_capacity(chosen))

    engine_do(redis_url, fill)


def close_the_day(redis_url: str, center: str) -> None:
    """The center's clock moves to tomorrow morning and its day closes (as the scheduler of
    any replica, or the next transition, would do)."""

    async def run(engine: Engine, client: Any) -> None:
        await set_local_time(client, center, "07:00", days=1)
        await engine.close_day_if_due(center)

    engine_do(redis_url, run)


def random_ip() -> str:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1: this page's bookings get an address of
    # their own, so the shared server's per-address booking limit never trips.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def shown(page: Any, selector: str, text: str, timeout: float = 10) -> None:
    until(page, "([s, t]) => { const e = document.querySelector(s); "
          "return !!e && !e.closest('[hidden]') && e.textContent.includes(t); }",
          [selector, text], timeout)


# ---------------------------------------------------------------- a province with a holiday


@pytest.fixture(scope="module")
def holiday() -> str:
    """A weekday two or three days ahead, made a holiday in the province file of ``own``."""
    day = dt.datetime.now(TIMEZONE).date() + dt.timedelta(days=2)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day.isoformat()


@pytest.fixture(scope="module")
def own(live_redis_url: str, tmp_path_factory: pytest.TempPathFactory,
        holiday: str) -> Iterator[LiveServer]:
    """A server of this module's own (the restart test stops it), whose province has one more
    holiday in the coming days."""
    folder = tmp_path_factory.mktemp("holiday-province")
    source = DEFAULT_PROVINCE_FILE.read_text(encoding="utf-8")
    marked = source.replace("holidays = [\n", f'holidays = [\n  "{holiday}",\n', 1)
    assert marked != source
    (folder / "province.toml").write_text(marked, encoding="utf-8")
    shutil.copy(DEFAULT_PROVINCE_FILE.parent / "quangninh_units.csv", folder)
    server = LiveServer(live_redis_url, tmp_path_factory.mktemp("own-server"), extra_env={
        "QMS_PROVINCE_FILE": str(folder / "province.toml")}).start()
    yield server
    server.stop()


# ---------------------------------------------------------------- booking on a phone


def test_booking_a_slot_on_a_phone(browser: Any, own: LiveServer, holiday: str) -> None:
    watched = Watched(browser, 360, 640)
    page = watched.page
    watched.context.set_extra_http_headers({"X-Forwarded-For": random_ip()})
    page.goto(f"{own.base_url}/book?service=land")
    page.wait_for_selector("#centers .choice", timeout=ms(10))
    page.fill("#center-search", "quang tan")
    page.click(f"[data-center='{BOOKING}']")
    page.check("input[value=later]")
    page.wait_for_selector("#days .day", timeout=ms(10))

    # The coming days with their hours: the holiday and Sunday are marked and cannot be chosen.
    marked = page.locator(f"#days [data-day='{holiday}']")
    assert marked.is_disabled() and "Nghỉ lễ" in marked.inner_text()
    assert "holiday" in (marked.get_attribute("class") or "")
    sunday = page.locator("#days .day:not(.holiday):disabled").first
    assert "Nghỉ" in sunday.inner_text()
    open_day = page.locator("#days .day:not(:disabled)").first
    assert re.search(r"07:30–11:30, 13:30–17:00|07:30–11:30", open_day.inner_text())

    # A free slot; meanwhile other citizens take every place of it.
    start = next_free_slot(own.base_url, BOOKING)
    page.click(f"#days [data-day='{start[:10]}']")
    page.wait_for_selector(f"#slots [data-slot='{start}']:not(:disabled)", timeout=ms(10))
    page.click(f"#slots [data-slot='{start}']")
    page.fill("#cccd", "022190004321")
    assert start[11:16] in page.locator("#chosen-slot").inner_text()
    for size in ({"width": 360, "height": 640}, {"width": 390, "height": 844}):
        page.set_viewport_size(size)
        assert visible_in_viewport(page, "#book-submit"), size  # the main action, unscrolled
    screenshot(page, "appointment-slots-390x844")
    page.set_viewport_size({"width": 360, "height": 640})
    screenshot(page, "appointment-slots-360x640")
    fill_slot(own.redis_url, BOOKING, "land", start)
    page.click("#book-submit")

    # Refused: the slot is full; the next free slots are offered, and one of them is booked.
    page.wait_for_selector("#next-free button", timeout=ms(10))
    assert "đã hết chỗ" in page.locator("#error").inner_text()
    page.wait_for_selector(f"#slots [data-slot='{start}']:disabled", timeout=ms(10))
    assert "Hết chỗ" in page.locator(f"#slots [data-slot='{start}']").inner_text()
    choice = page.locator("#next-free button").first
    other = str(choice.get_attribute("data-slot"))
    assert other != start
    screenshot(page, "appointment-next-free-360x640")
    choice.click()
    page.wait_for_selector(f"#slots [data-slot='{other}'].active", timeout=ms(10))
    assert visible_in_viewport(page, "#book-submit")
    page.click("#book-submit")

    # The confirmation: the number, the slot, the check-in code and its QR, on arrival.
    page.wait_for_selector("#step-done:not([hidden])", timeout=ms(10))
    booked = page.evaluate("window.qmsBooked")
    assert re.fullmatch(r"C\d{3}-\d{4}", booked["code"])
    assert page.locator("#done-number").inner_text() == booked["number"]
    assert page.locator("#done-code").inner_text() == booked["code"]
    assert other[11:16] in page.locator("#done-when").inner_text()
    shown(page, "#done-arrival", f"quét mã QR này tại máy lấy số hoặc nhập mã {booked['code']}")
    until(page, "() => document.getElementById('done-qr').naturalWidth > 0")
    stored = off_loop(asyncio.run, stored_ticket(own.redis_url, BOOKING, booked["id"]))
    appt = dt.datetime.fromtimestamp(int(stored["appt"]) / 1000, TIMEZONE)
    assert (stored["status"], appt.isoformat()) == ("booked", other)
    assert visible_in_viewport(page, "#done-code")
    assert not axe_violations(page)
    screenshot(page, "appointment-confirmed-360x640")

    # The ticket page of the booking says the same, with the code and what to do.
    page.click("#done-ticket")
    page.wait_for_selector("body[data-status=booked]", timeout=ms(10))
    shown(page, "#checkin-code", booked["code"])
    shown(page, "#arrival", "trong khoảng từ 15 phút trước đến 15 phút sau giờ hẹn")
    until(page, "() => document.getElementById('checkin-qr').naturalWidth > 0")
    assert not axe_violations(page)
    screenshot(page, "appointment-ticket-360x640")
    watched.close()


def test_a_booking_code_is_for_its_holder_and_only_while_booked(own: LiveServer) -> None:
    start = next_free_slot(own.base_url, BOOKING, "civil_status")
    made = httpx.post(f"{own.base_url}/api/v1/bookings", timeout=10,
                      headers={"X-Forwarded-For": random_ip()},
                      json={"center": BOOKING, "service": "civil_status",
                            "appointment_at": start}).json()
    url = f"{own.base_url}/api/v1/tickets/{made['ticket']['id']}/check-in-code"
    mine = httpx.get(url, headers={"X-Ticket-Token": made["token"]}, timeout=10)
    assert mine.status_code == 200, mine.text
    assert (mine.json()["code"], mine.json()["qr"]) == (made["check_in_code"],
                                                        made["check_in_qr"])
    assert httpx.get(url, headers={"X-Ticket-Token": "tk.not-it"}, timeout=10).status_code == 403
    # The QR endpoint draws a check-in code, and nothing that merely resembles one.
    assert httpx.post(f"{own.base_url}/api/v1/qr", json={"data": made["check_in_qr"]},
                      timeout=10).status_code == 200
    assert httpx.post(f"{own.base_url}/api/v1/qr", json={"data": made["check_in_qr"] + "\n"},
                      timeout=10).status_code == 422
    cancelled = httpx.post(f"{own.base_url}/api/v1/tickets/{made['ticket']['id']}/cancel",
                           headers={"X-Ticket-Token": made["token"]}, timeout=10)
    assert cancelled.status_code == 200, cancelled.text
    gone = httpx.get(url, headers={"X-Ticket-Token": made["token"]}, timeout=10)
    assert (gone.status_code, gone.json()["reason"]) == (409, "check_in_code_not_booked")
    assert "đã hủy" in gone.json()["detail"]


# ---------------------------------------------------------------- the kiosk


def test_kiosk_checks_in_by_typed_code_and_by_scanned_qr(browser: Any,
                                                         live_server: LiveServer) -> None:
    center = Center.ready(live_server, KIOSK, counters=("2",))
    typed, scanned = (booking_today(live_server.redis_url, KIOSK) for _ in range(2))
    watched = Watched(browser, 1080, 1920)
    page = watched.page
    page.goto(f"{live_server.base_url}/kiosk/{KIOSK}?token={center.kiosk}&print=0")
    page.wait_for_selector("#groups .service", timeout=ms(10))
    assert visible_in_viewport(page, "#booking-open")
    assert "Tôi đã đặt lịch" in page.locator("#booking-open").inner_text()

    # Typed on the screen's keypad.
    page.click("#booking-open")
    page.wait_for_selector("#checkin:not([hidden]) #keypad button", timeout=ms(5))
    screenshot(page, "appointment-kiosk-checkin-1080x1920")
    for key in typed["code"]:
        page.click(f"#keypad button[data-key='{key}']")
    page.click("#checkin-submit")
    page.wait_for_selector("#ticket:not([hidden])", timeout=ms(10))
    assert page.locator("#ticket-number").inner_text() == typed["number"]
    facts = page.locator("#ticket-facts").inner_text()
    assert "mời ngồi chờ, số sẽ được gọi trên màn hình" in facts and "Quầy 2" in facts
    assert page.evaluate("window.qmsCheckedIn.late") is False
    stored = off_loop(asyncio.run, stored_ticket(live_server.redis_url, KIOSK, typed["id"]))
    assert (stored["status"], stored["queue"]) == ("waiting", "A")
    screenshot(page, "appointment-kiosk-checked-in-1080x1920")
    page.click("#done")
    page.wait_for_selector("#home:not([hidden])", timeout=ms(5))

    # Scanned: a keyboard-wedge scanner types the QR's text and Enter, keys a few ms apart.
    page.keyboard.type(scanned["qr"], delay=4)
    page.keyboard.press("Enter")
    page.wait_for_selector("#ticket:not([hidden])", timeout=ms(10))
    until(page, "n => document.getElementById('ticket-number').textContent === n",
          scanned["number"])
    assert page.locator("#home").is_hidden()
    page.click("#done")

    # Scanned again, and a code that is nobody's: refused in Vietnamese, with what it is.
    page.keyboard.type(scanned["qr"], delay=4)
    page.keyboard.press("Enter")
    shown(page, "#checkin-error", f"số {scanned['number']}: số ở trạng thái «đang chờ»")
    page.fill("#checkin-code", "C001-0000")
    page.click("#checkin-submit")
    shown(page, "#checkin-error", "Hôm nay không có lịch hẹn nào với mã C001-0000 tại đây.")
    screenshot(page, "appointment-kiosk-refused-1080x1920")
    watched.close()


# ---------------------------------------------------------------- staff, and the day's close


def staff_page(browser: Any, url: str, username: str) -> tuple[Watched, Any]:
    watched = Watched(browser, 1366, 900)
    page = watched.page
    page.goto(url)
    page.wait_for_selector("#login-view:not([hidden])", timeout=ms(10))
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    return watched, page


def test_staff_check_in_and_the_day_closes_on_every_live_page(
    browser: Any, live_server: LiveServer
) -> None:
    center = Center.ready(live_server, DAY, counters=("1",))
    boot = Bootstrap(live_server.redis_url)
    boss = f"dc{uuid.uuid4().hex[:8]}"
    off_loop(boot.account, boss, "supervisor", DAY)
    screen_token = off_loop(boot.device, "screen", DAY)
    by_code, by_number, unused = (booking_today(live_server.redis_url, DAY, "certification")
                                  for _ in range(3))
    served = center.issue("certification")    # called first: the oldest
    waiting = center.issue("certification")
    assert center.act("1", "call-next")["ticket"]["id"] == served["ticket"]["id"]
    base = live_server.base_url

    # The console checks a booking in by its code (H opens the check-in).
    console_w, console = staff_page(browser, f"{base}/counter", center.staff)
    console.click("button[data-take='1']")
    console.wait_for_selector("#live-status[data-state=live]", state="attached", timeout=ms(10))
    console.keyboard.press("h")
    console.wait_for_selector(f"#checkin-list [data-booking='{by_code['id']}']", timeout=ms(10))
    console.fill("#checkin-code", by_code["code"])
    console.keyboard.press("Enter")
    shown(console, "#notice", f"Đã nhận lịch hẹn {by_code['number']}")
    screenshot(console, "appointment-console-checkin")
    console.click("#checkin-close")
    stored = off_loop(asyncio.run, stored_ticket(live_server.redis_url, DAY, by_code["id"]))
    assert stored["status"] == "waiting"

    # The supervisor checks one in by its number, and moves a waiting ticket to a closed
    # counter, which only the explicit choice allows.
    super_w, boss_page = staff_page(browser, f"{base}/supervisor", boss)
    boss_page.wait_for_selector("#audit-link:not([hidden])", timeout=ms(10))
    assert boss_page.locator("#audit-link").get_attribute("href") == f"/audit?center={DAY}"
    assert boss_page.locator("#reports-link").get_attribute("href") == "/reports"
    boss_page.wait_for_selector(f"#checkin-list [data-booking='{by_number['id']}']",
                                timeout=ms(10))
    assert boss_page.locator(f"#checkin-list [data-booking='{by_code['id']}']").count() == 0
    boss_page.fill("#checkin-code", by_number["number"])
    boss_page.click("#checkin-ok")
    shown(boss_page, "#checkin-box", f"Đã nhận lịch hẹn {by_number['number']}")
    boss_page.wait_for_selector(f"#checkin-list [data-booking='{by_number['id']}']",
                                state="detached", timeout=ms(10))
    refused = httpx.post(f"{base}/api/v1/tickets/{waiting['ticket']['id']}/move", timeout=10,
                         headers={"Authorization": f"Bearer {login(live_server, boss)}"},
                         json={"to_counter": "3"})
    assert (refused.status_code, refused.json()["reason"]) == (409, "target_counter_not_open")
    row = boss_page.locator(f"li[data-ticket='{waiting['ticket']['id']}'] button[data-move]")
    row.click()
    boss_page.check("#move-inactive")
    boss_page.select_option("#move-counter", "3")
    boss_page.click("#move-ok")
    shown(boss_page, "#notice", f"Đã chuyển số {waiting['ticket']['number']}")
    moved = off_loop(asyncio.run, stored_ticket(live_server.redis_url, DAY,
                                                waiting["ticket"]["id"]))
    sent = off_loop(asyncio.run, stored_ticket(live_server.redis_url, DAY, moved["to"]))
    assert (moved["status"], sent["target_counter"], sent["status"]) == (
        "transferred", "3", "waiting")
    screenshot(boss_page, "appointment-supervisor-checkin")

    # Every live page of the center, open when the day closes.
    hall = Watched(browser, 1920, 1080)
    display = hall.page
    display.goto(center.display_url())
    display.wait_for_selector("[data-counter='1'].busy", timeout=ms(10))
    above = hall.context.new_page()
    above.goto(f"{base}/screen/{DAY}/1?token={screen_token}")
    above.wait_for_selector(f"body[data-number='{served['ticket']['number']}']", timeout=ms(10))
    phone = Watched(browser, 390, 844)
    walk_in = phone.page
    walk_in.goto(served["ticket_url"])
    walk_in.wait_for_selector("body[data-status=called]", timeout=ms(10))

    close_the_day(live_server.redis_url, DAY)

    shown(display, "#callout-text", "Đã hết giờ làm việc hôm nay.")
    until(display, "() => document.body.dataset.dayClosed !== ''")
    assert display.locator("[data-counter].state-closed").count() == \
        display.locator("[data-counter]").count()
    assert display.locator("#recent li").count() == 0
    screenshot(display, "day-closed-display-1920x1080")
    shown(above, "#label", "Đã hết giờ làm việc")
    screenshot(above, "day-closed-screen")
    shown(console, "#notice", "Đã hết giờ làm việc ngày")
    assert "số còn chờ đã hết hạn" in console.locator("#notice").inner_text()
    console.wait_for_selector("#counter-state .state-closed", timeout=ms(10))
    screenshot(console, "day-closed-console")
    shown(boss_page, "#notice", "Đã hết giờ làm việc ngày")
    shown(boss_page, "#checkin-list", "Hôm nay không còn lịch hẹn nào chờ nhận.")
    screenshot(boss_page, "day-closed-supervisor")
    walk_in.wait_for_selector("body[data-status=expired]", timeout=ms(10))
    shown(walk_in, "#ended-why",
          f"hết giờ làm việc trước khi số {served['ticket']['number']} được phục vụ")
    assert "/book?service=certification" in str(walk_in.locator("#book-again")
                                                 .get_attribute("href"))
    assert not axe_violations(walk_in)
    screenshot(walk_in, "day-closed-ticket-390x844")
    lapsed = off_loop(asyncio.run, stored_ticket(live_server.redis_url, DAY, unused["id"]))
    assert lapsed["status"] == "no_show"
    for watcher in (console_w, super_w, hall, phone):
        watcher.close()
