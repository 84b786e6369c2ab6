"""Every page as a center really uses it, in Debian's Chromium with the pages' own security
policy enforced: the real screen sizes (main action visible without scrolling, screenshots
into test-artifacts/), axe-core (no serious or critical violation), keyboard-only use of the
kiosk and the counter console, no CSP violation, and bad addresses explained in Vietnamese.

axe-core is vendored for the tests only (tests/vendor/axe.min.js, 4.14.1, MPL-2.0) and run
through the DevTools protocol (``page.evaluate``), which the page's CSP does not govern.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import Bootstrap, LiveServer
from tests.pages import Center, chromium, ms, off_loop, screenshot

pytestmark = pytest.mark.browser
AXE = (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text()
CENTER = "06736"          # a center no other page test uses
KIOSK_SIZES = [(1080, 1920), (1280, 1024), (1920, 1080)]
DISPLAY_SIZES = [(1920, 1080), (1366, 768)]
PHONE_SIZES = [(360, 640), (390, 844)]
CONSOLE_SIZE = (1366, 768)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture(scope="module")
def center(live_server: LiveServer) -> Center:
    return Center.ready(live_server, CENTER, counters=("1",))


@pytest.fixture(scope="module")
def screen_token(live_server: LiveServer) -> str:
    return off_loop(Bootstrap(live_server.redis_url).device, "screen", CENTER)


class Watched:
    """A page with its policy enforced; collects CSP violations and script errors."""

    def __init__(self, browser: Any, width: int, height: int) -> None:
        self.context = browser.enforcing(viewport={"width": width, "height": height},
                                         locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"error: {error}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"csp: {text}")

    def close(self) -> None:
        assert not self.problems, self.problems
        self.context.close()


def until(page: Any, expression: str, arg: Any = None, timeout: float = 10) -> None:
    """``wait_for_function`` without ``eval`` (which the enforced policy forbids): the
    expression is a function, evaluated over the DevTools protocol until it is true."""
    deadline = time.monotonic() + ms(timeout) / 1000
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"not true in {timeout} s: {expression}"
        time.sleep(0.05)


def axe_violations(page: Any) -> list[str]:
    page.evaluate(AXE)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in result
            if v["impact"] in ("serious", "critical")]


def visible_in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on the screen at all"
    size = page.viewport_size
    return bool(box) and box["y"] >= 0 and box["x"] >= 0 and (
        box["y"] + box["height"] <= size["height"] + 1) and (
        box["x"] + box["width"] <= size["width"] + 1)


def check(page: Any, name: str, main: list[str]) -> None:
    screenshot(page, name)      # before the checks, so a failing screen is kept too
    for selector in main:
        assert visible_in_viewport(page, selector), f"{name}: {selector} is below the fold"
    violations = axe_violations(page)
    assert not violations, f"{name}: {violations}"


def test_kiosk_at_every_kiosk_size(browser: Any, center: Center) -> None:
    for width, height in KIOSK_SIZES:
        watched = Watched(browser, width, height)
        page = watched.page
        page.goto(f"{center.server.base_url}/kiosk/{CENTER}?token={center.kiosk}&print=0")
        page.wait_for_selector("#groups .service", timeout=ms(10))
        # the buttons are drawn twice: at once, then with the counts; measure the second
        until(page, "() => document.querySelector('#groups .service .s-wait').textContent")
        check(page, f"kiosk-{width}x{height}", ["#priority-open", "#groups .service"])
        watched.close()


def test_lobby_display_at_hall_sizes(browser: Any, center: Center) -> None:
    for width, height in DISPLAY_SIZES:
        watched = Watched(browser, width, height)
        page = watched.page
        page.goto(center.display_url())
        page.wait_for_selector("[data-counter]", timeout=ms(10))
        until(page, "() => document.getElementById('status').hidden")
        check(page, f"display-{width}x{height}", ["#callout", "[data-counter='1']", "#waits"])
        # readable across a hall: a counter's number is about a tenth of the screen height
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector("
                             "'.counter-number')).fontSize)")
        assert size >= 0.08 * height
        watched.close()


def test_phone_pages_at_phone_sizes(browser: Any, center: Center) -> None:
    issued = center.issue("certification")
    for width, height in PHONE_SIZES:
        watched = Watched(browser, width, height)
        page = watched.page
        page.goto(f"{center.server.base_url}/book")
        page.wait_for_selector("#services .choice", timeout=ms(10))
        check(page, f"book-{width}x{height}", ["#services .choice"])
        page.goto(issued["ticket_url"])
        page.wait_for_selector("body[data-status=waiting]", timeout=ms(10))
        check(page, f"ticket-{width}x{height}", ["#number", "#status", "#ahead"])
        watched.close()


def test_counter_console_by_keyboard_alone(browser: Any, center: Center,
                                           live_server: LiveServer) -> None:
    staff = f"kb{uuid.uuid4().hex[:8]}"
    off_loop(Bootstrap(live_server.redis_url).account, staff, "staff", CENTER)
    center.issue("certification")  # counter 2 serves it
    watched = Watched(browser, *CONSOLE_SIZE)
    page = watched.page
    page.goto(f"{live_server.base_url}/counter")
    page.wait_for_selector("#username", timeout=ms(10))
    page.focus("#username")
    page.keyboard.type(staff)
    page.keyboard.press("Tab")
    page.keyboard.type("matkhau123")
    page.keyboard.press("Enter")
    page.wait_for_selector("button[data-take='2']", timeout=ms(10))
    check(page, "counter-picker-1366x768", ["button[data-take='1']"])
    for _ in range(40):  # Tab to counter 2
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.take") == "2":
            break
    page.keyboard.press("Enter")
    page.wait_for_selector("#console-view", state="visible", timeout=ms(10))
    page.wait_for_selector("#actions button[data-action='call-next']:not([disabled])",
                           timeout=ms(10))
    check(page, "counter-console-1366x768", ["#actions button[data-action='call-next']"])
    page.keyboard.press("n")
    until(page, "() => /[A-Z][0-9]{3}/.test(document.getElementById('current').textContent)")
    page.wait_for_selector("#actions button[data-action='transfer']:not([disabled])",
                           timeout=ms(10))
    page.keyboard.press("t")  # the transfer dialog, by keyboard: only open counters offered
    page.wait_for_selector("#transfer-counter", state="visible", timeout=ms(5))
    offered = page.eval_on_selector_all("#transfer-counter option", "os => os.map(o => o.value)")
    assert offered == [""] + [c for c in ("1",) if c != "2"], offered  # 1 is open, 3, 4 closed
    page.keyboard.press("Escape")
    watched.close()


def test_kiosk_by_keyboard_and_with_a_chip_id_card(browser: Any, center: Center) -> None:
    watched = Watched(browser, 1080, 1920)
    page = watched.page
    page.goto(f"{center.server.base_url}/kiosk/{CENTER}?token={center.kiosk}&print=0")
    page.wait_for_selector("#groups .service", timeout=ms(10))
    # the scanner types the card's QR and Enter, a few milliseconds a key (a wedge in US
    # layout types the name without its marks: it is only shown to be confirmed)
    card = "022060001234|123456789|Nguyen Van An|15031950|Nam|Ha Long, Quang Ninh|01072021"
    page.keyboard.type(card, delay=2)
    page.keyboard.press("Enter")
    page.wait_for_selector("#cccd", state="visible", timeout=ms(5))
    assert "Nguyen Van An" in page.locator("#cccd-who").inner_text()
    assert "1234" in page.locator("#cccd-who").inner_text()
    assert "022060001234" not in page.content()  # shown masked, never whole
    check(page, "kiosk-cccd-elderly-1080x1920", ["#cccd-yes"])
    page.keyboard.press("Enter")  # the focused "yes": the elderly priority, confirmed
    page.wait_for_selector("#priority-chosen:not([hidden])", timeout=ms(5))
    stored = page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    assert "022060001234" not in stored
    page.keyboard.press("Tab")  # the first focusable element: the priority button
    for _ in range(30):
        if page.evaluate("document.activeElement.classList.contains('service')"):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ticket", state="visible", timeout=ms(10))
    ticket = page.evaluate("window.qmsLastTicket")
    state = httpx.get(f"{center.server.base_url}/api/v1/public/tickets/{ticket['id']}",
                      timeout=10).json()
    assert state["status"] == "waiting"
    ticket_read = httpx.get(f"{center.server.base_url}/api/v1/tickets/{ticket['id']}",
                            headers={"Authorization": f"Bearer {center.staff_token}"},
                            timeout=10).json()
    assert ticket_read["ticket"]["priority"] == "elderly"
    # a younger citizen's card suggests nothing
    page.click("#done")
    page.keyboard.type("022090001234||Tran Thi B|01012000|Nu||", delay=2)
    page.keyboard.press("Enter")
    page.wait_for_selector("#citizen-chosen:not([hidden])", timeout=ms(5))
    assert page.locator("#cccd").is_hidden()
    watched.close()


def test_counter_screen_rating_supervisor_province_and_site_pages(
        browser: Any, center: Center, screen_token: str, live_server: LiveServer) -> None:
    base = live_server.base_url
    watched = Watched(browser, 1280, 720)
    page = watched.page
    page.goto(f"{base}/screen/{CENTER}/1?token={screen_token}")
    until(page, "() => document.body.dataset.state === 'open'")
    check(page, "counter-screen-1280x720", ["#counter-number", "#label"])
    for path, ready, name in ((f"/rating/{CENTER}/1", "#login-view", "rating"),
                              ("/supervisor", "#login-view", "supervisor"),
                              ("/province", "#username", "province"),
                              ("/", ".pages a", "index"),
                              ("/docs", "#swagger-ui .info", "docs")):
        page.goto(base + path)
        page.wait_for_selector(ready, timeout=ms(15))
        if name == "docs":
            continue  # Swagger UI's own markup: shown offline, not ours to audit
        check(page, f"{name}-1280x720", [ready])
    watched.close()


def test_bad_addresses_say_so_in_vietnamese(browser: Any, center: Center,
                                            screen_token: str, live_server: LiveServer) -> None:
    base = live_server.base_url
    watched = Watched(browser, 1280, 720)
    page = watched.page
    for path, selector, text in (
        ("/no/such/page", "h1", "Không tìm thấy"),
        ("/rating/99999/1", "h1", "Không tìm thấy"),
        (f"/rating/{CENTER}/99", ".sentence", "không có quầy 99"),
        (f"/screen/{CENTER}/99?token={screen_token}", "#message-title", "không có quầy"),
        (f"/screen/99999/1?token={screen_token}", "#message-title", "Không tìm thấy trung tâm"),
        (f"/screen/{CENTER}/1?token=dev.nothere.secret", "#message-title",
         "Mã thiết bị không hợp lệ"),
        (f"/kiosk/99999?token={center.kiosk}", "#message-title", "Không tìm thấy trung tâm"),
        (f"/t/{CENTER}-20200101-A999", "#error", "Không tìm thấy số thứ tự"),
        ("/t/not-a-ticket", "#error", "Đường liên kết không đúng"),
    ):
        page.goto(base + path)
        page.wait_for_selector(selector, state="visible", timeout=ms(10))
        assert text in page.locator(selector).inner_text(), path
        assert not page.locator("body").inner_text().lstrip().startswith("{"), path
    screenshot(page, "bad-address")
    watched.close()


def test_a_ticket_link_travels_and_shows_public_facts_without_its_secret(
        browser: Any, center: Center) -> None:
    first = center.issue("results")
    second = center.issue("results")
    watched = Watched(browser, 390, 844)
    page = watched.page
    page.goto(second["ticket_url"])
    page.wait_for_selector("body[data-status=waiting]", timeout=ms(10))
    assert page.url.endswith("#" + second["token"])  # still in the address bar: copyable
    # the same link without its secret (a forwarded copy cut short), in a fresh browser
    fresh = Watched(browser, 390, 844)
    fresh.page.goto(second["ticket_url"].split("#")[0])
    fresh.page.wait_for_selector("body[data-status=waiting]", timeout=ms(10))
    assert fresh.page.locator("#number").inner_text() == second["ticket"]["number"]
    assert fresh.page.locator("#ahead").inner_text() == "1"  # first is ahead
    assert fresh.page.locator("#cancel-box").is_hidden()
    assert "Thông tin công khai" in fresh.page.locator("#error").inner_text()
    screenshot(fresh.page, "ticket-public-390x844")
    assert first["ticket"]["id"] != second["ticket"]["id"]
    fresh.close()
    watched.close()


def test_every_page_carries_the_security_headers(center: Center,
                                                 live_server: LiveServer) -> None:
    base = live_server.base_url
    for path in ("/", "/docs", f"/kiosk/{CENTER}", f"/display/{CENTER}", f"/screen/{CENTER}/1",
                 "/book", f"/t/{CENTER}-20200101-A001", "/counter", "/supervisor",
                 f"/rating/{CENTER}/1", "/province", "/api/v1/services", "/no/such/page"):
        response = httpx.get(base + path, headers={"Accept": "text/html"}, timeout=10)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, path
        assert "'unsafe-eval'" not in policy and "frame-ancestors 'none'" in policy, path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert response.headers["x-content-type-options"] == "nosniff", path
    # the pages' live channels are allowed, and only them
    policy = httpx.get(base + "/", timeout=10).headers["content-security-policy"]
    assert f"ws://127.0.0.1:{live_server.ws_port}" in policy


def test_pages_have_no_inline_script_or_style() -> None:
    root = Path(__file__).resolve().parent.parent
    pages = [*root.glob("displays/static/*.html"), *root.glob("counters/static/*.html"),
             *root.glob("monitoring/static/*.html"), *root.glob("queue_server/static/*.html")]
    assert len(pages) >= 11
    for page in pages:
        text = page.read_text()
        for script in re.findall(r"<script\b[^>]*>(.*?)</script>", text, re.S):
            assert not script.strip(), f"{page.name}: inline script"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{page.name}: inline handler"
        assert not re.search(r"\sstyle\s*=", text), f"{page.name}: inline style"
        assert "<style" not in text, f"{page.name}: inline stylesheet"


def test_a_screen_token_opens_the_display_channel_only(screen_token: str,
                                                       live_server: LiveServer) -> None:
    base = live_server.base_url
    auth = {"Authorization": f"Bearer {screen_token}"}
    assert httpx.get(f"{base}/api/v1/auth/me", headers=auth, timeout=10).json()["role"] == "screen"
    for method, path in (("POST", f"/api/v1/centers/{CENTER}/tickets"),
                         ("GET", f"/api/v1/centers/{CENTER}/live"),
                         ("GET", "/api/v1/province")):
        answer = httpx.request(method, base + path, headers=auth, json={"service": "land"},
                               timeout=10)
        assert answer.status_code == 403, (path, answer.text)
